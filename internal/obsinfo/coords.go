package obsinfo

import (
	"fmt"
	"math"
	"strings"
)

const deg = math.Pi / 180

// Location is an observatory position, geocentric (ITRS) metres.
type Location struct {
	X, Y, Z float64
}

// geodetic converts WGS84 longitude, latitude (degrees) and height (m) to
// geocentric coordinates, as astropy's EarthLocation.from_geodetic does.
func geodetic(lon, lat, height float64) Location {
	const a = 6378137.0
	const f = 1 / 298.257223563
	e2 := f * (2 - f)
	sinLat, cosLat := math.Sincos(lat * deg)
	sinLon, cosLon := math.Sincos(lon * deg)
	n := a / math.Sqrt(1-e2*sinLat*sinLat)
	return Location{
		X: (n + height) * cosLat * cosLon,
		Y: (n + height) * cosLat * sinLon,
		Z: (n*(1-e2) + height) * sinLat,
	}
}

// Default observatory positions when OBSGEO-X/Y/Z are missing.
var (
	simonyiLocation = geodetic(-70.749417, -30.244639, 2663.0)
	auxTelLocation  = geodetic(-70.747698, -30.244728, 2663.0)
)

// toICRS converts a position in the named frame (from RADESYS, lower case)
// to ICRS degrees, with RA in [0, 360). FK5 uses equinox J2000, as a frame
// named only "fk5" does in astropy; the difference from ICRS is the constant
// frame-bias rotation (USNO Circular 179).
func toICRS(ra, dec float64, frame string) (float64, float64, error) {
	if math.IsNaN(ra) || math.IsNaN(dec) || math.IsInf(ra, 0) || math.IsInf(dec, 0) {
		return 0, 0, fmt.Errorf("RA/Dec (%v, %v) is not finite", ra, dec)
	}
	if dec < -90 || dec > 90 {
		return 0, 0, fmt.Errorf("declination %v is outside [-90, 90]", dec)
	}
	switch strings.ToLower(strings.TrimSpace(frame)) {
	case "icrs":
		return wrap360(ra), dec, nil
	case "fk5":
		v := unitVector(ra, dec)
		// ICRS→FK5(J2000) is B = Rx(-η0)·Ry(ξ0)·Rz(da0); FK5→ICRS is Bᵀ.
		b := matMul(matMul(rotX(19.9/3600000.0), rotY(9.1/3600000.0)), rotZ(-22.9/3600000.0))
		w := [3]float64{
			b[0][0]*v[0] + b[1][0]*v[1] + b[2][0]*v[2],
			b[0][1]*v[0] + b[1][1]*v[1] + b[2][1]*v[2],
			b[0][2]*v[0] + b[1][2]*v[1] + b[2][2]*v[2],
		}
		r := math.Atan2(w[1], w[0]) / deg
		d := math.Atan2(w[2], math.Hypot(w[0], w[1])) / deg
		return wrap360(r), d, nil
	}
	return 0, 0, fmt.Errorf("RADESYS %q is not supported (ICRS or FK5)", frame)
}

func wrap360(a float64) float64 {
	a = math.Mod(a, 360)
	if a < 0 {
		a += 360
	}
	if a >= 360 { // -tiny + 360 rounds to 360
		a = 0
	}
	return a
}

func unitVector(ra, dec float64) [3]float64 {
	sr, cr := math.Sincos(ra * deg)
	sd, cd := math.Sincos(dec * deg)
	return [3]float64{cd * cr, cd * sr, sd}
}

// Rotations of the coordinate frame (passive), angles in degrees, in the
// convention of astropy's rotation_matrix.
func rotX(a float64) [3][3]float64 {
	s, c := math.Sincos(a * deg)
	return [3][3]float64{{1, 0, 0}, {0, c, s}, {0, -s, c}}
}

func rotY(a float64) [3][3]float64 {
	s, c := math.Sincos(a * deg)
	return [3][3]float64{{c, 0, -s}, {0, 1, 0}, {s, 0, c}}
}

func rotZ(a float64) [3][3]float64 {
	s, c := math.Sincos(a * deg)
	return [3][3]float64{{c, s, 0}, {-s, c, 0}, {0, 0, 1}}
}

func matMul(a, b [3][3]float64) [3][3]float64 {
	var out [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				out[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return out
}
