package sphgeom

import (
	"math"
	"math/big"
)

// orientation returns the sign of the determinant of the matrix with rows a, b,
// c: 1 if they are in counter-clockwise order, -1 if clockwise, 0 if coplanar.
// Like sphgeom, it uses a floating-point filter and falls back to exact
// arithmetic when the rounding error bound does not settle the sign, so the
// answer is always exact. Every polygon and HTM test is built on it.
func orientation(a, b, c UnitVector3d) int {
	// maxAbsoluteError bounds the error of the determinant of unit vectors;
	// relativeError times the permanent gives a tighter bound (Shewchuk 1997).
	const (
		relativeError    = 5.6e-16
		maxAbsoluteError = 1.7e-15
		minAbsoluteError = 4.0e-307
	)
	bycz := b.v.Y * c.v.Z
	bzcy := b.v.Z * c.v.Y
	bzcx := b.v.Z * c.v.X
	bxcz := b.v.X * c.v.Z
	bxcy := b.v.X * c.v.Y
	bycx := b.v.Y * c.v.X
	det := a.v.X*(bycz-bzcy) + a.v.Y*(bzcx-bxcz) + a.v.Z*(bxcy-bycx)
	if det > maxAbsoluteError {
		return 1
	} else if det < -maxAbsoluteError {
		return -1
	}
	perm := math.Abs(a.v.X)*(math.Abs(bycz)+math.Abs(bzcy)) +
		math.Abs(a.v.Y)*(math.Abs(bzcx)+math.Abs(bxcz)) +
		math.Abs(a.v.Z)*(math.Abs(bxcy)+math.Abs(bycx))
	maxError := relativeError*perm + minAbsoluteError
	if det > maxError {
		return 1
	} else if det < -maxError {
		return -1
	}
	// Identical or antipodal inputs are coplanar; skip the slow path.
	if a.v == b.v || b.v == c.v || a.v == c.v || a.v == b.v.Neg() || b.v == c.v.Neg() || a.v == c.v.Neg() {
		return 0
	}
	return orientationExact(a.v, b.v, c.v)
}

// orientationExact computes the sign of det[a; b; c] exactly: each of the six
// products of three doubles is an integer mantissa times a power of two, and the
// sum is formed over integers after aligning the exponents.
func orientationExact(a, b, c Vector3d) int {
	type term struct {
		m   *big.Int
		exp int
	}
	product := func(neg bool, d0, d1, d2 float64) term {
		m := big.NewInt(1)
		exp := 0
		for _, d := range [3]float64{d0, d1, d2} {
			if math.IsNaN(d) || math.IsInf(d, 0) {
				// Not a real number: treat as zero rather than produce garbage.
				return term{new(big.Int), 0}
			}
			f, e := math.Frexp(d)
			// f·2⁵³ is an integer for every double.
			m.Mul(m, big.NewInt(int64(f*(1<<53))))
			exp += e - 53
		}
		if neg {
			m.Neg(m)
		}
		return term{m, exp}
	}
	terms := [6]term{
		product(false, a.X, b.Y, c.Z),
		product(true, a.X, b.Z, c.Y),
		product(false, a.Y, b.Z, c.X),
		product(true, a.Y, b.X, c.Z),
		product(false, a.Z, b.X, c.Y),
		product(true, a.Z, b.Y, c.X),
	}
	minExp := terms[0].exp
	for _, t := range terms[1:] {
		minExp = min(minExp, t.exp)
	}
	sum := new(big.Int)
	for _, t := range terms {
		sum.Add(sum, t.m.Lsh(t.m, uint(t.exp-minExp)))
	}
	return sum.Sign()
}

// orientationXYZ is the sign of the 2x2 determinant ab - ba, with the error
// bounds of a 2x2 determinant; 0 means "not sure".
func orientationXYZ(ab, ba float64) int {
	const (
		relativeError    = 1.12e-16
		maxAbsoluteError = 1.12e-16
		minAbsoluteError = 1.0e-307
	)
	det := ab - ba
	if det > maxAbsoluteError {
		return 1
	} else if det < -maxAbsoluteError {
		return -1
	}
	maxError := relativeError*(math.Abs(ab)+math.Abs(ba)) + minAbsoluteError
	if det > maxError {
		return 1
	} else if det < -maxError {
		return -1
	}
	return 0
}

// orientationZ is orientation(Z, b, c), cheaper than the general case.
func orientationZ(b, c UnitVector3d) int {
	if o := orientationXYZ(b.v.X*c.v.Y, b.v.Y*c.v.X); o != 0 {
		return o
	}
	return orientationExact(Vector3d{0, 0, 1}, b.v, c.v)
}
