package cli_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/cli"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files from current output")

// checkGolden compares got with testdata/golden/<name>.golden; -update
// rewrites the file instead. write says whether this run may rewrite it (the
// PostgreSQL run only compares, so both dialects must print the same).
func checkGolden(t *testing.T, name string, got []byte, write bool) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update && write {
		if err := errors.Join(os.MkdirAll(filepath.Dir(path), 0o755), os.WriteFile(path, got, 0o644)); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it: go test ./internal/cli -run '%s' -update)", err, t.Name())
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}

// mainOut runs the command line in-process and returns stdout, stderr and the
// exit status.
func mainOut(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(t.Context(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func mustMain(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := mainOut(t, args...)
	if code != 0 {
		t.Fatalf("butler %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// goldenRepo makes the repository the golden tables are printed from: the
// upstream registry test exports base.yaml, datasets.yaml and spatial.yaml
// (instrument Cam1, its detectors and filters, runs imported_g and
// imported_r of bias and flat, visits with regions and timespans, a skymap
// with a hash, tracts and patches) imported with the CLI, then collections,
// a dataset type and file-backed datasets made here.
func goldenRepo(t *testing.T, dialect string) string {
	t.Helper()
	root := fixedLengthDir(t)
	create := []string{"create", root}
	if dialect == pgtest.Postgres {
		pgtest.UseAdminAuth(t)
		create = append(create, "--seed-config", pgtest.WriteSeed(t, pgtest.Schema(t)))
	}
	mustMain(t, create...)
	exports := filepath.Join(corpustest.Dir(t), "daf_butler", "exports")
	for _, f := range []string{"base.yaml", "datasets.yaml", "spatial.yaml"} {
		mustMain(t, "import", root, exports, "--export-file", f, "--registry-only")
	}
	// Files for --show-uri, ingested by copy from a table.
	src := t.TempDir()
	for _, d := range []string{"1", "2"} {
		if err := os.WriteFile(filepath.Join(src, "thing"+d+".yaml"), []byte("detector: "+d+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	table := filepath.Join(src, "things.csv")
	if err := os.WriteFile(table, []byte("file,detector\nthing2.yaml,2\nthing1.yaml,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustMain(t, "register-dataset-type", root, "thing", "StructuredDataDict", "instrument", "detector")
	mustMain(t, "ingest-files", root, "thing", "u/me/things", table, "--data-id", "instrument=Cam1", "-t", "copy", "--prefix", src, "--id-generation-mode", "DATAID_TYPE_RUN")
	mustMain(t, "associate", root, "tagged", "-d", "bias", "--collections", "imported_g", "--where", "detector = 1")
	mustMain(t, "collection-chain", root, "chain", "imported_r", "imported_g")
	mustMain(t, "collection-chain", root, "top", "u/me/things", "chain", "tagged")
	return root
}

// fixedLengthDir makes an empty directory whose path always has the same
// length, so that the width of a table's URI column, which astropy sizes to
// the longest URI, does not change with the temporary name.
func fixedLengthDir(t *testing.T) string {
	t.Helper()
	for range 100 {
		dir := fmt.Sprintf("/tmp/butler-golden-%08x", rand.Uint32())
		if err := os.Mkdir(dir, 0o755); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		} else if !errors.Is(err, os.ErrExist) {
			t.Skipf("no fixed-length directory for the golden repository: %v", err)
		}
	}
	t.Fatal("no free name for the golden repository")
	return ""
}

// goldenCases are the query commands whose table output is pinned; "R" is
// replaced by the repository.
var goldenCases = []struct {
	name string
	args []string
}{
	{"query_collections/tree", []string{"query-collections", "R"}},
	{"query_collections/tree_types", []string{"query-collections", "R", "-t"}},
	{"query_collections/inverse_tree", []string{"query-collections", "R", "--chains", "INVERSE-TREE"}},
	{"query_collections/table", []string{"query-collections", "R", "--chains", "TABLE"}},
	{"query_collections/table_types", []string{"query-collections", "R", "--chains", "TABLE", "-t"}},
	{"query_collections/table_no_chains", []string{"query-collections", "R", "--chains", "TABLE", "imported_*"}},
	{"query_collections/inverse_table", []string{"query-collections", "R", "--chains", "INVERSE-TABLE"}},
	{"query_collections/flatten", []string{"query-collections", "R", "--chains", "FLATTEN"}},
	{"query_collections/flatten_chain", []string{"query-collections", "R", "--chains", "FLATTEN", "top"}},
	{"query_collections/no_children", []string{"query-collections", "R", "--chains", "NO-CHILDREN"}},
	{"query_collections/no_children_types", []string{"query-collections", "R", "--chains", "NO-CHILDREN", "-t"}},
	{"query_collections/empty", []string{"query-collections", "R", "nosuch*"}},
	{"query_dataset_types/plain", []string{"query-dataset-types", "R"}},
	{"query_dataset_types/verbose", []string{"query-dataset-types", "R", "-v"}},
	{"query_dataset_types/empty", []string{"query-dataset-types", "R", "nosuch*"}},
	{"query_datasets/one_type", []string{"query-datasets", "R", "bias", "--collections", "imported_g"}},
	{"query_datasets/all_types", []string{"query-datasets", "R", "*", "--collections", "*"}},
	{"query_datasets/find_first", []string{"query-datasets", "R", "flat", "--collections", "imported_r,imported_g", "--find-first"}},
	{"query_datasets/order_by", []string{"query-datasets", "R", "bias", "--collections", "imported_r", "--order-by", "-detector"}},
	{"query_datasets/show_uri", []string{"query-datasets", "R", "thing", "--collections", "u/me/things", "--show-uri"}},
	{"query_datasets/empty", []string{"query-datasets", "R", "bias", "--collections", "u/me/things"}},
	{"query_data_ids/visit_detector", []string{"query-data-ids", "R", "visit", "detector"}},
	{"query_data_ids/datasets", []string{"query-data-ids", "R", "detector", "physical_filter", "--datasets", "flat", "--collections", "imported_r"}},
	{"query_data_ids/limit", []string{"query-data-ids", "R", "detector", "--limit", "-2"}},
	{"query_data_ids/no_dimensions", []string{"query-data-ids", "R"}},
	{"query_data_ids/dataset_dimensions", []string{"query-data-ids", "R", "--datasets", "flat,bias", "--collections", "imported_r"}},
	{"query_data_ids/empty", []string{"query-data-ids", "R", "detector", "--where", "detector = 99"}},
	{"query_dimension_records/visit", []string{"query-dimension-records", "R", "visit"}},
	{"query_dimension_records/visit_detector_region", []string{"query-dimension-records", "R", "visit_detector_region"}},
	{"query_dimension_records/detector", []string{"query-dimension-records", "R", "detector"}},
	{"query_dimension_records/physical_filter", []string{"query-dimension-records", "R", "physical_filter"}},
	{"query_dimension_records/skymap", []string{"query-dimension-records", "R", "skymap"}},
	{"query_dimension_records/day_obs", []string{"query-dimension-records", "R", "day_obs"}},
	{"query_dimension_records/no_check", []string{"query-dimension-records", "R", "physical_filter", "--no-check", "--where", "band = 'g'"}},
	{"query_dimension_records/empty", []string{"query-dimension-records", "R", "visit", "--where", "visit = 99"}},
	{"query_dimension_records/visit_json", []string{"query-dimension-records", "R", "visit", "--format", "json"}},
}

// TestGolden_QueryTables pins the text tables of every query command, as the
// Python butler prints them (astropy's pprint_all), on a repository imported
// from upstream's test exports and grown here, on SQLite and PostgreSQL (both
// print the same bytes); and on a registry the Python butler wrote.
func TestGolden_QueryTables(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		root := goldenRepo(t, dialect)
		t.Run("retrieve-artifacts --order-by --limit", func(t *testing.T) {
			dest := t.TempDir()
			_, errs, code := mainOut(t, "retrieve-artifacts", root, dest, "-d", "thing", "--collections", "u/me/things", "--order-by", "-detector", "--limit", "-1", "--no-preserve-path")
			if code != 0 || !strings.Contains(errs, "Requested limit of 1 hit") {
				t.Fatalf("exit %d, stderr %q; want 0 and the limit warning", code, errs)
			}
			entries, _ := os.ReadDir(dest)
			if len(entries) != 1 {
				t.Fatalf("retrieved %v, want one file", entries)
			}
			if got, _ := os.ReadFile(filepath.Join(dest, entries[0].Name())); string(got) != "detector: 2\n" {
				t.Errorf("retrieved %q, want detector 2's file (the first by -detector)", got)
			}
		})
		for _, tc := range goldenCases {
			t.Run(tc.name, func(t *testing.T) {
				args := make([]string, len(tc.args))
				for i, a := range tc.args {
					args[i] = a
					if a == "R" {
						args[i] = root
					}
				}
				out, errs, code := mainOut(t, args...)
				if code != 0 {
					t.Fatalf("exit %d\n%s%s", code, out, errs)
				}
				checkGolden(t, tc.name, []byte(strings.ReplaceAll(out, root, "<REPO>")), dialect == "sqlite")
				if tc.name == "query_data_ids/limit" && !strings.Contains(errs, "More data IDs are available than the request limit of 2") {
					t.Errorf("stderr = %q, want upstream's limit warning", errs)
				}
			})
		}
	})
	t.Run("python-made", func(t *testing.T) {
		// The Python butler's LSSTCam registry (obs_lsst's test raws).
		root := t.TempDir()
		for _, f := range []string{"gen3.sqlite3", "butler.yaml"} {
			data, err := os.ReadFile(filepath.Join(corpustest.Dir(t), "raws", "lsstCam", f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			args []string
		}{
			{"query_dimension_records/lsstcam_exposure", []string{"query-dimension-records", root, "exposure"}},
			{"query_datasets/lsstcam_raw", []string{"query-datasets", root, "raw", "--collections", "LSSTCam/raw/all"}},
			{"query_data_ids/lsstcam_exposure_detector", []string{"query-data-ids", root, "exposure", "detector", "--where", "detector IN (29, 35, 97)"}},
			{"query_collections/lsstcam_table", []string{"query-collections", root, "--chains", "TABLE", "-t"}},
			{"query_dataset_types/lsstcam_verbose", []string{"query-dataset-types", root, "-v"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				checkGolden(t, tc.name, []byte(strings.ReplaceAll(mustMain(t, tc.args...), root, "<REPO>")), true)
			})
		}
	})
}
