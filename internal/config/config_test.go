package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gobutler/butler/errs"
)

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse([]byte(text), t.TempDir())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestConfig_Get_DelimitedKeys(t *testing.T) {
	c := mustParse(t, `
datastore:
  root: /data
  records: {table: file_datastore_records}
  datastores:
    - root: first
    - root: second
"a.b": direct
"__null__": placeholder
formatters:
  lsst.obs.Formatter: {recipe: default}
`)
	tests := []struct {
		key    string
		want   any
		wantOK bool
	}{
		{".datastore.root", "/data", true},
		{"/datastore/root", "/data", true},
		{"datastore.root", "/data", true},
		{":datastore:records:table", "file_datastore_records", true},
		{"datastore.records.table", "file_datastore_records", true},
		{".datastore.datastores.1.root", "second", true},
		{".datastore.datastores.2.root", nil, false},
		{"a.b", "direct", true}, // an exact top-level key wins over splitting
		{"__null__", "placeholder", true},
		{"/formatters/lsst.obs.Formatter/recipe", "default", true},
		{`.formatters.lsst\.obs\.Formatter.recipe`, "default", true},
		{"datastore.missing", nil, false},
		{".datastore.root.deeper", nil, false},
		{"", nil, false},
	}
	for _, tt := range tests {
		got, ok := c.Get(tt.key)
		if ok != tt.wantOK || (ok && got != tt.want) {
			t.Errorf("Get(%q) = %v, %v; want %v, %v", tt.key, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestConfig_SetDelete(t *testing.T) {
	c := New()
	if err := c.Set(".registry.db", "sqlite:///x"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("registry.managers", map[string]string{"b": "B", "a": "A"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("datastore.datastores", []any{map[string]any{"root": "r0"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(".datastore.datastores.0.root", "changed"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetString(".datastore.datastores.0.root"); got != "changed" {
		t.Errorf("list element root = %q, want changed", got)
	}
	if err := c.Set(".registry.db.sub", 1); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("Set through a string = %v, want ErrInvalid", err)
	}
	if err := c.Set("x", struct{}{}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("Set(struct) = %v, want ErrInvalid", err)
	}
	if got := c.Sub("registry.managers").Keys(); !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("managers keys = %v, want sorted [a b]", got)
	}
	if !c.Delete("registry.db") {
		t.Error("Delete(registry.db) = false, want true")
	}
	if c.Delete("registry.db") {
		t.Error("second Delete(registry.db) = true, want false")
	}
	if c.Has("registry.db") || !c.Has("registry") {
		t.Error("after Delete: registry.db present or registry gone")
	}
	// Sub shares storage: writes through it land in the parent.
	if err := c.Sub("registry").Set("namespace", "ns"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetString("registry.namespace"); got != "ns" {
		t.Errorf("write through Sub not visible: %q", got)
	}
}

func TestConfig_Merge(t *testing.T) {
	base := mustParse(t, `
a: 1
m:
  x: 1
  y: [1, 2]
  keep: yes
s: scalar
`)
	over := mustParse(t, `
m:
  y: [3]
  z: new
s: {now: mapping}
b: 2
`)
	base.Merge(over)
	want := "a: 1\nm:\n  x: 1\n  \"y\":\n    - 3\n  keep: true\n  z: new\ns:\n  now: mapping\nb: 2\n"
	got, err := base.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("merged YAML (-want +got):\n%s", d)
	}
	// over must not be aliased into base.
	if err := over.Set(".m.z", "mutated"); err != nil {
		t.Fatal(err)
	}
	if v, _ := base.GetString(".m.z"); v != "new" {
		t.Errorf("base changed through over: %q", v)
	}
}

func TestConfig_CloneIndependent(t *testing.T) {
	c := mustParse(t, "a: {b: [1, {c: d}]}\n")
	cl := c.Clone()
	if err := cl.Set(".a.b.1.c", "changed"); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.GetString(".a.b.1.c"); v != "d" {
		t.Errorf("original changed through clone: %q", v)
	}
}

func TestConfig_YAML_OrderAndTypes(t *testing.T) {
	in := "zeta: 1\nalpha:\n  level: 16.0\n  on: 'yes'\n  n: null\n  t: '{run:/}/x'\nmid: <butlerRoot>\n"
	c := mustParse(t, in)
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	re := mustParse(t, string(out))
	if !re.Equal(c) {
		t.Errorf("YAML round trip differs:\n%s", out)
	}
	if !strings.HasPrefix(string(out), "zeta: 1\nalpha:") {
		t.Errorf("key order not kept:\n%s", out)
	}
	if v, _ := re.Get(".alpha.level"); v != 16.0 {
		t.Errorf("level = %#v after round trip, want float 16.0", v)
	}
	if v, _ := re.Get(".alpha.on"); v != "yes" {
		t.Errorf("quoted 'yes' = %#v after round trip, want string", v)
	}
	js, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"mid": "<butlerRoot>"`) {
		t.Errorf("JSON escaped <butlerRoot>:\n%s", js)
	}
	if !strings.Contains(string(js), `"level": 16.0`) || strings.Index(string(js), "zeta") > strings.Index(string(js), "alpha") {
		t.Errorf("JSON lost order or float form:\n%s", js)
	}
}

func TestConfig_YAML_RedactsPasswords(t *testing.T) {
	c := mustParse(t, "registry:\n  db: postgresql://u:hunter2@db.example.com:5432/x\n  password: hunter2\n")
	for name, f := range map[string]func() ([]byte, error){"YAML": c.YAML, "JSON": c.JSON} {
		out, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "hunter2") {
			t.Errorf("%s output contains the password:\n%s", name, out)
		}
		if !strings.Contains(string(out), "postgresql://u:***@db.example.com:5432/x") {
			t.Errorf("%s output lacks the redacted URL:\n%s", name, out)
		}
	}
	if strings.Contains(c.String(), "hunter2") {
		t.Error("String() contains the password")
	}
	// The config itself keeps the value; only output is masked.
	if v, _ := c.GetString("registry.password"); v != "hunter2" {
		t.Errorf("registry.password = %q, want it kept in memory", v)
	}
}
