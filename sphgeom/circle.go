package sphgeom

import (
	"fmt"
	"math"
)

// Circle is a spherical cap: the points within an opening angle (angular radius)
// of a center. It contains its boundary. sphgeom stores both the squared chord
// length (used for containment tests) and the opening angle, and so do we, so
// that encodings round-trip exactly.
type Circle struct {
	center  UnitVector3d
	scl     float64 // squared chord length; negative or NaN means empty, >= 4 full
	opening float64 // opening angle in radians
}

// EmptyCircle returns the circle containing no points.
func EmptyCircle() Circle { return Circle{unitZ(), -1, -1} }

// FullCircle returns the circle containing the whole sphere.
func FullCircle() Circle { return newCircleChord(unitZ(), 4) }

// NewCircle returns the circle with the given center and opening angle. A
// negative angle gives an empty circle, π or more a full one.
func NewCircle(center UnitVector3d, opening Angle) Circle {
	return Circle{center, squaredChordLengthFor(float64(opening)), float64(opening)}
}

// newCircleChord returns the circle with the given squared chord length.
func newCircleChord(center UnitVector3d, scl float64) Circle {
	return Circle{center, scl, openingAngleFor(scl)}
}

func squaredChordLengthFor(a float64) float64 {
	if a < 0 {
		return -1
	}
	if a >= pi {
		return 4
	}
	s := math.Sin(0.5 * a)
	return 4 * s * s
}

func openingAngleFor(scl float64) float64 {
	if scl < 0 {
		return -1
	}
	if scl >= 4 {
		return pi
	}
	return 2 * math.Asin(0.5*math.Sqrt(scl))
}

func (c Circle) Center() UnitVector3d        { return c.center }
func (c Circle) OpeningAngle() Angle         { return Angle(c.opening) }
func (c Circle) SquaredChordLength() float64 { return c.scl }

// IsEmpty reports whether the circle has no points (negative or NaN chord length).
func (c Circle) IsEmpty() bool { return !(c.scl >= 0) }
func (c Circle) IsFull() bool  { return c.scl >= 4 }

func (c Circle) Contains(v UnitVector3d) bool {
	return c.IsFull() || v.v.Sub(c.center.v).SquaredNorm() <= c.scl
}

func (c Circle) equal(x Circle) bool {
	return (c.IsEmpty() && x.IsEmpty()) || (c.IsFull() && x.IsFull()) ||
		(c.center == x.center && c.scl == x.scl && c.opening == x.opening)
}

func (c Circle) isDisjointFrom(x Circle) bool {
	if c.IsEmpty() || x.IsEmpty() {
		return true
	}
	if c.IsFull() || x.IsFull() {
		return false
	}
	return angleBetween(c.center.v, x.center.v) > c.opening+x.opening+4*maxAsinError
}

func (c Circle) relateCircle(x Circle) Relationship {
	switch {
	case c.IsEmpty() && x.IsEmpty():
		return Contains | Disjoint | Within
	case c.IsEmpty():
		return Disjoint | Within
	case x.IsEmpty():
		return Contains | Disjoint
	case c.IsFull() && x.IsFull():
		return Contains | Within
	case c.IsFull():
		return Contains
	case x.IsFull():
		return Within
	case c.equal(x):
		// Rounding can hide equality from the tests below.
		return Contains | Within
	}
	cc := angleBetween(c.center.v, x.center.v)
	switch {
	case cc > c.opening+x.opening+4*maxAsinError:
		return Disjoint
	case cc+x.opening+4*maxAsinError <= c.opening:
		return Contains
	case cc+c.opening+4*maxAsinError <= x.opening:
		return Within
	}
	return Intersects
}

// BoundingBox returns a box containing the circle.
func (c Circle) BoundingBox() Box {
	lon, lat := lonLatOf(c.center.v)
	h := c.opening + 2*maxAsinError
	w := halfWidthForCircle(h, lat) + maxAsinError
	return newBoxAround(lon, lat, w, h)
}

func (c Circle) BoundingCircle() Circle { return c }

// expandedTo returns a circle containing c and x (sphgeom's Circle::expandTo).
func (c Circle) expandedTo(x Circle) Circle {
	if c.IsEmpty() || x.IsFull() {
		return x
	}
	if x.IsEmpty() || c.IsFull() {
		return c
	}
	cc := angleBetween(c.center.v, x.center.v)
	if cc+x.opening+4*maxAsinError <= c.opening {
		return c
	}
	if cc+c.opening+4*maxAsinError <= x.opening {
		return x
	}
	o := 0.5 * (cc + c.opening + x.opening)
	if o+2*maxAsinError >= pi {
		return FullCircle()
	}
	// The minimal bounding circle's center is c's center rotated towards x's
	// center by o - c.opening, in the plane of the two centers.
	n := orthogonalTo2(c.center.v, x.center.v)
	r := o - c.opening
	center := unitVector(c.center.v.Scale(math.Cos(r)).Add(n.v.Cross(c.center.v).Scale(math.Sin(r))))
	return Circle{center, squaredChordLengthFor(o + maxAsinError), o + maxAsinError}
}

// clippedTo returns a circle containing the intersection of c and x: the
// smaller of the two, as sphgeom does.
func (c Circle) clippedTo(x Circle) Circle {
	if c.IsEmpty() || x.IsFull() {
		return c
	}
	if c.IsFull() || x.IsEmpty() {
		return x
	}
	if angleBetween(c.center.v, x.center.v) > c.opening+x.opening+4*maxAsinError {
		return EmptyCircle()
	}
	if x.opening < c.opening {
		return x
	}
	return c
}

func (c Circle) Relate(r Region) Relationship   { return relate(c, r) }
func (c Circle) OverlapState(r Region) TriState { return overlaps(c, r) }
func (c Circle) Overlaps(r Region) bool         { return overlaps(c, r) != TriFalse }
func (c Circle) Encode() []byte {
	return encodeFloats('c', c.center.v.X, c.center.v.Y, c.center.v.Z, c.scl, c.opening)
}
func (Circle) region() {}

func (c Circle) String() string {
	return fmt.Sprintf("Circle(center=%v, openingAngle=%.17g)", c.center, c.opening)
}

// minSquaredChordLength returns the squared chord length between v and the
// point p of the great circle with normal n (through a and b) closest to v, if p
// lies inside the arc from a to b; otherwise 4, the largest possible value.
func minSquaredChordLength(v, a, b, n Vector3d) float64 {
	vxn := v.Cross(n)
	if vxn.Dot(a) > 0 && vxn.Dot(b) < 0 {
		s := math.Abs(v.Dot(n))
		c := vxn.Norm()
		theta := 0.5 * pi
		if c != 0 {
			theta = math.Atan(s / c)
		}
		d := math.Sin(0.5 * theta)
		return 4 * d * d
	}
	return 4
}

// maxSquaredChordLength is like minSquaredChordLength for the farthest point,
// returning 0 when it is not inside the arc.
func maxSquaredChordLength(v, a, b, n Vector3d) float64 {
	vxn := v.Cross(n)
	if vxn.Dot(a) < 0 && vxn.Dot(b) > 0 {
		s := math.Abs(v.Dot(n))
		c := -vxn.Norm()
		d := math.Sin(0.5 * math.Atan2(s, c))
		return 4 * d * d
	}
	return 0
}
