package query

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobutler/butler/timespan"
)

// Time literals T'…' follow daf_butler's _parseTimeString (parserYacc.py): an
// optional "format/" prefix, a value, an optional "/scale" suffix. The value's
// shape picks the format when none is given: a decimal number is an MJD, a date
// with '-' is iso (isot if it holds a 'T'), "+YYYY-…" is fits, "YYYY:DDD…" is yday.
// The default scale is utc for iso, isot, fits, yday and unix, tt for cxcsec, and
// tai otherwise. A "+00:00" zone is dropped; other zones are not accepted.
//
// Unlike astropy we compute with exact decimals, so an MJD may differ from
// upstream's float64 result by well under a microsecond.

// Compiled on first use (not at start-up: every command paid for them), once;
// a *regexp.Regexp is safe for concurrent use and never changes.
var (
	reTimeNumber = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^-?(?:\d+\.\d*|\.\d+)$`)
	})
	reTimeISO = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(\d+)-(\d+)-(\d+)(?:([ Tt])(\d+):(\d+)(?::(\d+)(\.\d*)?)?)?$`)
	})
	reTimeFITS = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\+(\d+)-(\d+)-(\d+)(?:[Tt](\d+):(\d+):(\d+)(\.\d*)?)?$`)
	})
	reTimeYday = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(\d+):(\d+)(?::(\d+):(\d+)(?::(\d+)(\.\d*)?)?)?$`)
	})
	reTimeWord = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\w+$`)
	})
)

const (
	supportedTimeFormats = "cxcsec, fits, gps, iso, isot, jd, mjd, unix, unix_tai, yday"
	supportedTimeScales  = "tai, tt, utc"
	nsPerSec             = int64(time.Second)
	ttMinusTAI           = 32184 * int64(time.Millisecond) // TT = TAI + 32.184 s, exactly
)

type valueKind uint8

const (
	kindNone valueKind = iota
	kindNumber
	kindISO
	kindFITS
	kindYday
)

func classifyTime(v string) valueKind {
	switch {
	case reTimeNumber().MatchString(v):
		return kindNumber
	case reTimeISO().MatchString(v):
		return kindISO
	case reTimeFITS().MatchString(v):
		return kindFITS
	case reTimeYday().MatchString(v):
		return kindYday
	}
	return kindNone
}

// timeError is a time literal problem at byte offset off of the literal's text;
// atLiteral means the literal as a whole.
type timeError struct {
	off int
	msg string
}

const atLiteral = -2 // the offset of the T in T'…' from the text

func timeErr(off int, format string, args ...any) *timeError {
	return &timeError{off: off, msg: fmt.Sprintf(format, args...)}
}

type timeParts struct {
	format, value, scale string
	scaleOff             int
	kind                 valueKind
}

// splitTime splits "[format/]value[/scale]" the way upstream's regular expression
// does: a word before the first '/' is a format if the rest is a value.
func splitTime(s string) (timeParts, bool) {
	if i := strings.IndexByte(s, '/'); i > 0 && reTimeWord().MatchString(s[:i]) {
		if p, ok := splitValueScale(s[i+1:]); ok {
			p.format = s[:i]
			p.scaleOff += i + 1
			return p, true
		}
	}
	return splitValueScale(s)
}

func splitValueScale(s string) (timeParts, bool) {
	p := timeParts{value: s}
	if j := strings.IndexByte(s, '/'); j >= 0 {
		p.value, p.scale, p.scaleOff = s[:j], s[j+1:], j+1
		if !reTimeWord().MatchString(p.scale) {
			return timeParts{}, false
		}
	}
	p.kind = classifyTime(p.value)
	return p, p.kind != kindNone
}

// parseTime converts the text of a time literal to TAI nanoseconds, clamped to
// [timespan.Min, timespan.Max] as daf_butler does when it stores a time; clamped
// reports whether that happened.
func parseTime(text string) (tai int64, clamped bool, terr *timeError) {
	s := strings.ReplaceAll(text, "+00:00", "")
	p, ok := splitTime(s)
	if !ok {
		if _, err := strconv.ParseUint(s, 10, 64); err == nil {
			return 0, false, timeErr(atLiteral, "time %q has no known form: a number needs a decimal point (%q is an MJD)", text, s+".0")
		}
		return 0, false, timeErr(atLiteral, "time %q has no known form; expected an ISO date or date-time (2020-03-30T12:20:33), "+
			"a decimal MJD (58000.5), a yday (2020:090:12:20) or a FITS date (+2020-03-30), "+
			"with an optional \"format/\" prefix and \"/scale\" suffix", text)
	}
	scaleOff := p.scaleOff
	if s != text {
		scaleOff = atLiteral // offsets no longer match the text
	}
	format := strings.ToLower(p.format)
	if format == "" {
		switch p.kind {
		case kindNumber:
			format = "mjd"
		case kindISO:
			format = "iso"
			if strings.ContainsAny(p.value, "Tt") {
				format = "isot"
			}
		case kindFITS:
			format = "fits"
		case kindYday:
			format = "yday"
		}
	}
	sep := ""
	if m := reTimeISO().FindStringSubmatch(p.value); m != nil {
		sep = m[4]
	}
	fits := false
	switch format {
	case "mjd", "jd", "unix", "unix_tai", "cxcsec", "gps":
		ok = p.kind == kindNumber
	case "iso":
		ok = p.kind == kindISO && (sep == "" || sep == " ")
	case "isot":
		ok = p.kind == kindISO && sep != " "
	case "fits":
		ok = p.kind == kindFITS || (p.kind == kindISO && sep != " ")
		fits = true
	case "yday":
		ok = p.kind == kindYday
	case "decimalyear", "plot_date", "stardate", "datetime", "ymdhms", "datetime64",
		"byear", "jyear", "byear_str", "jyear_str", "unix_tai_fast":
		return 0, false, timeErr(0, "time format %q is not supported; expected one of %s", format, supportedTimeFormats)
	default:
		return 0, false, timeErr(0, "unknown time format %q; expected one of %s", format, supportedTimeFormats)
	}
	if !ok {
		return 0, false, timeErr(atLiteral, "time %q does not match format %q", p.value, format)
	}

	scale := strings.ToLower(p.scale)
	defaultScale := "tai"
	switch format {
	case "iso", "isot", "fits", "yday", "unix":
		defaultScale = "utc"
	case "cxcsec":
		defaultScale = "tt"
	}
	switch scale {
	case "":
		scale = defaultScale
	case "tai", "tt", "utc":
	case "tcb", "tcg", "tdb", "ut1", "local":
		return 0, false, timeErr(scaleOff, "time scale %q is not supported; expected one of %s", scale, supportedTimeScales)
	default:
		return 0, false, timeErr(scaleOff, "unknown time scale %q; expected one of %s", scale, supportedTimeScales)
	}
	switch format {
	case "unix", "unix_tai", "cxcsec", "gps":
		// These count seconds from an epoch fixed in one scale; astropy's meaning of
		// another scale here is subtle and nobody needs it.
		if scale != defaultScale {
			return 0, false, timeErr(scaleOff, "time scale %q is not supported with format %q (its scale is %s)", scale, format, defaultScale)
		}
	}

	if p.kind == kindNumber {
		return numberTime(p.value, format, scale)
	}
	return calendarTime(p, fits, scale)
}

// numberTime converts a decimal count of days or seconds in the given format.
func numberTime(value, format, scale string) (int64, bool, *timeError) {
	r, ok := new(big.Rat).SetString(value)
	if !ok {
		return 0, false, timeErr(atLiteral, "time %q is not a decimal number", value)
	}
	day := big.NewRat(86400, 1)
	// sec becomes seconds since 1970-01-01 00:00:00 on the calendar of scale.
	sec := new(big.Rat)
	switch format {
	case "mjd":
		sec.Mul(sec.Sub(r, big.NewRat(40587, 1)), day) // MJD 40587 is 1970-01-01
	case "jd":
		sec.Mul(sec.Sub(r, big.NewRat(4881175, 2)), day) // JD 2440587.5 is 1970-01-01
	case "unix", "unix_tai":
		sec.Set(r)
	case "gps":
		sec.Add(r, big.NewRat(315964800+19, 1)) // 1980-01-06 00:00:19 TAI
	case "cxcsec":
		sec.Add(r, big.NewRat(883612800, 1)) // 1998-01-01 00:00:00 TT
	}
	// Far outside [Min, Max] there is nothing to convert (and int64 would overflow).
	if sec.Cmp(big.NewRat(-400*86400, 1)) < 0 {
		return timespan.Min, true, nil
	}
	if sec.Cmp(big.NewRat(timespan.Max/nsPerSec+400*86400, 1)) > 0 {
		return timespan.Max, true, nil
	}
	ns := roundRat(sec.Mul(sec, big.NewRat(nsPerSec, 1))).Int64()
	s, frac := ns/nsPerSec, ns%nsPerSec
	if frac < 0 {
		s, frac = s-1, frac+nsPerSec
	}
	return scaleToTAI(s, frac, scale, false)
}

// roundRat rounds r to the nearest integer, halves upwards.
func roundRat(r *big.Rat) *big.Int {
	num := new(big.Int).Mul(r.Num(), big.NewInt(2))
	num.Add(num, r.Denom())
	den := new(big.Int).Mul(r.Denom(), big.NewInt(2))
	return num.Div(num, den) // Euclidean division: floor for a positive divisor
}

// calendarTime converts an iso, isot, fits or yday value.
func calendarTime(p timeParts, fits bool, scale string) (int64, bool, *timeError) {
	var year, month, day, doy, hour, minute, second string
	var frac string
	switch p.kind {
	case kindISO:
		m := reTimeISO().FindStringSubmatch(p.value)
		year, month, day, hour, minute, second, frac = m[1], m[2], m[3], m[5], m[6], m[7], m[8]
		if fits && hour != "" && second == "" {
			return 0, false, timeErr(atLiteral, "time %q does not match format \"fits\": it needs seconds", p.value)
		}
	case kindFITS:
		m := reTimeFITS().FindStringSubmatch(p.value)
		year, month, day, hour, minute, second, frac = m[1], m[2], m[3], m[4], m[5], m[6], m[7]
	case kindYday:
		m := reTimeYday().FindStringSubmatch(p.value)
		year, doy, hour, minute, second, frac = m[1], m[2], m[3], m[4], m[5], m[6]
	}
	num := func(name, s string, minDigits, maxDigits, lo, hi int) (int, *timeError) {
		if s == "" {
			return 0, nil
		}
		v, err := strconv.Atoi(s)
		if len(s) < minDigits || len(s) > maxDigits || err != nil || v < lo || v > hi {
			return 0, timeErr(atLiteral, "time %q: %s %s is out of range", p.value, name, s)
		}
		return v, nil
	}
	yearDigits := 4
	if p.kind == kindFITS {
		yearDigits = 5 // "+02020"
	}
	y, terr := num("year", year, 4, yearDigits, 0, 99999)
	if terr != nil {
		return 0, false, terr
	}
	mo, d := 1, 1
	if p.kind == kindYday {
		last := 365
		if time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC).YearDay() == 366 {
			last = 366
		}
		if d, terr = num("day of year", doy, 1, 3, 1, last); terr != nil {
			return 0, false, terr
		}
	} else {
		if mo, terr = num("month", month, 1, 2, 1, 12); terr != nil {
			return 0, false, terr
		}
		last := time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day()
		if d, terr = num("day", day, 1, 2, 1, last); terr != nil {
			return 0, false, terr
		}
	}
	h, terr := num("hour", hour, 1, 2, 0, 23)
	if terr != nil {
		return 0, false, terr
	}
	mi, terr := num("minute", minute, 1, 2, 0, 59)
	if terr != nil {
		return 0, false, terr
	}
	se, terr := num("second", second, 1, 2, 0, 60)
	if terr != nil {
		return 0, false, terr
	}
	leap := se == 60
	if leap {
		se = 59
	}
	// The calendar reading as if it were UTC: for tai and tt it is the reading on
	// that scale's own calendar, which starts at the same nominal epoch.
	sec := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC).Unix()
	var ns int64
	if len(frac) > 1 {
		digits := frac[1:]
		for len(digits) < 10 {
			digits += "0"
		}
		ns, _ = strconv.ParseInt(digits[:9], 10, 64)
		if digits[9] >= '5' {
			ns++
		}
		if ns == nsPerSec {
			sec, ns = sec+1, 0
		}
	}
	if leap && scale != "utc" {
		return 0, false, timeErr(atLiteral, "time %q: second 60 exists only in UTC, at a leap second", p.value)
	}
	if sec < -400*86400 {
		return timespan.Min, true, nil
	}
	if sec > timespan.Max/nsPerSec+400*86400 {
		return timespan.Max, true, nil
	}
	tai, clamped, err := scaleToTAI(sec, ns, scale, leap)
	if err != nil {
		return 0, false, timeErr(atLiteral, "time %q: %s", p.value, err.msg)
	}
	return tai, clamped, nil
}

// scaleToTAI converts sec seconds plus ns nanoseconds since 1970-01-01 00:00:00 on
// the calendar of scale to clamped TAI nanoseconds. leap marks second 60 of the
// minute sec falls in (sec then holds second 59).
func scaleToTAI(sec, ns int64, scale string, leap bool) (int64, bool, *timeError) {
	var t int64
	switch scale {
	case "tai":
		t = sec*nsPerSec + ns
	case "tt":
		t = sec*nsPerSec + ns - ttMinusTAI
	case "utc":
		d := timespan.TAIMinusUTC(sec)
		if leap {
			if timespan.TAIMinusUTC(sec+1) == d {
				return 0, false, timeErr(atLiteral, "second 60 is not a leap second")
			}
			sec++
		}
		t = (sec+d)*nsPerSec + ns
	}
	switch {
	case t < timespan.Min:
		return timespan.Min, true, nil
	case t > timespan.Max:
		return timespan.Max, true, nil
	}
	return t, false, nil
}
