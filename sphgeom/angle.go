package sphgeom

import (
	"fmt"
	"math"

	"github.com/gobutler/butler/errs"
)

// Angle is an angle in radians.
type Angle float64

// AngleFromDegrees converts degrees to an Angle the way sphgeom does (d * π/180).
func AngleFromDegrees(d float64) Angle { return Angle(d * radPerDeg) }

func (a Angle) Radians() float64 { return float64(a) }
func (a Angle) Degrees() float64 { return float64(a) * degPerRad }

// normalizedAngle maps a to [0, 2π] like sphgeom's NormalizedAngle. NaN stays NaN.
func normalizedAngle(a float64) float64 {
	switch {
	case a < 0:
		return math.Mod(a, 2*pi) + 2*pi
	case a > 2*pi:
		return math.Mod(a, 2*pi)
	}
	return a
}

// angleTo returns the angle from a to b, going counter-clockwise, in [0, 2π).
func angleTo(a, b float64) float64 {
	d := b - a
	if d < 0 {
		return 2*pi + d
	}
	return d
}

// LonLat is a point on the sphere in spherical coordinates: Lon in [0, 2π],
// Lat in [-π/2, π/2].
type LonLat struct {
	Lon, Lat Angle
}

// NewLonLatDeg returns the point at longitude lon and latitude lat, in degrees.
// The longitude is wrapped into [0, 360); a latitude outside [-90, 90] or a
// non-finite coordinate is an error (sphgeom: "invalid latitude angle").
func NewLonLatDeg(lon, lat float64) (LonLat, error) {
	if math.IsNaN(lon) || math.IsInf(lon, 0) || math.IsNaN(lat) || math.IsInf(lat, 0) {
		return LonLat{}, fmt.Errorf("point (%v, %v): %w: coordinates must be finite", lon, lat, errs.ErrInvalid)
	}
	latRad := lat * radPerDeg
	if math.Abs(latRad) > 0.5*pi {
		return LonLat{}, fmt.Errorf("point (%v, %v): %w: invalid latitude angle", lon, lat, errs.ErrInvalid)
	}
	return LonLat{Angle(normalizedAngle(lon * radPerDeg)), Angle(latRad)}, nil
}

// LonLatOf returns the spherical coordinates of v.
func LonLatOf(v UnitVector3d) LonLat {
	return LonLat{Angle(longitudeOf(v.v)), Angle(latitudeOf(v.v))}
}

// UnitVector returns the unit vector for p. Like sphgeom, the result is not
// renormalized.
func (p LonLat) UnitVector() UnitVector3d { return fromLonLat(float64(p.Lon), float64(p.Lat)) }

func (p LonLat) String() string {
	return fmt.Sprintf("[%.17g, %.17g]", float64(p.Lon), float64(p.Lat))
}

func fromLonLat(lon, lat float64) UnitVector3d {
	sinLon, cosLon := math.Sin(lon), math.Cos(lon)
	sinLat, cosLat := math.Sin(lat), math.Cos(lat)
	return UnitVector3d{Vector3d{cosLon * cosLat, sinLon * cosLat, sinLat}}
}

func latitudeOf(v Vector3d) float64 {
	d2 := v.X*v.X + v.Y*v.Y
	lat := 0.0
	if v.Z != 0 {
		lat = math.Atan2(v.Z, math.Sqrt(d2))
		if math.Abs(lat) > 0.5*pi {
			lat = math.Copysign(0.5*pi, lat)
		}
	}
	return lat
}

func longitudeOf(v Vector3d) float64 {
	d2 := v.X*v.X + v.Y*v.Y
	lon := 0.0
	if d2 != 0 {
		lon = math.Atan2(v.Y, v.X)
		if lon < 0 {
			lon += 2 * pi
		}
	}
	return lon
}

// lonLatOf returns (lon, lat) of v; if either is NaN both are, as in sphgeom.
func lonLatOf(v Vector3d) (lon, lat float64) {
	lon, lat = longitudeOf(v), latitudeOf(v)
	if math.IsNaN(lon) || math.IsNaN(lat) {
		return qnan(), qnan()
	}
	return lon, lat
}

// qnan is the quiet NaN C++'s std::numeric_limits<double>::quiet_NaN() gives
// (Go's math.NaN has a different payload); empty boxes encode it.
func qnan() float64 { return math.Float64frombits(0x7ff8000000000000) }
