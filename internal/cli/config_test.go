package cli_test

import (
	"crypto/sha256"
	"database/sql"
	"fmt"
	_ "modernc.org/sqlite"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// snapshot maps every file under root to its size, modification time and digest.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		switch {
		case strings.HasSuffix(p, "-wal") || strings.HasSuffix(p, "-shm"):
			// WAL files change when anyone merely reads; the database's
			// content is compared logically below instead.
			return nil
		case strings.HasSuffix(p, ".sqlite3"):
			out[p] = dumpDB(t, p)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%d %s %x", fi.Size(), fi.ModTime().Format(time.RFC3339Nano), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalSnapshots(a, b map[string]string) bool { return cmp.Equal(a, b) }

func TestCreate(t *testing.T) {
	t.Parallel()
	t.Run("layout", func(t *testing.T) {
		t.Parallel()
		repo := filepath.Join(t.TempDir(), "new", "repo")
		res := run(t, "create", repo)
		if res.Stdout != "" || res.Stderr != "" {
			t.Errorf("create printed %q on stdout and %q on stderr; upstream prints nothing", res.Stdout, res.Stderr)
		}
		for _, name := range []string{"butler.yaml", "gen3.sqlite3"} {
			if !exists(filepath.Join(repo, name)) {
				t.Errorf("create made no %s", name)
			}
		}
		var cfg map[string]any
		data, _ := os.ReadFile(filepath.Join(repo, "butler.yaml"))
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			t.Fatal(err)
		}
		ds, _ := cfg["datastore"].(map[string]any)
		reg, _ := cfg["registry"].(map[string]any)
		if ds["root"] != "<butlerRoot>" || reg["db"] != "sqlite:///<butlerRoot>/gen3.sqlite3" {
			t.Errorf("butler.yaml datastore.root = %v, registry.db = %v", ds["root"], reg["db"])
		}
	})
	t.Run("over an existing repository", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		before := snapshot(t, f.root)
		res := repotest.Run(t, "create", f.root)
		if res.Code != 1 {
			t.Fatalf("create over a repository: %s, want exit 1", res)
		}
		oneLine(t, res, "butler.yaml")
		if d := cmp.Diff(before, snapshot(t, f.root)); d != "" {
			t.Errorf("create over a repository changed files (-before +after):\n%s", d)
		}
		if got := datasetRows(t, f.root); len(got) != 5 { // five datasets, each listed once (run/a dict 1 is also in tag)
			t.Errorf("datasets after a refused create: %v", got)
		}
	})
	t.Run("over a registry without config", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		if err := os.Remove(filepath.Join(f.root, "butler.yaml")); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, f.root)
		res := repotest.Run(t, "create", f.root)
		if res.Code != 1 {
			t.Fatalf("create over an existing gen3.sqlite3: %s, want exit 1", res)
		}
		if d := cmp.Diff(before, snapshot(t, f.root)); d != "" {
			t.Errorf("refused create changed files (-before +after):\n%s", d)
		}
	})
	t.Run("outfile", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		repo := filepath.Join(dir, "repo")
		cfgFile := filepath.Join(dir, "elsewhere", "cfg.yaml")
		if err := os.MkdirAll(filepath.Dir(cfgFile), 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, "create", repo, "--outfile", cfgFile)
		if exists(filepath.Join(repo, "butler.yaml")) {
			t.Errorf("create --outfile also wrote REPO/butler.yaml")
		}
		if !exists(filepath.Join(repo, "gen3.sqlite3")) {
			t.Errorf("create --outfile made no REPO/gen3.sqlite3")
		}
		var cfg map[string]any
		data, _ := os.ReadFile(cfgFile)
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			t.Fatal(err)
		}
		if root, _ := cfg["root"].(string); strings.TrimPrefix(root, "file://") != repo && strings.TrimPrefix(root, "file://") != repo+"/" {
			t.Errorf("outfile root = %q, want %s", cfg["root"], repo)
		}
		run(t, "register-dataset-type", cfgFile, "thing", "StructuredDataDict", "instrument")
		if got := run(t, "query-dataset-types", cfgFile).Stdout; !strings.Contains(got, "thing") {
			t.Errorf("repository opened through the outfile lacks the dataset type:\n%s", got)
		}
		if got := run(t, "config-dump", cfgFile, "--subset", ".registry.db").Stdout; strings.Contains(got, "elsewhere") {
			t.Errorf("registry resolved next to the outfile, not in the repository: %s", got)
		}
		// The outfile is never overwritten.
		before := snapshot(t, dir)
		if res := repotest.Run(t, "create", filepath.Join(dir, "repo2"), "--outfile", cfgFile); res.Code != 1 {
			t.Errorf("create --outfile onto an existing file: %s, want exit 1", res)
		}
		if d := cmp.Diff(before, snapshot(t, dir)); d != "" {
			t.Errorf("refused create --outfile changed files:\n%s", d)
		}
	})
}

func TestConfigDump(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	full := run(t, "config-dump", f.root).Stdout
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(full), &cfg); err != nil {
		t.Fatalf("config-dump is not YAML: %v\n%s", err, full)
	}
	for _, k := range []string{"datastore", "registry", "storageClasses"} {
		if _, ok := cfg[k]; !ok {
			t.Errorf("config-dump lacks %s", k)
		}
	}
	if got := run(t, "config-dump", f.root, "--subset", ".datastore.root").Stdout; got != ".datastore.root: <butlerRoot>\n" {
		t.Errorf("--subset .datastore.root printed %q", got)
	}
	sub := run(t, "config-dump", f.root, "-s", "datastore").Stdout
	var ds map[string]any
	if err := yaml.Unmarshal([]byte(sub), &ds); err != nil || ds["root"] != "<butlerRoot>" || ds["templates"] == nil {
		t.Errorf("--subset datastore: %v\n%s", err, sub)
	}
	out := filepath.Join(t.TempDir(), "dump.yaml")
	res := run(t, "config-dump", f.root, "--file", out)
	if res.Stdout != "" {
		t.Errorf("config-dump --file also printed %d bytes", len(res.Stdout))
	}
	if data, err := os.ReadFile(out); err != nil || string(data) != full {
		t.Errorf("config-dump --file wrote %d bytes (%v), want the %d of stdout", len(data), err, len(full))
	}
	res = repotest.Run(t, "config-dump", f.root, "--subset", ".datastore.nosuch")
	if res.Code == 0 || !strings.Contains(res.Stderr, "nosuch") {
		t.Errorf("--subset of a missing key: %s", res)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := run(t, "config-validate", f.root)
	if !strings.Contains(res.Stdout, "No problems") {
		t.Errorf("config-validate printed %q", res.Stdout)
	}
	if res := run(t, "config-validate", f.root, "-q"); res.Stdout != "" {
		t.Errorf("config-validate -q printed %q", res.Stdout)
	}
	// A template that cannot tell two detectors apart fails validation.
	tests := []struct{ name, template string }{
		{"missing dimension", "{run}/{datasetType}/{instrument}"},
		{"no run or id", "{datasetType}/{instrument}/{detector}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			seed := filepath.Join(dir, "seed.yaml")
			os.WriteFile(seed, []byte("datastore:\n  templates:\n    dict: \""+tt.template+"\"\n"), 0o644)
			repo := filepath.Join(dir, "repo")
			run(t, "create", repo, "--seed-config", seed)
			run(t, "register-dataset-type", repo, "dict", "StructuredDataDict", "instrument", "detector")
			res := repotest.Run(t, "config-validate", repo)
			if res.Code != 1 {
				t.Errorf("config-validate with template %q: %s, want exit 1", tt.template, res)
			}
			if !strings.Contains(res.Stderr, "dict") {
				t.Errorf("config-validate does not name the dataset type:\n%s", res.Stderr)
			}
			run(t, "config-validate", repo, "-i", "dict")
		})
	}
}

// dumpDB hashes every row of every table of a SQLite database (WAL included).
func dumpDB(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	h := sha256.New()
	for _, tbl := range tables {
		rows, err := db.Query(`SELECT * FROM "` + tbl + `" ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			fmt.Fprintf(h, "%s %v\n", tbl, vals)
		}
		rows.Close()
	}
	return fmt.Sprintf("db %x", h.Sum(nil))
}
