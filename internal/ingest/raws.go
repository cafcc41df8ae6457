package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/fits"
	"github.com/gobutler/butler/internal/instrument"
	"github.com/gobutler/butler/internal/obsinfo"
	"github.com/gobutler/butler/progress"
	"github.com/gobutler/butler/timespan"
	"golang.org/x/sync/errgroup"
)

// DefaultRegex selects raw files while walking directories (explicit files are
// never filtered), as upstream's --regex default.
const DefaultRegex = `\.fit[s]?\b`

// Options tune Raws.
type Options struct {
	Transfer  string // transfer mode; "auto" when empty
	Processes int    // header readers in parallel; at least 1
	Run       string // output RUN; "<instrument>/raw/all" when empty
	Regex     string // file-name filter for directory walks; DefaultRegex when empty
	// NoFileAttrs stores -1 for file sizes (--no-track-file-attrs).
	NoFileAttrs bool
	// FailFast stops at the first bad file; nothing of the batch it is in is committed.
	FailFast bool
	// UpdateRecords overwrites exposure, group and day_obs records that differ.
	UpdateRecords bool
	// NoSkipExisting makes an already-ingested raw an error instead of skipped.
	NoSkipExisting bool
	// BatchSize is the number of files per database transaction; 2000 when 0.
	BatchSize int
	// RecordsOnly writes the exposure, group and day_obs records from the
	// headers and ingests no dataset (update-exposures-from-raws, with
	// UpdateRecords).
	RecordsOnly bool
	Progress    progress.Reporter
	Logger      *slog.Logger
}

// Failure is one file that was not ingested.
type Failure struct {
	Path string
	Err  error
}

// Result summarises an ingest.
type Result struct {
	Ingested, Skipped int
	Failures          []Failure
	Exposures         int
	// ExposuresWritten counts the exposure records inserted or changed.
	ExposuresWritten int
	Elapsed          time.Duration
}

// FilesPerSecond is the ingest rate: files ingested or found already
// ingested, per second. Failed files do not count.
func (r Result) FilesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ingested+r.Skipped) / r.Elapsed.Seconds()
}

// item is one file after its header was read and translated.
type item struct {
	path string
	size int64
	info *obsinfo.ObservationInfo
	err  error
}

// Raws ingests raw files found under the locations (files or directories).
// Bad files are reported in Result.Failures; the error is non-nil only when
// ingest could not go on (or, with FailFast, at the first failure).
func Raws(ctx context.Context, b *butler.Butler, locations []string, opts Options) (Result, error) {
	start := time.Now()
	res := Result{}
	if opts.Processes < 1 {
		opts.Processes = 1
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 2000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	re, err := regexp.Compile(cmpOr(opts.Regex, DefaultRegex))
	if err != nil {
		return res, fmt.Errorf("--regex %q: %w: %w", opts.Regex, errs.ErrInvalid, err)
	}
	rep := progress.OrDiscard(opts.Progress)
	task := rep.Task("ingest", 0)
	defer task.Done()

	paths := make(chan string, 4*opts.BatchSize)
	items := make(chan item, 4*opts.BatchSize)
	g, gctx := errgroup.WithContext(ctx)
	var total int64
	var totalMu sync.Mutex
	g.Go(func() error {
		defer close(paths)
		given := map[string]bool{} // the same file named twice is ingested once
		return scan(gctx, locations, re, func(p string) error {
			key := filepath.Clean(p)
			if abs, err := filepath.Abs(p); err == nil {
				key = abs
			}
			if given[key] {
				return nil
			}
			given[key] = true
			totalMu.Lock()
			total++
			task.SetTotal(total)
			totalMu.Unlock()
			select {
			case paths <- p:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	var readers sync.WaitGroup
	for i := 0; i < opts.Processes; i++ {
		readers.Add(1)
		g.Go(func() error {
			defer readers.Done()
			for p := range paths {
				it := readItem(p)
				select {
				case items <- it:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() { readers.Wait(); close(items) }()

	ing := &ingester{b: b, opts: opts, log: opts.Logger, task: task, exposures: map[string]bool{}, types: map[string]bool{}, instruments: map[string]bool{}, dataIDs: map[string]string{}}
	g.Go(func() error {
		batch := make([]item, 0, opts.BatchSize)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := ing.batch(gctx, batch, &res)
			batch = batch[:0]
			return err
		}
		for it := range items {
			batch = append(batch, it)
			if len(batch) >= opts.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	err = g.Wait()
	if err == nil && res.Ingested >= 1000 {
		// Many new rows: refresh the planner's statistics so selective queries use indexes.
		if aerr := b.Analyze(ctx); aerr != nil {
			opts.Logger.Info("could not refresh registry statistics", "err", aerr)
		}
	}
	res.Elapsed = time.Since(start)
	res.Exposures = len(ing.exposures)
	sort.Slice(res.Failures, func(i, j int) bool { return res.Failures[i].Path < res.Failures[j].Path })
	return res, err
}

// recordConflict adds the flag that overwrites a differing record to a
// record conflict.
func recordConflict(err error) error {
	if errors.Is(err, errs.ErrConflict) {
		return fmt.Errorf("%w; use --update-records to overwrite", err)
	}
	return err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// scan walks the locations, streaming file paths: directories recursively
// (following symlinked directories), keeping names the regex matches; anything
// else is an explicit file.
func scan(ctx context.Context, locations []string, re *regexp.Regexp, fn func(string) error) error {
	for _, loc := range locations {
		fi, err := os.Stat(loc)
		if err != nil || !fi.IsDir() {
			if err := fn(loc); err != nil {
				return err
			}
			continue
		}
		if err := walkDir(ctx, loc, re, fn, map[string]bool{}); err != nil {
			return err
		}
	}
	return nil
}

func walkDir(ctx context.Context, dir string, re *regexp.Regexp, fn func(string) error, seen map[string]bool) error {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		if seen[real] {
			return nil
		}
		seen[real] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("scan %s: %w", dir, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				isDir = true
			}
		}
		if isDir {
			if err := walkDir(ctx, p, re, fn, seen); err != nil {
				return err
			}
			continue
		}
		if re.MatchString(e.Name()) {
			if err := fn(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// sidecarPath is the metadata JSON beside a raw: its name with the (compound)
// extension replaced by .json.
func sidecarPath(p string) string {
	base := p
	for _, ext := range []string{".fits.fz", ".fits.gz", ".fit.gz", ".fits", ".fit", ".fz", ".gz"} {
		if strings.HasSuffix(strings.ToLower(base), ext) {
			base = base[:len(base)-len(ext)]
			break
		}
	}
	return base + ".json"
}

// readItem reads and translates one file's header: the sidecar JSON when there
// is one, else the primary HDU (merged with the first extension when the
// primary alone is not enough).
func readItem(p string) item {
	it := item{path: p, size: -1}
	fi, statErr := os.Stat(p)
	if statErr == nil {
		it.size = fi.Size()
	}
	if sc := sidecarPath(p); sc != p {
		if _, err := os.Stat(sc); err == nil {
			h, err := obsinfo.LoadHeaderDump(sc)
			if errors.Is(err, errs.ErrUnsupported) {
				// A sidecar may hold an already-translated ObservationInfo.
				if info, terr := obsinfo.LoadTranslated(sc); terr == nil {
					it.info = info
					return it
				}
			}
			if err != nil {
				it.err = fmt.Errorf("read sidecar %s: %w", sc, err)
				return it
			}
			it.info, it.err = obsinfo.Translate(h, p)
			return it
		}
	}
	if statErr != nil {
		it.err = fmt.Errorf("read %s: %w: %w", p, errs.ErrNotFound, statErr)
		return it
	}
	f, err := os.Open(p)
	if err != nil {
		it.err = fmt.Errorf("read %s: %w", p, err)
		return it
	}
	defer f.Close()
	hdrs, err := fits.ReadHeaders(f, it.size, 1)
	if err != nil {
		it.err = fmt.Errorf("read header of %s: %w", p, err)
		return it
	}
	h := hdrs[0].Map()
	it.info, err = obsinfo.Translate(h, p)
	if err != nil && errors.Is(err, errs.ErrUnsupported) {
		// Some cameras put the identifying keys in the first extension.
		if more, err2 := fits.ReadHeaders(f, it.size, 2); err2 == nil && len(more) > 1 {
			merged := hdrs[0].Map()
			for k, v := range more[1].Map() {
				merged[k] = v
			}
			if info, err3 := obsinfo.Translate(merged, p); err3 == nil {
				it.info, err = info, nil
			}
		}
	}
	it.err = err
	return it
}

// ingester does the serial database phase.
type ingester struct {
	b           *butler.Butler
	opts        Options
	log         *slog.Logger
	task        progress.Task
	exposures   map[string]bool
	types       map[string]bool
	instruments map[string]bool
	// dataIDs maps each raw data ID (instrument/exposure/detector) met in
	// this ingest to the file that had it first.
	dataIDs map[string]string
}

func (in *ingester) fail(res *Result, p string, err error) error {
	res.Failures = append(res.Failures, Failure{Path: p, Err: err})
	in.log.Info("file not ingested", "file", p, "err", err)
	in.task.Add(1)
	if in.opts.FailFast {
		return fmt.Errorf("ingest %s: %w", p, err)
	}
	return nil
}

// batch writes the records of a batch's exposures and ingests its files.
func (in *ingester) batch(ctx context.Context, items []item, res *Result) error {
	u := in.b.Universe
	type expo struct {
		info  *obsinfo.ObservationInfo
		items []item
	}
	byExpo := map[string]*expo{}
	var order []string
	for _, it := range items {
		if it.err != nil {
			if err := in.fail(res, it.path, it.err); err != nil {
				return err
			}
			continue
		}
		if err := in.checkInstrument(ctx, it.info.Instrument); err != nil {
			if err := in.fail(res, it.path, err); err != nil {
				return err
			}
			continue
		}
		k := fmt.Sprintf("%s/%d", it.info.Instrument, it.info.ExposureID)
		e, ok := byExpo[k]
		if !ok {
			e = &expo{info: it.info}
			byExpo[k] = e
			order = append(order, k)
		}
		e.items = append(e.items, it)
	}
	// Two files with one data ID (the same raw under two names): as upstream's
	// RawIngestTask, the exposure fails with an ingest conflict naming both.
	kept := order[:0]
	for _, k := range order {
		e := byExpo[k]
		if err := in.checkDataIDs(e.items); err != nil {
			for _, it := range e.items {
				if ferr := in.fail(res, it.path, err); ferr != nil {
					return ferr
				}
			}
			continue
		}
		kept = append(kept, k)
	}
	order = kept
	// Exposure-level records, one transaction per element for the whole batch.
	var groups, days, exps, filters []dimensions.Record
	for _, k := range order {
		info := byExpo[k].info
		rec, err := exposureRecord(u, info)
		if err != nil {
			return err
		}
		exps = append(exps, rec)
		if _, ok := u.Element("group"); ok {
			groups = append(groups, dimensions.Record{Element: u.MustElement("group"), Values: map[string]any{"instrument": info.Instrument, "name": info.Group}})
		}
		if _, ok := u.Element("day_obs"); ok {
			vals := map[string]any{"instrument": info.Instrument, "id": info.DayObs}
			if ts, ok, err := info.DayObsTimespan(); err == nil && ok {
				vals["timespan"] = ts
			}
			days = append(days, dimensions.Record{Element: u.MustElement("day_obs"), Values: vals})
		}
		filters = append(filters, filterRecord(u, info))
	}
	if err := in.retry(ctx, "insert physical_filter records", func() error {
		return in.b.InsertRecords(ctx, "physical_filter", dedup(filters), butler.InsertSkip)
	}); err != nil {
		return err
	}
	for _, set := range []struct {
		el   string
		recs []dimensions.Record
	}{{"group", groups}, {"day_obs", days}} {
		if len(set.recs) == 0 {
			continue
		}
		if err := in.retry(ctx, "sync "+set.el+" records", func() error {
			_, err := in.b.SyncRecords(ctx, set.el, dedup(set.recs), in.opts.UpdateRecords)
			return recordConflict(err)
		}); err != nil {
			return err
		}
	}
	var files []butler.FileDataset
	for i, k := range order {
		e := byExpo[k]
		if !in.exposures[k] {
			written := 0
			if err := in.retry(ctx, "sync exposure record", func() error {
				n, err := in.b.SyncRecords(ctx, "exposure", []dimensions.Record{exps[i]}, in.opts.UpdateRecords)
				written = n
				return recordConflict(err)
			}); err != nil {
				if butler.IsTransient(err) {
					return err // the server stayed away: stop, not blame the files
				}
				// A conflicting exposure fails its files only.
				for _, it := range e.items {
					if ferr := in.fail(res, it.path, err); ferr != nil {
						return ferr
					}
				}
				continue
			}
			in.exposures[k] = true
			res.ExposuresWritten += written
		}
		if in.opts.RecordsOnly {
			in.task.Add(int64(len(e.items)))
			continue
		}
		for _, it := range e.items {
			files = append(files, in.fileDataset(u, exps[i], it))
		}
	}
	if len(files) == 0 {
		return nil
	}
	// One ingest call per instrument (each has its own default run).
	byInst := map[string][]butler.FileDataset{}
	for _, f := range files {
		inst := f.DataID["instrument"].(string)
		byInst[inst] = append(byInst[inst], f)
	}
	insts := make([]string, 0, len(byInst))
	for k := range byInst {
		insts = append(insts, k)
	}
	sort.Strings(insts)
	for _, inst := range insts {
		fs := byInst[inst]
		run := in.opts.Run
		if run == "" {
			run = inst + "/raw/all"
		}
		if err := in.ensureRawType(ctx); err != nil {
			return err
		}
		if err := in.ingestFiles(ctx, run, fs, res, true); err != nil {
			return err
		}
	}
	return nil
}

// checkDataIDs records the data IDs of an exposure's files (those of one
// batch) and fails when two different files have the same one, in this batch
// or against a file met earlier in this ingest.
func (in *ingester) checkDataIDs(items []item) error {
	var conflicts []string
	for _, it := range items {
		info := it.info
		k := fmt.Sprintf("%s/%d/%d", info.Instrument, info.ExposureID, info.DetectorNum)
		first, ok := in.dataIDs[k]
		if !ok {
			in.dataIDs[k] = it.path
			continue
		}
		if first != it.path {
			conflicts = append(conflicts, fmt.Sprintf("%s and %s have the same data ID {instrument: %s, exposure: %d, detector: %d}",
				first, it.path, info.Instrument, info.ExposureID, info.DetectorNum))
		}
	}
	if len(conflicts) == 0 {
		return nil
	}
	return fmt.Errorf("ingest %w in exposure %d: %s", errs.ErrConflict, items[0].info.ExposureID, strings.Join(conflicts, "; "))
}

// ingestFiles ingests files in one transaction. When that fails for a reason
// tied to the data (a conflict, a missing or unreadable file), it retries
// exposure by exposure so only the exposures at fault fail, as upstream's
// one-transaction-per-exposure does, while the common case stays one transaction.
func (in *ingester) ingestFiles(ctx context.Context, run string, fs []butler.FileDataset, res *Result, split bool) error {
	var r butler.IngestResult
	err := in.retry(ctx, fmt.Sprintf("ingest %d files", len(fs)), func() error {
		var err error
		r, err = in.b.Ingest(ctx, "raw", run, fs, butler.IngestOptions{
			Transfer: in.opts.Transfer, IDMode: dataset.DataIDTypeRun, SkipExisting: !in.opts.NoSkipExisting, NoFileAttrs: in.opts.NoFileAttrs,
			Parallel: in.opts.Processes,
		})
		return err
	})
	if err == nil {
		res.Ingested += len(r.Refs)
		res.Skipped += r.Skipped
		in.task.Add(int64(len(fs)))
		return nil
	}
	if !(errors.Is(err, errs.ErrConflict) || errors.Is(err, errs.ErrNotFound) || errors.Is(err, errs.ErrPermission) || errors.Is(err, errs.ErrInvalid)) {
		return err
	}
	byExpo := map[any][]butler.FileDataset{}
	var order []any
	for _, f := range fs {
		k := f.DataID["exposure"]
		if _, ok := byExpo[k]; !ok {
			order = append(order, k)
		}
		byExpo[k] = append(byExpo[k], f)
	}
	if !split || len(order) < 2 || in.opts.FailFast {
		for _, f := range fs {
			if ferr := in.fail(res, f.Path, err); ferr != nil {
				return ferr
			}
		}
		return nil
	}
	for _, k := range order {
		if err := in.ingestFiles(ctx, run, byExpo[k], res, false); err != nil {
			return err
		}
	}
	return nil
}

// retryFor bounds how long a batch waits for a restarting registry server.
const retryFor = 60 * time.Second

// retry runs fn again, with back-off, while it fails transiently: the
// connection to the registry server was lost (a restart, a reset) before
// anything was committed, so running the same step again is safe. Ingest
// removes what it transferred when its transaction fails, so a retried
// batch starts clean. A connection lost during COMMIT leaves the outcome
// unknown; with skip-existing (the default) the retry finds out, skipping
// what was saved and ingesting what was not.
func (in *ingester) retry(ctx context.Context, what string, fn func() error) error {
	deadline := time.Now().Add(retryFor)
	delay := 200 * time.Millisecond
	for {
		err := fn()
		again := butler.IsTransient(err) || (butler.IsCommitUnknown(err) && !in.opts.NoSkipExisting)
		if err == nil || !again || time.Now().Add(delay).After(deadline) {
			return err
		}
		in.log.Info("lost the registry connection; retrying", "step", what, "after", delay, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func (in *ingester) checkInstrument(ctx context.Context, name string) error {
	if in.instruments[name] {
		return nil
	}
	recs, err := in.b.Records(ctx, "instrument", dimensions.DataID{"instrument": name})
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		cls := name
		if i, err := instrument.Lookup(name); err == nil {
			cls = i.ClassName
		}
		return fmt.Errorf("%w: instrument %s is not registered in this repository (run: butler register-instrument REPO %s)", errs.ErrNotFound, name, cls)
	}
	in.instruments[name] = true
	return nil
}

func (in *ingester) ensureRawType(ctx context.Context) error {
	if in.types["raw"] {
		return nil
	}
	if _, err := in.b.RegisterDatasetType(ctx, "raw", "Exposure", []string{"instrument", "detector", "exposure"}, false); err != nil {
		return err
	}
	in.types["raw"] = true
	return nil
}

func (in *ingester) fileDataset(u *dimensions.Universe, exp dimensions.Record, it item) butler.FileDataset {
	info := it.info
	id := dimensions.DataID{"instrument": info.Instrument, "exposure": info.ExposureID, "detector": info.DetectorNum,
		"physical_filter": info.PhysicalFilter}
	if _, ok := u.Element("day_obs"); ok {
		id["day_obs"] = info.DayObs
		id["group"] = info.Group
	}
	det := dimensions.Record{Element: u.MustElement("detector"), Values: map[string]any{"instrument": info.Instrument, "id": info.DetectorNum, "full_name": info.DetectorName}}
	if cam, err := instrument.Lookup(info.Instrument); err == nil {
		if d, ok := cam.DetectorByID(info.DetectorNum); ok {
			det.Values["full_name"] = d.FullName
		}
	}
	formatter := ""
	if cam, err := instrument.Lookup(info.Instrument); err == nil {
		formatter = cam.RawFormatter
	}
	return butler.FileDataset{
		Path: it.path, DataID: id, Size: it.size, Formatter: formatter,
		Records: map[string]dimensions.Record{"exposure": exp, "detector": det},
	}
}

func exposureRecord(u *dimensions.Universe, info *obsinfo.ObservationInfo) (dimensions.Record, error) {
	vals, err := info.ExposureRecord(u.Version)
	if err != nil {
		return dimensions.Record{}, err
	}
	if b, ok := vals["timespan_begin"].(int64); ok {
		e, _ := vals["timespan_end"].(int64)
		vals["timespan"] = timespan.Timespan{Begin: b, End: e}
	}
	delete(vals, "timespan_begin")
	delete(vals, "timespan_end")
	return dimensions.Record{Element: u.MustElement("exposure"), Values: vals}, nil
}

func filterRecord(u *dimensions.Universe, info *obsinfo.ObservationInfo) dimensions.Record {
	band := info.PhysicalFilter
	if cam, err := instrument.Lookup(info.Instrument); err == nil {
		if f, ok := cam.Filter(info.PhysicalFilter); ok {
			band = f.Band
		}
	}
	return dimensions.Record{Element: u.MustElement("physical_filter"), Values: map[string]any{"instrument": info.Instrument, "name": info.PhysicalFilter, "band": band}}
}

func dedup(recs []dimensions.Record) []dimensions.Record {
	seen := map[string]bool{}
	var out []dimensions.Record
	for _, r := range recs {
		k := r.DataID().String()
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}
