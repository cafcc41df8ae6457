// Package pyrepr writes values as Python's repr() does, for output a Python
// butler user compares with ours (CLI tables, file names from templates,
// header values).
package pyrepr

import (
	"math"
	"strconv"
	"strings"
)

// Float is Python's repr of a float (float_repr_style "short"): the shortest
// digits that read back as f, in exponent form when the decimal exponent of
// those digits is below -4 or at least 16 (1e-05, 1e+16: the exponent has a
// sign and at least two digits), otherwise in fixed notation with at least
// one digit after the point (30.0, -0.0); nan, inf and -inf for the rest.
func Float(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	// Go's shortest 'e' form is Python's: same digits, exponent with a sign
	// and at least two digits, no ".0" on a single digit.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
