package cli

import (
	"encoding/hex"
	"strings"
	"time"

	"github.com/gobutler/butler/internal/pyrepr"
	"github.com/gobutler/butler/sphgeom"
	"github.com/gobutler/butler/timespan"
)

// timespanText is daf_butler's str(Timespan): "[begin, end)" as TAI calendar
// times to the second, "(-∞, " and "∞)" for unbounded ends, "(empty)" for an
// empty span. Like astropy's Time.strftime, the time is first rounded to the
// millisecond, then printed without the fraction.
func timespanText(ts timespan.Timespan) string {
	if ts.IsEmpty() {
		return "(empty)"
	}
	head, tail := "(-∞, ", "∞)"
	if ts.Begin > timespan.Min {
		head = "[" + secondsTAI(ts.Begin) + ", "
	}
	if ts.End < timespan.Max {
		tail = secondsTAI(ts.End) + ")"
	}
	return head + tail
}

func secondsTAI(ns int64) string {
	const ms = int64(time.Millisecond)
	rounded := (ns + ms/2) / ms * ms // erfa's d2dtf rounds half away from zero; times here are positive
	return time.Unix(0, rounded).UTC().Format("2006-01-02T15:04:05")
}

// timespanJSON is a timespan in JSON and YAML output: {"begin": ..., "end": ...}
// as TAI ISO-8601 times with nanoseconds, null for an unbounded end;
// {"empty": true} for an empty span.
func timespanJSON(ts timespan.Timespan) map[string]any {
	if ts.IsEmpty() {
		return map[string]any{"empty": true}
	}
	m := map[string]any{"begin": nil, "end": nil, "scale": "tai"}
	if ts.Begin > timespan.Min {
		m["begin"] = timespan.FormatTAI(ts.Begin)
	}
	if ts.End < timespan.Max {
		m["end"] = timespan.FormatTAI(ts.End)
	}
	return m
}

// regionJSON is a region in JSON and YAML output: {"encoded": hex of
// sphgeom's binary encoding (what Region.encode().hex() gives in Python),
// "pos": the IVOA POS string of sphgeom's to_ivoa_pos}. "pos" is left out for
// regions POS cannot express (ellipses, unions, intersections), and replaced
// by "error" when the bytes do not decode.
func regionJSON(b []byte) map[string]any {
	m := map[string]any{"encoded": hex.EncodeToString(b)}
	r, err := sphgeom.Decode(b)
	if err != nil {
		m["error"] = err.Error()
		return m
	}
	if pos := ivoaPOS(r); pos != "" {
		m["pos"] = pos
	}
	return m
}

// ivoaPOS is sphgeom's Region.to_ivoa_pos(): degrees, each number as Python's
// repr prints it. "" when the region has no POS form.
func ivoaPOS(r sphgeom.Region) string {
	deg := func(rad float64) string { return pyrepr.Float(sphgeom.Angle(rad).Degrees()) }
	switch x := r.(type) {
	case sphgeom.ConvexPolygon:
		parts := []string{"POLYGON"}
		for _, v := range x.Vertices() {
			ll := sphgeom.LonLatOf(v)
			parts = append(parts, deg(ll.Lon.Radians()), deg(ll.Lat.Radians()))
		}
		return strings.Join(parts, " ")
	case sphgeom.Circle:
		ll := sphgeom.LonLatOf(x.Center())
		return strings.Join([]string{"CIRCLE", deg(ll.Lon.Radians()), deg(ll.Lat.Radians()), deg(x.OpeningAngle().Radians())}, " ")
	case sphgeom.Box:
		lon1, lon2 := x.Lon()
		lat1, lat2 := x.Lat()
		return strings.Join([]string{"RANGE", deg(lon1), deg(lon2), deg(lat1), deg(lat2)}, " ")
	}
	return ""
}
