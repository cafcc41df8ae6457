package sphgeom

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gobutler/butler/errs"
)

// The constructors below build regions the way daf_butler's where-expression
// functions do (python/lsst/daf/butler/queries/_expression_strings.py and
// queries/tree/_column_literal.py). All take degrees.

// Point returns the region daf_butler makes of POINT(ra, dec), a LonLat bind or
// a SkyCoord: a circle of zero radius at that position.
func Point(raDeg, decDeg float64) (Circle, error) {
	p, err := NewLonLatDeg(raDeg, decDeg)
	if err != nil {
		return Circle{}, err
	}
	return Circle{p.UnitVector(), 0, 0}, nil
}

// NewCircleDeg returns the circle centered on (ra, dec) with the given radius
// (opening angle), all in degrees, as sphgeom's Region.from_ivoa_pos builds
// "CIRCLE ra dec radius".
//
// Note: daf_butler's where-expression CIRCLE(ra, dec, r) builds its circle with
// an opening angle of 2r, not r (visitCircleNode, since the function was added);
// to reproduce its results, pass 2*r.
func NewCircleDeg(raDeg, decDeg, radiusDeg float64) (Circle, error) {
	p, err := NewLonLatDeg(raDeg, decDeg)
	if err != nil {
		return Circle{}, err
	}
	if math.IsNaN(radiusDeg) {
		return Circle{}, fmt.Errorf("circle radius %v: %w", radiusDeg, errs.ErrInvalid)
	}
	return NewCircle(p.UnitVector(), AngleFromDegrees(radiusDeg)), nil
}

// NewBoxDeg returns the region of daf_butler's BOX(ra, dec, width, height): the
// longitude/latitude box centered on (ra, dec) spanning width degrees of
// longitude and height degrees of latitude in full (sphgeom's Box(center,
// width/2, height/2)). The width is an angle of longitude, not of arc.
func NewBoxDeg(raDeg, decDeg, widthDeg, heightDeg float64) (Box, error) {
	p, err := NewLonLatDeg(raDeg, decDeg)
	if err != nil {
		return Box{}, err
	}
	if math.IsNaN(widthDeg) || math.IsNaN(heightDeg) {
		return Box{}, fmt.Errorf("box size (%v, %v): %w", widthDeg, heightDeg, errs.ErrInvalid)
	}
	halfW := AngleFromDegrees(widthDeg / 2)
	halfH := AngleFromDegrees(heightDeg / 2)
	return newBoxAround(float64(p.Lon), float64(p.Lat), float64(halfW), float64(halfH)), nil
}

// NewPolygonDeg returns the region of daf_butler's POLYGON(ra1, dec1, ra2, dec2,
// ...): the convex hull of at least three vertices, in any order.
func NewPolygonDeg(coords ...float64) (ConvexPolygon, error) {
	if len(coords)%2 != 0 {
		return ConvexPolygon{}, fmt.Errorf("polygon: %w: odd number of coordinates (%d)", errs.ErrInvalid, len(coords))
	}
	if len(coords) < 6 {
		return ConvexPolygon{}, fmt.Errorf("polygon: %w: at least 3 vertices needed, got %d", errs.ErrInvalid, len(coords)/2)
	}
	points := make([]UnitVector3d, len(coords)/2)
	for i := range points {
		p, err := NewLonLatDeg(coords[2*i], coords[2*i+1])
		if err != nil {
			return ConvexPolygon{}, fmt.Errorf("polygon vertex %d: %w", i, err)
		}
		points[i] = p.UnitVector()
	}
	return NewConvexPolygon(points)
}

// ParsePOS parses an IVOA SIAv2 POS string, as daf_butler's REGION('...')
// does through sphgeom's Region.from_ivoa_pos:
//
//	CIRCLE <lon> <lat> <radius>
//	RANGE <lon1> <lon2> <lat1> <lat2>     (±Inf allowed: lon 0/360, lat -90/90)
//	POLYGON <lon1> <lat1> <lon2> <lat2> <lon3> <lat3> ...
//
// Everything is in degrees; the shape name is case-sensitive, as upstream.
func ParsePOS(s string) (Region, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("POS %q: %w: empty", s, errs.ErrInvalid)
	}
	shape := fields[0]
	nums := make([]float64, len(fields)-1)
	for i, f := range fields[1:] {
		v, err := parsePOSFloat(f)
		if err != nil {
			return nil, fmt.Errorf("POS %q: %w: %q is not a number", s, errs.ErrInvalid, f)
		}
		nums[i] = v
	}
	switch shape {
	case "CIRCLE":
		if len(nums) != 3 {
			return nil, fmt.Errorf("POS %q: %w: CIRCLE requires 3 numbers but got %d", s, errs.ErrInvalid, len(nums))
		}
		c, err := NewCircleDeg(nums[0], nums[1], nums[2])
		if err != nil {
			return nil, fmt.Errorf("POS %q: %w", s, err)
		}
		return c, nil
	case "RANGE":
		if len(nums) != 4 {
			return nil, fmt.Errorf("POS %q: %w: RANGE requires 4 numbers but got %d", s, errs.ErrInvalid, len(nums))
		}
		// POS allows ±Inf, which sphgeom's Box does not: map them to the limits.
		p1, err := NewLonLatDeg(infTo(nums[0], 0, 360), infTo(nums[2], -90, 90))
		if err != nil {
			return nil, fmt.Errorf("POS %q: %w", s, err)
		}
		p2, err := NewLonLatDeg(infTo(nums[1], 0, 360), infTo(nums[3], -90, 90))
		if err != nil {
			return nil, fmt.Errorf("POS %q: %w", s, err)
		}
		return NewBox(p1, p2), nil
	case "POLYGON":
		p, err := NewPolygonDeg(nums...)
		if err != nil {
			return nil, fmt.Errorf("POS %q: %w", s, err)
		}
		return p, nil
	}
	return nil, fmt.Errorf("POS %q: %w: unrecognized shape %q", s, errs.ErrInvalid, shape)
}

// parsePOSFloat parses a number the way Python's float() does for the forms a
// POS string uses, including "+Inf" and "-inf". Hexadecimal and underscores,
// which strconv would accept, are refused.
func parsePOSFloat(f string) (float64, error) {
	if strings.ContainsAny(f, "_xXpP") {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseFloat(f, 64)
}

func infTo(v, lo, hi float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return hi
	case math.IsInf(v, -1):
		return lo
	}
	return v
}
