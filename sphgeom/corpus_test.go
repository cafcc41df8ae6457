package sphgeom

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/internal/testutil/corpustest"
)

// exportRecord is one record of a daf_butler YAML export: a dimension record
// (element set) or a dataset (datasetType set, fields of its data ID).
type exportRecord struct {
	element     string
	datasetType string
	fields      map[string]yaml.Node
	region      []byte // encoded region, if the record has one
}

func exportPath(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(corpustest.Dir(t), "daf_butler", "exports", name)
}

// readExport parses an export file into its dimension and dataset records.
func readExport(t testing.TB, name string) []exportRecord {
	t.Helper()
	data, err := os.ReadFile(exportPath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Data []struct {
			Type        string      `yaml:"type"`
			Element     string      `yaml:"element"`
			DatasetType string      `yaml:"dataset_type"`
			Records     []yaml.Node `yaml:"records"`
		} `yaml:"data"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	var out []exportRecord
	for _, d := range doc.Data {
		for _, n := range d.Records {
			rec := exportRecord{element: d.Element, datasetType: d.DatasetType, fields: map[string]yaml.Node{}}
			if d.Type == "dataset" {
				// data_id is a mapping, or a list holding one mapping (one per
				// dataset ID).
				var ds struct {
					DataID yaml.Node `yaml:"data_id"`
				}
				if err := n.Decode(&ds); err != nil {
					t.Fatalf("%s: dataset record: %v", name, err)
				}
				id := &ds.DataID
				if id.Kind == yaml.SequenceNode && len(id.Content) == 1 {
					id = id.Content[0]
				}
				if err := id.Decode(&rec.fields); err != nil {
					t.Fatalf("%s: dataset data ID: %v", name, err)
				}
			} else if d.Type == "dimension" {
				if err := n.Decode(&rec.fields); err != nil {
					t.Fatalf("%s: %s record: %v", name, d.Element, err)
				}
			} else {
				continue
			}
			if r, ok := rec.fields["region"]; ok {
				rec.region = regionBytes(t, &r)
			}
			out = append(out, rec)
		}
	}
	return out
}

// regionBytes extracts the hex of a `!<lsst.sphgeom.ConvexPolygon> {encoded: …}` node.
func regionBytes(t testing.TB, n *yaml.Node) []byte {
	t.Helper()
	if !strings.Contains(n.Tag, "lsst.sphgeom.") {
		t.Fatalf("region node has tag %q", n.Tag)
	}
	var v struct {
		Encoded string `yaml:"encoded"`
	}
	if err := n.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(v.Encoded)
	if err != nil {
		t.Fatalf("region hex: %v", err)
	}
	return b
}

func (r exportRecord) int(t testing.TB, key string) int64 {
	t.Helper()
	n, ok := r.fields[key]
	if !ok {
		t.Fatalf("%s record has no %q", r.element, key)
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		t.Fatalf("%s.%s: %v", r.element, key, err)
	}
	return v
}

func (r exportRecord) polygon(t testing.TB) ConvexPolygon {
	t.Helper()
	reg, err := Decode(r.region)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := reg.(ConvexPolygon)
	if !ok {
		t.Fatalf("region is a %T", reg)
	}
	return p
}

// TestCorpus_DecodeRegions decodes every region in upstream's export files and
// checks that it re-encodes to the same bytes and is a sane convex polygon.
func TestCorpus_DecodeRegions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpustest.Dir(t), "daf_butler", "exports", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := mustHtm(t, 7)
	total := 0
	for _, f := range files {
		for _, rec := range readExport(t, filepath.Base(f)) {
			if rec.region == nil {
				continue
			}
			total++
			p := rec.polygon(t)
			if got := p.Encode(); string(got) != string(rec.region) {
				t.Fatalf("%s %s: re-encoding differs:\n got %x\nwant %x", filepath.Base(f), rec.element, got, rec.region)
			}
			n := len(p.vertices)
			for i, v := range p.vertices {
				if d := v.v.SquaredNorm() - 1; d > 1e-15 || d < -1e-15 {
					t.Errorf("%s %s: vertex %d %v is not a unit vector", filepath.Base(f), rec.element, i, v)
				}
				// Convex and counter-clockwise: each vertex turns left.
				if orientation(v, p.vertices[(i+1)%n], p.vertices[(i+2)%n]) < 0 {
					t.Errorf("%s %s: vertices are not in counter-clockwise order", filepath.Base(f), rec.element)
				}
			}
			// Our hull of sphgeom's vertices reproduces them, byte for byte.
			hull := mustHull(t, p.vertices...)
			if string(hull.Encode()) != string(rec.region) {
				t.Errorf("%s %s: hull of the vertices encodes differently", filepath.Base(f), rec.element)
			}
			if !p.Contains(p.Centroid()) {
				t.Errorf("%s %s: polygon misses its centroid", filepath.Base(f), rec.element)
			}
			r2, err := DecodeBase64(EncodeBase64(p))
			if err != nil || string(r2.Encode()) != string(rec.region) {
				t.Errorf("%s %s: base64 round trip: %v", filepath.Base(f), rec.element, err)
			}
			env := h.Envelope(p, 0)
			for _, v := range p.vertices {
				if !env.Contains(h.Index(v)) {
					t.Errorf("%s %s: htm7 envelope misses vertex trixel", filepath.Base(f), rec.element)
				}
			}
		}
	}
	if total < 1300 {
		t.Errorf("decoded %d regions, expected the corpus to hold over 1300", total)
	}
}
