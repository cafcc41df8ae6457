package butler_test

import (
	"flag"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

var defineVisitsN = flag.Int("define-visits.exposures", 500, "LSSTCam exposures of BenchmarkDefineVisits (issue #14's target: 5000)")

// BenchmarkDefineVisits defines one-to-one visits for N registry-only
// LSSTCam exposures (-define-visits.exposures, default 500) with their 205
// detector regions each, on SQLite and PostgreSQL. It reports detector
// regions written per second and the peak Go heap while defining.
func BenchmarkDefineVisits(b *testing.B) {
	n := *defineVisitsN
	specs := make([]expSpec, n)
	for i := range specs {
		seq := int64(i + 1)
		specs[i] = expSpec{seq: seq, start: seq, end: seq, ra: float64(i%97) * 3.7, azimuth: float64(i % 360)}
	}
	for _, dialect := range []string{pgtest.SQLite, pgtest.Postgres} {
		b.Run(dialect, func(b *testing.B) {
			regions := 0
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
				b.StartTimer()
				res, err := bt.DefineVisits(b.Context(), "LSSTCam", butler.DefineVisitsOptions{})
				b.StopTimer()
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
		})
	}
}
