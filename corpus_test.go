package butler_test

// Opens the Python-made registries of the shared corpus read-only and checks
// what the butler API reports against the EXPECTED.<dir>.txt dumps beside them.
// The expected values are parsed from those files, never copied here.

import (
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

func TestCorpus_OpenPythonRegistries(t *testing.T) {
	for _, dir := range corpusRegistries(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			exp := corpustest.ReadExpected(t, filepath.Join(dir, "EXPECTED."+name+".txt"))
			if got := fileSHA256(t, filepath.Join(dir, "gen3.sqlite3")); got != exp.SHA256 {
				t.Fatalf("gen3.sqlite3 sha256 = %s before the test, want %s (the corpus was changed)", got, exp.SHA256)
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
				if got := fileSHA256(t, filepath.Join(dir, "gen3.sqlite3")); got != exp.SHA256 {
					t.Errorf("gen3.sqlite3 sha256 = %s after a read-only open, want %s", got, exp.SHA256)
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

func checkCorpusRegistry(t *testing.T, ctx context.Context, b *butler.Butler, exp *corpustest.Expected) {
	t.Run("universe", func(t *testing.T) {
		if b.Universe.Version != exp.Universe {
			t.Errorf("Universe.Version = %d, want %d", b.Universe.Version, exp.Universe)
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
		for col, want := range exp.Instrument {
			got, ok := recs[0].Values[col]
			if !ok {
				t.Errorf("instrument record has no %q (has %v)", col, keys(recs[0].Values))
				continue
			}
			if !corpustest.SameValue(got, want) {
				t.Errorf("instrument.%s = %v (%T), want %s", col, got, got, want)
			}
		}
		if len(recs[0].Values) != len(exp.Instrument) {
			t.Errorf("instrument record columns %v, want %v", keys(recs[0].Values), keys(exp.Instrument))
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
		for _, c := range exp.Collections {
			want[c["name"]] = c["type_name"]
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("collections (name → type) differ (-want +got):\n%s", d)
		}
		wantChains := map[string][]string{}
		for _, row := range exp.Chains {
			wantChains[row["parent"]] = append(wantChains[row["parent"]], row["child"])
		}
		for _, c := range exp.Collections {
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
		for _, row := range exp.Types {
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
		for _, row := range exp.Counts {
			n, _ := strconv.Atoi(row["n"])
			want[row["dataset_type"]+" in "+row["run"]] = n
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("datasets per type and run differ (-want +got):\n%s", d)
		}
		if len(seen) != exp.Total {
			t.Errorf("distinct datasets = %d, want %d", len(seen), exp.Total)
		}
	})

	t.Run("dimension records", func(t *testing.T) {
		for _, el := range []string{"instrument", "detector", "physical_filter", "exposure", "visit"} {
			want, err := strconv.Atoi(exp.Records[el])
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
		want := slices.Clone(exp.Filters)
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
		if len(got) != len(exp.Exposures) {
			t.Errorf("exposure records: %d, want %d", len(got), len(exp.Exposures))
		}
		for _, want := range exp.Exposures {
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
			refs[corpustest.UUIDHex(r.ID)] = r
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != len(exp.Raws) {
			t.Errorf("raw datasets: %d, want %d", len(refs), len(exp.Raws))
		}
		for _, want := range exp.Raws {
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
				if !corpustest.SameValue(ref.DataID[k], want[k]) {
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
					if !corpustest.SameValue(exps[0].Values[k], want[k]) {
						t.Errorf("raw %s: exposure.%s = %v, want %s", ref.ID, k, exps[0].Values[k], want[k])
					}
				}
			}
			dets, err := b.Records(ctx, "detector", dimensions.DataID{"instrument": ref.DataID["instrument"], "detector": ref.DataID["detector"]})
			if err != nil || len(dets) != 1 {
				t.Errorf("detector record of raw %s: %d, %v", ref.ID, len(dets), err)
			} else if !corpustest.SameValue(dets[0].Values["full_name"], want["detector_name"]) {
				t.Errorf("raw %s: detector.full_name = %v, want %s", ref.ID, dets[0].Values["full_name"], want["detector_name"])
			}
		}
	})

	t.Run("file paths", func(t *testing.T) {
		var ids []dataset.ID
		want := map[dataset.ID]string{}
		for _, row := range exp.Files {
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
		for _, row := range exp.Raws {
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
		for _, c := range exp.Collections {
			if c["type_name"] == "CHAINED" {
				search = []string{c["name"]}
			}
		}
		if search == nil {
			for _, c := range exp.Collections {
				search = append(search, c["name"])
			}
		}
		var got []string
		err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"raw"}, Collections: search, FindFirst: true}, func(r dataset.Ref) error {
			got = append(got, corpustest.UUIDHex(r.ID))
			return nil
		})
		if err != nil {
			t.Fatalf("QueryDatasets(raw, %v, find-first): %v", search, err)
		}
		var want []string
		for _, row := range exp.Raws {
			want = append(want, row["dataset_id"])
		}
		sort.Strings(got)
		sort.Strings(want)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("find-first raw over %v differs (-want +got):\n%s", search, d)
		}
		for _, row := range exp.Raws {
			exposure, _ := strconv.ParseInt(row["exposure"], 10, 64)
			detector, _ := strconv.ParseInt(row["detector"], 10, 64)
			ref, err := b.Find(ctx, "raw", dimensions.DataID{"instrument": row["instrument"], "exposure": exposure, "detector": detector}, search)
			if err != nil {
				t.Errorf("Find(raw %s/%s/%s in %v): %v", row["instrument"], row["exposure"], row["detector"], search, err)
			} else if corpustest.UUIDHex(ref.ID) != row["dataset_id"] {
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
		if !corpustest.SameValue(got, w) {
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
