// Package benchrepo builds large registry-only raw repositories for
// benchmarks: LSSTCam with a survey-like night plan of exposures (their
// exposure, group and day_obs records) and one raw dataset per exposure ×
// detector, inserted directly without any file. `butler bench query` measures
// queries on what it builds.
package benchrepo

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/instrument"
	"github.com/gobutler/butler/internal/obsinfo"
	"github.com/gobutler/butler/timespan"
)

// Run is the RUN collection that holds the raws.
const Run = "LSSTCam/raw/all"

// Options say what Build makes.
type Options struct {
	Exposures int // exposures to create (at least 1)
	Detectors int // detectors per exposure, 1..MaxDetectors()
	PerNight  int // exposures per observing day
	Batch     int // datasets per import transaction (about)
	// DB is the registry database URL (postgresql://HOST:PORT/DB); empty
	// means SQLite in the repository. Namespace is its PostgreSQL schema.
	DB, Namespace string
	Logger        *slog.Logger
	// Progress, when set, is called after each import transaction with the
	// raws imported so far, their total and the time since the first.
	Progress func(done, total int, elapsed time.Duration)
}

// Stats say what Build made and how long it took.
type Stats struct {
	Exposures, Detectors, Datasets int
	// RecordsSeconds is the time to create the repository and insert the
	// dimension records; InsertSeconds that of the dataset imports;
	// Seconds the whole build.
	RecordsSeconds, InsertSeconds, Seconds float64
	DatasetsPerS                           float64 // datasets imported per second
}

// MaxDetectors is the number of LSSTCam detectors, the most Build puts per
// exposure.
func MaxDetectors() int {
	cam, err := instrument.Lookup("LSSTCam")
	if err != nil {
		return 0
	}
	return len(cam.Detectors)
}

// Build creates the repository at root and fills it: LSSTCam, the exposure,
// group and day_obs records, and one raw per exposure × detector, imported
// registry-only in transactions of about o.Batch datasets.
func Build(ctx context.Context, root string, o Options) (Stats, error) {
	cam, err := instrument.Lookup("LSSTCam")
	if err != nil {
		return Stats{}, err
	}
	if o.Detectors < 1 || o.Detectors > len(cam.Detectors) {
		return Stats{}, fmt.Errorf("bench repository: %w: %d detectors, want 1..%d", errs.ErrInvalid, o.Detectors, len(cam.Detectors))
	}
	if o.Exposures < 1 || o.PerNight < 1 || o.Batch < 1 {
		return Stats{}, fmt.Errorf("bench repository: %w: %d exposures, %d a night, %d datasets a batch: want positive numbers", errs.ErrInvalid, o.Exposures, o.PerNight, o.Batch)
	}
	var copts butler.CreateOptions
	if o.DB != "" {
		dir, err := os.MkdirTemp("", "butler-bench-seed-")
		if err != nil {
			return Stats{}, err
		}
		defer os.RemoveAll(dir)
		seed := filepath.Join(dir, "seed.yaml")
		body := fmt.Sprintf("registry:\n  db: %q\n", o.DB)
		if o.Namespace != "" {
			body += fmt.Sprintf("  namespace: %q\n", o.Namespace)
		}
		if err := os.WriteFile(seed, []byte(body), 0o600); err != nil {
			return Stats{}, err
		}
		copts.SeedConfig = seed
	}
	t0 := time.Now()
	if _, err := butler.Create(ctx, root, copts); err != nil {
		return Stats{}, err
	}
	b, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true, Logger: o.Logger})
	if err != nil {
		return Stats{}, err
	}
	defer b.Close()
	if _, err := ingest.RegisterInstrument(ctx, b, cam.ClassName, false); err != nil {
		return Stats{}, err
	}
	if _, err := b.RegisterDatasetType(ctx, "raw", "Exposure", []string{"instrument", "detector", "exposure"}, false); err != nil {
		return Stats{}, err
	}
	exps, sets, err := nightPlan(b.Universe, cam, o.Exposures, o.PerNight)
	if err != nil {
		return Stats{}, err
	}
	for _, set := range sets {
		if err := b.InsertRecords(ctx, set.Element, set.Records, butler.InsertSkip); err != nil {
			return Stats{}, fmt.Errorf("insert %s records: %w", set.Element, err)
		}
	}
	recSeconds := time.Since(t0).Seconds()
	dets := make([]int64, o.Detectors)
	for i := range dets {
		dets[i] = cam.Detectors[i*len(cam.Detectors)/o.Detectors].ID
	}
	perBatch := max(1, o.Batch/len(dets))
	total := len(exps) * len(dets)
	done := 0
	t1 := time.Now()
	for start := 0; start < len(exps); start += perBatch {
		var files []butler.BundleFile
		for _, exp := range exps[start:min(start+perBatch, len(exps))] {
			for _, det := range dets {
				id := dimensions.DataID{"instrument": cam.Name, "detector": det, "exposure": exp}
				uid, err := dataset.NewID(dataset.DataIDTypeRun, "raw", Run, id)
				if err != nil {
					return Stats{}, err
				}
				files = append(files, butler.BundleFile{Refs: []dataset.Ref{{ID: uid, Type: dataset.Type{Name: "raw"}, Run: Run, DataID: id}}})
			}
		}
		res, err := b.Import(ctx, &butler.Bundle{Files: files}, butler.ImportOptions{RegistryOnly: true})
		if err != nil {
			return Stats{}, err
		}
		done += res.Datasets + res.Skipped
		if o.Progress != nil {
			o.Progress(done, total, time.Since(t1))
		}
	}
	insSeconds := time.Since(t1).Seconds()
	if err := b.Analyze(ctx); err != nil {
		return Stats{}, err
	}
	return Stats{
		Exposures: len(exps), Detectors: len(dets), Datasets: total,
		RecordsSeconds: recSeconds, InsertSeconds: insSeconds,
		Seconds: time.Since(t0).Seconds(), DatasetsPerS: float64(total) / insSeconds,
	}, nil
}

// nightPlan makes a survey-like night plan: perNight exposures per
// observing day (a few bias, dark and flat sequences, then science exposures
// each in its own group), with the exposure, group and day_obs records that
// ingest would write for them.
func nightPlan(u *dimensions.Universe, cam *instrument.Instrument, n, perNight int) ([]int64, []butler.RecordSet, error) {
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
