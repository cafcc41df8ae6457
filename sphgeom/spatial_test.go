package sphgeom

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The tests in this file replay spatial queries from daf_butler's own test
// suite on the regions of its export files, following the query path the
// butler takes: a coarse match on the htm7 envelopes (the
// <element>_skypix_overlap rows), then dropping rows whose regions do not
// overlap (Postprocessing drops a row only when sphgeom's overlaps() is False).

// butlerOverlaps is that two-step test.
func butlerOverlaps(h Htm, a, b Region) bool {
	ea, eb := h.Envelope(a, 0), h.Envelope(b, 0)
	if ea.Intersection(eb).IsEmpty() {
		return false
	}
	return a.Overlaps(b)
}

type keyedRegion struct {
	key    string
	region ConvexPolygon
}

// spatialRegions returns the regions of one element in spatial.yaml, keyed by
// data ID.
func spatialRegions(t *testing.T, element string, keys ...string) []keyedRegion {
	t.Helper()
	var out []keyedRegion
	for _, rec := range readExport(t, "spatial.yaml") {
		if rec.element != element || rec.region == nil {
			continue
		}
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprint(rec.int(t, k)))
		}
		out = append(out, keyedRegion{strings.Join(parts, ","), rec.polygon(t)})
	}
	if len(out) == 0 {
		t.Fatalf("no %s regions in spatial.yaml", element)
	}
	return out
}

// TestSpatial_PointQueries replays the POINT() queries of daf_butler's
// tests/butler_queries.py on spatial.yaml: a point at the center of visit 1,
// detector 3 matches only that detector, and a point just below the equator
// matches only tract 1, patch 4.
func TestSpatial_PointQueries(t *testing.T) {
	h := mustHtm(t, 7)
	vdr := spatialRegions(t, "visit_detector_region", "visit", "detector")
	patches := spatialRegions(t, "patch", "tract", "id")
	const ra, dec = 0.25209391431545386, 0.9269112711026793
	tests := []struct {
		name    string
		ra, dec float64
		regions []keyedRegion
		want    []string
	}{
		{"center of visit 1 detector 3", ra, dec, vdr, []string{"1,3"}},
		{"dec 1", ra, 1, vdr, []string{"1,3"}},
		{"negative ra", ra - 360, dec, vdr, []string{"1,3"}},
		{"just below the equator", 0.335, -0.000000001, patches, []string{"1,4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Point(tt.ra, tt.dec)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range tt.regions {
				if butlerOverlaps(h, r.region, p) {
					got = append(got, r.key)
				}
				// Overlaps may also be true for a point within rounding of the
				// boundary (circle tests allow for chord length error; here
				// the point 1e-9° below the equator), never false for one inside.
				if r.region.Contains(p.Center()) && !r.region.Overlaps(p) {
					t.Errorf("%s: contains the point but does not overlap it", r.key)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := Point(0.335, -91); err == nil || !strings.Contains(err.Error(), "invalid latitude angle") {
		t.Errorf("Point(0.335, -91) error = %v, want invalid latitude angle", err)
	}
}

// TestSpatial_JoinMatchesOracle checks every visit/visit_detector_region ×
// tract/patch pair of spatial.yaml (the pairs upstream's testSpatialJoin and
// test_spatial_constraint_queries compare) against an independent test:
// separating lines after a gnomonic projection, which maps great circles to
// straight lines and so convex spherical polygons to convex plane polygons.
func TestSpatial_JoinMatchesOracle(t *testing.T) {
	h := mustHtm(t, 7)
	observations := append(spatialRegions(t, "visit", "id"), spatialRegions(t, "visit_detector_region", "visit", "detector")...)
	skymap := append(spatialRegions(t, "tract", "id"), spatialRegions(t, "patch", "tract", "id")...)
	overlapping, total := 0, 0
	for _, o := range observations {
		for _, s := range skymap {
			total++
			got := o.region.Overlaps(s.region)
			if got != s.region.Overlaps(o.region) {
				t.Errorf("%s × %s: Overlaps is not symmetric", o.key, s.key)
			}
			want, sure := planeOverlap(o.region, s.region)
			if sure && got != want {
				t.Errorf("%s × %s: Overlaps = %v, oracle says %v", o.key, s.key, got, want)
			}
			if !sure {
				t.Logf("%s × %s: oracle undecided (regions touch); Overlaps = %v", o.key, s.key, got)
			}
			if got {
				overlapping++
				// The coarse htm7 match must never lose a real overlap.
				if !butlerOverlaps(h, o.region, s.region) {
					t.Errorf("%s × %s: overlapping regions share no htm7 trixel", o.key, s.key)
				}
			}
		}
	}
	// Upstream asserts the sets are not trivial; so do we.
	if overlapping <= 2 || overlapping >= total {
		t.Errorf("%d of %d pairs overlap; the test data should make this non-trivial", overlapping, total)
	}
	t.Logf("%d of %d pairs overlap", overlapping, total)
}

// planeOverlap decides whether two small convex polygons overlap by the
// separating axis theorem in a gnomonic projection. sure is false when the
// separation is within rounding of zero.
func planeOverlap(a, b ConvexPolygon) (overlap, sure bool) {
	var c Vector3d
	for _, v := range append(slices.Clone(a.vertices), b.vertices...) {
		c = c.Add(v.v)
	}
	cu := unitVector(c)
	e1 := orthogonalTo(cu.v)
	e2 := unitVector(cu.v.Cross(e1.v))
	project := func(vs []UnitVector3d) [][2]float64 {
		out := make([][2]float64, len(vs))
		for i, v := range vs {
			d := v.Dot(cu.v)
			out[i] = [2]float64{v.Dot(e1.v) / d, v.Dot(e2.v) / d}
		}
		return out
	}
	pa, pb := project(a.vertices), project(b.vertices)
	const tol = 1e-12
	sure = true
	for _, poly := range [][][2]float64{pa, pb} {
		for i := range poly {
			p, q := poly[i], poly[(i+1)%len(poly)]
			n := [2]float64{q[1] - p[1], p[0] - q[0]} // an edge normal
			span := func(pts [][2]float64) (lo, hi float64) {
				lo, hi = math.Inf(1), math.Inf(-1)
				for _, x := range pts {
					d := n[0]*x[0] + n[1]*x[1]
					lo, hi = min(lo, d), max(hi, d)
				}
				return lo, hi
			}
			alo, ahi := span(pa)
			blo, bhi := span(pb)
			gap := max(blo-ahi, alo-bhi) / math.Hypot(n[0], n[1])
			if gap > tol {
				return false, true
			}
			if gap > -tol {
				sure = false
			}
		}
	}
	return true, sure
}

// TestSpatial_CIHSCRegionQueries replays the region queries of daf_butler's
// tests/butler_queries.py (test_region_queries) on the calexps of
// ci_hsc-subset.yaml: how many calexps' visit_detector_region overlaps each
// region, written as a bound POS string or as a where-expression function.
func TestSpatial_CIHSCRegionQueries(t *testing.T) {
	h := mustHtm(t, 7)
	recs := readExport(t, "ci_hsc-subset.yaml")
	type dataID struct{ detector, visit int64 }
	vdr := map[dataID]ConvexPolygon{}
	visits := map[int64]ConvexPolygon{}
	var calexps []dataID
	for _, r := range recs {
		switch {
		case r.element == "visit_detector_region":
			vdr[dataID{r.int(t, "detector"), r.int(t, "visit")}] = r.polygon(t)
		case r.element == "visit" && r.region != nil:
			visits[r.int(t, "id")] = r.polygon(t)
		case r.datasetType == "calexp":
			calexps = append(calexps, dataID{r.int(t, "detector"), r.int(t, "visit")})
		}
	}
	if len(calexps) != 33 {
		t.Fatalf("found %d calexps, want 33", len(calexps))
	}
	// Data IDs sort by their required values (instrument, detector, visit).
	slices.SortFunc(calexps, func(a, b dataID) int {
		if a.detector != b.detector {
			return int(a.detector - b.detector)
		}
		return int(a.visit - b.visit)
	})
	first := calexps[0]
	count := func(r Region) int {
		n := 0
		for _, id := range calexps {
			p, ok := vdr[id]
			if !ok {
				t.Fatalf("no visit_detector_region for %v", id)
			}
			if butlerOverlaps(h, p, r) {
				n++
			}
		}
		return n
	}
	pos := func(s string) func() (Region, error) { return func() (Region, error) { return ParsePOS(s) } }
	circle := func(ra, dec, r float64) func() (Region, error) {
		// The where-expression CIRCLE() doubles the radius (see NewCircleDeg).
		return func() (Region, error) { return NewCircleDeg(ra, dec, 2*r) }
	}
	box := func(ra, dec, w, hgt float64) func() (Region, error) {
		return func() (Region, error) { return NewBoxDeg(ra, dec, w, hgt) }
	}
	polygon := func(c ...float64) func() (Region, error) {
		return func() (Region, error) { return NewPolygonDeg(c...) }
	}
	tests := []struct {
		name   string
		region func() (Region, error)
		want   int
	}{
		{"CIRCLE 320. -0.25 10.", pos("CIRCLE 320. -0.25 10."), 33},
		{"CIRCLE 321.0 -0.4 0.01", pos("CIRCLE 321.0 -0.4 0.01"), 1},
		{"CIRCLE 321.1 -0.35 0.02", pos("CIRCLE 321.1 -0.35 0.02"), 2},
		{"CIRCLE 321.1 -0.48 0.05", pos("CIRCLE 321.1 -0.48 0.05"), 1},
		{"CIRCLE 321.0 -0.5 0.01", pos("CIRCLE 321.0 -0.5 0.01"), 0},
		{"first visit region", pos(toIvoaPos(visits[first.visit])), 33},
		{"first detector region", pos(toIvoaPos(vdr[first])), 17},
		{"CIRCLE(320., -0.25, 10.)", circle(320, -0.25, 10), 33},
		{"CIRCLE(321.0, -0.4, 0.01)", circle(321.0, -0.4, 0.01), 1},
		{"CIRCLE(321.0, -0.5, 0.01)", circle(321.0, -0.5, 0.01), 0},
		{"BOX(320, -0.25, 5, 5)", box(320, -0.25, 5, 5), 33},
		{"BOX(321.0, -0.4, 0.01, 0.01)", box(321.0, -0.4, 0.01, 0.01), 1},
		{"BOX(321.0, -0.5, 0.01, 0.01)", box(321.0, -0.5, 0.01, 0.01), 0},
		{"POLYGON(320, -10, ...)", polygon(320, -10, 320, 10, 340, 10, 340, -10), 33},
		{"POLYGON(320.99, -0.401, ...)", polygon(320.99, -0.401, 320.99, -0.399, 321.01, -0.399, 321.01, -0.401), 1},
		{"POLYGON(320.99, -0.501, ...)", polygon(320.99, -0.501, 320.99, -0.499, 321.01, -0.499, 321.01, -0.501), 0},
		{"REGION('CIRCLE 320. -0.25 10.')", pos("CIRCLE 320. -0.25 10."), 33},
		{"REGION('RANGE 310 330 -10 10')", pos("RANGE 310 330 -10 10"), 33},
		{"REGION('RANGE 320.99 321.01 -0.401 -0.399')", pos("RANGE 320.99 321.01 -0.401 -0.399"), 1},
		{"REGION('POLYGON 320.99 -0.501 ...')", pos("POLYGON 320.99 -0.501 320.99 -0.499 321.01 -0.499 321.01 -0.501"), 0},
	}
	for _, tt := range tests {
		r, err := tt.region()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := count(r); got != tt.want {
			t.Errorf("%s: %d calexps overlap, want %d", tt.name, got, tt.want)
		}
	}
}

// toIvoaPos writes a polygon as sphgeom's ConvexPolygon.to_ivoa_pos does,
// with Python's shortest float formatting.
func toIvoaPos(p ConvexPolygon) string {
	var b strings.Builder
	b.WriteString("POLYGON")
	for _, v := range p.vertices {
		ll := LonLatOf(v)
		b.WriteString(" " + strconv.FormatFloat(ll.Lon.Degrees(), 'g', -1, 64))
		b.WriteString(" " + strconv.FormatFloat(ll.Lat.Degrees(), 'g', -1, 64))
	}
	return b.String()
}
