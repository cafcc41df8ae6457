package butler_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// BenchmarkCreate times butler.Create of an empty SQLite repository.
func BenchmarkCreate(b *testing.B) {
	dir := b.TempDir()
	i := 0
	start := cpuTime()
	for b.Loop() {
		i++
		if _, err := butler.Create(b.Context(), filepath.Join(dir, fmt.Sprint(i)), butler.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(i), "cpu-ns/op")
}

const benchDatasets = 1000

// benchRepo makes a repository with benchDatasets detectors, a dataset type and a run.
func benchRepo(b testing.TB) *butler.Butler {
	b.Helper()
	_, bt := repotest.New(b)
	repotest.AddInstrument(b, bt, inst, benchDatasets)
	if _, err := bt.RegisterDatasetType(b.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		b.Fatal(err)
	}
	mustRun(b, bt, "bench")
	return bt
}

// BenchmarkPut times 1,000 puts of small datasets into a fresh repository per op.
func BenchmarkPut(b *testing.B) {
	data := []byte("a: 1\nb: [1, 2, 3]\n")
	n := 0
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		bt := benchRepo(b)
		b.StartTimer()
		start := cpuTime()
		for d := range benchDatasets {
			if _, err := bt.Put(b.Context(), data, "dict", det(d), "bench"); err != nil {
				b.Fatal(err)
			}
		}
		cpu += cpuTime() - start
		n += benchDatasets
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/dataset")
	// On a shared machine the wall time varies with the load; the process's
	// CPU time (user and system, all threads) much less.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/dataset")
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGet times 1,000 gets (find by data ID, then read) of small datasets per op.
func BenchmarkGet(b *testing.B) {
	bt := benchRepo(b)
	data := []byte("a: 1\nb: [1, 2, 3]\n")
	for d := range benchDatasets {
		if _, err := bt.Put(b.Context(), data, "dict", det(d), "bench"); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	for b.Loop() {
		for d := range benchDatasets {
			got, _, err := bt.Get(b.Context(), "dict", det(d), []string{"bench"})
			if err != nil || len(got) != len(data) {
				b.Fatalf("get detector %d: %d bytes, %v", d, len(got), err)
			}
		}
		n += benchDatasets
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/dataset")
}

// BenchmarkFind times 1,000 finds (data ID to dataset ref, no file read) per op.
func BenchmarkFind(b *testing.B) {
	bt := benchRepo(b)
	data := []byte("a: 1\nb: [1, 2, 3]\n")
	for d := range benchDatasets {
		if _, err := bt.Put(b.Context(), data, "dict", det(d), "bench"); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	for b.Loop() {
		for d := range benchDatasets {
			if _, err := bt.Find(b.Context(), "dict", det(d), []string{"bench"}); err != nil {
				b.Fatalf("find detector %d: %v", d, err)
			}
		}
		n += benchDatasets
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/dataset")
}

// BenchmarkQueryOneExposure_Open times the one-exposure query of a repository
// made by `butler bench query` (BUTLER_BENCH_QUERY_REPO, with
// BUTLER_BENCH_QUERY_EXPOSURE) through a butler opened once: the query
// without the cost of opening the repository (for PostgreSQL, the
// connection), which BenchmarkQueryDatasets_Repo in internal/cli includes.
func BenchmarkQueryOneExposure_Open(b *testing.B) {
	repo, exp := os.Getenv("BUTLER_BENCH_QUERY_REPO"), os.Getenv("BUTLER_BENCH_QUERY_EXPOSURE")
	if repo == "" || exp == "" {
		b.Skip("set BUTLER_BENCH_QUERY_REPO and BUTLER_BENCH_QUERY_EXPOSURE (a repository made by `butler bench query` and one of its exposures)")
	}
	bt, err := butler.Open(b.Context(), repo, butler.OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer bt.Close()
	s := butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"LSSTCam/raw/all"}, Where: "exposure = " + exp, WithImplied: true}
	start := cpuTime()
	for b.Loop() {
		n := 0
		if err := bt.QueryDatasets(b.Context(), s, func(dataset.Ref) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("no datasets of exposure %s", exp)
		}
	}
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkOpen_Repo times opening and closing the repository named by
// BUTLER_BENCH_QUERY_REPO: for PostgreSQL, the connection (TCP,
// authentication, a new server process) and the round trips at open.
func BenchmarkOpen_Repo(b *testing.B) {
	repo := os.Getenv("BUTLER_BENCH_QUERY_REPO")
	if repo == "" {
		b.Skip("set BUTLER_BENCH_QUERY_REPO to a repository")
	}
	start := cpuTime()
	for b.Loop() {
		bt, err := butler.Open(b.Context(), repo, butler.OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		bt.Close()
	}
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
