// Package transfer reads and writes daf_butler's repository export files
// (format 1.0.x, transfers/_yaml.py upstream) as butler.Bundle values, including
// the migrations of files written for older dimension universes.
package transfer

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/timespan"
	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"
)

// FormatVersion is the export format version written, as upstream's EXPORT_FORMAT_VERSION.
const FormatVersion = "1.0.2"

// intIDNamespace turns the integer dataset IDs of old export files into UUIDs
// (uuid3 of the decimal ID), as upstream does.
var intIDNamespace = uuid.MustParse("4d4851f4-2890-4d41-8779-5f38a3f5062b")

// Header is the export file's top-level metadata.
type Header struct {
	Version           string
	UniverseVersion   int
	UniverseNamespace string
}

// Reader options.
type ReadOptions struct {
	// Warn receives non-fatal notes (day_obs records made without a timespan...).
	Warn func(msg string)
	// DayObsOffset returns the observing-day offset in seconds of an instrument
	// class, for records synthesised by universe migrations; ok=false when unknown.
	DayObsOffset func(instrumentClass string) (sec int64, ok bool)
}

// FormatError is a malformed export file; it names the line.
type FormatError struct {
	Line int
	Msg  string
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}
func (e *FormatError) Is(target error) bool { return target == errs.ErrInvalid }

func errAt(n *yaml.Node, format string, a ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &FormatError{Line: line, Msg: fmt.Sprintf(format, a...)}
}

// Read parses an export document into a bundle for universe u, migrating records
// and dataset types of files written for older universes as upstream does.
func Read(r io.Reader, u *dimensions.Universe, opts ReadOptions) (*butler.Bundle, Header, error) {
	var h Header
	var doc yaml.Node
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, h, &FormatError{Msg: "empty export file"}
		}
		return nil, h, &FormatError{Msg: "not YAML: " + err.Error()}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, h, errAt(&doc, "an export file is a mapping with description, version and data")
	}
	top := doc.Content[0]
	rd := &reader{u: u, opts: opts, bun: &butler.Bundle{}}
	if opts.Warn == nil {
		rd.opts.Warn = func(string) {}
	}
	h.UniverseNamespace = "daf_butler"
	var data *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "version":
			h.Version = v.Value
		case "universe_version":
			n, err := strconv.Atoi(v.Value)
			if err != nil {
				return nil, h, errAt(v, "universe_version %q is not an integer", v.Value)
			}
			h.UniverseVersion = n
		case "universe_namespace":
			h.UniverseNamespace = v.Value
		case "data":
			data = v
		}
	}
	if err := checkVersion(h.Version, top); err != nil {
		return nil, h, err
	}
	if data == nil || (data.Kind != yaml.SequenceNode && !(data.Kind == yaml.ScalarNode && data.Tag == "!!null")) {
		return nil, h, errAt(top, "no data list")
	}
	rd.h = h
	if err := rd.read(data); err != nil {
		return nil, h, err
	}
	return rd.bun, h, nil
}

func checkVersion(v string, n *yaml.Node) error {
	if v == "" {
		return errAt(n, "no version")
	}
	if v == "0" {
		return nil // written before versioning: 1.0.0
	}
	parts := strings.Split(v, ".")
	major, err1 := strconv.Atoi(parts[0])
	minor := 0
	var err2 error
	if len(parts) > 1 {
		minor, err2 = strconv.Atoi(parts[1])
	}
	if err1 != nil || err2 != nil {
		return errAt(n, "version %q is not MAJOR.MINOR.PATCH", v)
	}
	if major != 1 || minor > 0 {
		return fmt.Errorf("%w: export file version %s cannot be read (1.0.x required)", errs.ErrUnsupported, v)
	}
	return nil
}

type reader struct {
	u    *dimensions.Universe
	h    Header
	opts ReadOptions
	bun  *butler.Bundle

	records     map[string][]dimensions.Record
	seenRecord  map[string]bool
	instClasses map[string]string
	dayObs      [][2]any // (instrument, day_obs) pairs needing records
	dayObsSeen  map[string]bool
	typeDims    map[string][]string
}

func (rd *reader) old(below int) bool {
	return rd.h.UniverseVersion < below && rd.h.UniverseNamespace == "daf_butler"
}

func (rd *reader) read(data *yaml.Node) error {
	rd.records = map[string][]dimensions.Record{}
	rd.seenRecord = map[string]bool{}
	rd.instClasses = map[string]string{}
	rd.dayObsSeen = map[string]bool{}
	rd.typeDims = map[string][]string{}
	var datasets []*yaml.Node
	for _, item := range data.Content {
		if item.Kind != yaml.MappingNode {
			return errAt(item, "data item is not a mapping")
		}
		typ := field(item, "type")
		if typ == nil {
			return errAt(item, "data item without a type")
		}
		var err error
		switch typ.Value {
		case "dimension":
			err = rd.dimension(item)
		case "collection":
			err = rd.collection(item)
		case "run":
			name := field(item, "name")
			if name == nil || name.Value == "" {
				return errAt(item, "run without a name")
			}
			rd.bun.Collections = append(rd.bun.Collections, butler.CollectionSpec{Name: name.Value, Type: dataset.Run})
		case "dataset_type":
			err = rd.datasetType(item)
		case "dataset":
			datasets = append(datasets, item) // after every dataset type is known
		case "associations":
			err = rd.associations(item)
		default:
			err = errAt(typ, "unknown data item type %q (expected dimension, collection, run, dataset_type, dataset or associations)", typ.Value)
		}
		if err != nil {
			return err
		}
	}
	if err := rd.makeDayObs(); err != nil {
		return err
	}
	for _, e := range rd.u.Elements {
		if recs := rd.records[e.Name]; len(recs) > 0 {
			rd.bun.Records = append(rd.bun.Records, butler.RecordSet{Element: e.Name, Records: recs})
		}
	}
	for _, item := range datasets {
		if err := rd.datasets(item); err != nil {
			return err
		}
	}
	return nil
}

func field(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// value decodes a scalar or tagged node into a Go value: int64, float64, bool,
// string, []byte (binary, regions), timespan instants as int64 TAI ns wrapped in
// taiTime, uuid.UUID, or nil.
func value(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	tag := n.Tag
	switch {
	case strings.Contains(tag, "lsst.sphgeom."):
		enc := field(n, "encoded")
		if n.Kind != yaml.MappingNode || enc == nil {
			return nil, errAt(n, "%s needs an encoded: hex value", tag)
		}
		b, err := hex.DecodeString(strings.TrimSpace(enc.Value))
		if err != nil {
			return nil, errAt(enc, "region encoding is not hexadecimal: %v", err)
		}
		return b, nil
	case strings.HasPrefix(tag, "!butler_time/"):
		t, err := parseTimeTag(tag, n.Value)
		if err != nil {
			return nil, errAt(n, "%v", err)
		}
		return t, nil
	case tag == "!uuid":
		id, err := uuid.Parse(strings.TrimSpace(n.Value))
		if err != nil {
			return nil, errAt(n, "!uuid %q: %v", n.Value, err)
		}
		return id, nil
	}
	if n.Kind != yaml.ScalarNode {
		return nil, errAt(n, "expected a single value, found a %s", kindName(n))
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!int":
		v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			return nil, errAt(n, "integer %q: %v", n.Value, err)
		}
		return v, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, errAt(n, "number %q: %v", n.Value, err)
		}
		return f, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, errAt(n, "boolean %q: %v", n.Value, err)
		}
		return b, nil
	case "!!binary":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
		if err != nil {
			return nil, errAt(n, "!!binary: %v", err)
		}
		return b, nil
	case "!!timestamp":
		// Old files used YAML's own timestamps; upstream reads them as UTC.
		var t time.Time
		if err := n.Decode(&t); err != nil {
			return nil, errAt(n, "timestamp %q: %v", n.Value, err)
		}
		return taiTime(timespan.FromUTC(t)), nil
	case "!!str":
		return n.Value, nil
	}
	return nil, errAt(n, "unknown YAML tag %s", n.Tag)
}

// plainText returns the text of an untagged, unquoted scalar that YAML
// resolved to a number, boolean or time: a string field keeps what was written.
func plainText(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Style != 0 {
		return "", false
	}
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool", "!!timestamp":
		return n.Value, true
	}
	return "", false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// taiTime is an instant in TAI nanoseconds read from the file.
type taiTime int64

// parseTimeTag reads !butler_time/<scale>/<format> values (tai|utc, iso|isot|mjd).
func parseTimeTag(tag, v string) (taiTime, error) {
	parts := strings.Split(strings.TrimPrefix(tag, "!butler_time/"), "/")
	if len(parts) != 2 {
		return 0, fmt.Errorf("time tag %s: expected !butler_time/SCALE/FORMAT", tag)
	}
	scale, format := parts[0], parts[1]
	v = strings.TrimSpace(v)
	switch format {
	case "iso", "isot", "fits":
		var t int64
		var err error
		switch scale {
		case "tai":
			t, err = timespan.ParseTAI(v)
		case "utc":
			t, err = timespan.ParseUTC(v)
		default:
			return 0, fmt.Errorf("time tag %s: scale %q not supported (tai, utc)", tag, scale)
		}
		return taiTime(t), err
	case "mjd":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) {
			return 0, fmt.Errorf("time %q: not an MJD", v)
		}
		return taiTime(timespan.FromMJD(f, scale)), nil
	}
	return 0, fmt.Errorf("time tag %s: format %q not supported (iso, isot, mjd)", tag, format)
}

// recordFieldTypes maps each field a record of e may carry to its type.
func recordFieldTypes(e *dimensions.Element) map[string]string {
	m := map[string]string{}
	for _, d := range e.Required {
		m[d.Name] = d.PrimaryKey().Type
	}
	for _, k := range e.Keys {
		m[k.Name] = k.Type
	}
	for _, d := range e.Implied {
		m[d.Name] = d.PrimaryKey().Type
	}
	for _, f := range e.Metadata {
		m[f.Name] = f.Type
	}
	if e.Spatial != "" {
		m["region"] = "region"
	}
	if e.Temporal != "" {
		m["datetime_begin"] = "datetime"
		m["datetime_end"] = "datetime"
	}
	return m
}

func (rd *reader) dimension(item *yaml.Node) error {
	en := field(item, "element")
	if en == nil {
		return errAt(item, "dimension item without an element")
	}
	e, ok := rd.u.Element(en.Value)
	if !ok {
		return errAt(en, "dimension element %q is not in universe %d", en.Value, rd.u.Version)
	}
	if !e.HasTable() {
		return errAt(en, "dimension element %q has no stored records", en.Value)
	}
	recs := field(item, "records")
	if recs == nil || recs.Kind != yaml.SequenceNode {
		return errAt(item, "dimension %s: records must be a list", e.Name)
	}
	types := recordFieldTypes(e)
	for _, rn := range recs.Content {
		if rn.Kind != yaml.MappingNode {
			return errAt(rn, "%s record is not a mapping", e.Name)
		}
		raw := map[string]any{}
		nodes := map[string]*yaml.Node{}
		for i := 0; i+1 < len(rn.Content); i += 2 {
			k := rn.Content[i].Value
			v, err := value(rn.Content[i+1])
			if err != nil {
				return fmt.Errorf("%s record field %s: %w", e.Name, k, err)
			}
			if text, ok := plainText(rn.Content[i+1]); ok && types[k] == "string" {
				v = text // full_name: 0_29 is the string "0_29", not the float 29
			}
			raw[k] = v
			nodes[k] = rn.Content[i+1]
		}
		if err := rd.migrateRecord(e, raw); err != nil {
			return errAt(rn, "%s record: %v", e.Name, err)
		}
		rec := dimensions.Record{Element: e, Values: map[string]any{}}
		var begin, end any
		hasSpan := false
		for k, v := range raw {
			t, ok := types[k]
			if !ok {
				return errAt(nodes[k], "%s record: unknown field %q (universe %d has %s)", e.Name, k, rd.u.Version, strings.Join(sortedKeys(types), ", "))
			}
			if k == "datetime_begin" || k == "datetime_end" {
				hasSpan = true
				if k == "datetime_begin" {
					begin = v
				} else {
					end = v
				}
				continue
			}
			cv, err := convert(t, v)
			if err != nil {
				return errAt(nodes[k], "%s record field %s: %v", e.Name, k, err)
			}
			rec.Values[k] = cv
		}
		if hasSpan && (begin != nil || end != nil) {
			b, e2 := timespan.Min, timespan.Max
			if t, ok := begin.(taiTime); ok {
				b = int64(t)
			}
			if t, ok := end.(taiTime); ok {
				e2 = int64(t)
			}
			rec.Values["timespan"] = timespan.New(b, e2)
		}
		for _, d := range e.Dimensions() {
			name := d.Name
			if d == e {
				name = e.PrimaryKey().Name
			}
			if rec.Values[name] == nil {
				return errAt(rn, "%s record: missing key %q", e.Name, name)
			}
		}
		if e.Name == "instrument" {
			if cls, ok := rec.Values["class_name"].(string); ok {
				rd.instClasses[fmt.Sprint(rec.Values["name"])] = cls
			}
		}
		rd.addRecord(rec)
	}
	return nil
}

func (rd *reader) addRecord(rec dimensions.Record) {
	k := rec.Element.Name + " " + rec.DataID().String()
	if rd.seenRecord[k] {
		return
	}
	rd.seenRecord[k] = true
	rd.records[rec.Element.Name] = append(rd.records[rec.Element.Name], rec)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// convert checks and converts a decoded value to a record field's type.
func convert(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "int":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) {
				return int64(x), nil
			}
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("expected an integer, found %v", v)
	case "float":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
		return nil, fmt.Errorf("expected a number, found %v", v)
	case "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("expected true or false, found %v", v)
	case "string":
		switch x := v.(type) {
		case string:
			return x, nil
		case int64, float64, bool:
			return fmt.Sprint(x), nil
		}
		return nil, fmt.Errorf("expected a string, found %v", v)
	case "hash", "region", "blob":
		if b, ok := v.([]byte); ok {
			return b, nil
		}
		if s, ok := v.(string); ok && typ == "hash" {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("expected binary data, found %v", v)
	case "datetime":
		if t, ok := v.(taiTime); ok {
			return int64(t), nil
		}
		return nil, fmt.Errorf("expected a time, found %v", v)
	case "uuid":
		if id, ok := v.(uuid.UUID); ok {
			return id, nil
		}
		if s, ok := v.(string); ok {
			return uuid.Parse(s)
		}
	}
	return v, nil
}

// migrateRecord applies upstream's universe migrations to one raw record.
func (rd *reader) migrateRecord(e *dimensions.Element, raw map[string]any) error {
	has := func(el, f string) bool {
		x, ok := rd.u.Element(el)
		if !ok {
			return false
		}
		_, ok = recordFieldTypes(x)[f]
		return ok
	}
	switch e.Name {
	case "visit":
		if rd.old(2) && has("visit_system_membership", "visit") {
			if vs, ok := raw["visit_system"]; ok {
				delete(raw, "visit_system")
				m, _ := rd.u.Element("visit_system_membership")
				rec := dimensions.Record{Element: m, Values: map[string]any{"instrument": raw["instrument"], "visit_system": vs, "visit": raw["id"]}}
				rd.addRecord(rec)
			}
		}
		if rd.old(1) && !has("visit", "seeing") {
			delete(raw, "seeing")
		}
		if rd.old(1) && has("visit", "day_obs") {
			if _, ok := raw["day_obs"]; !ok {
				t, ok := raw["datetime_begin"].(taiTime)
				if !ok {
					return fmt.Errorf("cannot derive day_obs without datetime_begin")
				}
				off, _ := rd.offset(raw["instrument"])
				d := time.Unix(0, int64(t)-off*1e9).UTC()
				raw["day_obs"] = int64(d.Year()*10000 + int(d.Month())*100 + d.Day())
			}
		}
		if rd.old(6) && has("day_obs", "id") {
			rd.needDayObs(raw["instrument"], raw["day_obs"])
		}
	case "exposure":
		if rd.old(6) && has("group", "name") && has("exposure", "group") {
			if g, ok := raw["group_name"]; ok {
				raw["group"] = g
				delete(raw, "group_name")
				delete(raw, "group_id")
				ge, _ := rd.u.Element("group")
				rd.addRecord(dimensions.Record{Element: ge, Values: map[string]any{"instrument": raw["instrument"], "name": fmt.Sprint(g)}})
			}
		}
		if rd.old(6) && has("day_obs", "id") {
			rd.needDayObs(raw["instrument"], raw["day_obs"])
		}
	}
	return nil
}

func (rd *reader) needDayObs(inst, day any) {
	if inst == nil || day == nil {
		return
	}
	k := fmt.Sprint(inst, "/", day)
	if !rd.dayObsSeen[k] {
		rd.dayObsSeen[k] = true
		rd.dayObs = append(rd.dayObs, [2]any{inst, day})
	}
}

func (rd *reader) offset(inst any) (int64, bool) {
	cls := rd.instClasses[fmt.Sprint(inst)]
	if rd.opts.DayObsOffset == nil || cls == "" {
		return 0, false
	}
	return rd.opts.DayObsOffset(cls)
}

// makeDayObs synthesises the day_obs records older universes did not have, with
// the instrument's observing-day offset when it is known (else no timespan).
func (rd *reader) makeDayObs() error {
	e, ok := rd.u.Element("day_obs")
	if !ok || len(rd.dayObs) == 0 {
		return nil
	}
	var missing []string
	for _, p := range rd.dayObs {
		day, err := convert("int", p[1])
		if err != nil {
			return fmt.Errorf("day_obs %v: %w", p[1], err)
		}
		rec := dimensions.Record{Element: e, Values: map[string]any{"instrument": p[0], "id": day}}
		if off, ok := rd.offset(p[0]); ok {
			d := day.(int64)
			t := time.Date(int(d/10000), time.Month(d/100%100), int(d%100), 0, 0, 0, 0, time.UTC)
			b := t.UnixNano() + off*1e9
			rec.Values["timespan"] = timespan.New(b, b+86400e9)
		} else if !contains(missing, fmt.Sprint(p[0])) {
			missing = append(missing, fmt.Sprint(p[0]))
		}
		rd.addRecord(rec)
	}
	if len(missing) > 0 {
		rd.opts.Warn(fmt.Sprintf("day_obs records made without timespans for exposures/visits exported before day_obs was a dimension (instrument %s: observing-day offset unknown)", strings.Join(missing, ", ")))
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (rd *reader) collection(item *yaml.Node) error {
	name, ct := field(item, "name"), field(item, "collection_type")
	if name == nil || name.Value == "" || ct == nil {
		return errAt(item, "collection needs a name and a collection_type")
	}
	typ, err := dataset.ParseCollectionType(ct.Value)
	if err != nil {
		return errAt(ct, "collection %s: %v", name.Value, err)
	}
	cs := butler.CollectionSpec{Name: name.Value, Type: typ}
	if d := field(item, "doc"); !isNull(d) {
		cs.Doc = d.Value
	}
	if typ == dataset.Chained {
		ch := field(item, "children")
		if ch == nil || ch.Kind != yaml.SequenceNode {
			return errAt(item, "CHAINED collection %s needs a children list", name.Value)
		}
		for _, c := range ch.Content {
			if c.Kind == yaml.SequenceNode && len(c.Content) > 0 {
				// Old form: [child, dataset type restriction]; restrictions are gone.
				rd.opts.Warn(fmt.Sprintf("chain %s: dataset type restrictions on child searches are no longer supported and are ignored", name.Value))
				c = c.Content[0]
			}
			cs.Children = append(cs.Children, c.Value)
		}
	}
	rd.bun.Collections = append(rd.bun.Collections, cs)
	return nil
}

func (rd *reader) datasetType(item *yaml.Node) error {
	name, dims, sc := field(item, "name"), field(item, "dimensions"), field(item, "storage_class")
	if name == nil || dims == nil || sc == nil {
		return errAt(item, "dataset_type needs name, dimensions and storage_class")
	}
	var names []string
	if err := dims.Decode(&names); err != nil {
		return errAt(dims, "dataset type %s: dimensions must be a list of names", name.Value)
	}
	if rd.old(2) && containsBoth(names, "visit", "visit_system") {
		if _, ok := rd.u.Element("visit_system_membership"); ok {
			names = remove(names, "visit_system")
		}
	}
	g, err := rd.u.Group(names...)
	if err != nil {
		return errAt(dims, "dataset type %s: %v", name.Value, err)
	}
	t := dataset.Type{Name: name.Value, Dimensions: g, StorageClass: sc.Value}
	if c := field(item, "is_calibration"); c != nil {
		if err := c.Decode(&t.IsCalibration); err != nil {
			return errAt(c, "dataset type %s: is_calibration must be true or false", name.Value)
		}
	}
	for _, old := range rd.bun.DatasetTypes {
		if old.Name == t.Name {
			if !old.Equal(t) {
				return errAt(item, "dataset type %s is defined twice, differently", t.Name)
			}
			return nil
		}
	}
	rd.bun.DatasetTypes = append(rd.bun.DatasetTypes, t)
	return nil
}

func containsBoth(l []string, a, b string) bool { return contains(l, a) && contains(l, b) }

func remove(l []string, s string) []string {
	var out []string
	for _, x := range l {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func (rd *reader) typeOf(name string) dataset.Type {
	for _, t := range rd.bun.DatasetTypes {
		if t.Name == name {
			return t
		}
	}
	return dataset.Type{Name: name}
}

func (rd *reader) datasets(item *yaml.Node) error {
	tn, run, recs := field(item, "dataset_type"), field(item, "run"), field(item, "records")
	if tn == nil || run == nil || recs == nil || recs.Kind != yaml.SequenceNode {
		return errAt(item, "dataset item needs dataset_type, run and a records list")
	}
	t := rd.typeOf(tn.Value)
	for _, rn := range recs.Content {
		idn, didn := field(rn, "dataset_id"), field(rn, "data_id")
		if idn == nil || didn == nil {
			return errAt(rn, "dataset of type %s needs dataset_id and data_id", t.Name)
		}
		idNodes, didNodes := listOf(idn), listOf(didn)
		if len(idNodes) != len(didNodes) {
			return errAt(rn, "dataset of type %s: %d dataset_id values but %d data_id values", t.Name, len(idNodes), len(didNodes))
		}
		f := butler.BundleFile{}
		if p := field(rn, "path"); !isNull(p) {
			f.Path = p.Value
		}
		if fm := field(rn, "formatter"); !isNull(fm) {
			f.Formatter = fm.Value
		}
		for i := range idNodes {
			id, err := datasetID(idNodes[i])
			if err != nil {
				return err
			}
			if didNodes[i].Kind != yaml.MappingNode {
				return errAt(didNodes[i], "data_id must be a mapping of dimension names to values")
			}
			dataID := dimensions.DataID{}
			for j := 0; j+1 < len(didNodes[i].Content); j += 2 {
				v, err := value(didNodes[i].Content[j+1])
				if err != nil {
					return err
				}
				dataID[didNodes[i].Content[j].Value] = v
			}
			if rd.old(2) && t.Dimensions.Has("visit") {
				delete(dataID, "visit_system")
			}
			f.Refs = append(f.Refs, dataset.Ref{ID: id, Type: t, Run: run.Value, DataID: dataID})
		}
		rd.bun.Files = append(rd.bun.Files, f)
	}
	return nil
}

func listOf(n *yaml.Node) []*yaml.Node {
	if n.Kind == yaml.SequenceNode {
		return n.Content
	}
	return []*yaml.Node{n}
}

func datasetID(n *yaml.Node) (dataset.ID, error) {
	v, err := value(n)
	if err != nil {
		return dataset.ID{}, err
	}
	switch x := v.(type) {
	case uuid.UUID:
		return x, nil
	case int64:
		return uuid.NewMD5(intIDNamespace, []byte(strconv.FormatInt(x, 10))), nil
	case string:
		id, err := uuid.Parse(x)
		if err != nil {
			return dataset.ID{}, errAt(n, "dataset_id %q is not a UUID", x)
		}
		return id, nil
	}
	return dataset.ID{}, errAt(n, "dataset_id %v is not a UUID", v)
}

func (rd *reader) ids(n *yaml.Node) ([]dataset.ID, error) {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil, errAt(n, "dataset_ids must be a list")
	}
	out := make([]dataset.ID, 0, len(n.Content))
	for _, x := range n.Content {
		id, err := datasetID(x)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func (rd *reader) associations(item *yaml.Node) error {
	coll, ct := field(item, "collection"), field(item, "collection_type")
	if coll == nil || ct == nil {
		return errAt(item, "associations need collection and collection_type")
	}
	switch ct.Value {
	case "TAGGED":
		ids, err := rd.ids(field(item, "dataset_ids"))
		if err != nil {
			return err
		}
		rd.bun.Tags = append(rd.bun.Tags, butler.Association{Collection: coll.Value, IDs: ids})
	case "CALIBRATION":
		vr := field(item, "validity_ranges")
		if vr == nil || vr.Kind != yaml.SequenceNode {
			return errAt(item, "CALIBRATION associations need a validity_ranges list")
		}
		for _, r := range vr.Content {
			span := field(r, "timespan")
			var bn, en *yaml.Node
			if span != nil {
				bn, en = field(span, "begin"), field(span, "end")
			} else {
				bn, en = field(r, "begin"), field(r, "end") // legacy form
			}
			b, e := timespan.Min, timespan.Max
			for _, p := range []struct {
				n   *yaml.Node
				dst *int64
			}{{bn, &b}, {en, &e}} {
				if isNull(p.n) {
					continue
				}
				v, err := value(p.n)
				if err != nil {
					return err
				}
				t, ok := v.(taiTime)
				if !ok {
					return errAt(p.n, "validity range bound %v is not a time", v)
				}
				*p.dst = int64(t)
			}
			ids, err := rd.ids(field(r, "dataset_ids"))
			if err != nil {
				return err
			}
			rd.bun.Calibs = append(rd.bun.Calibs, butler.Association{Collection: coll.Value, Timespan: timespan.New(b, e), IDs: ids})
		}
	default:
		return errAt(ct, "associations of a %s collection are not possible (TAGGED or CALIBRATION)", ct.Value)
	}
	return nil
}
