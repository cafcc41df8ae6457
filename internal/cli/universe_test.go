package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// forEachCLIDialect runs fn with a function that creates an empty repository
// (extra create arguments allowed) with the CLI: a SQLite one, and one whose
// registry is a fresh PostgreSQL schema.
func forEachCLIDialect(t *testing.T, fn func(t *testing.T, create func(args ...string) string)) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		fn(t, func(args ...string) string {
			root := filepath.Join(t.TempDir(), "repo")
			create := append(append([]string{"create"}, repotest.CreateArgs(t, dialect)...), args...)
			run(t, append(create, root)...)
			return root
		})
	})
}

// repoState is what a repository visibly holds: its datasets, exposure and
// group records and datastore files.
func repoState(t *testing.T, root string) string {
	t.Helper()
	var parts []string
	for _, args := range [][]string{
		{"query-datasets", root, "--collections", "*", "--format", "json"},
		{"query-dimension-records", root, "exposure", "--format", "json"},
		{"query-dimension-records", root, "group", "--format", "json"},
	} {
		parts = append(parts, repotest.Run(t, args...).Stdout)
	}
	return strings.Join(parts, "\n") + fmt.Sprint(repotest.DatastoreFiles(t, root))
}

// TestImport_OldExportWithoutGroupName: an export of a universe-1 repository
// (the corpus lsstCam registry) imports into a new-universe repository with
// exposure.group made from group_name; the same file with the group_name
// lines removed is an input error (exit 1) naming the file line, the exposure
// and the field, not a bug report, and the repository stays empty (#18.5).
func TestImport_OldExportWithoutGroupName(t *testing.T) {
	src := filepath.Join(corpustest.Dir(t), "raws", "lsstCam")
	good := filepath.Join(t.TempDir(), "export")
	run(t, "export", src, good, "-d", "raw", "--collections", "LSSTCam/raw/all", "-t", "copy")
	data, err := os.ReadFile(filepath.Join(good, "export.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "universe_version: 1\n") || !strings.Contains(string(data), "group_name:") {
		t.Fatalf("export of the universe-1 registry:\n%s", data)
	}
	bad := filepath.Join(t.TempDir(), "export")
	if err := os.CopyFS(bad, os.DirFS(good)); err != nil {
		t.Fatal(err)
	}
	stripped := regexp.MustCompile(`(?m)^\s*group_name: .*\n`).ReplaceAllString(string(data), "")
	if err := os.WriteFile(filepath.Join(bad, "export.yaml"), []byte(stripped), 0o644); err != nil {
		t.Fatal(err)
	}
	forEachCLIDialect(t, func(t *testing.T, create func(...string) string) {
		repo := create()
		run(t, "import", repo, good)
		groups := jsonRows(t, run(t, "query-dimension-records", repo, "group", "--format", "json").Stdout)
		var names []string
		for _, g := range groups {
			names = append(names, fmt.Sprint(g["name"]))
		}
		slices.Sort(names)
		if want := []string{"3019031900001", "3019032200002"}; !slices.Equal(names, want) {
			t.Errorf("group records after importing the universe-1 export: %q, want %q", names, want)
		}

		repo = create()
		before := repoState(t, repo)
		res := repotest.Run(t, "import", repo, bad)
		if res.Code != 1 {
			t.Fatalf("import of exposures without group_name: %s; want exit 1", res)
		}
		for _, want := range []string{
			filepath.Join(bad, "export.yaml") + ": line ",
			"exposure record {exposure: 3019031900001, instrument: 'LSSTCam'}",
			`field "group" has no value`,
			"group_name",
		} {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("stderr %q does not contain %q", res.Stderr, want)
			}
		}
		if strings.Contains(res.Stderr, "bug") || strings.Contains(res.Stderr, "constraint failed") {
			t.Errorf("an input error reported as a bug or a database error: %q", res.Stderr)
		}
		if after := repoState(t, repo); after != before {
			t.Errorf("repository changed by the refused import:\n%s\nwas\n%s", after, before)
		}
	})
}

// TestTransferDatasets_AcrossUniverses: transfer-datasets from the
// universe-1 corpus registry into a new repository migrates its records; from
// the universe-7 one into a universe-1 repository it is refused (exit 1),
// naming what universe 1 cannot hold, before anything is written (#12.2).
func TestTransferDatasets_AcrossUniverses(t *testing.T) {
	corpus := corpustest.Dir(t)
	v1 := filepath.Join(repotest.ModuleRoot(t), "dimensions", "universes", "daf_butler_universe1.yaml")
	forEachCLIDialect(t, func(t *testing.T, create func(...string) string) {
		repo := create()
		res := run(t, "transfer-datasets", filepath.Join(corpus, "raws", "lsstCam"), repo, "-d", "raw", "--collections", "*", "--register-dataset-types")
		if res.Stdout != "Number of datasets transferred: 3\n" {
			t.Errorf("transfer-datasets printed %q", res.Stdout)
		}
		rows := jsonRows(t, run(t, "query-dimension-records", repo, "exposure", "--format", "json").Stdout)
		if len(rows) != 2 || fmt.Sprint(rows[0]["group"]) != "3019031900001" {
			t.Errorf("exposures after the transfer: %v", rows)
		}

		old := create("--dimension-config", v1)
		before := repoState(t, old)
		res = repotest.Run(t, "transfer-datasets", filepath.Join(corpus, "raws", "lsstCamSim"), old, "-d", "raw", "--collections", "*", "--register-dataset-types")
		if res.Code != 1 || !strings.Contains(res.Stderr, "exposure.group") || !strings.Contains(res.Stderr, "universe 1") || strings.Contains(res.Stderr, "bug") {
			t.Errorf("transfer-datasets from universe 7 into universe 1: %s; want exit 1 naming exposure.group", res)
		}
		if after := repoState(t, old); after != before {
			t.Errorf("repository changed by the refused transfer:\n%s\nwas\n%s", after, before)
		}
	})
}
