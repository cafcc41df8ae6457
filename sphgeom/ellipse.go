package sphgeom

import "fmt"

// Ellipse is a spherical ellipse, kept in sphgeom's internal form so that it
// round-trips through its encoding: the orthogonal matrix S mapping the center
// to (0, 0, 1) (rows s[0..2]), a = α - π/2 and b = β - π/2 for the semi-axis
// angles α and β, γ (half the angle between the foci), |tan a| and |tan b|.
//
// The butler never creates ellipses; they are decoded, tested for containment
// exactly, and related to other regions through their bounding circle, which
// is conservative exactly as in sphgeom.
type Ellipse struct {
	s          [3]Vector3d
	a, b       float64
	gamma      float64
	tana, tanb float64
}

// Center returns the center of the ellipse.
func (e Ellipse) Center() UnitVector3d { return UnitVector3d{e.s[2]} }

// Alpha and Beta return the semi-axis angles.
func (e Ellipse) Alpha() Angle { return Angle(0.5*pi + e.a) }
func (e Ellipse) Beta() Angle  { return Angle(0.5*pi + e.b) }

func (e Ellipse) IsEmpty() bool { return 0.5*pi+e.a < e.gamma }
func (e Ellipse) IsFull() bool  { return 0.5*pi-e.a <= e.gamma }

func (e Ellipse) Contains(v UnitVector3d) bool {
	c := e.Center()
	vdotc := v.Dot(c.v)
	// Near ±c, work with v ∓ c for accuracy with very small or large ellipses.
	var u Vector3d
	var scz float64
	switch {
	case vdotc > 0.5:
		u, scz = v.v.Sub(c.v), 1
	case vdotc < -0.5:
		u, scz = v.v.Add(c.v), -1
	default:
		u, scz = v.v, 0
	}
	// S·u, with S's rows in e.s.
	su := e.mulS(u)
	x := su.X * e.tana
	y := su.Y * e.tanb
	z := su.Z + scz
	d := (x*x + y*y) - z*z
	if e.a > 0 {
		return z >= 0 || d >= 0
	}
	return z >= 0 && d <= 0
}

// mulS computes S·u summing column by column, as sphgeom's Matrix3d does.
func (e Ellipse) mulS(u Vector3d) Vector3d {
	col := func(j int) Vector3d {
		return Vector3d{e.s[0].component(j), e.s[1].component(j), e.s[2].component(j)}
	}
	return col(0).Scale(u.X).Add(col(1).Scale(u.Y)).Add(col(2).Scale(u.Z))
}

// BoundingCircle returns the circle at the center with the larger semi-axis
// angle as its opening angle.
func (e Ellipse) BoundingCircle() Circle {
	r := max(float64(e.Alpha()), float64(e.Beta())) + 2*maxAsinError
	return NewCircle(e.Center(), Angle(r))
}

func (e Ellipse) BoundingBox() Box { return e.BoundingCircle().BoundingBox() }

func (e Ellipse) Relate(r Region) Relationship   { return relate(e, r) }
func (e Ellipse) OverlapState(r Region) TriState { return overlaps(e, r) }
func (e Ellipse) Overlaps(r Region) bool         { return overlaps(e, r) != TriFalse }

func (e Ellipse) Encode() []byte {
	return encodeFloats('e',
		e.s[0].X, e.s[0].Y, e.s[0].Z,
		e.s[1].X, e.s[1].Y, e.s[1].Z,
		e.s[2].X, e.s[2].Y, e.s[2].Z,
		e.a, e.b, e.gamma, e.tana, e.tanb)
}

func (Ellipse) region() {}

func (e Ellipse) String() string {
	return fmt.Sprintf("Ellipse(center=%v, alpha=%.17g, beta=%.17g)", e.Center(), float64(e.Alpha()), float64(e.Beta()))
}
