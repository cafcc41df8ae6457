package sphgeom

import (
	"fmt"
	"math"
)

// Box is a longitude/latitude box: the points with longitude in a (possibly
// wrapping) interval and latitude in an interval. It contains its boundary.
type Box struct {
	lon lonInterval
	lat latInterval
}

// EmptyBox returns the box containing no points.
func EmptyBox() Box { return Box{emptyLon(), emptyLat()} }

// FullBox returns the box containing the whole sphere.
func FullBox() Box { return Box{fullLon(), allLatitudes()} }

func allLatitudes() latInterval { return latInterval{-0.5 * pi, 0.5 * pi} }

// NewBox returns the box spanning longitudes lon1 to lon2 (counter-clockwise,
// wrapping through 0 when lon1 > lon2) and latitudes lat1 to lat2, in radians,
// like sphgeom's Box(LonLat(lon1, lat1), LonLat(lon2, lat2)). Latitudes are
// clipped to [-π/2, π/2]; lat1 > lat2 gives an empty box.
func NewBox(p1, p2 LonLat) Box {
	return newBox(lonInterval{float64(p1.Lon), float64(p2.Lon)}, latInterval{float64(p1.Lat), float64(p2.Lat)})
}

// BoxFromDegrees returns the box spanning longitudes lon1 to lon2 and latitudes
// lat1 to lat2, in degrees, like sphgeom's Box.fromDegrees. Longitudes may lie
// outside [0, 360] only if lon1 <= lon2 (-90..90 is a box across 0); a span of
// 360 or more is every longitude.
func BoxFromDegrees(lon1, lat1, lon2, lat2 float64) (Box, error) {
	return BoxFromRadians(lon1*radPerDeg, lat1*radPerDeg, lon2*radPerDeg, lat2*radPerDeg)
}

// BoxFromRadians is BoxFromDegrees in radians.
func BoxFromRadians(lon1, lat1, lon2, lat2 float64) (Box, error) {
	lon, err := newLonInterval(lon1, lon2)
	if err != nil {
		return Box{}, err
	}
	return newBox(lon, latInterval{lat1, lat2}), nil
}

// newBoxAround returns the box centered on p with half-width w and half-height h
// (sphgeom's Box(LonLat, Angle, Angle)).
func newBoxAround(lon, lat, w, h float64) Box {
	return newBox(lonInterval{lon, lon}.dilatedBy(w), latInterval{lat, lat}.dilatedBy(h))
}

// newBox applies sphgeom's invariants: latitudes within [-π/2, π/2], and both
// intervals empty or neither.
func newBox(lon lonInterval, lat latInterval) Box {
	lat = lat.clippedTo(allLatitudes())
	if lat.isEmpty() || lon.isEmpty() {
		// Canonical empty intervals (C++'s quiet NaN, not whatever NaN an
		// infinite endpoint produced), so that encodings are stable.
		lon, lat = emptyLon(), emptyLat()
	}
	return Box{lon, lat}
}

// Lon returns the longitude interval [a, b] in radians; it wraps when a > b.
func (b Box) Lon() (lo, hi float64) { return b.lon.a, b.lon.b }

// Lat returns the latitude interval [a, b] in radians.
func (b Box) Lat() (lo, hi float64) { return b.lat.a, b.lat.b }

func (b Box) IsEmpty() bool { return b.lat.isEmpty() }
func (b Box) IsFull() bool  { return b.lon.isFull() && b.lat == allLatitudes() }

func (b Box) Contains(v UnitVector3d) bool {
	lon, lat := lonLatOf(v.v)
	return b.lat.contains(lat) && b.lon.contains(lon)
}

func (b Box) intersectsBox(x Box) bool {
	return !b.lat.isDisjointFrom(x.lat) && !b.lon.isDisjointFrom(x.lon)
}

func (b Box) relateBox(x Box) Relationship {
	r1 := b.lon.relate(x.lon)
	r2 := b.lat.relate(x.lat)
	// Disjoint in either coordinate means disjoint; containment must hold in both.
	return (r1 & r2 & (Contains | Within)) | ((r1 | r2) & Disjoint)
}

// expandedTo returns the smallest box containing b and x (no invariants
// re-applied, as in sphgeom's Box::expandTo).
func (b Box) expandedTo(x Box) Box {
	return Box{b.lon.expandedToInterval(x.lon), b.lat.expandedToInterval(x.lat)}
}

func (b Box) clippedTo(x Box) Box {
	return newBox(b.lon.clippedTo(x.lon), b.lat.clippedTo(x.lat))
}

func (b Box) BoundingBox() Box { return b }

// BoundingCircle returns a circle containing the box (sphgeom's minimal bounding
// circle construction).
func (b Box) BoundingCircle() Circle {
	if b.IsEmpty() {
		return EmptyCircle()
	}
	if b.IsFull() {
		return FullCircle()
	}
	w := b.lon.size()
	if w <= pi {
		verts := [4]UnitVector3d{
			fromLonLat(b.lon.a, b.lat.a),
			fromLonLat(b.lon.a, b.lat.b),
			fromLonLat(b.lon.b, b.lat.a),
			fromLonLat(b.lon.b, b.lat.b),
		}
		// The center lies on the meridian bisecting the box: at the latitude
		// equidistant from all four corners if that lies between the latitudes
		// closest to each pair of corners, else at the better of those two.
		var phi1, phi2, phi3 float64
		c := math.Cos(0.5 * w)
		if c == 0 {
			phi1 = math.Copysign(0.5*pi, b.lat.a)
			phi2 = math.Copysign(0.5*pi, b.lat.b)
			phi3 = 0
		} else {
			phi1 = math.Atan(math.Tan(b.lat.a) / c)
			phi2 = math.Atan(math.Tan(b.lat.b) / c)
			phi3 = math.Atan(c * math.Tan(b.lat.center()))
		}
		var p UnitVector3d
		if phi1 <= phi3 && phi3 <= phi2 {
			p = fromLonLat(b.lon.center(), phi3)
		} else {
			p1 := fromLonLat(b.lon.center(), phi1)
			p2 := fromLonLat(b.lon.center(), phi2)
			if p1.Dot(verts[0].v) > p2.Dot(verts[1].v) {
				p = p2
			} else {
				p = p1
			}
		}
		// Use the largest corner distance so every corner is inside whatever
		// the rounding above, plus twice the chord length error so the circle
		// reliably contains the box.
		cl2 := 0.0
		for _, v := range verts {
			cl2 = max(cl2, p.v.Sub(v.v).SquaredNorm())
		}
		return newCircleChord(p, cl2+2*maxSquaredChordLengthError)
	}
	// Wider than π: the smaller polar cap, or a circle on the equator if smaller.
	var r float64
	var v UnitVector3d
	if math.Abs(b.lat.a) <= math.Abs(b.lat.b) {
		v = unitZ()
		r = 0.5*pi - b.lat.a
	} else {
		v = unitZ().Neg()
		r = b.lat.b + 0.5*pi
	}
	if !b.lon.isFull() && 0.5*w < r {
		r = 0.5 * w
		v = fromLonLat(b.lon.center(), 0)
	}
	return NewCircle(v, Angle(r+4*maxAsinError))
}

// halfWidthForCircle returns the half-width in longitude of the bounding box of
// a circle with opening angle r centered at latitude lat.
func halfWidthForCircle(r, lat float64) float64 {
	if r <= 0 {
		return 0
	}
	if math.Abs(lat)+r >= 0.5*pi {
		// The circle contains a pole.
		return pi
	}
	s := math.Abs(math.Sin(r) / math.Cos(lat))
	if s >= 1 {
		return 0.5 * pi
	}
	return math.Asin(s)
}

// relateCircle is sphgeom's exact box-circle relationship (within rounding
// error bounds).
func (b Box) relateCircle(c Circle) Relationship {
	switch {
	case b.IsEmpty() && c.IsEmpty():
		return Contains | Disjoint | Within
	case b.IsEmpty():
		return Disjoint | Within
	case c.IsEmpty():
		return Contains | Disjoint
	case b.IsFull() && c.IsFull():
		return Contains | Within
	case b.IsFull():
		return Contains
	case c.IsFull():
		return Within
	}
	// If the box vertices are not all inside or all outside c, the boundaries cross.
	verts := [4]UnitVector3d{
		fromLonLat(b.lon.a, b.lat.a),
		fromLonLat(b.lon.a, b.lat.b),
		fromLonLat(b.lon.b, b.lat.a),
		fromLonLat(b.lon.b, b.lat.b),
	}
	inside := false
	for i, v := range verts {
		d := v.v.Sub(c.center.v).SquaredNorm()
		if math.Abs(d-c.scl) < maxSquaredChordLengthError {
			return Intersects // a vertex is on the circle boundary
		}
		in := d < c.scl
		if i == 0 {
			inside = in
		} else if inside != in {
			return Intersects
		}
	}
	norms := [2]UnitVector3d{orthogonalToLon(b.lon.a), orthogonalToLon(b.lon.b)}
	if inside {
		// All vertices are inside c; look for edge points outside it.
		for i := range 2 {
			d := maxSquaredChordLength(c.center.v, verts[2*i+1].v, verts[2*i].v, norms[i].v)
			if d > c.scl-maxSquaredChordLengthError {
				return Intersects
			}
		}
		ccLon, ccLat := lonLatOf(c.center.v.Neg())
		if b.lon.contains(ccLon) {
			// The points of the constant-latitude edges farthest from the
			// center of c are inside those edges.
			a := min(math.Abs(ccLat-b.lat.a), math.Abs(ccLat-b.lat.b))
			d := squaredChordLengthFor(pi - a)
			if d > c.scl-maxSquaredChordLengthError {
				return Intersects
			}
		}
		// The box boundary is inside c, but c may still punch a hole in the box:
		// that is the case when the box contains the anti-center of c.
		if b.lat.contains(ccLat) && b.lon.contains(ccLon) {
			return Intersects
		}
		return Within
	}
	// All vertices are outside c; look for edge points inside it.
	for i := range 2 {
		d := minSquaredChordLength(c.center.v, verts[2*i+1].v, verts[2*i].v, norms[i].v)
		if d < c.scl+maxSquaredChordLengthError {
			return Intersects
		}
	}
	cLon, cLat := lonLatOf(c.center.v)
	if b.lon.contains(cLon) {
		a := min(math.Abs(cLat-b.lat.a), math.Abs(cLat-b.lat.b))
		d := squaredChordLengthFor(a)
		if d < c.scl+maxSquaredChordLengthError {
			return Intersects
		}
	}
	// The boundaries do not meet: either the box contains c or they are disjoint.
	if b.lat.contains(cLat) && b.lon.contains(cLon) {
		return Contains
	}
	return Disjoint
}

func (b Box) Relate(r Region) Relationship   { return relate(b, r) }
func (b Box) OverlapState(r Region) TriState { return overlaps(b, r) }
func (b Box) Overlaps(r Region) bool         { return overlaps(b, r) != TriFalse }
func (b Box) Encode() []byte                 { return encodeFloats('b', b.lon.a, b.lon.b, b.lat.a, b.lat.b) }
func (Box) region()                          {}

func (b Box) String() string {
	return fmt.Sprintf("Box(lon=[%.17g, %.17g], lat=[%.17g, %.17g])", b.lon.a, b.lon.b, b.lat.a, b.lat.b)
}
