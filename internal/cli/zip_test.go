package cli_test

import (
	"archive/zip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/repotest"
)

// datasetIDs lists "type run detector id" of every dataset through query-datasets.
func datasetIDs(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, r := range jsonRows(t, run(t, "query-datasets", root, "--collections", "*", "--format", "json").Stdout) {
		did, _ := r["data_id"].(map[string]any)
		out = append(out, strings.Join([]string{r["type"].(string), r["run"].(string), jsonScalar(did["detector"]), r["id"].(string)}, " "))
	}
	sort.Strings(out)
	return out
}

// zipOf runs retrieve-artifacts --zip and returns the zip's path from its output.
func zipOf(t *testing.T, root, dest string, args ...string) string {
	t.Helper()
	res := run(t, append([]string{"retrieve-artifacts", root, dest, "--zip"}, args...)...)
	p, ok := strings.CutPrefix(strings.TrimSpace(res.Stdout), "Zip file written to ")
	if !ok || filepath.Dir(p) != dest || !strings.HasSuffix(p, ".zip") {
		t.Fatalf("retrieve-artifacts --zip printed %q, want the zip's path in %s", res.Stdout, dest)
	}
	return p
}

func newEmptyRepo(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	run(t, "create", root)
	return root
}

// TestIngestZip_RoundTrip: datasets zipped in one repository, ingested in a new
// one, come back with the same IDs and bytes.
func TestIngestZip_RoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	zp := zipOf(t, f.root, t.TempDir(), "--collections", "run/a")
	want := datasetIDs(t, f.root)
	// The tag lists one run/a dataset a second time.
	want = slices.Compact(slices.DeleteFunc(want, func(s string) bool { return !strings.Contains(s, " run/a ") }))

	dest := newEmptyRepo(t)
	// Without the instrument's records the zip is refused, pointing at the flag.
	res := repotest.Run(t, "ingest-zip", dest, zp)
	if res.Code != 1 {
		t.Fatalf("ingest-zip without dimension records: %s, want exit 1", res)
	}
	oneLine(t, res, "instrument", "--transfer-dimensions")
	if got := datasetIDs(t, dest); len(got) != 0 {
		t.Errorf("failed ingest-zip left datasets: %v", got)
	}
	// A dry run checks and changes nothing.
	res = run(t, "ingest-zip", dest, zp, "--transfer-dimensions", "--dry-run")
	if !strings.Contains(res.Stdout, "would ingest 3 dataset(s) in 3 file(s)") {
		t.Errorf("dry run printed %q", res.Stdout)
	}
	if got := datasetIDs(t, dest); len(got) != 0 {
		t.Errorf("dry run left datasets: %v", got)
	}
	res = run(t, "ingest-zip", dest, zp, "--transfer-dimensions", "-t", "copy")
	if !strings.Contains(res.Stdout, "Ingested 3 dataset(s) in 3 file(s)") {
		t.Errorf("ingest-zip printed %q", res.Stdout)
	}
	if got := datasetIDs(t, dest); !slices.Equal(got, want) {
		t.Errorf("datasets after ingest-zip:\n%v\nwant\n%v", got, want)
	}
	for _, k := range []string{"run/a/dict/1", "run/a/dict/2", "run/a/task_metadata/1"} {
		parts := strings.Split(k, "/")
		got := run(t, "get", dest, parts[2], "--collections", "run/a", "--data-id", "instrument="+inst, "--data-id", "detector="+parts[3]).Stdout
		if got != f.content[k] {
			t.Errorf("get %s = %q, want %q", k, got, f.content[k])
		}
	}
	// URIs point into the stored zip.
	uris := run(t, "query-datasets", dest, "--collections", "run/a", "--show-uri", "--format", "json").Stdout
	if strings.Count(uris, filepath.Base(zp)+"#zip-path=") != 3 {
		t.Errorf("URIs of the ingested datasets do not name members of the zip:\n%s", uris)
	}
	// Ingesting it again is a conflict.
	res = repotest.Run(t, "ingest-zip", dest, zp)
	if res.Code != 1 {
		t.Fatalf("second ingest-zip: %s, want exit 1", res)
	}
	oneLine(t, res, "already stored")
	// Removing the run removes the stored zip too.
	run(t, "remove-runs", dest, "run/a", "--no-confirm")
	if files := repotest.DatastoreFiles(t, dest); len(files) != 0 {
		t.Errorf("files left after remove-runs: %v", files)
	}
}

// TestRetrieveArtifactsZip_Clobber: an existing zip is kept unless --clobber; no
// match writes nothing.
func TestRetrieveArtifactsZip_Clobber(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dest := t.TempDir()
	zp := zipOf(t, f.root, dest, "--collections", "run/b")
	res := repotest.Run(t, "retrieve-artifacts", f.root, dest, "--zip", "--collections", "run/b")
	if res.Code != 1 {
		t.Errorf("retrieve-artifacts --zip over an existing zip: %s, want exit 1", res)
	}
	oneLine(t, res, "--clobber")
	if got := zipOf(t, f.root, dest, "--collections", "run/b", "--clobber"); got != zp {
		t.Errorf("same datasets zipped as %s, then %s", zp, got)
	}
	res = run(t, "retrieve-artifacts", f.root, t.TempDir(), "--zip", "--collections", "run/b", "-d", "task_metadata")
	if strings.TrimSpace(res.Stdout) != "No datasets matched query." {
		t.Errorf("--zip with no datasets printed %q", res.Stdout)
	}
	// --no-zip keeps the plain retrieval.
	res = run(t, "retrieve-artifacts", f.root, t.TempDir(), "--zip", "--no-zip", "--collections", "run/b")
	if !strings.Contains(res.Stdout, "Number of artifacts retrieved") {
		t.Errorf("--no-zip printed %q", res.Stdout)
	}
}

// rewriteZip copies a zip, letting edit change its members (the index as JSON).
func rewriteZip(t *testing.T, src, dst string, edit func(idx map[string]any, members map[string][]byte)) {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	members := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		members[f.Name], _ = io.ReadAll(rc)
		rc.Close()
		order = append(order, f.Name)
	}
	zr.Close()
	var idx map[string]any
	if err := json.Unmarshal(members["_butler_zip_index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	edit(idx, members)
	if _, ok := members["_butler_zip_index.json"]; ok {
		members["_butler_zip_index.json"], _ = json.Marshal(idx)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for _, n := range order {
		if data, ok := members[n]; ok {
			w, _ := zw.Create(n)
			w.Write(data)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// TestIngestZip_Errors: bad zips fail with one clear line, exit 1, and leave the
// repository as it was; a bad transfer mode is a usage error.
func TestIngestZip_Errors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	good := zipOf(t, f.root, t.TempDir(), "--collections", "run/b")
	firstMember := func(idx map[string]any) string {
		var names []string
		for n := range idx["artifact_map"].(map[string]any) {
			names = append(names, n)
		}
		sort.Strings(names)
		return names[0]
	}
	var missing string
	tests := []struct {
		name string
		edit func(idx map[string]any, members map[string][]byte)
		says []string
	}{
		{"no index", func(idx map[string]any, m map[string][]byte) { delete(m, "_butler_zip_index.json") },
			[]string{"_butler_zip_index.json"}},
		{"member missing", func(idx map[string]any, m map[string][]byte) {
			missing = firstMember(idx)
			delete(m, missing)
		}, []string{"not in the zip"}},
		{"unknown dataset type", func(idx map[string]any, m map[string][]byte) {
			for _, cr := range idx["refs"].(map[string]any)["compact_refs"].(map[string]any) {
				cr.(map[string]any)["dataset_type_name"] = "nosuch"
			}
		}, []string{"nosuch", "not defined in the index"}},
		{"dataset type differs", func(idx map[string]any, m map[string][]byte) {
			idx["refs"].(map[string]any)["dataset_types"].(map[string]any)["dict"].(map[string]any)["storageClass"] = "TaskMetadata"
		}, []string{"dict", "TaskMetadata"}},
	}
	dest := newEmptyRepo(t)
	// The destination has the fixture's instrument (copied from a first zip) and a
	// "dict" of storage class StructuredDataDict.
	run(t, "ingest-zip", dest, zipOf(t, f.root, t.TempDir(), "--collections", "run/a", "-d", "dict"), "--transfer-dimensions")
	before := datasetIDs(t, dest)
	beforeFiles := repotest.DatastoreFiles(t, dest)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.zip")
			rewriteZip(t, good, bad, tt.edit)
			res := repotest.Run(t, "ingest-zip", dest, bad, "--transfer-dimensions")
			if res.Code != 1 {
				t.Fatalf("ingest-zip of a zip with %s: %s, want exit 1", tt.name, res)
			}
			oneLine(t, res, tt.says...)
			if tt.name == "member missing" && !strings.Contains(res.Stderr, missing) {
				t.Errorf("error does not name the missing member %s: %s", missing, res.Stderr)
			}
			if got := datasetIDs(t, dest); !slices.Equal(got, before) {
				t.Errorf("failed ingest changed datasets:\n%v\nwant\n%v", got, before)
			}
			if got := repotest.DatastoreFiles(t, dest); !slices.Equal(got, beforeFiles) {
				t.Errorf("failed ingest changed files: %v, want %v", got, beforeFiles)
			}
		})
	}
	if res := repotest.Run(t, "ingest-zip", dest, good, "-t", "teleport"); res.Code != 2 {
		t.Errorf("ingest-zip -t teleport: %s, want exit 2", res)
	}
	if res := repotest.Run(t, "ingest-zip", dest, filepath.Join(t.TempDir(), "absent.zip")); res.Code != 1 {
		t.Errorf("ingest-zip of a missing file: %s, want exit 1", res)
	}
}
