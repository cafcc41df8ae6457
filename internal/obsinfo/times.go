package obsinfo

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gobutler/butler/timespan"
)

const (
	nsPerSecond = int64(time.Second)
	nsPerDay    = 86400 * nsPerSecond
	mjdUnixDay  = 40587 // MJD of 1970-01-01
	secondsTTAI = 32.184
)

// mjdToNs converts an MJD in the given scale to TAI nanoseconds since
// 1970-01-01 TAI. The integer and fractional days are converted separately
// (the fraction is exact in float64), which reproduces the nanoseconds the
// Python butler stores (astropy keeps a two-double Julian date).
func mjdToNs(mjd float64, scale string) (int64, error) {
	if math.IsNaN(mjd) || math.IsInf(mjd, 0) {
		return 0, fmt.Errorf("MJD %v is not finite", mjd)
	}
	d := math.Floor(mjd)
	f := mjd - d
	if d < -1e6 || d > 1e6 {
		return 0, fmt.Errorf("MJD %v is out of range", mjd)
	}
	ns := (int64(d)-mjdUnixDay)*nsPerDay + int64(math.Round(f*86400e9))
	return applyScale(ns, scale)
}

// applyScale turns a calendar reading in the named scale (as ns since the
// 1970-01-01 reading) into TAI nanoseconds.
func applyScale(ns int64, scale string) (int64, error) {
	switch scale {
	case "tai":
		return ns, nil
	case "utc":
		return timespan.FromUTC(time.Unix(0, ns).UTC()), nil
	case "tt":
		return ns - int64(secondsTTAI*1e9), nil
	}
	return 0, fmt.Errorf("time scale %q is not supported", scale)
}

// isoToNs parses a FITS/ISO date-time ("2019-03-19T15:50:28.145", optionally
// with a space instead of T, or a date alone) in the given scale.
func isoToNs(s, scale string) (int64, error) {
	v := strings.TrimSpace(s)
	// FITS allows a trailing "(UTC)"-style scale; astropy honours it.
	if i := strings.IndexByte(v, '('); i > 0 && strings.HasSuffix(v, ")") {
		scale = strings.ToLower(v[i+1 : len(v)-1])
		v = v[:i]
	}
	for _, layout := range []string{
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, v); err == nil {
			return applyScale(t.UnixNano(), scale)
		}
	}
	return 0, fmt.Errorf("time %q is not an ISO date-time", s)
}

// taiCalendar is the TAI calendar reading of a TAI instant, as astropy's
// strftime on a TAI time gives it.
func taiCalendar(tai int64) time.Time { return time.Unix(0, tai).UTC() }

// utcFromConst converts a UTC calendar constant ("2020-01-01T00:00") to TAI ns.
func utcConst(year int, month time.Month, day, hour, minute int) int64 {
	return timespan.FromUTC(time.Date(year, month, day, hour, minute, 0, 0, time.UTC))
}

// pacificOffset returns how many seconds US/Pacific local time is behind
// UTC at the given UTC instant (7 h in daylight time, 8 h otherwise), from
// the US daylight-saving rules in force since 1987. It replaces a time-zone
// database lookup, which the butler binary does not carry.
func pacificOffset(utc time.Time) int64 {
	y := utc.Year()
	var start, end time.Time // transitions, as UTC instants
	if y >= 2007 {
		// Second Sunday of March 02:00 PST to first Sunday of November 02:00 PDT.
		start = nthSunday(y, time.March, 2).Add(10 * time.Hour)
		end = nthSunday(y, time.November, 1).Add(9 * time.Hour)
	} else {
		// First Sunday of April to last Sunday of October.
		start = nthSunday(y, time.April, 1).Add(10 * time.Hour)
		end = lastSunday(y, time.October).Add(9 * time.Hour)
	}
	if !utc.Before(start) && utc.Before(end) {
		return 7 * 3600
	}
	return 8 * 3600
}

func nthSunday(y int, m time.Month, n int) time.Time {
	t := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	for t.Weekday() != time.Sunday {
		t = t.AddDate(0, 0, 1)
	}
	return t.AddDate(0, 0, 7*(n-1))
}

func lastSunday(y int, m time.Month) time.Time {
	t := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	for t.Weekday() != time.Sunday {
		t = t.AddDate(0, 0, -1)
	}
	return t
}

// DayObsTimespan returns the span of an observing day as daf_butler's
// Timespan.from_day_obs builds it: [YYYY-MM-DDT00:00 TAI + offset, +24 h).
func DayObsTimespan(dayObs int64, offsetSeconds int64) (timespan.Timespan, error) {
	y, m, d := dayObs/10000, (dayObs/100)%100, dayObs%100
	if y < 1 || m < 1 || m > 12 || d < 1 || d > 31 {
		return timespan.Timespan{}, fmt.Errorf("day_obs %d is not a YYYYMMDD date", dayObs)
	}
	t := time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
	if t.Day() != int(d) {
		return timespan.Timespan{}, fmt.Errorf("day_obs %d is not a calendar date", dayObs)
	}
	begin := t.UnixNano() + offsetSeconds*nsPerSecond
	return timespan.New(begin, begin+nsPerDay), nil
}
