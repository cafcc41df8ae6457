package camgeom

import (
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/sphgeom"
)

const arcsec = math.Pi / 180 / 3600

// upstreamExport is what the test needs from a Python butler export: each
// exposure's pointing, and the visit and visit_detector_region regions
// define-visits made from it.
type upstreamExport struct {
	instrument string
	pointings  map[int64]Pointing
	visits     map[int64]sphgeom.ConvexPolygon
	detectors  map[[2]int64]sphgeom.ConvexPolygon // (visit, detector)
}

func readUpstreamExport(t *testing.T, name string) upstreamExport {
	t.Helper()
	file := filepath.Join(corpustest.Dir(t), "daf_butler", "exports", name)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	get := func(n *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	num := func(n *yaml.Node, key string) float64 {
		v := get(n, key)
		if v == nil {
			t.Fatalf("%s line %d: no %s", file, n.Line, key)
		}
		f, err := strconv.ParseFloat(v.Value, 64)
		if err != nil {
			t.Fatalf("%s line %d: %s: %v", file, v.Line, key, err)
		}
		return f
	}
	region := func(n *yaml.Node) sphgeom.ConvexPolygon {
		r := get(n, "region")
		if r == nil {
			t.Fatalf("%s line %d: no region", file, n.Line)
		}
		raw, err := hex.DecodeString(get(r, "encoded").Value)
		if err != nil {
			t.Fatalf("%s line %d: %v", file, r.Line, err)
		}
		reg, err := sphgeom.Decode(raw)
		if err != nil {
			t.Fatalf("%s line %d: %v", file, r.Line, err)
		}
		poly, ok := reg.(sphgeom.ConvexPolygon)
		if !ok {
			t.Fatalf("%s line %d: region is %T", file, r.Line, reg)
		}
		return poly
	}
	ex := upstreamExport{
		pointings: map[int64]Pointing{},
		visits:    map[int64]sphgeom.ConvexPolygon{},
		detectors: map[[2]int64]sphgeom.ConvexPolygon{},
	}
	for _, item := range get(doc.Content[0], "data").Content {
		if get(item, "type").Value != "dimension" {
			continue
		}
		for _, rec := range get(item, "records").Content {
			switch get(item, "element").Value {
			case "instrument":
				ex.instrument = get(rec, "name").Value
			case "exposure":
				ex.pointings[int64(num(rec, "id"))] = Pointing{
					RA: num(rec, "tracking_ra"), Dec: num(rec, "tracking_dec"), SkyAngle: num(rec, "sky_angle"),
				}
			case "visit":
				ex.visits[int64(num(rec, "id"))] = region(rec)
			case "visit_detector_region":
				ex.detectors[[2]int64{int64(num(rec, "visit")), int64(num(rec, "detector"))}] = region(rec)
			}
		}
	}
	if ex.instrument == "" || len(ex.visits) == 0 || len(ex.detectors) == 0 {
		t.Fatalf("%s: no instrument, visits or visit_detector_regions", file)
	}
	return ex
}

// angleBetween is the angle between two unit vectors, in radians, accurate
// for small angles.
func angleBetween(a, b sphgeom.UnitVector3d) float64 {
	av, bv := a.Vector(), b.Vector()
	return math.Atan2(av.Cross(bv).Norm(), av.Dot(bv))
}

// polygonArea is the area (steradians) of a convex spherical polygon given
// by its counter-clockwise vertices: a fan of triangles from the first
// vertex, each by the Van Oosterom–Strackee formula.
func polygonArea(p sphgeom.ConvexPolygon) float64 {
	vs := p.Vertices()
	area := 0.0
	a := vs[0].Vector()
	for i := 1; i+1 < len(vs); i++ {
		b, c := vs[i].Vector(), vs[i+1].Vector()
		num := a.Dot(b.Cross(c))
		den := 1 + a.Dot(b) + b.Dot(c) + c.Dot(a)
		area += 2 * math.Atan2(num, den)
	}
	return area
}

func TestPolygonArea(t *testing.T) {
	// One octant of the sphere: 4π/8.
	oct, err := sphgeom.NewPolygonDeg(0, 0, 90, 0, 0, 90)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := polygonArea(oct), math.Pi/2; math.Abs(got-want) > 1e-12 {
		t.Errorf("octant area %v, want %v", got, want)
	}
	// A small square of side s (radians) near the equator: about s².
	s := 1e-3
	sq, err := sphgeom.NewPolygonDeg(0, 0, s*180/math.Pi, 0, s*180/math.Pi, s*180/math.Pi, 0, s*180/math.Pi)
	if err != nil {
		t.Fatal(err)
	}
	if got := polygonArea(sq); math.Abs(got-s*s)/(s*s) > 1e-6 {
		t.Errorf("small square area %v, want %v", got, s*s)
	}
}

// TestMatchesUpstreamRegions compares our regions with the ones the Python
// define-visits made for two LSSTCam exposures: every detector-region vertex
// within 1 arcsec, the same vertex count, and the visit region's vertices
// within 1 arcsec and its area within 0.1 %.
func TestMatchesUpstreamRegions(t *testing.T) {
	ex := readUpstreamExport(t, "lsstcam-subset.yaml")
	cam, err := Load(ex.instrument)
	if err != nil {
		t.Fatal(err)
	}
	if cam.DefaultPadding != 250 {
		t.Fatalf("%s default padding %d, want 250", cam.Instrument, cam.DefaultPadding)
	}
	var maxDet, maxVisit, maxArea float64
	for visit, want := range ex.visits {
		// define-visits' one-to-one grouping: visit id = exposure id.
		p, ok := ex.pointings[visit]
		if !ok {
			t.Fatalf("visit %d has no exposure", visit)
		}
		got, dets, err := cam.Regions(p, cam.DefaultPadding)
		if err != nil {
			t.Fatal(err)
		}
		if d := compareVertices(t, "visit "+strconv.FormatInt(visit, 10), got, want); d > maxVisit {
			maxVisit = d
		}
		ga, wa := polygonArea(got), polygonArea(want)
		rel := math.Abs(ga-wa) / wa
		if rel > 1e-3 {
			t.Errorf("visit %d: area %.6g sr, upstream %.6g sr (relative difference %.3g)", visit, ga, wa, rel)
		}
		maxArea = max(maxArea, rel)
		for key, want := range ex.detectors {
			if key[0] != visit {
				continue
			}
			got, ok := dets[int(key[1])]
			if !ok {
				t.Errorf("visit %d: no region for detector %d", visit, key[1])
				continue
			}
			name := "visit " + strconv.FormatInt(visit, 10) + " detector " + strconv.FormatInt(key[1], 10)
			if d := compareVertices(t, name, got, want); d > maxDet {
				maxDet = d
			}
		}
	}
	t.Logf("max vertex error: detector regions %.3g arcsec, visit regions %.3g arcsec; max visit area difference %.3g %%",
		maxDet/arcsec, maxVisit/arcsec, 100*maxArea)
}

// compareVertices checks that got and want have the same vertices, in the
// same order, within 1 arcsec; it returns the largest separation (radians).
func compareVertices(t *testing.T, what string, got, want sphgeom.ConvexPolygon) float64 {
	t.Helper()
	gv, wv := got.Vertices(), want.Vertices()
	if len(gv) != len(wv) {
		t.Errorf("%s: %d vertices, upstream %d", what, len(gv), len(wv))
		return math.Inf(1)
	}
	worst := 0.0
	for i := range wv {
		d := angleBetween(gv[i], wv[i])
		if d > arcsec {
			t.Errorf("%s: vertex %d is %.3g arcsec from upstream's", what, i, d/arcsec)
		}
		worst = max(worst, d)
	}
	return worst
}
