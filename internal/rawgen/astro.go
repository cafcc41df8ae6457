package rawgen

import (
	"math"
	"time"
)

// The pointing values only need to be mutually coherent (the alt/az, hour angle and
// airmass of a header agree with its RA/Dec, time and site), not accurate to an
// arcsecond: the time scale is ignored (UT1 ≈ the header clock) and there is no
// precession, nutation or refraction.

const (
	deg  = math.Pi / 180
	mjd0 = 40587.0 // MJD of 1970-01-01
)

// mjd returns the Modified Julian Date of t's clock reading.
func mjd(t time.Time) float64 {
	return mjd0 + float64(t.UnixNano())/86400e9
}

// lstHours returns the local sidereal time in hours at east longitude lon (degrees).
func lstHours(t time.Time, lon float64) float64 {
	d := mjd(t) + 2400000.5 - 2451545.0
	return wrap(18.697374558+24.06570982441908*d+lon/15, 24)
}

func wrap(x, period float64) float64 {
	x = math.Mod(x, period)
	if x < 0 {
		x += period
	}
	return x
}

// hourAngle returns the hour angle in hours, in [-12, 12).
func hourAngle(t time.Time, lon, ra float64) float64 {
	return wrap(lstHours(t, lon)-ra/15+12, 24) - 12
}

// altAz converts RA/Dec (degrees) to altitude and azimuth (degrees, azimuth from north
// through east, in [0, 360)) at time t for a site at lon, lat.
func altAz(t time.Time, lon, lat, ra, dec float64) (alt, az float64) {
	h := hourAngle(t, lon, ra) * 15 * deg
	d, l := dec*deg, lat*deg
	east := -math.Cos(d) * math.Sin(h)
	north := math.Sin(d)*math.Cos(l) - math.Cos(d)*math.Sin(l)*math.Cos(h)
	up := math.Sin(d)*math.Sin(l) + math.Cos(d)*math.Cos(l)*math.Cos(h)
	return math.Asin(up) / deg, wrap(math.Atan2(east, north)/deg, 360)
}

// raDec converts altitude and azimuth (degrees) to RA/Dec (degrees) at time t.
func raDec(t time.Time, lon, lat, alt, az float64) (ra, dec float64) {
	a, z, l := alt*deg, az*deg, lat*deg
	sinDec := math.Sin(a)*math.Sin(l) + math.Cos(a)*math.Cos(l)*math.Cos(z)
	h := math.Atan2(-math.Sin(z)*math.Cos(a), math.Sin(a)*math.Cos(l)-math.Cos(a)*math.Sin(l)*math.Cos(z))
	return wrap(lstHours(t, lon)*15-h/deg, 360), math.Asin(sinDec) / deg
}

// airmass is the plane-parallel sec(z), which is all a header needs.
func airmass(alt float64) float64 {
	return 1 / math.Sin(alt*deg)
}
