// Package obsinfo translates raw FITS headers of the LSST cameras (LSSTCam,
// LSSTComCam, LATISS and the simulated LSSTCamSim and LSSTComCamSim) into an
// ObservationInfo, following astro_metadata_translator and obs_lsst: the
// translator is chosen from the header, the header is corrected (per-
// observation correction files, then the translator's own date-dependent
// fix-ups), and each property is derived as upstream derives it.
//
// Times are TAI nanoseconds since 1970-01-01 TAI, angles degrees, durations
// seconds.
package obsinfo

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/instrument"
	"github.com/gobutler/butler/timespan"
)

// ObservationInfo holds the standard properties of one raw (one detector of
// one exposure). Pointers are nil where upstream gives None.
type ObservationInfo struct {
	// Translator is the upstream translator name ("LSSTCam", "LSST_LATISS", ...).
	Translator string

	Instrument, Telescope string
	Location              *Location // nil off the mountain

	ExposureID int64
	// VisitID is derived from Group; the legacy exposure column group_id.
	VisitID int64

	DetectorNum                                                     int64
	DetectorName, DetectorGroup, DetectorSerial, DetectorUniqueName string
	DetectorExposureID                                              int64

	ObsID             string // observation_id; the exposure's obs_id
	PhysicalFilter    string
	ObservationType   string
	ObservationReason string
	ScienceProgram    string
	TargetName        string // upstream's "object"
	// Group is exposure_group: the group dimension (universe >= 6) or the
	// legacy group_name column.
	Group string

	DayObs int64 // observing_day, YYYYMMDD
	// DayObsOffset is observing_day_offset in seconds; nil when unknown.
	DayObsOffset *int64
	SeqNum       int64 // observation_counter
	SeqStart     int64 // group_counter_start
	SeqEnd       int64 // group_counter_end

	Begin, End int64 // datetime_begin, datetime_end (TAI ns)

	// ExposureTime may be the shutter-open time; ExposureTimeRequested is
	// what the exposure record stores.
	ExposureTime, ExposureTimeRequested float64
	DarkTime                            float64

	TrackingRA, TrackingDec *float64 // ICRS
	AltAzBegin, AltAzEnd    *AltAz
	// Azimuth and ZenithAngle come from AltAzBegin.
	Azimuth, ZenithAngle *float64
	// SkyAngle is the rotation angle when the exposure tracks the sky in
	// "sky" rotation coordinates, as the exposure record stores it.
	SkyAngle               *float64
	BoresightRotationAngle *float64
	BoresightRotationCoord string
	BoresightAirmass       *float64

	FocusZ           float64  // mm
	Temperature      *float64 // °C
	Pressure         *float64 // Pa
	RelativeHumidity *float64 // %

	HasSimulatedContent bool
	CanSeeSky           *bool

	// Correction is the per-observation correction file applied, if any.
	Correction string
	// Failed maps each property that could not be translated to the reason;
	// the property's field then holds its zero value or nil. Only optional
	// properties (see Translate) can fail without failing the translation.
	Failed map[string]string
}

// Options changes how a header is translated; the zero value is what
// ingest-raws does.
type Options struct {
	// Pedantic makes every property a required one, as obs_lsst's unit tests
	// translate; ingest does not.
	Pedantic bool
	// Corrections are searched, in order, for <instrument>-<obsid>.yaml
	// before the corrections embedded in this package (upstream's
	// $METADATA_CORRECTIONS_PATH).
	Corrections []fs.FS
}

// requiredProps are the properties ingest-raws cannot do without: a
// failure, or an undefined value, rejects the file. The other properties it
// records (altaz_begin, boresight_rotation_coord, boresight_rotation_angle,
// dark_time, tracking_radec, object, observation_counter,
// observation_reason, observing_day_offset, science_program, visit_id,
// can_see_sky) are optional: a failure leaves them undefined.
var requiredProps = []string{
	"datetime_begin", "datetime_end", "detector_num", "exposure_group", "exposure_id",
	"exposure_time_requested", "group_counter_end", "group_counter_start",
	"has_simulated_content", "instrument", "observation_id", "observation_type",
	"observing_day", "physical_filter",
}

// Translate translates a header as ingest-raws does (see TranslateWith).
func Translate(h Header, filename string) (*ObservationInfo, error) {
	return TranslateWith(h, filename, Options{})
}

// TranslateWith picks the translator that accepts the header, corrects a
// copy of the header, and derives every property. The caller's map is not
// modified.
//
// Errors: no LSST translator for the header, or one for an LSST instrument
// this butler does not handle (test stands, imSim, PhoSim, UCDCam):
// errs.ErrUnsupported. A required property (see requiredProps; every property when
// opts.Pedantic) that fails or is undefined: errs.ErrInvalid, naming the
// property and the header key at fault.
func TranslateWith(h Header, filename string, opts Options) (*ObservationInfo, error) {
	what := "translate header"
	if filename != "" {
		what = fmt.Sprintf("translate header of %q", filename)
	}
	f, other := selectTranslator(h)
	if f == nil {
		return nil, fmt.Errorf("%s: %w", what, unsupportedError(h, other))
	}
	cam, err := instrument.Lookup(f.camera)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	fixed := maps.Clone(h)
	correction, fixErr, err := fixHeader(fixed, f, opts.Corrections)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	t := &tr{f: f, h: fixed, cam: cam}
	o := &ObservationInfo{Translator: f.translator, Instrument: f.instrument, Telescope: t.telescope(),
		Correction: correction, Failed: map[string]string{}}
	if fixErr != nil {
		// Upstream logs a failed fix-up and translates what it has.
		o.Failed["fix_header"] = fixErr.Error()
	}
	required := map[string]bool{}
	for _, p := range requiredProps {
		required[p] = true
	}
	var fatal []string
	fail := func(prop string, err error) {
		if errors.Is(err, errAltAzTracking) {
			// Upstream succeeds here; we leave the position undefined
			// rather than fail a translation upstream accepts.
			o.Failed[prop] = err.Error()
			return
		}
		o.Failed[prop] = err.Error()
		if opts.Pedantic || required[prop] {
			fatal = append(fatal, fmt.Sprintf("%s: %v", prop, err))
		}
	}
	undefined := func(prop string) { fail(prop, errors.New("value is undefined")) }
	t.fill(o, fail, undefined)
	if len(fatal) > 0 {
		return nil, fmt.Errorf("%s with translator %s: %w: %s", what, f.translator, errs.ErrInvalid, strings.Join(fatal, "; "))
	}
	if len(o.Failed) == 0 {
		o.Failed = nil
	}
	return o, nil
}

// Identify names the upstream translator that accepts the header, in
// upstream's order ("LSSTCam", "LSST_LATISS", "LSST-TS8", ...; "" when none
// does), and whether this package translates for it. Ingest reads HDU 1 and
// merges it over HDU 0 only when no translator accepts HDU 0 (name == ""),
// as obs_base does.
func Identify(h Header) (name string, supported bool) {
	f, other := selectTranslator(h)
	if f != nil {
		return f.translator, true
	}
	return other, false
}

// FixHeader returns a corrected copy of the header, as TranslateWith
// corrects it before translating: the per-observation correction file, then
// the translator's own fix-ups. A header no translator accepts is
// errs.ErrUnsupported.
func FixHeader(h Header, opts Options) (Header, error) {
	f, other := selectTranslator(h)
	if f == nil {
		return nil, fmt.Errorf("fix header: %w", unsupportedError(h, other))
	}
	fixed := maps.Clone(h)
	if _, _, err := fixHeader(fixed, f, opts.Corrections); err != nil {
		return nil, fmt.Errorf("fix header: %w", err)
	}
	return fixed, nil
}

// fill computes every property, reporting failures through fail and
// undefined required values through undefined.
func (t *tr) fill(o *ObservationInfo, fail func(string, error), undefined func(string)) {
	if b, err := t.begin(); err != nil {
		fail("datetime_begin", err)
	} else {
		o.Begin = b
	}
	if e, err := t.end(); err != nil {
		fail("datetime_end", err)
	} else {
		o.End = e
	}
	if loc, err := t.location(); err != nil {
		fail("location", err)
	} else {
		o.Location = loc
	}
	if id, err := t.exposureID(); err != nil {
		fail("exposure_id", err)
	} else if id == nil {
		undefined("exposure_id")
	} else {
		o.ExposureID = *id
	}
	if g, err := t.group(); err != nil {
		fail("exposure_group", err)
	} else if g == nil {
		undefined("exposure_group")
	} else {
		o.Group = *g
	}
	if v, err := t.visitID(); err != nil {
		fail("visit_id", err)
	} else {
		o.VisitID = v
	}
	if group, name, err := t.detectorGroupName(); err != nil {
		fail("detector_group", err)
		fail("detector_name", err)
		fail("detector_unique_name", err)
	} else {
		o.DetectorGroup, o.DetectorName = group, name
		o.DetectorUniqueName = group + "_" + name
	}
	if n, err := t.detectorNum(); err != nil {
		fail("detector_num", err)
	} else {
		o.DetectorNum = *n
		if _, failed := o.Failed["exposure_id"]; failed {
			fail("detector_exposure_id", errors.New("exposure id is undefined"))
		} else if id, err := DetectorExposureID(o.ExposureID, o.DetectorNum); err != nil {
			fail("detector_exposure_id", err)
		} else {
			o.DetectorExposureID = id
		}
	}
	if _, failed := o.Failed["detector_num"]; failed {
		fail("detector_exposure_id", errors.New("detector number is undefined"))
	}
	if s, err := t.detectorSerial(); err != nil {
		fail("detector_serial", err)
	} else {
		o.DetectorSerial = s
	}
	if id, err := t.observationID(); err != nil {
		fail("observation_id", err)
	} else if id == nil {
		undefined("observation_id")
	} else {
		o.ObsID = *id
	}
	if v, err := t.physicalFilter(); err != nil {
		fail("physical_filter", err)
	} else {
		o.PhysicalFilter = v
	}
	if v, err := t.observationType(); err != nil {
		fail("observation_type", err)
	} else {
		o.ObservationType = v
	}
	if v, err := t.observationReason(); err != nil {
		fail("observation_reason", err)
	} else {
		o.ObservationReason = v
	}
	o.ScienceProgram = t.scienceProgram()
	if v, err := t.object(); err != nil {
		fail("object", err)
	} else {
		o.TargetName = v
	}
	if v, err := t.observingDay(); err != nil {
		fail("observing_day", err)
	} else {
		o.DayObs = v
	}
	if v, err := t.observingDayOffset(); err != nil {
		fail("observing_day_offset", err)
	} else {
		o.DayObsOffset = &v
	}
	if v, err := t.observationCounter(); err != nil {
		fail("observation_counter", err)
	} else {
		o.SeqNum = v
	}
	if v, err := t.groupCounter(false); err != nil {
		fail("group_counter_start", err)
	} else {
		o.SeqStart = v
	}
	if v, err := t.groupCounter(true); err != nil {
		fail("group_counter_end", err)
	} else {
		o.SeqEnd = v
	}
	if v, err := t.exposureTime(); err != nil {
		fail("exposure_time", err)
	} else {
		o.ExposureTime = v
	}
	if v, err := t.exposureTimeRequested(); err != nil {
		fail("exposure_time_requested", err)
	} else {
		o.ExposureTimeRequested = v
	}
	if v, err := t.darkTime(); err != nil {
		fail("dark_time", err)
	} else {
		o.DarkTime = v
	}
	o.HasSimulatedContent = t.hasSimulatedContent()
	if v, err := t.canSeeSky(); err != nil {
		fail("can_see_sky", err)
	} else {
		o.CanSeeSky = v
	}
	if v, err := t.altazBegin(); err != nil {
		fail("altaz_begin", err)
	} else if v != nil {
		o.AltAzBegin = v
		az, zen := v.Az, 90-v.Alt
		o.Azimuth, o.ZenithAngle = &az, &zen
	}
	if v, err := t.altazEnd(); err != nil {
		fail("altaz_end", err)
	} else {
		o.AltAzEnd = v
	}
	if v, err := t.trackingRADec(); err != nil {
		fail("tracking_radec", err)
	} else if v != nil {
		o.TrackingRA, o.TrackingDec = &v[0], &v[1]
	}
	if v, err := t.rotationCoord(); err != nil {
		fail("boresight_rotation_coord", err)
	} else {
		o.BoresightRotationCoord = v
	}
	if v, err := t.rotationAngle(); err != nil {
		fail("boresight_rotation_angle", err)
	} else {
		o.BoresightRotationAngle = &v
		if o.TrackingRA != nil && o.BoresightRotationCoord == "sky" {
			sky := v
			o.SkyAngle = &sky
		}
	}
	if v, err := t.boresightAirmass(); err != nil {
		fail("boresight_airmass", err)
	} else {
		o.BoresightAirmass = v
	}
	if v, err := t.focusZ(); err != nil {
		fail("focus_z", err)
	} else {
		o.FocusZ = v
	}
	if v, err := t.optionalNum("AIRTEMP"); err != nil {
		fail("temperature", err)
	} else {
		o.Temperature = v
	}
	if v, err := t.pressure(); err != nil {
		fail("pressure", err)
	} else {
		o.Pressure = v
	}
	if v, err := t.optionalNum("HUMIDITY"); err != nil {
		fail("relative_humidity", err)
	} else {
		o.RelativeHumidity = v
	}
}

// OK reports whether the named property (upstream's name, e.g. "dark_time")
// was translated; an exposure record stores NULL for one that was not.
func (o *ObservationInfo) OK(property string) bool {
	_, failed := o.Failed[property]
	return !failed
}

// Timespan is the exposure's [begin, end) as the exposure record stores it:
// an end before the begin is replaced by the begin, and an instant is padded
// to one nanosecond.
func (o *ObservationInfo) Timespan() timespan.Timespan {
	end := max(o.End, o.Begin)
	if end == o.Begin {
		return timespan.Instant(o.Begin)
	}
	return timespan.New(o.Begin, end)
}

// DayObsTimespan is the day_obs record's timespan; ok is false when the
// day offset is unknown (the record's timespan is then NULL).
func (o *ObservationInfo) DayObsTimespan() (ts timespan.Timespan, ok bool, err error) {
	if o.DayObsOffset == nil {
		return timespan.Timespan{}, false, nil
	}
	ts, err = DayObsTimespan(o.DayObs, *o.DayObsOffset)
	return ts, err == nil, err
}

// ExposureRecord returns the exposure dimension record's columns for the
// given dimension universe version (0–8), as obs_base builds it: NULL
// columns are nil. timespan_begin/timespan_end hold TAI ns. Unknown
// versions are errs.ErrUnsupported.
func (o *ObservationInfo) ExposureRecord(universeVersion int) (map[string]any, error) {
	if universeVersion < 0 || universeVersion > 8 {
		return nil, fmt.Errorf("exposure record for dimension universe %d: %w", universeVersion, errs.ErrUnsupported)
	}
	ptr := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	ts := o.Timespan()
	r := map[string]any{
		"instrument":         o.Instrument,
		"id":                 o.ExposureID,
		"obs_id":             o.ObsID,
		"physical_filter":    o.PhysicalFilter,
		"exposure_time":      o.ExposureTimeRequested,
		"dark_time":          nil,
		"observation_type":   o.ObservationType,
		"observation_reason": nil,
		"day_obs":            o.DayObs,
		"seq_num":            nil,
		"target_name":        nil,
		"science_program":    nil,
		"tracking_ra":        ptr(o.TrackingRA),
		"tracking_dec":       ptr(o.TrackingDec),
		"sky_angle":          ptr(o.SkyAngle),
		"zenith_angle":       ptr(o.ZenithAngle),
		"timespan_begin":     ts.Begin,
		"timespan_end":       ts.End,
	}
	for col, prop := range map[string]string{"dark_time": "dark_time", "observation_reason": "observation_reason",
		"seq_num": "observation_counter", "target_name": "object", "science_program": "science_program"} {
		if !o.OK(prop) {
			continue
		}
		switch col {
		case "dark_time":
			r[col] = o.DarkTime
		case "observation_reason":
			r[col] = o.ObservationReason
		case "seq_num":
			r[col] = o.SeqNum
		case "target_name":
			r[col] = o.TargetName
		case "science_program":
			r[col] = o.ScienceProgram
		}
	}
	if universeVersion <= 5 {
		r["group_name"] = o.Group
		r["group_id"] = nil
		if o.OK("visit_id") {
			r["group_id"] = o.VisitID
		}
	} else {
		r["group"] = o.Group
	}
	if universeVersion >= 2 {
		r["seq_start"], r["seq_end"] = o.SeqStart, o.SeqEnd
		r["azimuth"] = ptr(o.Azimuth)
		r["has_simulated"] = o.HasSimulatedContent
	}
	if universeVersion >= 7 {
		r["can_see_sky"] = nil
		if o.CanSeeSky != nil {
			r["can_see_sky"] = *o.CanSeeSky
		}
	}
	return r, nil
}

// FailedProperties lists the properties that could not be translated, sorted.
func (o *ObservationInfo) FailedProperties() []string {
	return slices.Sorted(maps.Keys(o.Failed))
}
