package butler_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/exportfile"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/timespan"
	"github.com/google/go-cmp/cmp"
)

// Dimensionless dataset types (a pipeline's packages and each task's
// *_config) have the empty data ID {}: their rows live in the tags table of the
// empty dimension group, dataset_tags_00000000, with no dimension columns.

// forEachDialectRepos runs fn once per dialect with a maker of new, empty
// repositories of that dialect (so a test can transfer between two).
func forEachDialectRepos(t *testing.T, fn func(t *testing.T, newRepo func() (string, *butler.Butler))) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		fn(t, func() (string, *butler.Butler) { return repotest.NewOn(t, dialect, butler.CreateOptions{}) })
	})
}

// dimensionlessFixture is a repository holding what a pipeline run writes:
// packages and isr_config (no dimensions) beside dict datasets
// (instrument+detector), in two runs chained as "pipe", and a dimensionless
// calibration type with two datasets in calib/run.
type dimensionlessFixture struct {
	root    string
	b       *butler.Butler
	refs    map[string]dataset.Ref // "packages@pipe/run1" -> ref
	content map[dataset.ID]string
}

func (f *dimensionlessFixture) all() []dataset.Ref {
	var out []dataset.Ref
	for _, r := range f.refs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.String() < out[j].ID.String() })
	return out
}

func newDimensionlessFixture(t *testing.T, root string, b *butler.Butler) *dimensionlessFixture {
	t.Helper()
	ctx := t.Context()
	repotest.AddInstrument(t, b, inst, 5)
	for _, dt := range []struct {
		name, sc string
		dims     []string
		calib    bool
	}{
		{"packages", "Packages", nil, false},
		{"isr_config", "Config", nil, false},
		{"dict", "StructuredDataDict", []string{"instrument", "detector"}, false},
		{"bias_cfg", "StructuredDataDict", nil, true},
	} {
		if _, err := b.RegisterDatasetType(ctx, dt.name, dt.sc, dt.dims, dt.calib); err != nil {
			t.Fatalf("register dataset type %s: %v", dt.name, err)
		}
	}
	f := &dimensionlessFixture{root: root, b: b, refs: map[string]dataset.Ref{}, content: map[dataset.ID]string{}}
	put := func(typ string, id dimensions.DataID, run, data string) {
		ref := mustPut(t, b, data, typ, id, run)
		key := typ + "@" + run
		if d, ok := id["detector"]; ok {
			key += fmt.Sprintf("#%v", d)
		}
		f.refs[key] = ref
		f.content[ref.ID] = data
	}
	put("packages", nil, "pipe/run1", "python: 3.12\nnumpy: 2.1\n")
	put("isr_config", nil, "pipe/run1", "import lsst.ip.isr\nconfig.doBias=True\n")
	put("dict", det(1), "pipe/run1", "detector: 1\n")
	put("dict", det(2), "pipe/run1", "detector: 2\n")
	put("packages", dimensions.DataID{}, "pipe/run2", "python: 3.13\n")
	put("bias_cfg", nil, "calib/run", "cal: a\n")
	put("bias_cfg", nil, "calib/run2", "cal: b\n")
	// isr_config of run2 comes in by ingest (ingest-files).
	src := filepath.Join(t.TempDir(), "isr_config.py")
	data := "import lsst.ip.isr\nconfig.doBias=False\n"
	if err := os.WriteFile(src, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := b.Ingest(ctx, "isr_config", "pipe/run2", []butler.FileDataset{{Path: src}}, butler.IngestOptions{Transfer: "copy"})
	if err != nil || len(res.Refs) != 1 {
		t.Fatalf("Ingest(isr_config) = %+v, %v", res, err)
	}
	f.refs["isr_config@pipe/run2"] = res.Refs[0]
	f.content[res.Refs[0].ID] = data
	mustChain(t, b, "pipe", "pipe/run2", "pipe/run1")
	return f
}

// refNames renders refs as "type@run" (plus the detector), sorted.
func refNames(refs []dataset.Ref) []string {
	if len(refs) == 0 {
		return nil
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Type.Name + "@" + r.Run
		if d, ok := r.DataID["detector"]; ok {
			out[i] += fmt.Sprintf("#%v", d)
		}
	}
	sort.Strings(out)
	return out
}

// TestDimensionless_Registry covers put, ingest, get, find, the three query
// commands, associate, certify and remove for dimensionless dataset types on
// both dialects, and the upstream table layout that keeps the repository
// readable by the Python butler.
func TestDimensionless_Registry(t *testing.T) {
	forEachDialectRepos(t, func(t *testing.T, newRepo func() (string, *butler.Butler)) {
		ctx := t.Context()
		root, b := newRepo()
		f := newDimensionlessFixture(t, root, b)

		t.Run("upstream layout", func(t *testing.T) {
			// daf_butler gives the empty dimension group key 0 (never stored
			// in dimension_graph_key), so packages rows live in
			// dataset_tags_00000000, with dataset_calibs_00000000 for
			// dimensionless calibrations.
			db := butler.RegistryDB(t, b)
			for _, name := range []string{"packages", "isr_config", "bias_cfg"} {
				var key int64
				var tags string
				var cal any
				err := db.Conn().QueryRow(ctx, "SELECT dimensions_key, tag_association_table, calibration_association_table FROM "+db.T("dataset_type")+" WHERE name = ?", name).Scan(&key, &tags, &cal)
				if err != nil {
					t.Fatalf("read dataset type %s: %v", name, err)
				}
				if key != 0 || tags != "dataset_tags_00000000" {
					t.Errorf("dataset type %s: dimensions_key %d, tags table %s; want 0, dataset_tags_00000000", name, key, tags)
				}
				if wantCal := name == "bias_cfg"; wantCal != (cal != nil) {
					t.Errorf("dataset type %s: calibration table %v", name, cal)
				}
			}
			var n int
			if err := db.Conn().QueryRow(ctx, "SELECT count(*) FROM "+db.T("dimension_graph_definition")+" WHERE dimension_graph_id = 0").Scan(&n); err != nil || n != 0 {
				t.Errorf("definition rows of key 0: %d, %v; want none", n, err)
			}
			if err := db.Conn().QueryRow(ctx, "SELECT count(*) FROM "+db.T("dataset_tags_00000000")).Scan(&n); err != nil || n != 6 {
				t.Errorf("rows of dataset_tags_00000000: %d, %v; want 6", n, err)
			}
		})

		t.Run("get and find", func(t *testing.T) {
			for _, tc := range []struct {
				typ   string
				colls []string
				want  string
			}{
				{"packages", []string{"pipe/run1"}, "packages@pipe/run1"},
				{"packages", []string{"pipe"}, "packages@pipe/run2"},
				{"packages", []string{"pipe/run1", "pipe/run2"}, "packages@pipe/run1"},
				{"isr_config", []string{"pipe"}, "isr_config@pipe/run2"},
				{"isr_config", []string{"pipe/run1"}, "isr_config@pipe/run1"},
			} {
				want := f.refs[tc.want]
				data, ref, err := b.Get(ctx, tc.typ, nil, tc.colls)
				if err != nil || ref.ID != want.ID || string(data) != f.content[want.ID] {
					t.Errorf("Get(%s, %v) = %q, %s, %v; want %s", tc.typ, tc.colls, data, ref, err, tc.want)
				}
				if ref, err := b.Find(ctx, tc.typ, dimensions.DataID{}, tc.colls); err != nil || ref.ID != want.ID || len(ref.DataID) != 0 {
					t.Errorf("Find(%s, {}, %v) = %s, %v; want %s", tc.typ, tc.colls, ref, err, tc.want)
				}
			}
			if _, err := b.Find(ctx, "packages", nil, []string{"calib/run"}); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("Find(packages) where there is none: %v, want ErrNotFound", err)
			}
			// One packages per run: a second is a conflict, and changes nothing.
			if _, err := b.Put(ctx, []byte("x: 1\n"), "packages", nil, "pipe/run1"); !errors.Is(err, errs.ErrConflict) {
				t.Errorf("second packages in pipe/run1: %v, want ErrConflict", err)
			}
			// A data ID with dimensions is refused, saying the type has none.
			if _, err := b.Put(ctx, []byte("x: 1\n"), "packages", dimensions.DataID{"instrument": inst}, "pipe/run3"); !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "no dimensions") {
				t.Errorf("packages put with an instrument: %v, want ErrInvalid saying there are no dimensions", err)
			}
			repotest.CheckConsistent(t, b)
		})

		t.Run("query datasets", func(t *testing.T) {
			for _, tc := range []struct {
				name string
				s    butler.DatasetSearch
				want []string
			}{
				{"all", butler.DatasetSearch{Types: []string{"packages", "isr_config"}, Collections: []string{"pipe"}},
					[]string{"isr_config@pipe/run1", "isr_config@pipe/run2", "packages@pipe/run1", "packages@pipe/run2"}},
				{"find first", butler.DatasetSearch{Types: []string{"packages", "isr_config"}, Collections: []string{"pipe"}, FindFirst: true},
					[]string{"isr_config@pipe/run2", "packages@pipe/run2"}},
				{"find first reversed", butler.DatasetSearch{Types: []string{"packages"}, Collections: []string{"pipe/run1", "pipe/run2"}, FindFirst: true},
					[]string{"packages@pipe/run1"}},
				{"with dimensioned", butler.DatasetSearch{Collections: []string{"pipe/run1"}, WithImplied: true},
					[]string{"dict@pipe/run1#1", "dict@pipe/run1#2", "isr_config@pipe/run1", "packages@pipe/run1"}},
				{"where on the run", butler.DatasetSearch{Types: []string{"packages"}, Collections: []string{"pipe"}, Where: "run = 'pipe/run1'"},
					[]string{"packages@pipe/run1"}},
				{"where on a dimension it lacks", butler.DatasetSearch{Types: []string{"packages"}, Collections: []string{"pipe"}, FindFirst: true, Where: "instrument = 'Dummy'"},
					[]string{"packages@pipe/run2"}},
				{"where matching no record", butler.DatasetSearch{Types: []string{"packages"}, Collections: []string{"pipe"}, Where: "instrument = 'Nope'"},
					nil},
				{"ordered", butler.DatasetSearch{Types: []string{"packages"}, Collections: []string{"pipe"}, OrderBy: []string{"-run"}},
					[]string{"packages@pipe/run1", "packages@pipe/run2"}},
				{"limit", butler.DatasetSearch{Types: []string{"packages"}, Collections: []string{"pipe"}, Limit: 1, FindFirst: true},
					[]string{"packages@pipe/run2"}},
			} {
				got := refNames(queryRefs(t, b, tc.s))
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("%s: QueryDatasets(%+v) (-want +got):\n%s", tc.name, tc.s, d)
				}
			}
			// The default order of a multi-run listing is the search order.
			var runs []string
			for _, r := range queryRefs(t, b, butler.DatasetSearch{Types: []string{"packages"}, Collections: []string{"pipe/run1", "pipe/run2"}}) {
				runs = append(runs, r.Run)
			}
			if d := cmp.Diff([]string{"pipe/run1", "pipe/run2"}, runs); d != "" {
				t.Errorf("packages listing order (-want +got):\n%s", d)
			}
		})

		t.Run("query data IDs", func(t *testing.T) {
			for _, tc := range []struct {
				name string
				s    butler.DataIDSearch
				want int // rows, each the empty data ID
			}{
				{"no dimensions", butler.DataIDSearch{}, 1},
				{"of packages", butler.DataIDSearch{Datasets: []string{"packages"}, Collections: []string{"pipe"}}, 1},
				{"of packages in an empty run", butler.DataIDSearch{Datasets: []string{"packages"}, Collections: []string{"calib/run"}}, 0},
				{"where matching", butler.DataIDSearch{Where: "instrument = 'Dummy' AND detector = 3"}, 1},
				{"where matching nothing", butler.DataIDSearch{Where: "instrument = 'Dummy' AND detector = 30"}, 0},
				{"data ID", butler.DataIDSearch{DataID: dimensions.DataID{"instrument": inst}}, 1},
				{"bound where", butler.DataIDSearch{Where: "instrument = :i", Bind: map[string]any{"i": inst}}, 1},
			} {
				var got []dimensions.DataID
				err := b.QueryDataIDs(ctx, tc.s, func(id dimensions.DataID) error {
					got = append(got, id)
					return nil
				})
				if err != nil || len(got) != tc.want {
					t.Errorf("%s: QueryDataIDs = %v, %v; want %d empty data ID(s)", tc.name, got, err, tc.want)
				}
				for _, id := range got {
					if len(id) != 0 {
						t.Errorf("%s: data ID %s, want {}", tc.name, id)
					}
				}
			}
			for _, tc := range []struct {
				types []string
				want  []string
			}{
				{[]string{"packages", "dict"}, nil},
				{[]string{"isr_config"}, nil},
				{[]string{"dict"}, []string{"instrument", "detector"}},
			} {
				got, names, err := b.CommonDimensions(ctx, tc.types)
				if err != nil || !cmp.Equal(tc.want, got, cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })) || len(names) != len(tc.types) {
					t.Errorf("CommonDimensions(%v) = %v, %v, %v; want %v", tc.types, got, names, err, tc.want)
				}
			}
			for _, tc := range []struct {
				name string
				s    butler.DataIDSearch
				want int
			}{
				// Data IDs of dimensioned datasets are unaffected.
				{"of dict", butler.DataIDSearch{Dimensions: []string{"detector"}, Datasets: []string{"dict"}, Collections: []string{"pipe"}}, 2},
				// A dimensionless type constrains no dimension: every
				// detector, once a packages dataset exists.
				{"of packages", butler.DataIDSearch{Dimensions: []string{"detector"}, Datasets: []string{"packages"}, Collections: []string{"pipe"}}, 5},
				{"of packages where", butler.DataIDSearch{Dimensions: []string{"detector"}, Datasets: []string{"packages"}, Collections: []string{"pipe"}, Where: "detector < 2"}, 2},
				{"of packages limit", butler.DataIDSearch{Dimensions: []string{"detector"}, Datasets: []string{"packages"}, Collections: []string{"pipe"}, Limit: 3}, 3},
				{"of packages in an empty run", butler.DataIDSearch{Dimensions: []string{"detector"}, Datasets: []string{"packages"}, Collections: []string{"calib/run"}}, 0},
			} {
				if n := len(dataIDSet(t, b, tc.s, "detector")); n != tc.want {
					t.Errorf("%s: %d detector data IDs, want %d", tc.name, n, tc.want)
				}
			}
			if why := b.ExplainNoDataIDs(ctx, butler.DataIDSearch{Dimensions: []string{"exposure"}, Datasets: []string{"packages"}, Collections: []string{"pipe"}}); len(why) != 1 || !strings.Contains(why[0], "no exposure records") {
				t.Errorf("ExplainNoDataIDs(exposure of packages) = %q", why)
			}
			if why := b.ExplainNoDataIDs(ctx, butler.DataIDSearch{Where: "instrument = 'Nope'"}); len(why) != 1 || !strings.Contains(why[0], "instrument") {
				t.Errorf("ExplainNoDataIDs(no dimensions, where) = %q", why)
			}
		})

		t.Run("query dimension records", func(t *testing.T) {
			for _, tc := range []struct {
				s    butler.RecordSearch
				want int
			}{
				{butler.RecordSearch{Element: "detector"}, 5},
				{butler.RecordSearch{Element: "detector", Datasets: []string{"dict"}, Collections: []string{"pipe"}}, 2},
				{butler.RecordSearch{Element: "instrument", Datasets: []string{"packages"}, Collections: []string{"pipe"}}, 1},
				{butler.RecordSearch{Element: "detector", Datasets: []string{"packages"}, Collections: []string{"pipe"}}, 5},
				{butler.RecordSearch{Element: "detector", Datasets: []string{"packages"}, Collections: []string{"calib/run"}}, 0},
			} {
				n := 0
				err := b.QueryRecords(ctx, tc.s, func(dimensions.Record) error {
					n++
					return nil
				})
				if err != nil || n != tc.want {
					t.Errorf("QueryRecords(%+v) = %d, %v; want %d", tc.s, n, err, tc.want)
				}
			}
		})

		t.Run("associate", func(t *testing.T) {
			if _, err := b.RegisterCollection(ctx, "tagged", dataset.Tagged, ""); err != nil {
				t.Fatal(err)
			}
			refs := []dataset.Ref{f.refs["packages@pipe/run1"], f.refs["dict@pipe/run1#1"]}
			if err := b.Associate(ctx, "tagged", refs); err != nil {
				t.Fatalf("Associate: %v", err)
			}
			if err := b.Associate(ctx, "tagged", []dataset.Ref{f.refs["packages@pipe/run2"]}); !errors.Is(err, errs.ErrConflict) {
				t.Errorf("a second packages in a TAGGED collection: %v, want ErrConflict", err)
			}
			got := refNames(queryRefs(t, b, butler.DatasetSearch{Collections: []string{"tagged"}}))
			if d := cmp.Diff([]string{"dict@pipe/run1#1", "packages@pipe/run1"}, got); d != "" {
				t.Errorf("tagged (-want +got):\n%s", d)
			}
			if ref, err := b.Find(ctx, "packages", nil, []string{"tagged", "pipe"}); err != nil || ref.ID != refs[0].ID {
				t.Errorf("Find(packages, [tagged pipe]) = %s, %v", ref, err)
			}
			if err := b.Disassociate(ctx, "tagged", refs[:1]); err != nil {
				t.Fatal(err)
			}
			if got := refNames(queryRefs(t, b, butler.DatasetSearch{Types: []string{"packages"}, Collections: []string{"tagged"}})); len(got) != 0 {
				t.Errorf("packages in tagged after Disassociate: %v", got)
			}
		})

		t.Run("certify", func(t *testing.T) {
			day := func(d string) int64 {
				ts, err := timespan.ParseTAI(d)
				if err != nil {
					t.Fatal(err)
				}
				return ts
			}
			a, bb := f.refs["bias_cfg@calib/run"], f.refs["bias_cfg@calib/run2"]
			if err := b.Certify(ctx, "calib", []dataset.Ref{a}, timespan.New(day("2024-01-01T00:00:00"), day("2025-01-01T00:00:00"))); err != nil {
				t.Fatalf("Certify: %v", err)
			}
			if err := b.Certify(ctx, "calib", []dataset.Ref{bb}, timespan.New(day("2024-06-01T00:00:00"), timespan.Max)); !errors.Is(err, errs.ErrConflict) {
				t.Errorf("overlapping certification: %v, want ErrConflict", err)
			}
			if err := b.Certify(ctx, "calib", []dataset.Ref{bb}, timespan.New(day("2025-01-01T00:00:00"), timespan.Max)); err != nil {
				t.Fatalf("Certify: %v", err)
			}
			for _, tc := range []struct {
				at   string
				want dataset.Ref
			}{{"2024-03-01T00:00:00", a}, {"2026-03-01T00:00:00", bb}} {
				at := timespan.New(day(tc.at), day(tc.at)+1)
				ref, err := b.FindAt(ctx, "bias_cfg", nil, []string{"calib"}, &at)
				if err != nil || ref.ID != tc.want.ID {
					t.Errorf("FindAt(bias_cfg, %s) = %s, %v; want %s", tc.at, ref, err, tc.want)
				}
				got := queryRefs(t, b, butler.DatasetSearch{Types: []string{"bias_cfg"}, Collections: []string{"calib"}, FindFirst: true, CalibTime: &at})
				if len(got) != 1 || got[0].ID != tc.want.ID {
					t.Errorf("QueryDatasets(bias_cfg in calib at %s) = %v", tc.at, refNames(got))
				}
			}
			var lookup *dataset.CalibrationLookupError
			if got := queryRefs(t, b, butler.DatasetSearch{Types: []string{"bias_cfg"}, Collections: []string{"calib"}}); len(got) != 2 {
				t.Errorf("bias_cfg in calib: %v, want both", refNames(got))
			}
			err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"bias_cfg"}, Collections: []string{"calib", "calib/run"}, FindFirst: true}, func(dataset.Ref) error { return nil })
			if !errors.As(err, &lookup) {
				t.Errorf("find-first over two validity ranges with no time: %v, want a CalibrationLookupError", err)
			}
			if err := b.Decertify(ctx, "calib", "bias_cfg", timespan.New(day("2024-06-01T00:00:00"), timespan.Max)); err != nil {
				t.Fatalf("Decertify: %v", err)
			}
			at := timespan.New(day("2024-07-01T00:00:00"), day("2024-07-01T00:00:00")+1)
			if ref, err := b.FindAt(ctx, "bias_cfg", nil, []string{"calib"}, &at); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("FindAt after Decertify = %s, %v; want ErrNotFound", ref, err)
			}
		})

		t.Run("remove", func(t *testing.T) {
			_, b2 := newRepo()
			g := newDimensionlessFixture(t, "", b2)
			if err := b2.Remove(ctx, []dataset.Ref{g.refs["packages@pipe/run2"]}); err != nil {
				t.Fatalf("Remove(packages): %v", err)
			}
			if ref, err := b2.Find(ctx, "packages", nil, []string{"pipe"}); err != nil || ref.ID != g.refs["packages@pipe/run1"].ID {
				t.Errorf("Find(packages) after removing run2's = %s, %v; want run1's", ref, err)
			}
			if err := b2.Unstore(ctx, []dataset.Ref{g.refs["isr_config@pipe/run1"]}); err != nil {
				t.Fatalf("Unstore(isr_config): %v", err)
			}
			if _, err := b2.GetRef(ctx, g.refs["isr_config@pipe/run1"]); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("GetRef of an unstored isr_config: %v, want ErrNotFound", err)
			}
			if _, err := b2.RemoveRuns(ctx, []string{"pipe/run2"}, true); err != nil {
				t.Fatalf("RemoveRuns: %v", err)
			}
			got := refNames(queryRefs(t, b2, butler.DatasetSearch{Types: []string{"packages", "isr_config"}, Collections: []string{"*"}}))
			if d := cmp.Diff([]string{"isr_config@pipe/run1", "packages@pipe/run1"}, got); d != "" {
				t.Errorf("after removals (-want +got):\n%s", d)
			}
			if _, err := b2.RemoveDatasetTypes(ctx, "packages"); !errors.Is(err, errs.ErrConflict) {
				t.Errorf("RemoveDatasetTypes(packages) with a dataset left: %v, want ErrConflict", err)
			}
			repotest.CheckConsistent(t, b2)
		})
	})
}

// TestDimensionless_Transfer moves a repository holding dimensionless and
// dimensioned datasets by export/import (and exports the import again: the
// same file), transfer-datasets and a zip, on both dialects.
func TestDimensionless_Transfer(t *testing.T) {
	forEachDialectRepos(t, func(t *testing.T, newRepo func() (string, *butler.Butler)) {
		ctx := t.Context()
		root, src := newRepo()
		f := newDimensionlessFixture(t, root, src)
		refs := f.all()
		check := func(t *testing.T, dst *butler.Butler) {
			t.Helper()
			checkTransferred(t, dst, refs, contentBytes(f.content), "file://"+dst.Root+"/")
			for _, typ := range []string{"packages", "isr_config", "bias_cfg"} {
				want, _ := f.b.DatasetType(ctx, typ)
				got, err := dst.DatasetType(ctx, typ)
				if err != nil || !got.Equal(want) {
					t.Errorf("dataset type %s in the destination: %s, %v; want %s", typ, got, err, want)
				}
			}
			if ref, err := dst.Find(ctx, "packages", nil, []string{"pipe/run2", "pipe/run1"}); err != nil || ref.ID != f.refs["packages@pipe/run2"].ID {
				t.Errorf("Find(packages) in the destination = %s, %v", ref, err)
			}
			repotest.CheckConsistent(t, dst)
		}

		begin, err := timespan.ParseTAI("2024-01-01T00:00:00")
		if err != nil {
			t.Fatal(err)
		}
		valid := timespan.New(begin, timespan.Max)
		if err := src.Certify(ctx, "calib", []dataset.Ref{f.refs["bias_cfg@calib/run"]}, valid); err != nil {
			t.Fatalf("Certify: %v", err)
		}
		withCollections := butler.ExportOptions{Collections: []string{"calib", "pipe"}}

		t.Run("export import export", func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "export")
			if _, err := exportfile.ExportDir(ctx, f.b, refs, dir, "", "copy", withCollections); err != nil {
				t.Fatalf("ExportDir: %v", err)
			}
			first, err := os.ReadFile(filepath.Join(dir, exportfile.DefaultExportFile))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"    name: packages\n    dimensions: []\n", "          - {}\n"} {
				if !strings.Contains(string(first), want) {
					t.Errorf("export file lacks %q:\n%s", want, first)
				}
			}
			_, dst := newRepo()
			res, err := exportfile.ImportFile(ctx, dst, filepath.Join(dir, exportfile.DefaultExportFile), butler.ImportOptions{Transfer: "copy"}, nil)
			if err != nil || res.Datasets != len(refs) || res.Files != len(refs) {
				t.Fatalf("ImportFile = %+v, %v; want %d datasets with files", res, err, len(refs))
			}
			check(t, dst)
			at := timespan.Instant(begin + 1)
			if ref, err := dst.FindAt(ctx, "bias_cfg", nil, []string{"calib"}, &at); err != nil || ref.ID != f.refs["bias_cfg@calib/run"].ID {
				t.Errorf("FindAt(bias_cfg) in the imported calib = %s, %v", ref, err)
			}
			if ref, err := dst.Find(ctx, "packages", nil, []string{"pipe"}); err != nil || ref.ID != f.refs["packages@pipe/run2"].ID {
				t.Errorf("Find(packages) in the imported chain = %s, %v", ref, err)
			}
			dir2 := filepath.Join(t.TempDir(), "export")
			if _, err := exportfile.ExportDir(ctx, dst, refs, dir2, "", "copy", withCollections); err != nil {
				t.Fatalf("ExportDir of the import: %v", err)
			}
			second, err := os.ReadFile(filepath.Join(dir2, exportfile.DefaultExportFile))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(first), string(second)); d != "" {
				t.Errorf("export of the import differs (-first +second):\n%s", d)
			}
		})

		t.Run("transfer datasets", func(t *testing.T) {
			_, dst := newRepo()
			res, err := dst.TransferFrom(ctx, f.b, refs, butler.TransferOptions{RegisterDatasetTypes: true, TransferDimensions: true})
			if err != nil || res.Transferred != len(refs) {
				t.Fatalf("TransferFrom = %+v, %v; want %d transferred", res, err, len(refs))
			}
			mustChain(t, dst, "pipe", "pipe/run2", "pipe/run1")
			check(t, dst)
			res, err = dst.TransferFrom(ctx, f.b, refs, butler.TransferOptions{RegisterDatasetTypes: true, TransferDimensions: true})
			if err != nil || res.Skipped != len(refs) {
				t.Errorf("second TransferFrom = %+v, %v; want all %d skipped", res, err, len(refs))
			}
		})

		t.Run("zip", func(t *testing.T) {
			zp, err := f.b.RetrieveArtifactsZip(ctx, refs, t.TempDir(), butler.RetrieveZipOptions{})
			if err != nil {
				t.Fatalf("RetrieveArtifactsZip: %v", err)
			}
			_, dst := newRepo()
			res, err := dst.IngestZip(ctx, zp, butler.IngestZipOptions{TransferDimensions: true})
			if err != nil || len(res.Refs) != len(refs) {
				t.Fatalf("IngestZip = %+v, %v; want %d datasets", res, err, len(refs))
			}
			for _, r := range res.Refs {
				if r.Type.Name != "dict" && len(r.DataID) != 0 {
					t.Errorf("ingested %s: data ID %s, want {}", r, r.DataID)
				}
			}
			for _, ref := range refs {
				got, err := dst.Dataset(ctx, ref.ID)
				if err != nil || got.Type.Name != ref.Type.Name || got.Run != ref.Run || got.DataID.String() != ref.DataID.String() {
					t.Errorf("Dataset(%s) in the destination = %s, %v; want %s", ref.ID, got, err, ref)
					continue
				}
				if data, err := dst.GetRef(ctx, got); err != nil || string(data) != f.content[ref.ID] {
					t.Errorf("GetRef(%s) = %q, %v; want %q", ref, data, err, f.content[ref.ID])
				}
			}
		})
	})
}

func contentBytes(m map[dataset.ID]string) map[dataset.ID][]byte {
	out := make(map[dataset.ID][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out
}

// TestDimensionless_ImportPythonExport imports an export file as the Python
// butler writes it (PyYAML's block style, data_id lists holding {}, and the
// single-mapping data_id of older exports) for packages and a task config.
func TestDimensionless_ImportPythonExport(t *testing.T) {
	const export = `description: Butler Data Repository Export
version: 1.0.2
universe_version: 7
universe_namespace: daf_butler
data:
- type: collection
  collection_type: RUN
  name: pipe/run1
  host: null
  timespan_begin: null
  timespan_end: null
- type: dataset_type
  name: packages
  dimensions: []
  storage_class: Packages
  is_calibration: false
- type: dataset
  dataset_type: packages
  run: pipe/run1
  records:
  - dataset_id:
    - !uuid '5d6ab6b4-2b3c-4a5f-9e7e-0c6f6d1c2a01'
    data_id:
    - {}
    path: pipe/run1/packages/packages_pipe_run1.yaml
    formatter: lsst.daf.butler.formatters.packages.PackagesFormatter
- type: dataset_type
  name: isr_config
  dimensions: []
  storage_class: Config
  is_calibration: false
- type: dataset
  dataset_type: isr_config
  run: pipe/run1
  records:
  - dataset_id: !uuid '5d6ab6b4-2b3c-4a5f-9e7e-0c6f6d1c2a02'
    data_id: {}
    path: pipe/run1/isr_config/isr_config_pipe_run1.py
    formatter: lsst.pipe.base.formatters.pexConfig.PexConfigFormatter
`
	files := map[string]string{
		"pipe/run1/packages/packages_pipe_run1.yaml":   "python: 3.12\n",
		"pipe/run1/isr_config/isr_config_pipe_run1.py": "import lsst.ip.isr\n",
	}
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "export.yaml"), []byte(export), 0o644); err != nil {
		t.Fatal(err)
	}
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		res, err := exportfile.ImportFile(ctx, b, filepath.Join(dir, "export.yaml"), butler.ImportOptions{Transfer: "copy"}, nil)
		if err != nil || res.Datasets != 2 || res.Files != 2 {
			t.Fatalf("ImportFile = %+v, %v; want 2 datasets with files", res, err)
		}
		for typ, p := range map[string]string{"packages": "pipe/run1/packages/packages_pipe_run1.yaml", "isr_config": "pipe/run1/isr_config/isr_config_pipe_run1.py"} {
			data, ref, err := b.Get(ctx, typ, nil, []string{"pipe/run1"})
			if err != nil || string(data) != files[p] || len(ref.DataID) != 0 {
				t.Errorf("Get(%s) = %q, %s, %v; want %q", typ, data, ref, err, files[p])
				continue
			}
			if uri, err := b.URI(ctx, ref); err != nil || !strings.HasSuffix(uri, "/"+p) {
				t.Errorf("URI(%s) = %s, %v; want .../%s", typ, uri, err, p)
			}
			if dt, err := b.DatasetType(ctx, typ); err != nil || len(dt.Dimensions.Names()) != 0 {
				t.Errorf("DatasetType(%s) = %s, %v; want no dimensions", typ, dt, err)
			}
		}
		repotest.CheckConsistent(t, b)
	})
}
