package interop_test

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// A table as the query commands print it (astropy's fixed-width layout, the
// format of both butlers): a header line, a line of dashes per column, rows.
// Several tables (query-datasets prints one per dataset type) are separated by
// blank lines; lines that are not part of a table are ignored.
type table struct {
	cols []string
	rows []map[string]string
}

func parseTables(out string) []table {
	lines := strings.Split(strings.ReplaceAll(out, "\r", ""), "\n")
	var tables []table
	for i := 1; i < len(lines); i++ {
		spans := dashSpans(lines[i])
		if spans == nil {
			continue
		}
		tb := table{}
		for _, s := range spans {
			tb.cols = append(tb.cols, cut(lines[i-1], s))
		}
		j := i + 1
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != ""; j++ {
			row := map[string]string{}
			for k, s := range spans {
				row[tb.cols[k]] = cut(lines[j], s)
			}
			tb.rows = append(tb.rows, row)
		}
		tables = append(tables, tb)
		i = j
	}
	return tables
}

// dashSpans returns the [start, end) of each run of dashes when the line is
// only dashes and spaces (nil otherwise).
func dashSpans(line string) [][2]int {
	if strings.TrimSpace(line) == "" || strings.Trim(line, "- ") != "" {
		return nil
	}
	var spans [][2]int
	for i := 0; i < len(line); {
		if line[i] != '-' {
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] == '-' {
			j++
		}
		spans = append(spans, [2]int{i, j})
		i = j
	}
	return spans
}

// cut returns the trimmed text of a line within a column's span, widened to
// the neighbouring spaces (values may overhang the dashes by alignment).
func cut(line string, s [2]int) string {
	if s[0] >= len(line) {
		return ""
	}
	end := min(s[1], len(line))
	return strings.TrimSpace(line[s[0]:end])
}

// rowSet renders the rows of all tables as sorted strings over the given
// columns (a table lacking a column gives "").
func rowSet(tables []table, cols []string) []string {
	var out []string
	for _, tb := range tables {
		for _, r := range tb.rows {
			var parts []string
			for _, c := range cols {
				parts = append(parts, c+"="+normalizeCell(r[c]))
			}
			out = append(out, strings.Join(parts, " "))
		}
	}
	sort.Strings(out)
	return out
}

// commonColumns lists the columns both outputs have (in the first's order).
func commonColumns(a, b []table) (common, onlyA, onlyB []string) {
	has := func(ts []table) map[string]bool {
		m := map[string]bool{}
		for _, t := range ts {
			for _, c := range t.cols {
				m[c] = true
			}
		}
		return m
	}
	ha, hb := has(a), has(b)
	seen := map[string]bool{}
	for _, t := range a {
		for _, c := range t.cols {
			if seen[c] {
				continue
			}
			seen[c] = true
			if hb[c] {
				common = append(common, c)
			} else {
				onlyA = append(onlyA, c)
			}
		}
	}
	for c := range hb {
		if !ha[c] {
			onlyB = append(onlyB, c)
		}
	}
	sort.Strings(onlyB)
	return common, onlyA, onlyB
}

func TestParseTables(t *testing.T) {
	out := "type run       id\n---- --- ---------\n cfg u/a   x1 y\n cfg u/b        x2\n\nname\n----\nbias\n"
	tbs := parseTables(out)
	if len(tbs) != 2 || len(tbs[0].rows) != 2 || tbs[0].rows[1]["run"] != "u/b" || tbs[0].rows[1]["id"] != "x2" || tbs[1].rows[0]["name"] != "bias" {
		t.Errorf("parseTables = %s", fmt.Sprint(tbs))
	}
}

// zeroFraction matches the zero fractional seconds of an ISO time in a
// timespan ("01:00:30.000000000," → "01:00:30,").
var zeroFraction = regexp.MustCompile(`(T\d\d:\d\d:\d\d)\.0+([,)\]])`)

// normalizeCell maps the renderings of one value that formatting alone makes
// differ (30 / 30.0, False / false, zero fractional seconds) to one form: the
// comparison is of values; the formats are another test's business.
func normalizeCell(v string) string {
	switch strings.ToLower(v) {
	case "true", "false":
		return strings.ToLower(v)
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "xX") {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return zeroFraction.ReplaceAllString(v, "$1$2")
}
