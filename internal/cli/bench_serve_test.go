package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/cli"
	"github.com/gobutler/butler/internal/serveload"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

func runBenchServe(t *testing.T, args ...string) serveload.Report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	bin := os.Getenv("BUTLER_BENCH_SERVE_BINARY") // another build's serve, to compare
	if bin == "" {
		bin = repotest.Binary(t)
	}
	args = append([]string{"bench", "serve", "--binary", bin, "--format", "json"}, args...)
	if code := cli.Main(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("butler %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	var rep serveload.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("bench serve output: %v\n%s", err, stdout.String())
	}
	t.Logf("%s", stdout.String())
	return rep
}

// dbArgs are the registry arguments of a bench repository of the dialect.
func dbArgs(t *testing.T, dialect string) []string {
	if dialect != "postgres" {
		return nil
	}
	pgtest.UseAdminAuth(t)
	return []string{"--db", pgtest.URL(t, "", ""), "--namespace", pgtest.Schema(t)}
}

// TestBenchServe_Small runs the load benchmark briefly on a small
// repository: every route answers, without errors, and the server's memory
// is sampled.
func TestBenchServe_Small(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		repo := filepath.Join(t.TempDir(), "repo")
		args := append(dbArgs(t, dialect), "--repo", repo, "--exposures", "3", "--detectors", "4", "--per-night", "2",
			"--files", "3", "--clients", "6", "--duration", "2s", "--warmup", "-1s", "--mix", "find=4,query=1,download=1")
		rep := runBenchServe(t, args...)
		if rep.Datasets != 12 || rep.Build == nil {
			t.Errorf("built %d raws (%v), want 12", rep.Datasets, rep.Build)
		}
		for _, r := range rep.Routes {
			if r.Requests == 0 || r.Errors > 0 {
				t.Errorf("%s: %d requests, %d errors (%v)", r.Route, r.Requests, r.Errors, rep.Errors)
			}
		}
		if rep.FindsPerQuery < 1 {
			t.Errorf("finds per database query %v, want at least 1 (the server's butler_find_batch_size)", rep.FindsPerQuery)
		}
		if rep.Warmup != 0 || rep.Routes[0].WarmupRequests != 0 {
			t.Errorf("--warmup -1s: warm-up %v s, %d warm-up finds", rep.Warmup, rep.Routes[0].WarmupRequests)
		}
		if len(rep.Samples) == 0 || rep.Samples[0].RSSMiB <= 0 || rep.ServerLogErrors > 0 {
			t.Errorf("server samples %v, %d logged errors", rep.Samples, rep.ServerLogErrors)
		}
		// A second run reuses the repository and its files.
		rep = runBenchServe(t, "--repo", repo, "--clients", "2", "--duration", "1s", "--warmup", "-1s", "--mix", "download=1")
		if rep.Build != nil || rep.Routes[3].Requests == 0 || rep.Routes[3].Errors > 0 {
			t.Errorf("rerun: build %v, downloads %+v", rep.Build, rep.Routes[3])
		}
		// An open loop sends what its rate says, no more: 40 finds a
		// second for 2 s over 4 clients, after 1 s of warm-up ramping up
		// from 4/s to 40/s, whose about 20 finds are reported apart.
		rep = runBenchServe(t, "--repo", repo, "--clients", "4", "--duration", "2s", "--warmup", "1s", "--mix", "find=1", "--rate", "40")
		if f := rep.Routes[0]; rep.Rate != 40 || f.Requests < 60 || f.Requests > 80 || f.Errors > 0 {
			t.Errorf("open loop at 40/s for 2 s: rate %v, finds %+v, want 60 to 80", rep.Rate, f)
		}
		if f := rep.Routes[0]; rep.Warmup != 1 || f.WarmupRequests < 12 || f.WarmupRequests > 30 || f.WarmupP99MS <= 0 {
			t.Errorf("1 s of warm-up ramping up to 40/s: %v s, %d finds (p99 %v ms), want 12 to 30", rep.Warmup, f.WarmupRequests, f.WarmupP99MS)
		}
	})
}

// TestBenchServe1M is the load benchmark: BUTLER_BENCH_SERVE=1
// builds a 1,025,000-raw PostgreSQL registry and runs 500 clients for 30 s
// (BUTLER_BENCH_SERVE_CLIENTS, _DURATION, _EXPOSURES, _DIALECT change them;
// BUTLER_BENCH_SERVE_MIX is one or more mixes separated by ";", run in turn;
// BUTLER_BENCH_SERVE_BINARY measures another build's serve).
func TestBenchServe1M(t *testing.T) {
	if os.Getenv("BUTLER_BENCH_SERVE") == "" {
		t.Skip("set BUTLER_BENCH_SERVE=1 to load-test butler serve over a 1,025,000-raw PostgreSQL registry")
	}
	env := func(k, d string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return d
	}
	exposures, err := strconv.Atoi(env("BUTLER_BENCH_SERVE_EXPOSURES", "5000"))
	if err != nil {
		t.Fatal(err)
	}
	dialect := env("BUTLER_BENCH_SERVE_DIALECT", "postgres")
	db := dbArgs(t, dialect)
	repo := filepath.Join(t.TempDir(), "repo")
	// Each mix (";" between them) runs on the same repository, built once.
	for _, mix := range strings.Split(env("BUTLER_BENCH_SERVE_MIX", "find=90,query=5,download=5"), ";") {
		args := append(append([]string{}, db...), "--repo", repo, "--exposures", strconv.Itoa(exposures),
			"--clients", env("BUTLER_BENCH_SERVE_CLIENTS", "500"), "--duration", env("BUTLER_BENCH_SERVE_DURATION", "30s"), "--mix", mix)
		rep := runBenchServe(t, args...)
		for _, r := range rep.Routes {
			if r.Errors > 0 {
				t.Errorf("%s: %s: %d errors: %v", mix, r.Route, r.Errors, rep.Errors)
			}
		}
	}
}
