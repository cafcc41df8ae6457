package registry

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/timespan"
)

// calibTarget checks a CALIBRATION collection and a calibration dataset type.
func (r *Registry) calibTarget(ctx context.Context, c sqldb.Conn, coll, typeName string) (*Collection, *storedType, error) {
	col, err := r.lookupCollection(ctx, c, coll)
	if err != nil {
		return nil, nil, err
	}
	if col.Type != dataset.Calibration {
		return nil, nil, fmt.Errorf("collection %q: %w: it is %s, not CALIBRATION", coll, errs.ErrInvalid, col.Type)
	}
	st, err := r.storedType(ctx, c, typeName)
	if err != nil {
		return nil, nil, err
	}
	if st.calTable == "" {
		return nil, nil, fmt.Errorf("dataset type %s: %w: it is not a calibration type (register it with --is-calibration)", typeName, errs.ErrInvalid)
	}
	return col, st, nil
}

// timespanCols are the column names of the calibs table's validity range.
func (r *Registry) timespanCols() []string {
	if r.db.Dialect.SupportsTimespanRange() {
		return []string{r.db.Q("timespan")}
	}
	return []string{r.db.Q("timespan_begin"), r.db.Q("timespan_end")}
}

// overlapCond is the SQL condition "the row's validity overlaps [begin, end)".
func (r *Registry) overlapCond(ts timespan.Timespan) (string, []any) {
	// Unbounded ends read as NULL on PostgreSQL: compare them as the limits.
	b := fmt.Sprintf("COALESCE(%s, %d)", r.db.Dialect.TimespanBound("", "timespan", false), timespan.Min)
	e := fmt.Sprintf("COALESCE(%s, %d)", r.db.Dialect.TimespanBound("", "timespan", true), timespan.Max)
	return "(" + e + " > ? AND " + b + " < ?)", []any{ts.Begin, ts.End}
}

// dimsConds are the conditions "each required dimension equals the data ID's
// value" (none for a dimensionless type).
func (r *Registry) dimsConds(st *storedType, id dimensions.DataID) ([]string, []any) {
	var conds []string
	var args []any
	for _, d := range st.Dimensions.RequiredNames() {
		conds = append(conds, r.db.Q(d)+" = ?")
		args = append(args, id[d])
	}
	return conds, args
}

// certify adds datasets to a CALIBRATION collection, valid over ts. A validity
// range overlapping an existing one for the same type and data ID is a conflict.
func (r *Registry) certify(ctx context.Context, c sqldb.Conn, coll string, refs []dataset.Ref, ts timespan.Timespan) error {
	if ts.IsEmpty() {
		return fmt.Errorf("certify into %q: %w: empty validity range", coll, errs.ErrInvalid)
	}
	for _, ref := range refs {
		col, st, err := r.calibTarget(ctx, c, coll, ref.Type.Name)
		if err != nil {
			return err
		}
		dc, dargs := r.dimsConds(st, ref.DataID)
		oc, oargs := r.overlapCond(ts)
		var n int
		args := append(append([]any{st.id, col.ID}, dargs...), oargs...)
		q := "SELECT count(*) FROM " + r.db.T(st.calTable) + whereClause(append(append([]string{"dataset_type_id = ?", "collection_id = ?"}, dc...), oc))
		if err := c.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			return fmt.Errorf("certify %s: %w", ref, err)
		}
		if n > 0 {
			return fmt.Errorf("certify %s %s into %q over %s: %w: it overlaps %d validity range(s) already there", ref.Type.Name, ref.DataID, coll, ts, errs.ErrConflict, n)
		}
		if err := r.ensureSummaries(ctx, c, col.ID, st, []dimensions.DataID{ref.DataID}); err != nil {
			return err
		}
		idCol, idVal := r.db.AutoID(st.calTable, "id")
		cols := []string{"dataset_type_id", "dataset_id", "collection_id"}
		vals := []any{st.id, r.uuid(ref.ID), col.ID}
		for _, d := range st.Dimensions.RequiredNames() {
			cols = append(cols, r.db.Q(d))
			vals = append(vals, ref.DataID[d])
		}
		cols = append(cols, r.timespanCols()...)
		vals = append(vals, r.db.Dialect.TimespanArgs(ts.Begin, ts.End, true)...)
		if _, err := c.Exec(ctx, "INSERT INTO "+r.db.T(st.calTable)+" ("+idCol+strings.Join(cols, ", ")+") VALUES ("+idVal+sqldb.Placeholders(len(vals))+")", vals...); err != nil {
			return fmt.Errorf("certify %s: %w", ref, err)
		}
	}
	return nil
}

// decertify removes the validity of a dataset type's calibrations within ts
// (optionally only for some data IDs): ranges inside ts are deleted, ranges
// that stick out are trimmed, a range spanning ts is split in two.
func (r *Registry) decertify(ctx context.Context, c sqldb.Conn, coll, typeName string, ts timespan.Timespan, ids []dimensions.DataID) error {
	col, st, err := r.calibTarget(ctx, c, coll, typeName)
	if err != nil {
		return err
	}
	oc, oargs := r.overlapCond(ts)
	dims := st.Dimensions.RequiredNames()
	sel := []string{"id", "dataset_id"}
	for _, d := range dims {
		sel = append(sel, r.db.Q(d))
	}
	q := "SELECT " + strings.Join(sel, ", ") + ", " + r.db.Dialect.TimespanBound("", "timespan", false) + ", " + r.db.Dialect.TimespanBound("", "timespan", true) +
		" FROM " + r.db.T(st.calTable) + " WHERE dataset_type_id = ? AND collection_id = ? AND " + oc
	rows, err := c.Query(ctx, q, append([]any{st.id, col.ID}, oargs...)...)
	if err != nil {
		return fmt.Errorf("decertify %s in %q: %w", typeName, coll, err)
	}
	type hit struct {
		id         int64
		dsID       dataset.ID
		dataID     dimensions.DataID
		begin, end int64
	}
	var hits []hit
	for rows.Next() {
		vals := make([]any, len(sel)+2)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return err
		}
		h := hit{id: toInt(vals[0]), dataID: dimensions.DataID{}}
		if h.dsID, err = parseUUID(vals[1]); err != nil {
			rows.Close()
			return err
		}
		for i, d := range dims {
			v := vals[2+i]
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			if r.Universe.MustElement(d).PrimaryKey().Type == "int" {
				v = toInt(v)
			}
			h.dataID[d] = v
		}
		h.begin, h.end = toIntOr(vals[len(sel)], timespan.Min), toIntOr(vals[len(sel)+1], timespan.Max)
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	match := func(id dimensions.DataID) bool {
		if len(ids) == 0 {
			return true
		}
		for _, want := range ids {
			ok := true
			for k, v := range want {
				if fmt.Sprint(id[k]) != fmt.Sprint(v) {
					ok = false
				}
			}
			if ok {
				return true
			}
		}
		return false
	}
	for _, h := range hits {
		if !match(h.dataID) {
			continue
		}
		if _, err := c.Exec(ctx, "DELETE FROM "+r.db.T(st.calTable)+" WHERE id = ?", h.id); err != nil {
			return err
		}
		ref := dataset.Ref{ID: h.dsID, Type: st.Type, DataID: h.dataID}
		for _, piece := range []timespan.Timespan{timespan.New(h.begin, ts.Begin), timespan.New(ts.End, h.end)} {
			if piece.IsEmpty() {
				continue
			}
			if err := r.certify(ctx, c, coll, []dataset.Ref{ref}, piece); err != nil {
				return err
			}
		}
	}
	return nil
}

func toIntOr(v any, def int64) int64 {
	if v == nil {
		return def
	}
	return toInt(v)
}

// FindCalibration returns the dataset of the type and data ID whose validity in
// the CALIBRATION collection overlaps at: nil when none, a
// *dataset.CalibrationLookupError when several do.
func (r *Registry) FindCalibration(ctx context.Context, coll, typeName string, id dimensions.DataID, at timespan.Timespan) (*dataset.Ref, error) {
	c := r.db.Conn()
	col, st, err := r.calibTarget(ctx, c, coll, typeName)
	if err != nil {
		return nil, err
	}
	dc, dargs := r.dimsConds(st, id)
	oc, oargs := r.overlapCond(at)
	q := "SELECT dataset_id FROM " + r.db.T(st.calTable) + whereClause(append(append([]string{"dataset_type_id = ?", "collection_id = ?"}, dc...), oc))
	rows, err := c.Query(ctx, q, append(append([]any{st.id, col.ID}, dargs...), oargs...)...)
	if err != nil {
		return nil, fmt.Errorf("calibration lookup of %s in %q: %w", typeName, coll, err)
	}
	found, err := scanIDs(rows)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, nil // scanIDs reported any row error
	case 1:
		return r.Dataset(ctx, found[0])
	}
	return nil, &dataset.CalibrationLookupError{Type: typeName, Collection: coll, DataID: id, N: len(found)}
}

// Certification is one dataset's validity range in a CALIBRATION collection.
type Certification struct {
	ID       dataset.ID
	Type     string
	Timespan timespan.Timespan
}

// Certifications lists every validity range in a CALIBRATION collection, by
// dataset type name, then begin.
func (r *Registry) Certifications(ctx context.Context, coll string) ([]Certification, error) {
	c := r.db.Conn()
	col, err := r.lookupCollection(ctx, c, coll)
	if err != nil {
		return nil, err
	}
	if col.Type != dataset.Calibration {
		return nil, fmt.Errorf("collection %q: %w: it is %s, not CALIBRATION", coll, errs.ErrInvalid, col.Type)
	}
	if err := r.loadTypes(ctx, c); err != nil {
		return nil, err
	}
	var names []string
	tables := map[string]*storedType{}
	r.mu.Lock()
	for n, st := range r.types {
		if st.calTable != "" {
			names = append(names, n)
			tables[n] = st
		}
	}
	r.mu.Unlock()
	sort.Strings(names)
	begin := r.db.Dialect.TimespanBound("", "timespan", false)
	end := r.db.Dialect.TimespanBound("", "timespan", true)
	var out []Certification
	for _, n := range names {
		st := tables[n]
		q := "SELECT dataset_id, " + begin + ", " + end + " FROM " + r.db.T(st.calTable) + " WHERE dataset_type_id = ? AND collection_id = ? ORDER BY 2, 1"
		rows, err := c.Query(ctx, q, st.id, col.ID)
		if err != nil {
			return nil, fmt.Errorf("read certifications in %q: %w", coll, err)
		}
		for rows.Next() {
			var v, b, e any
			if err := rows.Scan(&v, &b, &e); err != nil {
				rows.Close()
				return nil, err
			}
			id, err := parseUUID(v)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, Certification{ID: id, Type: n, Timespan: timespan.Timespan{Begin: toIntOr(b, timespan.Min), End: toIntOr(e, timespan.Max)}})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
