package butler_test

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// BenchmarkCreate times butler.Create of an empty SQLite repository.
func BenchmarkCreate(b *testing.B) {
	dir := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		if _, err := butler.Create(b.Context(), filepath.Join(dir, fmt.Sprint(i)), butler.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
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
