package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
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
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/instrument"
	"github.com/gobutler/butler/internal/obsinfo"
	"github.com/gobutler/butler/timespan"
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
		st, err := buildQueryRepo(ctx, g, o)
		if err != nil {
			return err
		}
		out["build"] = st
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
		{Name: "listing, find-first csv", Args: qd("--find-first", "--format", "csv", "--limit", "0"), format: "csv", listing: true},
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

// buildQueryRepo creates the repository and fills it: LSSTCam, the exposure,
// group and day_obs records, and one raw per exposure × detector, imported
// registry-only in transactions of about o.batch datasets.
func buildQueryRepo(ctx context.Context, g *globals, o benchQueryOptions) (map[string]any, error) {
	cam, err := instrument.Lookup("LSSTCam")
	if err != nil {
		return nil, err
	}
	if o.detectors < 1 || o.detectors > len(cam.Detectors) {
		return nil, usagef("--detectors %d: want 1..%d", o.detectors, len(cam.Detectors))
	}
	if o.exposures < 1 {
		return nil, usagef("--exposures %d: want at least 1", o.exposures)
	}
	var copts butler.CreateOptions
	if o.db != "" {
		dir, err := os.MkdirTemp("", "butler-bench-seed-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		seed := filepath.Join(dir, "seed.yaml")
		body := fmt.Sprintf("registry:\n  db: %q\n", o.db)
		if o.namespace != "" {
			body += fmt.Sprintf("  namespace: %q\n", o.namespace)
		}
		if err := os.WriteFile(seed, []byte(body), 0o600); err != nil {
			return nil, err
		}
		copts.SeedConfig = seed
	}
	t0 := time.Now()
	if _, err := butler.Create(ctx, o.repo, copts); err != nil {
		return nil, err
	}
	b, err := butler.Open(ctx, o.repo, butler.OpenOptions{Writeable: true, Logger: g.log})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if _, err := ingest.RegisterInstrument(ctx, b, cam.ClassName, false); err != nil {
		return nil, err
	}
	if _, err := b.RegisterDatasetType(ctx, "raw", "Exposure", []string{"instrument", "detector", "exposure"}, false); err != nil {
		return nil, err
	}
	exps, sets, err := benchExposures(b.Universe, cam, o.exposures, o.perNight)
	if err != nil {
		return nil, err
	}
	for _, set := range sets {
		if err := b.InsertRecords(ctx, set.Element, set.Records, butler.InsertSkip); err != nil {
			return nil, fmt.Errorf("insert %s records: %w", set.Element, err)
		}
	}
	recSeconds := time.Since(t0).Seconds()
	dets := make([]int64, o.detectors)
	for i := range dets {
		dets[i] = cam.Detectors[i*len(cam.Detectors)/o.detectors].ID
	}
	const run = "LSSTCam/raw/all"
	perBatch := max(1, o.batch/len(dets))
	total := len(exps) * len(dets)
	done := 0
	t1 := time.Now()
	for start := 0; start < len(exps); start += perBatch {
		var files []butler.BundleFile
		for _, exp := range exps[start:min(start+perBatch, len(exps))] {
			for _, det := range dets {
				id := dimensions.DataID{"instrument": cam.Name, "detector": det, "exposure": exp}
				uid, err := dataset.NewID(dataset.DataIDTypeRun, "raw", run, id)
				if err != nil {
					return nil, err
				}
				files = append(files, butler.BundleFile{Refs: []dataset.Ref{{ID: uid, Type: dataset.Type{Name: "raw"}, Run: run, DataID: id}}})
			}
		}
		res, err := b.Import(ctx, &butler.Bundle{Files: files}, butler.ImportOptions{RegistryOnly: true})
		if err != nil {
			return nil, err
		}
		done += res.Datasets + res.Skipped
		el := time.Since(t1).Seconds()
		fmt.Fprintf(g.stderr, "\rimported %d/%d raws (%.0f/s)", done, total, float64(done)/el)
	}
	fmt.Fprintln(g.stderr)
	insSeconds := time.Since(t1).Seconds()
	if err := b.Analyze(ctx); err != nil {
		return nil, err
	}
	return map[string]any{
		"exposures": len(exps), "detectors": len(dets), "datasets": total,
		"records_seconds": recSeconds, "insert_seconds": insSeconds,
		"seconds": time.Since(t0).Seconds(), "datasets_per_s": float64(total) / insSeconds,
	}, nil
}

// benchExposures makes a survey-like night plan: perNight exposures per
// observing day (a few bias, dark and flat sequences, then science exposures
// each in its own group), with the exposure, group and day_obs records that
// ingest would write for them.
func benchExposures(u *dimensions.Universe, cam *instrument.Instrument, n, perNight int) ([]int64, []butler.RecordSet, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2025, 4, 15, 23, 30, 0, 0, time.UTC)
	offset := int64(12 * 3600) // LSSTCam's day_obs rolls over at 12:00 TAI
	var exps []int64
	var groups, days, recs []dimensions.Record
	seenDay := map[int64]bool{}
	seenGroup := map[string]bool{}
	_, hasGroup := u.Element("group")
	_, hasDay := u.Element("day_obs")
	group := ""
	for i := range n {
		night, seq := i/perNight, int64(i%perNight+1)
		kind, expTime := "science", 30.0
		switch {
		case seq <= 10:
			kind, expTime = "bias", 0
		case seq <= 15:
			kind = "dark"
		case seq <= 25:
			kind, expTime = "flat", 5
		}
		beg := start.AddDate(0, 0, night).Add(time.Duration(seq-1) * 40 * time.Second)
		end := beg.Add(time.Duration((expTime + 0.3) * float64(time.Second)))
		dayObs := int64(beg.Add(-12*time.Hour).Year()*10000 + int(beg.Add(-12*time.Hour).Month())*100 + beg.Add(-12*time.Hour).Day())
		filt := cam.Filters[(i/7)%len(cam.Filters)].Name
		if kind == "bias" || kind == "dark" {
			filt = cam.Filters[0].Name
		}
		if kind == "science" || seq == 1 || seq == 11 || seq == 16 {
			group = beg.Format("2006-01-02T15:04:05.000")
		}
		ra, dec := 360*rng.Float64(), -70+70*rng.Float64()
		az, zen, sky := 360*rng.Float64(), 60*rng.Float64(), 180*rng.Float64()-90
		info := &obsinfo.ObservationInfo{
			Instrument: cam.Name, ExposureID: dayObs*100000 + seq, ObsID: fmt.Sprintf("MC_O_%d_%06d", dayObs, seq),
			PhysicalFilter: filt, ObservationType: kind, ObservationReason: kind, ScienceProgram: "BLOCK-1",
			TargetName: "field", Group: group, DayObs: dayObs, DayObsOffset: &offset, SeqNum: seq, SeqStart: seq, SeqEnd: seq,
			Begin: timespan.FromUTC(beg), End: timespan.FromUTC(end), ExposureTime: expTime, ExposureTimeRequested: expTime,
			DarkTime: expTime + 0.3, TrackingRA: &ra, TrackingDec: &dec, Azimuth: &az, ZenithAngle: &zen, SkyAngle: &sky,
		}
		vals, err := info.ExposureRecord(u.Version)
		if err != nil {
			return nil, nil, err
		}
		if b, ok := vals["timespan_begin"].(int64); ok {
			e, _ := vals["timespan_end"].(int64)
			vals["timespan"] = timespan.Timespan{Begin: b, End: e}
		}
		delete(vals, "timespan_begin")
		delete(vals, "timespan_end")
		recs = append(recs, dimensions.Record{Element: u.MustElement("exposure"), Values: vals})
		exps = append(exps, info.ExposureID)
		if hasGroup && !seenGroup[group] {
			seenGroup[group] = true
			groups = append(groups, dimensions.Record{Element: u.MustElement("group"), Values: map[string]any{"instrument": cam.Name, "name": group}})
		}
		if hasDay && !seenDay[dayObs] {
			seenDay[dayObs] = true
			vals := map[string]any{"instrument": cam.Name, "id": dayObs}
			if ts, ok, err := info.DayObsTimespan(); err == nil && ok {
				vals["timespan"] = ts
			}
			days = append(days, dimensions.Record{Element: u.MustElement("day_obs"), Values: vals})
		}
	}
	var sets []butler.RecordSet
	if len(groups) > 0 {
		sets = append(sets, butler.RecordSet{Element: "group", Records: groups})
	}
	if len(days) > 0 {
		sets = append(sets, butler.RecordSet{Element: "day_obs", Records: days})
	}
	sets = append(sets, butler.RecordSet{Element: "exposure", Records: recs})
	return exps, sets, nil
}
