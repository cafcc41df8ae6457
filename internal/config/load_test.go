package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gobutler/butler/errs"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad_Includes(t *testing.T) {
	top := filepath.Join(testdataDir(t), "include", "top.yaml")
	// Run from elsewhere so relative includes must resolve against the file.
	t.Chdir(t.TempDir())
	c, err := Load(top)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := map[string]any{
		"name":         "top", // the including mapping wins over includeConfigs files
		"only_in_base": true,
		"datastore": map[string]any{
			"override":  "from-top",
			"from_base": 1,
			"formatters": map[string]any{
				"Exposure": "some.Formatter",
				"nested":   map[string]any{"leaf": "value"},
			},
			"templates": []any{map[string]any{"t": 1}, map[string]any{"t": 2}},
		},
	}
	if d := cmp.Diff(want, c.Plain()); d != "" {
		t.Errorf("loaded config (-want +got):\n%s", d)
	}
	if c.File() != top {
		t.Errorf("File() = %q, want %q", c.File(), top)
	}
}

func testdataDir(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestLoad_IncludeCycle(t *testing.T) {
	for _, name := range []string{"cycle_a.yaml", "cycle_c.yaml"} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(filepath.Join(testdataDir(t), "include", name))
			if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "include cycle") {
				t.Fatalf("Load(%s) error = %v, want an include cycle error", name, err)
			}
		})
	}
}

func TestLoad_Errors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "missing_inc.yaml"), "a: !include nothere.yaml\n")
	writeFile(t, filepath.Join(dir, "unknown_tag.yaml"), "a:\n  b: !env HOME\n")
	writeFile(t, filepath.Join(dir, "list.yaml"), "- a\n- b\n")
	writeFile(t, filepath.Join(dir, "bad.json"), "{\n  \"a\": 1,\n  \"b\": \n}\n")
	writeFile(t, filepath.Join(dir, "inc_missing.yaml"), "includeConfigs: [nope.yaml]\n")
	tests := []struct {
		file     string
		kind     error
		contains []string
	}{
		{filepath.Join(testdataDir(t), "include", "bad.yaml"), errs.ErrInvalid, []string{"bad.yaml", "line 4"}},
		{filepath.Join(dir, "missing_inc.yaml"), errs.ErrNotFound, []string{"missing_inc.yaml", "line 1", "nothere.yaml"}},
		{filepath.Join(dir, "unknown_tag.yaml"), errs.ErrInvalid, []string{"unknown_tag.yaml", "line 2", "!env"}},
		{filepath.Join(dir, "list.yaml"), errs.ErrInvalid, []string{"not a mapping"}},
		{filepath.Join(dir, "bad.json"), errs.ErrInvalid, []string{"bad.json", "line 4"}},
		{filepath.Join(dir, "inc_missing.yaml"), errs.ErrNotFound, []string{"nope.yaml"}},
		{filepath.Join(dir, "absent.yaml"), errs.ErrNotFound, []string{"absent.yaml"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			_, err := Load(tt.file)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("Load error = %v, want %v", err, tt.kind)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestLoad_JSONKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	writeFile(t, p, `{"zeta": {"b": 1, "a": [1.5, "x", null, true]}, "alpha": 2}`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Keys(); !cmp.Equal(got, []string{"zeta", "alpha"}) {
		t.Errorf("keys = %v", got)
	}
	if got := c.Sub("zeta").Keys(); !cmp.Equal(got, []string{"b", "a"}) {
		t.Errorf("zeta keys = %v", got)
	}
	if v, _ := c.Get(".zeta.a"); !cmp.Equal(v, []any{1.5, "x", nil, true}) {
		t.Errorf("zeta.a = %#v", v)
	}
}

func TestParse_MergeKeysAndAnchors(t *testing.T) {
	c := mustParse(t, `
base: &base {a: 1, b: 2}
derived:
  <<: *base
  b: 3
multi:
  <<: [{x: first}, {x: second, y: 2}]
alias: *base
`)
	want := map[string]any{
		"base":    map[string]any{"a": 1, "b": 2},
		"derived": map[string]any{"a": 1, "b": 3},
		"multi":   map[string]any{"x": "first", "y": 2},
		"alias":   map[string]any{"a": 1, "b": 2},
	}
	if d := cmp.Diff(want, c.Plain()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	// Aliased content is copied, not shared.
	if err := c.Set(".alias.a", 9); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get(".base.a"); v != 1 {
		t.Errorf("base.a = %v after changing alias.a", v)
	}
}

func TestParse_IncludeRelativeToDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "inc", "f.yaml"), "k: v\n")
	c, err := Parse([]byte("x: !include inc/f.yaml\nincludeConfigs: [inc/f.yaml]\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]any{"k": "v", "x": map[string]any{"k": "v"}}, c.Plain()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestLoad_IncludeConfigsEnvAndNested(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "shared", "storage.yaml"), "root: /shared\nchecksum: false\n")
	writeFile(t, filepath.Join(dir, "butler.yaml"),
		"datastore:\n  includeConfigs: $CFG_TEST_DIR/storage.yaml\n  checksum: true\n")
	t.Setenv("CFG_TEST_DIR", filepath.Join(dir, "shared"))
	c, err := Load(filepath.Join(dir, "butler.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"datastore": map[string]any{"root": "/shared", "checksum": true}}
	if d := cmp.Diff(want, c.Plain()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
