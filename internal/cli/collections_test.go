package cli_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/google/go-cmp/cmp"
)

// row is one collection row of query-collections --format json.
type row struct {
	Name, Type string
	Depth      int
	Related    []string // children (TABLE) or parents (INVERSE-TABLE)
	Types      []string // dataset types with -t
}

func collectionRows(t *testing.T, out string) []row {
	t.Helper()
	var rows []row
	strs := func(v any) []string {
		s := []string{}
		for _, x := range v.([]any) {
			s = append(s, x.(string))
		}
		return s
	}
	for _, m := range jsonRows(t, out) {
		r := row{Name: m["name"].(string), Type: m["type"].(string)}
		if d, ok := m["depth"].(float64); ok {
			r.Depth = int(d)
		}
		for _, k := range []string{"children", "parents"} {
			if v, ok := m[k]; ok {
				r.Related = strs(v)
			}
		}
		if v, ok := m["dataset_types"]; ok {
			r.Types = strs(v)
		}
		rows = append(rows, r)
	}
	return rows
}

func TestQueryCollections_Chains(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name string
		args []string
		want []row
	}{
		{"TREE", []string{"--chains", "TREE"}, []row{
			{Name: "calib", Type: "CALIBRATION"},
			{Name: "chain", Type: "CHAINED"}, {Name: "run/b", Type: "RUN", Depth: 1}, {Name: "tag", Type: "TAGGED", Depth: 1},
			{Name: "run/a", Type: "RUN"},
			{Name: "run/b", Type: "RUN"},
			{Name: "tag", Type: "TAGGED"},
			{Name: "top", Type: "CHAINED"}, {Name: "chain", Type: "CHAINED", Depth: 1}, {Name: "run/b", Type: "RUN", Depth: 2}, {Name: "tag", Type: "TAGGED", Depth: 2}, {Name: "run/a", Type: "RUN", Depth: 1},
		}},
		{"default is TREE", []string{"top"}, []row{
			{Name: "top", Type: "CHAINED"}, {Name: "chain", Type: "CHAINED", Depth: 1}, {Name: "run/b", Type: "RUN", Depth: 2}, {Name: "tag", Type: "TAGGED", Depth: 2}, {Name: "run/a", Type: "RUN", Depth: 1},
		}},
		{"INVERSE-TREE", []string{"--chains", "INVERSE-TREE", "tag", "run/*"}, []row{
			{Name: "run/a", Type: "RUN"}, {Name: "top", Type: "CHAINED", Depth: 1},
			{Name: "run/b", Type: "RUN"}, {Name: "chain", Type: "CHAINED", Depth: 1}, {Name: "top", Type: "CHAINED", Depth: 2},
			{Name: "tag", Type: "TAGGED"}, {Name: "chain", Type: "CHAINED", Depth: 1}, {Name: "top", Type: "CHAINED", Depth: 2},
		}},
		{"TABLE", []string{"--chains", "TABLE"}, []row{
			{Name: "calib", Type: "CALIBRATION", Related: []string{}},
			{Name: "chain", Type: "CHAINED", Related: []string{"run/b", "tag"}},
			{Name: "run/a", Type: "RUN", Related: []string{}},
			{Name: "run/b", Type: "RUN", Related: []string{}},
			{Name: "tag", Type: "TAGGED", Related: []string{}},
			{Name: "top", Type: "CHAINED", Related: []string{"chain", "run/a"}},
		}},
		{"INVERSE-TABLE", []string{"--chains", "INVERSE-TABLE"}, []row{
			{Name: "calib", Type: "CALIBRATION", Related: []string{}},
			{Name: "chain", Type: "CHAINED", Related: []string{"top"}},
			{Name: "run/a", Type: "RUN", Related: []string{"top"}},
			{Name: "run/b", Type: "RUN", Related: []string{"chain"}},
			{Name: "tag", Type: "TAGGED", Related: []string{"chain"}},
			{Name: "top", Type: "CHAINED", Related: []string{}},
		}},
		{"FLATTEN one chain", []string{"--chains", "FLATTEN", "top"}, []row{
			{Name: "run/b", Type: "RUN"}, {Name: "tag", Type: "TAGGED"}, {Name: "run/a", Type: "RUN"},
		}},
		// Listing everything, FLATTEN and NO-CHILDREN keep the registry's
		// order (creation order) as upstream; FLATTEN drops the chains.
		{"FLATTEN all", []string{"--chains", "FLATTEN"}, []row{
			{Name: "run/a", Type: "RUN"}, {Name: "run/b", Type: "RUN"}, {Name: "tag", Type: "TAGGED"}, {Name: "calib", Type: "CALIBRATION"},
		}},
		{"NO-CHILDREN", []string{"--chains", "NO-CHILDREN"}, []row{
			{Name: "run/a", Type: "RUN"}, {Name: "run/b", Type: "RUN"}, {Name: "tag", Type: "TAGGED"},
			{Name: "calib", Type: "CALIBRATION"}, {Name: "chain", Type: "CHAINED"}, {Name: "top", Type: "CHAINED"},
		}},
		{"collection-type RUN", []string{"--chains", "NO-CHILDREN", "--collection-type", "RUN"}, []row{
			{Name: "run/a", Type: "RUN"}, {Name: "run/b", Type: "RUN"},
		}},
		{"collection-type repeated and lower case", []string{"--chains", "NO-CHILDREN", "--collection-type", "tagged", "--collection-type", "CALIBRATION"}, []row{
			{Name: "tag", Type: "TAGGED"}, {Name: "calib", Type: "CALIBRATION"},
		}},
		{"collection-type CHAINED TREE", []string{"--collection-type", "CHAINED", "top"}, []row{
			{Name: "top", Type: "CHAINED"}, {Name: "chain", Type: "CHAINED", Depth: 1}, {Name: "run/b", Type: "RUN", Depth: 2}, {Name: "tag", Type: "TAGGED", Depth: 2}, {Name: "run/a", Type: "RUN", Depth: 1},
		}},
		{"-t hides *_metadata", []string{"--chains", "NO-CHILDREN", "-t"}, []row{
			{Name: "run/a", Type: "RUN", Types: []string{"dict"}}, {Name: "run/b", Type: "RUN", Types: []string{"dict", "meta"}},
			{Name: "tag", Type: "TAGGED", Types: []string{"dict"}},
			{Name: "calib", Type: "CALIBRATION", Types: []string{}}, {Name: "chain", Type: "CHAINED", Types: []string{"dict", "meta"}},
			{Name: "top", Type: "CHAINED", Types: []string{"dict", "meta"}},
		}},
		{"-t with no exclusions", []string{"--chains", "NO-CHILDREN", "-t", "--exclude-dataset-types", "", "run/a"}, []row{
			{Name: "run/a", Type: "RUN", Types: []string{"dict", "task_metadata"}},
		}},
		{"glob matching nothing", []string{"nosuch*"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"query-collections", f.root, "--format", "json"}, tt.args...)
			got := collectionRows(t, run(t, args...).Stdout)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("butler %s (-want +got):\n%s", strings.Join(tt.args, " "), d)
			}
		})
	}
}

// TestQueryCollections_Text checks the plain table: TREE indents two spaces per
// level, and TABLE puts every child in the Children column.
func TestQueryCollections_Text(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	t.Run("TREE", func(t *testing.T) {
		out := run(t, "query-collections", f.root, "top").Stdout
		want := []string{"Name", "-", "top", "  chain", "    run/b", "    tag", "  run/a"}
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("query-collections top printed %d lines, want %d:\n%s", len(lines), len(want), out)
		}
		for i, w := range want {
			if w == "-" {
				if strings.Trim(lines[i], "- ") != "" {
					t.Errorf("line %d = %q, want dashes", i, lines[i])
				}
				continue
			}
			if i == 0 {
				// astropy centres the header over the column.
				if !strings.HasPrefix(strings.TrimSpace(lines[i]), w+" ") {
					t.Errorf("line %d = %q, want %q centred", i, lines[i], w)
				}
				continue
			}
			if !strings.HasPrefix(lines[i], w+" ") {
				t.Errorf("line %d = %q, want it to start with %q", i, lines[i], w+" ")
			}
		}
	})
	for _, tc := range []struct{ mode, col, coll string }{{"TABLE", "Children", "chain"}, {"INVERSE-TABLE", "Parents", "tag"}} {
		t.Run(tc.mode, func(t *testing.T) {
			// Give the collection two children or parents, so two values share a cell.
			if tc.mode == "INVERSE-TABLE" {
				run(t, "collection-chain", f.root, "other", "tag")
			}
			out := run(t, "query-collections", f.root, "--chains", tc.mode, tc.coll).Stdout
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			// The header is centred; the dashes show where the column starts.
			k := slices.Index(strings.Fields(lines[0]), tc.col)
			if k < 0 {
				t.Fatalf("no %s column:\n%s", tc.col, out)
			}
			col := 0
			for range k {
				col += strings.Index(lines[1][col:], " ") + 1
			}
			var values []string
			for _, l := range lines[2:] {
				if len(l) <= col || strings.TrimSpace(l[:col]) != "" && !strings.HasPrefix(l, tc.coll+" ") {
					t.Errorf("line %q is not a %s row nor a continuation of its %s column:\n%s", l, tc.coll, tc.col, out)
					continue
				}
				values = append(values, strings.TrimSpace(l[col:]))
			}
			want := map[string][]string{"TABLE": {"run/b", "tag"}, "INVERSE-TABLE": {"chain", "other"}}[tc.mode]
			if !slices.Equal(values, want) {
				t.Errorf("%s column = %v, want %v:\n%s", tc.col, values, want, out)
			}
		})
	}
}

func TestCollectionChain_Modes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, r := range []string{"r1", "r2", "r3"} {
		if _, err := f.b.RegisterRun(t.Context(), r, ""); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		start []string // children before; nil: the chain does not exist yet
		args  []string // after REPO PARENT
		want  []string
	}{
		{"create", nil, []string{"r1", "r2"}, []string{"r1", "r2"}},
		{"create comma list", nil, []string{"r1,r2", "r3"}, []string{"r1", "r2", "r3"}},
		{"redefine", []string{"r1"}, []string{"--mode", "redefine", "r2", "r3"}, []string{"r2", "r3"}},
		{"extend", []string{"r1"}, []string{"--mode", "extend", "r2", "r3"}, []string{"r1", "r2", "r3"}},
		{"prepend", []string{"r1"}, []string{"--mode", "prepend", "r2", "r3"}, []string{"r2", "r3", "r1"}},
		{"remove", []string{"r1", "r2", "r3"}, []string{"--mode", "remove", "r2"}, []string{"r1", "r3"}},
		{"pop default", []string{"r1", "r2", "r3"}, []string{"--mode", "pop"}, []string{"r2", "r3"}},
		{"pop index", []string{"r1", "r2", "r3"}, []string{"--mode", "pop", "1"}, []string{"r1", "r3"}},
		{"pop negative", []string{"r1", "r2", "r3"}, []string{"--mode", "pop", "--", "-1"}, []string{"r1", "r2"}},
		{"pop two", []string{"r1", "r2", "r3"}, []string{"--mode", "pop", "0", "2"}, []string{"r2"}},
		{"flatten", []string{"r1"}, []string{"--flatten", "r3", "top"}, []string{"r3", "run/b", "tag", "run/a"}},
		{"no-flatten", []string{"r1"}, []string{"--no-flatten", "r3", "chain"}, []string{"r3", "chain"}},
		{"extend flatten", []string{"r1"}, []string{"--mode", "extend", "--flatten", "chain"}, []string{"r1", "run/b", "tag"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := fmt.Sprintf("chain%d", i)
			if tt.start != nil {
				run(t, append([]string{"collection-chain", f.root, parent}, tt.start...)...)
			}
			res := run(t, append([]string{"collection-chain", f.root, parent}, tt.args...)...)
			if want := "[" + strings.Join(tt.want, ", ") + "]\n"; res.Stdout != want {
				t.Errorf("collection-chain printed %q, want %q", res.Stdout, want)
			}
			if got := chainOf(t, f.root, parent); !slices.Equal(got, tt.want) {
				t.Errorf("chain %s = %v, want %v", parent, got, tt.want)
			}
		})
	}
	t.Run("doc", func(t *testing.T) {
		t.Parallel()
		run(t, "collection-chain", f.root, "documented", "r1", "--doc", "a chain with a doc")
		c, err := repotest.Open(t, f.root).Collection(t.Context(), "documented")
		if err != nil || c.Doc != "a chain with a doc" {
			t.Errorf("documented = %+v, %v; want its doc set", c, err)
		}
	})
}

func TestCollectionChain_Errors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  []string
	}{
		{"cycle", []string{"chain", "top"}, 1, []string{"cycle"}},
		{"self", []string{"chain", "chain"}, 1, []string{"cycle"}},
		{"missing child", []string{"chain", "nosuch"}, 1, []string{"nosuch"}},
		{"parent is a RUN", []string{"run/a", "run/b"}, 1, []string{"run/a"}},
		{"remove absent child", []string{"--mode", "remove", "chain", "run/a"}, 1, []string{"run/a"}},
		{"pop out of range", []string{"--mode", "pop", "chain", "5"}, 1, []string{"5"}},
		{"pop not a number", []string{"--mode", "pop", "chain", "x"}, 2, []string{"x"}},
		{"bad mode", []string{"--mode", "sideways", "chain", "run/a"}, 2, []string{"sideways"}},
		{"65-char parent", []string{strings.Repeat("p", 65), "run/a"}, 1, []string{strings.Repeat("p", 65)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := repotest.Run(t, append([]string{"collection-chain", f.root}, tt.args...)...)
			if res.Code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s", res.Code, tt.wantCode, res)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("stderr %q does not name %q", res.Stderr, w)
				}
			}
			if got := chainOf(t, f.root, "chain"); !slices.Equal(got, []string{"run/b", "tag"}) {
				t.Errorf("chain = %v after a refused edit, want [run/b tag]", got)
			}
		})
	}
	t.Run("64-char parent", func(t *testing.T) {
		name := strings.Repeat("p", 64)
		run(t, "collection-chain", f.root, name, "run/a")
		if got := chainOf(t, f.root, name); !slices.Equal(got, []string{"run/a"}) {
			t.Errorf("64-char chain = %v", got)
		}
	})
}

func TestRemoveCollections(t *testing.T) {
	t.Parallel()
	t.Run("refuses RUNs", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res := repotest.Run(t, "remove-collections", f.root, "run/a", "--no-confirm")
		if res.Code == 0 && !strings.Contains(res.Stdout, "No collections") {
			t.Errorf("remove-collections of a RUN: %s", res)
		}
		if !slices.Contains(collectionNames(t, f.root), "run/a") {
			t.Errorf("run/a was removed by remove-collections")
		}
	})
	t.Run("chain child needs --remove-from-parents", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res := repotest.Run(t, "remove-collections", f.root, "tag", "--no-confirm")
		if res.Code != 1 {
			t.Fatalf("remove-collections of a chain child: %s, want exit 1", res)
		}
		oneLine(t, res, "tag", "chain")
		if !slices.Contains(collectionNames(t, f.root), "tag") {
			t.Fatalf("tag removed although refused")
		}
		run(t, "remove-collections", f.root, "tag", "--no-confirm", "--remove-from-parents")
		if slices.Contains(collectionNames(t, f.root), "tag") {
			t.Errorf("tag still there after remove-collections --remove-from-parents")
		}
		if got := chainOf(t, f.root, "chain"); !slices.Equal(got, []string{"run/b"}) {
			t.Errorf("chain = %v, want [run/b]", got)
		}
		// The datasets of a removed TAGGED collection stay in their run.
		if got := datasetRows(t, f.root, "dict", "--collections", "run/a"); len(got) != 2 {
			t.Errorf("run/a holds %v after its tag was removed", got)
		}
	})
	t.Run("chain and glob", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		run(t, "remove-collections", f.root, "t*", "--no-confirm", "--remove-from-parents")
		if got, want := collectionNames(t, f.root), []string{"calib", "chain", "run/a", "run/b"}; !slices.Equal(got, want) {
			t.Errorf("collections after removing t* = %v, want %v", got, want)
		}
	})
	t.Run("confirm", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res := repotest.Cmd{Args: []string{"remove-collections", f.root, "calib"}, Stdin: "n\n"}.Run(t)
		if res.Code != 0 || !slices.Contains(collectionNames(t, f.root), "calib") {
			t.Errorf("answering no: %s; calib must stay", res)
		}
		res = repotest.Cmd{Args: []string{"remove-collections", f.root, "calib"}, Stdin: "y\n"}.Run(t)
		if res.Code != 0 || slices.Contains(collectionNames(t, f.root), "calib") {
			t.Errorf("answering yes: %s; calib must go", res)
		}
	})
}

func TestRemoveRuns(t *testing.T) {
	t.Parallel()
	t.Run("in chain needs --force", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		file := f.fileOf(t, "run/a/dict/1")
		var runAFiles []string
		for _, k := range []string{"run/a/dict/1", "run/a/dict/2", "run/a/task_metadata/1"} {
			runAFiles = append(runAFiles, f.fileOf(t, k))
		}
		runBFile := f.fileOf(t, "run/b/dict/1")
		res := repotest.Run(t, "remove-runs", f.root, "run/a", "--no-confirm")
		if res.Code == 0 {
			t.Fatalf("remove-runs of a chained run with --no-confirm and no --force succeeded:\n%s", res)
		}
		if !strings.Contains(res.Stderr, "--force") {
			t.Errorf("stderr %q does not mention --force", res.Stderr)
		}
		if !slices.Contains(collectionNames(t, f.root), "run/a") || !exists(file) {
			t.Fatalf("refused remove-runs removed something")
		}
		res = run(t, "remove-runs", f.root, "run/a", "--no-confirm", "--force")
		if !strings.Contains(res.Stdout, "top") {
			t.Errorf("remove-runs did not list run/a's parent chain:\n%s", res.Stdout)
		}
		if slices.Contains(collectionNames(t, f.root), "run/a") {
			t.Errorf("run/a still there")
		}
		if got := chainOf(t, f.root, "top"); !slices.Equal(got, []string{"chain"}) {
			t.Errorf("top = %v, want [chain]", got)
		}
		for _, p := range runAFiles {
			if exists(p) {
				t.Errorf("file %s of removed run still on disk", p)
			}
		}
		if !exists(runBFile) {
			t.Errorf("run/b's file removed with run/a")
		}
		if got := datasetRows(t, f.root, "--collections", "*"); !slices.Equal(got, []string{"dict run/b 1", "meta run/b 3"}) {
			t.Errorf("datasets left = %v", got)
		}
	})
	t.Run("glob and confirm", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res := repotest.Cmd{Args: []string{"remove-runs", f.root, "run/*"}, Stdin: "no\n"}.Run(t)
		if res.Code != 0 || len(datasetRows(t, f.root)) == 0 {
			t.Fatalf("answering no removed runs: %s", res)
		}
		res = repotest.Cmd{Args: []string{"remove-runs", f.root, "run/*"}, Stdin: "y\n"}.Run(t)
		if res.Code != 0 {
			t.Fatalf("remove-runs run/*: %s", res)
		}
		if got := repotest.DatastoreFiles(t, f.root); len(got) != 0 {
			t.Errorf("files left after removing every run: %v", got)
		}
		if got := collectionNames(t, f.root); !slices.Equal(got, []string{"calib", "chain", "tag", "top"}) {
			t.Errorf("collections = %v", got)
		}
	})
	t.Run("not a run", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res := repotest.Run(t, "remove-runs", f.root, "tag", "--no-confirm", "--force")
		if res.Code == 0 && !strings.Contains(res.Stdout, "Did not find") {
			t.Errorf("remove-runs of a TAGGED collection: %s", res)
		}
		if !slices.Contains(collectionNames(t, f.root), "tag") {
			t.Errorf("remove-runs removed a TAGGED collection")
		}
	})
}

func TestAssociate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := run(t, "associate", f.root, "newtag", "--collections", "run/a", "-d", "dict")
	if !strings.Contains(res.Stdout, "2") {
		t.Errorf("associate output %q does not say 2 datasets", res.Stdout)
	}
	if got := datasetRows(t, f.root, "--collections", "newtag"); !slices.Equal(got, []string{"dict run/a 1", "dict run/a 2"}) {
		t.Errorf("newtag holds %v", got)
	}
	rows := collectionRows(t, run(t, "query-collections", f.root, "newtag", "--format", "json").Stdout)
	if len(rows) != 1 || rows[0].Type != "TAGGED" {
		t.Errorf("newtag = %+v, want one TAGGED collection", rows)
	}
	// Same data ID, different dataset: a conflict, and nothing changes.
	res = repotest.Run(t, "associate", f.root, "newtag", "--collections", "run/b", "-d", "dict")
	if res.Code != 1 {
		t.Fatalf("associating a second dataset with the same data ID: %s, want exit 1", res)
	}
	oneLine(t, res, "newtag")
	if got := datasetRows(t, f.root, "--collections", "newtag"); !slices.Equal(got, []string{"dict run/a 1", "dict run/a 2"}) {
		t.Errorf("after a refused associate newtag holds %v", got)
	}
	// Re-associating the same datasets is harmless.
	run(t, "associate", f.root, "newtag", "--collections", "run/a", "-d", "dict")
	res = repotest.Run(t, "associate", f.root, "run/b", "--collections", "run/a", "-d", "dict")
	if res.Code != 1 {
		t.Errorf("associate into a RUN: %s, want exit 1", res)
	}
}
