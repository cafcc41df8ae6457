// Package timespan holds times as integer nanoseconds TAI since 1970-01-01 00:00:00 TAI
// and half-open [begin, end) spans of them, as daf_butler stores them.
package timespan

import (
	"fmt"
	"time"
)

const (
	// Min is 1970-01-01 00:00:00 TAI, the smallest storable time (an unbounded begin).
	Min int64 = 0
	// Max is 2100-01-01 00:00:00 TAI, the largest storable time (an unbounded end).
	Max int64 = 4102444800000000000
)

// Timespan is [Begin, End) in TAI nanoseconds. An empty span is stored as (Max, Min).
type Timespan struct {
	Begin, End int64
}

// Empty is the normalised empty timespan.
var Empty = Timespan{Begin: Max, End: Min}

// New builds a normalised timespan; begin >= end gives Empty, values are clamped
// to [Min, Max].
func New(begin, end int64) Timespan {
	begin, end = clamp(begin), clamp(end)
	if begin >= end {
		return Empty
	}
	return Timespan{Begin: begin, End: end}
}

// Instant is the one-nanosecond span [t, t+1), daf_butler's padding of a zero-length span.
func Instant(t int64) Timespan { return New(t, t+1) }

func clamp(t int64) int64 {
	if t < Min {
		return Min
	}
	if t > Max {
		return Max
	}
	return t
}

// IsEmpty reports whether the span contains no instant.
func (s Timespan) IsEmpty() bool { return s.Begin >= s.End }

// Overlaps reports whether the two spans share an instant; empty overlaps nothing.
func (s Timespan) Overlaps(o Timespan) bool {
	if s.IsEmpty() || o.IsEmpty() {
		return false
	}
	return s.End > o.Begin && o.End > s.Begin
}

// Contains reports whether o lies inside s; empty is inside everything.
func (s Timespan) Contains(o Timespan) bool {
	if o.IsEmpty() {
		return true
	}
	return s.Begin <= o.Begin && o.End <= s.End
}

// ContainsTime reports whether t is in [Begin, End).
func (s Timespan) ContainsTime(t int64) bool { return s.Begin <= t && t < s.End }

func (s Timespan) String() string {
	if s.IsEmpty() {
		return "EMPTY"
	}
	b, e := "-∞", "∞"
	if s.Begin > Min {
		b = FormatTAI(s.Begin)
	}
	if s.End < Max {
		e = FormatTAI(s.End)
	}
	return fmt.Sprintf("[%s, %s)", b, e)
}

// FormatTAI renders t as an ISO-8601 TAI calendar time with nanoseconds
// ("2024-03-21T07:54:19.147000000"), the form daf_butler writes in exports.
func FormatTAI(t int64) string {
	return time.Unix(0, t).UTC().Format("2006-01-02T15:04:05.000000000")
}

// ParseTAI reads an ISO-8601 calendar time that is already in TAI.
func ParseTAI(s string) (int64, error) {
	t, err := parseISO(s)
	if err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

// ParseUTC reads an ISO-8601 calendar time in UTC and returns TAI nanoseconds.
func ParseUTC(s string) (int64, error) {
	t, err := parseISO(s)
	if err != nil {
		return 0, err
	}
	return FromUTC(t), nil
}

var isoLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
}

func parseISO(s string) (time.Time, error) {
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: not an ISO-8601 date or date-time", s)
}
