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
	"math/rand/v2"
	"net/http"
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
	Errors    int     `json:"errors"`
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
	Repo            string           `json:"repo"`
	DB              string           `json:"db"`
	Datasets        int              `json:"raws"`
	Build           *benchrepo.Stats `json:"build,omitempty"`
	Clients         int              `json:"clients"`
	Seconds         float64          `json:"seconds"`
	CPUs            int              `json:"cpus"`
	Routes          []Route          `json:"routes"`
	Errors          []string         `json:"first_errors,omitempty"`
	ServerLogErrors int              `json:"server_log_errors"`
	// ServerCPU and LoadCPU are the CPU seconds the server and the load
	// generator (this process) used during the run.
	ServerCPU float64  `json:"server_cpu_s"`
	LoadCPU   float64  `json:"load_cpu_s"`
	Samples   []Sample `json:"server_samples"`
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
	if o.Clients < 1 || o.Duration <= 0 || o.Find < 0 || o.Query < 0 || o.Download < 0 || o.Find+o.Query+o.Download == 0 {
		return nil, fmt.Errorf("serve load: %w: clients, duration and the mix must be positive", errs.ErrInvalid)
	}
	rep := &Report{Repo: o.Repo, DB: "sqlite", Clients: o.Clients, CPUs: numCPU()}
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
	w.base = srv.url + "/api/butler/repo/" + label + "/"
	w.tokens = tokens
	return rep, w.run(ctx, o, srv, rep)
}

// workload is what the clients ask for.
type workload struct {
	exposures []int64
	detectors []int64
	files     []dataset.Ref
	raws      int
	base      string
	tokens    []string
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
	errors  [nOps]int
	refused [nOps]int
	first   []string
}

func (t *tally) fail(o op, format string, args ...any) {
	t.errors[o]++
	if len(t.first) < 3 {
		t.first = append(t.first, opNames[o]+": "+fmt.Sprintf(format, args...))
	}
}

func (w *workload) run(ctx context.Context, o Options, srv *served, rep *Report) error {
	tr := &http.Transport{MaxIdleConns: o.Clients + 10, MaxIdleConnsPerHost: o.Clients + 10, DisableCompression: true, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	pid := srv.cmd.Process.Pid
	cpu0, _ := procCPU(pid)
	self0 := selfCPU()
	start := time.Now()
	stop := start.Add(o.Duration)
	runCtx, cancel := context.WithDeadline(ctx, stop)
	defer cancel()
	// The server's memory and CPU, once a second.
	var samples []Sample
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
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
	for c := range o.Clients {
		t := &tally{}
		tallies[c] = t
		wg.Go(func() { w.client(runCtx, hc, o, c, t) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	<-sampled
	cpu1, _ := procCPU(pid)
	rep.Seconds = round(elapsed.Seconds(), 2)
	rep.ServerCPU = round(cpu1-cpu0, 2)
	rep.LoadCPU = round(selfCPU()-self0, 2)
	rep.Samples = samples
	for k := range nOps {
		var lat []time.Duration
		r := Route{Route: opNames[k]}
		for _, t := range tallies {
			lat = append(lat, t.lat[k]...)
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
		rep.Routes = append(rep.Routes, r)
	}
	for _, t := range tallies {
		for _, e := range t.first {
			if len(rep.Errors) < 10 {
				rep.Errors = append(rep.Errors, e)
			}
		}
	}
	rep.ServerLogErrors = srv.logErrors()
	return nil
}

// client runs operations back to back until ctx ends.
func (w *workload) client(ctx context.Context, hc *http.Client, o Options, c int, t *tally) {
	rng := rand.New(rand.NewPCG(uint64(c), 42))
	token := w.tokens[c]
	total := o.Find + o.Query + o.Download
	for ctx.Err() == nil {
		exp := w.exposures[rng.IntN(len(w.exposures))]
		switch n := rng.IntN(total); {
		case n < o.Find:
			det := w.detectors[rng.IntN(len(w.detectors))]
			body := fmt.Sprintf(`{"dataset_type":"raw","data_id":{"instrument":"LSSTCam","exposure":%d,"detector":%d},"collections":[%q],"timespan":null}`, exp, det, benchrepo.Run)
			w.call(ctx, hc, t, opFind, token, "POST", w.base+"v1/find_dataset", body, func(data []byte) error {
				if !bytes.Contains(data, []byte(`"dataset_ref":{`)) {
					return fmt.Errorf("no dataset found: %.200s", data)
				}
				return nil
			})
		case n < o.Find+o.Query:
			body := fmt.Sprintf(`{"collections":[%q],"name":["raw"],"find_first":true,"data_id":{"instrument":"LSSTCam","exposure":%d},"where":"","bind":{},"limit":null,"with_dimension_records":false}`, benchrepo.Run, exp)
			w.call(ctx, hc, t, opQuery, token, "POST", w.base+"v1/query/all_datasets", body, func(data []byte) error {
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
				continue
			}
			f := w.files[rng.IntN(len(w.files))]
			var url string
			var size int64
			ok := w.call(ctx, hc, t, opGetFile, token, "GET", w.base+"v1/get_file/"+f.ID.String(), "", func(data []byte) error {
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
				url, size = resp.Artifact.FileInfo[0].URL, resp.Artifact.FileInfo[0].Records.FileSize
				return nil
			})
			if ok {
				w.call(ctx, hc, t, opDownload, "", "GET", url, "", func(data []byte) error {
					if int64(len(data)) != size {
						return fmt.Errorf("%s: %d bytes, want %d", f.ID, len(data), size)
					}
					return nil
				})
			}
		}
	}
}

// call makes one request and checks its answer; 429 and 503 are counted
// apart and waited out as their Retry-After says. A request cut by the end
// of the run counts for nothing.
func (w *workload) call(ctx context.Context, hc *http.Client, t *tally, o op, token, method, url, body string, check func([]byte) error) bool {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.fail(o, "%v", err)
		return false
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			t.fail(o, "%v", err)
		}
		return false
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if ctx.Err() != nil {
		return false
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		t.refused[o]++
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		select {
		case <-time.After(time.Duration(max(wait, 1)) * time.Second):
		case <-ctx.Done():
		}
		return false
	case err != nil:
		t.fail(o, "%v", err)
		return false
	case resp.StatusCode != http.StatusOK:
		t.fail(o, "status %d: %.200s", resp.StatusCode, data)
		return false
	}
	if err := check(data); err != nil {
		t.fail(o, "%v", err)
		return false
	}
	t.lat[o] = append(t.lat[o], d)
	return true
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}
