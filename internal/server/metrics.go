package server

import (
	"bytes"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// metrics are the server's Prometheus metrics, in a registry of its own (no
// global state, so that tests can run several servers in one process). They
// are written in the Prometheus text format (version 0.0.4) by this file
// rather than by client_golang: that library, with procfs and protobuf,
// registered collectors and built tables when the package was initialised,
// which every command of the binary paid for at start-up (about a tenth of
// `butler create`'s CPU time) and only `serve` used.
type metrics struct {
	requests *counterVec
	errors   *counterVec
	latency  *histogramVec
	inFlight *gauge
	queries  *gauge
	refusals *counterVec
	handler  http.Handler
}

// latencyBuckets are the upper bounds of butler_http_request_duration_seconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

func newMetrics() *metrics {
	m := &metrics{
		requests: newCounterVec("butler_http_requests_total", "HTTP requests answered, by route and status code.", "route", "code"),
		errors:   newCounterVec("butler_http_errors_total", "HTTP requests answered with a 5xx status, by route.", "route"),
		latency:  newHistogramVec("butler_http_request_duration_seconds", "Time to answer an HTTP request (to the last byte), by route.", latencyBuckets, "route"),
		inFlight: &gauge{name: "butler_http_requests_in_flight", help: "HTTP requests being served."},
		queries:  &gauge{name: "butler_queries_in_flight", help: "Streaming queries running."},
		refusals: newCounterVec("butler_query_refusals_total", "Streaming queries refused by the concurrency limits, by reason (server, user).", "reason"),
	}
	start := time.Now()
	m.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		m.requests.write(&b)
		m.errors.write(&b)
		m.latency.write(&b)
		m.inFlight.write(&b)
		m.queries.write(&b)
		m.refusals.write(&b)
		writeRuntimeMetrics(&b)
		writeProcessMetrics(&b, start)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(b.Bytes())
	})
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	if status >= 500 {
		m.errors.WithLabelValues(route).Inc()
	}
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// family holds the series of one metric, one per combination of label values.
type family[T any] struct {
	name, help string
	labels     []string
	mu         sync.Mutex
	series     map[string]*series[T]
}

type series[T any] struct {
	values []string
	v      T
}

func (f *family[T]) with(values []string, init func(*T)) *T {
	if len(values) != len(f.labels) {
		panic("metric " + f.name + ": " + strconv.Itoa(len(values)) + " label values for " + strconv.Itoa(len(f.labels)) + " labels")
	}
	key := strings.Join(values, "\xff")
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.series[key]
	if !ok {
		s = &series[T]{values: slices.Clone(values)}
		if init != nil {
			init(&s.v)
		}
		if f.series == nil {
			f.series = map[string]*series[T]{}
		}
		f.series[key] = s
	}
	return &s.v
}

// sorted returns the series ordered by their label values, as client_golang did.
func (f *family[T]) sorted() []*series[T] {
	f.mu.Lock()
	out := make([]*series[T], 0, len(f.series))
	for _, s := range f.series {
		out = append(out, s)
	}
	f.mu.Unlock()
	slices.SortFunc(out, func(a, b *series[T]) int { return slices.Compare(a.values, b.values) })
	return out
}

// labelPairs renders {a="x",b="y"} with the labels in name order, plus extra
// (already rendered, such as le="0.5") last.
func labelPairs(names, values []string, extra string) string {
	if len(names) == 0 && extra == "" {
		return ""
	}
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	var sb strings.Builder
	sb.WriteByte('{')
	for n, i := range idx {
		if n > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(names[i])
		sb.WriteString(`="`)
		sb.WriteString(labelEscaper.Replace(values[i]))
		sb.WriteByte('"')
	}
	if extra != "" {
		if len(idx) > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(extra)
	}
	sb.WriteByte('}')
	return sb.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func header(b *bytes.Buffer, name, help, typ string) {
	b.WriteString("# HELP " + name + " " + strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help) + "\n")
	b.WriteString("# TYPE " + name + " " + typ + "\n")
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// counterVec is a counter with labels.
type counterVec struct{ f family[atomic.Uint64] }

func newCounterVec(name, help string, labels ...string) *counterVec {
	return &counterVec{f: family[atomic.Uint64]{name: name, help: help, labels: labels}}
}

type counter struct{ v *atomic.Uint64 }

func (c counter) Inc() { c.v.Add(1) }

func (c *counterVec) WithLabelValues(values ...string) counter {
	return counter{c.f.with(values, nil)}
}

func (c *counterVec) write(b *bytes.Buffer) {
	header(b, c.f.name, c.f.help, "counter")
	for _, s := range c.f.sorted() {
		b.WriteString(c.f.name + labelPairs(c.f.labels, s.values, "") + " " + strconv.FormatUint(s.v.Load(), 10) + "\n")
	}
}

// gauge is a gauge without labels.
type gauge struct {
	name, help string
	v          atomic.Int64
}

func (g *gauge) Inc() { g.v.Add(1) }
func (g *gauge) Dec() { g.v.Add(-1) }

func (g *gauge) write(b *bytes.Buffer) {
	header(b, g.name, g.help, "gauge")
	b.WriteString(g.name + " " + strconv.FormatInt(g.v.Load(), 10) + "\n")
}

// histogramVec is a histogram with labels.
type histogramVec struct {
	f       family[hist]
	buckets []float64
}

type hist struct {
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func newHistogramVec(name, help string, buckets []float64, labels ...string) *histogramVec {
	return &histogramVec{f: family[hist]{name: name, help: help, labels: labels}, buckets: buckets}
}

type observer struct {
	h       *hist
	buckets []float64
}

func (o observer) Observe(v float64) {
	i, _ := slices.BinarySearch(o.buckets, v) // first bucket with upper bound >= v
	o.h.mu.Lock()
	o.h.counts[i]++
	o.h.sum += v
	o.h.n++
	o.h.mu.Unlock()
}

func (h *histogramVec) WithLabelValues(values ...string) observer {
	return observer{h.f.with(values, func(x *hist) { x.counts = make([]uint64, len(h.buckets)+1) }), h.buckets}
}

func (h *histogramVec) write(b *bytes.Buffer) {
	header(b, h.f.name, h.f.help, "histogram")
	for _, s := range h.f.sorted() {
		s.v.mu.Lock()
		counts, sum, n := slices.Clone(s.v.counts), s.v.sum, s.v.n
		s.v.mu.Unlock()
		var cum uint64
		for i, ub := range h.buckets {
			cum += counts[i]
			b.WriteString(h.f.name + "_bucket" + labelPairs(h.f.labels, s.values, `le="`+formatFloat(ub)+`"`) + " " + strconv.FormatUint(cum, 10) + "\n")
		}
		b.WriteString(h.f.name + "_bucket" + labelPairs(h.f.labels, s.values, `le="+Inf"`) + " " + strconv.FormatUint(n, 10) + "\n")
		b.WriteString(h.f.name + "_sum" + labelPairs(h.f.labels, s.values, "") + " " + formatFloat(sum) + "\n")
		b.WriteString(h.f.name + "_count" + labelPairs(h.f.labels, s.values, "") + " " + strconv.FormatUint(n, 10) + "\n")
	}
}

func writeValue(b *bytes.Buffer, name, help, typ string, v float64) {
	header(b, name, help, typ)
	b.WriteString(name + " " + formatFloat(v) + "\n")
}

// writeRuntimeMetrics writes the Go runtime's metrics under client_golang's
// names.
func writeRuntimeMetrics(b *bytes.Buffer) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	writeValue(b, "go_goroutines", "Number of goroutines that currently exist.", "gauge", float64(runtime.NumGoroutine()))
	header(b, "go_info", "Information about the Go environment.", "gauge")
	b.WriteString(`go_info{version="` + labelEscaper.Replace(runtime.Version()) + `"} 1` + "\n")
	writeValue(b, "go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use.", "gauge", float64(ms.HeapAlloc))
	writeValue(b, "go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already.", "counter", float64(ms.TotalAlloc))
	writeValue(b, "go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", "gauge", float64(ms.HeapInuse))
	writeValue(b, "go_memstats_heap_objects", "Number of currently allocated objects.", "gauge", float64(ms.HeapObjects))
	writeValue(b, "go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", "gauge", float64(ms.LastGC)/1e9)
	writeValue(b, "go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.", "gauge", float64(ms.NextGC))
	writeValue(b, "go_memstats_sys_bytes", "Number of bytes obtained from system.", "gauge", float64(ms.Sys))
	writeValue(b, "go_gc_cycles_total", "Number of completed GC cycles.", "counter", float64(ms.NumGC))
}

// writeProcessMetrics writes client_golang's process metrics, read from /proc
// (on other systems only those that do not need it).
func writeProcessMetrics(b *bytes.Buffer, start time.Time) {
	if stat, err := os.ReadFile("/proc/self/stat"); err == nil {
		// The fields after the command name, which may hold spaces and parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
			f := strings.Fields(string(stat[i+1:]))
			// f[0] is field 3 (state): utime is field 14, stime 15, vsize 23, rss 24.
			if len(f) > 21 {
				const ticks = 100 // USER_HZ, 100 on every Linux platform Go supports
				utime, _ := strconv.ParseFloat(f[11], 64)
				stime, _ := strconv.ParseFloat(f[12], 64)
				vsize, _ := strconv.ParseFloat(f[20], 64)
				rss, _ := strconv.ParseFloat(f[21], 64)
				writeValue(b, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", (utime+stime)/ticks)
				writeValue(b, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", rss*float64(os.Getpagesize()))
				writeValue(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", vsize)
			}
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		writeValue(b, "process_open_fds", "Number of open file descriptors.", "gauge", float64(len(fds)))
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		writeValue(b, "process_max_fds", "Maximum number of open file descriptors.", "gauge", float64(lim.Cur))
	}
	writeValue(b, "process_start_time_seconds", "Start time of the process since unix epoch in seconds (here: when the server started).", "gauge", float64(start.UnixNano())/1e9)
}
