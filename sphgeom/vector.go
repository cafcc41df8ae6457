package sphgeom

import (
	"fmt"
	"math"

	"github.com/gobutler/butler/errs"
)

// Constants with sphgeom's values. They are typed so that constant expressions
// such as 0.5*pi round the same way as sphgeom's double arithmetic.
const (
	// pi is the double closest to π (slightly less than π).
	pi        float64 = 3.1415926535897932384626433832795
	radPerDeg float64 = 0.0174532925199432957692369076849
	degPerRad float64 = 57.2957795130823208767981548141
	// maxAsinError bounds the error of math.Asin given 1 ulp of error in its
	// argument (about 3.1 milliarcsec).
	maxAsinError float64 = 1.5e-8
	// maxSquaredChordLengthError bounds the error of a squared chord length
	// computed from two unit vectors.
	maxSquaredChordLengthError float64 = 2.5e-15
)

// Vector3d is a vector in ℝ³.
type Vector3d struct {
	X, Y, Z float64
}

// Dot, Cross, Add, Sub, Scale, Neg, SquaredNorm and Norm are plain vector
// arithmetic, in the same operation order as sphgeom's Vector3d.
func (v Vector3d) Dot(u Vector3d) float64 { return v.X*u.X + v.Y*u.Y + v.Z*u.Z }

func (v Vector3d) Cross(u Vector3d) Vector3d {
	return Vector3d{v.Y*u.Z - v.Z*u.Y, v.Z*u.X - v.X*u.Z, v.X*u.Y - v.Y*u.X}
}

func (v Vector3d) Add(u Vector3d) Vector3d { return Vector3d{v.X + u.X, v.Y + u.Y, v.Z + u.Z} }
func (v Vector3d) Sub(u Vector3d) Vector3d { return Vector3d{v.X - u.X, v.Y - u.Y, v.Z - u.Z} }
func (v Vector3d) Scale(s float64) Vector3d {
	return Vector3d{v.X * s, v.Y * s, v.Z * s}
}
func (v Vector3d) Neg() Vector3d        { return Vector3d{-v.X, -v.Y, -v.Z} }
func (v Vector3d) SquaredNorm() float64 { return v.Dot(v) }
func (v Vector3d) Norm() float64        { return math.Sqrt(v.SquaredNorm()) }
func (v Vector3d) IsZero() bool         { return v.X == 0 && v.Y == 0 && v.Z == 0 }
func (v Vector3d) component(i int) float64 {
	switch i {
	case 0:
		return v.X
	case 1:
		return v.Y
	}
	return v.Z
}

// normalize returns v scaled to unit length and the norm of v. It follows
// sphgeom's Vector3d::normalize step by step (divide the other components by
// the largest one first), so that unit vectors, and hence HTM trixel vertices
// and indexes, are bit-identical to sphgeom's. A zero vector gives NaN
// components.
func (v Vector3d) normalize() (Vector3d, float64) {
	ax, ay, az := math.Abs(v.X), math.Abs(v.Y), math.Abs(v.Z)
	if !(max(ax, ay, az) > 0) {
		// Zero, or NaN somewhere (sphgeom throws for zero).
		return Vector3d{qnan(), qnan(), qnan()}, 0
	}
	// Pick the largest component with the comparisons sphgeom makes, so ties
	// go the same way. Only this choice matters: the other two enter the norm
	// as a commutative sum.
	switch {
	case ax > az && ax > ay:
		u, t, n := scaleBy(v.Y, v.Z, v.X)
		return Vector3d{math.Copysign(1, v.X) / n, u / n, t / n}, n * ax
	case ay > az:
		u, t, n := scaleBy(v.X, v.Z, v.Y)
		return Vector3d{u / n, math.Copysign(1, v.Y) / n, t / n}, n * ay
	}
	u, t, n := scaleBy(v.X, v.Y, v.Z)
	return Vector3d{u / n, t / n, math.Copysign(1, v.Z) / n}, n * az
}

// scaleBy divides a and b by |w| and returns them with √(1 + a² + b²). The
// float64 conversions forbid fused multiply-adds, which would change the last
// bit on some architectures.
func scaleBy(a, b, w float64) (float64, float64, float64) {
	m := math.Abs(w)
	a, b = a/m, b/m
	return a, b, math.Sqrt(1 + (float64(a*a) + float64(b*b)))
}

func (v Vector3d) String() string { return fmt.Sprintf("[%.17g, %.17g, %.17g]", v.X, v.Y, v.Z) }

// UnitVector3d is a vector of unit length: a point on the unit sphere.
type UnitVector3d struct {
	v Vector3d
}

// NewUnitVector3d returns (x, y, z) scaled to unit length. It fails for the zero
// vector and for non-finite components.
func NewUnitVector3d(x, y, z float64) (UnitVector3d, error) {
	v := Vector3d{x, y, z}
	if !finite3(v) || v.IsZero() {
		return UnitVector3d{}, fmt.Errorf("unit vector from %v: %w: zero or not finite", v, errs.ErrInvalid)
	}
	return unitVector(v), nil
}

// unitVector normalizes v, which the caller knows to be non-zero.
func unitVector(v Vector3d) UnitVector3d {
	n, _ := v.normalize()
	return UnitVector3d{n}
}

// unitFromNormalized wraps a vector the caller knows to be normalized, like
// sphgeom's UnitVector3d::fromNormalized (used when decoding).
func unitFromNormalized(x, y, z float64) UnitVector3d { return UnitVector3d{Vector3d{x, y, z}} }

func unitX() UnitVector3d { return UnitVector3d{Vector3d{1, 0, 0}} }
func unitY() UnitVector3d { return UnitVector3d{Vector3d{0, 1, 0}} }
func unitZ() UnitVector3d { return UnitVector3d{Vector3d{0, 0, 1}} }

// X, Y, Z and Vector return the components.
func (u UnitVector3d) X() float64        { return u.v.X }
func (u UnitVector3d) Y() float64        { return u.v.Y }
func (u UnitVector3d) Z() float64        { return u.v.Z }
func (u UnitVector3d) Vector() Vector3d  { return u.v }
func (u UnitVector3d) Neg() UnitVector3d { return UnitVector3d{u.v.Neg()} }
func (u UnitVector3d) Dot(v Vector3d) float64 {
	return u.v.Dot(v)
}
func (u UnitVector3d) String() string { return u.v.String() }

// robustCross returns twice the cross product of u and v, computed as
// (v + u) × (v - u), which stays accurate for nearly identical or antipodal
// inputs.
func (u UnitVector3d) robustCross(v UnitVector3d) Vector3d {
	return v.v.Add(u.v).Cross(v.v.Sub(u.v))
}

// rotatedAround returns u rotated by angle a around the axis k (Rodrigues' formula).
func (u UnitVector3d) rotatedAround(k UnitVector3d, a float64) UnitVector3d {
	s, c := math.Sin(a), math.Cos(a)
	r := u.v.Scale(c).Add(k.v.Cross(u.v).Scale(s)).Add(k.v.Scale(k.v.Dot(u.v) * (1 - c)))
	return unitVector(r)
}

// orthogonalTo returns a unit vector orthogonal to v.
func orthogonalTo(v Vector3d) UnitVector3d {
	if math.Abs(v.X) > math.Abs(v.Y) {
		return unitVector(Vector3d{-v.Z, 0, v.X})
	}
	return unitVector(Vector3d{0, v.Z, -v.Y})
}

// orthogonalTo2 returns a unit vector orthogonal to both v1 and v2.
func orthogonalTo2(v1, v2 Vector3d) UnitVector3d {
	n := v2.Add(v1).Cross(v2.Sub(v1))
	if n.IsZero() {
		return orthogonalTo(v1)
	}
	return unitVector(n)
}

// orthogonalToLon returns the normal of the meridian plane at longitude lon.
func orthogonalToLon(lon float64) UnitVector3d {
	return UnitVector3d{Vector3d{-math.Sin(lon), math.Cos(lon), 0}}
}

func finite3(v Vector3d) bool {
	return !math.IsNaN(v.X) && !math.IsInf(v.X, 0) && !math.IsNaN(v.Y) && !math.IsInf(v.Y, 0) &&
		!math.IsNaN(v.Z) && !math.IsInf(v.Z, 0)
}

// angleBetween returns the angle between two vectors in [0, π].
func angleBetween(v1, v2 Vector3d) float64 {
	s := v1.Cross(v2).Norm()
	c := v1.Dot(v2)
	if s == 0 && c == 0 {
		// Avoid atan2(±0, -0) = ±π.
		return 0
	}
	return math.Atan2(s, c)
}
