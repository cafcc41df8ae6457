package benchrepo_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobutler/butler/internal/benchrepo"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

func TestMain(m *testing.M) {
	stop := pgtest.Start()
	code := m.Run()
	stop()
	os.Exit(code)
}

// BenchmarkBulkBuild builds a registry-only raw repository of
// $BUTLER_BENCH_BULK datasets (205 detectors per exposure; "1" means
// 200,000) on SQLite and on PostgreSQL, and logs the insert rate of every
// slice of 100,000 datasets, so that a rate that falls as the tables grow
// shows. It reports the whole build's datasets/s. It only runs when
// BUTLER_BENCH_BULK is set (a million takes about a minute); run it with
// -benchtime 1x. BUTLER_BENCH_BULK_DIALECTS=sqlite (or postgres) runs one;
// BUTLER_BENCH_BULK_BATCH sets the datasets per import transaction (50,000).
func BenchmarkBulkBuild(b *testing.B) {
	v := os.Getenv("BUTLER_BENCH_BULK")
	if v == "" {
		b.Skip("set BUTLER_BENCH_BULK to a number of datasets (1 = 200,000) to run")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("BUTLER_BENCH_BULK=%q: want a positive number", v)
	}
	if n == 1 {
		n = 200_000
	}
	const dets = 205
	batch := 50000 // as `butler bench query --batch`
	if v := os.Getenv("BUTLER_BENCH_BULK_BATCH"); v != "" {
		if batch, err = strconv.Atoi(v); err != nil || batch < 1 {
			b.Fatalf("BUTLER_BENCH_BULK_BATCH=%q: want a positive number", v)
		}
	}
	exposures := max(1, n/dets)
	dialects := []string{pgtest.SQLite, pgtest.Postgres}
	if d := os.Getenv("BUTLER_BENCH_BULK_DIALECTS"); d != "" {
		dialects = strings.Split(d, ",")
	}
	for _, dialect := range dialects {
		b.Run(fmt.Sprintf("dialect=%s/datasets=%d", dialect, exposures*dets), func(b *testing.B) {
			var o benchrepo.Options
			if dialect == pgtest.Postgres {
				pgtest.UseAdminAuth(b)
				o.DB, o.Namespace = pgtest.URL(b, "", ""), pgtest.Schema(b)
			}
			o.Exposures, o.Detectors, o.PerNight, o.Batch = exposures, dets, 300, batch
			var rate float64
			for b.Loop() {
				var slices []string
				lastDone, lastT := 0, time.Duration(0)
				o.Progress = func(done, total int, elapsed time.Duration) {
					if done-lastDone < 100_000 && done < total {
						return
					}
					slices = append(slices, fmt.Sprintf("%d-%dk: %.0f/s", lastDone/1000, done/1000,
						float64(done-lastDone)/(elapsed-lastT).Seconds()))
					lastDone, lastT = done, elapsed
				}
				cpu0 := cpuSeconds()
				st, err := benchrepo.Build(b.Context(), filepath.Join(b.TempDir(), "repo"), o)
				if err != nil {
					b.Fatal(err)
				}
				rate = st.DatasetsPerS
				b.Logf("%d datasets: records %.1f s, inserts %.1f s (%.0f datasets/s), this process's CPU %.1f s; per slice: %s",
					st.Datasets, st.RecordsSeconds, st.InsertSeconds, st.DatasetsPerS, cpuSeconds()-cpu0, strings.Join(slices, ", "))
				if dialect == pgtest.Postgres {
					// A fresh schema for the next round.
					o.Namespace = pgtest.Schema(b)
				}
			}
			b.ReportMetric(rate, "datasets/s")
		})
	}
}

// cpuSeconds is the CPU time (user and system) this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
