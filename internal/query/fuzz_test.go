package query_test

import (
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/query"
)

// FuzzParse checks that Parse never panics, that every rejection is a
// *SyntaxError wrapping errs.ErrInvalid, and that Format of an accepted tree
// parses back to the same canonical String.
func FuzzParse(f *testing.F) {
	for _, tt := range parseCases {
		f.Add(tt.in)
	}
	for _, s := range []string{"T'2016-12-31T23:59:60'", "T'+02020-03-30T12:20:33.5/tt'", "T'gps/630720013.0'", "x IN (-1..-5:3)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := query.Parse(in)
		if err != nil {
			checkSyntaxError(t, in, err)
			return
		}
		if n == nil {
			if strings.Trim(in, " \t\n\r\f\v") != "" {
				t.Fatalf("Parse(%q) = nil for a non-blank expression", in)
			}
			return
		}
		s := n.String()
		text := query.Format(n)
		again, err := query.Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) = %s, but Parse(Format = %q): %v", in, s, text, err)
		}
		if again.String() != s {
			t.Fatalf("Parse(%q) = %s, but Parse(Format = %q) = %s", in, s, text, again)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	exprs := map[string]string{
		"small": "instrument = 'LATISS' AND exposure = 2024032100123",
		"typical": "instrument = 'LSSTCam' AND exposure.observation_type = 'science' AND " +
			"exposure.day_obs >= 20250101 AND visit IN (100..200:2, 301, 305) AND detector NOT IN (0, 1, 2) " +
			"AND exposure.timespan.begin > T'2025-01-01T00:00:00' AND band IN ('g', 'r', 'i')",
		"large": strings.Repeat("(visit = 1 OR detector IN (1..189)) AND exposure.timespan OVERLAPS (T'60000.5', T'60001.5') AND ", 50) + "x = 1",
	}
	for _, name := range []string{"small", "typical", "large"} {
		expr := exprs[name]
		b.Run("expr="+name, func(b *testing.B) {
			b.SetBytes(int64(len(expr)))
			b.ReportAllocs()
			for b.Loop() {
				n, err := query.Parse(expr)
				if err != nil || n == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
