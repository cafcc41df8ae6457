package query_test

import (
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/query"
	"github.com/gobutler/butler/timespan"
)

// TestParse_TimeLiterals covers the forms upstream's _parseTimeString accepts
// (tests/test_exprParserYacc.py testParseTimeStr) and rejects. want is the TAI
// reading; UTC inputs are 37 s behind it in 2017-2026, 32 s in 2000.
func TestParse_TimeLiterals(t *testing.T) {
	tests := []struct {
		name, text  string
		want        string // timespan.FormatTAI of the result
		wantClamped bool
		wantErr     string // prefix, position included
	}{
		{"mjd", "51544.0", "2000-01-01T00:00:00.000000000", false, ""},
		{"mjd format", "mjd/51544.0", "2000-01-01T00:00:00.000000000", false, ""},
		{"mjd scale", "51544.0/tai", "2000-01-01T00:00:00.000000000", false, ""},
		{"mjd format scale", "mjd/51544.0/tai", "2000-01-01T00:00:00.000000000", false, ""},
		{"mjd any case", "MJd/51544.0/TAi", "2000-01-01T00:00:00.000000000", false, ""},
		{"mjd utc", "51544.0/utc", "2000-01-01T00:00:32.000000000", false, ""},
		{"mjd tt", "51544.0/tt", "1999-12-31T23:59:27.816000000", false, ""},
		{"mjd fraction exact", "58938.515", "2020-03-30T12:21:36.000000000", false, ""},
		{"mjd fraction rounded", "58938.0000000000001", "2020-03-30T00:00:00.000000009", false, ""},
		{"mjd leading point", "mjd/.5", "1970-01-01T00:00:00.000000000", true, ""},
		{"mjd trailing point", "51544.", "2000-01-01T00:00:00.000000000", false, ""},
		{"jd", "jd/2451544.5", "2000-01-01T00:00:00.000000000", false, ""},
		{"unix", "unix/946684800.0", "2000-01-01T00:00:32.000000000", false, ""},
		{"unix explicit utc", "unix/946684800.5/utc", "2000-01-01T00:00:32.500000000", false, ""},
		{"unix_tai", "unix_tai/946684800.0", "2000-01-01T00:00:00.000000000", false, ""},
		{"cxcsec", "cxcsec/63072064.184", "2000-01-01T00:00:32.000000000", false, ""},
		{"gps", "gps/630720013.0", "2000-01-01T00:00:32.000000000", false, ""},
		{"iso date", "2020-03-30", "2020-03-30T00:00:37.000000000", false, ""},
		{"iso minutes", "2020-03-30 12:20", "2020-03-30T12:20:37.000000000", false, ""},
		{"iso fraction", "2020-03-30 12:20:33.456789", "2020-03-30T12:21:10.456789000", false, ""},
		{"iso empty fraction", "2020-03-30 12:20:33.", "2020-03-30T12:21:10.000000000", false, ""},
		{"iso one digit fields", "2020-3-5 1:2:3", "2020-03-05T01:02:40.000000000", false, ""},
		{"isot minutes", "2020-03-30T12:20", "2020-03-30T12:20:37.000000000", false, ""},
		{"isot fraction", "2020-03-30T12:20:33.456789", "2020-03-30T12:21:10.456789000", false, ""},
		{"isot lower t", "2020-03-30t12:20:33", "2020-03-30T12:21:10.000000000", false, ""},
		{"isot rounds to ns", "2020-03-30T12:20:33.1234567895", "2020-03-30T12:21:10.123456790", false, ""},
		{"isot rounds into next second", "2020-03-30T12:20:33.9999999999", "2020-03-30T12:21:11.000000000", false, ""},
		{"isot date only", "isot/2020-03-30", "2020-03-30T00:00:37.000000000", false, ""},
		{"iso tai", "2020-03-30/tai", "2020-03-30T00:00:00.000000000", false, ""},
		{"iso tt", "2020-03-30T00:00:32.184/tt", "2020-03-30T00:00:00.000000000", false, ""},
		{"utc zone stripped", "2020-03-30T12:20:33+00:00", "2020-03-30T12:21:10.000000000", false, ""},
		{"fits", "+02020-03-30", "2020-03-30T00:00:37.000000000", false, ""},
		{"fits time", "+02020-03-30T12:20:33", "2020-03-30T12:21:10.000000000", false, ""},
		{"fits fraction", "+02020-03-30T12:20:33.456789", "2020-03-30T12:21:10.456789000", false, ""},
		{"fits format", "fits/2020-03-30", "2020-03-30T00:00:37.000000000", false, ""},
		{"fits format time", "fits/2020-03-30T12:20:33", "2020-03-30T12:21:10.000000000", false, ""},
		{"yday", "2020:123", "2020-05-02T00:00:37.000000000", false, ""},
		{"yday minutes", "2020:123:12:20", "2020-05-02T12:20:37.000000000", false, ""},
		{"yday fraction", "2020:123:12:20:33.456789", "2020-05-02T12:21:10.456789000", false, ""},
		{"yday format scale", "yday/2020:123:12:20/tai", "2020-05-02T12:20:00.000000000", false, ""},
		{"yday leap year end", "2020:366", "2020-12-31T00:00:37.000000000", false, ""},
		{"leap second", "2016-12-31T23:59:60.5", "2017-01-01T00:00:36.500000000", false, ""},
		{"before leap second", "2016-12-31T23:59:59", "2017-01-01T00:00:35.000000000", false, ""},
		{"after leap second", "2017-01-01T00:00:00", "2017-01-01T00:00:37.000000000", false, ""},
		{"before 1970 clamps", "1960-01-01", "1970-01-01T00:00:00.000000000", true, ""},
		{"far future clamps", "9999-12-31", "2100-01-01T00:00:00.000000000", true, ""},
		{"fits far future clamps", "+12020-01-01", "2100-01-01T00:00:00.000000000", true, ""},
		{"huge mjd clamps", "999999999999.0", "2100-01-01T00:00:00.000000000", true, ""},
		{"negative mjd clamps", "-1.5", "1970-01-01T00:00:00.000000000", true, ""},
		{"max is not clamped", "2100-01-01T00:00:00/tai", "2100-01-01T00:00:00.000000000", false, ""},
		{"epoch is not clamped", "1970-01-01T00:00:00/tai", "1970-01-01T00:00:00.000000000", false, ""},

		{"empty", "", "", false, "1:1: time \"\" has no known form"},
		{"blank", " ", "", false, "1:1: time \" \" has no known form"},
		{"integer mjd", "58000", "", false, "1:1: time \"58000\" has no known form: a number needs a decimal point (\"58000.0\" is an MJD)"},
		{"exponent", "123.456e10", "", false, "1:1: time \"123.456e10\" has no known form"},
		{"format not a word", "mjd-dj/123.456", "", false, "1:1: time \"mjd-dj/123.456\" has no known form"},
		{"scale not a word", "123.456/mai-tai", "", false, "1:1: time \"123.456/mai-tai\" has no known form"},
		{"hour only", "2020-03-01 00", "", false, "1:1: time \"2020-03-01 00\" has no known form"},
		{"bare T", "2020-03-01T", "", false, "1:1: time \"2020-03-01T\" has no known form"},
		{"yday hour only", "2020:100:12", "", false, "1:1: time \"2020:100:12\" has no known form"},
		{"other zone", "2020-03-01T00:00:00+01:00", "", false, "1:1: time \"2020-03-01T00:00:00+01:00\" has no known form"},
		{"unknown format", "format/123456.00", "", false, "1:3: unknown time format \"format\"; expected one of cxcsec, fits, gps, iso, isot, jd, mjd, unix, unix_tai, yday"},
		{"unsupported format", "jyear/2000.0", "", false, "1:3: time format \"jyear\" is not supported"},
		{"unknown scale", "123456.00/unscale", "", false, "1:13: unknown time scale \"unscale\"; expected one of tai, tt, utc"},
		{"unsupported scale", "51544.0/tdb", "", false, "1:11: time scale \"tdb\" is not supported; expected one of tai, tt, utc"},
		{"epoch format other scale", "unix/946684800.0/tai", "", false, "1:20: time scale \"tai\" is not supported with format \"unix\" (its scale is utc)"},
		{"iso with T", "iso/2020-03-30T12:00", "", false, "1:1: time \"2020-03-30T12:00\" does not match format \"iso\""},
		{"isot with space", "isot/2020-03-30 12:00", "", false, "1:1: time \"2020-03-30 12:00\" does not match format \"isot\""},
		{"fits without seconds", "fits/2020-03-30T12:00", "", false, "1:1: time \"2020-03-30T12:00\" does not match format \"fits\": it needs seconds"},
		{"mjd of a date", "mjd/2020-03-30", "", false, "1:1: time \"2020-03-30\" does not match format \"mjd\""},
		{"iso of a number", "iso/51544.0", "", false, "1:1: time \"51544.0\" does not match format \"iso\""},
		{"month", "2020-13-01", "", false, "1:1: time \"2020-13-01\": month 13 is out of range"},
		{"day", "2021-02-29", "", false, "1:1: time \"2021-02-29\": day 29 is out of range"},
		{"hour", "2020-01-01 24:00", "", false, "1:1: time \"2020-01-01 24:00\": hour 24 is out of range"},
		{"minute", "2020-01-01 23:60", "", false, "1:1: time \"2020-01-01 23:60\": minute 60 is out of range"},
		{"second", "2020-01-01 23:59:61", "", false, "1:1: time \"2020-01-01 23:59:61\": second 61 is out of range"},
		{"day of year", "2021:366", "", false, "1:1: time \"2021:366\": day of year 366 is out of range"},
		{"five digit year", "20200-01-01", "", false, "1:1: time \"20200-01-01\": year 20200 is out of range"},
		{"three digit month", "2020-001-01", "", false, "1:1: time \"2020-001-01\": month 001 is out of range"},
		{"not a leap second", "2020-01-01T23:59:60", "", false, "1:1: time \"2020-01-01T23:59:60\": second 60 is not a leap second"},
		{"leap second in tai", "2016-12-31T23:59:60/tai", "", false, "1:1: time \"2016-12-31T23:59:60\": second 60 exists only in UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := "T'" + tt.text + "'"
			n, err := query.Parse(in)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want prefix %q", in, err, tt.wantErr)
				}
				checkSyntaxError(t, in, err)
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", in, err)
			}
			lit, ok := n.(*query.TimeLit)
			if !ok {
				t.Fatalf("Parse(%q) = %T, want *query.TimeLit", in, n)
			}
			if got := timespan.FormatTAI(lit.TAI); got != tt.want || lit.Clamped != tt.wantClamped {
				t.Errorf("Parse(%q) = %s clamped=%v, want %s clamped=%v", in, got, lit.Clamped, tt.want, tt.wantClamped)
			}
			if lit.Text != tt.text {
				t.Errorf("Parse(%q).Text = %q, want %q", in, lit.Text, tt.text)
			}
		})
	}
}

// TestParse_TimeAgreesWithTimespan checks our calendar arithmetic against the
// timespan package's own conversions over leap-second boundaries.
func TestParse_TimeAgreesWithTimespan(t *testing.T) {
	for _, iso := range []string{
		"1972-01-01T00:00:00", "1999-01-01T00:00:00", "2008-12-31T23:59:59", "2009-01-01T00:00:00",
		"2017-01-01T00:00:00.25", "2024-03-21T07:54:19.147", "2099-12-31T23:59:00",
	} {
		n, err := query.Parse("T'" + iso + "'")
		if err != nil {
			t.Fatal(err)
		}
		want, err := timespan.ParseUTC(iso)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.(*query.TimeLit).TAI; got != want {
			t.Errorf("T'%s' = %d, want timespan.ParseUTC = %d", iso, got, want)
		}
		n, err = query.Parse("T'" + iso + "/tai'")
		if err != nil {
			t.Fatal(err)
		}
		want, err = timespan.ParseTAI(iso)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.(*query.TimeLit).TAI; got != want {
			t.Errorf("T'%s/tai' = %d, want timespan.ParseTAI = %d", iso, got, want)
		}
	}
	// MJD 60000.25 in UTC, as timespan.FromMJD computes it.
	n, err := query.Parse("T'60000.25/utc'")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.(*query.TimeLit).TAI, timespan.FromMJD(60000.25, "utc"); got != want {
		t.Errorf("T'60000.25/utc' = %d, want timespan.FromMJD = %d", got, want)
	}
}
