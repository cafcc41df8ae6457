package serveload

import (
	"math"
	"testing"
	"time"
)

// TestRampTime: the warm-up's schedule starts at a tenth of the rate, ramps
// up without a jump, and reaches the full rate at the end of the warm-up;
// without a warm-up the schedule is unchanged.
func TestRampTime(t *testing.T) {
	w := 10 * time.Second
	sec := func(d time.Duration) float64 { return d.Seconds() }
	for _, tc := range []struct {
		v, want float64 // seconds on the full-rate schedule, and sent at
	}{
		{0, 0},
		{0.05, 0.5},                     // a tenth of the rate at first
		{0.1, 1},                        // the end of the flat tenth
		{5.05, 10},                      // the end of the warm-up: half the work done
		{6.05, 11},                      // then the full rate
		{2.55, math.Sqrt(2 * 10 * 2.5)}, // on the ramp
	} {
		if got := sec(rampTime(time.Duration(tc.v*float64(time.Second)), w)); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("rampTime(%v s, 10 s) = %v s, want %v", tc.v, got, tc.want)
		}
	}
	prev := time.Duration(-1)
	for v := time.Duration(0); v < 8*time.Second; v += 7 * time.Millisecond {
		got := rampTime(v, w)
		if got <= prev {
			t.Fatalf("rampTime not increasing at %v: %v after %v", v, got, prev)
		}
		// The rate never exceeds the full rate: sent no sooner than due.
		if got < v {
			t.Fatalf("rampTime(%v) = %v, sooner than the full-rate schedule", v, got)
		}
		prev = got
	}
	if got := rampTime(3*time.Second, 0); got != 3*time.Second {
		t.Errorf("no warm-up: rampTime(3 s) = %v", got)
	}
}
