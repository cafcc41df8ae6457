package cli_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestPipeline is the user's first session, entirely through the binary: create,
// register an instrument and a dataset type, put, get, query.
func TestPipeline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	run(t, "create", repo)
	run(t, "register-instrument", repo, "lsst.obs.lsst.LsstCam")
	res := run(t, "register-dataset-type", repo, "cfg", "StructuredDataDict", "instrument", "detector")
	if !strings.Contains(res.Stdout, "successfully registered") {
		t.Errorf("register-dataset-type printed %q", res.Stdout)
	}
	res = run(t, "register-dataset-type", repo, "cfg", "StructuredDataDict", "instrument", "detector")
	if !strings.Contains(res.Stdout, "already existed") {
		t.Errorf("registering again printed %q", res.Stdout)
	}
	res = repotest.Run(t, "register-dataset-type", repo, "cfg", "StructuredDataDict", "instrument")
	if res.Code != 1 {
		t.Errorf("registering cfg with other dimensions: %s, want exit 1", res)
	}

	content := []byte("answer: 42\nlist: [1, 2, 3]\n")
	src := filepath.Join(dir, "in.yaml")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	res = repotest.Run(t, "put", repo, "cfg", "u/me/run1", src, "--data-id", "instrument=LSSTCam", "--data-id", "detector=10")
	if res.Code != 0 {
		t.Fatalf("put into a new run: %s", res)
	}
	id := strings.TrimSpace(res.Stdout)
	// Standard input works too.
	run2 := repotest.Cmd{Args: []string{"put", repo, "cfg", "u/me/run1", "-", "--data-id", "instrument=LSSTCam,detector=11"}, Stdin: "from: stdin\n"}.Run(t)
	if run2.Code != 0 {
		t.Fatalf("put from stdin: %s", run2)
	}

	got := run(t, "get", repo, "cfg", "--data-id", "instrument=LSSTCam,detector=10", "--collections", "u/me/run1")
	if got.Stdout != string(content) {
		t.Errorf("get = %q, want %q", got.Stdout, content)
	}
	out := filepath.Join(dir, "out.yaml")
	run(t, "get", repo, "cfg", "--data-id", "instrument=LSSTCam,detector=11", "--collections", "u/me/run1", "-o", out)
	if b, err := os.ReadFile(out); err != nil || string(b) != "from: stdin\n" {
		t.Errorf("get -o wrote %q, %v", b, err)
	}

	table := run(t, "query-datasets", repo, "cfg", "--collections", "u/me/run1").Stdout
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "type run id instrument detector" {
		t.Fatalf("query-datasets table:\n%s", table)
	}
	if f := strings.Fields(lines[2]); len(f) != 5 || f[0] != "cfg" || f[1] != "u/me/run1" || f[2] != id || f[3] != "LSSTCam" || f[4] != "10" {
		t.Errorf("query-datasets row = %q, want cfg u/me/run1 %s LSSTCam 10", lines[2], id)
	}
	rows := jsonRows(t, run(t, "query-datasets", repo, "cfg", "--collections", "u/me/run1", "--format", "json").Stdout)
	if len(rows) != 2 || rows[0]["id"] != id || rows[0]["run"] != "u/me/run1" || rows[0]["type"] != "cfg" {
		t.Errorf("query-datasets --format json = %v", rows)
	} else if did := rows[0]["data_id"].(map[string]any); did["instrument"] != "LSSTCam" || did["detector"] != float64(10) {
		t.Errorf("data_id = %v, want LSSTCam detector 10", did)
	}
	uri := run(t, "query-datasets", repo, "cfg", "--collections", "u/me/run1", "--show-uri", "--where", "detector = 10").Stdout
	if !strings.Contains(uri, "file://"+repo+"/u/me/run1/cfg/") {
		t.Errorf("--show-uri does not show the file under the repository:\n%s", uri)
	}

	types := run(t, "query-dataset-types", repo, "-v").Stdout
	tl := strings.Split(strings.TrimSpace(types), "\n")
	if len(tl) != 3 || strings.Join(strings.Fields(tl[0]), " ") != "name dimensions storage class" ||
		strings.Join(strings.Fields(tl[2]), " ") != "cfg ['instrument', 'detector'] StructuredDataDict" {
		t.Errorf("query-dataset-types -v:\n%s", types)
	}
	if plain := run(t, "query-dataset-types", repo).Stdout; strings.Contains(plain, "StructuredDataDict") || !strings.Contains(plain, "cfg") {
		t.Errorf("query-dataset-types without -v:\n%s", plain)
	}
	cols := collectionRows(t, run(t, "query-collections", repo, "--format", "json").Stdout)
	if len(cols) != 1 || cols[0].Name != "u/me/run1" || cols[0].Type != "RUN" {
		t.Errorf("collections = %+v, want the one run", cols)
	}
	run(t, "config-validate", repo)
}

func TestQueryDatasets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name string
		args []string
		want []string // "type run detector", in order
	}{
		{"one run", []string{"dict", "--collections", "run/a"}, []string{"dict run/a 1", "dict run/a 2"}},
		{"find-first through chains", []string{"dict", "--collections", "top", "--find-first"}, []string{"dict run/b 1", "dict run/a 2"}},
		{"glob types", []string{"*meta*", "--collections", "run/*"}, []string{"meta run/b 3", "task_metadata run/a 1"}},
		{"where", []string{"dict", "--collections", "run/a", "--where", "detector > 1"}, []string{"dict run/a 2"}},
		{"data-id", []string{"dict", "--collections", "run/a", "--data-id", "detector=2"}, []string{"dict run/a 2"}},
		{"tagged", []string{"dict", "--collections", "tag"}, []string{"dict run/a 1"}},
		{"limit", []string{"dict", "--collections", "run/a", "--limit", "1"}, []string{"dict run/a 1"}},
		{"nothing", []string{"dict", "--collections", "calib"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := datasetRows(t, f.root, tt.args...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("query-datasets %s = %v, want %v", strings.Join(tt.args, " "), got, tt.want)
			}
		})
	}
	t.Run("empty table", func(t *testing.T) {
		t.Parallel()
		res := run(t, "query-datasets", f.root, "dict", "--collections", "calib")
		// As upstream: only the blank line that closes the (no) tables.
		if res.Stdout != "\n" {
			t.Errorf("empty result printed %q, want a blank line", res.Stdout)
		}
	})
}

func TestPruneDatasets(t *testing.T) {
	t.Parallel()
	t.Run("dry-run changes nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		before := snapshot(t, f.root)
		for _, args := range [][]string{
			{"run/b", "--purge", "run/b", "--dry-run"},
			{"run/a", "--unstore", "--dry-run"},
			{"--disassociate", "tag", "--dry-run"},
		} {
			res := run(t, append([]string{"prune-datasets", f.root}, args...)...)
			if !strings.Contains(res.Stdout, "run/") {
				t.Errorf("prune-datasets %v does not list what it would remove:\n%s", args, res.Stdout)
			}
		}
		if after := snapshot(t, f.root); !equalSnapshots(before, after) {
			t.Errorf("prune-datasets --dry-run changed the repository")
		}
	})
	t.Run("purge", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		files := []string{f.fileOf(t, "run/b/dict/1"), f.fileOf(t, "run/b/meta/3")}
		run(t, "prune-datasets", f.root, "run/b", "--purge", "run/b", "--no-confirm")
		if got := datasetRows(t, f.root, "--collections", "run/b"); len(got) != 0 {
			t.Errorf("run/b still holds %v", got)
		}
		for _, p := range files {
			if exists(p) {
				t.Errorf("purged file %s still on disk", p)
			}
		}
		if got := datasetRows(t, f.root, "--collections", "run/a"); len(got) != 3 {
			t.Errorf("run/a holds %v after purging run/b", got)
		}
		if !slices.Contains(collectionNames(t, f.root), "run/b") {
			t.Errorf("purging the datasets removed the run itself")
		}
	})
	t.Run("purge needs the run as the collection", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res := repotest.Run(t, "prune-datasets", f.root, "run/a", "--purge", "run/b", "--no-confirm")
		if res.Code != 2 {
			t.Errorf("--purge run/b searching run/a: %s, want exit 2", res)
		}
		res = repotest.Run(t, "prune-datasets", f.root, "run/a", "--purge", "run/a", "--disassociate", "tag", "--no-confirm")
		if res.Code != 2 {
			t.Errorf("--purge with --disassociate: %s, want exit 2", res)
		}
		res = repotest.Run(t, "prune-datasets", f.root, "run/a", "--no-confirm")
		if res.Code != 2 {
			t.Errorf("no action: %s, want exit 2", res)
		}
		if got := datasetRows(t, f.root); len(got) != 5 { // five datasets, each listed once (run/a dict 1 is also in tag)
			t.Errorf("refused prunes changed datasets: %v", got)
		}
	})
	t.Run("unstore", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		file := f.fileOf(t, "run/a/dict/2")
		run(t, "prune-datasets", f.root, "run/a", "--unstore", "--datasets", "dict", "--where", "detector = 2", "--no-confirm")
		if exists(file) {
			t.Errorf("unstored file %s still on disk", file)
		}
		if got := datasetRows(t, f.root, "dict", "--collections", "run/a"); !slices.Equal(got, []string{"dict run/a 1", "dict run/a 2"}) {
			t.Errorf("unstore removed registry entries: run/a holds %v", got)
		}
		res := repotest.Run(t, "get", f.root, "dict", "--data-id", "instrument=Dummy,detector=2", "--collections", "run/a")
		if res.Code != 1 {
			t.Errorf("get of an unstored dataset: %s, want exit 1", res)
		}
		if got := run(t, "get", f.root, "dict", "--data-id", "instrument=Dummy,detector=1", "--collections", "run/a").Stdout; got != f.content["run/a/dict/1"] {
			t.Errorf("get of a kept dataset = %q", got)
		}
	})
	t.Run("disassociate", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		run(t, "prune-datasets", f.root, "--disassociate", "tag", "--no-confirm")
		if got := datasetRows(t, f.root, "--collections", "tag"); len(got) != 0 {
			t.Errorf("tag still holds %v", got)
		}
		if !exists(f.fileOf(t, "run/a/dict/1")) {
			t.Errorf("disassociating removed the file")
		}
		if got := datasetRows(t, f.root, "dict", "--collections", "run/a"); len(got) != 2 {
			t.Errorf("run/a holds %v after disassociating from tag", got)
		}
	})
	t.Run("failure part-way changes nothing", func(t *testing.T) {
		// The second --disassociate names a RUN: the first must not have
		// happened, nor the unstore.
		t.Parallel()
		f := newFixture(t)
		file := f.fileOf(t, "run/a/dict/1")
		res := repotest.Run(t, "prune-datasets", f.root, "tag", "--disassociate", "tag", "--disassociate", "run/a", "--unstore", "--no-confirm")
		if res.Code == 0 || !strings.Contains(res.Stderr, "run/a") {
			t.Errorf("disassociating from a RUN: %s, want an error naming run/a", res)
		}
		if got := datasetRows(t, f.root, "--collections", "tag"); len(got) != 1 {
			t.Errorf("after the failed prune tag holds %v, want its one dataset", got)
		}
		if !exists(file) {
			t.Errorf("the failed prune removed %s", file)
		}
	})
	t.Run("confirm no", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res := repotest.Cmd{Args: []string{"prune-datasets", f.root, "run/b", "--purge", "run/b"}, Stdin: "n\n"}.Run(t)
		if res.Code != 0 {
			t.Errorf("answering no: %s", res)
		}
		if got := datasetRows(t, f.root, "--collections", "run/b"); len(got) != 2 {
			t.Errorf("answering no removed datasets: %v", got)
		}
	})
}

func TestRetrieveArtifacts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dest := t.TempDir()
	res := run(t, "retrieve-artifacts", f.root, dest, "--collections", "run/a", "-d", "dict")
	if !strings.Contains(res.Stdout, ": 2") {
		t.Errorf("retrieve-artifacts printed %q, want a count of 2", res.Stdout)
	}
	for _, k := range []string{"run/a/dict/1", "run/a/dict/2"} {
		rel, err := filepath.Rel(f.root, f.fileOf(t, k))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dest, rel))
		if err != nil {
			t.Errorf("retrieved file of %s: %v", k, err)
			continue
		}
		if string(got) != f.content[k] {
			t.Errorf("retrieved %s = %q, want %q", k, got, f.content[k])
		}
	}
	flat := t.TempDir()
	run(t, "retrieve-artifacts", f.root, flat, "--collections", "run/b", "--no-preserve-path")
	entries, _ := os.ReadDir(flat)
	if len(entries) != 2 {
		t.Errorf("--no-preserve-path wrote %d entries, want 2 files", len(entries))
	}
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("--no-preserve-path made directory %s", e.Name())
		}
	}
	// A second retrieval into the same place needs --clobber.
	if res := repotest.Run(t, "retrieve-artifacts", f.root, flat, "--collections", "run/b", "--no-preserve-path"); res.Code != 1 {
		t.Errorf("retrieving over existing files without --clobber: %s, want exit 1", res)
	}
	run(t, "retrieve-artifacts", f.root, flat, "--collections", "run/b", "--no-preserve-path", "--clobber")
}

func TestIngestFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, transfer string
		keepSource     bool
	}{
		{"copy", "copy", true},
		{"auto", "auto", true},
		{"symlink", "symlink", true},
		{"move", "move", false},
		{"direct", "direct", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			src := t.TempDir()
			files := map[string]string{"a.yaml": "file: a\n", "sub/b.yaml": "file: b\n"}
			for name, data := range files {
				p := filepath.Join(src, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			table := filepath.Join(src, "files.csv")
			if err := os.WriteFile(table, []byte("file,detector\na.yaml,4\nsub/b.yaml,5\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// Relative paths are relative to the current directory, as upstream.
			res := repotest.Cmd{Args: []string{"ingest-files", f.root, "dict", "ingested", table, "--data-id", "instrument=Dummy", "-t", tt.transfer}, Dir: src}.Run(t)
			if res.Code != 0 || !strings.Contains(res.Stdout, "2") {
				t.Errorf("ingest-files printed %q", res.Stdout)
			}
			if got := datasetRows(t, f.root, "dict", "--collections", "ingested"); !slices.Equal(got, []string{"dict ingested 4", "dict ingested 5"}) {
				t.Errorf("ingested datasets = %v", got)
			}
			for d, name := range map[string]string{"4": "a.yaml", "5": "sub/b.yaml"} {
				got := run(t, "get", f.root, "dict", "--data-id", "instrument=Dummy,detector="+d, "--collections", "ingested").Stdout
				if got != files[name] {
					t.Errorf("get detector %s = %q, want %q", d, got, files[name])
				}
				if _, err := os.Stat(filepath.Join(src, name)); (err == nil) != tt.keepSource {
					t.Errorf("source %s after -t %s: %v", name, tt.transfer, err)
				}
			}
			// Ingesting the same table again is a conflict that changes nothing.
			if tt.keepSource {
				res := repotest.Run(t, "ingest-files", f.root, "dict", "ingested", table, "--data-id", "instrument=Dummy", "-t", tt.transfer, "--prefix", src)
				if res.Code != 1 {
					t.Errorf("ingesting the same files again: %s, want exit 1", res)
				}
				if got := datasetRows(t, f.root, "dict", "--collections", "ingested"); len(got) != 2 {
					t.Errorf("after a refused ingest: %v", got)
				}
				for d, name := range map[string]string{"4": "a.yaml", "5": "sub/b.yaml"} {
					got := run(t, "get", f.root, "dict", "--data-id", "instrument=Dummy,detector="+d, "--collections", "ingested").Stdout
					if got != files[name] {
						t.Errorf("after a refused ingest, get detector %s = %q", d, got)
					}
				}
			}
			// Purging the datasets removes what the repository holds, never the
			// user's own files (direct ingests, symlink targets).
			run(t, "prune-datasets", f.root, "ingested", "--purge", "ingested", "--no-confirm")
			for name, data := range files {
				got, err := os.ReadFile(filepath.Join(src, name))
				if tt.keepSource && (err != nil || string(got) != data) {
					t.Errorf("source %s after purging its -t %s dataset: %q, %v", name, tt.transfer, got, err)
				}
			}
			if got := repotest.DatastoreFiles(t, f.root); len(got) != 5 {
				t.Errorf("datastore files after the purge = %v, want the fixture's 5", got)
			}
		})
	}
	t.Run("paths relative to the current directory", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		cwd, tables := t.TempDir(), t.TempDir()
		os.WriteFile(filepath.Join(cwd, "c.yaml"), []byte("file: c\n"), 0o644)
		table := filepath.Join(tables, "files.csv")
		os.WriteFile(table, []byte("file,detector\nc.yaml,6\n"), 0o644)
		res := repotest.Cmd{Args: []string{"ingest-files", f.root, "dict", "ingested", table, "--data-id", "instrument=Dummy", "-t", "copy"}, Dir: cwd}.Run(t)
		if res.Code != 0 {
			t.Fatalf("ingest-files with paths relative to the current directory: %s", res)
		}
		if got := run(t, "get", f.root, "dict", "--data-id", "instrument=Dummy,detector=6", "--collections", "ingested").Stdout; got != "file: c\n" {
			t.Errorf("get = %q", got)
		}
	})
	t.Run("bad table", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		src := t.TempDir()
		table := filepath.Join(src, "files.csv")
		os.WriteFile(table, []byte("file,detector\nmissing.yaml,4\n"), 0o644)
		res := repotest.Cmd{Args: []string{"ingest-files", f.root, "dict", "ingested", table, "--data-id", "instrument=Dummy"}, Dir: src}.Run(t)
		if res.Code != 1 {
			t.Errorf("ingesting a missing file: %s, want exit 1", res)
		}
		oneLine(t, res, "missing.yaml")
		if slices.Contains(collectionNames(t, f.root), "ingested") {
			t.Errorf("a failed ingest left its run behind")
		}
	})
}

// TestPut_IncompleteTemplate: a file template that leaves out a dimension maps
// two datasets to one path. Putting the second must not destroy the first.
func TestPut_IncompleteTemplate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seed, []byte("datastore:\n  templates:\n    dict: \"{run}/{datasetType}/{instrument}\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "repo")
	run(t, "create", repo, "--seed-config", seed)
	run(t, "register-instrument", repo, "lsst.obs.lsst.LsstCam")
	run(t, "register-dataset-type", repo, "dict", "StructuredDataDict", "instrument", "detector")
	if res := (repotest.Cmd{Args: []string{"put", repo, "dict", "r", "-", "--data-id", "instrument=LSSTCam,detector=1"}, Stdin: "d: 1\n"}).Run(t); res.Code != 0 {
		t.Fatalf("first put: %s", res)
	}
	res := repotest.Cmd{Args: []string{"put", repo, "dict", "r", "-", "--data-id", "instrument=LSSTCam,detector=2"}, Stdin: "d: 2\n"}.Run(t)
	t.Logf("second put: %s", res)
	got := repotest.Run(t, "get", repo, "dict", "--data-id", "instrument=LSSTCam,detector=1", "--collections", "r")
	if got.Code != 0 || got.Stdout != "d: 1\n" {
		t.Errorf("detector 1 after detector 2 was put at the same path: %s; want its own content", got)
	}
}
