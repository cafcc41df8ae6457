package cli_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestVerify_ExitCodes runs the real binary on both dialects: 0 on a clean
// repository, 1 when a file is gone (and the dry-run repair changes
// nothing), 0 after `--repair --yes`, 3 when an artifact cannot be checked;
// JSON lines end with the summary.
func TestVerify_ExitCodes(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		root := filepath.Join(t.TempDir(), "repo")
		repotest.MustRun(t, append(append([]string{"create"}, repotest.CreateArgs(t, dialect)...), root)...)
		repotest.MustRun(t, "register-dataset-type", root, "pkg", "StructuredDataDict")
		for _, run := range []string{"r1", "r2", "r3"} {
			f := filepath.Join(t.TempDir(), "in.yaml")
			if err := os.WriteFile(f, []byte("run: "+run+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			repotest.MustRun(t, "put", root, "pkg", run, f)
		}
		files := repotest.DatastoreFiles(t, root)
		if len(files) != 3 {
			t.Fatalf("datastore files %v", files)
		}
		res := repotest.MustRun(t, "verify", root, "--checksums", "--orphans")
		if !strings.Contains(res.Stdout, "Checked 3 record(s)") || !strings.Contains(res.Stdout, "no problems.") {
			t.Errorf("clean verify printed:\n%s", res.Stdout)
		}

		if err := os.Remove(filepath.Join(root, files[0])); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "stray.txt"), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res = repotest.Run(t, "verify", root, "--orphans", "--format", "json")
		if res.Code != 1 {
			t.Fatalf("verify with a file gone: %s", res)
		}
		var kinds []string
		var summary map[string]any
		sc := bufio.NewScanner(strings.NewReader(res.Stdout))
		for sc.Scan() {
			var obj map[string]any
			if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
				t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
			}
			if s, ok := obj["summary"].(map[string]any); ok {
				summary = s
				continue
			}
			kinds = append(kinds, obj["kind"].(string))
		}
		slices.Sort(kinds)
		if !slices.Equal(kinds, []string{"missing", "orphan"}) || summary == nil || summary["problems"] != 2.0 {
			t.Errorf("JSON lines: kinds %v, summary %v\n%s", kinds, summary, res.Stdout)
		}

		before := repotest.DatastoreFiles(t, root)
		res = repotest.Run(t, "verify", root, "--orphans", "--repair")
		if res.Code != 1 || !strings.Contains(res.Stdout, "Would repair (dry run; --yes repairs): unstore 1 dataset(s), quarantine 1 artifact(s)") {
			t.Errorf("dry-run repair: %s", res)
		}
		if after := repotest.DatastoreFiles(t, root); !slices.Equal(after, before) {
			t.Errorf("the dry run changed the files: %v → %v", before, after)
		}
		res = repotest.Run(t, "verify", root, "--orphans", "--repair", "--yes")
		if res.Code != 0 || !strings.Contains(res.Stdout, "Repaired: unstore 1 dataset(s), quarantine 1 artifact(s)") {
			t.Errorf("repair: %s", res)
		}
		res = repotest.MustRun(t, "verify", root, "--orphans", "--checksums")
		if !strings.Contains(res.Stdout, "Checked 2 record(s)") || !strings.Contains(res.Stdout, "no problems.") {
			t.Errorf("verify after the repair:\n%s", res.Stdout)
		}
		if out := repotest.MustRun(t, "query-datasets", root, "pkg", "--collections", "*").Stdout; strings.Count(out, "pkg ") != 3 {
			t.Errorf("the unstored dataset's row must stay:\n%s", out)
		}

		// A link that loops cannot be checked: exit 3.
		loop := filepath.Join(root, files[1])
		if err := os.Remove(loop); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Base(loop), loop); err != nil {
			t.Fatal(err)
		}
		res = repotest.Run(t, "verify", root)
		if res.Code != 3 || !strings.Contains(res.Stdout, "unchecked") || !strings.Contains(res.Stderr, "1 item(s) could not be checked") {
			t.Errorf("verify with an unreadable artifact: %s", res)
		}

		for _, bad := range [][]string{{"--yes"}, {"--purge"}, {"--format", "csv"}, {"--orphans", "-d", "pkg"}, {"-j", "0"}} {
			if res := repotest.Run(t, append([]string{"verify", root}, bad...)...); res.Code != 2 {
				t.Errorf("verify %v: want a usage error: %s", bad, res)
			}
		}
	})
}

// TestVerify_Help pins the help text (go test ./internal/cli -run TestVerify_Help -update rewrites it).
func TestVerify_Help(t *testing.T) {
	out, _, code := mainOut(t, "verify", "--help")
	if code != 0 {
		t.Fatalf("verify --help: exit %d", code)
	}
	checkGolden(t, "verify_help", []byte(out), true)
}
