package sphgeom

import (
	"fmt"
	"math"
	"testing"
)

// trixel parses names like "N32" (root N3, child 2) into HTM indexes.
func trixel(t *testing.T, name string) uint64 {
	t.Helper()
	var i uint64
	switch name[0] {
	case 'S':
		i = 8
	case 'N':
		i = 12
	default:
		t.Fatalf("bad trixel name %q", name)
	}
	i += uint64(name[1] - '0')
	for _, c := range name[2:] {
		i = 4*i + uint64(c-'0')
	}
	return i
}

func mustUnit(t testing.TB, x, y, z float64) UnitVector3d {
	t.Helper()
	v, err := NewUnitVector3d(x, y, z)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustHtm(t testing.TB, level int) Htm {
	t.Helper()
	h, err := NewHtm(level)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHtmLevel(t *testing.T) {
	level := 0
	for i := uint64(8); i != 0; i *= 4 {
		if got := HtmLevel(i); got != level {
			t.Errorf("HtmLevel(%d) = %d, want %d", i, got, level)
		}
		level++
	}
	for i := uint64(4); i != 0; i <<= 2 {
		if got := HtmLevel(i); got >= 0 {
			t.Errorf("HtmLevel(%d) = %d, want < 0", i, got)
		}
	}
	for i := range uint64(8) {
		if got := HtmLevel(i); got >= 0 {
			t.Errorf("HtmLevel(%d) = %d, want < 0", i, got)
		}
		if _, err := (Htm{}).Triangle(i); err == nil {
			t.Errorf("Triangle(%d) succeeded, want error", i)
		}
	}
	if _, err := NewHtm(-1); err == nil {
		t.Error("NewHtm(-1) succeeded")
	}
	if _, err := NewHtm(HtmMaxLevel + 1); err == nil {
		t.Error("NewHtm(25) succeeded")
	}
}

func TestHtmString(t *testing.T) {
	names := []string{"S0", "S1", "S2", "S3", "N0", "N1", "N2", "N3"}
	for i := uint64(8); i < 16; i++ {
		for j := range uint64(4) {
			want := names[i-8] + fmt.Sprint(j)
			if got, err := HtmString(4*i + j); err != nil || got != want {
				t.Errorf("HtmString(%d) = %q, %v, want %q", 4*i+j, got, err, want)
			}
		}
		if got, _ := HtmString(i); got != names[i-8] {
			t.Errorf("HtmString(%d) = %q, want %q", i, got, names[i-8])
		}
	}
}

// TestHtmIndex uses the points and expected trixels of sphgeom's
// tests/testHtmPixelization.cc.
func TestHtmIndex(t *testing.T) {
	const c = 0.2928932188134525 // 1/(2 + √2)
	tests := []struct {
		x, y, z float64
		want    string
	}{
		{1, 0, 0, "N32"}, {0, 1, 0, "N22"}, {0, 0, 1, "N31"},
		{-1, 0, 0, "N12"}, {0, -1, 0, "N02"}, {0, 0, -1, "S01"},
		{1, 1, 0, "N30"}, {-1, 1, 0, "N20"}, {-1, -1, 0, "N10"}, {1, -1, 0, "N00"},
		{1, 0, 1, "N31"}, {0, 1, 1, "N21"}, {-1, 0, 1, "N11"}, {0, -1, 1, "N01"},
		{1, 0, -1, "S00"}, {0, 1, -1, "S10"}, {-1, 0, -1, "S20"}, {0, -1, -1, "S30"},
		{1, 1, 1, "N33"}, {-1, 1, 1, "N23"}, {-1, -1, 1, "N13"}, {1, -1, 1, "N03"},
		{1, 1, -1, "S03"}, {-1, 1, -1, "S13"}, {-1, -1, -1, "S23"}, {1, -1, -1, "S33"},
		// Centers of level-2 trixels (index*4 + 3 at level 2).
		{c, c, 1, "N31"}, {1, c, c, "N32"}, {c, 1, c, "N30"},
		{-c, c, 1, "N21"}, {-c, 1, c, "N22"}, {-1, c, c, "N20"},
		{-c, -c, 1, "N11"}, {-1, -c, c, "N12"}, {-c, -1, c, "N10"},
		{c, -c, 1, "N01"}, {c, -1, c, "N02"}, {1, -c, c, "N00"},
		{c, c, -1, "S01"}, {1, c, -c, "S00"}, {c, 1, -c, "S02"},
		{-c, c, -1, "S11"}, {-c, 1, -c, "S10"}, {-1, c, -c, "S12"},
		{-c, -c, -1, "S21"}, {-1, -c, -c, "S20"}, {-c, -1, -c, "S22"},
		{c, -c, -1, "S31"}, {c, -1, -c, "S30"}, {1, -c, -c, "S32"},
	}
	h0, h1, h2 := mustHtm(t, 0), mustHtm(t, 1), mustHtm(t, 2)
	for n, tt := range tests {
		v := mustUnit(t, tt.x, tt.y, tt.z)
		want := trixel(t, tt.want)
		if got := h0.Index(v); got != want>>2 {
			t.Errorf("level 0: Index(%v) = %d, want %d", v, got, want>>2)
		}
		if got := h1.Index(v); got != want {
			t.Errorf("level 1: Index(%v) = %d, want %d (%s)", v, got, want, tt.want)
		}
		tri, err := h1.Triangle(want)
		if err != nil {
			t.Fatal(err)
		}
		if !tri.Contains(v) {
			t.Errorf("Triangle(%s) does not contain %v", tt.want, v)
		}
		if n >= 26 {
			want = want*4 + 3
			if got := h2.Index(v); got != want {
				t.Errorf("level 2: Index(%v) = %d, want %d", v, got, want)
			}
			env := h2.Envelope(newCircleChord(v, 1e-8), 0)
			if !env.Equal(NewRangeSet(Range{want, want + 1})) {
				t.Errorf("level 2: envelope of a small circle at %v = %v, want {%d}", v, env, want)
			}
		}
	}
	// Consistency with other HTM libraries, from the same upstream test.
	p, _ := NewLonLatDeg(1, 1)
	if got := mustHtm(t, 20).Index(p.UnitVector()); got != 17043491373057 {
		t.Errorf("level 20: Index(1°, 1°) = %d, want 17043491373057", got)
	}
	if got := mustHtm(t, 1).Index(mustUnit(t, 1, 1, 1)); got != 63 {
		t.Errorf("level 1: Index(1, 1, 1) = %d, want 63", got)
	}
}

// TestHtmEnvelopeAxes: tiny circles on the axes touch four level-13 trixels,
// per sphgeom's tests/testHtmPixelization.cc.
func TestHtmEnvelopeAxes(t *testing.T) {
	h := mustHtm(t, 13)
	tests := []struct {
		name string
		v    UnitVector3d
		want []uint64
	}{
		{"-Z", unitZ().Neg(), []uint64{553648128, 620756992, 687865856, 754974720}},
		{"+Z", unitZ(), []uint64{822083584, 889192448, 956301312, 1023410176}},
		{"+X", unitX(), []uint64{536870912, 771751936, 805306368, 1040187392}},
		{"+Y", unitY(), []uint64{570425344, 603979776, 973078528, 1006632960}},
		{"-X", unitX().Neg(), []uint64{637534208, 671088640, 905969664, 939524096}},
		{"-Y", unitY().Neg(), []uint64{704643072, 738197504, 838860800, 872415232}},
	}
	for _, tt := range tests {
		var want RangeSet
		for _, i := range tt.want {
			want.Insert(i, i+1)
		}
		if got := h.Envelope(newCircleChord(tt.v, 1e-16), 0); !got.Equal(want) {
			t.Errorf("%s: envelope = %v, want %v", tt.name, got, want)
		}
	}
}

// TestHtmEnvelopeInterior follows sphgeom's tests/test_HtmPixelization.py.
func TestHtmEnvelopeInterior(t *testing.T) {
	h := mustHtm(t, 3)
	c := NewCircle(mustUnit(t, 1, 1, 1), AngleFromDegrees(0.1))
	rs1 := h.Envelope(c, 0)
	if want := NewRangeSet(Range{0x3FF, 0x400}); !rs1.Equal(want) {
		t.Errorf("envelope = %v, want %v", rs1, want)
	}
	if rs := h.Envelope(c, 1); !rs.Equal(rs1) || !h.Universe().ContainsSet(rs) {
		t.Errorf("envelope(maxRanges=1) = %v, want %v", rs, rs1)
	}
	if rs := h.Interior(c, 0); !rs.IsEmpty() {
		t.Errorf("interior = %v, want empty", rs)
	}
	s3 := mustUnit(t, 1, -1, 1) // center of N0
	c2 := newCircleChord(s3, 1e-8)
	rs2 := h.Envelope(c2, 0)
	if want := NewRangeSet(Range{831, 832}); !rs2.Equal(want) {
		t.Errorf("envelope = %v, want %v", rs2, want)
	}
	union := NewUnionRegion(c, c2)
	if got := h.Envelope(union, 0); !got.Equal(rs1.Union(rs2)) {
		t.Errorf("envelope of union = %v, want %v", got, rs1.Union(rs2))
	}
	c4 := newCircleChord(mustUnit(t, 1, 1, 2), 1)
	c5 := newCircleChord(mustUnit(t, 1, 1, 2.5), 0.5)
	inter := NewIntersectionRegion(c4, c5)
	want := h.Envelope(c4, 0).Intersection(h.Envelope(c5, 0))
	if got := h.Envelope(inter, 0); !got.Equal(want) || got.IsEmpty() {
		t.Errorf("envelope of intersection = %v, want %v", got, want)
	}
	if got := h.Envelope(NewUnionRegion(), 0); !got.IsEmpty() {
		t.Errorf("envelope of empty union = %v, want empty", got)
	}
	if got := h.Envelope(NewIntersectionRegion(), 0); !got.Equal(h.Universe()) {
		t.Errorf("envelope of empty intersection = %v, want universe", got)
	}
}

// TestHtmAdaptivity: capping the number of ranges only ever adds trixels
// (sphgeom's Adaptivity test).
func TestHtmAdaptivity(t *testing.T) {
	center := mustUnit(t, 1, 1, 1)
	for level := 0; level <= 13; level++ {
		h := mustHtm(t, level)
		circles := []Circle{
			NewCircle(center, AngleFromDegrees(0.001)),
			NewCircle(center, AngleFromDegrees(0.1)),
			NewCircle(center, AngleFromDegrees(1)),
		}
		prev := make([]RangeSet, len(circles))
		for i, c := range circles {
			prev[i] = h.Envelope(c, 0)
		}
		for maxRanges := 64; maxRanges != 0; maxRanges /= 2 {
			for i, c := range circles {
				s := h.Envelope(c, maxRanges)
				if !s.ContainsSet(prev[i]) {
					t.Fatalf("level %d: envelope(maxRanges=%d) %v does not contain %v", level, maxRanges, s, prev[i])
				}
				if s.Len() > maxRanges {
					t.Errorf("level %d: envelope(maxRanges=%d) has %d ranges", level, maxRanges, s.Len())
				}
				prev[i] = s
			}
			if !prev[2].ContainsSet(prev[1]) || !prev[1].ContainsSet(prev[0]) {
				t.Errorf("level %d, maxRanges %d: envelopes of nested circles are not nested", level, maxRanges)
			}
		}
	}
}

// TestHtmTriangle: every trixel contains its centroid, which it indexes to;
// its envelope includes it and its interior is exactly it.
func TestHtmTriangle(t *testing.T) {
	for _, level := range []int{0, 1, 2, 3, 7} {
		h := mustHtm(t, level)
		u := h.Universe().Ranges()[0]
		step := uint64(1)
		if level == 7 {
			step = 997 // a spread-out sample
		}
		for i := u.Begin; i < u.End; i += step {
			tri, err := h.Triangle(i)
			if err != nil {
				t.Fatal(err)
			}
			c := tri.Centroid()
			if !tri.Contains(c) {
				t.Errorf("Triangle(%d) does not contain its centroid", i)
			}
			if got := h.Index(c); got != i {
				t.Errorf("level %d: Index(centroid of %d) = %d", level, i, got)
			}
			if !h.Envelope(tri, 0).Contains(i) {
				t.Errorf("level %d: envelope of trixel %d misses it", level, i)
			}
			if got := h.Interior(tri, 0); !got.Equal(NewRangeSet(Range{i, i + 1})) {
				t.Errorf("level %d: interior of trixel %d = %v", level, i, got)
			}
		}
	}
}

// detectorPolygon returns a square-ish polygon of side sideDeg centered on
// (ra, dec), rotated by rotDeg: the shape of a detector footprint.
func detectorPolygon(t testing.TB, ra, dec, sideDeg, rotDeg float64) ConvexPolygon {
	t.Helper()
	center, err := NewLonLatDeg(ra, dec)
	if err != nil {
		t.Fatal(err)
	}
	c := center.UnitVector()
	// Start from a corner north-east of the center and rotate around it.
	north := unitVector(Vector3d{-c.v.X * c.v.Z, -c.v.Y * c.v.Z, c.v.X*c.v.X + c.v.Y*c.v.Y})
	if math.Abs(dec) > 89.999 {
		north = orthogonalTo(c.v)
	}
	half := float64(AngleFromDegrees(sideDeg/2)) * math.Sqrt2
	corner := c.rotatedAround(unitVector(north.v.Cross(c.v)), -half)
	pts := make([]UnitVector3d, 4)
	for k := range pts {
		pts[k] = corner.rotatedAround(c, float64(AngleFromDegrees(rotDeg+45+90*float64(k))))
	}
	p, err := NewConvexPolygon(pts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHtmEnvelopeBruteForce: at level 7, the envelope of a polygon is exactly
// the set of trixels not disjoint from it, and contains the trixels of its
// vertices and centroid.
func TestHtmEnvelopeBruteForce(t *testing.T) {
	h := mustHtm(t, 7)
	polys := []ConvexPolygon{
		detectorPolygon(t, 10.2, -30.5, 0.2, 17),
		detectorPolygon(t, 359.95, 0.05, 0.3, 0), // straddles ra = 0 and the equator
		detectorPolygon(t, 45, 89.95, 0.2, 30),   // near the pole
	}
	u := h.Universe().Ranges()[0]
	for _, p := range polys {
		env := h.Envelope(p, 0)
		var want RangeSet
		for i := u.Begin; i < u.End; i++ {
			tri, _ := h.Triangle(i)
			if polyRelatePoly(tri.vertices, p.vertices)&Disjoint == 0 {
				want.Insert(i, i+1)
			}
		}
		if !env.Equal(want) {
			t.Errorf("envelope of %v = %v, brute force %v", p, env, want)
		}
		for _, v := range append(p.Vertices(), p.Centroid()) {
			if !env.Contains(h.Index(v)) {
				t.Errorf("envelope of %v misses the trixel %d of %v", p, h.Index(v), v)
			}
		}
		interior := h.Interior(p, 0)
		if !env.ContainsSet(interior) {
			t.Errorf("interior %v not inside envelope %v", interior, env)
		}
	}
}

func TestRangeSet(t *testing.T) {
	var s RangeSet
	for _, r := range []Range{{10, 12}, {20, 25}, {12, 13}, {5, 6}, {24, 30}, {7, 7}, {0, 1}} {
		s.Insert(r.Begin, r.End)
	}
	want := []Range{{0, 1}, {5, 6}, {10, 13}, {20, 30}}
	if got := s.Ranges(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ranges = %v, want %v", got, want)
	}
	if s.Cardinality() != 1+1+3+10 || s.Len() != 4 {
		t.Errorf("cardinality %d, len %d", s.Cardinality(), s.Len())
	}
	var all []uint64
	for i := range s.All() {
		all = append(all, i)
	}
	if fmt.Sprint(all) != "[0 5 10 11 12 20 21 22 23 24 25 26 27 28 29]" {
		t.Errorf("All() = %v", all)
	}
	for i, want := range map[uint64]bool{0: true, 1: false, 5: true, 9: false, 12: true, 13: false, 29: true, 30: false} {
		if s.Contains(i) != want {
			t.Errorf("Contains(%d) = %v", i, !want)
		}
	}
	o := NewRangeSet(Range{3, 11}, Range{25, 40})
	if got := s.Intersection(o).String(); got != "{[5, 6), [10, 11), [25, 30)}" {
		t.Errorf("intersection = %s", got)
	}
	if got := s.Difference(o).String(); got != "{[0, 1), [11, 13), [20, 25)}" {
		t.Errorf("difference = %s", got)
	}
	if got := s.Union(o).String(); got != "{[0, 1), [3, 13), [20, 40)}" {
		t.Errorf("union = %s", got)
	}
	if got := s.simplified(2).String(); got != "{[0, 16), [20, 32)}" {
		t.Errorf("simplified(2) = %s", got)
	}
	if got := s.shrunk(2).String(); got != "{[20, 28)}" {
		t.Errorf("shrunk(2) = %s", got)
	}
}

// TestHtmEnvelopeContainsPoints: for every kind of region, the envelope holds
// the trixel of every point inside the region, and the interior only trixels
// whose points are all inside (checked on the same points).
func TestHtmEnvelopeContainsPoints(t *testing.T) {
	regions := map[string]Region{
		"circle":  NewCircle(fromLonLat(2, -0.3), 0.05),
		"box":     mustBoxDeg(t, 358, -3, 2, 1), // wraps through ra 0
		"polar":   mustBoxDeg(t, 0, 86, 360, 90),
		"polygon": detectorPolygon(t, 75, 45, 3, 33),
		"ellipse": newEllipseCircle(fromLonLat(4, 0.7), 0.04),
		"union":   NewUnionRegion(NewCircle(fromLonLat(1, 0.1), 0.02), detectorPolygon(t, 58, 6, 1, 0)),
	}
	for _, level := range []int{5, 7} {
		h := mustHtm(t, level)
		for name, r := range regions {
			env := h.Envelope(r, 0)
			interior := h.Interior(r, 0)
			if !env.ContainsSet(interior) {
				t.Errorf("level %d %s: interior not inside envelope", level, name)
			}
			bc := r.BoundingCircle()
			center := bc.Center()
			radius := float64(bc.OpeningAngle())
			inside := 0
			axis := orthogonalTo(center.v)
			for i := range 60 {
				for j := range 60 {
					p := center.rotatedAround(axis, radius*float64(i)/59).rotatedAround(center, 2*pi*float64(j)/60)
					idx := h.Index(p)
					if r.Contains(p) {
						inside++
						if !env.Contains(idx) {
							t.Errorf("level %d %s: envelope misses trixel %d of inside point %v", level, name, idx, p)
						}
					} else if interior.Contains(idx) {
						t.Errorf("level %d %s: interior trixel %d holds outside point %v", level, name, idx, p)
					}
				}
			}
			if inside < 100 {
				t.Errorf("level %d %s: only %d sample points inside", level, name, inside)
			}
		}
	}
}
