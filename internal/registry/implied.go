// Implied-dimension fill: a listing reads the implied dimension values of the
// elements its data IDs reach once, instead of joining those tables per row.

package registry

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/gobutler/butler/dimensions"
)

// impliedRowsMax bounds the element rows a listing reads to fill implied
// dimensions itself; a registry with more (say a million exposures) joins
// them in the query as before.
const impliedRowsMax = 100_000

// impliedSearchRowsMax bounds the element rows a server keeps (and rereads
// once per search cache TTL) to fill the implied dimensions of single
// searches; with more, their SQL joins the tables as before.
const impliedSearchRowsMax = 20_000

// fetchImplied reads the implied values of one record a fill lacks (the
// step's keys taken from id), or nil when there is no such record.
func (r *Registry) fetchImplied(ctx context.Context) func(s *impliedStep, id dimensions.DataID) ([]any, error) {
	return func(s *impliedStep, id dimensions.DataID) ([]any, error) {
		args := make([]any, len(s.keys))
		for i, k := range s.keys {
			args[i] = id[k]
		}
		one := impliedStep{keys: s.keys, implied: s.implied, values: map[string][]any{}}
		if _, err := r.readImplied(ctx, s.one, args, &one); err != nil {
			return nil, err
		}
		for _, v := range one.values {
			return v, nil
		}
		return nil, nil
	}
}

// impliedFill holds the implied dimension values of the elements a dataset
// type's data IDs reach (exposure: physical_filter, group, day_obs; then
// physical_filter: band), in the order datasetSQL would join them.
type impliedFill struct {
	steps []impliedStep
}

type impliedStep struct {
	keys    []string         // the element's required dimensions, then itself
	implied []string         // the implied dimensions this element fills
	values  map[string][]any // by impliedKey of the keys' values
	one     string           // the SELECT of one row's keys and implied values, by key
}

// impliedKey appends a key value to an element's lookup key: strings length
// first, integers as 8 bytes (hashing a string key is several times faster
// than hashing interface values).
func impliedKey(b []byte, v any) []byte {
	switch x := v.(type) {
	case int64:
		return binary.BigEndian.AppendUint64(append(b, 'i'), uint64(x))
	case string:
		return append(binary.AppendUvarint(append(b, 's'), uint64(len(x))), x...)
	}
	s := fmt.Sprint(v)
	return append(binary.AppendUvarint(append(b, 'o'), uint64(len(s))), s...)
}

// fill adds the implied values to a data ID holding the required ones, as
// the joins would: nothing for a missing record or a NULL value. fetch, when
// set, reads the implied values of a record the
// fill lacks (one added since the fill was read) from the database, so
// that the values are those the joins would give.
func (f *impliedFill) fill(id dimensions.DataID, fetch func(s *impliedStep, id dimensions.DataID) ([]any, error)) error {
	if f == nil {
		return nil
	}
	var buf [64]byte // the lookup key; a fill may be shared by concurrent searches
	for i := range f.steps {
		s := &f.steps[i]
		k := buf[:0]
		found := true
		for _, name := range s.keys {
			v, ok := id[name]
			if !ok {
				found = false
				break
			}
			k = impliedKey(k, v)
		}
		if !found {
			continue
		}
		vals, ok := s.values[string(k)]
		if !ok {
			if fetch == nil {
				continue
			}
			var err error
			if vals, err = fetch(s, id); err != nil {
				return err
			}
		}
		for i, name := range s.implied {
			if i < len(vals) && vals[i] != nil {
				id[name] = vals[i]
			}
		}
	}
	return nil
}

// loadImplied reads the implied dimension values of the type's elements,
// restricted to the governor values in known. It returns nil when the
// elements hold more than maxRows rows.
func (r *Registry) loadImplied(ctx context.Context, st *storedType, known dimensions.DataID, maxRows int) (*impliedFill, error) {
	// The same walk as datasetSQL's joins: an element is joined once its
	// keys are known, and fills the implied dimensions still unknown.
	have := map[string]bool{}
	for _, d := range st.Dimensions.RequiredNames() {
		have[d] = true
	}
	joined := map[string]bool{}
	fill := &impliedFill{}
	rowsRead := 0
	for progress := true; progress; {
		progress = false
		for _, e := range append(append([]*dimensions.Element(nil), st.Dimensions.Required...), st.Dimensions.Implied...) {
			if joined[e.Name] || !e.HasTable() || len(e.Implied) == 0 || !have[e.Name] {
				continue
			}
			ready := true
			for _, rq := range e.Required {
				ready = ready && have[rq.Name]
			}
			if !ready {
				continue
			}
			joined[e.Name] = true
			step := impliedStep{values: map[string][]any{}}
			var cols, where, byKey []string
			var args []any
			for _, rq := range e.Required {
				step.keys = append(step.keys, rq.Name)
				cols = append(cols, r.db.Q(rq.Name))
				byKey = append(byKey, r.db.Q(rq.Name)+" = ?")
				if v, ok := known[rq.Name]; ok && rq.Governor {
					where = append(where, r.db.Q(rq.Name)+" = ?")
					args = append(args, v)
				}
			}
			step.keys = append(step.keys, e.Name)
			cols = append(cols, r.db.Q(e.PrimaryKey().Name))
			byKey = append(byKey, r.db.Q(e.PrimaryKey().Name)+" = ?")
			for _, imp := range e.Implied {
				if !have[imp.Name] {
					have[imp.Name] = true
					step.implied = append(step.implied, imp.Name)
					cols = append(cols, r.db.Q(imp.Name))
					progress = true
				}
			}
			if len(step.implied) == 0 {
				continue
			}
			text := "SELECT " + strings.Join(cols, ", ") + " FROM " + r.db.T(e.Name)
			step.one = text + " WHERE " + strings.Join(byKey, " AND ")
			if len(where) > 0 {
				text += " WHERE " + strings.Join(where, " AND ")
			}
			text += fmt.Sprintf(" LIMIT %d", maxRows-rowsRead+1)
			n, err := r.readImplied(ctx, text, args, &step)
			if err != nil {
				return nil, err
			}
			if rowsRead += n; rowsRead > maxRows {
				return nil, nil
			}
			fill.steps = append(fill.steps, step)
		}
	}
	return fill, nil
}

// readImplied reads one element's rows into step, with values typed as the
// dataset rows' data IDs are (ints for integer keys, strings otherwise).
func (r *Registry) readImplied(ctx context.Context, text string, args []any, step *impliedStep) (int, error) {
	names := append(append([]string(nil), step.keys...), step.implied...)
	intCol := make([]bool, len(names))
	for i, d := range names {
		intCol[i] = r.Universe.MustElement(d).PrimaryKey().Type == "int"
	}
	rows, err := r.db.Conn().Query(ctx, text, args...)
	if err != nil {
		return 0, fmt.Errorf("read implied dimensions: %w", err)
	}
	defer rows.Close()
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		n++
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			if v != nil && intCol[i] {
				if _, ok := v.(int64); !ok {
					v = toInt(v)
				}
			}
			vals[i] = v
		}
		var k []byte
		for _, v := range vals[:len(step.keys)] {
			k = impliedKey(k, v)
		}
		step.values[string(k)] = append([]any(nil), vals[len(step.keys):]...)
	}
	return n, rows.Err()
}
