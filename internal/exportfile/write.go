package exportfile

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/pyrepr"
	"github.com/gobutler/butler/timespan"
	"go.yaml.in/yaml/v3"
)

// regionTags names sphgeom region classes by the first byte of their encoding.
var regionTags = map[byte]string{
	'p': "lsst.sphgeom.ConvexPolygon",
	'c': "lsst.sphgeom.Circle",
	'b': "lsst.sphgeom.Box",
	'e': "lsst.sphgeom.Ellipse",
	'u': "lsst.sphgeom.UnionRegion",
	'i': "lsst.sphgeom.IntersectionRegion",
}

// Write writes a bundle as an export document in upstream's layout and item
// order: dimension records, collections, then a dataset_type and a dataset item
// per (dataset type, run), then associations.
func Write(w io.Writer, bun *butler.Bundle, u *dimensions.Universe) error {
	var data []*yaml.Node
	for _, set := range bun.Records {
		e, ok := u.Element(set.Element)
		if !ok {
			return fmt.Errorf("export %s records: not in universe %d", set.Element, u.Version)
		}
		recs := make([]*yaml.Node, 0, len(set.Records))
		for _, r := range set.Records {
			recs = append(recs, recordNode(e, r))
		}
		data = append(data, mapping("type", str("dimension"), "element", str(e.Name), "records", seq(recs...)))
	}
	for _, c := range bun.Collections {
		m := mapping("type", str("collection"), "collection_type", str(c.Type.String()), "name", str(c.Name))
		if c.Doc != "" {
			add(m, "doc", str(c.Doc))
		}
		switch c.Type {
		case dataset.Run:
			add(m, "host", null(), "timespan_begin", null(), "timespan_end", null())
		case dataset.Chained:
			children := make([]*yaml.Node, len(c.Children))
			for i, ch := range c.Children {
				children[i] = str(ch)
			}
			add(m, "children", seq(children...))
		}
		data = append(data, m)
	}
	types := map[string]dataset.Type{}
	withFiles := map[string]bool{}
	for _, f := range bun.Files {
		withFiles[f.Refs[0].Type.Name] = true
	}
	for _, t := range bun.DatasetTypes {
		types[t.Name] = t
		if !withFiles[t.Name] {
			// Upstream writes types with their datasets; a type without any
			// (base.yaml) gets an item of its own.
			data = append(data, datasetTypeNode(t))
		}
	}
	for i := 0; i < len(bun.Files); {
		first := bun.Files[i].Refs[0]
		j := i
		for j < len(bun.Files) && bun.Files[j].Refs[0].Type.Name == first.Type.Name && bun.Files[j].Refs[0].Run == first.Run {
			j++
		}
		t, ok := types[first.Type.Name]
		if !ok {
			t = first.Type
		}
		data = append(data, datasetTypeNode(t))
		var recs []*yaml.Node
		for _, f := range bun.Files[i:j] {
			var ids, dataIDs []*yaml.Node
			for _, r := range f.Refs {
				ids = append(ids, uuidNode(r.ID))
				dataIDs = append(dataIDs, dataIDNode(t, r.DataID))
			}
			rec := mapping("dataset_id", seq(ids...), "data_id", seq(dataIDs...), "path", str(f.Path))
			if f.Formatter != "" {
				add(rec, "formatter", str(f.Formatter))
			} else {
				add(rec, "formatter", null())
			}
			recs = append(recs, rec)
		}
		data = append(data, mapping("type", str("dataset"), "dataset_type", str(t.Name), "run", str(first.Run), "records", seq(recs...)))
		i = j
	}
	for _, a := range bun.Tags {
		ids := make([]*yaml.Node, len(a.IDs))
		for i, id := range a.IDs {
			ids[i] = uuidNode(id)
		}
		data = append(data, mapping("type", str("associations"), "collection", str(a.Collection), "collection_type", str("TAGGED"), "dataset_ids", seq(ids...)))
	}
	var calib *yaml.Node
	var calibColl string
	for _, a := range bun.Calibs {
		if calib == nil || calibColl != a.Collection {
			calib = seq()
			calibColl = a.Collection
			data = append(data, mapping("type", str("associations"), "collection", str(a.Collection), "collection_type", str("CALIBRATION"), "validity_ranges", calib))
		}
		ids := make([]*yaml.Node, len(a.IDs))
		for i, id := range a.IDs {
			ids[i] = uuidNode(id)
		}
		span := mapping("begin", timeBound(a.Timespan.Begin, timespan.Min), "end", timeBound(a.Timespan.End, timespan.Max))
		span.Tag = "!lsst.daf.butler.Timespan"
		calib.Content = append(calib.Content, mapping("timespan", span, "dataset_ids", seq(ids...)))
	}
	root := mapping(
		"description", str("Butler Data Repository Export"),
		"version", str(FormatVersion),
		"universe_version", integer(int64(u.Version)),
		"universe_namespace", str(u.Namespace),
		"data", seq(data...),
	)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return enc.Close()
}

func datasetTypeNode(t dataset.Type) *yaml.Node {
	dims := make([]*yaml.Node, 0)
	for _, n := range t.Dimensions.Names() {
		dims = append(dims, str(n))
	}
	return mapping("type", str("dataset_type"), "name", str(t.Name), "dimensions", seq(dims...),
		"storage_class", str(t.StorageClass), "is_calibration", boolean(t.IsCalibration))
}

func recordNode(e *dimensions.Element, r dimensions.Record) *yaml.Node {
	m := mapping()
	types := recordFieldTypes(e)
	emit := func(name string) {
		v, ok := r.Values[name]
		if !ok {
			return
		}
		add(m, name, valueNode(types[name], v))
	}
	for _, d := range e.Required {
		emit(d.Name)
	}
	for _, k := range e.Keys {
		emit(k.Name)
	}
	for _, d := range e.Implied {
		emit(d.Name)
	}
	for _, f := range e.Metadata {
		emit(f.Name)
	}
	if e.Spatial != "" {
		emit("region")
	}
	if e.Temporal != "" {
		ts, ok := r.Values["timespan"].(timespan.Timespan)
		if !ok {
			add(m, "datetime_begin", null(), "datetime_end", null())
		} else {
			add(m, "datetime_begin", timeBound(ts.Begin, timespan.Min), "datetime_end", timeBound(ts.End, timespan.Max))
		}
	}
	return m
}

func valueNode(typ string, v any) *yaml.Node {
	if v == nil {
		return null()
	}
	switch typ {
	case "region":
		b, ok := v.([]byte)
		if !ok || len(b) == 0 {
			return null()
		}
		tag, ok := regionTags[b[0]]
		if !ok {
			tag = "lsst.sphgeom.Region"
		}
		n := mapping("encoded", str(hex.EncodeToString(b)))
		n.Tag = tag // a tag without "!" is written verbatim: !<lsst.sphgeom.ConvexPolygon>
		return n
	case "hash", "blob":
		if b, ok := v.([]byte); ok {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!binary", Value: base64.StdEncoding.EncodeToString(b)}
		}
	}
	switch x := v.(type) {
	case int64:
		return integer(x)
	case int:
		return integer(int64(x))
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: floatText(x)}
	case bool:
		return boolean(x)
	case string:
		return str(x)
	case []byte:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!binary", Value: base64.StdEncoding.EncodeToString(x)}
	}
	return str(fmt.Sprint(v))
}

// floatText writes a number as Python's repr does through PyYAML (30.0,
// 1.0e-05): YAML 1.1 readers take "30" for an integer and "1e-05" for a string.
func floatText(x float64) string {
	switch {
	case math.IsNaN(x):
		return ".nan"
	case math.IsInf(x, 1):
		return ".inf"
	case math.IsInf(x, -1):
		return "-.inf"
	}
	// PyYAML's represent_float: repr, with ".0" before a bare exponent.
	s := pyrepr.Float(x)
	if !strings.Contains(s, ".") {
		s = strings.Replace(s, "e", ".0e", 1)
	}
	return s
}

// timeBound writes a TAI instant as upstream does (!butler_time/tai/iso), or
// null for an unbounded end.
func timeBound(t, unbounded int64) *yaml.Node {
	if t == unbounded {
		return null()
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!butler_time/tai/iso", Style: yaml.SingleQuotedStyle,
		Value: time.Unix(0, t).UTC().Format("2006-01-02 15:04:05.000000000")}
}

func dataIDNode(t dataset.Type, id dimensions.DataID) *yaml.Node {
	m := mapping()
	for _, n := range t.Dimensions.RequiredNames() {
		if v, ok := id[n]; ok {
			add(m, n, valueNode("", v))
		}
	}
	return m
}

func uuidNode(id dataset.ID) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!uuid", Style: yaml.SingleQuotedStyle, Value: id.String()}
}

func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add(m, kv...)
	return m
}

func add(m *yaml.Node, kv ...any) {
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
}

func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
func null() *yaml.Node        { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"} }
func integer(n int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(n, 10)}
}
func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}
