package dimensions

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gobutler/butler/errs"
)

// DataID maps dimension names to their primary-key values: int64 for integer keys,
// string for string keys.
type DataID map[string]any

// Clone returns a copy.
func (d DataID) Clone() DataID {
	out := make(DataID, len(d))
	for k, v := range d {
		out[k] = v
	}
	return out
}

// String renders {a: 1, b: 'x'} with keys sorted, for messages.
func (d DataID) String() string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		switch v := d[k].(type) {
		case string:
			parts[i] = fmt.Sprintf("%s: '%s'", k, v)
		default:
			parts[i] = fmt.Sprintf("%s: %v", k, v)
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Normalize converts the values of the group's dimensions to their key types
// (ints given as strings or other integer types become int64) and checks every
// required dimension is present. Keys outside the group are an error.
func (u *Universe) Normalize(g Group, in DataID) (DataID, error) {
	out := make(DataID, len(in))
	for k, v := range in {
		e, ok := u.byName[k]
		if !ok || !e.IsDimension() {
			return nil, fmt.Errorf("data ID %s: %w: %q is not a dimension", in, errs.ErrInvalid, k)
		}
		if !g.Has(k) && len(g.Required) == 0 {
			return nil, fmt.Errorf("data ID %s: %w: dimension %q given, but there are no dimensions here (the data ID is {})", in, errs.ErrInvalid, k)
		}
		if !g.Has(k) {
			return nil, fmt.Errorf("data ID %s: %w: dimension %q is not one of %s", in, errs.ErrInvalid, k, g)
		}
		cv, err := ConvertKey(e, v)
		if err != nil {
			return nil, fmt.Errorf("data ID %s: %w", in, err)
		}
		out[k] = cv
	}
	for _, e := range g.Required {
		if _, ok := out[e.Name]; !ok {
			return nil, fmt.Errorf("data ID %s: %w: missing required dimension %q (need %s)", in, errs.ErrInvalid, e.Name, strings.Join(g.RequiredNames(), ", "))
		}
	}
	return out, nil
}

// ConvertKey converts a value to the type of e's primary key.
func ConvertKey(e *Element, v any) (any, error) {
	pk := e.PrimaryKey()
	if pk.Type == "int" {
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case uint64:
			return int64(x), nil
		case float64:
			if x == float64(int64(x)) {
				return int64(x), nil
			}
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("%w: value %v (%T) for dimension %q is not an integer", errs.ErrInvalid, v, v, e.Name)
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil, fmt.Errorf("%w: empty value for dimension %q", errs.ErrInvalid, e.Name)
		}
		return x, nil
	case []byte:
		return string(x), nil
	}
	return nil, fmt.Errorf("%w: value %v (%T) for dimension %q is not a string", errs.ErrInvalid, v, v, e.Name)
}

// Record is one dimension record: column (field) name to value. Dimension key
// columns are named after their dimension (instrument, detector) except the
// element's own primary key, which uses its key name (id, name). Timespans are
// timespan.Timespan under "timespan"; regions are encoded bytes under "region".
type Record struct {
	Element *Element
	Values  map[string]any
}

// DataID returns the record's data ID (its required dimensions and itself).
func (r Record) DataID() DataID {
	d := DataID{}
	for _, e := range r.Element.Required {
		d[e.Name] = r.Values[e.Name]
	}
	if r.Element.IsDimension() {
		d[r.Element.Name] = r.Values[r.Element.PrimaryKey().Name]
	}
	return d
}
