package butler_test

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// cpuSeconds returns the CPU time (user + system) used so far by this process
// and by the processes it started (a private PostgreSQL server and its
// backends; exited ones count through their parent), as far as /proc shows.
func cpuSeconds() (self, children float64, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	self = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return self, 0, true
	}
	type proc struct {
		ppid int
		cpu  float64
	}
	procs := map[int]proc{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command name (which may hold spaces): state,
		// ppid, ... utime (14), stime, cutime, cstime, in clock ticks.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		var ticks float64
		for _, x := range f[11:15] {
			n, _ := strconv.ParseFloat(x, 64)
			ticks += n
		}
		procs[pid] = proc{ppid: ppid, cpu: ticks / 100}
	}
	me := os.Getpid()
	for pid, p := range procs {
		for a, n := p.ppid, 0; a > 1 && n < 10; a, n = procs[a].ppid, n+1 {
			if a == me && pid != me {
				children += p.cpu
				break
			}
		}
	}
	return self, children, true
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
