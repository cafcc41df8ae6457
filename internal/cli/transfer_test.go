package cli_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/timespan"
)

// transferIDs lists "type run detector id" of the datasets in collections.
func transferIDs(t *testing.T, root string, args ...string) []string {
	t.Helper()
	var out []string
	for _, r := range jsonRows(t, run(t, append([]string{"query-datasets", root, "--format", "json"}, args...)...).Stdout) {
		did, _ := r["data_id"].(map[string]any)
		out = append(out, strings.Join([]string{r["type"].(string), r["run"].(string), jsonScalar(did["detector"]), r["id"].(string)}, " "))
	}
	slices.Sort(out)
	return out
}

// TestExportImport exports run/a's dict datasets with their files and the
// tag collection, and imports them into fresh repositories by copy and by
// symlink: same IDs, same bytes, the tag membership kept.
func TestExportImport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "exported")
	res := run(t, "export", f.root, dir, "-d", "dict", "--collections", "run/a", "--include-collection", "tag")
	if want := "Exported 2 dataset(s), 2 collection(s), 3 dimension record(s) to " + dir + ".\n"; res.Stdout != want {
		t.Errorf("export printed %q, want %q", res.Stdout, want)
	}
	if !exists(filepath.Join(dir, "export.yaml")) {
		t.Fatalf("no export.yaml in %s", dir)
	}
	want := transferIDs(t, f.root, "dict", "--collections", "run/a")
	if len(want) != 2 {
		t.Fatalf("source run/a has dict datasets %q, want 2", want)
	}
	for _, mode := range []string{"copy", "symlink"} {
		t.Run(mode, func(t *testing.T) {
			repo := filepath.Join(t.TempDir(), "repo")
			run(t, "create", repo)
			res := run(t, "import", repo, dir, "-t", mode)
			if !strings.HasPrefix(res.Stdout, "Imported 3 dimension record(s) (existing ones kept), 2 new collection(s), 1 new dataset type(s), 2 dataset(s) (2 file(s)); 0 already present; in ") {
				t.Errorf("import printed %q", res.Stdout)
			}
			if got := transferIDs(t, repo, "dict", "--collections", "run/a"); !slices.Equal(got, want) {
				t.Errorf("imported run/a = %q, want %q", got, want)
			}
			if got := datasetRows(t, repo, "--collections", "tag"); !slices.Equal(got, []string{"dict run/a 1"}) {
				t.Errorf("imported tag holds %q, want [dict run/a 1]", got)
			}
			for _, d := range []string{"1", "2"} {
				got := run(t, "get", repo, "dict", "--data-id", "instrument=Dummy,detector="+d, "--collections", "run/a").Stdout
				if w := f.content["run/a/dict/"+d]; got != w {
					t.Errorf("get dict %s = %q, want %q", d, got, w)
				}
			}
			files := repotest.DatastoreFiles(t, repo)
			if len(files) != 2 {
				t.Fatalf("datastore files %q, want 2", files)
			}
			for _, p := range files {
				fi, err := os.Lstat(filepath.Join(repo, p))
				if err != nil {
					t.Fatal(err)
				}
				if isLink := fi.Mode()&os.ModeSymlink != 0; isLink != (mode == "symlink") {
					t.Errorf("%s has mode %v after import -t %s", p, fi.Mode(), mode)
				}
				if mode == "symlink" {
					if target, err := os.Readlink(filepath.Join(repo, p)); err != nil || !strings.HasPrefix(target, dir) {
						t.Errorf("%s links to %q, %v; want a file under %s", p, target, err, dir)
					}
				}
			}
			// Importing the same export again skips both datasets.
			res = run(t, "import", repo, dir, "-t", mode)
			if !strings.Contains(res.Stdout, " 0 dataset(s) (0 file(s)); 2 already present;") {
				t.Errorf("second import printed %q, want both datasets already present", res.Stdout)
			}
		})
	}
}

// TestImport_MissingExportFile: an import without its export file fails with
// exit status 1 and one line naming the file it looked for.
func TestImport_MissingExportFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	run(t, "create", repo)
	for _, tt := range []struct {
		args []string
		file string
	}{
		{[]string{"import", repo, dir}, filepath.Join(dir, "export.yaml")},
		{[]string{"import", repo, dir, "--export-file", "other.yaml"}, filepath.Join(dir, "other.yaml")},
	} {
		res := repotest.Run(t, tt.args...)
		if res.Code != 1 {
			t.Errorf("butler %s: %s, want exit 1", strings.Join(tt.args, " "), res)
			continue
		}
		oneLine(t, res, tt.file, "no such file")
	}
}

// TestExportCalibs certifies two calibrations, exports them with
// export-calibs and imports them into a fresh repository: the CALIBRATION
// collection holds them over the same validity range.
func TestExportCalibs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.b.RegisterDatasetType(ctx, "bias", "StructuredDataDict", []string{"instrument", "detector"}, true); err != nil {
		t.Fatal(err)
	}
	biases := map[string]dataset.ID{}
	for _, d := range []int{1, 2} {
		ref, err := f.b.Put(ctx, []byte("bias: "+jsonScalar(d)+"\n"), "bias", det(d), "u/me/bias")
		if err != nil {
			t.Fatal(err)
		}
		biases[jsonScalar(d)] = ref.ID
	}
	res := run(t, "certify-calibrations", f.root, "u/me/bias", "Dummy/calib", "bias", "--begin-date", "2020-01-01T00:00:00", "--end-date", "2021-01-01T00:00:00")
	if !strings.HasPrefix(res.Stdout, "Certified 2 bias dataset(s) into Dummy/calib") {
		t.Errorf("certify-calibrations printed %q", res.Stdout)
	}
	dir := filepath.Join(t.TempDir(), "calibs")
	res = run(t, "export-calibs", f.root, dir, "Dummy/*")
	if want := "Exported 2 calibration dataset(s) with 1 validity range(s) from 1 collection(s) to " + dir + ".\n"; res.Stdout != want {
		t.Errorf("export-calibs printed %q, want %q", res.Stdout, want)
	}

	repo := filepath.Join(t.TempDir(), "repo")
	run(t, "create", repo)
	run(t, "import", repo, dir)
	cols := collectionRows(t, run(t, "query-collections", repo, "--format", "json").Stdout)
	types := map[string]string{}
	for _, c := range cols {
		types[c.Name] = c.Type
	}
	if types["Dummy/calib"] != "CALIBRATION" || types["u/me/bias"] != "RUN" || len(types) != 2 {
		t.Errorf("imported collections = %v, want Dummy/calib CALIBRATION and u/me/bias RUN", types)
	}
	if got := datasetRows(t, repo, "bias", "--collections", "u/me/bias"); !slices.Equal(got, []string{"bias u/me/bias 1", "bias u/me/bias 2"}) {
		t.Errorf("query-datasets bias in u/me/bias = %q", got)
	}

	if got := datasetRows(t, repo, "bias", "--collections", "Dummy/calib"); !slices.Equal(got, []string{"bias u/me/bias 1", "bias u/me/bias 2"}) {
		t.Errorf("query-datasets bias in Dummy/calib = %q", got)
	}

	// The certifications came along with their validity range.
	b := repotest.Open(t, repo)
	certs, err := b.Certifications(ctx, "Dummy/calib")
	if err != nil {
		t.Fatal(err)
	}
	begin, _ := timespan.ParseTAI("2020-01-01T00:00:00")
	end, _ := timespan.ParseTAI("2021-01-01T00:00:00")
	var gotCerts []string
	for _, c := range certs {
		gotCerts = append(gotCerts, c.Type+" "+c.ID.String()+" "+c.Timespan.String())
	}
	slices.Sort(gotCerts)
	wantCerts := []string{"bias " + biases["1"].String() + " " + timespan.New(begin, end).String(), "bias " + biases["2"].String() + " " + timespan.New(begin, end).String()}
	slices.Sort(wantCerts)
	if !slices.Equal(gotCerts, wantCerts) {
		t.Errorf("imported certifications = %q, want %q", gotCerts, wantCerts)
	}
	inside, err := timespan.ParseTAI("2020-06-01T00:00:00")
	if err != nil {
		t.Fatal(err)
	}
	after, err := timespan.ParseTAI("2021-06-01T00:00:00")
	if err != nil {
		t.Fatal(err)
	}
	id := dimensions.DataID{"instrument": inst, "detector": 2}
	at := timespan.Instant(inside)
	if ref, err := b.FindAt(ctx, "bias", id, []string{"Dummy/calib"}, &at); err != nil || ref.ID != biases["2"] {
		t.Errorf("FindAt(bias detector 2, 2020-06-01) = %v, %v; want %s", ref, err, biases["2"])
	}
	at = timespan.Instant(after)
	if ref, err := b.FindAt(ctx, "bias", id, []string{"Dummy/calib"}, &at); err == nil {
		t.Errorf("FindAt(bias detector 2, 2021-06-01) = %v, want not found (the validity range ends 2021-01-01)", ref)
	}
}

// TestTransferDatasets runs transfer-datasets between two SQLite
// repositories: dry run, transfer, rerun, and the refusal without
// --register-dataset-types.
func TestTransferDatasets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dest := filepath.Join(t.TempDir(), "dest")
	run(t, "create", dest)
	sel := []string{"-d", "dict", "--collections", "run/a,run/b"}
	args := func(extra ...string) []string {
		return append(append([]string{"transfer-datasets", f.root, dest}, sel...), extra...)
	}

	res := repotest.Run(t, args()...)
	if res.Code != 1 {
		t.Fatalf("transfer-datasets without the dataset type in DEST: %s, want exit 1", res)
	}
	oneLine(t, res, "dataset type dict", "--register-dataset-types")

	res = run(t, args("--register-dataset-types", "--dry-run")...)
	if want := "Number of datasets that would be transferred: 3 (0 already present)\n"; res.Stdout != want {
		t.Errorf("dry run printed %q, want %q", res.Stdout, want)
	}
	if rows := datasetRows(t, dest, "--collections", "*"); len(rows) != 0 {
		t.Errorf("after the dry run DEST holds %q", rows)
	}

	res = run(t, args("--register-dataset-types", "--batch-size", "2")...)
	if want := "Number of datasets transferred: 3\n"; res.Stdout != want {
		t.Errorf("transfer-datasets printed %q, want %q", res.Stdout, want)
	}
	want := transferIDs(t, f.root, "dict", "--collections", "run/a,run/b")
	if got := transferIDs(t, dest, "dict", "--collections", "run/a,run/b"); !slices.Equal(got, want) {
		t.Errorf("DEST holds %q, want %q", got, want)
	}
	got := run(t, "get", dest, "dict", "--data-id", "instrument=Dummy,detector=1", "--collections", "run/b").Stdout
	if got != f.content["run/b/dict/1"] {
		t.Errorf("get dict 1 from DEST's run/b = %q, want %q", got, f.content["run/b/dict/1"])
	}

	res = run(t, args("--register-dataset-types")...)
	if want := "Number of datasets transferred: 0\nAlready present, skipped: 3\n"; res.Stdout != want {
		t.Errorf("second transfer-datasets printed %q, want %q", res.Stdout, want)
	}
	res = run(t, args("--dry-run")...)
	if want := "Number of datasets that would be transferred: 0 (3 already present)\n"; res.Stdout != want {
		t.Errorf("dry run after the transfer printed %q, want %q", res.Stdout, want)
	}

	// Without the dimension records the destination lacks: refused, nothing written.
	bare := filepath.Join(t.TempDir(), "bare")
	run(t, "create", bare)
	res = repotest.Run(t, "transfer-datasets", f.root, bare, "-d", "dict", "--collections", "run/a", "--register-dataset-types", "--no-transfer-dimensions")
	if res.Code != 1 {
		t.Fatalf("transfer-datasets --no-transfer-dimensions into an empty repository: %s, want exit 1", res)
	}
	oneLine(t, res, "dict", "no instrument record")
	if cols := collectionNames(t, bare); len(cols) != 0 {
		t.Errorf("after the refused transfer the repository has collections %q", cols)
	}
	if out := run(t, "query-dataset-types", bare).Stdout; strings.Contains(out, "dict") {
		t.Errorf("after the refused transfer the repository has dataset types:\n%s", out)
	}
}
