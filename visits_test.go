package butler_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/exportfile"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/sphgeom"
)

const arcsec = math.Pi / 180 / 3600

// visitElements are the records define-visits writes.
var visitElements = []string{"visit", "visit_definition", "visit_detector_region", "visit_system_membership"}

// importExport imports an export file of the corpus registry-only, without
// the records of the elements in drop.
func importExport(t *testing.T, b *butler.Butler, name string, drop ...string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(corpustest.Dir(t), "daf_butler", "exports", name))
	if err != nil {
		t.Fatal(err)
	}
	if len(drop) > 0 {
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != "data" {
				continue
			}
			items := root.Content[i+1]
			var keep []*yaml.Node
			for _, item := range items.Content {
				el := ""
				for j := 0; j+1 < len(item.Content); j += 2 {
					if item.Content[j].Value == "element" {
						el = item.Content[j+1].Value
					}
				}
				if !slices.Contains(drop, el) {
					keep = append(keep, item)
				}
			}
			items.Content = keep
		}
		if raw, err = yaml.Marshal(&doc); err != nil {
			t.Fatal(err)
		}
	}
	bun, _, err := exportfile.Read(bytes.NewReader(raw), b.Universe, exportfile.ReadOptions{})
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if _, err := b.Import(t.Context(), bun, butler.ImportOptions{RegistryOnly: true}); err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
}

// records reads every record of an element, keyed by data ID.
func records(t *testing.T, b *butler.Butler, element string) map[string]dimensions.Record {
	t.Helper()
	recs, err := b.Records(t.Context(), element, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dimensions.Record{}
	for _, r := range recs {
		out[r.DataID().String()] = r
	}
	return out
}

func polygonOf(t *testing.T, what string, v any) sphgeom.ConvexPolygon {
	t.Helper()
	raw, ok := v.([]byte)
	if !ok {
		t.Fatalf("%s: region is %T", what, v)
	}
	r, err := sphgeom.Decode(raw)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	p, ok := r.(sphgeom.ConvexPolygon)
	if !ok {
		t.Fatalf("%s: region is %T", what, r)
	}
	return p
}

func angleBetween(a, b sphgeom.UnitVector3d) float64 {
	av, bv := a.Vector(), b.Vector()
	return math.Atan2(av.Cross(bv).Norm(), av.Dot(bv))
}

// polygonArea is the area (steradians) of a convex spherical polygon: a fan
// of triangles from its first vertex (Van Oosterom–Strackee).
func polygonArea(p sphgeom.ConvexPolygon) float64 {
	vs := p.Vertices()
	area := 0.0
	a := vs[0].Vector()
	for i := 1; i+1 < len(vs); i++ {
		b, c := vs[i].Vector(), vs[i+1].Vector()
		area += 2 * math.Atan2(a.Dot(b.Cross(c)), 1+a.Dot(b)+b.Dot(c)+c.Dot(a))
	}
	return area
}

// maxVertexError is the largest separation (radians) between the vertices of
// got and want, matched in order; a different count is an error.
func maxVertexError(t *testing.T, what string, got, want sphgeom.ConvexPolygon) float64 {
	t.Helper()
	gv, wv := got.Vertices(), want.Vertices()
	if len(gv) != len(wv) {
		t.Errorf("%s: %d vertices, upstream %d", what, len(gv), len(wv))
		return math.Inf(1)
	}
	worst := 0.0
	for i := range wv {
		worst = max(worst, angleBetween(gv[i], wv[i]))
	}
	return worst
}

// TestDefineVisitsMatchesUpstream is the acceptance test of issue #14: the
// Python butler's own visits of two LSSTCam exposures (lsstcam-subset.yaml,
// universe 7, instrument visit_system 2, defined with the
// one-to-one-and-by-counter grouping) are removed from the import, defined
// again here, and compared: every visit field, visit_definition,
// visit_system and visit_system_membership row equal, every detector-region
// vertex within 1 arcsec, every visit region's area within 0.1 %.
func TestDefineVisitsMatchesUpstream(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		_, want := repotest.NewOn(t, dialect, butler.CreateOptions{})
		importExport(t, want, "lsstcam-subset.yaml")
		_, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
		importExport(t, b, "lsstcam-subset.yaml", visitElements...)
		if n := len(records(t, b, "visit")); n != 0 {
			t.Fatalf("%d visits before define-visits", n)
		}
		res, err := b.DefineVisits(t.Context(), "lsst.obs.lsst.LsstCam", butler.DefineVisitsOptions{
			Config: []string{"groupExposures.name=one-to-one-and-by-counter"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Visits != 2 || res.New != 2 || res.Exposures != 2 {
			t.Errorf("result %+v, want 2 new visits of 2 exposures", res)
		}
		for _, el := range []string{"visit_definition", "visit_system_membership", "visit_system"} {
			got, exp := records(t, b, el), records(t, want, el)
			if !equalKeys(got, exp) {
				t.Errorf("%s: got %v, upstream %v", el, recKeys(got), recKeys(exp))
			}
			for k, r := range exp {
				if d := valueDiff(got[k], r, nil); d != "" {
					t.Errorf("%s %s: %s", el, k, d)
				}
			}
		}
		gotV, expV := records(t, b, "visit"), records(t, want, "visit")
		if !equalKeys(gotV, expV) {
			t.Fatalf("visits: got %v, upstream %v", recKeys(gotV), recKeys(expV))
		}
		var maxDet, maxVisit, maxArea float64
		for k, exp := range expV {
			got := gotV[k]
			if d := valueDiff(got, exp, []string{"region"}); d != "" {
				t.Errorf("visit %s: %s", k, d)
			}
			g, w := polygonOf(t, "visit "+k, got.Values["region"]), polygonOf(t, "upstream visit "+k, exp.Values["region"])
			maxVisit = max(maxVisit, maxVertexError(t, "visit "+k, g, w))
			rel := math.Abs(polygonArea(g)-polygonArea(w)) / polygonArea(w)
			if rel > 1e-3 {
				t.Errorf("visit %s: area differs from upstream's by %.3g %%", k, 100*rel)
			}
			maxArea = max(maxArea, rel)
		}
		gotR, expR := records(t, b, "visit_detector_region"), records(t, want, "visit_detector_region")
		if !equalKeys(gotR, expR) {
			t.Fatalf("visit_detector_region: got %v, upstream %v", recKeys(gotR), recKeys(expR))
		}
		for k, exp := range expR {
			d := maxVertexError(t, "visit_detector_region "+k,
				polygonOf(t, k, gotR[k].Values["region"]), polygonOf(t, "upstream "+k, exp.Values["region"]))
			if d > arcsec {
				t.Errorf("visit_detector_region %s: a vertex is %.3g arcsec from upstream's", k, d/arcsec)
			}
			maxDet = max(maxDet, d)
		}
		if maxVisit > arcsec {
			t.Errorf("visit regions: a vertex is %.3g arcsec from upstream's", maxVisit/arcsec)
		}
		t.Logf("max vertex error: detector regions %.3g arcsec, visit regions %.3g arcsec; max visit area difference %.3g %%",
			maxDet/arcsec, maxVisit/arcsec, 100*maxArea)

		// Spatial queries find the exposures' detectors through the new regions.
		c := polygonOf(t, "visit", gotR[firstKey(gotR)].Values["region"]).Centroid()
		ll := sphgeom.LonLatOf(c)
		n := 0
		err = b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"visit", "detector"},
			Where: fmt.Sprintf("visit_detector_region.region OVERLAPS POINT(%.10f, %.10f)", ll.Lon.Degrees(), ll.Lat.Degrees())},
			func(dimensions.DataID) error { n++; return nil })
		if err != nil || n != 1 {
			t.Errorf("spatial query at a detector centre: %d data IDs, err %v; want 1", n, err)
		}

		// Running again is a no-op.
		again, err := b.DefineVisits(t.Context(), "LSSTCam", butler.DefineVisitsOptions{
			Config: []string{"groupExposures.name=one-to-one-and-by-counter"},
		})
		if err != nil || again.Skipped != 2 || again.New != 0 || again.DetectorRegions != 0 {
			t.Errorf("second run: %+v, %v; want 2 skipped", again, err)
		}
	})
}

func firstKey(m map[string]dimensions.Record) string {
	ks := recKeys(m)
	return ks[0]
}

func recKeys(m map[string]dimensions.Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func equalKeys(a, b map[string]dimensions.Record) bool {
	return slices.Equal(recKeys(a), recKeys(b))
}

// valueDiff describes the fields (other than skip) where got and want differ.
func valueDiff(got, want dimensions.Record, skip []string) string {
	var diffs []string
	names := map[string]bool{}
	for k := range want.Values {
		names[k] = true
	}
	for k := range got.Values {
		names[k] = true
	}
	var sorted []string
	for k := range names {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		if slices.Contains(skip, k) {
			continue
		}
		g, w := fmt.Sprint(got.Values[k]), fmt.Sprint(want.Values[k])
		if g != w {
			diffs = append(diffs, fmt.Sprintf("%s = %s, upstream %s", k, g, w))
		}
	}
	return strings.Join(diffs, "; ")
}

// TestDefineVisitsGeneratedRaws defines visits for ingested synthetic raws
// and finds raws on the sky through their detector regions.
func TestDefineVisitsGeneratedRaws(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		if _, err := ingest.RegisterInstrument(ctx, b, "lsst.obs.lsst.LsstCam", false); err != nil {
			t.Fatal(err)
		}
		files := rawtest.Write(t, t.TempDir(), "LSSTCam", 12, 6)
		if _, err := ingest.Raws(ctx, b, files, ingest.Options{Transfer: "symlink"}); err != nil {
			t.Fatal(err)
		}
		res, err := b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.New == 0 || res.New != res.Exposures || res.DetectorRegions != 205*res.New {
			t.Fatalf("result %+v: want a new visit of 205 detector regions per on-sky exposure", res)
		}
		// The centre of one raw's detector region finds that raw, and only it.
		var vdr dimensions.Record
		for _, r := range queryRefs(t, b, butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"LSSTCam/raw/all"}}) {
			err := b.QueryRecords(ctx, butler.RecordSearch{Element: "visit_detector_region",
				DataID: dimensions.DataID{"instrument": "LSSTCam", "visit": r.DataID["exposure"], "detector": r.DataID["detector"]}}, func(rec dimensions.Record) error {
				vdr = rec
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if vdr.Values != nil {
				break
			}
		}
		if vdr.Values == nil {
			t.Fatal("no raw has a detector region")
		}
		ll := sphgeom.LonLatOf(polygonOf(t, "detector region", vdr.Values["region"]).Centroid())
		where := fmt.Sprintf("visit_detector_region.region OVERLAPS POINT(%.8f, %.8f)", ll.Lon.Degrees(), ll.Lat.Degrees())
		refs := queryRefs(t, b, butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"LSSTCam/raw/all"}, Where: where})
		if len(refs) != 1 || refs[0].DataID["detector"] != vdr.Values["detector"] || refs[0].DataID["exposure"] != vdr.Values["visit"] {
			t.Errorf("%s: %d raws %v, want detector %v of exposure %v", where, len(refs), refs, vdr.Values["detector"], vdr.Values["visit"])
		}

		// A detector without raws: nothing found, and the explanation says
		// the where matched data IDs that no raw has (it used to say the
		// where could not be applied to raw).
		var empty dimensions.Record
		err = b.QueryRecords(ctx, butler.RecordSearch{Element: "visit_detector_region",
			DataID: dimensions.DataID{"instrument": "LSSTCam", "visit": vdr.Values["visit"]}}, func(r dimensions.Record) error {
			n := len(queryRefs(t, b, butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"LSSTCam/raw/all"},
				DataID: dimensions.DataID{"instrument": "LSSTCam", "exposure": r.Values["visit"], "detector": r.Values["detector"]}}))
			if n == 0 && empty.Values == nil {
				empty = r
			}
			return nil
		})
		if err != nil || empty.Values == nil {
			t.Fatalf("no detector without raws: %v", err)
		}
		ll = sphgeom.LonLatOf(polygonOf(t, "empty detector region", empty.Values["region"]).Centroid())
		s := butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"LSSTCam/raw/all"},
			Where: fmt.Sprintf("visit_detector_region.region OVERLAPS POINT(%.8f, %.8f) AND exposure = %d", ll.Lon.Degrees(), ll.Lat.Degrees(), empty.Values["visit"])}
		if refs := queryRefs(t, b, s); len(refs) != 0 {
			t.Errorf("%s: %d raws on a detector without raws", s.Where, len(refs))
		}
		why := strings.Join(b.ExplainNoDatasets(ctx, s), " ")
		if !strings.Contains(why, "no dataset has one of those data IDs") {
			t.Errorf("explanation %q, want it to say no raw has the matching data IDs", why)
		}
	})
}
