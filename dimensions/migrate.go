package dimensions

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/timespan"
)

// MigrateOptions tune Migrate.
type MigrateOptions struct {
	// DayObsOffset returns the observing-day offset in seconds of an instrument
	// class, for day_obs values and records the migration derives; ok=false
	// when unknown (day_obs records are then made without a timespan).
	DayObsOffset func(instrumentClass string) (sec int64, ok bool)
	// Warn receives non-fatal notes.
	Warn func(msg string)
	// InstrumentClasses maps instrument names to class names for instruments
	// whose records are not among the migrated ones (already in the destination).
	InstrumentClasses map[string]string
}

// UnrepresentableError says records or dimensions of one universe have no
// place in another (a newer repository's content going to an older one).
// Fields are "element.field" or, for a whole element, "element".
type UnrepresentableError struct {
	From, To *Universe
	Fields   []string
	Example  string // one record or dataset type that has the first of them
}

func (e *UnrepresentableError) Error() string {
	return fmt.Sprintf("content of dimension universe %s cannot be represented in universe %s: %s have no place there (e.g. %s)",
		universeName(e.From), universeName(e.To), strings.Join(e.Fields, ", "), e.Example)
}

// Is makes the error an input error: the content, not the program, is at fault.
func (e *UnrepresentableError) Is(target error) bool { return target == errs.ErrInvalid }

func universeName(u *Universe) string {
	if u == nil {
		return "?"
	}
	if u.Namespace == "" || u.Namespace == "daf_butler" {
		return fmt.Sprint(u.Version)
	}
	return fmt.Sprintf("%s %d", u.Namespace, u.Version)
}

// migration holds what one Migrate call knows of the universes.
type migration struct {
	from, to *Universe
	opts     MigrateOptions
}

// old reports whether from is a daf_butler universe older than version below.
func (m *migration) old(below int) bool {
	return m.from.Version < below && (m.from.Namespace == "" || m.from.Namespace == "daf_butler")
}

// toHas reports whether the destination element el has field f.
func (m *migration) toHas(el, f string) bool {
	e, ok := m.to.Element(el)
	if !ok {
		return false
	}
	return e.HasField(f)
}

// HasField reports whether records of e may carry the field.
func (e *Element) HasField(name string) bool {
	for _, d := range e.Required {
		if d.Name == name {
			return true
		}
	}
	for _, k := range e.Keys {
		if k.Name == name {
			return true
		}
	}
	for _, d := range e.Implied {
		if d.Name == name {
			return true
		}
	}
	for _, f := range e.Metadata {
		if f.Name == name {
			return true
		}
	}
	return (name == "region" && e.Spatial != "") || (name == "timespan" && e.Temporal != "")
}

// field returns the key or metadata field of that name (dimension columns
// give their dimension's primary key field, renamed).
func (e *Element) field(name string) (Field, bool) {
	for _, ds := range [][]*Element{e.Required, e.Implied} {
		for _, d := range ds {
			if d.Name == name {
				f := d.PrimaryKey()
				f.Name = name
				return f, true
			}
		}
	}
	for _, fs := range [][]Field{e.Keys, e.Metadata} {
		for _, f := range fs {
			if f.Name == name {
				return f, true
			}
		}
	}
	return Field{}, false
}

// NotNullFields lists the fields every record of e must have a value for: its
// required dimensions, primary key and implied dimensions, and in universes
// of StrictNulls its alternate keys and non-nullable metadata: the NOT NULL
// columns of its table.
func (e *Element) NotNullFields() []string {
	var out []string
	e.eachNotNull(func(f string) bool {
		out = append(out, f)
		return true
	})
	return out
}

// StrictNulls reports whether the tables of a universe version have the NOT
// NULL constraints of daf_butler up to w.2023.51 (whose newest universe is 5):
// alternate keys (detector.full_name, exposure.obs_id, visit.name,
// visit_system.name, skymap.hash) and metadata declared "nullable: false"
// (patch.cell_x) are NOT NULL. Current daf_butler, which made every repository
// of universes 6 and later, makes all columns but the keys nullable. A
// repository gets the DDL of the daf_butler of its universe.
func StrictNulls(version int) bool { return version <= 5 }

// eachNotNull calls fn with each of NotNullFields until fn returns false.
func (e *Element) eachNotNull(fn func(string) bool) {
	strict := e.universe != nil && StrictNulls(e.universe.Version)
	for _, d := range e.Required {
		if !fn(d.Name) {
			return
		}
	}
	if e.IsDimension() && !fn(e.PrimaryKey().Name) {
		return
	}
	for _, d := range e.Implied {
		if !fn(d.Name) {
			return
		}
	}
	if strict && e.IsDimension() {
		for _, k := range e.Keys[1:] {
			if !fn(k.Name) {
				return
			}
		}
	}
	for _, f := range e.Metadata {
		if strict && !f.IsNullable() && !fn(f.Name) {
			return
		}
	}
}

// CheckRecord checks that the record has a value for every NOT NULL field of
// its element (see NotNullFields), naming the record and the first missing
// field; the error is an input error (errs.ErrInvalid).
func CheckRecord(rec Record) error {
	missing := ""
	rec.Element.eachNotNull(func(f string) bool {
		if rec.Values[f] == nil {
			missing = f
			return false
		}
		return true
	})
	if missing == "" {
		return nil
	}
	return fmt.Errorf("%s record %s: %w: field %q has no value (it is required in dimension universe %s)",
		rec.Element.Name, recordID(rec), errs.ErrInvalid, missing, universeName(rec.Element.universe))
}

// recordID renders a record's data ID with the values it has.
func recordID(rec Record) string {
	id := DataID{}
	for k, v := range rec.DataID() {
		if v != nil {
			id[k] = v
		}
	}
	return id.String()
}

// Migrate rewrites records of universe from as records of universe to, with
// the migrations daf_butler applies when it imports export files of older
// universes (transfers/_yaml.py):
//
//   - below 1: visit.seeing is dropped; visit.day_obs is derived from the
//     visit's begin time and its instrument's observing-day offset;
//   - below 2: visit.visit_system becomes a visit_system_membership record,
//     and visit_definition loses its visit_system;
//   - below 6: exposure.group_name becomes exposure.group with a group record,
//     exposure.group_id is dropped, and day_obs records are made for the
//     day_obs values of exposures and visits.
//
// Fields the destination element does not have are dropped when they are
// null; otherwise (a newer universe's content going to an older one) nothing
// is migrated and an *UnrepresentableError names every element and field
// that has no place in to. String values longer than to allows are refused
// the same way. The result is in to's element order; records keep their
// relative order. Records whose element is the same in both universes are
// copied, not shared.
func Migrate(from, to *Universe, recs []Record, opts MigrateOptions) ([]Record, error) {
	m := &migration{from: from, to: to, opts: opts}
	if m.opts.Warn == nil {
		m.opts.Warn = func(string) {}
	}
	classes := map[string]string{}
	for k, v := range opts.InstrumentClasses {
		classes[k] = v
	}
	for _, r := range recs {
		if r.Element.Name == "instrument" {
			if cls, ok := r.Values["class_name"].(string); ok {
				classes[fmt.Sprint(r.Values["name"])] = cls
			}
		}
	}
	offset := func(inst any) (int64, bool) {
		cls := classes[fmt.Sprint(inst)]
		if m.opts.DayObsOffset == nil || cls == "" {
			return 0, false
		}
		return m.opts.DayObsOffset(cls)
	}

	out := map[string][]Record{}
	seen := map[string]bool{}
	add := func(rec Record) {
		k := rec.Element.Name + " " + rec.DataID().String()
		if seen[k] {
			return
		}
		seen[k] = true
		out[rec.Element.Name] = append(out[rec.Element.Name], rec)
	}
	type dayKey struct{ inst, day any }
	var days []dayKey
	daySeen := map[string]bool{}
	needDay := func(inst, day any) {
		if inst == nil || day == nil || !m.old(6) {
			return
		}
		if _, ok := m.to.Element("day_obs"); !ok {
			return
		}
		k := fmt.Sprint(inst, "/", day)
		if !daySeen[k] {
			daySeen[k] = true
			days = append(days, dayKey{inst, day})
		}
	}
	bad := map[string]bool{}
	example := ""
	refuse := func(what string, rec Record) {
		if !bad[what] && example == "" {
			example = rec.Element.Name + " " + recordID(rec)
		}
		bad[what] = true
	}

	for _, r := range recs {
		te, ok := to.Element(r.Element.Name)
		if !ok || !te.HasTable() {
			refuse(r.Element.Name, r)
			continue
		}
		vals := make(map[string]any, len(r.Values))
		for k, v := range r.Values {
			vals[k] = v
		}
		name := r.Element.Name
		// Universe migrations, as upstream's import applies them.
		switch name {
		case "visit":
			if vs, ok := vals["visit_system"]; ok && m.old(2) && !te.HasField("visit_system") {
				delete(vals, "visit_system")
				if me, ok := to.Element("visit_system_membership"); ok && vs != nil {
					add(Record{Element: me, Values: map[string]any{"instrument": vals["instrument"], "visit_system": vs, "visit": vals["id"]}})
				}
			}
			if m.old(1) && !te.HasField("seeing") {
				delete(vals, "seeing")
			}
			if m.old(1) && te.HasField("day_obs") && vals["day_obs"] == nil {
				ts, ok := vals["timespan"].(timespan.Timespan)
				if !ok || ts.Begin == timespan.Min {
					return nil, fmt.Errorf("visit record %s: %w: cannot derive day_obs without a begin time", recordID(r), errs.ErrInvalid)
				}
				off, _ := offset(vals["instrument"])
				d := time.Unix(0, ts.Begin-off*1e9).UTC()
				vals["day_obs"] = int64(d.Year()*10000 + int(d.Month())*100 + d.Day())
			}
			needDay(vals["instrument"], vals["day_obs"])
		case "visit_definition":
			if m.old(2) && !te.HasField("visit_system") {
				delete(vals, "visit_system")
			}
		case "exposure":
			if m.old(6) && m.toHas("group", "name") && te.HasField("group") {
				if g, ok := vals["group_name"]; ok {
					delete(vals, "group_name")
					if g != nil {
						vals["group"] = fmt.Sprint(g)
						add(Record{Element: to.MustElement("group"), Values: map[string]any{"instrument": vals["instrument"], "name": fmt.Sprint(g)}})
					}
				}
				delete(vals, "group_id")
			}
			needDay(vals["instrument"], vals["day_obs"])
		}
		for k, v := range vals {
			if !te.HasField(k) {
				if v == nil {
					delete(vals, k)
					continue
				}
				refuse(name+"."+k, Record{Element: r.Element, Values: r.Values})
				continue
			}
			if s, ok := v.(string); ok {
				if f, ok := te.field(k); ok && f.Type == "string" && f.Length > 0 && len(s) > f.Length {
					refuse(fmt.Sprintf("%s.%s (%d characters, %d allowed)", name, k, len(s), f.Length), Record{Element: r.Element, Values: r.Values})
				}
			}
		}
		add(Record{Element: te, Values: vals})
	}
	if len(bad) > 0 {
		fields := make([]string, 0, len(bad))
		for f := range bad {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		return nil, &UnrepresentableError{From: from, To: to, Fields: fields, Example: example}
	}
	if len(days) > 0 {
		e := to.MustElement("day_obs")
		var unknown []string
		for _, p := range days {
			day, err := ConvertKey(e, p.day)
			if err != nil {
				return nil, fmt.Errorf("day_obs %v: %w", p.day, err)
			}
			rec := Record{Element: e, Values: map[string]any{"instrument": p.inst, "id": day}}
			if off, ok := offset(p.inst); ok {
				d := day.(int64)
				t := time.Date(int(d/10000), time.Month(d/100%100), int(d%100), 0, 0, 0, 0, time.UTC)
				b := t.UnixNano() + off*1e9
				rec.Values["timespan"] = timespan.New(b, b+86400e9)
			} else if s := fmt.Sprint(p.inst); !containsString(unknown, s) {
				unknown = append(unknown, s)
			}
			add(rec)
		}
		if len(unknown) > 0 {
			m.opts.Warn(fmt.Sprintf("day_obs records made without timespans for exposures/visits of a universe before day_obs was a dimension (instrument %s: observing-day offset unknown)", strings.Join(unknown, ", ")))
		}
	}
	var res []Record
	for _, e := range to.Elements {
		res = append(res, out[e.Name]...)
	}
	return res, nil
}

// MigratedFrom names the field of universe from's element that Migrate turns
// into the field of to's element ("" when the field is not migrated).
func MigratedFrom(from, to *Universe, element, field string) string {
	m := &migration{from: from, to: to}
	if element == "exposure" && field == "group" && m.old(6) {
		return "group_name"
	}
	return ""
}

// MigrateDimensions maps the dimension names of a dataset type or data ID of
// universe from to those of universe to: visit_system goes from types that
// have visit when visits stopped implying it (universe 2). A dimension of from
// that to lacks is an *UnrepresentableError (what names the type or data ID
// for it); names neither universe knows are kept for the caller to refuse.
func MigrateDimensions(from, to *Universe, names []string, what string) ([]string, error) {
	m := &migration{from: from, to: to}
	var out, bad []string
	for _, n := range names {
		if n == "visit_system" && m.old(2) && containsString(names, "visit") && to.byName["visit_system_membership"] != nil {
			continue
		}
		_, inFrom := from.Element(n)
		if _, ok := to.Element(n); !ok && inFrom {
			bad = append(bad, n)
			continue
		}
		out = append(out, n)
	}
	if len(bad) > 0 {
		return nil, &UnrepresentableError{From: from, To: to, Fields: bad, Example: what}
	}
	return out, nil
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
