package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/cli"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

type benchQueryReport struct {
	raw     []byte
	Build   map[string]any `json:"build"`
	Queries []struct {
		Name string   `json:"name"`
		Args []string `json:"args"`
		Rows int      `json:"rows"`
		InMS float64  `json:"in_process_ms"`
	} `json:"queries"`
}

func runBenchQuery(t *testing.T, args ...string) benchQueryReport {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"bench", "query", "--binary", repotest.Binary(t), "--format", "json"}, args...)
	if code := cli.Main(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("butler %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	var rep benchQueryReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("bench query output: %v\n%s", err, stdout.String())
	}
	rep.raw = stdout.Bytes()
	return rep
}

// TestBenchQuery_Small builds a tiny repository and checks that every timed
// query found what the plan put there, so the timings are of working queries;
// a second run measures the existing repository without building.
func TestBenchQuery_Small(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo")
	// 9 exposures at 4 a night: nights of 4, 4 and 1; the middle exposure
	// (sorted by ID) is the first of the second night.
	want := map[string]int{
		"query-collections":           1,
		"one exposure":                6,
		"one detector, one day":       4,
		"listing, find-first csv":     54,
		"data IDs, exposure, one day": 4,
		"exposure records, one day":   4,
	}
	for _, build := range []bool{true, false} {
		rep := runBenchQuery(t, "--exposures", "9", "--detectors", "6", "--per-night", "4", "--batch", "10",
			"--detector", "0", "--repeat", "1", "--repo", repo)
		if (rep.Build != nil) != build {
			t.Errorf("run %d: build = %v, want built %v", map[bool]int{true: 1, false: 2}[build], rep.Build, build)
		}
		if build && rep.Build["datasets"] != float64(54) {
			t.Errorf("built %v datasets, want 54", rep.Build["datasets"])
		}
		got := map[string]int{}
		for _, q := range rep.Queries {
			if _, ok := want[q.Name]; ok {
				got[q.Name] = q.Rows
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rows per query = %v, want %v", got, want)
		}
	}
}

// TestBenchQuery1M runs `butler bench query` at full scale (5,000 exposures ×
// 205 detectors, or BUTLER_BENCH_1M_EXPOSURES) on SQLite and on PostgreSQL
// and logs the tables. It measures, never asserts speed; it only runs with
// BUTLER_BENCH_1M=1 (it takes minutes). With BUTLER_BENCH_1M_DIR the
// repositories are kept there and reused by later runs (PostgreSQL ones only
// when BUTLER_TEST_PG_DSN names a server that outlives the test).
func TestBenchQuery1M(t *testing.T) {
	if os.Getenv("BUTLER_BENCH_1M") == "" {
		t.Skip("set BUTLER_BENCH_1M=1 to build and query a 1,025,000-raw registry")
	}
	exposures := 5000
	if s := os.Getenv("BUTLER_BENCH_1M_EXPOSURES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("BUTLER_BENCH_1M_EXPOSURES=%q: %v", s, err)
		}
		exposures = n
	}
	dir := os.Getenv("BUTLER_BENCH_1M_DIR")
	keep := dir != ""
	if !keep {
		dir = t.TempDir()
	}
	args := []string{"--exposures", strconv.Itoa(exposures), "--detectors", "205", "--repeat", "5"}
	t.Run("sqlite", func(t *testing.T) {
		rep := runBenchQuery(t, append(args, "--repo", filepath.Join(dir, fmt.Sprintf("sqlite-%d", exposures)))...)
		logReport(t, rep)
	})
	t.Run("postgres", func(t *testing.T) {
		// Credentials go through db-auth, never into the repository's config.
		pgtest.UseAdminAuth(t)
		schema := fmt.Sprintf("bench_query_%d", exposures)
		repo := filepath.Join(dir, "postgres-"+strconv.Itoa(exposures))
		if !keep || os.Getenv(pgtest.EnvDSN) == "" {
			schema = pgtest.Schema(t)
			repo = filepath.Join(t.TempDir(), "postgres")
		} else if _, err := os.Stat(repo); os.IsNotExist(err) {
			if _, err := pgtest.Admin(t).Exec("CREATE SCHEMA IF NOT EXISTS " + schema); err != nil {
				t.Fatal(err)
			}
		}
		rep := runBenchQuery(t, append(args, "--repo", repo, "--db", pgtest.URL(t, "", ""), "--namespace", schema)...)
		logReport(t, rep)
	})
}

func logReport(t *testing.T, rep benchQueryReport) {
	t.Helper()
	t.Logf("%s", rep.raw)
}

// BenchmarkQueryDatasets_Repo runs selective query-datasets commands in-process
// against the repository named by BUTLER_BENCH_QUERY_REPO (for example one
// built by `butler bench query`), for profiling with -cpuprofile.
func BenchmarkQueryDatasets_Repo(b *testing.B) {
	repo := os.Getenv("BUTLER_BENCH_QUERY_REPO")
	if repo == "" {
		b.Skip("set BUTLER_BENCH_QUERY_REPO to a repository made by `butler bench query`")
	}
	exp := os.Getenv("BUTLER_BENCH_QUERY_EXPOSURE")
	day := os.Getenv("BUTLER_BENCH_QUERY_DAY")
	if exp == "" || day == "" {
		b.Skip("set BUTLER_BENCH_QUERY_EXPOSURE and BUTLER_BENCH_QUERY_DAY to an exposure and day_obs of the repository")
	}
	for _, c := range []struct{ name, where string }{
		{"one-exposure", "exposure = " + exp},
		{"one-detector-one-day", "detector = 42 AND exposure.day_obs = " + day},
	} {
		args := []string{"query-datasets", repo, "raw", "--collections", "LSSTCam/raw/all", "--where", c.where}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				var out, errOut bytes.Buffer
				if code := cli.Main(context.Background(), args, strings.NewReader(""), &out, &errOut); code != cli.ExitOK {
					b.Fatalf("exit %d: %s", code, errOut.String())
				}
			}
		})
	}
}
