package pyrepr_test

import (
	"math"
	"testing"

	"github.com/gobutler/butler/internal/pyrepr"
)

// The wanted strings are Python 3's repr() of the same floats.
func TestFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{0.1, "0.1"},
		{30, "30.0"},
		{-30, "-30.0"},
		{123.456, "123.456"},
		{1e-4, "0.0001"}, // the smallest in fixed notation
		{9.999999999999999e-05, "9.999999999999999e-05"}, // the next float down
		{1e-5, "1e-05"}, // two exponent digits, no ".0"
		{-1e-5, "-1e-05"},
		{5e-324, "5e-324"},
		{1e15, "1000000000000000.0"},
		{9999999999999998, "9999999999999998.0"}, // the largest below 1e16
		{1e16, "1e+16"},
		{1e17, "1e+17"},
		{1e22, "1e+22"},
		{1.5e300, "1.5e+300"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{1 << 53, "9007199254740992.0"},
		{1 << 63, "9.223372036854776e+18"},
		{123456789012345678, "1.2345678901234568e+17"},
		{math.NaN(), "nan"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
	} {
		if got := pyrepr.Float(tc.f); got != tc.want {
			t.Errorf("Float(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}
