package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestOptionsFile: -@/--options-file gives option values by command name, as
// upstream's yaml_presets: the file replaces defaults, the command line wins,
// long or short names work, and a file without the command's section or with
// an unknown option is a usage error.
func TestOptionsFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	presets := write("presets.yaml", `query-datasets:
  collections: [run/a]
  where: "detector = 2"
  format: json
query-collections:
  chains: NO-CHILDREN
  t: true
retrieve-artifacts:
  preserve-path: false
`)
	tests := []struct {
		name     string
		args     []string
		want     []string // dataset rows "type run detector" from the JSON output
		wantCode int
		wantErr  string
	}{
		{"file gives the options", []string{"query-datasets", f.root, "dict", "-@", presets}, []string{"dict run/a 2"}, 0, ""},
		{"long name", []string{"query-datasets", f.root, "dict", "--options-file", presets}, []string{"dict run/a 2"}, 0, ""},
		{"command line wins", []string{"query-datasets", f.root, "dict", "-@", presets, "--where", "detector = 1", "--collections", "run/b"}, []string{"dict run/b 1"}, 0, ""},
		{"no section for the command", []string{"query-dataset-types", f.root, "-@", presets}, nil, 2, `no section "query-dataset-types"`},
		{"unknown option", []string{"query-datasets", f.root, "-@", write("bad.yaml", "query-datasets:\n  colections: [a]\n")}, nil, 2, `"colections" is not a valid option for query-datasets`},
		{"missing file", []string{"query-datasets", f.root, "-@", filepath.Join(dir, "nosuch.yaml")}, nil, 2, "nosuch.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := mainOut(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("butler %s: exit %d, stderr %q; want exit %d naming %q", strings.Join(tt.args, " "), code, errs, tt.wantCode, tt.wantErr)
			}
			if tt.wantCode != 0 {
				return
			}
			var got []string
			for _, r := range jsonRows(t, out) {
				did := r["data_id"].(map[string]any)
				got = append(got, strings.Join([]string{r["type"].(string), r["run"].(string), jsonScalar(did["detector"])}, " "))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("rows = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("short flag name and a boolean", func(t *testing.T) {
		out := mustMain(t, "query-collections", f.root, "--format", "json", "-@", presets)
		rows := collectionRows(t, out)
		if len(rows) != 6 || rows[0].Types == nil || rows[0].Depth != 0 {
			t.Errorf("NO-CHILDREN with dataset types from the file: %+v", rows)
		}
	})
	t.Run("false sets the --no- flag", func(t *testing.T) {
		dest := t.TempDir()
		mustMain(t, "retrieve-artifacts", f.root, dest, "-d", "meta", "--collections", "run/b", "-@", presets)
		entries, _ := os.ReadDir(dest)
		if len(entries) != 1 || entries[0].IsDir() {
			t.Errorf("retrieve-artifacts with preserve-path: false wrote %v, want one file at the top", entries)
		}
	})
}

// TestGlobalLogOptions: --log-label adds KEY=VALUE (key upper-cased) to every
// record; --no-log-tty keeps logs off the terminal but not out of --log-file.
func TestGlobalLogOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "log.json")
	_, errs, code := mainOut(t, "--log-level", "INFO", "--log-label", "run=abc,Task=x", "--log-file", logFile, "create", filepath.Join(dir, "r1"))
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "created repository") || !strings.Contains(errs, "MDC.RUN=abc") {
		t.Errorf("terminal log %q lacks the record or its label", errs)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Msg string
		MDC map[string]string
	}
	if err := json.Unmarshal([]byte(strings.SplitN(string(data), "\n", 2)[0]), &rec); err != nil {
		t.Fatalf("log file %q: %v", data, err)
	}
	if rec.Msg != "created repository" || rec.MDC["RUN"] != "abc" || rec.MDC["TASK"] != "x" {
		t.Errorf("log record = %+v, want the labels RUN=abc TASK=x", rec)
	}

	textLog := filepath.Join(dir, "log.txt")
	_, errs, code = mainOut(t, "--log-level", "INFO", "--no-log-tty", "--log-file", textLog, "create", filepath.Join(dir, "r2"))
	if code != 0 || strings.Contains(errs, "created repository") {
		t.Errorf("--no-log-tty: exit %d, stderr %q, want no log record on the terminal", code, errs)
	}
	if data, _ := os.ReadFile(textLog); !strings.Contains(string(data), "created repository") {
		t.Errorf("--no-log-tty log file = %q", data)
	}
	if _, errs, code := mainOut(t, "--log-label", "nokey", "create", filepath.Join(dir, "r3")); code != 2 || !strings.Contains(errs, "nokey") {
		t.Errorf("--log-label without =: exit %d, %q", code, errs)
	}
}

// TestConfigDump_SearchPath: -p/--searchpath directories override the
// packaged defaults, as upstream's config-dump --searchpath.
func TestConfigDump_SearchPath(t *testing.T) {
	t.Parallel()
	root, _ := repotest.New(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "registry.yaml"), []byte("registry:\n  marker: from-searchpath\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustMain(t, "config-dump", root); strings.Contains(out, "from-searchpath") {
		t.Fatalf("without --searchpath: %q", out)
	}
	for _, flag := range []string{"-p", "--searchpath"} {
		if out := mustMain(t, "config-dump", root, flag, dir, "-s", ".registry.marker"); !strings.Contains(out, "from-searchpath") {
			t.Errorf("config-dump %s %s = %q, want the search path's value", flag, dir, out)
		}
	}
}

// TestRetrieveArtifacts_OrderByLimit: retrieve-artifacts and
// transfer-datasets take upstream's --order-by, --limit (default -20000: cap
// and warn) and --no-find-first; -t defaults to auto.
func TestRetrieveArtifacts_OrderByLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dest := t.TempDir()
	out, errs, code := mainOut(t, "retrieve-artifacts", f.root, dest, "-d", "dict", "--collections", "run/a", "--order-by", "-detector", "--limit", "-1", "--no-find-first", "-v", "--no-preserve-path")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "Requested limit of 1 hit") {
		t.Errorf("stderr %q lacks the limit warning", errs)
	}
	if !strings.HasPrefix(out, "Transferred the following to "+dest+":\nfile://") || !strings.Contains(out, "\n\nNumber of artifacts retrieved into destination "+dest+": 1\n") {
		t.Errorf("retrieve-artifacts -v printed %q, want upstream's listing", out)
	}
	if out := mustMain(t, "retrieve-artifacts", f.root, t.TempDir(), "-d", "dict", "--collections", "calib"); out != "No datasets matched query.\n" {
		t.Errorf("retrieve-artifacts of nothing printed %q", out)
	}
	entries, _ := os.ReadDir(dest)
	if len(entries) != 1 {
		t.Fatalf("retrieved %v, want one file:\n%s", entries, out)
	}
	got, _ := os.ReadFile(filepath.Join(dest, entries[0].Name()))
	if string(got) != f.content["run/a/dict/2"] {
		t.Errorf("retrieved %q, want detector 2's file (the first by -detector)", got)
	}

	to, _ := repotest.New(t)
	out, errs, code = mainOut(t, "transfer-datasets", f.root, to, "-d", "dict", "--collections", "run/a", "--order-by", "detector", "--limit", "1", "--register-dataset-types")
	if code != 0 || !strings.Contains(out, "Number of datasets transferred: 1") {
		t.Fatalf("transfer-datasets --limit 1: exit %d\n%s%s", code, out, errs)
	}
	if rows := datasetRows(t, to, "dict", "--collections", "run/a"); !slices.Equal(rows, []string{"dict run/a 1"}) {
		t.Errorf("transferred %v, want detector 1 (the first by detector)", rows)
	}
	for _, cmd := range []string{"retrieve-artifacts", "export-calibs"} {
		if out, _, _ := mainOut(t, cmd, "--help"); !strings.Contains(out, `(default "auto")`) {
			t.Errorf("%s --help does not show -t defaulting to auto:\n%s", cmd, out)
		}
	}
}
