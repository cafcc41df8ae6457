package obsinfo

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobutler/butler/internal/instrument"
	"github.com/gobutler/butler/timespan"
)

// family is what distinguishes one LSST translator from another; the
// Python class hierarchy (LsstBaseTranslator → LsstCamTranslator →
// ComCam/ComCamSim/LSSTCamSim, and LatissTranslator) becomes flags here.
type family struct {
	// translator is the upstream translator name, instrument the
	// instrument dimension value.
	translator, instrument string
	latiss                 bool // LatissTranslator rules instead of LsstCamTranslator's
	// Day-offset and on-mountain rules of LSSTCam and ComCam: lab data use
	// the US/Pacific offset before shipMonth (YYYYMM); data are on the
	// telescope after onTelescope (TAI ns).
	shipMonth   int
	onTelescope int64
	// simulated cameras: always on the mountain, 12 h offset, simulated content.
	simulated bool
	// canCheckObstype lets can_see_sky fall back to the observation type.
	canCheckObstype bool
	// comCamSim fills missing alt/az from RA/Dec and airmass.
	comCamSim bool
	camera    string // instrument name whose detector table maps RAFTBAY_CCDSLOT
}

var (
	famLSSTCam = &family{translator: "LSSTCam", instrument: "LSSTCam", shipMonth: 202405,
		onTelescope: utcConst(2025, time.March, 1, 0, 0), camera: "LSSTCam"}
	famComCam = &family{translator: "LSSTComCam", instrument: "LSSTComCam", shipMonth: 202003,
		onTelescope: utcConst(2024, time.August, 24, 0, 0), camera: "LSSTComCam"}
	famComCamSim = &family{translator: "LSSTComCamSim", instrument: "LSSTComCamSim", simulated: true,
		canCheckObstype: true, comCamSim: true, camera: "LSSTComCamSim"}
	famLSSTCamSim = &family{translator: "LSSTCamSim", instrument: "LSSTCamSim", simulated: true,
		canCheckObstype: true, camera: "LSSTCamSim"}
	famLATISS = &family{translator: "LSST_LATISS", instrument: "LATISS", latiss: true, canCheckObstype: true, camera: "LATISS"}
)

// Dates of LATISS header conventions (UTC).
var (
	latissOnSky          = utcConst(2020, time.January, 1, 0, 0)
	latissDetector068    = utcConst(2019, time.June, 24, 0, 0)
	latissImgTypeOK      = utcConst(2019, time.November, 7, 0, 0)
	latissObjectIsEng    = utcConst(2020, time.January, 27, 20, 0)
	latissRADecRadians   = utcConst(2020, time.January, 28, 22, 0)
	latissRAStartBad     = utcConst(2020, time.May, 1, 0, 0)
	latissRAStartHours   = utcConst(2021, time.February, 11, 18, 45)
	latissRAStartOK      = utcConst(2021, time.February, 12, 0, 0)
	latissDateEndBad     = utcConst(2020, time.February, 1, 0, 0)
	latissRotPA180Begin  = utcConst(2020, time.November, 19, 0, 0)
	latissRotPA180End    = utcConst(2021, time.October, 29, 0, 0)
	latissSpecColonUntil = utcConst(2022, time.July, 10, 0, 0)
	comCamToChile        = utcConst(2020, time.March, 13, 0, 0)
)

const (
	simonyiTelescope = "Simonyi Survey Telescope"
	auxTelescope     = "Rubin Auxiliary Telescope"
	rolloverSeconds  = 12 * 3600
)

// AltAz is a horizontal position in degrees, azimuth in [0, 360).
type AltAz struct {
	Az, Alt float64
}

// tr translates one (already fixed) header with one family's rules.
type tr struct {
	f   *family
	h   Header
	cam *instrument.Instrument
}

// keyError is a missing or unusable header key.
type keyError struct {
	key, problem string
}

func (e *keyError) Error() string { return fmt.Sprintf("header key %s %s", e.key, e.problem) }

func missing(key string) error { return &keyError{key: key, problem: "is missing or undefined"} }

// ok is astro_metadata_translator's is_key_ok: present and defined.
func (t *tr) ok(k string) bool {
	v, present := t.h[k]
	return present && v != nil
}

func (t *tr) present(k string) bool {
	_, present := t.h[k]
	return present
}

// str returns a defined string value.
func (t *tr) str(k string) (string, error) {
	v, present := t.h[k]
	if !present || v == nil {
		return "", missing(k)
	}
	s, isStr := v.(string)
	if !isStr {
		return "", &keyError{key: k, problem: fmt.Sprintf("is %v, not a string", v)}
	}
	return s, nil
}

// num returns a defined numeric value; numeric strings count, as in
// astro_metadata_translator's quantity_from_card.
func (t *tr) num(k string) (float64, error) {
	v, present := t.h[k]
	if !present || v == nil {
		return 0, missing(k)
	}
	f, isNum := toFloat(v)
	if !isNum {
		return 0, &keyError{key: k, problem: fmt.Sprintf("is %q, not a number", pyStr(v))}
	}
	return f, nil
}

// strictNum is a value used directly in arithmetic (no string conversion).
func (t *tr) strictNum(k string) (float64, error) {
	v, present := t.h[k]
	if !present || v == nil {
		return 0, missing(k)
	}
	switch v := v.(type) {
	case float64:
		return v, nil
	case int64:
		return float64(v), nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	}
	return 0, &keyError{key: k, problem: fmt.Sprintf("is %q, not a number", pyStr(v))}
}

func (t *tr) integer(k string) (int64, error) {
	v, present := t.h[k]
	if !present || v == nil {
		return 0, missing(k)
	}
	i, isInt := toInt(v)
	if !isInt {
		return 0, &keyError{key: k, problem: fmt.Sprintf("is %q, not an integer", pyStr(v))}
	}
	return i, nil
}

// first returns the first defined key of keys, or "".
func (t *tr) first(keys ...string) string {
	for _, k := range keys {
		if t.ok(k) {
			return k
		}
	}
	return ""
}

func (t *tr) telescope() string {
	if t.f.latiss {
		return auxTelescope
	}
	return simonyiTelescope
}

// controller is CONTRLLR, or "" when undefined.
func (t *tr) controller() string {
	if !t.ok("CONTRLLR") {
		return ""
	}
	return pyStr(t.h["CONTRLLR"])
}

// begin is datetime_begin: the first defined of MJD-BEG, DATE-BEG, MJD-OBS,
// DATE-OBS, always TAI whatever TIMESYS says.
func (t *tr) begin() (int64, error) {
	k := t.first("MJD-BEG", "DATE-BEG", "MJD-OBS", "DATE-OBS")
	if k == "" {
		return 0, fmt.Errorf("%w (nor DATE-BEG, MJD-OBS, DATE-OBS)", missing("MJD-BEG"))
	}
	return t.timeValue(k, "tai")
}

func (t *tr) timeValue(k, scale string) (int64, error) {
	v := t.h[k]
	var ns int64
	var err error
	if strings.HasPrefix(k, "MJD") {
		f, isNum := toFloat(v)
		if !isNum {
			return 0, &keyError{key: k, problem: fmt.Sprintf("is %q, not an MJD", pyStr(v))}
		}
		ns, err = mjdToNs(f, scale)
	} else {
		s, isStr := v.(string)
		if !isStr {
			return 0, &keyError{key: k, problem: fmt.Sprintf("is %v, not a date string", v)}
		}
		ns, err = isoToNs(s, scale)
	}
	if err != nil {
		return 0, &keyError{key: k, problem: err.Error()}
	}
	return ns, nil
}

// end is datetime_end: DATE-END in the TIMESYS scale (UTC when TIMESYS is
// undefined), else begin + exposure_time (begin when that is negative).
func (t *tr) end() (int64, error) {
	if t.ok("DATE-END") {
		scale := "utc"
		if t.ok("TIMESYS") {
			scale = strings.ToLower(pyStr(t.h["TIMESYS"]))
		}
		return t.timeValue("DATE-END", scale)
	}
	b, err := t.begin()
	if err != nil {
		return 0, err
	}
	exp, err := t.exposureTime()
	if err != nil {
		return 0, err
	}
	if exp < 0 {
		return b, nil
	}
	return b + int64(math.Round(exp*1e9)), nil
}

func (t *tr) isOnMountain() (bool, error) {
	if t.f.simulated {
		return true, nil
	}
	if !t.f.latiss && t.controller() == "H" {
		return true, nil // PhoSim data count as on the mountain
	}
	b, err := t.begin()
	if err != nil {
		return false, err
	}
	if t.f.latiss {
		return b > latissOnSky, nil
	}
	return b > t.f.onTelescope, nil
}

var nonSkyTypes = map[string]bool{"bias": true, "dark": true, "flat": true}

func (t *tr) isOnSky() (bool, error) {
	if t.ok("TRACKSYS") && strings.ToLower(pyStr(t.h["TRACKSYS"])) == "local" {
		return false, nil
	}
	ot, err := t.observationType()
	if err != nil {
		return false, err
	}
	if nonSkyTypes[ot] {
		return false, nil
	}
	return t.isOnMountain()
}

func (t *tr) observationType() (string, error) {
	if !t.f.latiss {
		if !t.present("IMGTYPE") {
			return "", missing("IMGTYPE")
		}
		s, err := t.str("IMGTYPE")
		if err != nil {
			return "", err
		}
		s = strings.ToLower(s)
		if s == "skyexp" || s == "object" {
			s = "science"
		}
		return s, nil
	}
	if k := t.first("OBSTYPE", "IMGTYPE"); k != "" {
		s, err := t.str(k)
		if err != nil {
			return "", err
		}
		s = strings.ToLower(s)
		if s == "object" {
			onMountain, err := t.isOnMountain()
			if err != nil {
				return "", err
			}
			if !onMountain {
				return "labobject", nil
			}
		}
		if s == "skyexp" || s == "object" {
			s = "science"
		}
		return s, nil
	}
	exp, err := t.exposureTime()
	if err != nil {
		return "", err
	}
	if exp == 0 {
		return "bias", nil
	}
	return "unknown", nil
}

func (t *tr) exposureTimeRequested() (float64, error) {
	if t.f.latiss {
		return t.exposureTime()
	}
	return t.num("EXPTIME")
}

func (t *tr) exposureTime() (float64, error) {
	if t.f.latiss {
		if t.ok("EXPTIME") {
			return t.num("EXPTIME")
		}
		return -1, nil // upstream's marker for an unknown exposure time
	}
	if t.ok("SHUTTIME") {
		s, err := t.strictNum("SHUTTIME")
		if err != nil {
			return 0, err
		}
		if s > 0 {
			return s, nil
		}
	}
	return t.exposureTimeRequested()
}

func (t *tr) darkTime() (float64, error) {
	exp, err := t.exposureTime()
	if !t.ok("DARKTIME") {
		return exp, err
	}
	if t.f.latiss {
		if err != nil {
			return 0, err
		}
		d, err := t.num("DARKTIME")
		if err != nil {
			return 0, err
		}
		if d >= exp {
			return d, nil
		}
		return exp, nil
	}
	return t.strictNum("DARKTIME")
}

func (t *tr) observationReason() (string, error) {
	if k := t.first("REASON", "TESTTYPE"); k != "" {
		s, err := t.str(k)
		if err != nil {
			return "", err
		}
		return strings.ToLower(s), nil
	}
	ot, err := t.observationType()
	if err != nil {
		return "", err
	}
	if ot == "science" {
		return "science", nil
	}
	return "unknown", nil
}

var emptyFilterRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^empty_?\d*$`)
})

func (t *tr) physicalFilter() (string, error) {
	if t.f.latiss {
		primary := "unknown"
		if t.ok("FILTER") {
			s, err := t.str("FILTER")
			if err != nil {
				return "", err
			}
			primary = s
			if emptyFilterRE().MatchString(strings.ToLower(s)) {
				primary = "empty"
			}
		}
		grating := "unknown"
		if t.ok("GRATING") {
			s, err := t.str("GRATING")
			if err != nil {
				return "", err
			}
			grating = s
			if s == "" || strings.HasPrefix(strings.ToLower(s), "empty") {
				grating = "empty"
			}
		}
		return primary + "~" + grating, nil
	}
	var parts []string
	for _, k := range []string{"FILTER", "FILTER1", "FILTER2"} {
		if t.ok(k) {
			parts = append(parts, pyStr(t.h[k]))
		}
	}
	joined := strings.Join(parts, "~")
	if joined == "" {
		joined = "unknown"
	}
	joined = strings.ReplaceAll(joined, "NONE", "none")
	for strings.HasSuffix(joined, "~empty") {
		joined = strings.TrimSuffix(joined, "~empty")
	}
	return joined, nil
}

// exposureID is nil for calibration products (CALIB_ID present).
func (t *tr) exposureID() (*int64, error) {
	if t.present("CALIB_ID") {
		return nil, nil
	}
	if !t.ok("DAYOBS") {
		return nil, missing("DAYOBS")
	}
	if !t.ok("SEQNUM") {
		return nil, missing("SEQNUM")
	}
	var dayObs string
	switch v := t.h["DAYOBS"].(type) {
	case string:
		dayObs = v
	case int64:
		dayObs = strconv.FormatInt(v, 10)
	default:
		return nil, &keyError{key: "DAYOBS", problem: fmt.Sprintf("is %v, not a date", v)}
	}
	var seq int64
	switch v := t.h["SEQNUM"].(type) {
	case int64:
		seq = v
	case string:
		i, isInt := pyInt(v)
		if !isInt {
			return nil, &keyError{key: "SEQNUM", problem: fmt.Sprintf("is %q, not an integer", v)}
		}
		seq = i
	default:
		return nil, &keyError{key: "SEQNUM", problem: fmt.Sprintf("is %v, not an integer", v)}
	}
	id, err := ExposureID(dayObs, seq, t.controller())
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// group is exposure_group: GROUPID, else the exposure id as a string.
func (t *tr) group() (*string, error) {
	if t.ok("GROUPID") {
		s := pyStr(t.h["GROUPID"])
		return &s, nil
	}
	id, err := t.exposureID()
	if err != nil || id == nil {
		return nil, err
	}
	s := strconv.FormatInt(*id, 10)
	return &s, nil
}

func (t *tr) visitID() (int64, error) {
	g, err := t.group()
	if err != nil {
		return 0, err
	}
	if g == nil {
		return 0, errors.New("exposure group is undefined")
	}
	return VisitIDFromGroup(*g)
}

// dayOffset is observing_day_offset in seconds for an observation that
// began at the given TAI time.
func (t *tr) dayOffset(begin int64) int64 {
	if t.f.latiss || t.f.simulated {
		return rolloverSeconds
	}
	cal := taiCalendar(begin)
	if cal.Year()*100+int(cal.Month()) >= t.f.shipMonth {
		return rolloverSeconds
	}
	return pacificOffset(timespan.ToUTC(begin))
}

func (t *tr) observingDayOffset() (int64, error) {
	b, err := t.begin()
	if err != nil {
		return 0, err
	}
	return t.dayOffset(b), nil
}

func (t *tr) observingDay() (int64, error) {
	if t.ok("DAYOBS") {
		return t.integer("DAYOBS")
	}
	b, err := t.begin()
	if err != nil {
		return 0, err
	}
	cal := taiCalendar(b - t.dayOffset(b)*nsPerSecond)
	return int64(cal.Year()*10000 + int(cal.Month())*100 + cal.Day()), nil
}

func (t *tr) observationCounter() (int64, error) {
	if t.ok("SEQNUM") {
		return t.integer("SEQNUM")
	}
	return 0, nil // upstream warns and uses 0
}

func (t *tr) groupCounter(end bool) (int64, error) {
	counter, err := t.observationCounter()
	if err != nil {
		return 0, err
	}
	if t.ok("CURINDEX") && (!end || t.ok("MAXINDEX")) {
		cur, err := t.integer("CURINDEX")
		if err != nil {
			return 0, err
		}
		if !end {
			return counter - cur + 1, nil
		}
		maxIndex, err := t.integer("MAXINDEX")
		if err != nil {
			return 0, err
		}
		return counter + maxIndex - cur, nil
	}
	if counter != 0 {
		return counter, nil
	}
	id, err := t.exposureID()
	if err != nil {
		return 0, err
	}
	if id == nil {
		return 0, errors.New("exposure id is undefined")
	}
	return *id, nil
}

func (t *tr) hasSimulatedContent() bool {
	if t.f.simulated {
		return true
	}
	for k, v := range t.h {
		if strings.Contains(k, "SIMULATE") && truthy(v) {
			return true
		}
	}
	c := t.controller()
	return c != "" && strings.Contains(simulatedControllers, c)
}

func (t *tr) canSeeSky() (*bool, error) {
	yes, no := true, false
	if !t.f.latiss {
		onMountain, err := t.isOnMountain()
		if err != nil {
			return nil, err
		}
		if !onMountain {
			return &no, nil // lab data
		}
	}
	if t.ok("SHUTTIME") {
		if s, isNum := toFloat(t.h["SHUTTIME"]); isNum && s == 0 {
			if _, isStr := t.h["SHUTTIME"].(string); !isStr {
				return &no, nil // the shutter never opened
			}
		}
	}
	if t.ok("VIGN_MIN") {
		switch t.h["VIGN_MIN"] {
		case "FULLY":
			return &no, nil
		case "UNKNOWN":
			return nil, nil
		}
		return &yes, nil
	}
	if t.f.canCheckObstype || t.controller() == "H" {
		ot, err := t.observationType()
		if err != nil {
			return nil, err
		}
		switch ot {
		case "science", "object":
			return &yes, nil
		case "bias", "dark", "flat":
			return &no, nil
		}
	}
	return nil, nil
}

// errAltAzTracking marks the one upstream path we do not reproduce: deriving
// the tracking RA/Dec from alt/az (LATISS headers whose DATE-OBS had to be
// replaced by DATE), which needs a full astrometric transformation.
var errAltAzTracking = errors.New("tracking RA/Dec derived from alt/az (DATE-OBS equals DATE) is not supported")

// trackingRADec returns ICRS degrees, or nil.
func (t *tr) trackingRADec() (*[2]float64, error) {
	ot, err := t.observationType()
	if err != nil {
		return nil, err
	}
	if ot == "bias" || ot == "flat" {
		return nil, nil // darks may track; flats and biases never do
	}
	if t.ok("TRACKSYS") && pyStr(t.h["TRACKSYS"]) != "RADEC" {
		return nil, nil
	}
	radec, err := t.trackingFromHeaders()
	if err == nil || errors.Is(err, errAltAzTracking) {
		return radec, err
	}
	onSky, skyErr := t.isOnSky()
	if skyErr != nil {
		return nil, skyErr
	}
	if onSky {
		return nil, err
	}
	return nil, nil
}

func (t *tr) trackingFromHeaders() (*[2]float64, error) {
	date, hasDate := t.h["DATE"]
	if !hasDate {
		return nil, missing("DATE")
	}
	if dateObs := t.h["DATE-OBS"]; dateObs == date {
		altaz, err := t.altaz("AZSTART", "ELSTART")
		if err != nil {
			return nil, err
		}
		if altaz == nil {
			return nil, errors.New("alt/az is undefined")
		}
		return nil, errAltAzTracking
	}
	frame := "icrs"
	if t.ok("RADESYS") {
		frame = strings.ToLower(strings.TrimSpace(pyStr(t.h["RADESYS"])))
		if frame == "gappt" {
			return nil, nil // moving target
		}
	}
	for _, pair := range [][2]string{{"RASTART", "DECSTART"}, {"RA", "DEC"}} {
		if !t.ok(pair[0]) || !t.ok(pair[1]) {
			continue
		}
		ra, err := t.strictNum(pair[0])
		if err != nil {
			return nil, err
		}
		dec, err := t.strictNum(pair[1])
		if err != nil {
			return nil, err
		}
		r, d, err := toICRS(ra, dec, frame)
		if err != nil {
			return nil, err
		}
		return &[2]float64{r, d}, nil
	}
	ot, err := t.observationType()
	if err != nil {
		return nil, err
	}
	if ot == "science" {
		return nil, errors.New("unable to determine tracking RA/Dec of science observation (no RASTART/DECSTART or RA/DEC)")
	}
	return nil, nil
}

func (t *tr) altazBegin() (*AltAz, error) {
	if t.f.comCamSim && !(t.ok("ELSTART") && t.ok("AZSTART")) {
		if !(t.ok("RA") && t.ok("DEC")) {
			return nil, nil
		}
		// Simulated ops-rehearsal files: a made-up position whose elevation
		// follows the airmass, when there is one.
		elevation := 45.0
		onSky, err := t.isOnSky()
		if err != nil {
			return nil, err
		}
		if onSky {
			if !t.ok("AMSTART") {
				// upstream recurses into altaz_begin here and fails
				return nil, errors.New("airmass needs alt/az, which needs airmass")
			}
			am, err := t.strictNum("AMSTART")
			if err != nil {
				return nil, err
			}
			if am < 1 {
				return nil, fmt.Errorf("airmass %v is below 1", am)
			}
			elevation = math.Asin(1/am) / deg
		}
		return &AltAz{Az: 0, Alt: elevation}, nil
	}
	return t.altaz("AZSTART", "ELSTART")
}

func (t *tr) altazEnd() (*AltAz, error) {
	if t.f.latiss && t.present("AELEND") && !t.present("ELEND") {
		return nil, nil // a header typo wrote AAZEND/AELEND for a year
	}
	if t.f.simulated && !(t.ok("ELEND") && t.ok("AZEND")) {
		return nil, nil
	}
	return t.altaz("AZEND", "ELEND")
}

func (t *tr) altaz(azKey, elKey string) (*AltAz, error) {
	onMountain, err := t.isOnMountain()
	if err != nil {
		return nil, err
	}
	if !onMountain {
		return nil, nil
	}
	both := t.ok(azKey) && t.ok(elKey)
	if t.controller() == "H" && !both {
		return nil, nil
	}
	if both {
		az, err := t.strictNum(azKey)
		if err != nil {
			return nil, err
		}
		alt, err := t.strictNum(elKey)
		if err != nil {
			return nil, err
		}
		if !(az < -360 || alt < -90) {
			alt = math.Min(alt, 90) // the telescope may lean past zenith
			alt = math.Max(alt, -5.55)
			return &AltAz{Az: wrap360(az), Alt: alt}, nil
		}
	}
	ot, err := t.observationType()
	if err != nil {
		return nil, err
	}
	if ot == "science" {
		return nil, fmt.Errorf("unable to determine alt/az of science observation (%s/%s)", azKey, elKey)
	}
	return nil, nil
}

func (t *tr) boresightAirmass() (*float64, error) {
	onSky, err := t.isOnSky()
	if err != nil || !onSky {
		return nil, err
	}
	if t.ok("AMSTART") {
		am, err := t.strictNum("AMSTART")
		if err != nil {
			return nil, err
		}
		return &am, nil
	}
	altaz, err := t.altazBegin()
	if err != nil {
		return nil, err
	}
	am := 1.0
	if altaz != nil {
		am = 1 / math.Sin(altaz.Alt*deg)
	}
	return &am, nil
}

// nonScienceOrLab is the checker that allows a default: fine unless this is
// a science observation (or its type is unknown) on the mountain.
func (t *tr) nonScienceOrLab() error {
	ot, err := t.observationType()
	if err == nil && ot != "science" {
		return nil
	}
	onMountain, mErr := t.isOnMountain()
	if mErr != nil {
		return mErr
	}
	if !onMountain {
		return nil
	}
	return errors.New("required key is missing and this is a mountain science observation")
}

func (t *tr) rotationAngle() (float64, error) {
	def := 0.0
	if t.f.latiss {
		def = math.NaN()
	}
	k := t.first("ROTPA", "ROTANGLE")
	if k == "" {
		if err := t.nonScienceOrLab(); err != nil {
			return 0, fmt.Errorf("%w: %w", missing("ROTPA"), err)
		}
		return def, nil
	}
	v, err := t.num(k)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(v) {
		v = def
	}
	return v, nil
}

func (t *tr) rotationCoord() (string, error) {
	onSky, err := t.isOnSky()
	if err != nil {
		return "", err
	}
	if !onSky || !t.ok("ROTCOORD") {
		return "unknown", nil
	}
	return pyStr(t.h["ROTCOORD"]), nil
}

// trivialString is a string property read from the first defined key, with
// a default when none is defined.
func (t *tr) trivialString(def string, keys ...string) string {
	k := t.first(keys...)
	if k == "" {
		return def
	}
	if f, isNum := t.h[k].(float64); isNum && math.IsNaN(f) {
		return def
	}
	return pyStr(t.h[k])
}

func (t *tr) object() (string, error) {
	if t.f.latiss && !t.ok("OBJECT") {
		if err := t.nonScienceOrLab(); err != nil {
			return "", fmt.Errorf("%w: %w", missing("OBJECT"), err)
		}
	}
	return t.trivialString("UNKNOWN", "OBJECT"), nil
}

func (t *tr) scienceProgram() string {
	if t.f.latiss {
		return t.trivialString("unknown", "PROGRAM")
	}
	return t.trivialString("unknown", "PROGRAM", "RUNNUM")
}

func (t *tr) observationID() (*string, error) {
	if t.f.latiss {
		if k := t.first("OBSID", "IMGNAME"); k != "" {
			s := pyStr(t.h[k])
			return &s, nil
		}
		ot, err := t.observationType()
		if err != nil || ot == "science" {
			return nil, fmt.Errorf("%w (nor IMGNAME) and this is a science observation", missing("OBSID"))
		}
		return nil, nil
	}
	if !t.ok("OBSID") {
		return nil, missing("OBSID")
	}
	s := pyStr(t.h["OBSID"])
	return &s, nil
}

func (t *tr) detectorGroupName() (group, name string, err error) {
	if t.f.latiss {
		return "RXX", "S00", nil
	}
	for _, k := range []string{"RAFTBAY", "CCDSLOT"} {
		if !t.ok(k) {
			return "", "", missing(k)
		}
	}
	return pyStr(t.h["RAFTBAY"]), pyStr(t.h["CCDSLOT"]), nil
}

func (t *tr) detectorNum() (*int64, error) {
	if t.f.latiss {
		zero := int64(0)
		return &zero, nil
	}
	group, name, err := t.detectorGroupName()
	if err != nil {
		return nil, err
	}
	d, found := t.cam.DetectorByName(group + "_" + name)
	if !found {
		return nil, fmt.Errorf("unable to determine detector number from detector name %s_%s", group, name)
	}
	return &d.ID, nil
}

func (t *tr) detectorSerial() (string, error) {
	keys := []string{"LSST_NUM"}
	if t.f.latiss {
		keys = append(keys, "DETSER")
	}
	k := t.first(keys...)
	if k == "" {
		return "", missing("LSST_NUM")
	}
	return pyStr(t.h[k]), nil
}

func (t *tr) focusZ() (float64, error) {
	if t.ok("FOCUSZ") {
		return t.num("FOCUSZ")
	}
	return 0, nil
}

func (t *tr) optionalNum(k string) (*float64, error) {
	if !t.ok(k) {
		return nil, nil
	}
	v, err := t.strictNum(k)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// pressure is in pascals; headers have used both Pa and hPa.
func (t *tr) pressure() (*float64, error) {
	p, err := t.optionalNum("PRESSURE")
	if err != nil || p == nil {
		return nil, err
	}
	if *p <= 10_000 {
		hPa := *p * 100
		return &hPa, nil
	}
	return p, nil
}

func (t *tr) location() (*Location, error) {
	onMountain, err := t.isOnMountain()
	if err != nil || !onMountain {
		return nil, err
	}
	var xyz [3]float64
	for i, k := range []string{"OBSGEO-X", "OBSGEO-Y", "OBSGEO-Z"} {
		v, err := t.strictNum(k)
		if err != nil {
			def := simonyiLocation
			if t.f.latiss {
				def = auxTelLocation
			}
			return &def, nil
		}
		xyz[i] = v
	}
	return &Location{X: xyz[0], Y: xyz[1], Z: xyz[2]}, nil
}
