package corpustest

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gobutler/butler/dataset"
)

// Expected is what one EXPECTED.<dir>.txt dump beside a Python-made corpus
// registry says (the tests parse it; expected values are never copied).
type Expected struct {
	SHA256      string
	Universe    int
	Instrument  map[string]string   // column → value
	Collections []map[string]string // collection_id, name, type, type_name
	Chains      []map[string]string // parent, position, child
	Types       []map[string]string // id, name, storage_class, dimensions, tag/calib tables
	Counts      []map[string]string // dataset_type, run, n
	Total       int
	Records     map[string]string // instrument, detector, ... → count
	Filters     []string          // "name:band"
	Exposures   []map[string]string
	Raws        []map[string]string
	Files       []map[string]string
}

// boxTables reads the sqlite3 "box" tables of a section: every table is a
// header row followed by data rows, each as column → cell.
func boxTables(lines []string) [][]map[string]string {
	var out [][]map[string]string
	var header []string
	var rows []map[string]string
	cells := func(l string) []string {
		parts := strings.Split(strings.Trim(strings.TrimSpace(l), "│"), "│")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "┌"):
			header, rows = nil, nil
		case strings.HasPrefix(l, "└"):
			out = append(out, rows)
		case strings.HasPrefix(l, "│"):
			c := cells(l)
			if header == nil {
				header = c
				continue
			}
			row := map[string]string{}
			for i, h := range header {
				if i < len(c) {
					row[h] = c[i]
				}
			}
			rows = append(rows, row)
		}
	}
	return out
}

// pipeRows reads "a | b | c" rows after their header line.
func pipeRows(lines []string, firstCol string) []map[string]string {
	var header []string
	var out []map[string]string
	for _, l := range lines {
		if !strings.Contains(l, " | ") {
			continue
		}
		c := strings.Split(l, " | ")
		for i := range c {
			c[i] = strings.TrimSpace(c[i])
		}
		if header == nil {
			if c[0] == firstCol {
				header = c
			}
			continue
		}
		row := map[string]string{}
		for i, h := range header {
			if i < len(c) {
				row[h] = c[i]
			}
		}
		out = append(out, row)
	}
	return out
}

var (
	kvLine     = regexp.MustCompile(`^\s*([a-z_]+) +=(.*)$`)
	sectionRE  = regexp.MustCompile(`^## (\d+)\.`)
	sha256Line = regexp.MustCompile(`^sha256 of gen3\.sqlite3: ([0-9a-f]{64})`)
	totalLine  = regexp.MustCompile(`^total datasets: (\d+)`)
)

// ReadExpected parses an EXPECTED.<dir>.txt dump; it fails t when a section
// the tests compare against parsed to nothing.
func ReadExpected(t testing.TB, path string) *Expected {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sections := map[int][]string{}
	sec := 0
	e := &Expected{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if m := sectionRE.FindStringSubmatch(l); m != nil {
			sec, _ = strconv.Atoi(m[1])
			continue
		}
		if m := sha256Line.FindStringSubmatch(l); m != nil {
			e.SHA256 = m[1]
		}
		sections[sec] = append(sections[sec], l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, l := range sections[1] {
		if m := kvLine.FindStringSubmatch(l); m != nil && m[1] == "version" {
			e.Universe, _ = strconv.Atoi(strings.TrimSpace(m[2]))
		}
	}
	if tb := boxTables(sections[3]); len(tb) == 1 && len(tb[0]) == 1 {
		e.Instrument = tb[0][0]
	}
	for _, tb := range boxTables(sections[4]) {
		if len(tb) > 0 && tb[0]["collection_id"] != "" {
			e.Collections = tb
		} else if len(tb) > 0 && tb[0]["parent"] != "" {
			e.Chains = tb
		}
	}
	if tb := boxTables(sections[5]); len(tb) == 1 {
		e.Types = tb[0]
	}
	if tb := boxTables(sections[6]); len(tb) == 1 {
		e.Counts = tb[0]
	}
	for _, l := range sections[6] {
		if m := totalLine.FindStringSubmatch(l); m != nil {
			e.Total, _ = strconv.Atoi(m[1])
		}
	}
	if tb := boxTables(sections[7]); len(tb) == 1 && len(tb[0]) == 1 {
		e.Records = tb[0][0]
	}
	inFilters := false
	for _, l := range sections[7] {
		if strings.HasPrefix(l, "physical_filter names") {
			inFilters = true
			continue
		}
		if inFilters && strings.HasPrefix(l, "  ") {
			for _, item := range strings.Split(l, ",") {
				if item = strings.TrimSpace(item); item != "" {
					e.Filters = append(e.Filters, item)
				}
			}
		}
	}
	var cur map[string]string
	for _, l := range sections[8] {
		m := kvLine.FindStringSubmatch(l)
		if m == nil {
			cur = nil
			continue
		}
		if cur == nil {
			cur = map[string]string{}
			e.Exposures = append(e.Exposures, cur)
		}
		cur[m[1]] = strings.TrimSpace(m[2])
	}
	e.Raws = pipeRows(sections[9], "uuid_ver")
	e.Files = pipeRows(sections[10], "dataset_id")
	// Guard the parser: a section that silently parsed to nothing would make
	// the comparisons below vacuous.
	for what, empty := range map[string]bool{
		"sha256": e.SHA256 == "", "universe": e.Universe == 0, "instrument": e.Instrument == nil,
		"collections": len(e.Collections) == 0, "dataset types": len(e.Types) == 0, "counts": len(e.Counts) == 0,
		"total": e.Total == 0, "record counts": e.Records == nil, "filters": len(e.Filters) == 0,
		"exposures": len(e.Exposures) == 0, "raws": len(e.Raws) == 0, "files": len(e.Files) == 0,
	} {
		if empty {
			t.Fatalf("%s: parser found no %s", path, what)
		}
	}
	return e
}

// SameValue compares a record value with the sqlite3 shell's rendering of it:
// "" is NULL, REALs are printed with 15 significant digits, booleans as 0/1.
func SameValue(got any, want string) bool {
	if got == nil {
		return want == ""
	}
	switch g := got.(type) {
	case float64:
		w, err := strconv.ParseFloat(want, 64)
		return err == nil && strconv.FormatFloat(g, 'g', 15, 64) == strconv.FormatFloat(w, 'g', 15, 64)
	case bool:
		return (want == "1") == g && (want == "1" || want == "0")
	}
	return fmt.Sprint(got) == want
}

// UUIDHex is an ID as the sqlite3 shell prints it.
func UUIDHex(id dataset.ID) string { return strings.ReplaceAll(id.String(), "-", "") }
