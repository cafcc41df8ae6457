package sphgeom

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gobutler/butler/errs"
)

// ConvexPolygon is a convex spherical polygon: vertices in counter-clockwise
// order joined by great-circle edges. It contains its boundary.
type ConvexPolygon struct {
	vertices []UnitVector3d // never modified after construction
}

// NewConvexPolygon returns the convex hull of points. The order of the points
// does not matter. Like sphgeom it fails when the points do not span a polygon
// (fewer than 3 distinct, non-coplanar points) or when their hull would not be
// convex (for example it holds antipodal points). The vertex order of the
// result is exactly sphgeom's, so encodings match.
func NewConvexPolygon(points []UnitVector3d) (ConvexPolygon, error) {
	for _, p := range points {
		if !finite3(p.v) {
			return ConvexPolygon{}, fmt.Errorf("convex hull: %w: vertex %v is not finite", errs.ErrInvalid, p)
		}
	}
	hull, err := convexHull(slices.Clone(points))
	if err != nil {
		return ConvexPolygon{}, fmt.Errorf("convex hull of %d points: %w: %w", len(points), errs.ErrInvalid, err)
	}
	return ConvexPolygon{hull}, nil
}

// Vertices returns a copy of the vertices, in counter-clockwise order.
func (p ConvexPolygon) Vertices() []UnitVector3d { return slices.Clone(p.vertices) }

// IsEmpty is false: a polygon always has points. (sphgeom's ConvexPolygon
// returns true here, which looks like a slip; nothing the butler does depends on it.)
func (p ConvexPolygon) IsEmpty() bool { return false }

func (p ConvexPolygon) Contains(v UnitVector3d) bool { return polyContains(p.vertices, v) }

// Centroid returns the polygon's center of mass.
func (p ConvexPolygon) Centroid() UnitVector3d { return centroid(p.vertices) }

func (p ConvexPolygon) BoundingCircle() Circle { return polyBoundingCircle(p.vertices) }
func (p ConvexPolygon) BoundingBox() Box       { return polyBoundingBox(p.vertices) }

func (p ConvexPolygon) Relate(r Region) Relationship   { return relate(p, r) }
func (p ConvexPolygon) OverlapState(r Region) TriState { return overlaps(p, r) }
func (p ConvexPolygon) Overlaps(r Region) bool         { return overlaps(p, r) != TriFalse }

func (p ConvexPolygon) Encode() []byte {
	f := make([]float64, 0, 3*len(p.vertices))
	for _, v := range p.vertices {
		f = append(f, v.v.X, v.v.Y, v.v.Z)
	}
	return encodeFloats('p', f...)
}

func (ConvexPolygon) region() {}

func (p ConvexPolygon) String() string {
	parts := make([]string, len(p.vertices))
	for i, v := range p.vertices {
		parts[i] = v.String()
	}
	return "ConvexPolygon(" + strings.Join(parts, ", ") + ")"
}

// The functions below work on vertex slices so that HTM trixels can use them
// without building polygons.

func polyContains(verts []UnitVector3d, v UnitVector3d) bool {
	prev := verts[len(verts)-1]
	for _, cur := range verts {
		if orientation(v, prev, cur) < 0 {
			return false
		}
		prev = cur
	}
	return true
}

// centroid is the center of mass of the polygon (Brock 1974, generalized from
// triangles).
func centroid(verts []UnitVector3d) UnitVector3d {
	var cm Vector3d
	prev := verts[len(verts)-1]
	for _, cur := range verts {
		v, n := prev.robustCross(cur).normalize()
		s := 0.5 * n
		c := prev.Dot(cur.v)
		a := 0.0
		if !(s == 0 && c == 0) {
			a = math.Atan2(s, c)
		}
		if n != 0 {
			cm = cm.Add(v.Scale(a))
		}
		prev = cur
	}
	return unitVector(cm)
}

func polyBoundingCircle(verts []UnitVector3d) Circle {
	c := centroid(verts)
	cl2 := 0.0
	for _, v := range verts {
		cl2 = max(cl2, v.v.Sub(c.v).SquaredNorm())
	}
	// Twice the chord length error so the circle reliably contains the polygon.
	return newCircleChord(c, cl2+2*maxSquaredChordLengthError)
}

func polyBoundingBox(verts []UnitVector3d) Box {
	const eps = 5.0e-10 // ~0.1 milliarcsec, covers lon/lat conversion error
	bbox := EmptyBox()
	haveCW, haveCCW := false, false
	prev := verts[len(verts)-1]
	for _, cur := range verts {
		lon, lat := lonLatOf(cur.v)
		bbox = bbox.expandedTo(newBoxAround(lon, lat, eps, eps))
		if !haveCW || !haveCCW {
			o := orientationZ(prev, cur)
			haveCCW = haveCCW || o > 0
			haveCW = haveCW || o < 0
		}
		// An edge can reach further in latitude than its end points: check
		// whether the point of extreme latitude of its great circle lies inside
		// the edge.
		n := prev.robustCross(cur)
		v := Vector3d{-n.X * n.Z, -n.Y * n.Z, n.X*n.X + n.Y*n.Y}
		if !v.IsZero() {
			zni := prev.v.Y*n.X - prev.v.X*n.Y
			znj := cur.v.Y*n.X - cur.v.X*n.Y
			if zni > 0 && znj < 0 {
				bbox = newBox(bbox.lon, bbox.lat.expandedTo(latitudeOf(v)+eps))
			} else if zni < 0 && znj > 0 {
				bbox = newBox(bbox.lon, bbox.lat.expandedTo(latitudeOf(v.Neg())-eps))
			}
		}
		prev = cur
	}
	// A polygon containing a pole spans all longitudes.
	if !haveCW {
		bbox = bbox.expandedTo(Box{fullLon(), latInterval{0.5 * pi, 0.5 * pi}})
	} else if !haveCCW {
		bbox = bbox.expandedTo(Box{fullLon(), latInterval{-0.5 * pi, -0.5 * pi}})
	}
	return bbox
}

// polyRelatePoly is sphgeom's polygon-polygon relationship, which is exact:
// vertex containment first, then a search for a proper edge crossing.
func polyRelatePoly(v1, v2 []UnitVector3d) Relationship {
	all1, any1 := true, false
	for _, v := range v1 {
		b := polyContains(v2, v)
		all1 = all1 && b
		any1 = any1 || b
	}
	all2, any2 := true, false
	for _, v := range v2 {
		b := polyContains(v1, v)
		all2 = all2 && b
		any2 = any2 || b
	}
	if all1 || all2 {
		r := Intersects
		if all1 {
			r |= Within
		}
		if all2 {
			r |= Contains
		}
		return r
	}
	if any1 || any2 {
		return Intersects
	}
	// No vertex of either polygon is inside the other: they overlap only if
	// some pair of edges crosses.
	a := v1[len(v1)-1]
	for _, b := range v1 {
		c := v2[len(v2)-1]
		for _, d := range v2 {
			acd := orientation(a, c, d)
			bdc := orientation(b, d, c)
			if acd == bdc && acd != 0 {
				cba := orientation(c, b, a)
				dab := orientation(d, a, b)
				if cba == dab && cba == acd {
					return Intersects
				}
			}
			c = d
		}
		a = b
	}
	return Disjoint
}

// polyRelateCircle is sphgeom's polygon-circle relationship, exact within
// rounding error bounds.
func polyRelateCircle(verts []UnitVector3d, c Circle) Relationship {
	if c.IsEmpty() {
		return Contains | Disjoint
	}
	if c.IsFull() {
		return Within
	}
	// If the vertices are not all inside or all outside c, the boundaries cross.
	inside := false
	for i, v := range verts {
		d := v.v.Sub(c.center.v).SquaredNorm()
		if math.Abs(d-c.scl) < maxSquaredChordLengthError {
			return Intersects
		}
		in := d < c.scl
		if i == 0 {
			inside = in
		} else if inside != in {
			return Intersects
		}
	}
	prev := verts[len(verts)-1]
	if inside {
		// All vertices inside c: look for edge points outside it.
		for _, cur := range verts {
			n := prev.robustCross(cur)
			if maxSquaredChordLength(c.center.v, prev.v, cur.v, n) > c.scl-maxSquaredChordLengthError {
				return Intersects
			}
			prev = cur
		}
		// The boundary is inside c, but c could still punch a hole in the
		// polygon: then the polygon contains the anti-center of c.
		if polyContains(verts, c.center.Neg()) {
			return Intersects
		}
		return Within
	}
	// All vertices outside c: look for edge points inside it.
	for _, cur := range verts {
		n := prev.robustCross(cur)
		if minSquaredChordLength(c.center.v, prev.v, cur.v, n) < c.scl+maxSquaredChordLengthError {
			return Intersects
		}
		prev = cur
	}
	if polyContains(verts, c.center) {
		return Contains
	}
	return Disjoint
}

// polyRelateBox is conservative, as in sphgeom: it compares the polygon's
// bounding box with the box, so only DISJOINT and WITHIN are ever proven.
func polyRelateBox(verts []UnitVector3d, b Box) Relationship {
	return polyBoundingBox(verts).relateBox(b) & (Disjoint | Within)
}

// polyRelateEllipse uses the ellipse's bounding circle, so only CONTAINS and
// DISJOINT are ever proven.
func polyRelateEllipse(verts []UnitVector3d, e Ellipse) Relationship {
	return polyRelateCircle(verts, e.BoundingCircle()) & (Contains | Disjoint)
}
