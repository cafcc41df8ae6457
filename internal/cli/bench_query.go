package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/benchrepo"
	"github.com/spf13/cobra"
)

type benchQueryOptions struct {
	exposures, detectors, perNight int
	repeat, batch                  int
	detector                       int64
	repo, db, namespace, binary    string
	format, only                   string
	buildOnly                      bool
}

func newBenchQueryCmd(g *globals) *cobra.Command {
	var o benchQueryOptions
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Measure queries on a large registry-only raw repository (built without any file)",
		Long: `Build a registry-only LSSTCam repository of exposures × detectors raw datasets (no
files: records and datasets are inserted directly), then time query commands on it,
in-process and as the real binary: one exposure, one detector over one day, a
find-first listing of every raw as CSV, query-data-ids and query-dimension-records
of one day. An existing repository at --repo is measured as it is.`,
		Example: `  butler bench query --exposures 5000 --detectors 205 --repo /tmp/bq1m
  butler bench query --repo /tmp/bqpg --db postgresql://localhost:5432/butler --namespace bq1m`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error { return runBenchQuery(c.Context(), g, o) },
	}
	f := cmd.Flags()
	f.IntVar(&o.exposures, "exposures", 5000, "exposures to create")
	f.IntVar(&o.detectors, "detectors", 205, "detectors per exposure (at most 205)")
	f.IntVar(&o.perNight, "per-night", 250, "exposures per observing day")
	f.IntVar(&o.repeat, "repeat", 5, "runs of each query (the median is reported)")
	f.IntVar(&o.batch, "batch", 50000, "datasets per import transaction")
	f.Int64Var(&o.detector, "detector", 42, "detector of the one-detector-over-a-day query")
	f.StringVar(&o.repo, "repo", "", "repository root (required; built unless it already holds a repository)")
	f.StringVar(&o.db, "db", "", "registry database URL (postgresql://HOST:PORT/DB; credentials from db-auth); default SQLite in the repository")
	f.StringVar(&o.namespace, "namespace", "", "PostgreSQL schema of the registry (with --db)")
	f.StringVar(&o.binary, "binary", "", "butler binary to time as a subprocess (default: this executable)")
	f.BoolVar(&o.buildOnly, "build-only", false, "build the repository, measure nothing")
	f.StringVar(&o.only, "only", "", "measure only the queries whose name matches this regular expression")
	cmd.MarkFlagRequired("repo")
	addFormatFlag(cmd, &o.format)
	return cmd
}

// listingCase names the full find-first listing, whose rows are every raw.
const listingCase = "listing, find-first csv"

// benchQueryCase is one timed command line; rows is what it printed (data rows).
type benchQueryCase struct {
	Name  string   `json:"name"`
	Args  []string `json:"args"`
	Rows  int      `json:"rows"`
	InMS  float64  `json:"in_process_ms"`
	BinMS float64  `json:"binary_ms"`
	// BinCPUMS is the binary's user+system CPU time: steadier than wall
	// time on a shared machine.
	BinCPUMS float64 `json:"binary_cpu_ms"`
	MaxRSS   float64 `json:"binary_max_rss_mib"`
	// MaxAnon is the peak of the anonymous part of the RSS: what the process
	// allocated, without the file pages it maps (SQLite's memory map).
	MaxAnon float64 `json:"binary_max_anon_mib"`
	// RowsPerS is the binary's listing rate (listing only).
	RowsPerS   float64 `json:"binary_rows_per_s,omitempty"`
	InRowsPerS float64 `json:"in_process_rows_per_s,omitempty"`
	listing    bool
	format     string
}

func runBenchQuery(ctx context.Context, g *globals, o benchQueryOptions) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	if o.repeat < 1 || o.batch < 1 || o.perNight < 1 {
		return usagef("--repeat, --batch and --per-night must be positive")
	}
	out := map[string]any{"cpus": runtime.NumCPU(), "repo": o.repo, "db": "sqlite"}
	if o.db != "" {
		out["db"] = "postgresql"
	}
	if _, err := os.Stat(filepath.Join(o.repo, "butler.yaml")); errors.Is(err, os.ErrNotExist) {
		if n := benchrepo.MaxDetectors(); o.detectors < 1 || o.detectors > n {
			return usagef("--detectors %d: want 1..%d", o.detectors, n)
		}
		if o.exposures < 1 {
			return usagef("--exposures %d: want at least 1", o.exposures)
		}
		st, err := benchrepo.Build(ctx, o.repo, benchrepo.Options{Exposures: o.exposures, Detectors: o.detectors, PerNight: o.perNight, Batch: o.batch,
			DB: o.db, Namespace: o.namespace, Logger: g.log, Progress: func(done, total int, el time.Duration) {
				fmt.Fprintf(g.stderr, "\rimported %d/%d raws (%.0f/s)", done, total, float64(done)/el.Seconds())
			}})
		if err != nil {
			return err
		}
		fmt.Fprintln(g.stderr)
		out["build"] = map[string]any{
			"exposures": st.Exposures, "detectors": st.Detectors, "datasets": st.Datasets,
			"records_seconds": st.RecordsSeconds, "insert_seconds": st.InsertSeconds,
			"seconds": st.Seconds, "datasets_per_s": st.DatasetsPerS,
		}
	} else if err != nil {
		return err
	} else {
		fmt.Fprintf(g.stderr, "measuring the existing repository %s\n", o.repo)
	}
	if o.buildOnly {
		return renderValue(g.stdout, "json", out)
	}
	bin := o.binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the butler executable: %w", err)
		}
		bin = exe
	}
	cases, err := queryCases(ctx, g, o)
	if err != nil {
		return err
	}
	if o.only != "" {
		re, err := regexp.Compile(o.only)
		if err != nil {
			return usagef("--only %q: %v", o.only, err)
		}
		cases = slices.DeleteFunc(cases, func(c benchQueryCase) bool { return !re.MatchString(c.Name) })
	}
	for i := range cases {
		if err := timeCase(ctx, bin, o.repeat, &cases[i]); err != nil {
			return err
		}
		c := cases[i]
		fmt.Fprintf(g.stderr, "%-28s %8d rows  in-process %8.1f ms  binary %8.1f ms (cpu %8.1f ms)  %6.1f MiB (anon %6.1f)\n", c.Name, c.Rows, c.InMS, c.BinMS, c.BinCPUMS, c.MaxRSS, c.MaxAnon)
	}
	out["queries"] = cases
	out["repeat"] = o.repeat
	if o.format != "table" {
		return renderValue(g.stdout, o.format, out)
	}
	t := &table{cols: []string{"query", "rows", "in-process ms", "binary ms", "binary cpu ms", "max RSS MiB", "max anon MiB", "binary rows/s"}}
	for _, c := range cases {
		rate := ""
		if c.listing {
			rate = fmt.Sprintf("%.0f", c.RowsPerS)
		}
		t.add(nil, c.Name, fmt.Sprint(c.Rows), fmt.Sprintf("%.1f", c.InMS), fmt.Sprintf("%.1f", c.BinMS), fmt.Sprintf("%.1f", c.BinCPUMS), fmt.Sprintf("%.1f", c.MaxRSS), fmt.Sprintf("%.1f", c.MaxAnon), rate)
	}
	if st, ok := out["build"].(map[string]any); ok {
		fmt.Fprintf(g.stdout, "built %v datasets (%v exposures) in %.1f s: %.0f datasets/s\n\n", st["datasets"], st["exposures"], st["seconds"], st["datasets_per_s"])
	}
	return render(g.stdout, "table", t)
}

// queryCases picks the exposure, day and detector of the selective queries
// from the repository's own records, so an existing repository works too.
func queryCases(ctx context.Context, g *globals, o benchQueryOptions) ([]benchQueryCase, error) {
	b, err := g.open(ctx, o.repo, false)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	var ids []int64
	days := map[int64]int64{}
	err = b.QueryRecords(ctx, butler.RecordSearch{Element: "exposure", DataID: dimensions.DataID{"instrument": "LSSTCam"}}, func(r dimensions.Record) error {
		id, _ := r.Values["id"].(int64)
		day, _ := r.Values["day_obs"].(int64)
		ids = append(ids, id)
		days[id] = day
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("bench query %s: no LSSTCam exposure records", o.repo)
	}
	slices.Sort(ids)
	exp := ids[len(ids)/2]
	day := days[exp]
	repo := o.repo
	coll := []string{"--collections", "LSSTCam/raw/all"}
	qd := func(extra ...string) []string {
		return append(append([]string{"query-datasets", repo, "raw"}, coll...), extra...)
	}
	return []benchQueryCase{
		{Name: "process start (--help)", Args: []string{"--help"}, format: "text"},
		{Name: "query-collections", Args: []string{"query-collections", repo}, format: "table"},
		{Name: "one exposure", Args: qd("--where", fmt.Sprintf("exposure = %d", exp)), format: "table"},
		{Name: "one detector, one day", Args: qd("--where", fmt.Sprintf("detector = %d AND exposure.day_obs = %d", o.detector, day)), format: "table"},
		{Name: listingCase, Args: qd("--find-first", "--format", "csv", "--limit", "0"), format: "csv", listing: true},
		{Name: "data IDs, exposure, one day", Args: []string{"query-data-ids", repo, "exposure", "--where", fmt.Sprintf("instrument = 'LSSTCam' AND exposure.day_obs = %d", day)}, format: "table"},
		{Name: "exposure records, one day", Args: []string{"query-dimension-records", repo, "exposure", "--where", fmt.Sprintf("instrument = 'LSSTCam' AND day_obs = %d", day)}, format: "table"},
	}, nil
}

// lineCounter counts the non-blank lines written to it.
type lineCounter struct {
	n    int
	prev byte
}

func (c *lineCounter) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.prev = p[len(p)-1]
			break
		}
		if i > 0 || (c.prev != '\n' && c.prev != 0) {
			c.n++
		}
		c.prev, p = '\n', p[i+1:]
	}
	return written, nil
}

// dataRows converts printed non-blank lines into data rows: a table has a
// header and a dashed line, CSV a header.
func dataRows(format string, lines int) int {
	switch format {
	case "csv":
		return max(lines-1, 0)
	case "table":
		return max(lines-2, 0)
	}
	return lines
}

// timeCase runs a case repeat times in-process (through Main, output counted
// and discarded) and as the binary (output to /dev/null), keeping medians.
func timeCase(ctx context.Context, bin string, repeat int, c *benchQueryCase) error {
	var in, sub, cpu []float64
	for range repeat {
		var lc lineCounter
		var errBuf bytes.Buffer
		t0 := time.Now()
		if code := Main(ctx, c.Args, strings.NewReader(""), &lc, &errBuf); code != ExitOK {
			return fmt.Errorf("bench query: butler %s: exit %d: %s", strings.Join(c.Args, " "), code, errBuf.String())
		}
		in = append(in, time.Since(t0).Seconds())
		c.Rows = dataRows(c.format, lc.n) // blank lines (around query-datasets tables) are not counted
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	run := func(sample bool) (seconds, cpuSeconds float64, rssKiB, anonKiB int64, err error) {
		cmd := exec.CommandContext(ctx, bin, c.Args...)
		var errBuf bytes.Buffer
		cmd.Stdout, cmd.Stderr = devnull, &errBuf
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("bench query: start %s: %w", bin, err)
		}
		// The child's rusage peak counts the parent's memory at fork (Linux
		// charges the pre-exec address space to it), so the peak is sampled
		// from /proc while it runs, in a run of its own that is not timed.
		stop := make(chan struct{})
		peaks := make(chan [2]int64, 1)
		if sample {
			go func() {
				hwm, anon := sampleRSS(cmd.Process.Pid, stop)
				peaks <- [2]int64{hwm, anon}
			}()
		} else {
			peaks <- [2]int64{}
		}
		err = cmd.Wait()
		seconds = time.Since(t0).Seconds()
		close(stop)
		p := <-peaks
		rssKiB, anonKiB = p[0], p[1]
		if err != nil {
			return 0, 0, 0, 0, fmt.Errorf("bench query: run %s %s: %w: %s", bin, strings.Join(c.Args, " "), err, errBuf.String())
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && rssKiB == 0 {
			rssKiB = int64(ru.Maxrss) // KiB on Linux
		}
		cpuSeconds = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
		return seconds, cpuSeconds, rssKiB, anonKiB, nil
	}
	for range repeat {
		s, c, _, _, err := run(false)
		if err != nil {
			return err
		}
		sub, cpu = append(sub, s), append(cpu, c)
	}
	_, _, rss, anon, err := run(true)
	if err != nil {
		return err
	}
	c.InMS, c.BinMS, c.BinCPUMS = 1000*median(in), 1000*median(sub), 1000*median(cpu)
	c.MaxRSS, c.MaxAnon = float64(rss)/1024, float64(anon)/1024
	if c.listing {
		c.RowsPerS = float64(c.Rows) / median(sub)
		c.InRowsPerS = float64(c.Rows) / median(in)
	}
	return nil
}

// sampleRSS polls the process's peak resident set (VmHWM, KiB) and the peak
// of its anonymous part (RssAnon: heap and stacks, not mapped files) every
// millisecond until stop is closed (zeros when /proc cannot be read).
func sampleRSS(pid int, stop <-chan struct{}) (hwm, anon int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		<-stop
		return 0, 0
	}
	defer f.Close()
	buf := make([]byte, 4096)
	field := func(data []byte, name string) int64 {
		_, rest, ok := bytes.Cut(data, []byte(name))
		if !ok {
			return 0
		}
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		var kb int64
		fmt.Sscanf(strings.TrimSpace(string(line)), "%d kB", &kb)
		return kb
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		// procfs regenerates the file on each read from offset 0.
		if n, _ := f.ReadAt(buf, 0); n > 0 {
			hwm = max(hwm, field(buf[:n], "VmHWM:"))
			anon = max(anon, field(buf[:n], "RssAnon:"))
		}
		select {
		case <-stop:
			return hwm, anon
		case <-tick.C:
		}
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
