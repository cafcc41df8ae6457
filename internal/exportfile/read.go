// Package exportfile reads and writes daf_butler's repository export files
// (format 1.0.x, transfers/_yaml.py upstream) as butler.Bundle values, including
// the migrations of files written for older dimension universes.
package exportfile

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

// FormatError is a malformed export file, or content of it the destination
// cannot take; it names the line. Err, when set, is the cause (Msg is its text).
type FormatError struct {
	Line int
	Msg  string
	Err  error
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}
func (e *FormatError) Is(target error) bool { return target == errs.ErrInvalid }
func (e *FormatError) Unwrap() error        { return e.Err }

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
	u    *dimensions.Universe // the destination's
	src  *dimensions.Universe // the file's (u when the file's is not known here)
	h    Header
	opts ReadOptions
	bun  *butler.Bundle

	records    map[string][]dimensions.Record
	seenRecord map[string]bool
	lines      map[string]int // record (element and data ID) → line
}

func (rd *reader) old(below int) bool {
	return rd.src.Version < below && rd.src.Namespace == "daf_butler"
}

// fileUniverse is the universe the file was written for: an embedded
// daf_butler version, else (another namespace, an unknown version) u.
func fileUniverse(h Header, u *dimensions.Universe) *dimensions.Universe {
	if h.UniverseNamespace != "daf_butler" || (u.Namespace == h.UniverseNamespace && u.Version == h.UniverseVersion) {
		return u
	}
	if src, err := dimensions.Version(h.UniverseVersion); err == nil {
		return src
	}
	return u
}

func (rd *reader) read(data *yaml.Node) error {
	rd.src = fileUniverse(rd.h, rd.u)
	rd.records = map[string][]dimensions.Record{}
	rd.seenRecord = map[string]bool{}
	rd.lines = map[string]int{}
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
	for _, e := range rd.src.Elements {
		if recs := rd.records[e.Name]; len(recs) > 0 {
			rd.bun.Records = append(rd.bun.Records, butler.RecordSet{Element: e.Name, Records: recs})
		}
	}
	for _, item := range datasets {
		if err := rd.datasets(item); err != nil {
			return err
		}
	}
	// The content read in the file's universe goes to the destination's by the
	// migrations transfers between repositories use too.
	if rd.src != rd.u || rd.old(1) {
		err := butler.MigrateBundle(rd.bun, rd.src, rd.u, butler.MigrateOptions{DayObsOffset: rd.opts.DayObsOffset, Warn: rd.opts.Warn})
		if err != nil {
			return err
		}
	}
	// Records the destination's tables cannot hold are refused here, where the
	// line is known.
	for _, set := range rd.bun.Records {
		for _, rec := range set.Records {
			if err := dimensions.CheckRecord(rec); err != nil {
				msg := err.Error()
				for _, f := range rec.Element.NotNullFields() {
					if rec.Values[f] != nil {
						continue
					}
					if old := dimensions.MigratedFrom(rd.src, rd.u, set.Element, f); old != "" {
						msg += fmt.Sprintf("; files of universe %d give it as %s, which this record lacks", rd.src.Version, old)
					}
					break
				}
				return &FormatError{Line: rd.lines[set.Element+" "+rec.DataID().String()], Msg: msg, Err: err}
			}
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
	e, ok := rd.src.Element(en.Value)
	if !ok {
		e, ok = rd.u.Element(en.Value) // an element newer than the file says it is
	}
	if !ok {
		return errAt(en, "dimension element %q is not in universe %d", en.Value, rd.src.Version)
	}
	if !e.HasTable() {
		return errAt(en, "dimension element %q has no stored records", en.Value)
	}
	recs := field(item, "records")
	if recs == nil || recs.Kind != yaml.SequenceNode {
		return errAt(item, "dimension %s: records must be a list", e.Name)
	}
	types := recordFieldTypes(e)
	if de, ok := rd.u.Element(e.Name); ok && de != e {
		// Files sometimes carry fields of later universes than they declare
		// (upstream's own hsc-rc2-subset-v0.yaml has exposure.seq_start): the
		// destination's fields are read too, and the migration keeps them.
		for k, t := range recordFieldTypes(de) {
			if _, ok := types[k]; !ok {
				types[k] = t
			}
		}
	}
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
		rec := dimensions.Record{Element: e, Values: map[string]any{}}
		var begin, end any
		hasSpan := false
		for k, v := range raw {
			t, ok := types[k]
			if !ok && k == "seeing" && e.Name == "visit" && rd.old(1) {
				t, ok = "float", true // files of before universe 1 have it; the migration drops it
			}
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
		rd.lines[e.Name+" "+rec.DataID().String()] = rn.Line
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

// datasetType reads a dataset type in the file's universe (MigrateBundle then
// gives it the destination's dimensions).
func (rd *reader) datasetType(item *yaml.Node) error {
	name, dims, sc := field(item, "name"), field(item, "dimensions"), field(item, "storage_class")
	if name == nil || dims == nil || sc == nil {
		return errAt(item, "dataset_type needs name, dimensions and storage_class")
	}
	var names []string
	if err := dims.Decode(&names); err != nil {
		return errAt(dims, "dataset type %s: dimensions must be a list of names", name.Value)
	}
	g, err := rd.src.Group(names...)
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
