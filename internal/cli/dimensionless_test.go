package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestDimensionless_CLI registers, puts, gets and queries dimensionless
// dataset types (a pipeline's packages and task configs) through the binary.
func TestDimensionless_CLI(t *testing.T) {
	forEachCLIDialect(t, func(t *testing.T, create func(...string) string) {
		repo := create()
		dir := t.TempDir()
		res := run(t, "register-dataset-type", repo, "packages", "Packages")
		if !strings.Contains(res.Stdout, "successfully registered") {
			t.Errorf("register-dataset-type packages printed %q", res.Stdout)
		}
		run(t, "register-dataset-type", repo, "isr_config", "Config")
		run(t, "register-dataset-type", repo, "cfg", "StructuredDataDict")
		files := map[string]string{
			"packages.yaml": "python: 3.12\nnumpy: 2.1\n",
			"isr.py":        "import lsst.ip.isr\nconfig.doBias=True\n",
			"a.json":        "{\"a\": 1}\n",
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ids := map[string]string{}
		for _, p := range []struct{ typ, run, file string }{
			{"packages", "pipe/run1", "packages.yaml"},
			{"isr_config", "pipe/run1", "isr.py"},
			{"cfg", "pipe/run1", "a.json"},
			{"packages", "pipe/run2", "packages.yaml"},
		} {
			res := run(t, "put", repo, p.typ, p.run, filepath.Join(dir, p.file))
			ids[p.typ+"@"+p.run] = strings.TrimSpace(res.Stdout)
		}
		// A second packages in a run is refused, with the type and run named.
		res = repotest.Run(t, "put", repo, "packages", "pipe/run1", filepath.Join(dir, "packages.yaml"))
		if res.Code != 1 || !strings.Contains(res.Stderr, "packages") || !strings.Contains(res.Stderr, "pipe/run1") {
			t.Errorf("second packages put: %s", res)
		}
		for typ, file := range map[string]string{"packages": "packages.yaml", "isr_config": "isr.py", "cfg": "a.json"} {
			got := run(t, "get", repo, typ, "--collections", "pipe/run1")
			if got.Stdout != files[file] {
				t.Errorf("get %s = %q, want %q", typ, got.Stdout, files[file])
			}
		}
		run(t, "collection-chain", repo, "pipe", "pipe/run2", "pipe/run1")

		// query-datasets: no data ID columns; find-first picks the first run.
		table := run(t, "query-datasets", repo, "packages", "--collections", "pipe/run1", "--show-uri").Stdout
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "type run id URI" {
			t.Fatalf("query-datasets packages table:\n%s", table)
		}
		f := strings.Fields(lines[2])
		if len(f) != 4 || f[0] != "packages" || f[1] != "pipe/run1" || f[2] != ids["packages@pipe/run1"] {
			t.Errorf("query-datasets row = %q", lines[2])
		} else if !strings.HasSuffix(f[3], "/pipe/run1/packages/packages_pipe_run1.yaml") {
			// upstream's default template: {run:/}/{datasetType}/..._{run}
			t.Errorf("packages file %s, want .../pipe/run1/packages/packages_pipe_run1.yaml", f[3])
		}
		if uri := run(t, "query-datasets", repo, "isr_config", "--collections", "pipe/run1", "--show-uri").Stdout; !strings.Contains(uri, "/pipe/run1/isr_config/isr_config_pipe_run1.py") {
			t.Errorf("isr_config file (PexConfigFormatter writes .py):\n%s", uri)
		}
		rows := jsonRows(t, run(t, "query-datasets", repo, "packages", "isr_config", "--collections", "pipe", "--find-first", "--format", "json").Stdout)
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%v@%v", r["type"], r["run"]))
			if did, ok := r["data_id"].(map[string]any); ok && len(did) != 0 {
				t.Errorf("data_id of %v = %v, want {}", r["type"], did)
			}
		}
		if strings.Join(got, " ") != "isr_config@pipe/run1 packages@pipe/run2" {
			t.Errorf("query-datasets --find-first over pipe = %v", got)
		}
		if n := len(jsonRows(t, run(t, "query-datasets", repo, "packages", "--collections", "pipe", "--format", "json").Stdout)); n != 2 {
			t.Errorf("query-datasets packages over pipe: %d rows, want 2", n)
		}

		// query-data-ids with no dimensions, as upstream prints it.
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--datasets", "packages", "--collections", "pipe"},
				"No dimensions in common for specified dataset types (['packages'])\nNo results. Try --help for more information.\n"},
			{nil, "Result has one logical row but no columns because no dimensions were requested.\n" +
				"No results. Try requesting some dimensions or datasets, see --help for more information.\n"},
			{[]string{"--datasets", "packages"},
				"Result has one logical row but no columns because no dimensions were requested.\nNo results. Try --help for more information.\n"},
		} {
			res := run(t, append([]string{"query-data-ids", repo}, tc.args...)...)
			if res.Stdout != tc.want {
				t.Errorf("query-data-ids %v printed %q, want %q", tc.args, res.Stdout, tc.want)
			}
		}
	})
}
