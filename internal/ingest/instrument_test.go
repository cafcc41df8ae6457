package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/instrument"
	"github.com/google/go-cmp/cmp"
)

// registrations pairs each instrument class with the corpus registry that the
// Python butler registered it in, and with the instrument record that current
// obs_lsst writes (reference instruments_and_ingest.md §1.2). The older corpus
// registries hold older values (exposure_max 6050123199999, LATISS
// detector_max 0), so those columns are compared with current upstream instead.
var registrations = []struct {
	class, dir  string
	current     map[string]any // instrument columns as current obs_lsst writes them
	filterCount int            // physical filters current obs_lsst defines (§1.4)
}{
	{"lsst.obs.lsst.LsstCam", "lsstCam", map[string]any{"visit_max": int64(7050123199999), "exposure_max": int64(7050123199999), "detector_max": int64(1000), "visit_system": int64(2)}, 276},
	{"lsst.obs.lsst.LsstComCam", "comCam", map[string]any{"visit_max": int64(7050123199999), "exposure_max": int64(7050123199999), "detector_max": int64(1000), "visit_system": int64(2)}, 15},
	{"lsst.obs.lsst.Latiss", "latiss", map[string]any{"visit_max": int64(7050123199999), "exposure_max": int64(7050123199999), "detector_max": int64(1), "visit_system": int64(2)}, 707},
	{"lsst.obs.lsst.LsstCamSim", "lsstCamSim", map[string]any{"visit_max": int64(7050123199999), "exposure_max": int64(7050123199999), "detector_max": int64(1000), "visit_system": int64(2)}, 276},
}

// sharedValues keeps the columns of a record that the other record has too, as
// comparable strings (NULL as "<nil>").
func sharedValues(rec, other dimensions.Record) map[string]string {
	out := map[string]string{}
	for k, v := range rec.Values {
		if _, ok := other.Values[k]; ok {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

func TestRegisterInstrument_MatchesCorpusRegistries(t *testing.T) {
	corpus := corpusRoot(t)
	ctx := context.Background()
	b := newRepo(t) // all four instruments in one repository, as a real one would hold them
	for _, reg := range registrations {
		t.Run(reg.dir, func(t *testing.T) {
			py := openCorpus(t, filepath.Join(corpus, "raws", reg.dir))
			n, err := ingest.RegisterInstrument(ctx, b, reg.class, false)
			if err != nil {
				t.Fatalf("RegisterInstrument(%s): %v", reg.class, err)
			}
			pyInst := records(t, py, "instrument")
			if len(pyInst) != 1 {
				t.Fatalf("corpus %s: %d instrument records", reg.dir, len(pyInst))
			}
			var want dimensions.Record
			for _, r := range pyInst {
				want = r
			}
			name := want.Values["name"]
			got, err := b.Records(ctx, "instrument", dimensions.DataID{"instrument": name})
			if err != nil || len(got) != 1 {
				t.Fatalf("instrument record %v after registering: %v, %v", name, got, err)
			}
			// Identity columns must equal the Python registry's; the limits
			// must be current upstream's (see registrations).
			for _, col := range []string{"name", "class_name"} {
				if fmt.Sprint(got[0].Values[col]) != fmt.Sprint(want.Values[col]) {
					t.Errorf("instrument.%s = %v, Python registry has %v", col, got[0].Values[col], want.Values[col])
				}
			}
			for col, w := range reg.current {
				if v, ok := got[0].Values[col]; !ok || fmt.Sprint(v) != fmt.Sprint(w) {
					t.Errorf("instrument.%s = %v, want %v (current obs_lsst)", col, v, w)
				}
			}
			if py.Universe.Version >= 7 { // the newest registry holds current values: all shared columns equal
				if d := cmp.Diff(sharedValues(want, got[0]), sharedValues(got[0], want)); d != "" {
					t.Errorf("instrument record differs from the universe %d registry (-python +go):\n%s", py.Universe.Version, d)
				}
			}

			// Detectors: every shared column of every row equal.
			pyDet := records(t, py, "detector")
			goDet := map[string]dimensions.Record{}
			all, err := b.Records(ctx, "detector", dimensions.DataID{"instrument": name})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range all {
				goDet[r.DataID().String()] = r
			}
			if len(goDet) != len(pyDet) {
				t.Errorf("%d detectors, Python registry has %d", len(goDet), len(pyDet))
			}
			for k, pr := range pyDet {
				gr, ok := goDet[k]
				if !ok {
					t.Errorf("detector %s missing", k)
					continue
				}
				if d := cmp.Diff(sharedValues(pr, gr), sharedValues(gr, pr)); d != "" {
					t.Errorf("detector %s differs (-python +go):\n%s", k, d)
				}
			}

			// Physical filters: current obs_lsst defines more (and a few other)
			// filters than the older registries hold; every filter both have must
			// have the same band, and the newest registry must match exactly.
			pyF := records(t, py, "physical_filter")
			goF := map[string]string{}
			allF, err := b.Records(ctx, "physical_filter", dimensions.DataID{"instrument": name})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range allF {
				goF[fmt.Sprint(r.Values["name"])] = fmt.Sprint(r.Values["band"])
			}
			if len(goF) != reg.filterCount {
				t.Errorf("%d physical filters, want %d (current obs_lsst)", len(goF), reg.filterCount)
			}
			pyOnly := 0
			for _, pr := range pyF {
				fname, band := fmt.Sprint(pr.Values["name"]), fmt.Sprint(pr.Values["band"])
				gb, ok := goF[fname]
				switch {
				case !ok:
					pyOnly++
					if py.Universe.Version >= 7 {
						t.Errorf("physical_filter %s (band %s) missing", fname, band)
					}
				case gb != band:
					t.Errorf("physical_filter %s: band %s, Python registry has %s", fname, gb, band)
				}
			}
			if pyOnly > 0 {
				t.Logf("%d of the %d filters in the universe-%d corpus registry are no longer defined upstream", pyOnly, len(pyF), py.Universe.Version)
			}
			if py.Universe.Version >= 7 && len(goF) != len(pyF) {
				t.Errorf("%d physical filters, the universe %d registry has %d", len(goF), py.Universe.Version, len(pyF))
			}
			wantN := 1 + reg.filterCount + len(pyDet)
			if n != wantN {
				t.Errorf("RegisterInstrument wrote %d records, want %d (1 instrument + filters + detectors)", n, wantN)
			}
			// Like obs_base's Instrument.register (the corpus lsstCam registry
			// has none): visit systems come with define-visits.
			if _, ok := b.Universe.Element("visit_system"); ok {
				if vs, err := b.Records(t.Context(), "visit_system", nil); err != nil || len(vs) != 0 {
					t.Errorf("visit_system records after register-instrument: %v, %v; want none", vs, err)
				}
			}
		})
	}
}

func TestRegisterInstrument_Idempotent(t *testing.T) {
	ctx := context.Background()
	b := newRepo(t)
	for _, reg := range registrations {
		if _, err := ingest.RegisterInstrument(ctx, b, reg.class, false); err != nil {
			t.Fatalf("RegisterInstrument(%s): %v", reg.class, err)
		}
	}
	before := map[string]map[string]dimensions.Record{}
	for _, el := range []string{"instrument", "detector", "physical_filter"} {
		before[el] = records(t, b, el)
	}
	for _, reg := range registrations {
		for _, update := range []bool{false, true} {
			n, err := ingest.RegisterInstrument(ctx, b, reg.class, update)
			if err != nil || n != 0 {
				t.Errorf("RegisterInstrument(%s, update=%v) again = %d, %v; want 0 records written", reg.class, update, n, err)
			}
		}
	}
	for el, want := range before {
		got := records(t, b, el)
		if d := cmp.Diff(keys(want), keys(got)); d != "" {
			t.Errorf("%s records changed by re-registering (-before +after):\n%s", el, d)
		}
	}
}

func TestRegisterInstrument_UnknownClass(t *testing.T) {
	b := newRepo(t)
	_, err := ingest.RegisterInstrument(context.Background(), b, "lsst.obs.lsst.NoSuchCam", false)
	if !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("RegisterInstrument(unknown class) = %v, want errs.ErrNotFound", err)
	}
	for _, reg := range registrations {
		if !strings.Contains(err.Error(), reg.class) {
			t.Errorf("error %q does not list the known class %s", err, reg.class)
		}
	}
	if n := len(records(t, b, "instrument")); n != 0 {
		t.Errorf("%d instrument records after a failed registration, want 0", n)
	}
}

// valuesOf renders records as comparable strings, keyed by data ID.
func valuesOf(recs map[string]dimensions.Record) map[string]map[string]string {
	out := map[string]map[string]string{}
	for k, r := range recs {
		out[k] = sharedValues(r, r)
	}
	return out
}

// A stored definition that differs from the instrument's is a conflict unless
// update; the conflict must leave the repository as it was (upstream registers
// an instrument in one transaction).
func TestRegisterInstrument_ChangedDefinition(t *testing.T) {
	ctx := context.Background()
	const class = "lsst.obs.lsst.LsstComCam"
	in, err := instrument.Lookup(class)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("altered detector", func(t *testing.T) {
		b := newRepo(t)
		if _, err := ingest.RegisterInstrument(ctx, b, class, false); err != nil {
			t.Fatal(err)
		}
		orig := records(t, b, "detector")
		changed := alteredDetector(t, b, in.Name)
		_, err := ingest.RegisterInstrument(ctx, b, class, false)
		if !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("RegisterInstrument over an altered detector = %v, want errs.ErrConflict", err)
		}
		if !strings.HasSuffix(err.Error(), "; use --update to overwrite") {
			t.Errorf("RegisterInstrument conflict %q, want it to end naming register-instrument's --update", err)
		}
		got := records(t, b, "detector")[changed.DataID().String()]
		if fmt.Sprint(got.Values["full_name"]) != fmt.Sprint(changed.Values["full_name"]) {
			t.Errorf("conflicting registration overwrote the detector: full_name %v", got.Values["full_name"])
		}
		n, err := ingest.RegisterInstrument(ctx, b, class, true)
		if err != nil || n != 1 {
			t.Fatalf("RegisterInstrument(update) = %d, %v; want 1 record rewritten", n, err)
		}
		if d := cmp.Diff(valuesOf(orig), valuesOf(records(t, b, "detector"))); d != "" {
			t.Errorf("detectors after --update differ from the first registration:\n%s", d)
		}
	})

	t.Run("conflict writes nothing", func(t *testing.T) {
		// A partial earlier registration: one filter is missing and one detector
		// differs. The conflict must not add the missing filter either.
		b := newRepo(t)
		recs := ingest.InstrumentRecords(b.Universe, in)
		for _, el := range []string{"instrument", "detector", "visit_system"} {
			if len(recs[el]) > 0 {
				if err := b.InsertRecords(ctx, el, recs[el], butler.InsertNew); err != nil {
					t.Fatal(err)
				}
			}
		}
		filters := recs["physical_filter"]
		missing := filters[len(filters)-1]
		if err := b.InsertRecords(ctx, "physical_filter", filters[:len(filters)-1], butler.InsertNew); err != nil {
			t.Fatal(err)
		}
		alteredDetector(t, b, in.Name)
		_, err := ingest.RegisterInstrument(ctx, b, class, false)
		if !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("RegisterInstrument over an altered detector = %v, want errs.ErrConflict", err)
		}
		if !strings.HasSuffix(err.Error(), "; use --update to overwrite") {
			t.Errorf("RegisterInstrument conflict %q, want it to end naming register-instrument's --update", err)
		}
		if _, ok := records(t, b, "physical_filter")[missing.DataID().String()]; ok {
			t.Errorf("BUG: RegisterInstrument failed with a conflict but still inserted physical_filter %v: the registration is not one transaction", missing.Values["name"])
		}
	})
}

// alteredDetector replaces the first detector of the instrument with one whose
// full name differs and returns the stored record.
func alteredDetector(t *testing.T, b *butler.Butler, inst string) dimensions.Record {
	t.Helper()
	dets, err := b.Records(context.Background(), "detector", dimensions.DataID{"instrument": inst})
	if err != nil || len(dets) == 0 {
		t.Fatalf("detectors of %s: %d, %v", inst, len(dets), err)
	}
	rec := dimensions.Record{Element: dets[0].Element, Values: map[string]any{}}
	for k, v := range dets[0].Values {
		rec.Values[k] = v
	}
	rec.Values["full_name"] = "R99_S99"
	if err := b.InsertRecords(context.Background(), "detector", []dimensions.Record{rec}, butler.InsertReplace); err != nil {
		t.Fatalf("InsertRecords(detector, replace): %v", err)
	}
	return rec
}
