package sphgeom

import (
	"math"
	"testing"
)

func mustBoxDeg(t testing.TB, lon1, lat1, lon2, lat2 float64) Box {
	t.Helper()
	b, err := BoxFromDegrees(lon1, lat1, lon2, lat2)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustBoxRad(t testing.TB, lon1, lat1, lon2, lat2 float64) Box {
	t.Helper()
	b, err := BoxFromRadians(lon1, lat1, lon2, lat2)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustHull(t testing.TB, points ...UnitVector3d) ConvexPolygon {
	t.Helper()
	p, err := NewConvexPolygon(points)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLonLatDeg(t testing.TB, lon, lat float64) LonLat {
	t.Helper()
	p, err := NewLonLatDeg(lon, lat)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ngon is sphgeom's makeNgon test helper: n points made by rotating v0 around center.
func ngon(t testing.TB, center, v0 UnitVector3d, n int) ConvexPolygon {
	t.Helper()
	pts := make([]UnitVector3d, n)
	for i := range pts {
		pts[i] = v0.rotatedAround(center, 2*pi*float64(i)/float64(n))
	}
	return mustHull(t, pts...)
}

type relationCase struct {
	name     string
	a, b     Region
	want     Relationship
	overlaps TriState
}

// checkRelations checks a.Relate(b) and a.OverlapState(b), and that the
// reverse order gives the inverted relationship and the same overlap answer.
func checkRelations(t *testing.T, tests []relationCase) {
	t.Helper()
	for _, tt := range tests {
		if got := tt.a.Relate(tt.b); got != tt.want {
			t.Errorf("%s: Relate = %v, want %v", tt.name, got, tt.want)
		}
		if got := tt.b.Relate(tt.a); got != tt.want.Invert() {
			t.Errorf("%s: reverse Relate = %v, want %v", tt.name, got, tt.want.Invert())
		}
		if got := tt.a.OverlapState(tt.b); got != tt.overlaps {
			t.Errorf("%s: OverlapState = %v, want %v", tt.name, got, tt.overlaps)
		}
		if got := tt.b.OverlapState(tt.a); got != tt.overlaps {
			t.Errorf("%s: reverse OverlapState = %v, want %v", tt.name, got, tt.overlaps)
		}
		if got := tt.a.Overlaps(tt.b); got != (tt.overlaps != TriFalse) {
			t.Errorf("%s: Overlaps = %v", tt.name, got)
		}
	}
}

// TestRelate_PolygonCircle follows sphgeom's tests/testConvexPolygon.cc.
func TestRelate_PolygonCircle(t *testing.T) {
	x, y, z := unitX(), unitY(), unitZ()
	tri := mustHull(t, x, y, z)
	bc := tri.BoundingCircle()
	checkRelations(t, []relationCase{
		{"bounding circle", tri, bc, Within, TriTrue},
		{"full circle", tri, FullCircle(), Within, TriTrue},
		{"empty circle", tri, EmptyCircle(), Contains | Disjoint, TriFalse},
		{"circle inside", tri, newCircleChord(mustUnit(t, 1, 1, 1), 0.25), Contains, TriTrue},
		{"circle at X", tri, newCircleChord(x, 1), Intersects, TriTrue},
		{"circle at Y", tri, newCircleChord(y, 1), Intersects, TriTrue},
		{"circle at Z", tri, newCircleChord(z, 1), Intersects, TriTrue},
		{"circle at -X", tri, newCircleChord(x.Neg(), 1), Disjoint, TriFalse},
		{"circle at -Y", tri, newCircleChord(y.Neg(), 1), Disjoint, TriFalse},
		{"circle at -Z", tri, newCircleChord(z.Neg(), 1), Disjoint, TriFalse},
		{"tiny circle at centroid", tri, NewCircle(bc.Center(), 0), Contains, TriTrue},
	})
}

// TestRelate_PolygonPolygon follows sphgeom's tests/testConvexPolygon.cc,
// including the degenerate cases where polygons share only an edge or part of
// one, and adds near misses.
func TestRelate_PolygonPolygon(t *testing.T) {
	x, y, z := unitX(), unitY(), unitZ()
	tri := mustHull(t, x, y, z)
	inner := mustHull(t, x, y, mustUnit(t, 1, 1, 1))
	ng := ngon(t, x, mustUnit(t, 1, 1, 1), 3)
	p3 := mustHull(t, mustUnit(t, 2, -1, 1), mustUnit(t, -1, 2, 1), mustUnit(t, 2, 2, -1))
	edge1 := mustHull(t, mustUnit(t, 1, 2, 0), mustUnit(t, 2, 1, 0), z.Neg())
	edge2 := mustHull(t, mustUnit(t, 2, -1, 0), mustUnit(t, -1, 2, 0), z.Neg())
	edge3 := mustHull(t, mustUnit(t, 1, 1, 0), mustUnit(t, -1, 2, 0), z.Neg())
	far1 := mustHull(t, mustUnit(t, 1, 0, -1), mustUnit(t, 1, 0, 1), mustUnit(t, 1, 1, 0))
	far2 := mustHull(t, mustUnit(t, -1, 1, 0), mustUnit(t, -1, -1, 0), mustUnit(t, -1, 0, 1))
	// Two detector-sized squares: overlapping corners, and a hair apart.
	a := detectorPolygon(t, 150, 2, 0.2, 0)
	b := detectorPolygon(t, 150.19, 2.19, 0.2, 0)
	// Side by side along RA (on-sky offset = ΔRA·cos dec): 0.001° apart, and
	// 0.001° overlapping.
	c := detectorPolygon(t, 150+0.201/math.Cos(2*radPerDeg), 2, 0.2, 0)
	d := detectorPolygon(t, 150+0.199/math.Cos(2*radPerDeg), 2, 0.2, 0)
	// A cross: neither contains a vertex of the other, but edges cross.
	long := mustHull(t, fromLonLat(-0.2, -0.01), fromLonLat(0.2, -0.01), fromLonLat(0.2, 0.01), fromLonLat(-0.2, 0.01))
	tall := mustHull(t, fromLonLat(-0.01, -0.2), fromLonLat(0.01, -0.2), fromLonLat(0.01, 0.2), fromLonLat(-0.01, 0.2))
	checkRelations(t, []relationCase{
		{"self", inner, inner, Contains | Within, TriTrue},
		{"contains", tri, inner, Contains, TriTrue},
		{"ngon", tri, ng, Intersects, TriTrue},
		{"p3", tri, p3, Intersects, TriTrue},
		{"ngon-p3", ng, p3, Intersects, TriTrue},
		{"shared edge segment 1", edge1, tri, Intersects, TriTrue},
		{"shared edge segment 2", edge2, tri, Intersects, TriTrue},
		{"shared edge segment 3", edge3, tri, Intersects, TriTrue},
		{"disjoint", far1, far2, Disjoint, TriFalse},
		{"overlapping corners", a, b, Intersects, TriTrue},
		{"hair apart", a, c, Disjoint, TriFalse},
		{"hair overlap", a, d, Intersects, TriTrue},
		{"cross", long, tall, Intersects, TriTrue},
	})
}

// TestRelate_BoxCircle follows sphgeom's tests/testBox.cc.
func TestRelate_BoxCircle(t *testing.T) {
	x := unitX()
	checkRelations(t, []relationCase{
		{"empty-empty", EmptyBox(), EmptyCircle(), Contains | Disjoint | Within, TriFalse},
		{"empty-full", EmptyBox(), FullCircle(), Disjoint | Within, TriFalse},
		{"full-empty", FullBox(), EmptyCircle(), Contains | Disjoint, TriFalse},
		{"full-full", FullBox(), FullCircle(), Contains | Within, TriTrue},
		{"full box", FullBox(), NewCircle(x, 1), Contains, TriTrue},
		{"point box", mustBoxDeg(t, 0, 0, 0, 0), FullCircle(), Within, TriTrue},
		{"disjoint 1", mustBoxDeg(t, -10, -10, 10, 10), NewCircle(x.Neg(), 1), Disjoint, TriFalse},
		{"disjoint 2", mustBoxRad(t, -3, -1, 3, 1), NewCircle(x.Neg(), 0.1), Disjoint, TriFalse},
		{"hole", mustBoxRad(t, -1, -1, 1, 1), NewCircle(x.Neg(), Angle(pi-0.5)), Intersects, TriTrue},
		{"edge", mustBoxRad(t, -1, -1, 1, 1), NewCircle(fromLonLat(1, 0), 0.5), Intersects, TriTrue},
		{"edge 2", mustBoxRad(t, -1, -1, 1, 1), NewCircle(fromLonLat(-1.5, 0), 1), Intersects, TriTrue},
		{"corner", mustBoxRad(t, -1, -1, 1, 1), NewCircle(fromLonLat(-1, 1), 0.1), Intersects, TriTrue},
		{"chord", mustBoxRad(t, -0.5, -0.5, 0, 0), newCircleChord(mustUnit(t, 1, 1, 1), 0.8452994616207485), Intersects, TriTrue},
		{"lat edges 1", mustBoxRad(t, -1, -0.5, 1, 0.5), NewCircle(x.Neg(), Angle(pi-0.6)), Intersects, TriTrue},
		{"lat edges 2", mustBoxRad(t, -0.5, -0.5, 0.5, 0.5), NewCircle(x.Neg(), Angle(pi-0.6)), Intersects, TriTrue},
		{"lat edges 3", mustBoxRad(t, -1, -0.5, 1, 0.5), NewCircle(x, 0.6), Intersects, TriTrue},
		{"contains", mustBoxRad(t, -1, -1, 1, 1), NewCircle(x, 0.5), Contains, TriTrue},
		{"within", mustBoxRad(t, -0.5, -0.5, 0.5, 0.5), NewCircle(x, 1), Within, TriTrue},
	})
}

// TestRelate_CircleCircle follows sphgeom's tests/testCircle.cc.
func TestRelate_CircleCircle(t *testing.T) {
	x, y := unitX(), unitY()
	checkRelations(t, []relationCase{
		{"disjoint", newCircleChord(x, 1), newCircleChord(x.Neg(), 1), Disjoint, TriFalse},
		{"contains", newCircleChord(x, 2), newCircleChord(x, 1), Contains, TriTrue},
		{"intersects", newCircleChord(x, 1), newCircleChord(y, 1), Intersects, TriTrue},
		{"self", newCircleChord(x, 1), newCircleChord(x, 1), Contains | Within, TriTrue},
		{"full", FullCircle(), NewCircle(x, 0), Contains, TriTrue},
		{"empty", EmptyCircle(), EmptyCircle(), Contains | Disjoint | Within, TriFalse},
	})
}

// TestRelate_Box covers box-box relationships, with wrap-around at lon 0, and
// the conservative box-polygon relationship.
func TestRelate_Box(t *testing.T) {
	b1 := mustBoxDeg(t, 90, 0, 180, 45)
	wrap := mustBoxDeg(t, 350, -5, 10, 5) // crosses lon 0
	tiny, err := NewBoxDeg(0, 0, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	poly := detectorPolygon(t, 20, 0, 5, 45) // a diamond: its bounding box is wider than it
	corner := mustBoxDeg(t, 22.5, 2.5, 30, 10)
	checkRelations(t, []relationCase{
		{"contains", b1, mustBoxDeg(t, 135, 15, 135, 30), Contains, TriTrue},
		{"intersects", b1, mustBoxDeg(t, 0, -45, 90, 0), Intersects, TriTrue},
		{"disjoint", b1, mustBoxDeg(t, 200, 10, 300, 20), Disjoint, TriFalse},
		{"wrap contains", wrap, tiny, Contains, TriTrue},
		{"wrap disjoint", wrap, mustBoxDeg(t, 11, -5, 349, 5), Disjoint, TriFalse},
		{"wrap intersects", wrap, mustBoxDeg(t, 5, -1, 20, 1), Intersects, TriTrue},
		// The polygon is inside its bounding box: WITHIN is proven...
		{"polygon within box", poly, mustBoxDeg(t, 10, -10, 30, 10), Within, TriTrue},
		// ...but the box corner outside the diamond is only "maybe".
		{"polygon near box corner", poly, corner, Intersects, TriUnknown},
		{"polygon far from box", poly, mustBoxDeg(t, 40, 0, 50, 10), Disjoint, TriFalse},
	})
	if !wrap.Contains(fromLonLat(0, 0)) || wrap.Contains(fromLonLat(pi, 0)) {
		t.Error("wrapping box containment is wrong")
	}
	if corner.Relate(poly)&Disjoint != 0 {
		t.Error("box corner claimed disjoint from the diamond")
	}
}

// TestRelate_Compound follows sphgeom's tests/test_CompoundRegion.py.
func TestRelate_Compound(t *testing.T) {
	inCircle := mustLonLatDeg(t, 44, 45)
	inBox := mustLonLatDeg(t, 46, 45)
	inBoth := mustLonLatDeg(t, 45, 45)
	inNeither := mustLonLatDeg(t, 45, 48)
	circle := NewCircle(inCircle.UnitVector(), AngleFromDegrees(1))
	box := mustBoxDeg(t, 46-1.5, 45-1.5, 46+1.5, 45+1.5)
	faraway := NewCircle(inNeither.UnitVector(), AngleFromDegrees(0.1))
	union := NewUnionRegion(circle, box)
	inter := NewIntersectionRegion(circle, box)
	emptyUnion := NewUnionRegion()
	full := NewIntersectionRegion()
	checkRelations(t, []relationCase{
		{"circle-box", circle, box, Intersects, TriTrue},
		{"circle-faraway", circle, faraway, Disjoint, TriFalse},
		{"box-faraway", box, faraway, Disjoint, TriFalse},
		{"union-circle", union, circle, Contains, TriTrue},
		{"union-box", union, box, Contains, TriTrue},
		{"union-faraway", union, faraway, Disjoint, TriFalse},
		{"empty union-box", emptyUnion, box, Disjoint, TriFalse},
		{"empty union-union", emptyUnion, union, Disjoint, TriFalse},
		{"intersection-box", inter, box, Within, TriUnknown},
		{"intersection-circle", inter, circle, Within, TriUnknown},
		{"intersection-faraway", inter, faraway, Disjoint, TriFalse},
		{"full-box", full, box, Contains, TriTrue},
		{"full-faraway", full, faraway, Contains, TriTrue},
	})
	// Overlaps between an intersection and the full sphere are conservative.
	if got := inter.Relate(full); got != Within {
		t.Errorf("intersection.Relate(full) = %v, want WITHIN", got)
	}
	if got := inter.OverlapState(full); got != TriUnknown {
		t.Errorf("intersection.OverlapState(full) = %v, want unknown", got)
	}
	points := []struct {
		name             string
		p                LonLat
		inUnion, inInter bool
	}{
		{"in circle", inCircle, true, false},
		{"in box", inBox, true, false},
		{"in both", inBoth, true, true},
		{"in neither", inNeither, false, false},
	}
	for _, pt := range points {
		v := pt.p.UnitVector()
		if union.Contains(v) != pt.inUnion || inter.Contains(v) != pt.inInter {
			t.Errorf("%s: union %v, intersection %v", pt.name, union.Contains(v), inter.Contains(v))
		}
		if emptyUnion.Contains(v) || !full.Contains(v) {
			t.Errorf("%s: empty union or full intersection containment is wrong", pt.name)
		}
	}
	// Nested compounds flatten, preserving order.
	nested := NewUnionRegion(NewUnionRegion(circle, box), NewUnionRegion(faraway))
	if len(nested.Operands()) != 3 {
		t.Errorf("nested union has %d operands, want 3", len(nested.Operands()))
	}
}

// TestBounds: bounding boxes and circles contain their regions.
func TestBounds(t *testing.T) {
	tri := mustHull(t, unitX(), unitY(), unitZ())
	regions := []Region{
		tri,
		detectorPolygon(t, 359.9, -0.05, 0.2, 10),
		detectorPolygon(t, 0, 89.9, 0.5, 0), // contains the pole
		NewCircle(fromLonLat(1, 0.5), 0.1),
		mustBoxDeg(t, 100, 84, 278, 85),
		mustBoxDeg(t, 100, -86, 270, -85),
		mustBoxDeg(t, 45, 45, 315, 60),
		mustBoxDeg(t, 45, -60, 315, -45),
		mustBoxRad(t, -1, -1, 1, 1),
	}
	for _, r := range regions {
		if got := r.BoundingCircle().Relate(r); got&Contains == 0 {
			t.Errorf("bounding circle of %v: relate = %v, want CONTAINS", r, got)
		}
		if got := r.BoundingBox().Relate(r); got&Contains == 0 && !isPolygon(r) {
			t.Errorf("bounding box of %v: relate = %v, want CONTAINS", r, got)
		}
		if p, ok := r.(ConvexPolygon); ok {
			bb := r.BoundingBox()
			for _, v := range p.vertices {
				if !bb.Contains(v) {
					t.Errorf("bounding box %v misses vertex %v", bb, v)
				}
			}
		}
	}
	// sphgeom's BoundingBox test: a square around the pole spans all longitudes.
	sq := ngon(t, unitZ(), mustUnit(t, 1, 1, 1), 4)
	bb := sq.BoundingBox()
	lo, hi := bb.Lat()
	if !bb.lon.isFull() || hi != 0.5*pi || lo > 0.61547970867038734 || lo < 0.61547970867038734-maxAsinError {
		t.Errorf("bounding box of a polar square = %v", bb)
	}
	c := mustBoxDeg(t, 45, 45, 315, 60).BoundingCircle()
	if c.Center() != unitZ() || c.OpeningAngle().Degrees() >= 45.001 {
		t.Errorf("bounding circle of a wide box = %v", c)
	}
}

func isPolygon(r Region) bool { _, ok := r.(ConvexPolygon); return ok }

func TestConvexHull(t *testing.T) {
	x, y, z := unitX(), unitY(), unitZ()
	// sphgeom keeps the order of points already in counter-clockwise order.
	p := mustHull(t, z, x, y)
	if got := p.Vertices(); len(got) != 3 || got[0] != z || got[1] != x || got[2] != y {
		t.Errorf("hull(Z, X, Y) = %v", got)
	}
	// Interior, duplicate and edge points are dropped (testConvexPolygon.cc Construction).
	points := []UnitVector3d{
		mustUnit(t, 1, 2, 1), mustUnit(t, 1, 2, 1), mustUnit(t, 2, 1, 1), mustUnit(t, 2, 1, 1),
		mustUnit(t, 1, 1, 2), mustUnit(t, 1, 1, 2), mustUnit(t, 1, 1, 1), y, mustUnit(t, 1, 1, 0),
		mustUnit(t, 0, 1, 1), mustUnit(t, 1, 0, 1), x, z,
	}
	p = mustHull(t, points...)
	if got := p.Vertices(); len(got) != 3 || got[0] != x || got[1] != y || got[2] != z {
		t.Errorf("hull = %v, want [X Y Z]", got)
	}
	for _, v := range points {
		if !p.Contains(v) {
			t.Errorf("hull misses %v", v)
		}
	}
	// Nearly identical points stay distinct vertices (testConvexPolygon.cc Hull).
	p = mustHull(t,
		mustUnit(t, 0.9962891943972693, -0.06085984360495963, -0.06085984360495963),
		mustUnit(t, 0.9950864205485712, -0.0607863703316013, 0.07815390471205888),
		mustUnit(t, 0.9938879923679332, 0.07805978038285497, 0.07805978038285499),
		mustUnit(t, 0.9950864205485711, 0.07815390471205892, -0.06078637033160138))
	if len(p.vertices) != 4 {
		t.Errorf("hull has %d vertices, want 4", len(p.vertices))
	}
	// Vertex order does not matter: the same polygon up to rotation.
	a := detectorPolygon(t, 200, -45, 0.2, 12)
	v := a.Vertices()
	b := mustHull(t, v[2], v[0], v[3], v[1])
	if !samePolygon(a, b) {
		t.Errorf("hull of shuffled vertices %v differs from %v", b, a)
	}
	failures := []struct {
		name   string
		points []UnitVector3d
	}{
		{"none", nil},
		{"one", []UnitVector3d{y}},
		{"two", []UnitVector3d{y, x}},
		{"repeated", []UnitVector3d{x, x, x, x}},
		{"collinear", []UnitVector3d{x, mustUnit(t, 1, 1, 0), y}},
		{"antipodal", []UnitVector3d{y, x, z, mustUnit(t, -1, -1, -1)}},
		{"antipodal pair", []UnitVector3d{x, x.Neg(), y}},
	}
	for _, tt := range failures {
		if p, err := NewConvexPolygon(tt.points); err == nil {
			t.Errorf("%s: hull = %v, want error", tt.name, p)
		}
	}
}

// samePolygon reports whether two polygons have the same vertices in the same
// cyclic order (sphgeom's ConvexPolygon ==).
func samePolygon(a, b ConvexPolygon) bool {
	n := len(a.vertices)
	if n != len(b.vertices) {
		return false
	}
	for off := range n {
		same := true
		for i := range n {
			if a.vertices[i] != b.vertices[(i+off)%n] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}
