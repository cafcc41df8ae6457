package timespan

import (
	"sort"
	"time"
)

// leapSeconds lists, for each change of TAI-UTC since 1972, the UTC instant (Unix
// seconds) from which it applies and the new TAI-UTC in seconds (IERS Bulletin C).
// Before 1972 UTC was a "rubber" scale; we use 10 s there, which only matters for
// dates no raw has.
var leapSeconds = []struct {
	from  int64
	delta int64
}{
	{63072000, 10},   // 1972-01-01
	{78796800, 11},   // 1972-07-01
	{94694400, 12},   // 1973-01-01
	{126230400, 13},  // 1974-01-01
	{157766400, 14},  // 1975-01-01
	{189302400, 15},  // 1976-01-01
	{220924800, 16},  // 1977-01-01
	{252460800, 17},  // 1978-01-01
	{283996800, 18},  // 1979-01-01
	{315532800, 19},  // 1980-01-01
	{362793600, 20},  // 1981-07-01
	{394329600, 21},  // 1982-07-01
	{425865600, 22},  // 1983-07-01
	{489024000, 23},  // 1985-07-01
	{567993600, 24},  // 1988-01-01
	{631152000, 25},  // 1990-01-01
	{662688000, 26},  // 1991-01-01
	{709948800, 27},  // 1992-07-01
	{741484800, 28},  // 1993-07-01
	{773020800, 29},  // 1994-07-01
	{820454400, 30},  // 1996-01-01
	{867715200, 31},  // 1997-07-01
	{915148800, 32},  // 1999-01-01
	{1136073600, 33}, // 2006-01-01
	{1230768000, 34}, // 2009-01-01
	{1341100800, 35}, // 2012-07-01
	{1435708800, 36}, // 2015-07-01
	{1483228800, 37}, // 2017-01-01
}

// TAIMinusUTC returns TAI-UTC in seconds at the UTC instant given as Unix seconds.
func TAIMinusUTC(unixSec int64) int64 {
	i := sort.Search(len(leapSeconds), func(i int) bool { return leapSeconds[i].from > unixSec })
	if i == 0 {
		return 10
	}
	return leapSeconds[i-1].delta
}

// FromUTC converts a UTC instant to TAI nanoseconds since 1970-01-01 00:00:00 TAI.
// The TAI calendar reading is the UTC reading plus TAI-UTC, and the epoch is a TAI
// calendar reading, so the result is Unix nanoseconds plus TAI-UTC.
func FromUTC(t time.Time) int64 {
	return t.UnixNano() + TAIMinusUTC(t.Unix())*int64(time.Second)
}

// FromTAI converts a time whose calendar reading is already TAI (its zone ignored).
func FromTAI(t time.Time) int64 {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC).UnixNano()
}

// ToUTC converts TAI nanoseconds back to a UTC time.
func ToUTC(tai int64) time.Time {
	guess := tai - 37*int64(time.Second)
	d := TAIMinusUTC(guess / int64(time.Second))
	u := tai - d*int64(time.Second)
	// Re-check across a leap-second boundary.
	if d2 := TAIMinusUTC(u / int64(time.Second)); d2 != d {
		u = tai - d2*int64(time.Second)
	}
	return time.Unix(0, u).UTC()
}

// FromMJD converts a Modified Julian Date in the given scale ("utc" or "tai") to TAI ns.
func FromMJD(mjd float64, scale string) int64 {
	// MJD 40587 is 1970-01-01.
	ns := int64((mjd - 40587.0) * 86400e9)
	if scale == "tai" {
		return ns
	}
	return FromUTC(time.Unix(0, ns).UTC())
}
