package obsinfo

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"

	"github.com/gobutler/butler/errs"
)

// Other obs_lsst translators, which this butler recognises only to say that
// it does not support them; their order matters because upstream asks each
// translator in turn and the first that accepts a header wins.
const (
	otherPhoSim = "LSSTCam-PhoSim"
	otherTS3    = "LSST-TS3"
	otherTS8    = "LSST-TS8"
	otherImSim  = "LSSTCam-imSim"
	otherUCD    = "LSST-UCDCam"
)

// ts8Controllers are the REB controller serials of the TS8 test stand, used
// to recognise TS8 data from before it wrote TSTAND.
var ts8Controllers = map[string]bool{
	"000018910e0c": true, "000018ee33b7": true, "000018ee0f35": true, "000018ee3b40": true,
	"00001891fcc7": true, "000018edfd65": true, "0000123b5ba8": true, "000018911b05": true,
	"00001891fa3e": true, "000018910d7f": true, "000018ed9f12": true, "000018edf4a7": true,
	"000018ee34e6": true, "000018ef1464": true, "000018eda120": true, "000018edf8a2": true,
	"000018ef3819": true, "000018ed9486": true, "000018ee02c8": true, "000018edfb24": true,
	"000018ee34c0": true, "000018edfb51": true, "0000123b51d1": true, "0000123b5862": true,
	"0000123b8ca9": true, "0000189208fa": true, "0000189111af": true, "0000189126e1": true,
	"000018ee0618": true, "000018ee3b78": true, "000018ef1534": true,
}

// cardIs is astro_metadata_translator's can_translate_with_options: the
// first of the cards present decides.
func cardIs(h Header, opts ...[2]string) bool {
	for _, o := range opts {
		if v, present := h[o[0]]; present {
			return v == o[1]
		}
	}
	return false
}

func lowerString(v any) (string, bool) {
	s, isStr := v.(string)
	return strings.ToLower(s), isStr
}

// selectTranslator picks the translator for a header in upstream's
// registration order (LSSTCam, PhoSim, TS3, TS8, imSim, LATISS, UCDCam,
// ComCam, ComCamSim, LSSTCamSim). other names an obs_lsst translator we do
// not implement; both are empty when no LSST translator accepts the header.
func selectTranslator(h Header) (f *family, other string) {
	instrume, hasInstrume := h["INSTRUME"]
	inst, instIsStr := lowerString(instrume)
	if hasInstrume && instIsStr && inst == "lsstcam" {
		return famLSSTCam, ""
	}
	if !hasInstrume && cardIs(h, [2]string{"CREATOR", "PHOSIM"}, [2]string{"TESTTYPE", "PHOSIM"}) {
		return nil, otherPhoSim
	}
	if cardIs(h, [2]string{"TSTAND", "BNL-TS3-2-Janeway"}) {
		return nil, otherTS3
	}
	if cardIs(h, [2]string{"TSTAND", "TS8"}) {
		return nil, otherTS8
	}
	if _, present := h["TSTAND"]; !present {
		_, hasNum := h["LSST_NUM"]
		_, hasReb := h["REBNAME"]
		if cont, isStr := h["CONTNUM"].(string); hasNum && hasReb && isStr && ts8Controllers[cont] {
			return nil, otherTS8
		}
	}
	if cardIs(h, [2]string{"TESTTYPE", "IMSIM"}) {
		return nil, otherImSim
	}
	if hasInstrume && (instrume == "LSST_ATISS" || instrume == "LATISS") {
		return famLATISS, ""
	}
	if h["DETNAME"] == "RXX_S00" {
		return famLATISS, ""
	}
	if hasInstrume && instIsStr && (inst == "lsst-ucdcam" || inst == "lsst-ucdcam-itl") {
		return nil, otherUCD
	}
	if telescop, hasTel := h["TELESCOP"]; hasInstrume && hasTel && instIsStr {
		onLSST := telescop == simonyiTelescope || telescop == "LSST"
		switch {
		case inst == "comcam" && onLSST:
			return famComCam, ""
		case h["TELCODE"] == "CC" && inst == "lsst_camera":
			return famComCam, "" // 2019 lab data; the fix-up renames INSTRUME
		case inst == "comcamsim" && onLSST:
			return famComCamSim, ""
		case inst == "lsstcamsim" && onLSST:
			return famLSSTCamSim, ""
		}
	}
	return nil, ""
}

//go:embed data/corrections
var correctionsFS embed.FS

// embeddedCorrections are the per-observation header corrections shipped
// with obs_lsst that this package carries (see data/corrections/README.md).
func embeddedCorrections() fs.FS {
	sub, err := fs.Sub(correctionsFS, "data/corrections")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// fixHeader applies, in place, the per-observation correction file
// <instrument>-<obsid>.yaml (the first found in dirs, then the embedded set)
// and then the translator's own date- and obsid-dependent corrections, as
// astro_metadata_translator's fix_header does. It returns the correction
// file used ("" for none) and any problem that stopped the translator's own
// corrections part-way; upstream logs that and carries on with the header as
// far as it was fixed.
func fixHeader(h Header, f *family, dirs []fs.FS) (correction string, fixErr error, err error) {
	if _, done := h[fixupSentinel]; done {
		return "", nil, nil
	}
	t := &tr{f: f, h: h}
	obsid, obsErr := t.observationID()
	if obsErr != nil {
		return "", nil, nil // upstream cannot name a correction file and leaves the header alone
	}
	obsidText := "None"
	if obsid != nil {
		obsidText = *obsid
	}
	name := f.instrument + "-" + obsidText + ".yaml"
	for _, dir := range append(dirs, embeddedCorrections()) {
		b, readErr := fs.ReadFile(dir, name)
		if readErr != nil {
			if errors.Is(readErr, fs.ErrNotExist) {
				continue
			}
			return "", nil, fmt.Errorf("read header correction %s: %w", name, readErr)
		}
		corr, parseErr := parseYAMLDump(b)
		if parseErr != nil {
			continue // upstream warns about an unreadable correction and looks further
		}
		for k, v := range corr {
			h[k] = v
		}
		correction = name
		break
	}
	switch {
	case f.latiss:
		fixErr = fixLATISS(h, obsid)
	case f == famLSSTCam:
		fixErr = fixLSSTCam(h)
	case f == famComCam:
		fixErr = fixComCam(h)
	case f == famComCamSim:
		fixErr = fixComCamSim(h, obsid)
	}
	return correction, fixErr, nil
}

// Nights when LSSTCam's dome was closed but headers said otherwise
// (DM-51847, DM-52249): VIGN_MIN is forced to FULLY for these sequence ranges.
var lsstCamClosedDome = map[int64][][2]int64{
	20250703: {{743, 745}},
	20250704: {{832, 834}},
	20250705: {{1, 736}},
	20250707: {{784, 823}, {744, 783}, {864, 903}, {904, 943}},
	20250714: {{258, 781}},
	20250715: {{205, 1218}},
	20250819: {{4, 1052}},
}

// Nights whose PROGRAM said BLOCK-417 instead of BLOCK-T417 (DM-53949).
var lsstCamBlockT417 = map[int64]bool{
	20250415: true, 20250416: true, 20250423: true, 20250417: true, 20250418: true, 20250421: true,
	20250424: true, 20250425: true, 20250504: true, 20250503: true, 20250512: true, 20250522: true,
	20250524: true, 20250826: true, 20250827: true, 20250828: true,
}

func headerInt(h Header, k string) (int64, error) {
	v, present := h[k]
	if !present {
		return 0, missing(k)
	}
	i, isInt := v.(int64)
	if !isInt {
		return 0, &keyError{key: k, problem: fmt.Sprintf("is %v, not an integer", v)}
	}
	return i, nil
}

func headerNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// fixLSSTCam: FILTER2 without FILTER, ph_05, early ROTPA offsets, closed-dome
// VIGN_MIN, a mislabelled filter, a mislabelled block.
func fixLSSTCam(h Header) error {
	if _, hasFilter := h["FILTER"]; !hasFilter && h["FILTER2"] != nil {
		h["FILTER2"] = nil
	}
	var day int64
	dayText, dayIsStr := h["DAYOBS"].(string)
	if truthy(h["DAYOBS"]) {
		var ok bool
		if day, ok = toInt(h["DAYOBS"]); !ok {
			return &keyError{key: "DAYOBS", problem: "is not an integer"}
		}
	}
	if dayIsStr && (dayText == "20231107" || dayText == "20231108" || dayText == "20241015" || dayText == "20241016") {
		filter, present := h["FILTER"]
		if !present {
			return missing("FILTER")
		}
		if filter == "ph_05" {
			h["FILTER"] = "ph_5"
		}
	}
	if day == 0 {
		return nil
	}
	if day > 20250301 && day < 20250422 {
		// ROTPA was the ComCam value during the first week on sky.
		if rotpa := h["ROTPA"]; truthy(rotpa) {
			r, isNum := headerNumber(rotpa)
			if !isNum {
				return &keyError{key: "ROTPA", problem: "is not a number"}
			}
			h["ROTPA"] = r - 90.0
		}
	}
	if day == 20250422 {
		seq, err := headerInt(h, "SEQNUM")
		if err != nil {
			return err
		}
		if rotpa := h["ROTPA"]; seq < 251 && truthy(rotpa) {
			r, isNum := headerNumber(rotpa)
			if !isNum {
				return &keyError{key: "ROTPA", problem: "is not a number"}
			}
			h["ROTPA"] = wrap180(r - 180.0)
		}
	}
	if day == 20250518 {
		v, present := h["VIGN_MIN"]
		if !present {
			return missing("VIGN_MIN")
		}
		if v != "FULLY" {
			h["VIGN_MIN"] = "FULLY"
		}
	}
	if ranges, found := lsstCamClosedDome[day]; found {
		seq, err := headerInt(h, "SEQNUM")
		if err != nil {
			return err
		}
		for _, r := range ranges {
			if seq >= r[0] && seq <= r[1] {
				v, present := h["VIGN_MIN"]
				if !present {
					return missing("VIGN_MIN")
				}
				if v != "FULLY" {
					h["VIGN_MIN"] = "FULLY"
				}
			}
		}
	}
	if day == 20250609 {
		seq, err := headerInt(h, "SEQNUM")
		if err != nil {
			return err
		}
		if seq >= 76 && seq <= 578 {
			h["FILTER"], h["FILTBAND"], h["FILTPOS"], h["FILTSLOT"] = "z_20", "z", 201.0, int64(4)
		}
	}
	if lsstCamBlockT417[day] {
		v, present := h["PROGRAM"]
		if !present {
			return missing("PROGRAM")
		}
		if v == "BLOCK-417" {
			h["PROGRAM"] = "BLOCK-T417"
		}
	}
	if day == 20260315 {
		seq, err := headerInt(h, "SEQNUM")
		if err != nil {
			return err
		}
		if seq >= 49 && seq <= 109 {
			h["FILTER"], h["FILTBAND"], h["FILTPOS"], h["FILTSLOT"] = "i_39", "i", 304.0, int64(1)
		}
	}
	return nil
}

// wrap180 wraps an angle in degrees to [-180, 180) the way astropy's
// Angle.wrap_at("180d") does, leaving in-range values untouched.
func wrap180(a float64) float64 {
	wraps := math.Floor((a + 180) / 360)
	if math.IsInf(wraps, 0) || math.IsNaN(wraps) || wraps == 0 {
		return a
	}
	a -= wraps * 360
	if a >= 180 {
		a -= 360
	}
	if a < -180 {
		a += 360
	}
	return a
}

// Conversion factors computed in float64 at run time, as Python computes
// them; Go would otherwise fold the exact constant, which can differ in the
// last bit from what upstream applies to the header.
var (
	float64Pi   = math.Pi
	rad2deg     = 180.0 / float64Pi
	hoursOf37s  = 37.0
	raOffset37s = (hoursOf37s / 3600.0) * 15.0
)

// comCamSerials fills LSST_NUM from CCDSLOT when the header lacks it.
var comCamSerials = map[string]string{
	"S00": "ITL-3800C-229", "S01": "ITL-3800C-251", "S02": "ITL-3800C-215",
	"S10": "ITL-3800C-326", "S11": "ITL-3800C-283", "S12": "ITL-3800C-243",
	"S20": "ITL-3800C-319", "S21": "ITL-3800C-209", "S22": "ITL-3800C-206",
}

// fixComCam: missing or band-named FILTER, the 2019 LSST_CAMERA instrument
// name, missing LSST_NUM, missing or non-numeric ROTPA.
func fixComCam(h Header) error {
	filter := h["FILTER"]
	if filter == nil || filter == "r" || filter == "" {
		if filter == nil {
			h["FILTER"] = "unknown"
		} else {
			b, err := (&tr{f: famComCam, h: h}).begin()
			if err != nil {
				return err
			}
			if b > comCamToChile {
				h["FILTER"] = "empty"
			} else {
				h["FILTER"] = "r_03" // "r" is a band, not a physical filter
			}
		}
	}
	if h["INSTRUME"] == "LSST_CAMERA" {
		h["INSTRUME"] = "ComCam"
	}
	if _, present := h["LSST_NUM"]; !present {
		if slot, isStr := h["CCDSLOT"].(string); isStr && comCamSerials[slot] != "" {
			h["LSST_NUM"] = comCamSerials[slot]
		}
	}
	if _, isNum := headerNumber(h["ROTPA"]); !isNum {
		h["ROTPA"] = 0.0
	}
	return nil
}

// fixComCamSim: RA/DEC START/END copied from RA/DEC, default RADESYS,
// TELCODE from CAMCODE or the OBSID prefix.
func fixComCamSim(h Header, obsid *string) error {
	for _, key := range []string{"RA", "DEC"} {
		for _, when := range []string{"START", "END"} {
			if !truthy(h[key+when]) && truthy(h[key]) {
				h[key+when] = h[key]
			}
		}
	}
	if !truthy(h["RADESYS"]) && truthy(h["RA"]) && truthy(h["DEC"]) {
		h["RADESYS"] = "ICRS"
	}
	if !truthy(h["TELCODE"]) {
		if camcode := h["CAMCODE"]; truthy(camcode) {
			h["TELCODE"] = camcode
		} else {
			if obsid == nil {
				return errors.New("no OBSID to take TELCODE from")
			}
			code, _, found := strings.Cut(*obsid, "_")
			if !found {
				return fmt.Errorf("OBSID %q has no telescope code", *obsid)
			}
			h["TELCODE"] = code
		}
	}
	return nil
}

// fixLATISS applies LATISS's many date-dependent corrections; see the
// comments for each.
func fixLATISS(h Header, obsid *string) error {
	if _, present := h["OBSID"]; !present {
		// very old data used IMGNAME
		if obsid == nil {
			h["OBSID"] = nil
		} else {
			h["OBSID"] = *obsid
		}
	}
	if _, present := h["DAYOBS"]; !present {
		var dayObs any
		if obsid != nil { // upstream's split of a None OBSID fails quietly
			parts := strings.SplitN(*obsid, "_", 4)
			if len(parts) < 3 {
				return fmt.Errorf("OBSID %q has no day_obs part", *obsid)
			}
			dayObs = parts[2]
		}
		if s, _ := dayObs.(string); len(s) != 8 {
			dayObs = h["OBS-NITE"] // nil when absent
		}
		if truthy(dayObs) {
			h["DAYOBS"] = dayObs
		}
	}
	if _, present := h["SEQNUM"]; !present && obsid != nil {
		parts := strings.SplitN(*obsid, "_", 4)
		if len(parts) < 4 {
			return fmt.Errorf("OBSID %q has no sequence part", *obsid)
		}
		seq, isInt := pyInt(parts[3])
		if !isInt {
			return fmt.Errorf("OBSID %q sequence part is not an integer", *obsid)
		}
		h["SEQNUM"] = seq
	}
	// Late 2019 DATE-OBS/MJD-OBS said 1970: use DATE/MJD and let EXPTIME give the end.
	if v, present := h["DATE-OBS"]; present {
		s, isStr := v.(string)
		if !isStr {
			return &keyError{key: "DATE-OBS", problem: "is not a string"}
		}
		if strings.HasPrefix(s, "1970") {
			date, hasDate := h["DATE"]
			if !hasDate {
				return missing("DATE")
			}
			h["DATE-OBS"] = date
			h["DATE-BEG"] = date
			mjd, hasMJD := h["MJD"]
			if !hasMJD {
				return missing("MJD")
			}
			h["MJD-OBS"] = mjd
			h["MJD-BEG"] = mjd
			h["DATE-END"] = nil
			h["MJD-END"] = nil
		}
	}
	date, err := (&tr{f: famLATISS, h: h}).begin()
	if err != nil {
		return err
	}
	if date > latissDetector068 {
		h["LSST_NUM"] = "ITL-3800C-068"
	}
	if date < latissDateEndBad && truthy(h["DATE-END"]) {
		// DATE-END may or may not be TAI, or even after DATE-BEG.
		h["DATE-END"] = nil
		h["MJD-END"] = nil
	}
	if date < latissImgTypeOK {
		// GROUPID held the image type until November 2019.
		if g := h["GROUPID"]; truthy(g) {
			groupID, isStr := g.(string)
			if !isStr {
				return &keyError{key: "GROUPID", problem: "is not a string"}
			}
			if !strings.HasPrefix(groupID, "test") {
				imgType := h["IMGTYPE"]
				if !truthy(imgType) {
					switch upper := strings.ToUpper(groupID); {
					case strings.Contains(groupID, "_"):
						groupID, _, _ = strings.Cut(groupID, "_") // dark_0001_0002
					case upper != "FOCUS" && strings.HasPrefix(upper, "FOCUS"):
						groupID = "FOCUS"
					default:
						h["GROUPID"] = nil
					}
					h["IMGTYPE"] = groupID
				} else if imgType == groupID {
					h["GROUPID"] = nil
				}
			}
		}
	}
	if date < latissObjectIsEng && h["IMGTYPE"] == "OBJECT" {
		h["IMGTYPE"] = "ENGTEST"
	}
	if date < latissRADecRadians {
		for _, k := range []string{"RA", "DEC"} {
			if v := h[k]; v != nil {
				r, isNum := headerNumber(v)
				if !isNum {
					return &keyError{key: k, problem: "is not a number"}
				}
				h[k] = r * rad2deg
			}
		}
	}
	if truthy(h["SHUTTIME"]) {
		h["SHUTTIME"] = nil // LATISS SHUTTIME is not trusted
	}
	if _, present := h["OBJECT"]; !present {
		if h["IMGTYPE"] == "OBJECT" {
			h["OBJECT"] = "NOTSET"
		}
	}
	if date < latissSpecColonUntil {
		if obj := h["OBJECT"]; obj != nil {
			s, isStr := obj.(string)
			if !isStr {
				return &keyError{key: "OBJECT", problem: "is not a string"}
			}
			h["OBJECT"] = strings.ReplaceAll(s, "spec:", "")
		}
	}
	if v, present := h["RADESYS"]; present && v == "" {
		h["RADESYS"] = "ICRS"
	}
	if v, present := h["TRACKSYS"]; present {
		switch v {
		case "":
			h["TRACKSYS"] = nil
		case "SIDEREAL":
			h["TRACKSYS"] = "RADEC"
		}
	}
	if date < latissRAStartHours {
		if date < latissRAStartBad {
			// The wrong telescope position was used: make RA/DEC win.
			for _, k := range []string{"RASTART", "DECSTART", "RAEND", "DECEND"} {
				h[k] = nil
			}
		} else {
			for _, k := range []string{"RASTART", "RAEND"} {
				v, present := h[k]
				if !present {
					return missing(k)
				}
				if truthy(v) {
					r, isNum := headerNumber(v)
					if !isNum {
						return &keyError{key: k, problem: "is not a number"}
					}
					h[k] = r * 15.0 // hours to degrees
				}
			}
		}
	}
	if latissRAStartBad < date && date < latissRAStartOK {
		// A TAI/UTC mix-up put RASTART/RAEND 37 s of time behind.
		for _, k := range []string{"RASTART", "RAEND"} {
			v, present := h[k]
			if !present {
				return missing(k)
			}
			if truthy(v) {
				r, isNum := headerNumber(v)
				if !isNum {
					return &keyError{key: k, problem: "is not a number"}
				}
				h[k] = r + raOffset37s
			}
		}
	}
	if latissRotPA180Begin < date && date < latissRotPA180End {
		r, isNum := headerNumber(h["ROTPA"])
		if !isNum {
			return &keyError{key: "ROTPA", problem: "is missing or not a number"}
		}
		h["ROTPA"] = r - 180
	}
	if z := h["OBSGEO-Z"]; truthy(z) {
		if v, isNum := headerNumber(z); isNum && v > 0 {
			h["OBSGEO-Z"] = -v
		}
	}
	return nil
}

// unsupportedError explains why a header cannot be translated.
func unsupportedError(h Header, other string) error {
	if other != "" {
		return fmt.Errorf("%w: header is for instrument %s, which this butler does not translate", errs.ErrUnsupported, other)
	}
	inst := "undefined"
	if v, present := h["INSTRUME"]; present {
		inst = fmt.Sprintf("%q", pyStr(v))
	}
	return fmt.Errorf("%w: no translator understands this header (INSTRUME %s, TELESCOP %q); known: LSSTCam, LSSTComCam, LSSTComCamSim, LSSTCamSim, LATISS",
		errs.ErrUnsupported, inst, pyStr(h["TELESCOP"]))
}
