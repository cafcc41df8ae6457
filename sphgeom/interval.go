package sphgeom

import (
	"fmt"

	"github.com/gobutler/butler/errs"
)

// latInterval is a closed interval [a, b] of angles (sphgeom's AngleInterval).
// It is empty when !(a <= b); the canonical empty interval is [1, 0].
type latInterval struct{ a, b float64 }

func emptyLat() latInterval { return latInterval{1, 0} }

func (i latInterval) isEmpty() bool { return !(i.a <= i.b) }

func (i latInterval) center() float64 { return 0.5 * (i.a + i.b) }

// contains reports whether x is in i; NaN is in every interval, as in sphgeom.
func (i latInterval) contains(x float64) bool { return (i.a <= x && x <= i.b) || x != x }

func (i latInterval) isDisjointFrom(x latInterval) bool {
	if i.isEmpty() || x.isEmpty() {
		return true
	}
	return i.a > x.b || i.b < x.a
}

func (i latInterval) relate(x latInterval) Relationship {
	switch {
	case i.isEmpty() && x.isEmpty():
		return Contains | Disjoint | Within
	case i.isEmpty():
		return Disjoint | Within
	case x.isEmpty():
		return Contains | Disjoint
	case i.a == x.a && i.b == x.b:
		return Contains | Within
	case i.a > x.b || i.b < x.a:
		return Disjoint
	case i.a <= x.a && i.b >= x.b:
		return Contains
	case x.a <= i.a && x.b >= i.b:
		return Within
	}
	return Intersects
}

func (i latInterval) clippedTo(x latInterval) latInterval {
	if x.isEmpty() {
		return x
	}
	if i.isEmpty() {
		return i
	}
	return latInterval{max(i.a, x.a), min(i.b, x.b)}
}

func (i latInterval) expandedTo(x float64) latInterval {
	switch {
	case i.isEmpty():
		return latInterval{x, x}
	case x < i.a:
		return latInterval{x, i.b}
	case x > i.b:
		return latInterval{i.a, x}
	}
	return i
}

func (i latInterval) expandedToInterval(x latInterval) latInterval {
	if i.isEmpty() {
		return x
	}
	if x.isEmpty() {
		return i
	}
	return latInterval{min(i.a, x.a), max(i.b, x.b)}
}

func (i latInterval) dilatedBy(x float64) latInterval {
	if x != x || i.isEmpty() {
		return i
	}
	return latInterval{i.a - x, i.b + x}
}

// lonInterval is a closed interval of normalized angles in [0, 2π] that wraps
// around 2π when a > b (sphgeom's NormalizedAngleInterval). It is empty when
// either end is NaN and full when it is [0, 2π].
type lonInterval struct{ a, b float64 }

func emptyLon() lonInterval { return lonInterval{qnan(), qnan()} }
func fullLon() lonInterval  { return lonInterval{0, 2 * pi} }

// newLonInterval builds the interval from x to y like sphgeom's
// NormalizedAngleInterval(Angle, Angle): ends outside [0, 2π] are allowed only
// when x <= y, and an interval of 2π or more is full.
func newLonInterval(x, y float64) (lonInterval, error) {
	if x != x || y != y {
		return emptyLon(), nil
	}
	normalized := func(a float64) bool { return a >= 0 && a <= 2*pi }
	if !normalized(x) || !normalized(y) {
		if x > y {
			return lonInterval{}, fmt.Errorf("longitude interval [%v, %v]: %w: invalid endpoints", x, y, errs.ErrInvalid)
		}
		if y-x >= 2*pi {
			return fullLon(), nil
		}
	}
	return lonInterval{normalizedAngle(x), normalizedAngle(y)}, nil
}

func (i lonInterval) isEmpty() bool { return i.a != i.a || i.b != i.b }
func (i lonInterval) isFull() bool  { return i.a == 0 && i.b == 2*pi }
func (i lonInterval) wraps() bool   { return i.a > i.b }
func (i lonInterval) size() float64 { return angleTo(i.a, i.b) }

func (i lonInterval) center() float64 {
	c := 0.5 * (i.a + i.b)
	if i.a <= i.b {
		return c
	}
	// (a + b + 2π) / 2, normalized to [0, 2π)
	if c < pi {
		return c + pi
	}
	return c - pi
}

// contains reports whether x is in i; NaN is in every interval, as in sphgeom.
func (i lonInterval) contains(x float64) bool {
	if x != x {
		return true
	}
	return i.intersects(x)
}

func (i lonInterval) intersects(x float64) bool {
	if i.wraps() {
		return x <= i.b || i.a <= x
	}
	return i.a <= x && x <= i.b
}

func (i lonInterval) isDisjointFrom(x lonInterval) bool {
	if x.isEmpty() || i.isEmpty() {
		return true
	}
	if x.wraps() {
		if i.wraps() {
			return false
		}
		return x.a > i.b && x.b < i.a
	}
	if i.wraps() {
		return i.a > x.b && i.b < x.a
	}
	return x.b < i.a || x.a > i.b
}

func (i lonInterval) relate(x lonInterval) Relationship {
	switch {
	case i.isEmpty() && x.isEmpty():
		return Contains | Disjoint | Within
	case i.isEmpty():
		return Disjoint | Within
	case x.isEmpty():
		return Contains | Disjoint
	case i.a == x.a && i.b == x.b:
		return Contains | Within
	}
	if i.wraps() {
		if x.wraps() {
			switch {
			case i.a <= x.a && i.b >= x.b:
				return Contains
			case i.a >= x.a && i.b <= x.b:
				return Within
			}
			return Intersects
		}
		if x.isFull() {
			return Within
		}
		if i.a <= x.a || i.b >= x.b {
			return Contains
		}
		if i.a > x.b && i.b < x.a {
			return Disjoint
		}
		return Intersects
	}
	if x.wraps() {
		if i.isFull() {
			return Contains
		}
		if x.a <= i.a || x.b >= i.b {
			return Within
		}
		if x.a > i.b && x.b < i.a {
			return Disjoint
		}
		return Intersects
	}
	switch {
	case i.a <= x.a && i.b >= x.b:
		return Contains
	case i.a >= x.a && i.b <= x.b:
		return Within
	case i.a <= x.b && i.b >= x.a:
		return Intersects
	}
	return Disjoint
}

func (i lonInterval) clippedTo(x lonInterval) lonInterval {
	switch {
	case x.isEmpty():
		return emptyLon()
	case i.contains(x.a):
		if i.contains(x.b) {
			// Either i contains x, or the intersection is two pieces; in both
			// cases the shorter of the two intervals bounds it.
			if i.size() >= x.size() {
				return x
			}
			return i
		}
		return lonInterval{x.a, i.b}
	case i.contains(x.b):
		return lonInterval{i.a, x.b}
	case !x.intersects(i.a):
		return emptyLon()
	}
	return i
}

func (i lonInterval) expandedToInterval(x lonInterval) lonInterval {
	if x.isEmpty() {
		return i
	}
	switch {
	case i.contains(x.a):
		if i.contains(x.b) {
			// Either i contains x, or together they cover everything.
			if i.wraps() != x.wraps() {
				return fullLon()
			}
			return i
		}
		return lonInterval{i.a, x.b}
	case i.contains(x.b):
		return lonInterval{x.a, i.b}
	case i.isEmpty() || x.contains(i.a):
		return x
	case angleTo(i.b, x.a) < angleTo(x.b, i.a):
		return lonInterval{i.a, x.b}
	}
	return lonInterval{x.a, i.b}
}

func (i lonInterval) dilatedBy(x float64) lonInterval {
	if i.isEmpty() || i.isFull() || x == 0 || x != x {
		return i
	}
	a := i.a - x
	b := i.b + x
	if x > 0 {
		if x >= pi {
			return fullLon()
		}
		if i.wraps() {
			// If the dilated interval no longer wraps, its ends crossed.
			if a <= b {
				return fullLon()
			}
		} else {
			if a < 0 {
				a += 2 * pi
				if a <= b {
					return fullLon()
				}
			}
			if b > 2*pi {
				b -= 2 * pi
				if a <= b {
					return fullLon()
				}
			}
		}
	} else {
		if x <= -pi {
			return emptyLon()
		}
		if i.wraps() {
			if a > 2*pi {
				a -= 2 * pi
				if a > b {
					return emptyLon()
				}
			}
			if b < 0 {
				b += 2 * pi
				if a > b {
					return emptyLon()
				}
			}
		} else if a > b {
			return emptyLon()
		}
	}
	// sphgeom builds the result with the checking constructor; a and b are in
	// range here except for rounding, which normalizedAngle absorbs.
	r, err := newLonInterval(a, b)
	if err != nil {
		return fullLon()
	}
	return r
}
