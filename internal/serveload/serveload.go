// Package serveload is the load benchmark of `butler serve` (`butler bench
// serve`): it builds a registry-only raw repository (internal/benchrepo)
// with a few real files beside, starts the real binary's `butler serve` on
// loopback in its own process, and drives it with many concurrent clients,
// each with its own token, running a mixed workload: find_dataset of one
// raw, the raws of one exposure (query/all_datasets) and file downloads
// (get_file, then the signed URL it hands out). It reports requests/s and
// latency percentiles per route, errors, refusals (429/503) and the
// server's memory and CPU over time.
//
// It runs a closed loop (each client sends its next request when the last
// is answered: the most the server sustains, at whatever latency) or, with
// Options.Rate, an open loop at a fixed offered rate, whose latencies count
// from each request's scheduled time as wrk2's do, so a stalled server is
// charged for every request it delayed.
//
// The load generator and the server share the machine: on a small one the
// clients' own CPU use bounds what the server can be shown to do (Report
// has both processes' CPU time).
package serveload

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/benchrepo"
	"github.com/gobutler/butler/internal/server"
)

// Options say what to build and how hard to push.
type Options struct {
	Binary string // the butler executable whose `serve` is measured
	Repo   string // repository root; built (with DB, Namespace) when absent
	// Build options of a new repository (benchrepo.Options).
	Exposures, Detectors, PerNight, Batch int
	DB, Namespace                         string
	Files                                 int // small datasets with files, for downloads (200)
	FileSize                              int // bytes each (4096)

	Clients  int           // concurrent clients, each with its own token (500)
	Duration time.Duration // of the measured run (30 s)
	// Warmup is how long the same load runs before the measured run
	// starts (5 s; negative: none). Its requests are checked and their
	// errors counted, but their latencies are reported apart: they include
	// the clients' 500 connection handshakes and the server's first use of
	// each pooled database connection, which a running server has behind it.
	Warmup time.Duration
	// Rate, when set, runs an open loop: operations are sent on a fixed
	// schedule of Rate per second in all, spread over the clients, and
	// their latency counts from their scheduled time (wrk2's corrected
	// latency). Zero: a closed loop, each client sending its next request
	// when the last is answered.
	Rate float64
	// Mix weighs the operations: find_dataset, one-exposure query,
	// download (get_file + its URL). Default 90/5/5.
	Find, Query, Download int
	ServeArgs             []string // extra arguments of `butler serve`
	Logger                *slog.Logger
	Progress              io.Writer // build progress and the run's ticks (nil: none)
}

// Route is what one route did.
type Route struct {
	Route     string  `json:"route"`
	Requests  int     `json:"requests"`
	PerSecond float64 `json:"requests_per_s"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	MaxMS     float64 `json:"max_ms"`
	// WarmupRequests and WarmupP99MS are the warm-up's, not counted above.
	WarmupRequests int     `json:"warmup_requests,omitempty"`
	WarmupP99MS    float64 `json:"warmup_p99_ms,omitempty"`
	Errors         int     `json:"errors"`
	// Refused counts 429 and 503 answers (retried after Retry-After, as
	// the clients do); they are not in Requests.
	Refused int `json:"refused"`
}

// Sample is the server process at one moment of the run.
type Sample struct {
	Seconds float64 `json:"t_s"`
	RSSMiB  float64 `json:"rss_mib"`
	CPU     float64 `json:"cpu_s"` // user+system since the run started
}

// Report is the outcome of a run.
type Report struct {
	Repo     string           `json:"repo"`
	DB       string           `json:"db"`
	Datasets int              `json:"raws"`
	Build    *benchrepo.Stats `json:"build,omitempty"`
	Clients  int              `json:"clients"`
	// Rate is the open loop's offered rate (operations per second; 0: a
	// closed loop), Late how many operations were sent more than 1 ms
	// behind their schedule (their client was still waiting for an answer).
	Rate            float64  `json:"offered_rate,omitempty"`
	Late            int      `json:"late,omitempty"`
	Seconds         float64  `json:"seconds"`
	Warmup          float64  `json:"warmup_s,omitempty"`
	CPUs            int      `json:"cpus"`
	Routes          []Route  `json:"routes"`
	Errors          []string `json:"first_errors,omitempty"`
	ServerLogErrors int      `json:"server_log_errors"`
	// ServerCPU and LoadCPU are the CPU seconds the server and the load
	// generator (this process) used during the run.
	ServerCPU float64 `json:"server_cpu_s"`
	LoadCPU   float64 `json:"load_cpu_s"`
	// FindsPerQuery is how many finds the server answered per database
	// query (its butler_find_batch_size metric over the whole run).
	FindsPerQuery float64  `json:"finds_per_query,omitempty"`
	Samples       []Sample `json:"server_samples"`
}

const label = "main"

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Exposures, 5000)
	def(&o.Detectors, 205)
	def(&o.PerNight, 250)
	def(&o.Batch, 50000)
	def(&o.Files, 200)
	def(&o.FileSize, 4096)
	def(&o.Clients, 500)
	if o.Duration == 0 {
		o.Duration = 30 * time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = 5 * time.Second
	}
	o.Warmup = max(o.Warmup, 0)
	if o.Find == 0 && o.Query == 0 && o.Download == 0 {
		o.Find, o.Query, o.Download = 90, 5, 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// filesRun holds the datasets with files.
const filesRun = "bench/files"

// Run builds (when needed) and measures.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	if o.Binary == "" || o.Repo == "" {
		return nil, fmt.Errorf("serve load: %w: a binary and a repository are needed", errs.ErrInvalid)
	}
	if o.Clients < 1 || o.Duration <= 0 || o.Rate < 0 || o.Find < 0 || o.Query < 0 || o.Download < 0 || o.Find+o.Query+o.Download == 0 {
		return nil, fmt.Errorf("serve load: %w: clients, duration and the mix must be positive", errs.ErrInvalid)
	}
	rep := &Report{Repo: o.Repo, DB: "sqlite", Clients: o.Clients, Rate: o.Rate, CPUs: numCPU()}
	if _, err := os.Stat(filepath.Join(o.Repo, "butler.yaml")); errors.Is(err, os.ErrNotExist) {
		st, err := benchrepo.Build(ctx, o.Repo, benchrepo.Options{Exposures: o.Exposures, Detectors: o.Detectors, PerNight: o.PerNight,
			Batch: o.Batch, DB: o.DB, Namespace: o.Namespace, Logger: o.Logger, Progress: func(done, total int, el time.Duration) {
				fmt.Fprintf(o.Progress, "\rimported %d/%d raws (%.0f/s)", done, total, float64(done)/el.Seconds())
			}})
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(o.Progress)
		rep.Build = &st
	} else if err != nil {
		return nil, err
	}
	if cfg, err := os.ReadFile(filepath.Join(o.Repo, "butler.yaml")); err == nil && bytes.Contains(cfg, []byte("postgresql")) {
		rep.DB = "postgresql"
	}
	w, err := prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	rep.Datasets = w.raws
	dir, err := os.MkdirTemp("", "butler-serveload-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tokens, err := makeTokens(dir, o.Clients)
	if err != nil {
		return nil, err
	}
	srv, err := startServer(ctx, o, dir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	w.path = "/api/butler/repo/" + label + "/"
	w.base = srv.url + w.path
	w.findBody = [3]string{`{"dataset_type":"raw","data_id":{"instrument":"LSSTCam","exposure":`, `,"detector":`,
		`},"collections":[` + strconv.Quote(benchrepo.Run) + `],"timespan":null}`}
	w.queryBody = [2]string{`{"collections":[` + strconv.Quote(benchrepo.Run) + `],"name":["raw"],"find_first":true,"data_id":{"instrument":"LSSTCam","exposure":`,
		`},"where":"","bind":{},"limit":null,"with_dimension_records":false}`}
	w.tokens = tokens
	return rep, w.run(ctx, o, srv, rep)
}

// workload is what the clients ask for.
type workload struct {
	exposures []int64
	detectors []int64
	files     []dataset.Ref
	raws      int
	base      string // the repository's URL
	path      string // and its path
	tokens    []string
	// The request bodies of a find (around the exposure and the detector)
	// and a query (around the exposure).
	findBody  [3]string
	queryBody [2]string
}

// prepare puts the files (once) and reads the data IDs the clients use.
func prepare(ctx context.Context, o Options) (*workload, error) {
	b, err := butler.Open(ctx, o.Repo, butler.OpenOptions{Writeable: true, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	w := &workload{}
	err = b.EachRecord(ctx, "exposure", func(r dimensions.Record) error {
		w.exposures = append(w.exposures, r.DataID()["exposure"].(int64))
		return nil
	})
	if err != nil || len(w.exposures) == 0 {
		return nil, fmt.Errorf("serve load: %s has no exposures (%v): not a `butler bench` repository", o.Repo, err)
	}
	for r, err := range b.Query().Collections(benchrepo.Run).DataID(dimensions.DataID{"instrument": "LSSTCam", "exposure": w.exposures[0]}).Datasets(ctx, "raw") {
		if err != nil {
			return nil, err
		}
		w.detectors = append(w.detectors, r.DataID["detector"].(int64))
	}
	if w.raws, err = b.Query().Collections(benchrepo.Run).Count(ctx, "raw"); err != nil {
		return nil, err
	}
	if _, err := b.DatasetType(ctx, "bench_file"); errors.Is(err, errs.ErrNotFound) {
		if _, err := b.RegisterDatasetType(ctx, "bench_file", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	for r, err := range b.Query().Collections(filesRun).Datasets(ctx, "bench_file") {
		if errors.Is(err, errs.ErrNotFound) {
			break // no files yet: the run does not exist
		}
		if err != nil {
			return nil, err
		}
		w.files = append(w.files, r)
	}
	for i := len(w.files); i < min(o.Files, len(w.detectors)); i++ {
		data := fmt.Sprintf("detector: %d\npadding: %s\n", w.detectors[i], strings.Repeat("x", max(o.FileSize-40, 0)))
		ref, err := b.Put(ctx, []byte(data), "bench_file", dimensions.DataID{"instrument": "LSSTCam", "detector": w.detectors[i]}, filesRun)
		if err != nil {
			return nil, err
		}
		w.files = append(w.files, ref)
	}
	return w, nil
}

// makeTokens writes a tokens file with one token per client.
func makeTokens(dir string, n int) ([]string, error) {
	path := filepath.Join(dir, "tokens.yaml")
	out := make([]string, n)
	for i := range n {
		tok, _, err := server.CreateToken(path, fmt.Sprintf("load%d", i), []string{"bench"})
		if err != nil {
			return nil, err
		}
		out[i] = tok
	}
	return out, nil
}

// served is the running `butler serve`.
type served struct {
	cmd       *exec.Cmd
	url       string
	logErrors func() int
	done      chan struct{}
}

func startServer(ctx context.Context, o Options, dir string) (*served, error) {
	repos := filepath.Join(dir, "repositories.yaml")
	if err := os.WriteFile(repos, []byte(label+": {config: "+strconv.Quote(o.Repo)+", groups: [bench]}\n"), 0o600); err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--repositories", repos, "--auth", "tokens", "--tokens", filepath.Join(dir, "tokens.yaml")}, o.ServeArgs...)
	cmd := exec.Command(o.Binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", o.Binary, err)
	}
	s := &served{cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	var mu sync.Mutex
	var errLines int
	var first []string
	go func() { // read the log to its end: the access log is part of the cost
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var l struct{ Level, Msg, URL string }
			if !bytes.Contains(line, []byte(`"msg":"request"`)) {
				json.Unmarshal(line, &l)
			}
			switch {
			case l.Msg == "listening":
				ready <- l.URL
			case l.Level == "ERROR" && l.Msg != "request": // not the access log's line of a 503
				mu.Lock()
				errLines++
				if len(first) < 5 {
					first = append(first, string(line))
				}
				mu.Unlock()
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(first) > 0 {
			o.Logger.Warn("server errors", "first", first)
		}
	}()
	s.logErrors = func() int {
		mu.Lock()
		defer mu.Unlock()
		return errLines
	}
	select {
	case s.url = <-ready:
		return s, nil
	case <-s.done:
		cmd.Wait()
		return nil, fmt.Errorf("%s serve exited before listening (%v)", o.Binary, cmd.ProcessState)
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s serve: not listening after 60 s", o.Binary)
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

// stop ends the server as an operator does (SIGTERM) and waits for it.
func (s *served) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(40 * time.Second):
		s.cmd.Process.Kill()
	}
	s.cmd.Wait()
}

// op is one kind of client operation.
type op int

const (
	opFind op = iota
	opQuery
	opGetFile
	opDownload
	nOps
)

var opNames = [nOps]string{"find_dataset", "query_all_datasets", "get_file", "download"}

// tally is what one client measured.
type tally struct {
	lat     [nOps][]time.Duration
	warm    [nOps][]time.Duration // latencies of the warm-up, apart
	from    time.Time             // the measured run's start
	errors  [nOps]int
	refused [nOps]int
	late    int // open loop: requests sent behind their scheduled time
	first   []string
}

func (t *tally) fail(o op, format string, args ...any) {
	t.errors[o]++
	if len(t.first) < 3 {
		t.first = append(t.first, opNames[o]+": "+fmt.Sprintf(format, args...))
	}
}

func (w *workload) run(ctx context.Context, o Options, srv *served, rep *Report) error {
	u, err := url.Parse(w.base)
	if err != nil {
		return err
	}
	pid := srv.cmd.Process.Pid
	begin := time.Now() // of the warm-up; the measured run starts after it
	start := begin.Add(o.Warmup)
	stop := start.Add(o.Duration)
	runCtx, cancel := context.WithDeadline(ctx, stop)
	defer cancel()
	// Downloads from elsewhere than the server (an S3 datastore's presigned
	// URLs) go through net/http.
	tr := &http.Transport{MaxIdleConns: o.Clients + 10, MaxIdleConnsPerHost: o.Clients + 10, DisableCompression: true, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	other := &http.Client{Transport: tr, Timeout: time.Minute}
	// The server's memory and CPU, once a second.
	var samples []Sample
	sampled := make(chan struct{})
	var cpu0, self0 float64
	go func() {
		defer close(sampled)
		select { // the counters start with the measured run
		case <-time.After(time.Until(start)):
		case <-runCtx.Done():
		}
		cpu0, _ = procCPU(pid)
		self0 = selfCPU()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			rss, _ := procRSS(pid)
			cpu, _ := procCPU(pid)
			samples = append(samples, Sample{Seconds: round(time.Since(start).Seconds(), 1), RSSMiB: round(rss, 1), CPU: round(cpu-cpu0, 2)})
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
				if n := len(samples); n%5 == 0 {
					fmt.Fprintf(o.Progress, "t=%ds rss=%.0f MiB\n", n, rss)
				}
			}
		}
	}()
	tallies := make([]*tally, o.Clients)
	var wg sync.WaitGroup
	for i := range o.Clients {
		c := &client{w: w, o: o, t: &tally{from: start}, rng: rand.New(rand.NewPCG(uint64(i), 42)), other: other,
			conn: &httpConn{addr: u.Host, deadline: stop}, host: u.Host, token: w.tokens[i]}
		tallies[i] = c.t
		if o.Rate > 0 {
			// Open loop: the clients share the rate, each on a fixed
			// schedule offset from the others'.
			period := time.Duration(float64(o.Clients) / o.Rate * float64(time.Second))
			first := begin.Add(period * time.Duration(i) / time.Duration(o.Clients))
			wg.Go(func() { c.scheduled(runCtx, begin, first, period, stop) })
		} else {
			wg.Go(func() { c.closed(runCtx) })
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	<-sampled
	rep.Warmup = o.Warmup.Seconds()
	cpu1, _ := procCPU(pid)
	rep.Seconds = round(elapsed.Seconds(), 2)
	rep.ServerCPU = round(cpu1-cpu0, 2)
	rep.LoadCPU = round(selfCPU()-self0, 2)
	rep.Samples = samples
	for k := range nOps {
		var lat, warm []time.Duration
		r := Route{Route: opNames[k]}
		for _, t := range tallies {
			lat = append(lat, t.lat[k]...)
			warm = append(warm, t.warm[k]...)
			r.Errors += t.errors[k]
			r.Refused += t.refused[k]
		}
		slices.Sort(lat)
		r.Requests = len(lat)
		r.PerSecond = round(float64(len(lat))/elapsed.Seconds(), 0)
		if len(lat) > 0 {
			ms := func(p float64) float64 { return round(float64(lat[int(p*float64(len(lat)-1))])/1e6, 2) }
			r.P50MS, r.P99MS, r.MaxMS = ms(.5), ms(.99), ms(1)
		}
		if len(warm) > 0 {
			slices.Sort(warm)
			r.WarmupRequests = len(warm)
			r.WarmupP99MS = round(float64(warm[int(.99*float64(len(warm)-1))])/1e6, 2)
		}
		rep.Routes = append(rep.Routes, r)
	}
	for _, t := range tallies {
		rep.Late += t.late
		for _, e := range t.first {
			if len(rep.Errors) < 10 {
				rep.Errors = append(rep.Errors, e)
			}
		}
	}
	rep.ServerLogErrors = srv.logErrors()
	rep.FindsPerQuery = findsPerQuery(ctx, srv.url)
	return nil
}

// client is one simulated client: its token, its connection and what it
// measured.
type client struct {
	w           *workload
	o           Options
	t           *tally
	rng         *rand.Rand
	conn        *httpConn
	host, token string
	other       *http.Client
	req, head   []byte // the request's body and the whole request, reused
}

// closed runs operations back to back until ctx ends (closed loop: the
// next request waits for the last answer, so the clients' rate is what the
// server sustains).
func (c *client) closed(ctx context.Context) {
	for ctx.Err() == nil {
		c.op(ctx, time.Now(), true)
	}
}

// scheduled runs one operation every period from first until stop (open
// loop, as wrk2 does): an operation is sent at its scheduled time, or at
// once when the last answer came after it, and its latency counts from
// the scheduled time, so a slow answer delays and is charged to the
// operations scheduled behind it (no coordinated omission). During the
// warm-up (from begin to the tally's from) the rate ramps up from a tenth
// of the full rate, so that the measured run starts from the steady state
// rather than from the backlog of 500 clients connecting at once.
func (c *client) scheduled(ctx context.Context, begin, first time.Time, period time.Duration, stop time.Time) {
	timer := time.NewTimer(0) // one per client, reset for each wait
	defer timer.Stop()
	<-timer.C
	warm := c.t.from.Sub(begin)
	for v := first.Sub(begin); ctx.Err() == nil; v += period {
		at := begin.Add(rampTime(v, warm))
		if !at.Before(stop) {
			return
		}
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if d < -time.Millisecond && !at.Before(c.t.from) {
			c.t.late++
		}
		c.op(ctx, at, false)
	}
}

// rampTime maps a schedule at the full rate onto one whose rate ramps up
// during a warm-up of length warm: the rate is max(0.1, t/warm) of the full
// rate at time t, and the operation due at v on the full-rate schedule is
// sent when the ramped schedule has done as much (v = the integral of the
// rate to t), so the full rate holds from the end of the warm-up on.
func rampTime(v, warm time.Duration) time.Duration {
	if warm <= 0 {
		return v
	}
	w, x := warm.Seconds(), v.Seconds()
	var t float64
	switch {
	case x <= 0.01*w: // the first tenth of the warm-up, at a tenth of the rate
		t = 10 * x
	case x <= 0.505*w: // then linearly up to the full rate
		t = math.Sqrt(2 * w * (x - 0.005*w))
	default:
		t = w + x - 0.505*w
	}
	return time.Duration(t * float64(time.Second))
}

// op runs one operation chosen by the mix; latencies count from at.
func (c *client) op(ctx context.Context, at time.Time, wait bool) {
	w, o := c.w, c.o
	rng := c.rng
	exp := w.exposures[rng.IntN(len(w.exposures))]
	switch n := rng.IntN(o.Find + o.Query + o.Download); {
	case n < o.Find:
		det := w.detectors[rng.IntN(len(w.detectors))]
		body := append(append(append(append(append(c.body(), w.findBody[0]...), strconv.FormatInt(exp, 10)...), w.findBody[1]...), strconv.FormatInt(det, 10)...), w.findBody[2]...)
		c.call(ctx, at, wait, opFind, "POST", w.path+"v1/find_dataset", true, body, func(data []byte) error {
			if !bytes.Contains(data, []byte(`"dataset_ref":{`)) {
				return fmt.Errorf("no dataset found: %.200s", data)
			}
			return nil
		})
	case n < o.Find+o.Query:
		body := append(append(append(c.body(), w.queryBody[0]...), strconv.FormatInt(exp, 10)...), w.queryBody[1]...)
		c.call(ctx, at, wait, opQuery, "POST", w.path+"v1/query/all_datasets", true, body, func(data []byte) error {
			if bytes.Contains(data, []byte(`"type":"error"`)) {
				return fmt.Errorf("query failed: %.300s", data)
			}
			if n := bytes.Count(data, []byte(`"run":`)); n != len(w.detectors) {
				return fmt.Errorf("exposure %d: %d raws, want %d", exp, n, len(w.detectors))
			}
			return nil
		})
	default:
		if len(w.files) == 0 {
			return
		}
		f := w.files[rng.IntN(len(w.files))]
		var link string
		var size int64
		ok := c.call(ctx, at, wait, opGetFile, "GET", w.path+"v1/get_file/"+f.ID.String(), true, nil, func(data []byte) error {
			var resp struct {
				Artifact struct {
					FileInfo []struct {
						URL     string `json:"url"`
						Records struct {
							FileSize int64 `json:"file_size"`
						} `json:"datastoreRecords"`
					} `json:"file_info"`
				} `json:"artifact"`
			}
			if err := json.Unmarshal(data, &resp); err != nil || len(resp.Artifact.FileInfo) != 1 {
				return fmt.Errorf("get_file %s: %v: %.200s", f.ID, err, data)
			}
			link, size = resp.Artifact.FileInfo[0].URL, resp.Artifact.FileInfo[0].Records.FileSize
			return nil
		})
		if !ok {
			return
		}
		check := func(data []byte) error {
			if int64(len(data)) != size {
				return fmt.Errorf("%s: %d bytes, want %d", f.ID, len(data), size)
			}
			return nil
		}
		u, err := url.Parse(link)
		if err != nil {
			c.t.fail(opDownload, "%v", err)
			return
		}
		if u.Scheme == "http" && u.Host == c.host {
			c.call(ctx, time.Now(), wait, opDownload, "GET", u.RequestURI(), false, nil, check)
		} else {
			c.callOther(ctx, link, check)
		}
	}
}

// body returns the reused request buffer, emptied.
func (c *client) body() []byte { return c.req[:0] }

// call makes one request on the client's connection and checks its answer;
// 429 and 503 are counted apart and, in a closed loop, waited out as their
// Retry-After says. A request cut by the end of the run counts for nothing.
func (c *client) call(ctx context.Context, at time.Time, wait bool, o op, method, path string, auth bool, body []byte, check func([]byte) error) bool {
	// The request line and headers go before the body, in one buffer.
	head := append(c.head[:0], method...)
	head = append(append(append(head, ' '), path...), " HTTP/1.1\r\nHost: "...)
	head = append(head, c.host...)
	if auth {
		head = append(append(head, "\r\nAuthorization: Bearer "...), c.token...)
	}
	if body != nil {
		head = append(head, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		head = strconv.AppendInt(head, int64(len(body)), 10)
	}
	head = append(append(head, "\r\n\r\n"...), body...)
	c.head = head // both buffers, grown, are kept for the next request
	if body != nil {
		c.req = body
	}
	a, err := c.conn.roundTrip(head)
	d := time.Since(at)
	if ctx.Err() != nil || time.Now().After(c.conn.deadline) {
		return false
	}
	if err != nil {
		c.t.fail(o, "%v", err)
		return false
	}
	return c.tally(ctx, o, at, d, wait, a, check)
}

// tally counts an answer to a request scheduled (or sent) at at.
func (c *client) tally(ctx context.Context, o op, at time.Time, d time.Duration, wait bool, a answer, check func([]byte) error) bool {
	t := c.t
	switch {
	case a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable:
		t.refused[o]++
		if wait {
			select {
			case <-time.After(time.Duration(max(a.retryAfter, 1)) * time.Second):
			case <-ctx.Done():
			}
		}
		return false
	case a.status != http.StatusOK:
		t.fail(o, "status %d: %.200s", a.status, a.body)
		return false
	}
	if err := check(a.body); err != nil {
		t.fail(o, "%v", err)
		return false
	}
	if at.Before(t.from) {
		t.warm[o] = append(t.warm[o], d)
	} else {
		t.lat[o] = append(t.lat[o], d)
	}
	return true
}

// callOther downloads from a URL off the server (net/http).
func (c *client) callOther(ctx context.Context, link string, check func([]byte) error) {
	req, err := http.NewRequestWithContext(ctx, "GET", link, nil)
	if err != nil {
		c.t.fail(opDownload, "%v", err)
		return
	}
	start := time.Now()
	resp, err := c.other.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			c.t.fail(opDownload, "%v", err)
		}
		return
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		c.t.fail(opDownload, "%v", err)
		return
	}
	c.tally(ctx, opDownload, start, d, false, answer{status: resp.StatusCode, body: data}, check)
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

// findsPerQuery reads the server's butler_find_batch_size sum and count
// from its /metrics; 0 when it cannot.
func findsPerQuery(ctx context.Context, base string) float64 {
	u, err := url.Parse(base)
	if err != nil {
		return 0
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u.Scheme+"://"+u.Host+"/metrics", nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var sum, count float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			continue
		}
		switch name {
		case "butler_find_batch_size_sum":
			sum = f
		case "butler_find_batch_size_count":
			count = f
		}
	}
	if count == 0 {
		return 0
	}
	return round(sum/count, 2)
}
