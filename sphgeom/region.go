package sphgeom

// Region is a set of points on the unit sphere. The implementations are the
// region types of this package (ConvexPolygon, Circle, Box, Ellipse,
// UnionRegion, IntersectionRegion); the interface is closed because relations
// between regions are dispatched on the concrete pair of types, as in sphgeom.
type Region interface {
	// IsEmpty reports whether the region has no points.
	IsEmpty() bool
	// Contains reports whether v is in the region.
	Contains(v UnitVector3d) bool
	// Relate returns the relationship of this region (A) to r (B). A set bit is
	// proven; some pairs are conservative (see sphgeom's Region::relate).
	Relate(r Region) Relationship
	// OverlapState says whether the regions share a point: TriTrue and TriFalse
	// are proven, TriUnknown means the test was not conclusive (sphgeom's
	// Region::overlaps). It is exact for pairs of polygons and circles and for
	// box-box and box-circle; pairs involving a box and a polygon, or an
	// ellipse, use bounding regions.
	OverlapState(r Region) TriState
	// Overlaps is false only when the regions are known to be disjoint. This is
	// the test daf_butler applies to refine coarse skypix matches: it drops a
	// row only when sphgeom's overlaps() is False.
	Overlaps(r Region) bool
	// BoundingBox returns a box containing the region.
	BoundingBox() Box
	// BoundingCircle returns a circle containing the region.
	BoundingCircle() Circle
	// Encode returns sphgeom's binary encoding of the region.
	Encode() []byte
	String() string

	region() // closes the interface to this package's types
}

// relate dispatches Region.Relate on the concrete types, giving the answer
// sphgeom gives for the same pair.
func relate(a, b Region) Relationship {
	switch a := a.(type) {
	case UnionRegion:
		return a.relateTo(b)
	case IntersectionRegion:
		return a.relateTo(b)
	}
	switch b := b.(type) {
	case UnionRegion:
		return b.relateTo(a).Invert()
	case IntersectionRegion:
		return b.relateTo(a).Invert()
	}
	switch a := a.(type) {
	case Box:
		switch b := b.(type) {
		case Box:
			return a.relateBox(b)
		case Circle:
			return a.relateCircle(b)
		case ConvexPolygon:
			return polyRelateBox(b.vertices, a).Invert()
		case Ellipse:
			return ellipseRelateBox(b, a).Invert()
		}
	case Circle:
		switch b := b.(type) {
		case Box:
			return b.relateCircle(a).Invert()
		case Circle:
			return a.relateCircle(b)
		case ConvexPolygon:
			return polyRelateCircle(b.vertices, a).Invert()
		case Ellipse:
			return ellipseRelateCircle(b, a).Invert()
		}
	case ConvexPolygon:
		switch b := b.(type) {
		case Box:
			return polyRelateBox(a.vertices, b)
		case Circle:
			return polyRelateCircle(a.vertices, b)
		case ConvexPolygon:
			return polyRelatePoly(a.vertices, b.vertices)
		case Ellipse:
			return polyRelateEllipse(a.vertices, b)
		}
	case Ellipse:
		switch b := b.(type) {
		case Box:
			return ellipseRelateBox(a, b)
		case Circle:
			return ellipseRelateCircle(a, b)
		case ConvexPolygon:
			return polyRelateCircle(b.vertices, a.BoundingCircle()).Invert() & (Disjoint | Within)
		case Ellipse:
			return a.BoundingCircle().relateCircle(b.BoundingCircle()) & Disjoint
		}
	}
	// Unreachable: the interface is closed. Claim nothing.
	return Intersects
}

// Ellipse relationships go through the ellipse's bounding circle, so only
// DISJOINT and WITHIN can be proven.
func ellipseRelateBox(e Ellipse, b Box) Relationship {
	return b.relateCircle(e.BoundingCircle()).Invert() & (Disjoint | Within)
}

func ellipseRelateCircle(e Ellipse, c Circle) Relationship {
	return e.BoundingCircle().relateCircle(c) & (Disjoint | Within)
}

// overlaps dispatches Region.OverlapState like sphgeom's Region::overlaps.
func overlaps(a, b Region) TriState {
	switch a := a.(type) {
	case UnionRegion:
		return a.overlapsWith(b)
	case IntersectionRegion:
		return a.overlapsWith(b)
	}
	switch b := b.(type) {
	case UnionRegion:
		return b.overlapsWith(a)
	case IntersectionRegion:
		return b.overlapsWith(a)
	}
	// The simple pairs are symmetric; order them so each is written once.
	rank := func(r Region) int {
		switch r.(type) {
		case Box:
			return 0
		case Circle:
			return 1
		case ConvexPolygon:
			return 2
		}
		return 3
	}
	if rank(a) > rank(b) {
		a, b = b, a
	}
	switch a := a.(type) {
	case Box:
		switch b := b.(type) {
		case Box:
			return triState(a.intersectsBox(b))
		case Circle:
			return triState(a.relateCircle(b)&Disjoint == 0)
		case ConvexPolygon:
			// The polygon-box relationship uses the polygon's bounding box.
			return relationshipToOverlaps(polyRelateBox(b.vertices, a))
		case Ellipse:
			return relationshipToOverlaps(ellipseRelateBox(b, a))
		}
	case Circle:
		switch b := b.(type) {
		case Circle:
			return triState(!a.isDisjointFrom(b))
		case ConvexPolygon:
			return triState(polyRelateCircle(b.vertices, a)&Disjoint == 0)
		case Ellipse:
			return relationshipToOverlaps(ellipseRelateCircle(b, a))
		}
	case ConvexPolygon:
		switch b := b.(type) {
		case ConvexPolygon:
			return triState(polyRelatePoly(a.vertices, b.vertices)&Disjoint == 0)
		case Ellipse:
			return relationshipToOverlaps(polyRelateEllipse(a.vertices, b))
		}
	case Ellipse:
		if b, ok := b.(Ellipse); ok {
			return relationshipToOverlaps(a.BoundingCircle().relateCircle(b.BoundingCircle()) & Disjoint)
		}
	}
	return TriUnknown
}
