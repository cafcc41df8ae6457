package butler

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry"
)

// rewriteDataID turns a data ID that names dimension records by their other
// fields into one of dimension keys, as daf_butler's Butler._rewrite_data_id
// does for put, get and find:
//
//   - "exposure.obs_id": "MC_O_20250414_000003", "visit.name", "exposure.seq_num":
//     a field of the element's record;
//   - "seq_num": 3 (with day_obs: 20250414): a key that is no dimension is a
//     field of the record of one of g's dimensions (and, for calibrations,
//     of a temporal dimension); when several have it the dimension g requires
//     wins, then exposure over visit, then the one given most fields;
//   - "detector": "R22_S11", "exposure": "MC_O_…": a string for an integer
//     dimension is its alternate key (full_name, obs_id, name).
//
// The records are looked up with the given dimension values that constrain
// them (day_obs, instrument); none or several matches is an error, except
// that several visits are told apart by the instrument's default visit
// system. A dimension given together with fields of its record must agree
// with that record. A data ID of dimension keys only is returned unchanged.
func (b *Butler) rewriteDataID(ctx context.Context, g dimensions.Group, calibration bool, in dimensions.DataID) (dimensions.DataID, error) {
	plain := true
	for k, v := range in {
		e, ok := b.Universe.Element(k)
		if !ok || !e.IsDimension() {
			plain = false
			break
		}
		if _, err := dimensions.ConvertKey(e, v); err != nil {
			plain = false
			break
		}
	}
	if plain {
		return in, nil
	}
	out := dimensions.DataID{}
	byRecord := map[string]map[string]any{} // dimension → field → value
	record := func(dim, field string, v any) {
		if byRecord[dim] == nil {
			byRecord[dim] = map[string]any{}
		}
		byRecord[dim][field] = v
	}
	notDims := map[string]any{}
	for _, k := range sortedKeys(in) {
		v := in[k]
		if dim, field, dotted := strings.Cut(k, "."); dotted {
			e, ok := b.Universe.Element(dim)
			if !ok || !e.IsDimension() || !e.HasTable() {
				return nil, fmt.Errorf("data ID %s: %w: %q in %q is not a dimension with records", in, errs.ErrInvalid, dim, k)
			}
			if _, ok := recordField(e, field); !ok {
				return nil, fmt.Errorf("data ID %s: %w: %s records have no field %q%s", in, errs.ErrInvalid, dim, field, closest(field, dataIDRecordFields(e)))
			}
			record(dim, field, v)
			continue
		}
		e, ok := b.Universe.Element(k)
		if !ok || !e.IsDimension() {
			notDims[k] = v
			continue
		}
		cv, err := dimensions.ConvertKey(e, v)
		if err == nil {
			out[k] = cv
			continue
		}
		// A value of another type than the key's: an alternate key of that type.
		alt := ""
		for _, f := range e.Keys[1:] {
			if _, isString := v.(string); isString == (f.Type == "string") {
				alt = f.Name
				break
			}
		}
		if alt == "" {
			return nil, fmt.Errorf("data ID %s: %w", in, err)
		}
		b.log.Debug("data ID value is an alternate key", "dimension", k, "field", alt, "value", v)
		record(k, alt, v)
	}

	if len(notDims) > 0 {
		// Which dimension's records have these fields? Candidates are the
		// dimensions of g and, for a calibration, the temporal dimensions
		// (exposure, visit, day_obs) that give the validity lookup its time.
		mandatory := map[string]bool{}
		var candidates []*dimensions.Element
		for _, e := range append(append([]*dimensions.Element(nil), g.Required...), g.Implied...) {
			mandatory[e.Name] = true
			candidates = append(candidates, e)
		}
		if calibration {
			for _, e := range b.Universe.Elements {
				if e.IsDimension() && e.HasTable() && e.Temporal != "" && !mandatory[e.Name] {
					candidates = append(candidates, e)
				}
			}
		}
		sort.SliceStable(candidates, func(i, j int) bool { return candidates[i].Index() < candidates[j].Index() })
		guessed := map[string]map[string]any{}
		counter := map[string]int{}
		assigned := map[string][]string{} // field → dimensions that have it
		for _, e := range candidates {
			if !e.IsDimension() || !e.HasTable() {
				continue
			}
			for _, field := range sortedKeys(notDims) {
				if _, ok := recordField(e, field); ok {
					if guessed[e.Name] == nil {
						guessed[e.Name] = map[string]any{}
					}
					guessed[e.Name][field] = notDims[field]
					counter[e.Name]++
					assigned[field] = append(assigned[field], e.Name)
				}
			}
		}
		var never []string
		for _, field := range sortedKeys(notDims) {
			if len(assigned[field]) == 0 {
				never = append(never, field)
			}
		}
		if len(never) > 0 {
			var names []string
			for _, e := range candidates {
				names = append(names, e.Name)
			}
			return nil, fmt.Errorf("data ID %s: %w: %s is neither a dimension nor a field of the records of %s", in, errs.ErrInvalid, quoteList(never), strings.Join(names, ", "))
		}
		for _, field := range sortedKeys(assigned) {
			dims := assigned[field]
			if len(dims) < 2 {
				continue
			}
			var pick []string
			for _, d := range dims {
				if mandatory[d] {
					pick = append(pick, d)
				}
			}
			if len(pick) == 0 {
				pick = dims
				if len(pick) == 2 && pick[0] == "exposure" && pick[1] == "visit" {
					pick = []string{"exposure"} // visits are defined from exposures
				}
			}
			selected := pick[0]
			for _, d := range pick[1:] {
				if counter[d] > counter[selected] {
					selected = d
				}
			}
			b.log.Debug("ambiguous data ID key: chose a dimension", "key", field, "dimensions", dims, "chosen", selected)
			for _, d := range dims {
				if d != selected {
					delete(guessed[d], field)
				}
			}
		}
		for dim, fields := range guessed {
			for field, v := range fields {
				record(dim, field, v)
			}
		}
	}

	for _, dim := range sortedKeys(byRecord) {
		e, _ := b.Universe.Element(dim)
		fields := byRecord[dim]
		for f, v := range fields {
			rf, _ := recordField(e, f)
			fields[f] = convertField(rf, v)
		}
		if given, ok := out[dim]; ok {
			// Both the key and fields of its record: they must agree.
			key := dimensions.DataID{dim: given}
			for _, r := range e.Required {
				if v, ok := out[r.Name]; ok {
					key[r.Name] = v
				}
			}
			recs, err := b.Records(ctx, dim, key)
			if err != nil {
				return nil, fmt.Errorf("data ID %s: %w", in, err)
			}
			if len(recs) == 0 {
				return nil, fmt.Errorf("data ID %s: %w: no %s record %s to compare with %s", in, errs.ErrNotFound, dim, key, dimensions.DataID(fields))
			}
			if len(recs) == 1 {
				var bad []string
				for _, f := range sortedKeys(fields) {
					if got := recs[0].Values[recordColumn(e, f)]; fmt.Sprint(got) != fmt.Sprint(fields[f]) {
						bad = append(bad, fmt.Sprintf("%s (%v != %v)", f, got, fields[f]))
					}
				}
				if len(bad) > 0 {
					return nil, fmt.Errorf("data ID %s: %w: dimension %s has explicit value %v inconsistent with its record: %s", in, errs.ErrInvalid, dim, given, strings.Join(bad, ", "))
				}
			}
			continue
		}
		// Look the record up by its fields, with the dimension values given
		// that constrain it (its required and implied dimensions).
		var terms []string
		bind := map[string]any{}
		for i, f := range sortedKeys(fields) {
			name := fmt.Sprintf("__rewrite%d", i)
			terms = append(terms, f+" = :"+name)
			bind[name] = fields[f]
		}
		for _, d := range append(append([]*dimensions.Element(nil), e.Required...), e.Implied...) {
			if v, ok := out[d.Name]; ok {
				name := "__rewrite_" + d.Name
				terms = append(terms, d.Name+" = :"+name)
				bind[name] = v
			}
		}
		var recs []dimensions.Record
		err := b.QueryRecords(ctx, RecordSearch{Element: dim, Where: strings.Join(terms, " AND "), Bind: bind}, func(r dimensions.Record) error {
			recs = append(recs, r)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("data ID %s: look up %s by %s: %w", in, dim, dimensions.DataID(fields), err)
		}
		if len(recs) > 1 && dim == "visit" {
			recs = b.defaultVisitSystem(ctx, recs)
		}
		switch {
		case len(recs) == 0:
			return nil, fmt.Errorf("data ID %s: %w: dimension %s matched no records when constrained by %s", in, errs.ErrNotFound, dim, constraintText(fields, out, e))
		case len(recs) > 1:
			return nil, fmt.Errorf("data ID %s: %w: dimension %s is not uniquely constrained to a single record by %s: got %d results", in, errs.ErrInvalid, dim, constraintText(fields, out, e), len(recs))
		}
		out[dim] = recs[0].Values[e.PrimaryKey().Name]
		if out[dim] == nil {
			out[dim] = recs[0].Values[dim]
		}
	}
	return out, nil
}

// defaultVisitSystem keeps, of several visits, the one in the default visit
// system of their instrument (daf_butler: instrument.visit_system), if it is
// the only one there.
func (b *Butler) defaultVisitSystem(ctx context.Context, visits []dimensions.Record) []dimensions.Record {
	inst := visits[0].Values["instrument"]
	for _, v := range visits[1:] {
		if v.Values["instrument"] != inst {
			return visits
		}
	}
	insts, err := b.Records(ctx, "instrument", dimensions.DataID{"instrument": inst})
	if err != nil || len(insts) != 1 {
		return visits
	}
	system := insts[0].Values["visit_system"]
	if system == nil {
		return visits
	}
	var members []dimensions.Record
	for _, v := range visits {
		m, err := b.Records(ctx, "visit_system_membership", dimensions.DataID{"instrument": inst, "visit_system": system, "visit": v.Values["id"]})
		if err == nil && len(m) > 0 {
			members = append(members, v)
		}
	}
	if len(members) == 1 {
		return members
	}
	// Upstream takes the first member it meets; when several are members
	// the data ID stays ambiguous rather than naming one of them at random.
	return visits
}

// recordField is the field of e's records named name: a key, metadata, or a
// dimension the element requires or implies (exposure.day_obs).
func recordField(e *dimensions.Element, name string) (dimensions.Field, bool) {
	for _, f := range append(append([]dimensions.Field(nil), e.Keys...), e.Metadata...) {
		if f.Name == name {
			return f, true
		}
	}
	for _, d := range append(append([]*dimensions.Element(nil), e.Required...), e.Implied...) {
		if d.Name == name {
			return dimensions.Field{Name: d.Name, Type: d.PrimaryKey().Type}, true
		}
	}
	return dimensions.Field{}, false
}

func dataIDRecordFields(e *dimensions.Element) []string {
	var out []string
	for _, f := range append(append([]dimensions.Field(nil), e.Keys...), e.Metadata...) {
		out = append(out, f.Name)
	}
	for _, d := range append(append([]*dimensions.Element(nil), e.Required...), e.Implied...) {
		out = append(out, d.Name)
	}
	return out
}

// recordColumn is the key of field in a record's Values (the primary key is
// stored under its field name too).
func recordColumn(_ *dimensions.Element, field string) string { return field }

// convertField converts a data ID value (the CLI reads "3" as an integer) to
// the type of the record field it is compared with.
func convertField(f dimensions.Field, v any) any {
	switch f.Type {
	case "string":
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10)
		case int:
			return strconv.Itoa(x)
		}
	case "int":
		switch x := v.(type) {
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return n
			}
		case int:
			return int64(x)
		}
	case "float":
		switch x := v.(type) {
		case int64:
			return float64(x)
		case int:
			return float64(x)
		case string:
			if n, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return n
			}
		}
	case "bool":
		if s, ok := v.(string); ok {
			if bv, err := strconv.ParseBool(s); err == nil {
				return bv
			}
		}
	}
	return v
}

// constraintText renders the fields and the dimension values a record
// look-up used.
func constraintText(fields map[string]any, out dimensions.DataID, e *dimensions.Element) string {
	all := dimensions.DataID{}
	for k, v := range fields {
		all[e.Name+"."+k] = v
	}
	for _, d := range append(append([]*dimensions.Element(nil), e.Required...), e.Implied...) {
		if v, ok := out[d.Name]; ok {
			all[d.Name] = v
		}
	}
	return all.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// closest suggests the known names nearest to name, for "unknown name" errors
// (the registry's suggestion, which where-expression errors also use).
func closest(name string, known []string) string { return registry.Closest(name, known) }
