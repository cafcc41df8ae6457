package obsinfo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/gobutler/butler/errs"
)

// LoadTranslated reads a sidecar or index entry that holds an already
// translated ObservationInfo ("__CONTENT__": "translated"), as
// astro_metadata_translator serializes it (see ParseTranslated).
func LoadTranslated(path string) (*ObservationInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read translated metadata %q: %w", path, err)
	}
	o, err := ParseTranslated(b)
	if err != nil {
		return nil, fmt.Errorf("read translated metadata %q: %w", path, err)
	}
	return o, nil
}

// ParseTranslated decodes astro_metadata_translator's simple (JSON) form of
// an ObservationInfo: times as TAI (jd1, jd2), durations in seconds, angles
// and coordinates in degrees, focus_z in metres, temperature in kelvin,
// pressure in hPa, observing_day_offset in seconds. Ingest accepts such a
// record as it is, but every required property must be present and defined
// (errs.ErrInvalid otherwise).
func ParseTranslated(b []byte) (*ObservationInfo, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: JSON: %w", errs.ErrInvalid, err)
	}
	if c, ok := raw["__CONTENT__"]; ok && c != "translated" {
		return nil, fmt.Errorf("%w: __CONTENT__ is %v, not \"translated\"", errs.ErrInvalid, c)
	}
	o := &ObservationInfo{}
	if v, ok := raw["_translator"].(string); ok {
		o.Translator = v
	}
	var problems []string
	bad := func(prop string, v any) { problems = append(problems, fmt.Sprintf("%s: unusable value %v", prop, v)) }
	num := func(v any) (float64, bool) {
		n, isNum := v.(json.Number)
		if !isNum {
			return 0, false
		}
		f, err := n.Float64()
		return f, err == nil
	}
	integer := func(v any) (int64, bool) {
		n, isNum := v.(json.Number)
		if !isNum {
			return 0, false
		}
		i, err := n.Int64()
		return i, err == nil
	}
	pair := func(v any) ([2]float64, bool) {
		a, isList := v.([]any)
		if !isList || len(a) != 2 {
			return [2]float64{}, false
		}
		x, ok1 := num(a[0])
		y, ok2 := num(a[1])
		return [2]float64{x, y}, ok1 && ok2
	}
	fp := func(f float64) *float64 { return &f }
	seen := map[string]bool{}
	for prop, v := range raw {
		if v == nil {
			continue // undefined; checked below for required properties
		}
		seen[prop] = true
		ok := true
		switch prop {
		case "__CONTENT__", "_translator", "translator_name":
		case "instrument", "telescope", "detector_name", "detector_group", "detector_serial", "detector_unique_name",
			"observation_id", "physical_filter", "observation_type", "observation_reason", "science_program",
			"object", "exposure_group", "boresight_rotation_coord":
			s, isStr := v.(string)
			ok = isStr
			dst := map[string]*string{"instrument": &o.Instrument, "telescope": &o.Telescope,
				"detector_name": &o.DetectorName, "detector_group": &o.DetectorGroup, "detector_serial": &o.DetectorSerial,
				"detector_unique_name": &o.DetectorUniqueName, "observation_id": &o.ObsID, "physical_filter": &o.PhysicalFilter,
				"observation_type": &o.ObservationType, "observation_reason": &o.ObservationReason,
				"science_program": &o.ScienceProgram, "object": &o.TargetName, "exposure_group": &o.Group,
				"boresight_rotation_coord": &o.BoresightRotationCoord}[prop]
			*dst = s
		case "exposure_id", "visit_id", "detector_num", "detector_exposure_id", "observing_day",
			"observation_counter", "group_counter_start", "group_counter_end", "observing_day_offset":
			var i int64
			i, ok = integer(v)
			switch prop {
			case "exposure_id":
				o.ExposureID = i
			case "visit_id":
				o.VisitID = i
			case "detector_num":
				o.DetectorNum = i
			case "detector_exposure_id":
				o.DetectorExposureID = i
			case "observing_day":
				o.DayObs = i
			case "observation_counter":
				o.SeqNum = i
			case "group_counter_start":
				o.SeqStart = i
			case "group_counter_end":
				o.SeqEnd = i
			case "observing_day_offset":
				o.DayObsOffset = &i
			}
		case "datetime_begin", "datetime_end":
			var jd [2]float64
			if jd, ok = pair(v); ok {
				var ns int64
				ns, ok = jdToNs(jd[0], jd[1])
				if prop == "datetime_begin" {
					o.Begin = ns
				} else {
					o.End = ns
				}
			}
		case "exposure_time", "exposure_time_requested", "dark_time", "focus_z":
			var f float64
			f, ok = num(v)
			switch prop {
			case "exposure_time":
				o.ExposureTime = f
			case "exposure_time_requested":
				o.ExposureTimeRequested = f
			case "dark_time":
				o.DarkTime = f
			case "focus_z":
				o.FocusZ = f * 1000 // metres to mm
			}
		case "boresight_airmass", "boresight_rotation_angle", "relative_humidity", "temperature", "pressure":
			var f float64
			f, ok = num(v)
			switch prop {
			case "boresight_airmass":
				o.BoresightAirmass = fp(f)
			case "boresight_rotation_angle":
				o.BoresightRotationAngle = fp(f)
			case "relative_humidity":
				o.RelativeHumidity = fp(f)
			case "temperature":
				o.Temperature = fp(f - 273.15) // kelvin to °C
			case "pressure":
				o.Pressure = fp(f * 100) // hPa to Pa
			}
		case "has_simulated_content":
			o.HasSimulatedContent, ok = v.(bool)
		case "can_see_sky":
			var c bool
			c, ok = v.(bool)
			o.CanSeeSky = &c
		case "tracking_radec":
			var p [2]float64
			if p, ok = pair(v); ok {
				o.TrackingRA, o.TrackingDec = fp(wrap360(p[0])), fp(p[1])
			}
		case "altaz_begin", "altaz_end":
			var p [2]float64
			if p, ok = pair(v); ok {
				aa := &AltAz{Az: wrap360(p[0]), Alt: p[1]}
				if prop == "altaz_begin" {
					o.AltAzBegin = aa
					zen := 90 - aa.Alt
					o.Azimuth, o.ZenithAngle = fp(aa.Az), &zen
				} else {
					o.AltAzEnd = aa
				}
			}
		case "location":
			a, isList := v.([]any)
			ok = isList && len(a) == 3
			if ok {
				var xyz [3]float64
				for i := range a {
					var okc bool
					if xyz[i], okc = num(a[i]); !okc {
						ok = false
					}
				}
				o.Location = &Location{X: xyz[0], Y: xyz[1], Z: xyz[2]}
			}
		default:
			// Extensions (ext_*) and properties added upstream later are
			// not needed by ingest.
		}
		if !ok {
			bad(prop, v)
		}
	}
	if o.TrackingRA != nil && o.BoresightRotationCoord == "sky" && o.BoresightRotationAngle != nil {
		o.SkyAngle = fp(*o.BoresightRotationAngle)
	}
	for _, p := range requiredProps {
		if !seen[p] {
			problems = append(problems, p+": missing or null")
		}
	}
	o.Failed = map[string]string{}
	for _, p := range []string{"dark_time", "observation_reason", "observation_counter", "object", "science_program", "visit_id"} {
		if !seen[p] {
			o.Failed[p] = "not in the translated record"
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: translated ObservationInfo: %v", errs.ErrInvalid, problems)
	}
	if len(o.Failed) == 0 {
		o.Failed = nil
	}
	return o, nil
}

// jdToNs converts a TAI two-part Julian date to TAI ns since 1970.
func jdToNs(jd1, jd2 float64) (int64, bool) {
	if math.IsNaN(jd1) || math.IsNaN(jd2) || math.IsInf(jd1, 0) || math.IsInf(jd2, 0) {
		return 0, false
	}
	// JD 2440587.5 is 1970-01-01T00:00; whole half-days are exact in int64.
	halfDays := jd1*2 - 4881175
	if halfDays != math.Trunc(halfDays) || math.Abs(halfDays) > 1e7 {
		return int64(math.Round((jd1 - 2440587.5 + jd2) * 86400e9)), true
	}
	return int64(halfDays)*43200*nsPerSecond + int64(math.Round(jd2*86400e9)), true
}
