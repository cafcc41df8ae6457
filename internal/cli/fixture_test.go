package cli_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

const inst = "Dummy"

// fixture is a small repository made through the Go API, so that each command's
// test starts from the same state whatever the state of the others:
//
//	run/a  RUN      dict detectors 1, 2; task_metadata detector 1
//	run/b  RUN      dict detector 1; meta detector 3
//	tag    TAGGED   run/a's dict detector 1
//	calib  CALIBRATION (empty)
//	chain  CHAINED  [run/b, tag]
//	top    CHAINED  [chain, run/a]
type fixture struct {
	root    string
	b       *butler.Butler
	content map[string]string // "run/detector/type" → bytes put
	refs    map[string]dataset.Ref
}

func det(d int) dimensions.DataID { return dimensions.DataID{"instrument": inst, "detector": d} }

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := t.Context()
	root, b := repotest.New(t)
	repotest.AddInstrument(t, b, inst, 10)
	f := &fixture{root: root, b: b, content: map[string]string{}, refs: map[string]dataset.Ref{}}
	for _, dt := range []struct{ name, sc string }{{"dict", "StructuredDataDict"}, {"meta", "TaskMetadata"}, {"task_metadata", "TaskMetadata"}} {
		if _, err := b.RegisterDatasetType(ctx, dt.name, dt.sc, []string{"instrument", "detector"}, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []string{"run/a", "run/b"} {
		if _, err := b.RegisterRun(ctx, r, ""); err != nil {
			t.Fatal(err)
		}
	}
	put := func(run, typ string, d int) {
		key := run + "/" + typ + "/" + string(rune('0'+d))
		data := "key: " + key + "\n"
		ref, err := b.Put(ctx, []byte(data), typ, det(d), run)
		if err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		f.content[key], f.refs[key] = data, ref
	}
	put("run/a", "dict", 1)
	put("run/a", "dict", 2)
	put("run/a", "task_metadata", 1)
	put("run/b", "dict", 1)
	put("run/b", "meta", 3)
	if err := b.Associate(ctx, "tag", []dataset.Ref{f.refs["run/a/dict/1"]}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RegisterCollection(ctx, "calib", dataset.Calibration, ""); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []struct {
		parent   string
		children []string
	}{{"chain", []string{"run/b", "tag"}}, {"top", []string{"chain", "run/a"}}} {
		if _, err := b.ChainCollections(ctx, ch.parent, ch.children, butler.ChainOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// butler runs the binary and fails the test unless it exits 0.
func run(t *testing.T, args ...string) repotest.Result {
	t.Helper()
	return repotest.MustRun(t, args...)
}

// fileOf returns the local path of a fixture dataset's file.
func (f *fixture) fileOf(t *testing.T, key string) string {
	t.Helper()
	u, err := f.b.URI(t.Context(), f.refs[key])
	if err != nil {
		t.Fatalf("URI of %s: %v", key, err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.FromSlash(pu.Path)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// jsonRows decodes a --format json list of objects.
func jsonRows(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("decode JSON output: %v\n%s", err, out)
	}
	return rows
}

// chainOf reads a chain's children through the CLI (query-collections TABLE).
func chainOf(t *testing.T, root, parent string) []string {
	t.Helper()
	rows := jsonRows(t, run(t, "query-collections", root, parent, "--chains", "TABLE", "--format", "json").Stdout)
	if len(rows) != 1 {
		t.Fatalf("query-collections %s: %d rows", parent, len(rows))
	}
	var kids []string
	for _, k := range rows[0]["children"].([]any) {
		kids = append(kids, k.(string))
	}
	return kids
}

// collectionNames lists the collections of the repository through the CLI.
func collectionNames(t *testing.T, root string) []string {
	t.Helper()
	var names []string
	for _, r := range jsonRows(t, run(t, "query-collections", root, "--chains", "NO-CHILDREN", "--format", "json").Stdout) {
		names = append(names, r["name"].(string))
	}
	sort.Strings(names)
	return names
}

// datasetRows lists datasets as "type run detector" through query-datasets --format json.
func datasetRows(t *testing.T, root string, args ...string) []string {
	t.Helper()
	out := run(t, append([]string{"query-datasets", root, "--format", "json"}, args...)...).Stdout
	var rows []string
	for _, r := range jsonRows(t, out) {
		did, _ := r["data_id"].(map[string]any)
		rows = append(rows, strings.Join([]string{r["type"].(string), r["run"].(string), jsonScalar(did["detector"])}, " "))
	}
	return rows
}

func jsonScalar(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

// oneLine checks that a failing command printed exactly one line to stderr and that
// it names every one of want.
func oneLine(t *testing.T, res repotest.Result, want ...string) {
	t.Helper()
	msg := strings.TrimRight(res.Stderr, "\n")
	if strings.Count(msg, "\n") != 0 {
		t.Errorf("stderr has more than one line:\n%s", res.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("stderr %q does not name %q", msg, w)
		}
	}
}
