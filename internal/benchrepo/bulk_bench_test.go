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
// tenth of the build, so that a rate that falls as the tables grow shows,
// with the CPU milliseconds per 1,000 datasets of this process and (for a
// server on this machine) of PostgreSQL's processes. It reports the whole
// build's datasets/s. It only runs when BUTLER_BENCH_BULK is set (a million
// takes a few minutes); run it with
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
				// CPU of this process and, on a PostgreSQL server on this
				// machine, of the server's processes.
				server := func() float64 { return 0 }
				if dialect == pgtest.Postgres {
					server = serverCPU(b)
				}
				type point struct {
					done     int
					elapsed  time.Duration
					cpu, srv float64
				}
				marks := []point{{cpu: cpuSeconds(), srv: server()}}
				o.Progress = func(done, total int, elapsed time.Duration) {
					last := marks[len(marks)-1]
					if done*10/total == last.done*10/total && done < total {
						return // a slice per tenth of the build
					}
					p := point{done, elapsed, cpuSeconds(), server()}
					if done == total && len(marks) > 1 && done-last.done < total/20 {
						marks[len(marks)-1] = p // a short remainder joins the last tenth
						return
					}
					marks = append(marks, p)
				}
				st, err := benchrepo.Build(b.Context(), filepath.Join(b.TempDir(), "repo"), o)
				if err != nil {
					b.Fatal(err)
				}
				rate = st.DatasetsPerS
				var slices []string
				var rates, costs []float64 // per slice: datasets/s, CPU ms per 1,000 (both processes)
				for i := 1; i < len(marks); i++ {
					a, z := marks[i-1], marks[i]
					k := float64(z.done-a.done) / 1000
					rates = append(rates, 1e3*k/(z.elapsed-a.elapsed).Seconds())
					costs = append(costs, 1e3*(z.cpu-a.cpu+z.srv-a.srv)/k)
					slice := fmt.Sprintf("%d-%dk: %.0f/s, CPU/1000: %.0f ms", a.done/1000, z.done/1000, rates[i-1], 1e3*(z.cpu-a.cpu)/k)
					if dialect == pgtest.Postgres {
						slice += fmt.Sprintf(" + server %.0f ms", 1e3*(z.srv-a.srv)/k)
					}
					slices = append(slices, slice)
				}
				b.Logf("%d datasets: records %.1f s, inserts %.1f s (%.0f datasets/s), CPU: this process %.1f s, server %.1f s; per slice: %s",
					st.Datasets, st.RecordsSeconds, st.InsertSeconds, st.DatasetsPerS, cpuSeconds()-marks[0].cpu, server()-marks[0].srv, strings.Join(slices, "; "))
				if n := len(rates); n > 1 {
					b.Logf("last slice against the first: %.0f%% of the rate, %.0f%% of the CPU per dataset",
						100*rates[n-1]/rates[0], 100*costs[n-1]/costs[0])
				}
				if dialect == pgtest.Postgres {
					// A fresh schema for the next round.
					o.Namespace = pgtest.Schema(b)
				}
			}
			b.ReportMetric(rate, "datasets/s")
		})
	}
}

// serverCPU returns a function giving the CPU seconds (user and system) used
// so far by the PostgreSQL server of the tests: its postmaster, the backends
// and background processes it runs, and those that have exited. It reads
// /proc, so it gives 0 for a server on another machine.
func serverCPU(b *testing.B) func() float64 {
	var backend int
	if err := pgtest.Admin(b).QueryRowContext(b.Context(), "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		b.Fatal(err)
	}
	st, ok := procStat(backend)
	if !ok {
		b.Logf("no /proc entry for the PostgreSQL backend %d: server CPU not measured", backend)
		return func() float64 { return 0 }
	}
	postmaster := int(st.ppid)
	return func() float64 {
		pm, ok := procStat(postmaster)
		if !ok {
			return 0
		}
		ticks := pm.utime + pm.stime + pm.cutime + pm.cstime
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			pid, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			if c, ok := procStat(pid); ok && int(c.ppid) == postmaster {
				ticks += c.utime + c.stime
			}
		}
		return float64(ticks) / 100 // USER_HZ
	}
}

type stat struct{ ppid, utime, stime, cutime, cstime int64 }

// procStat reads a process's parent and CPU ticks from /proc/PID/stat.
func procStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	// The command name, in parentheses, may hold spaces: fields follow the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return stat{}, false
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	// After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
	return stat{ppid: n(1), utime: n(11), stime: n(12), cutime: n(13), cstime: n(14)}, true
}

// cpuSeconds is the CPU time (user and system) this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
