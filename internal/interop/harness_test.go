package interop_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/google/uuid"
)

// EnvPyref names the directory of a built Python reference butler
// (../shared/pyref/build.sh DIR); scripts/test.sh sets it.
const EnvPyref = "BUTLER_PYREF"

func TestMain(m *testing.M) {
	stop := pgtest.Start()
	m.Run()
	repotest.RemoveBinary()
	stop()
}

// pyrefDir returns the reference butler's directory, or skips the test (fails
// it when BUTLER_TEST_REQUIRE lists "pyref", as CI does).
func pyrefDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(EnvPyref)
	why := ""
	switch {
	case dir == "":
		why = EnvPyref + " is not set (bash ../shared/pyref/build.sh DIR; export " + EnvPyref + "=DIR)"
	default:
		if _, err := os.Stat(filepath.Join(dir, "venv", "bin", "python")); err != nil {
			why = fmt.Sprintf("%s=%s holds no built reference: %v", EnvPyref, dir, err)
		}
	}
	if why == "" {
		return dir
	}
	for _, r := range strings.Split(os.Getenv(pgtest.EnvRequire), ",") {
		if strings.TrimSpace(r) == "pyref" {
			t.Fatalf("the Python reference butler is required by %s: %s", pgtest.EnvRequire, why)
		}
	}
	t.Skip(why)
	return ""
}

// checks counts the checks of one direction and dialect, for the log.
type checks struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *checks) add(kind string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[kind] += n
}

func (c *checks) log(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	var parts []string
	for k, v := range c.n {
		total += v
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	t.Logf("interop checks %s: %d (%s)", t.Name(), total, strings.Join(parts, " "))
}

// env is one test's view of both butlers on one dialect.
type env struct {
	t       *testing.T
	pyref   string
	dialect string // "sqlite" or "postgres"
	dir     string // scratch directory
	extra   []string
	u4      string // universe 4 dimension config
	data    string // testdata directory
	c       *checks
}

func newEnv(t *testing.T, dialect string) *env {
	t.Helper()
	e := &env{t: t, pyref: pyrefDir(t), dialect: dialect, dir: t.TempDir(), c: &checks{}}
	e.u4 = filepath.Join(corpustest.Dir(t), "daf_butler", "configs", "old_dimensions", "daf_butler_universe4.yaml")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	e.data = filepath.Join(wd, "testdata")
	if dialect == pgtest.Postgres {
		// The superuser's credentials, for the Go API in this process and for Python.
		auth := pgtest.UseAdminAuth(t) // skips (fails under BUTLER_TEST_REQUIRE=postgres) without a server
		e.extra = append(e.extra, "LSST_DB_AUTH="+auth)
	}
	t.Cleanup(func() { e.c.log(t) })
	return e
}

// seed returns the create options that put a new repository's registry in a
// fresh PostgreSQL schema (none on SQLite), with extra seed config (YAML
// holding a registry section) when given.
func (e *env) seed(extra ...string) []string {
	body := strings.Join(extra, "")
	if e.dialect == "postgres" {
		host, port := pgtest.Host(e.t)
		reg := fmt.Sprintf("  db: \"postgresql://%s:%s/%s\"\n  namespace: %q\n", host, port, pgtest.Database, pgtest.Schema(e.t))
		if body == "" {
			body = "registry:\n"
		}
		body = strings.Replace(body, "registry:\n", "registry:\n"+reg, 1)
	}
	if body == "" {
		return nil
	}
	p := filepath.Join(e.t.TempDir(), "seed.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return []string{"--seed-config", p, "--override"}
}

// ours runs our binary and fails the test unless it exits 0.
func (e *env) ours(args ...string) string {
	e.t.Helper()
	res := repotest.Cmd{Args: args, Env: e.extra}.Run(e.t)
	if res.Code != 0 {
		e.t.Fatalf("butler %s: %s", strings.Join(args, " "), res)
	}
	return res.Stdout
}

// newOurs creates a repository of universe 4 with our binary.
func (e *env) newOurs(name string) string {
	e.t.Helper()
	root := filepath.Join(e.dir, name)
	e.ours(append(append([]string{"create", "--dimension-config", e.u4}, e.seed()...), root)...)
	return root
}

// newPython creates a repository of universe 4 with the Python butler.
func (e *env) newPython(name string, seed ...string) string {
	e.t.Helper()
	root, create := e.createOp(name, seed...)
	mustCLI(e.t, e.py(create)[0], "create")
	return root
}

// createOp is the Python operation that creates a repository of universe 4
// (to batch with others), and the repository's root.
func (e *env) createOp(name string, seed ...string) (string, op) {
	e.t.Helper()
	root := filepath.Join(e.dir, name)
	return root, op{"op": "cli", "args": append(append([]string{"create", "--dimension-config", e.u4}, e.seed(seed...)...), root)}
}

// open opens a repository through our Go API.
func (e *env) open(root string) *butler.Butler {
	e.t.Helper()
	return repotest.Open(e.t, root)
}

type op map[string]any

// py runs operations in one Python process (testdata/pyhelper.py) and
// returns their results; an operation that raised has an "error" entry.
func (e *env) py(ops ...op) []map[string]any {
	e.t.Helper()
	in, err := json.Marshal(ops)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.CommandContext(e.t.Context(), filepath.Join(e.pyref, "venv", "bin", "python"), filepath.Join(e.data, "pyhelper.py"))
	cmd.Env = append(os.Environ(), e.extra...)
	cmd.Env = append(cmd.Env, "VIRTUAL_ENV="+filepath.Join(e.pyref, "venv"), "PYTHONDONTWRITEBYTECODE=1",
		"DAF_BUTLER_PLUGINS="+filepath.Join(e.pyref, "src", "pipe_base", "python", "lsst", "pipe", "base", "cli", "resources.yaml"))
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("python helper: %v\nstderr:\n%s", err, stderr.String())
	}
	var out []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		e.t.Fatalf("python helper output: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	e.t.Logf("python: %d operation(s) in %s", len(ops), time.Since(start).Round(time.Millisecond))
	return out
}

// mustOK fails the test when a Python operation raised.
func mustOK(t *testing.T, r map[string]any, what string) map[string]any {
	t.Helper()
	if msg, ok := r["error"]; ok {
		t.Fatalf("python %s: %v", what, msg)
	}
	return r
}

// mustCLI fails the test unless a Python CLI command exited 0, and returns its stdout.
func mustCLI(t *testing.T, r map[string]any, what string) string {
	t.Helper()
	mustOK(t, r, what)
	if code, _ := r["code"].(float64); code != 0 {
		t.Fatalf("python butler %s: exit %v\nstdout:\n%v\nstderr:\n%v", what, r["code"], r["stdout"], r["stderr"])
	}
	return r["stdout"].(string)
}

// readOurs reads datasets by ID through our Go API: their bytes, keyed by ID.
func readOurs(t *testing.T, b *butler.Butler, ids []string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, s := range ids {
		id, err := uuid.Parse(s)
		if err != nil {
			t.Fatalf("dataset ID %q: %v", s, err)
		}
		ref, err := b.Dataset(t.Context(), id)
		if err != nil {
			t.Errorf("our Dataset(%s): %v", s, err)
			continue
		}
		data, err := b.GetRef(t.Context(), ref)
		if err != nil {
			t.Errorf("our GetRef(%s): %v", ref, err)
			continue
		}
		out[s] = data
	}
	return out
}

// pyBytes decodes the bytes of op_read's results; a dataset Python could not
// read fails the test.
func pyBytes(t *testing.T, r map[string]any) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for id, v := range r {
		m := v.(map[string]any)
		if msg, ok := m["error"]; ok {
			t.Errorf("python could not read dataset %s: %v", id, msg)
			continue
		}
		data, err := base64.StdEncoding.DecodeString(m["b64"].(string))
		if err != nil {
			t.Fatal(err)
		}
		out[id] = data
	}
	return out
}

// sameBytes checks that both sides read every dataset with the same bytes.
func (e *env) sameBytes(kind string, ours, py map[string][]byte, ids []string) {
	e.t.Helper()
	for _, id := range ids {
		o, ok1 := ours[id]
		p, ok2 := py[id]
		switch {
		case !ok1 || !ok2:
			e.t.Errorf("%s: dataset %s read by us: %v, by Python: %v", kind, id, ok1, ok2)
		case !bytes.Equal(o, p):
			e.t.Errorf("%s: dataset %s: we read %q, Python %q", kind, id, o, p)
		}
	}
	e.c.add(kind, len(ids))
}

// writeFile writes a file under the scratch directory and returns its path.
func (e *env) writeFile(rel, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
