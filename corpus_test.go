package butler_test

// Opens the Python-made registries of the shared corpus read-only and checks
// what the butler API reports against the EXPECTED.<dir>.txt dumps beside them.
// The expected values are parsed from those files, never copied here.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/timespan"
	"github.com/google/go-cmp/cmp"
)

// corpusRoot finds the shared corpus: $BUTLER_TEST_CORPUS, else ../shared/corpus
// beside the module root. It skips the test when there is none.
func corpusRoot(t *testing.T) string {
	return corpustest.Dir(t)
}

// expected is what one EXPECTED.<dir>.txt says.
type expected struct {
	sha256      string
	universe    int
	instrument  map[string]string   // column → value
	collections []map[string]string // collection_id, name, type, type_name
	chains      []map[string]string // parent, position, child
	types       []map[string]string // id, name, storage_class, dimensions, tag/calib tables
	counts      []map[string]string // dataset_type, run, n
	total       int
	records     map[string]string // instrument, detector, ... → count
	filters     []string          // "name:band"
	exposures   []map[string]string
	raws        []map[string]string
	files       []map[string]string
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

func readExpected(t *testing.T, path string) *expected {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sections := map[int][]string{}
	sec := 0
	e := &expected{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if m := sectionRE.FindStringSubmatch(l); m != nil {
			sec, _ = strconv.Atoi(m[1])
			continue
		}
		if m := sha256Line.FindStringSubmatch(l); m != nil {
			e.sha256 = m[1]
		}
		sections[sec] = append(sections[sec], l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, l := range sections[1] {
		if m := kvLine.FindStringSubmatch(l); m != nil && m[1] == "version" {
			e.universe, _ = strconv.Atoi(strings.TrimSpace(m[2]))
		}
	}
	if tb := boxTables(sections[3]); len(tb) == 1 && len(tb[0]) == 1 {
		e.instrument = tb[0][0]
	}
	for _, tb := range boxTables(sections[4]) {
		if len(tb) > 0 && tb[0]["collection_id"] != "" {
			e.collections = tb
		} else if len(tb) > 0 && tb[0]["parent"] != "" {
			e.chains = tb
		}
	}
	if tb := boxTables(sections[5]); len(tb) == 1 {
		e.types = tb[0]
	}
	if tb := boxTables(sections[6]); len(tb) == 1 {
		e.counts = tb[0]
	}
	for _, l := range sections[6] {
		if m := totalLine.FindStringSubmatch(l); m != nil {
			e.total, _ = strconv.Atoi(m[1])
		}
	}
	if tb := boxTables(sections[7]); len(tb) == 1 && len(tb[0]) == 1 {
		e.records = tb[0][0]
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
					e.filters = append(e.filters, item)
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
			e.exposures = append(e.exposures, cur)
		}
		cur[m[1]] = strings.TrimSpace(m[2])
	}
	e.raws = pipeRows(sections[9], "uuid_ver")
	e.files = pipeRows(sections[10], "dataset_id")
	// Guard the parser: a section that silently parsed to nothing would make
	// the comparisons below vacuous.
	for what, empty := range map[string]bool{
		"sha256": e.sha256 == "", "universe": e.universe == 0, "instrument": e.instrument == nil,
		"collections": len(e.collections) == 0, "dataset types": len(e.types) == 0, "counts": len(e.counts) == 0,
		"total": e.total == 0, "record counts": e.records == nil, "filters": len(e.filters) == 0,
		"exposures": len(e.exposures) == 0, "raws": len(e.raws) == 0, "files": len(e.files) == 0,
	} {
		if empty {
			t.Fatalf("%s: parser found no %s", path, what)
		}
	}
	return e
}

// corpusRegistries lists the corpus directories that hold a registry.
func corpusRegistries(t *testing.T) []string {
	t.Helper()
	root := corpusRoot(t)
	matches, err := filepath.Glob(filepath.Join(root, "raws", "*", "gen3.sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, m := range matches {
		dirs = append(dirs, filepath.Dir(m))
	}
	if len(dirs) != 4 {
		t.Errorf("corpus registries: found %d (%v), want the 4 the corpus README lists", len(dirs), dirs)
	}
	return dirs
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// sameValue compares a record value with the sqlite3 shell's rendering of it:
// "" is NULL, REALs are printed with 15 significant digits, booleans as 0/1.
func sameValue(got any, want string) bool {
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

func uuidHex(id dataset.ID) string { return strings.ReplaceAll(id.String(), "-", "") }

func TestCorpus_OpenPythonRegistries(t *testing.T) {
	for _, dir := range corpusRegistries(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			exp := readExpected(t, filepath.Join(dir, "EXPECTED."+name+".txt"))
			if got := fileSHA256(t, filepath.Join(dir, "gen3.sqlite3")); got != exp.sha256 {
				t.Fatalf("gen3.sqlite3 sha256 = %s before the test, want %s (the corpus was changed)", got, exp.sha256)
			}
			before := dirNames(t, dir)
			ctx := context.Background()
			b, err := butler.Open(ctx, dir, butler.OpenOptions{})
			if err != nil {
				t.Fatalf("Open(%s, read-only): %v", dir, err)
			}
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				// A read-only open must leave the repository byte-for-byte alone
				// (no journal, no WAL, no schema or attribute upgrades).
				if got := fileSHA256(t, filepath.Join(dir, "gen3.sqlite3")); got != exp.sha256 {
					t.Errorf("gen3.sqlite3 sha256 = %s after a read-only open, want %s", got, exp.sha256)
				}
				if after := dirNames(t, dir); !slices.Equal(before, after) {
					t.Errorf("repository directory changed by a read-only open: %v, was %v", after, before)
				}
			})
			if b.IsWriteable() {
				t.Errorf("IsWriteable() = true for a read-only open")
			}
			if _, err := b.RegisterRun(ctx, "should/not/exist", ""); !errors.Is(err, errs.ErrReadOnly) {
				t.Errorf("RegisterRun on a read-only repository: %v, want errs.ErrReadOnly", err)
			}
			checkCorpusRegistry(t, ctx, b, exp)
		})
	}
}

func checkCorpusRegistry(t *testing.T, ctx context.Context, b *butler.Butler, exp *expected) {
	t.Run("universe", func(t *testing.T) {
		if b.Universe.Version != exp.universe {
			t.Errorf("Universe.Version = %d, want %d", b.Universe.Version, exp.universe)
		}
	})

	t.Run("instrument", func(t *testing.T) {
		recs, err := b.Records(ctx, "instrument", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 {
			t.Fatalf("instrument records: %d, want 1", len(recs))
		}
		for col, want := range exp.instrument {
			got, ok := recs[0].Values[col]
			if !ok {
				t.Errorf("instrument record has no %q (has %v)", col, keys(recs[0].Values))
				continue
			}
			if !sameValue(got, want) {
				t.Errorf("instrument.%s = %v (%T), want %s", col, got, got, want)
			}
		}
		if len(recs[0].Values) != len(exp.instrument) {
			t.Errorf("instrument record columns %v, want %v", keys(recs[0].Values), keys(exp.instrument))
		}
	})

	t.Run("collections", func(t *testing.T) {
		cols, err := b.Collections(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range cols {
			got[c.Name] = c.Type.String()
		}
		want := map[string]string{}
		for _, c := range exp.collections {
			want[c["name"]] = c["type_name"]
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("collections (name → type) differ (-want +got):\n%s", d)
		}
		wantChains := map[string][]string{}
		for _, row := range exp.chains {
			wantChains[row["parent"]] = append(wantChains[row["parent"]], row["child"])
		}
		for _, c := range exp.collections {
			if c["type_name"] != "CHAINED" {
				continue
			}
			children, err := b.Chain(ctx, c["name"])
			if err != nil {
				t.Errorf("Chain(%q): %v", c["name"], err)
				continue
			}
			if d := cmp.Diff(wantChains[c["name"]], children); d != "" {
				t.Errorf("Chain(%q) differs (-want +got):\n%s", c["name"], d)
			}
		}
	})

	t.Run("dataset types", func(t *testing.T) {
		dts, err := b.DatasetTypes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		type dt struct {
			StorageClass, Dimensions string
			Calibration              bool
		}
		got := map[string]dt{}
		for _, d := range dts {
			dims := d.Dimensions.RequiredNames()
			sort.Strings(dims)
			got[d.Name] = dt{d.StorageClass, strings.Join(dims, ","), d.IsCalibration}
		}
		want := map[string]dt{}
		for _, row := range exp.types {
			want[row["name"]] = dt{row["storage_class"], row["dimensions"], row["calibration_association_table"] != ""}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("dataset types differ (-want +got):\n%s", d)
		}
	})

	t.Run("dataset counts", func(t *testing.T) {
		got := map[string]int{}
		seen := map[dataset.ID]int{}
		err := b.QueryDatasets(ctx, butler.DatasetSearch{Collections: []string{"*"}}, func(r dataset.Ref) error {
			seen[r.ID]++
			if seen[r.ID] == 1 {
				got[r.Type.Name+" in "+r.Run]++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("QueryDatasets(collections *): %v", err)
		}
		want := map[string]int{}
		for _, row := range exp.counts {
			n, _ := strconv.Atoi(row["n"])
			want[row["dataset_type"]+" in "+row["run"]] = n
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("datasets per type and run differ (-want +got):\n%s", d)
		}
		if len(seen) != exp.total {
			t.Errorf("distinct datasets = %d, want %d", len(seen), exp.total)
		}
	})

	t.Run("dimension records", func(t *testing.T) {
		for _, el := range []string{"instrument", "detector", "physical_filter", "exposure", "visit"} {
			want, err := strconv.Atoi(exp.records[el])
			if err != nil {
				t.Fatalf("EXPECTED count of %s: %v", el, err)
			}
			recs, err := b.Records(ctx, el, nil)
			if err != nil {
				t.Errorf("Records(%s): %v", el, err)
				continue
			}
			if len(recs) != want {
				t.Errorf("%s records: %d, want %d", el, len(recs), want)
			}
		}
		recs, err := b.Records(ctx, "physical_filter", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, fmt.Sprintf("%v:%v", r.Values["name"], r.Values["band"]))
		}
		want := slices.Clone(exp.filters)
		sort.Strings(got)
		sort.Strings(want)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("physical_filter name:band differ (-want +got):\n%s", d)
		}
	})

	t.Run("exposures", func(t *testing.T) {
		got := map[string]dimensions.Record{}
		err := b.QueryRecords(ctx, butler.RecordSearch{Element: "exposure"}, func(r dimensions.Record) error {
			got[fmt.Sprint(r.Values["id"])] = r
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(exp.exposures) {
			t.Errorf("exposure records: %d, want %d", len(got), len(exp.exposures))
		}
		for _, want := range exp.exposures {
			rec, ok := got[want["id"]]
			if !ok {
				t.Errorf("exposure %s missing", want["id"])
				continue
			}
			checkExposure(t, rec, want)
		}
	})

	t.Run("raw datasets", func(t *testing.T) {
		refs := map[string]dataset.Ref{}
		err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"*"}, WithImplied: true}, func(r dataset.Ref) error {
			refs[uuidHex(r.ID)] = r
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != len(exp.raws) {
			t.Errorf("raw datasets: %d, want %d", len(refs), len(exp.raws))
		}
		for _, want := range exp.raws {
			ref, ok := refs[want["dataset_id"]]
			if !ok {
				t.Errorf("raw dataset %s missing (have %v)", want["dataset_id"], keys(refs))
				continue
			}
			if v := strconv.Itoa(int(ref.ID.Version())); v != want["uuid_ver"] {
				t.Errorf("raw %s: UUID version %s, want %s", ref.ID, v, want["uuid_ver"])
			}
			if ref.Run != want["collection"] {
				t.Errorf("raw %s: run %q, want %q", ref.ID, ref.Run, want["collection"])
			}
			for _, k := range []string{"instrument", "exposure", "detector", "physical_filter"} {
				if !sameValue(ref.DataID[k], want[k]) {
					t.Errorf("raw %s: data ID %s = %v, want %s (data ID %v)", ref.ID, k, ref.DataID[k], want[k], ref.DataID)
				}
			}
			// The UUIDv5 rule of the corpus README, recomputed through the dataset package.
			id, err := dataset.NewID(dataset.DataIDTypeRun, "raw", ref.Run, dimensions.DataID{
				"instrument": ref.DataID["instrument"], "exposure": ref.DataID["exposure"], "detector": ref.DataID["detector"]})
			if err != nil || id != ref.ID {
				t.Errorf("raw %s: dataset.NewID(DataIDTypeRun) = %s, %v", ref.ID, id, err)
			}
			exps, err := b.Records(ctx, "exposure", dimensions.DataID{"instrument": ref.DataID["instrument"], "exposure": ref.DataID["exposure"]})
			if err != nil || len(exps) != 1 {
				t.Errorf("exposure record of raw %s: %d, %v", ref.ID, len(exps), err)
			} else {
				for _, k := range []string{"obs_id", "day_obs"} {
					if !sameValue(exps[0].Values[k], want[k]) {
						t.Errorf("raw %s: exposure.%s = %v, want %s", ref.ID, k, exps[0].Values[k], want[k])
					}
				}
			}
			dets, err := b.Records(ctx, "detector", dimensions.DataID{"instrument": ref.DataID["instrument"], "detector": ref.DataID["detector"]})
			if err != nil || len(dets) != 1 {
				t.Errorf("detector record of raw %s: %d, %v", ref.ID, len(dets), err)
			} else if !sameValue(dets[0].Values["full_name"], want["detector_name"]) {
				t.Errorf("raw %s: detector.full_name = %v, want %s", ref.ID, dets[0].Values["full_name"], want["detector_name"])
			}
		}
	})

	t.Run("file paths", func(t *testing.T) {
		var ids []dataset.ID
		want := map[dataset.ID]string{}
		for _, row := range exp.files {
			id, err := parseUUID(row["dataset_id"])
			if err != nil {
				t.Fatalf("EXPECTED dataset_id %q: %v", row["dataset_id"], err)
			}
			ids = append(ids, id)
			want[id] = row["path"]
		}
		uris, err := b.URIs(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		got := map[dataset.ID]string{}
		for id, u := range uris {
			got[id] = relativeToRoot(t, b.Root, u)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("datastore paths relative to the repository root differ (-want +got):\n%s", d)
		}
		// The raws are the only files the corpus ships; their records must point at them.
		for _, row := range exp.raws {
			p := filepath.Join(b.Root, filepath.FromSlash(row["path"]))
			if fi, err := os.Stat(p); err != nil {
				t.Errorf("raw file %s: %v", p, err)
			} else if strconv.FormatInt(fi.Size(), 10) != row["file_size"] && row["file_size"] != "-1" {
				t.Errorf("raw file %s: %d bytes, registry says %s", p, fi.Size(), row["file_size"])
			}
		}
	})

	t.Run("find first", func(t *testing.T) {
		// Search the instrument's CHAINED umbrella where there is one, else every
		// collection in registry order.
		var search []string
		for _, c := range exp.collections {
			if c["type_name"] == "CHAINED" {
				search = []string{c["name"]}
			}
		}
		if search == nil {
			for _, c := range exp.collections {
				search = append(search, c["name"])
			}
		}
		var got []string
		err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"raw"}, Collections: search, FindFirst: true}, func(r dataset.Ref) error {
			got = append(got, uuidHex(r.ID))
			return nil
		})
		if err != nil {
			t.Fatalf("QueryDatasets(raw, %v, find-first): %v", search, err)
		}
		var want []string
		for _, row := range exp.raws {
			want = append(want, row["dataset_id"])
		}
		sort.Strings(got)
		sort.Strings(want)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("find-first raw over %v differs (-want +got):\n%s", search, d)
		}
		for _, row := range exp.raws {
			exposure, _ := strconv.ParseInt(row["exposure"], 10, 64)
			detector, _ := strconv.ParseInt(row["detector"], 10, 64)
			ref, err := b.Find(ctx, "raw", dimensions.DataID{"instrument": row["instrument"], "exposure": exposure, "detector": detector}, search)
			if err != nil {
				t.Errorf("Find(raw %s/%s/%s in %v): %v", row["instrument"], row["exposure"], row["detector"], search, err)
			} else if uuidHex(ref.ID) != row["dataset_id"] {
				t.Errorf("Find(raw ... in %v) = %s, want %s", search, ref.ID, row["dataset_id"])
			}
		}
	})
}

// checkExposure compares every column of an exposure row; the timespan is
// compared in TAI nanoseconds, and its *_tai rendering by calendar time.
func checkExposure(t *testing.T, rec dimensions.Record, want map[string]string) {
	t.Helper()
	id := want["id"]
	for col, w := range want {
		switch col {
		case "timespan_begin", "timespan_end", "timespan_begin_tai", "timespan_end_tai":
			continue
		}
		got, ok := rec.Values[col]
		if !ok {
			t.Errorf("exposure %s: no column %q (has %v)", id, col, keys(rec.Values))
			continue
		}
		if !sameValue(got, w) {
			t.Errorf("exposure %s: %s = %v (%T), want %q", id, col, got, got, w)
		}
	}
	for col := range rec.Values {
		if _, ok := want[col]; !ok && col != "timespan" {
			t.Errorf("exposure %s: column %q is not in the registry's exposure table", id, col)
		}
	}
	ts, ok := rec.Values["timespan"].(timespan.Timespan)
	if !ok {
		t.Errorf("exposure %s: timespan = %#v, want a timespan.Timespan", id, rec.Values["timespan"])
		return
	}
	if got := strconv.FormatInt(ts.Begin, 10); got != want["timespan_begin"] {
		t.Errorf("exposure %s: timespan begin = %s ns TAI, want %s", id, got, want["timespan_begin"])
	}
	if got := strconv.FormatInt(ts.End, 10); got != want["timespan_end"] {
		t.Errorf("exposure %s: timespan end = %s ns TAI, want %s", id, got, want["timespan_end"])
	}
	// The dump renders TAI to milliseconds; FormatTAI must agree on the calendar.
	for _, c := range []struct {
		ns   int64
		want string
	}{{ts.Begin, want["timespan_begin_tai"]}, {ts.End, want["timespan_end_tai"]}} {
		ms := (c.ns + 500_000) / 1_000_000 * 1_000_000
		if got := timespan.FormatTAI(ms); !strings.HasPrefix(got, c.want) {
			t.Errorf("exposure %s: FormatTAI(%d rounded to ms) = %s, want %s", id, c.ns, got, c.want)
		}
	}
}

func parseUUID(s string) (dataset.ID, error) {
	var id dataset.ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("not a 32-digit hex UUID: %v", err)
	}
	copy(id[:], b)
	return id, nil
}

// relativeToRoot turns a file URI inside the repository into a root-relative path.
func relativeToRoot(t *testing.T, root, uri string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "file" && u.Scheme != "") {
		t.Errorf("URI %q is not a local file URI", uri)
		return uri
	}
	rel, err := filepath.Rel(root, filepath.FromSlash(u.Path))
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Errorf("URI %q is outside the repository root %s", uri, root)
		return uri
	}
	return filepath.ToSlash(rel)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
