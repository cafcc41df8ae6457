package butler_test

import (
	"flag"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

var defineVisitsN = flag.Int("define-visits.exposures", 0, "LSSTCam exposures of BenchmarkDefineVisits (default 500; 5000, issue #14's size, with BUTLER_BENCH_1M=1)")

var defineVisitsBatch = flag.Int("define-visits.batch", 0, "visits per transaction of BenchmarkDefineVisits (0: DefineVisits' default)")

// BenchmarkDefineVisits defines one-to-one visits for N registry-only
// LSSTCam exposures with their 205 detector regions each, on SQLite and
// PostgreSQL: N is -define-visits.exposures, else 5,000 (1,025,000 regions,
// issue #14's size; minutes) with BUTLER_BENCH_1M=1, else 500. It reports
// detector regions written per second, the peak Go heap while defining, and
// (on Linux) the CPU milliseconds per 1,000 regions of this process
// (client-cpu) and of the private PostgreSQL server it started (server-cpu),
// which compare runs on a busy machine better than wall time.
func BenchmarkDefineVisits(b *testing.B) {
	n := *defineVisitsN
	if n <= 0 {
		n = 500
		if os.Getenv("BUTLER_BENCH_1M") != "" {
			n = 5000
		}
	}
	specs := make([]expSpec, n)
	for i := range specs {
		seq := int64(i + 1)
		specs[i] = expSpec{seq: seq, start: seq, end: seq, ra: float64(i%97) * 3.7, azimuth: float64(i % 360)}
	}
	for _, dialect := range []string{pgtest.SQLite, pgtest.Postgres} {
		b.Run(dialect, func(b *testing.B) {
			regions := 0
			var clientCPU, serverCPU float64
			cpuOK := true
			var peak atomic.Uint64
			for b.Loop() {
				b.StopTimer()
				_, bt := repotest.NewOn(b, dialect, butler.CreateOptions{})
				visitRepo(b, bt, specs)
				runtime.GC()
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					var ms runtime.MemStats
					tick := time.NewTicker(20 * time.Millisecond)
					defer tick.Stop()
					for {
						runtime.ReadMemStats(&ms)
						if ms.HeapAlloc > peak.Load() {
							peak.Store(ms.HeapAlloc)
						}
						select {
						case <-stop:
							return
						case <-tick.C:
						}
					}
				}()
				self0, srv0, ok0 := cpuSeconds()
				b.StartTimer()
				res, err := bt.DefineVisits(b.Context(), "LSSTCam", butler.DefineVisitsOptions{BatchSize: *defineVisitsBatch})
				b.StopTimer()
				self1, srv1, ok1 := cpuSeconds()
				cpuOK = cpuOK && ok0 && ok1
				clientCPU += self1 - self0
				serverCPU += srv1 - srv0
				close(stop)
				wg.Wait()
				if err != nil {
					b.Fatal(err)
				}
				if res.New != n {
					b.Fatalf("%d new visits, want %d", res.New, n)
				}
				regions += res.DetectorRegions
				bt.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(regions)/b.Elapsed().Seconds(), "regions/s")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			if cpuOK && regions > 0 {
				b.ReportMetric(clientCPU*1e6/float64(regions), "client-cpu-ms/1k-regions")
				if dialect == pgtest.Postgres && serverCPU > 0 {
					b.ReportMetric(serverCPU*1e6/float64(regions), "server-cpu-ms/1k-regions")
				}
			}
		})
	}
}
