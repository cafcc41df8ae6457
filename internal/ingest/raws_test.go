package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/progress"
	"github.com/gobutler/butler/timespan"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

var allClasses = []string{"lsst.obs.lsst.LsstCam", "lsst.obs.lsst.LsstComCam", "lsst.obs.lsst.Latiss", "lsst.obs.lsst.LsstCamSim"}

func registerAll(t *testing.T, b *butler.Butler) {
	t.Helper()
	for _, c := range allClasses {
		if _, err := ingest.RegisterInstrument(context.Background(), b, c, false); err != nil {
			t.Fatalf("RegisterInstrument(%s): %v", c, err)
		}
	}
}

// rawName matches the raw files of the corpus (.fits, .fits.fz), not the
// sidecars, photodiode readings, registries or dumps beside them.
var rawName = regexp.MustCompile(`\.fits(\.fz)?$`)

// corpusRaws lists every raw file under dir.
func corpusRaws(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && rawName.MatchString(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// repoPath turns a dataset's file URI into a path under the repository root.
func repoPath(t *testing.T, b *butler.Butler, uri string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" {
		t.Fatalf("URI %q is not a file URI", uri)
	}
	return filepath.FromSlash(u.Path)
}

// realPath resolves every symlink of p.
func realPath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatalf("resolve %s: %v", p, err)
	}
	return r
}

// rawUUID is the corpus README's rule for raw dataset IDs, computed here with
// the uuid package directly rather than through dataset.NewID.
func rawUUID(run, instrument string, exposure, detector int64) dataset.ID {
	ns := uuid.MustParse("840b31d9-05cd-5161-b2c8-00d32b280d0f")
	return uuid.NewSHA1(ns, []byte(fmt.Sprintf("dataset_type=raw,run=%s,detector=%d,exposure=%d,instrument=%s", run, detector, exposure, instrument)))
}

// templatePath is where the default raw file template puts a raw (reference
// instruments_and_ingest.md §2.8): "." in the last component becomes "_".
func templatePath(run, dayObs, obsID, inst, filter, detName, ext string) string {
	last := strings.Join([]string{"raw", inst, filter, obsID, detName, strings.ReplaceAll(run, "/", "_")}, "_")
	return run + "/raw/" + dayObs + "/" + obsID + "/" + strings.ReplaceAll(last, ".", "_") + ext
}

// taiNS reads an ISO time that is already TAI as ns since 1970-01-01 TAI.
func taiNS(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse("2006-01-02T15:04:05.999999999", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixNano()
}

// mjdNS converts a TAI MJD to ns since 1970 TAI the way the Python registries
// did (reference instruments_and_ingest.md §4.3, precision note): whole days and
// the fraction separately, the fraction rounded to the nanosecond.
func mjdNS(mjd float64) int64 {
	d := math.Floor(mjd)
	return (int64(d)-40587)*86400_000_000_000 + int64(math.Round((mjd-d)*86400e9))
}

// corpusIngest ingests every raw of the corpus into a fresh repository with
// every instrument registered.
func corpusIngest(t *testing.T) (b *butler.Butler, raws string, files []string, res ingest.Result) {
	t.Helper()
	raws = filepath.Join(corpusRoot(t), "raws")
	files = corpusRaws(t, raws)
	if len(files) != 8 {
		t.Errorf("corpus raws: %d files, the corpus README lists 8", len(files))
	}
	b = newRepo(t)
	registerAll(t, b)
	res, err := ingest.Raws(context.Background(), b, []string{raws}, ingest.Options{Transfer: "symlink", Processes: 2})
	if err != nil {
		t.Fatalf("Raws(%s): %v", raws, err)
	}
	for _, f := range res.Failures {
		t.Errorf("Raws: %s failed: %v", f.Path, f.Err)
	}
	if res.Ingested != len(files) || res.Skipped != 0 {
		t.Errorf("Raws: ingested %d, skipped %d; want %d, 0", res.Ingested, res.Skipped, len(files))
	}
	return b, raws, files, res
}

// exposureTimeShift is the documented lsstCamSim discrepancy (corpus README,
// "Timestamps"): the FITS file's DATE-OBS/MJD-OBS are 10 h later than the
// header the Python registry was made from; the IDs and other values agree.
const exposureTimeShift = 10 * time.Hour

func TestRaws_Corpus(t *testing.T) {
	ctx := context.Background()
	b, raws, files, res := corpusIngest(t)
	if res.Exposures != 7 {
		t.Errorf("Result.Exposures = %d, want 7 (lsstCam 3, latiss, comCam, lsstCamSim, guider)", res.Exposures)
	}
	refs := rawRefs(t, b)
	if len(refs) != len(files) {
		t.Errorf("%d raw datasets, want %d", len(refs), len(files))
	}
	exposures := records(t, b, "exposure")
	if len(exposures) != 7 {
		t.Errorf("%d exposure records, want 7", len(exposures))
	}
	ids := make([]dataset.ID, 0, len(refs))
	for id := range refs {
		ids = append(ids, id)
	}
	uris, err := b.URIs(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	// source is the corpus file each dataset must link to, by ID.
	source := map[dataset.ID]string{}

	dumps, _ := filepath.Glob(filepath.Join(raws, "*", "EXPECTED.*.txt"))
	if len(dumps) != 4 {
		t.Errorf("%d EXPECTED dumps, want 4", len(dumps))
	}
	for _, dump := range dumps {
		dir := filepath.Dir(dump)
		name := filepath.Base(dir)
		exp := corpustest.ReadExpected(t, dump)
		t.Run(name, func(t *testing.T) {
			for _, want := range exp.Exposures {
				key := dimensions.DataID{"instrument": want["instrument"], "exposure": mustInt(t, want["id"])}.String()
				rec, ok := exposures[key]
				if !ok {
					t.Errorf("exposure %s missing (have %v)", key, keys(exposures))
					continue
				}
				checkIngestedExposure(t, name, rec, want)
			}
			for _, want := range exp.Raws {
				id, err := uuid.Parse(want["dataset_id"])
				if err != nil {
					t.Fatal(err)
				}
				ref, ok := refs[id]
				if !ok {
					t.Errorf("raw %s (%s det %s) missing: the ID differs from the Python registry's", want["dataset_id"], want["obs_id"], want["detector"])
					continue
				}
				source[id] = filepath.Join(dir, filepath.FromSlash(want["path"]))
				if ref.Run != want["collection"] {
					t.Errorf("raw %s: run %q, want %q", id, ref.Run, want["collection"])
				}
				for _, k := range []string{"instrument", "exposure", "detector", "physical_filter", "day_obs"} {
					if !corpustest.SameValue(ref.DataID[k], want[k]) {
						t.Errorf("raw %s: data ID %s = %v, want %s (data ID %v)", id, k, ref.DataID[k], want[k], ref.DataID)
					}
				}
				ext := ".fits"
				if strings.HasSuffix(want["path"], ".fits.fz") {
					ext = ".fits.fz"
				}
				wantPath := templatePath(want["collection"], want["day_obs"], want["obs_id"], want["instrument"], want["physical_filter"], want["detector_name"], ext)
				if got, _ := filepath.Rel(b.Root, repoPath(t, b, uris[id])); filepath.ToSlash(got) != wantPath {
					t.Errorf("raw %s: stored at %s, want %s", id, filepath.ToSlash(got), wantPath)
				}
			}
		})
	}

	t.Run("2021-12-12 raw not in the registry", func(t *testing.T) {
		// Expected values from obs_lsst tests/test_ingest.py, via the corpus README.
		const inst, run = "LSSTCam", "LSSTCam/raw/all"
		const expID, det = int64(3021121200310), int64(98)
		key := dimensions.DataID{"instrument": inst, "exposure": expID}.String()
		rec, ok := exposures[key]
		if !ok {
			t.Fatalf("exposure %s missing (have %v)", key, keys(exposures))
		}
		for col, want := range map[string]string{"obs_id": "MC_C_20211212_000310", "day_obs": "20211212", "seq_num": "310", "physical_filter": "SDSSi", "observation_type": "flat"} {
			if !corpustest.SameValue(rec.Values[col], want) {
				t.Errorf("exposure %d: %s = %v, want %s", expID, col, rec.Values[col], want)
			}
		}
		id := rawUUID(run, inst, expID, det)
		ref, ok := refs[id]
		if !ok {
			t.Fatalf("raw %s (exposure %d, detector %d) missing", id, expID, det)
		}
		if ref.DataID["band"] != "i" || ref.DataID["physical_filter"] != "SDSSi" {
			t.Errorf("raw %s: data ID %v, want physical_filter SDSSi, band i", id, ref.DataID)
		}
		source[id] = filepath.Join(raws, "lsstCam", "raw", "2021-12-12", "30211212000310", "30211212000310-R22-S22-det098.fits")
	})

	t.Run("guider raw from its JSON sidecar", func(t *testing.T) {
		fitsPath := filepath.Join(raws, "guider", "raw", "MC_C_20240918_000013_R42_S11.fits")
		if fi, err := os.Stat(fitsPath); err != nil || fi.Size() != 0 {
			t.Fatalf("guider raw should be an empty file: %v, %v", fi, err)
		}
		var hdr map[string]any
		data, err := os.ReadFile(strings.TrimSuffix(fitsPath, ".fits") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &hdr); err != nil {
			t.Fatal(err)
		}
		str := func(k string) string { return fmt.Sprint(hdr[k]) }
		// Controller C after 2023-10-04 counts as index 0: exposure = DAYOBS·10⁵ + SEQNUM.
		seq := int64(hdr["SEQNUM"].(float64))
		expID := mustInt(t, str("DAYOBS"))*100000 + seq
		// The detector number of RAFTBAY_CCDSLOT, from the Python LSSTCam registry.
		py := openCorpus(t, filepath.Join(raws, "lsstCam"))
		var det int64 = -1
		for _, r := range records(t, py, "detector") {
			if r.Values["full_name"] == str("RAFTBAY")+"_"+str("CCDSLOT") {
				det = r.Values["id"].(int64)
			}
		}
		key := dimensions.DataID{"instrument": "LSSTCam", "exposure": expID}.String()
		rec, ok := exposures[key]
		if !ok {
			t.Fatalf("exposure %s missing (have %v)", key, keys(exposures))
		}
		for col, want := range map[string]string{
			"obs_id": str("OBSID"), "day_obs": str("DAYOBS"), "seq_num": strconv.FormatInt(seq, 10),
			"physical_filter": str("FILTER"), "observation_type": str("IMGTYPE"), "exposure_time": str("EXPTIME"),
		} {
			if !corpustest.SameValue(rec.Values[col], want) {
				t.Errorf("exposure %d: %s = %v, want %s (sidecar)", expID, col, rec.Values[col], want)
			}
		}
		ts, _ := rec.Values["timespan"].(timespan.Timespan)
		// MJD-OBS wins over DATE-OBS for the begin (reference §4.3 and gotcha 2);
		// this header's MJD-OBS is 13 µs after its DATE-OBS.
		if begin := mjdNS(hdr["MJD-OBS"].(float64)); ts.Begin != begin {
			t.Errorf("exposure %d: timespan begin %d, want MJD-OBS %v = %d (TAI)", expID, ts.Begin, hdr["MJD-OBS"], begin)
		}
		if end := taiNS(t, str("DATE-END")); ts.End != end {
			t.Errorf("exposure %d: timespan end %d, want DATE-END %s = %d (TAI)", expID, ts.End, str("DATE-END"), end)
		}
		id := rawUUID("LSSTCam/raw/all", "LSSTCam", expID, det)
		if _, ok := refs[id]; !ok {
			t.Fatalf("raw %s (exposure %d, detector %d) missing", id, expID, det)
		}
		source[id] = fitsPath
	})

	t.Run("day_obs and group records", func(t *testing.T) {
		if _, ok := b.Universe.Element("day_obs"); !ok {
			t.Skipf("universe %d has no day_obs dimension", b.Universe.Version)
		}
		days, groups := records(t, b, "day_obs"), records(t, b, "group")
		for _, rec := range exposures {
			inst := rec.Values["instrument"]
			day, ok := days[dimensions.DataID{"instrument": inst, "day_obs": rec.Values["day_obs"]}.String()]
			if !ok {
				t.Errorf("exposure %v: no day_obs record %v", rec.Values["id"], rec.Values["day_obs"])
			} else if ds, ok := day.Values["timespan"].(timespan.Timespan); ok {
				if es := rec.Values["timespan"].(timespan.Timespan); !ds.ContainsTime(es.Begin) {
					t.Errorf("exposure %v begins at %s TAI, outside its day_obs %v [%s, %s)", rec.Values["id"],
						timespan.FormatTAI(es.Begin), rec.Values["day_obs"], timespan.FormatTAI(ds.Begin), timespan.FormatTAI(ds.End))
				}
			}
			if _, ok := groups[dimensions.DataID{"instrument": inst, "group": rec.Values["group"]}.String()]; !ok {
				t.Errorf("exposure %v: no group record %v", rec.Values["id"], rec.Values["group"])
			}
		}
	})

	t.Run("symlinks", func(t *testing.T) {
		if len(source) != len(files) {
			t.Errorf("checked %d of %d raws against their source", len(source), len(files))
		}
		for id, src := range source {
			p := repoPath(t, b, uris[id])
			fi, err := os.Lstat(p)
			if err != nil {
				t.Errorf("raw %s: %v", id, err)
				continue
			}
			if fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("raw %s: %s is not a symlink (mode %v)", id, p, fi.Mode())
				continue
			}
			target, _ := os.Readlink(p)
			if !filepath.IsAbs(target) || realPath(t, p) != realPath(t, src) {
				t.Errorf("raw %s: %s links to %s, want an absolute link to %s", id, p, target, realPath(t, src))
			}
		}
	})
}

// checkIngestedExposure compares an ingested exposure record with a Python
// registry row, column by column where the universes share the column.
func checkIngestedExposure(t *testing.T, dir string, rec dimensions.Record, want map[string]string) {
	t.Helper()
	id := want["id"]
	for _, col := range []string{"id", "obs_id", "day_obs", "seq_num", "physical_filter", "observation_type", "exposure_time"} {
		if _, ok := rec.Values[col]; !ok {
			t.Errorf("exposure %s: no %s column", id, col)
		}
	}
	for col, w := range want {
		switch col {
		case "timespan_begin", "timespan_end", "timespan_begin_tai", "timespan_end_tai":
			continue
		case "group_name", "group_id":
			// Universe 1 columns; later universes have the group dimension instead.
			if g, ok := rec.Values["group"]; ok && !corpustest.SameValue(g, w) {
				t.Errorf("exposure %s: group = %v, Python %s = %s", id, g, col, w)
			}
			continue
		}
		got, ok := rec.Values[col]
		if !ok {
			continue // a column this universe does not have
		}
		if !corpustest.SameValue(got, w) {
			t.Errorf("exposure %s: %s = %v (%T), Python registry has %q", id, col, got, got, w)
		}
	}
	ts, ok := rec.Values["timespan"].(timespan.Timespan)
	if !ok {
		t.Errorf("exposure %s: timespan = %#v", id, rec.Values["timespan"])
		return
	}
	wantBegin, wantEnd := mustInt(t, want["timespan_begin"]), mustInt(t, want["timespan_end"])
	if dir == "lsstCamSim" {
		shift := int64(exposureTimeShift)
		if d := ts.Begin - wantBegin - shift; abs(d) > int64(time.Microsecond) {
			t.Errorf("exposure %s: timespan begin %d, want the registry's %d + 10 h (the file's DATE-OBS), off by %d ns", id, ts.Begin, wantBegin, d)
		}
		if ts.End != wantEnd+shift {
			t.Errorf("exposure %s: timespan end %d, want the registry's %d + 10 h (the file's DATE-END)", id, ts.End, wantEnd)
		}
		return
	}
	if ts.Begin != wantBegin || ts.End != wantEnd {
		t.Errorf("exposure %s: timespan [%d, %d) ns TAI, Python registry has [%d, %d)", id, ts.Begin, ts.End, wantBegin, wantEnd)
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("integer %q: %v", s, err)
	}
	return n
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// snapshot is what a re-run must leave unchanged.
type snapshot struct {
	Exposures, Datasets, Files []string
}

func takeSnapshot(t *testing.T, b *butler.Butler) snapshot {
	t.Helper()
	var s snapshot
	s.Exposures = keys(records(t, b, "exposure"))
	for id := range rawRefs(t, b) {
		s.Datasets = append(s.Datasets, id.String())
	}
	sort.Strings(s.Datasets)
	s.Files = repoFiles(t, b.Root)
	return s
}

func TestRaws_Rerun(t *testing.T) {
	ctx := context.Background()
	b, raws, files, _ := corpusIngest(t)
	before := takeSnapshot(t, b)

	t.Run("skips everything", func(t *testing.T) {
		res, err := ingest.Raws(ctx, b, []string{raws}, ingest.Options{Transfer: "symlink", Processes: 2})
		if err != nil {
			t.Fatalf("second Raws: %v", err)
		}
		if res.Skipped != len(files) || res.Ingested != 0 || len(res.Failures) != 0 {
			t.Errorf("second Raws: ingested %d, skipped %d, failed %d; want 0, %d, 0", res.Ingested, res.Skipped, len(res.Failures), len(files))
		}
		if d := cmp.Diff(before, takeSnapshot(t, b)); d != "" {
			t.Errorf("second Raws changed the repository (-before +after):\n%s", d)
		}
	})

	t.Run("no skip existing", func(t *testing.T) {
		res, err := ingest.Raws(ctx, b, []string{raws}, ingest.Options{Transfer: "symlink", Processes: 2, NoSkipExisting: true})
		if err == nil && len(res.Failures) != len(files) {
			t.Errorf("Raws(NoSkipExisting) over ingested raws: err nil, %d failures, %d ingested; want every file to fail", len(res.Failures), res.Ingested)
		}
		for _, f := range res.Failures {
			if !errors.Is(f.Err, errs.ErrConflict) {
				t.Errorf("failure of %s: %v, want errs.ErrConflict", f.Path, f.Err)
			}
		}
		if d := cmp.Diff(before, takeSnapshot(t, b)); d != "" {
			t.Errorf("Raws(NoSkipExisting) changed the repository (-before +after):\n%s", d)
		}
		checkEveryDatasetHasItsFile(t, b)
	})
}

// writeBatch fills dir with good raws (copies of corpus files) and bad files,
// and returns the good and bad paths.
func writeBatch(t *testing.T, raws, dir string) (good, bad []string) {
	t.Helper()
	for _, rel := range []string{
		"lsstCam/raw/2019-03-19/3019031900001/3019031900001-R10-S02-det029.fits",
		"lsstCam/raw/2019-03-19/3019031900001/3019031900001-R22-S21-det097.fits",
		"lsstCam/raw/2019-03-22/3019032200002/3019032200002-R10-S22-det035.fits",
		"comCam/raw/2019-05-30/3019053000001/3019053000001-R22-S00-det000.fits",
	} {
		data, err := os.ReadFile(filepath.Join(raws, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(rel))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		good = append(good, p)
	}
	fz, err := os.ReadFile(filepath.Join(raws, "lsstCamSim/raw/2024-03-21/7024032100720/7024032100720-R22-S11-det094.fits.fz"))
	if err != nil {
		t.Fatal(err)
	}
	contents := map[string][]byte{
		"notfits.fits":   []byte("this is a text file, not FITS\n"),
		"truncated.fits": fz[:1000], // cut inside the primary header
		"nokeys.fits": fitsHeader(
			"SIMPLE  =                    T",
			"BITPIX  =                    8",
			"NAXIS   =                    0",
			"EXTEND  =                    T"),
		"unknown.fits": fitsHeader(
			"SIMPLE  =                    T",
			"BITPIX  =                    8",
			"NAXIS   =                    0",
			"TELESCOP= 'CTIO 4.0-m telescope'",
			"INSTRUME= 'DECam   '",
			"OBSID   = 'ct4m20190319t155028'",
			"DATE-OBS= '2019-03-19T15:50:28.145'",
			"MJD-OBS =      58561.660048",
			"EXPTIME =                 30.0",
			"FILTER  = 'r DECam SDSS c0002 6415.0 1480.0'",
			"CCDNUM  =                   10",
			"DETPOS  = 'S10     '"),
		"empty.fits": nil, // no sidecar: nothing to read
	}
	for name, data := range contents {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		bad = append(bad, p)
	}
	sort.Strings(bad)
	return good, bad
}

// fitsHeader builds a primary HDU with no data from cards (END is added).
func fitsHeader(cards ...string) []byte {
	var sb strings.Builder
	for _, c := range append(cards, "END") {
		sb.WriteString(fmt.Sprintf("%-80s", c))
	}
	for sb.Len()%2880 != 0 {
		sb.WriteByte(' ')
	}
	return []byte(sb.String())
}

func TestRaws_BadFiles(t *testing.T) {
	raws := filepath.Join(corpusRoot(t), "raws")
	ctx := context.Background()

	t.Run("fail fast commits nothing", func(t *testing.T) {
		dir := t.TempDir()
		_, bad := writeBatch(t, raws, dir)
		b := newRepo(t)
		registerAll(t, b)
		res, err := ingest.Raws(ctx, b, []string{dir}, ingest.Options{Transfer: "symlink", Processes: 2, FailFast: true})
		if err == nil {
			t.Fatalf("Raws(FailFast) over a batch with bad files: nil error (result %+v)", res)
		}
		named := false
		for _, p := range bad {
			named = named || strings.Contains(err.Error(), p)
		}
		if !named {
			t.Errorf("Raws(FailFast) error %q names none of the bad files", err)
		}
		if refs := rawRefs(t, b); len(refs) != 0 {
			t.Errorf("Raws(FailFast) committed %d raw datasets of the failed batch", len(refs))
		}
		if exps := records(t, b, "exposure"); len(exps) != 0 {
			t.Errorf("Raws(FailFast) committed exposure records %v of the failed batch", keys(exps))
		}
		if files := repoFiles(t, b.Root); len(files) != 0 {
			t.Errorf("Raws(FailFast) left files in the repository: %v", files)
		}
	})

	t.Run("good files ingest, bad ones are reported", func(t *testing.T) {
		dir := t.TempDir()
		good, bad := writeBatch(t, raws, dir)
		b := newRepo(t)
		registerAll(t, b)
		res, err := ingest.Raws(ctx, b, []string{dir}, ingest.Options{Transfer: "symlink", Processes: 2})
		if err != nil {
			t.Fatalf("Raws without FailFast: %v", err)
		}
		if res.Ingested != len(good) {
			t.Errorf("Raws: ingested %d, want the %d good files", res.Ingested, len(good))
		}
		var failed []string
		for _, f := range res.Failures {
			failed = append(failed, f.Path)
			if f.Err == nil || f.Err.Error() == "" {
				t.Errorf("failure of %s has no reason", f.Path)
			} else {
				t.Logf("%s: %v", filepath.Base(f.Path), f.Err)
			}
		}
		if d := cmp.Diff(bad, failed); d != "" {
			t.Errorf("Result.Failures paths differ (-want +got):\n%s", d)
		}
		if refs := rawRefs(t, b); len(refs) != len(good) {
			t.Errorf("%d raw datasets, want %d", len(refs), len(good))
		}
		checkEveryDatasetHasItsFile(t, b)
	})
}

// A raw of an instrument the translators know but the repository has not
// registered fails with a message that says how to register it.
func TestRaws_UnregisteredInstrument(t *testing.T) {
	raws := filepath.Join(corpusRoot(t), "raws")
	b := newRepo(t)
	if _, err := ingest.RegisterInstrument(context.Background(), b, "lsst.obs.lsst.LsstCam", false); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(raws, "lsstCam", "raw", "2019-03-22", "3019032200002", "3019032200002-R10-S22-det035.fits")
	other := filepath.Join(raws, "comCam", "raw", "2019-05-30", "3019053000001", "3019053000001-R22-S00-det000.fits")
	res, err := ingest.Raws(context.Background(), b, []string{good, other}, ingest.Options{Transfer: "symlink"})
	if err != nil {
		t.Fatalf("Raws: %v", err)
	}
	if res.Ingested != 1 || len(res.Failures) != 1 || res.Failures[0].Path != other {
		t.Fatalf("Raws: ingested %d, failures %v; want 1 and %s", res.Ingested, res.Failures, other)
	}
	if err := res.Failures[0].Err; !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "lsst.obs.lsst.LsstComCam") {
		t.Errorf("failure of the unregistered instrument: %v, want errs.ErrNotFound naming lsst.obs.lsst.LsstComCam", err)
	}
}

// checkEveryDatasetHasItsFile is the crash-safety invariant: every raw dataset
// has a file record, and that file exists.
func checkEveryDatasetHasItsFile(t *testing.T, b *butler.Butler) int {
	t.Helper()
	refs := rawRefs(t, b)
	ids := make([]dataset.ID, 0, len(refs))
	for id := range refs {
		ids = append(ids, id)
	}
	uris, err := b.URIs(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		u, ok := uris[id]
		if !ok {
			t.Errorf("dataset %s has no file record", refs[id])
			continue
		}
		if _, err := os.Stat(repoPath(t, b, u)); err != nil {
			t.Errorf("dataset %s: file %s: %v", refs[id], u, err)
		}
	}
	return len(refs)
}

// cancelAfter is a progress.Reporter that cancels a context once the ingest
// has reported n files done.
type cancelAfter struct {
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Task(string, int64) progress.Task { return &cancelTask{c: c} }

type cancelTask struct {
	progress.Counter
	c *cancelAfter
}

func (t *cancelTask) Add(n int64) {
	t.Counter.Add(n)
	if done, _, _ := t.Counter.Value(); done >= t.c.n {
		t.c.cancel()
	}
}

func TestRaws_InterruptedIngest(t *testing.T) {
	src := t.TempDir()
	paths := rawtest.Write(t, src, rawtest.LSSTCam, 24, 4)
	total := len(paths)
	tests := []struct {
		name  string
		after int64         // cancel once this many files are reported done (0: not used)
		delay time.Duration // cancel after this long (0: not used)
	}{
		{name: "after first batch", after: 1},
		{name: "after three batches", after: 24},
		{name: "after 2ms", delay: 2 * time.Millisecond},
		{name: "after 20ms", delay: 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newRepo(t)
			registerAll(t, b)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := ingest.Options{Transfer: "symlink", Processes: 2, BatchSize: 8}
			if tt.after > 0 {
				opts.Progress = &cancelAfter{n: tt.after, cancel: cancel}
			}
			if tt.delay > 0 {
				time.AfterFunc(tt.delay, cancel)
			}
			res, err := ingest.Raws(ctx, b, []string{src}, opts)
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("interrupted Raws: %v, want nil or context.Canceled", err)
			}
			n := checkEveryDatasetHasItsFile(t, b)
			t.Logf("interrupted: %d of %d raws in the repository (result: ingested %d, err %v)", n, total, res.Ingested, err)
			if tt.after > 0 && (err == nil || n >= total) {
				t.Errorf("cancelled after %d files, but the ingest ran to the end (%d of %d, err %v)", tt.after, n, total, err)
			}

			res, err = ingest.Raws(context.Background(), b, []string{src}, ingest.Options{Transfer: "symlink", Processes: 2, BatchSize: 8})
			if err != nil || len(res.Failures) != 0 {
				t.Fatalf("re-run after the interruption: %v, failures %v", err, res.Failures)
			}
			if res.Ingested+res.Skipped != total || res.Skipped != n {
				t.Errorf("re-run: ingested %d, skipped %d; want %d in all, %d skipped", res.Ingested, res.Skipped, total, n)
			}
			if got := checkEveryDatasetHasItsFile(t, b); got != total {
				t.Errorf("after the re-run: %d raws, want %d", got, total)
			}
			// One link per raw and nothing else: no temporary files left behind.
			if files := repoFiles(t, b.Root); len(files) != total {
				t.Errorf("after the re-run: %d files in the repository, want %d", len(files), total)
			}
		})
	}
}
