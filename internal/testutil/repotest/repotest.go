// Package repotest makes throw-away butler repositories for tests and benchmarks, and runs the
// real butler binary against them. Only _test.go files import it.
package repotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// New creates an empty SQLite repository in a temporary directory and opens it for
// writing; the butler is closed when the test ends.
func New(tb testing.TB) (string, *butler.Butler) {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "repo")
	if _, err := butler.Create(tb.Context(), root, butler.CreateOptions{}); err != nil {
		tb.Fatalf("create repository: %v", err)
	}
	return root, Open(tb, root)
}

// Open opens an existing repository for writing, closed when the test ends.
func Open(tb testing.TB, root string) *butler.Butler {
	tb.Helper()
	b, err := butler.Open(context.WithoutCancel(tb.Context()), root, butler.OpenOptions{Writeable: true})
	if err != nil {
		tb.Fatalf("open repository %s: %v", root, err)
	}
	tb.Cleanup(func() { b.Close() })
	return b
}

// AddInstrument writes an instrument record and detectors 0..detectors-1 for it, so
// tests can put datasets with instrument+detector data IDs without a real camera.
func AddInstrument(tb testing.TB, b *butler.Butler, name string, detectors int) {
	tb.Helper()
	ctx := tb.Context()
	inst := map[string]any{"name": name, "visit_max": 1000000, "exposure_max": 1000000, "detector_max": detectors, "class_name": "test." + name}
	ie := b.Universe.MustElement("instrument")
	for _, m := range ie.Metadata {
		if m.Name == "visit_system" {
			inst["visit_system"] = 0
		}
	}
	if err := b.InsertRecords(ctx, "instrument", []dimensions.Record{{Element: ie, Values: inst}}, butler.InsertNew); err != nil {
		tb.Fatalf("insert instrument %s: %v", name, err)
	}
	de := b.Universe.MustElement("detector")
	recs := make([]dimensions.Record, detectors)
	for i := range recs {
		recs[i] = dimensions.Record{Element: de, Values: map[string]any{
			"instrument": name, "id": i, "full_name": fmt.Sprintf("D%04d", i), "name_in_raft": fmt.Sprintf("S%d", i%9), "raft": fmt.Sprintf("R%02d", i/9), "purpose": "SCIENCE",
		}}
	}
	if len(recs) > 0 {
		if err := b.InsertRecords(ctx, "detector", recs, butler.InsertNew); err != nil {
			tb.Fatalf("insert %d detectors of %s: %v", detectors, name, err)
		}
	}
}

// ModuleRoot returns the directory holding the module's go.mod, found by walking up
// from the test's working directory.
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// The binary is built once per test process (building takes seconds), so its path is
// kept here rather than in each test.
var bin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Binary returns the path of the butler command, built once per test process with
// CGO_ENABLED=0 into a temporary directory that RemoveBinary deletes.
func Binary(tb testing.TB) string {
	tb.Helper()
	root := ModuleRoot(tb)
	bin.once.Do(func() {
		bin.dir, bin.err = os.MkdirTemp("", "butler-bin-")
		if bin.err != nil {
			return
		}
		bin.path = filepath.Join(bin.dir, "butler")
		cmd := exec.Command("go", "build", "-o", bin.path, "./cmd/butler")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			bin.err = fmt.Errorf("go build ./cmd/butler: %w\n%s", err, out)
		}
	})
	if bin.err != nil {
		tb.Fatal(bin.err)
	}
	return bin.path
}

// RemoveBinary deletes the binary built by Binary; call it from TestMain after m.Run.
func RemoveBinary() {
	if bin.dir != "" {
		os.RemoveAll(bin.dir)
	}
}

// Result is what one run of the binary produced.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Cmd describes one run of the binary.
type Cmd struct {
	Args  []string
	Stdin string
	Env   []string // added to the test's environment
	Dir   string   // working directory; "" for the test's
}

// Run runs the butler binary with args and returns its output and exit status.
func Run(tb testing.TB, args ...string) Result {
	tb.Helper()
	return Cmd{Args: args}.Run(tb)
}

// Run runs the command; a binary that cannot start fails the test.
func (c Cmd) Run(tb testing.TB) Result {
	tb.Helper()
	cmd := exec.CommandContext(tb.Context(), Binary(tb), c.Args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(c.Stdin)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.Code = exit.ExitCode()
	case err != nil:
		tb.Fatalf("run butler %s: %v", strings.Join(c.Args, " "), err)
	}
	return res
}

// MustRun runs the binary and fails the test unless it exits 0.
func MustRun(tb testing.TB, args ...string) Result {
	tb.Helper()
	res := Run(tb, args...)
	if res.Code != 0 {
		tb.Fatalf("butler %s: %s", strings.Join(args, " "), res)
	}
	return res
}

// DatastoreFiles lists the files under a repository root other than its config and
// registry (butler.yaml, gen3.sqlite3 and its journals), as slash-separated paths
// relative to root, sorted.
func DatastoreFiles(tb testing.TB, root string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "butler.yaml" || strings.HasPrefix(rel, "gen3.sqlite3") {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		tb.Fatalf("list datastore files of %s: %v", root, err)
	}
	sort.Strings(out)
	return out
}

// CheckConsistent fails the test when a dataset in the registry has no file on disk
// or a file in the datastore belongs to no dataset. It assumes the datastore root is
// the repository root and every dataset was put (not ingested in direct mode).
func CheckConsistent(tb testing.TB, b *butler.Butler) {
	tb.Helper()
	ctx := tb.Context()
	var ids []dataset.ID
	for r, err := range b.Query().Collections("*").Implied(false).Datasets(ctx) {
		if err != nil {
			tb.Fatalf("list datasets: %v", err)
		}
		ids = append(ids, r.ID)
	}
	uris, err := b.URIs(ctx, ids)
	if err != nil {
		tb.Fatalf("look up dataset files: %v", err)
	}
	owned := map[string]bool{}
	for _, id := range ids {
		u, ok := uris[id]
		if !ok {
			continue // unstored: registry only
		}
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "file" {
			tb.Errorf("dataset %s: URI %q is not a local file", id, u)
			continue
		}
		p := filepath.FromSlash(pu.Path)
		if _, err := os.Stat(p); err != nil {
			tb.Errorf("dataset %s: file %s: %v", id, p, err)
		}
		rel, err := filepath.Rel(b.Root, p)
		if err == nil {
			owned[filepath.ToSlash(rel)] = true
		}
	}
	for _, f := range DatastoreFiles(tb, b.Root) {
		if !owned[f] {
			tb.Errorf("file %s belongs to no dataset", f)
		}
	}
}

// NewOn creates an empty repository with opts whose registry uses dialect
// (pgtest.SQLite: a file in the repository; pgtest.Postgres: a fresh schema
// of the test server, with $LSST_DB_AUTH naming the superuser's credentials)
// and opens it for writing; the butler is closed when the test ends.
func NewOn(tb testing.TB, dialect string, opts butler.CreateOptions) (string, *butler.Butler) {
	tb.Helper()
	if dialect == pgtest.Postgres {
		pgtest.UseAdminAuth(tb)
		opts.SeedConfig, opts.Override = pgtest.WriteSeed(tb, pgtest.Schema(tb)), true
	}
	root := filepath.Join(tb.TempDir(), "repo")
	if _, err := butler.Create(tb.Context(), root, opts); err != nil {
		tb.Fatalf("create %s repository: %v", dialect, err)
	}
	return root, Open(tb, root)
}

// CreateArgs returns the `butler create` options (to go before REPO) that put
// a new repository's registry in dialect: none for pgtest.SQLite; for
// pgtest.Postgres a seed config naming a fresh schema of the test server, and
// $LSST_DB_AUTH set to the superuser's credentials.
func CreateArgs(tb testing.TB, dialect string) []string {
	tb.Helper()
	if dialect != pgtest.Postgres {
		return nil
	}
	pgtest.UseAdminAuth(tb)
	return []string{"--seed-config", pgtest.WriteSeed(tb, pgtest.Schema(tb)), "--override"}
}
