package obsinfo_test

import (
	"errors"
	"fmt"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/instrument"
	"github.com/gobutler/butler/internal/obsinfo"
	"github.com/gobutler/butler/timespan"
)

// corpusDir finds the shared test corpus: $BUTLER_TEST_CORPUS, else
// ../shared/corpus beside the module root; the test is skipped without it.
func corpusDir(t *testing.T) string {
	return corpustest.Dir(t)
}

func loadDump(t *testing.T, name string) obsinfo.Header {
	t.Helper()
	h, err := obsinfo.LoadHeaderDump(filepath.Join(corpusDir(t), "headers", name))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// property returns an ObservationInfo property by its upstream name, in the
// units of upstreamExpected.
func property(o *obsinfo.ObservationInfo, name string) (any, bool) {
	f := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	switch name {
	case "instrument":
		return o.Instrument, true
	case "telescope":
		return o.Telescope, true
	case "exposure_id":
		return o.ExposureID, true
	case "visit_id":
		return o.VisitID, true
	case "detector_num":
		return o.DetectorNum, true
	case "detector_name":
		return o.DetectorName, true
	case "detector_group":
		return o.DetectorGroup, true
	case "detector_serial":
		return o.DetectorSerial, true
	case "detector_unique_name":
		return o.DetectorUniqueName, true
	case "detector_exposure_id":
		return o.DetectorExposureID, true
	case "observation_id":
		return o.ObsID, true
	case "physical_filter":
		return o.PhysicalFilter, true
	case "observation_type":
		return o.ObservationType, true
	case "observation_reason":
		return o.ObservationReason, true
	case "science_program":
		return o.ScienceProgram, true
	case "object":
		return o.TargetName, true
	case "exposure_group":
		return o.Group, true
	case "observing_day":
		return o.DayObs, true
	case "observing_day_offset":
		if o.DayObsOffset == nil {
			return nil, true
		}
		return float64(*o.DayObsOffset), true
	case "observation_counter":
		return o.SeqNum, true
	case "group_counter_start":
		return o.SeqStart, true
	case "group_counter_end":
		return o.SeqEnd, true
	case "exposure_time":
		return o.ExposureTime, true
	case "exposure_time_requested":
		return o.ExposureTimeRequested, true
	case "dark_time":
		return o.DarkTime, true
	case "boresight_rotation_coord":
		return o.BoresightRotationCoord, true
	case "boresight_rotation_angle":
		return f(o.BoresightRotationAngle), true
	case "focus_z":
		return o.FocusZ, true
	case "temperature":
		return f(o.Temperature), true
	case "pressure":
		return f(o.Pressure), true
	case "relative_humidity":
		return f(o.RelativeHumidity), true
	case "has_simulated_content":
		return o.HasSimulatedContent, true
	case "can_see_sky":
		if o.CanSeeSky == nil {
			return nil, true
		}
		return *o.CanSeeSky, true
	}
	return nil, false
}

func almostEqual(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-7*math.Max(1, math.Abs(b))
}

func checkProps(t *testing.T, o *obsinfo.ObservationInfo, want props) {
	t.Helper()
	for name, w := range want {
		got, known := property(o, name)
		if !known {
			t.Errorf("test bug: unknown property %q", name)
			continue
		}
		switch w := w.(type) {
		case float64:
			g, isFloat := got.(float64)
			if !isFloat || !almostEqual(g, w) {
				t.Errorf("%s = %v, want %v", name, got, w)
			}
		default:
			if got != w {
				t.Errorf("%s = %#v, want %#v", name, got, w)
			}
		}
	}
}

// The corpus dumps that obs_lsst's tests translate but which are for
// instruments this butler does not handle.
func unsupportedDump(name string) bool {
	for _, p := range []string{"imsim-", "phosim-", "ts3-", "ts8-"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Dumps with no expected values upstream that must still translate
// pedantically (obs_lsst's filter-definition test uses them).
var translateOnly = map[string]string{
	"latiss-AT_O_20200128_000335.yaml":          "LATISS",
	"lsstCam_MC_C_20231125_000600_R12_S10.yaml": "LSSTCam",
}

func TestTranslate_CorpusHeaders(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "headers")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	expected := map[string]props{}
	for _, e := range upstreamExpected {
		expected[e.file] = e.want
	}
	seen := 0
	for _, e := range ents {
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, err := obsinfo.LoadHeaderDump(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			o, err := obsinfo.TranslateWith(h, name, obsinfo.Options{Pedantic: true})
			switch want, inTable := expected[name]; {
			case unsupportedDump(name):
				if !errors.Is(err, errs.ErrUnsupported) {
					t.Fatalf("Translate = %v, want ErrUnsupported", err)
				}
			case name == "latiss-future-bad.yaml":
				// Upstream's pedantic translation fails: a science exposure
				// without pointing, rotator or target.
				if !errors.Is(err, errs.ErrInvalid) {
					t.Fatalf("pedantic Translate = %v, want ErrInvalid", err)
				}
				for _, key := range []string{"ROTPA", "tracking_radec", "altaz_begin", "OBJECT"} {
					if !strings.Contains(err.Error(), key) {
						t.Errorf("error %q does not name %s", err, key)
					}
				}
			case inTable:
				if err != nil {
					t.Fatalf("Translate: %v", err)
				}
				checkProps(t, o, want)
			case translateOnly[name] != "":
				if err != nil {
					t.Fatalf("Translate: %v", err)
				}
				if o.Instrument != translateOnly[name] {
					t.Errorf("instrument = %q, want %q", o.Instrument, translateOnly[name])
				}
			default:
				t.Fatalf("no expectation for corpus dump %s (Translate = %v)", name, err)
			}
		})
		seen++
	}
	if seen != 62 {
		t.Errorf("corpus has %d header dumps, want 62", seen)
	}
}

// TestTranslate_IngestMode checks the non-pedantic translation that
// ingest-raws does: latiss-future-bad translates, with the optional
// properties upstream could not compute left undefined.
func TestTranslate_IngestMode(t *testing.T) {
	o, err := obsinfo.Translate(loadDump(t, "latiss-future-bad.yaml"), "latiss-future-bad.yaml")
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	if o.ExposureID != 2020032900022 || o.ObservationType != "science" || o.Group != "ABCDEF" || o.ExposureTimeRequested != -1 {
		t.Errorf("got exposure %d type %q group %q exptime %v", o.ExposureID, o.ObservationType, o.Group, o.ExposureTimeRequested)
	}
	for _, p := range []string{"tracking_radec", "altaz_begin", "boresight_rotation_angle", "object"} {
		if o.OK(p) {
			t.Errorf("%s translated, want a failure", p)
		}
	}
	if o.TrackingRA != nil || o.AltAzBegin != nil || o.SkyAngle != nil {
		t.Errorf("pointing defined: %v %v %v", o.TrackingRA, o.AltAzBegin, o.SkyAngle)
	}
	rec, err := o.ExposureRecord(8)
	if err != nil {
		t.Fatal(err)
	}
	if rec["target_name"] != nil || rec["tracking_ra"] != nil || rec["exposure_time"] != -1.0 {
		t.Errorf("record target %v tracking %v exptime %v", rec["target_name"], rec["tracking_ra"], rec["exposure_time"])
	}
}

func TestTranslate_PhysicalFilterIsDefined(t *testing.T) {
	// obs_lsst's test_filter_defs: the translated filter is one the
	// instrument registers.
	tests := map[string][]string{
		"LSSTCam": {"lsstCam-MC_C_20190319_000001_R10_S02.yaml", "lsstCam-MC_C_20190319_000001_R22_S21.yaml",
			"lsstCam-MC_C_20190322_000002_R10_S22.yaml", "lsstCam-MC_C_20190406_000643_R10_S00.yaml",
			"lsstCam_MC_C_20231125_000600_R12_S10.yaml"},
		"LATISS": {"latiss-2018-09-20-05700065-det000.yaml", "latiss-AT_O_20190306_000014.yaml",
			"latiss-AT_O_20190329_000022-ats-wfs_ccd.yaml", "latiss-AT_O_20190915_000037.yaml",
			"latiss-AT_O_20191031_000004.yaml", "latiss-AT_O_20191104_000003.yaml", "latiss-AT_O_20191113_000061.yaml",
			"latiss-AT_O_20200121_000045.yaml", "latiss-AT_O_20200128_000335.yaml", "latiss-AT_O_20200128_000379.yaml",
			"latiss-AT_O_20210210_000011.yaml", "latiss-AT_O_20210212_000006.yaml", "latiss-AT_O_20220405_000348.yaml",
			"latiss-AT_O_20220405_000349.yaml", "latiss-AT_O_20230321_000053.yaml", "latiss-future.yaml"},
	}
	for inst, files := range tests {
		in, err := instrument.Lookup(inst)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			o, err := obsinfo.TranslateWith(loadDump(t, f), f, obsinfo.Options{Pedantic: true})
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if _, ok := in.Filter(o.PhysicalFilter); !ok {
				t.Errorf("%s: physical_filter %q is not an %s filter", f, o.PhysicalFilter, inst)
			}
		}
	}
}

// TestTranslate_Pointing checks positions that the exposure record stores.
func TestTranslate_Pointing(t *testing.T) {
	tests := []struct {
		file                                string
		ra, dec, sky, az, zenith, rot, airm float64 // NaN: undefined
		coord                               string
	}{
		// values from the lsstCamSim registry (universe 7)
		{"lsstCamSim-MC_S_20240321_000720_R22_S11.yaml", 250.076618218147, 1.97766043683512, 81.1232673442895,
			38.7235917159602, 39.1227462972136, 81.12326734428959, math.NaN(), "sky"},
		// RADESYS FK5: converted to ICRS by the frame-bias rotation
		{"lsstCam-MC_O_20250415_000228_R10_S20.yaml", math.NaN(), math.NaN(), 28.988651816521724,
			math.NaN(), math.NaN(), 28.988651816521724, math.NaN(), "sky"},
		{"lsstCam-MC_O_20250422_000250_R01_S01.yaml", math.NaN(), math.NaN(), 138.6291409919304,
			math.NaN(), math.NaN(), 138.6291409919304, math.NaN(), "sky"},
		{"lsstCam-MC_O_20251121_000156_R44_SW0.json", 10.722205398359963, -47.6644971144605, 290.31522740370315,
			360 - 134.829439506459, 90 - 60.6996854239269, 290.31522740370315, 1.146378634365575, "sky"},
		{"lsstCam-MC_C_20190319_000001_R10_S02.yaml", math.NaN(), math.NaN(), math.NaN(),
			math.NaN(), math.NaN(), 0, math.NaN(), "unknown"},
	}
	for _, tt := range tests {
		o, err := obsinfo.TranslateWith(loadDump(t, tt.file), tt.file, obsinfo.Options{Pedantic: true})
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		check := func(what string, got *float64, want float64, optional bool) {
			switch {
			case math.IsNaN(want) && optional:
			case math.IsNaN(want) && got != nil:
				t.Errorf("%s: %s = %v, want undefined", tt.file, what, *got)
			case !math.IsNaN(want) && (got == nil || !almostEqual(*got, want)):
				t.Errorf("%s: %s = %v, want %v", tt.file, what, deref(got), want)
			}
		}
		partial := strings.HasPrefix(tt.file, "lsstCam-MC_O_202504")
		check("tracking_ra", o.TrackingRA, tt.ra, partial)
		check("tracking_dec", o.TrackingDec, tt.dec, partial)
		check("sky_angle", o.SkyAngle, tt.sky, false)
		check("azimuth", o.Azimuth, tt.az, partial)
		check("zenith_angle", o.ZenithAngle, tt.zenith, partial)
		check("rotation", o.BoresightRotationAngle, tt.rot, false)
		check("airmass", o.BoresightAirmass, tt.airm, true)
		if o.BoresightRotationCoord != tt.coord {
			t.Errorf("%s: rotation coord %q, want %q", tt.file, o.BoresightRotationCoord, tt.coord)
		}
	}
	// FK5 → ICRS: RASTART/DECSTART differ from the ICRS result by the
	// frame bias, tens of milliarcseconds, never more.
	h := loadDump(t, "lsstCam-MC_O_20250415_000228_R10_S20.yaml")
	o, err := obsinfo.Translate(h, "")
	if err != nil {
		t.Fatal(err)
	}
	ra, _ := h["RASTART"].(float64)
	dec, _ := h["DECSTART"].(float64)
	dRA := (*o.TrackingRA - ra) * math.Cos(dec*math.Pi/180) * 3.6e6
	dDec := (*o.TrackingDec - dec) * 3.6e6
	if h["RADESYS"] != "FK5" || math.Hypot(dRA, dDec) > 40 || math.Hypot(dRA, dDec) < 5 {
		t.Errorf("FK5 (%v, %v) → ICRS (%v, %v): offset (%.1f, %.1f) mas", ra, dec, *o.TrackingRA, *o.TrackingDec, dRA, dDec)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// expectedExposure is one exposure block of a corpus EXPECTED file.
type expectedExposure map[string]string

// readExpected returns the universe version and the exposure rows (§1 and
// §8) of raws/<dir>/EXPECTED.<dir>.txt.
func readExpected(t *testing.T, dir string) (int, []expectedExposure) {
	t.Helper()
	e := corpustest.ReadExpected(t, filepath.Join(corpusDir(t), "raws", dir, "EXPECTED."+dir+".txt"))
	rows := make([]expectedExposure, len(e.Exposures))
	for i, x := range e.Exposures {
		rows[i] = x
	}
	return e.Universe, rows
}

// TestExposureRecords_CorpusRaws rebuilds every exposure row of the corpus
// registries from the header dumps of its raws.
func TestExposureRecords_CorpusRaws(t *testing.T) {
	tests := []struct {
		dir   string
		dumps []string // header dumps of the raws, first one per exposure first
		// known differences between the dump and the raw the registry was
		// made from: column → value the dump gives
		differs map[string]string
	}{
		{"lsstCam", []string{"lsstCam-MC_C_20190319_000001_R10_S02.yaml", "lsstCam-MC_C_20190319_000001_R22_S21.yaml",
			"lsstCam-MC_C_20190322_000002_R10_S22.yaml"}, nil},
		{"latiss", []string{"latiss-2018-09-20-05700065-det000.yaml"}, nil},
		{"comCam", []string{"comCam-CC_C_20190530_000001_R22_S00.yaml"}, nil},
		// The dump's DATE-END is 07:54:49.1471; the registry ends at .147000,
		// from an older version of the raw (see the corpus README).
		{"lsstCamSim", []string{"lsstCamSim-MC_S_20240321_000720_R22_S11.yaml"},
			map[string]string{"timespan_end": "1711007689147100000"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			version, rows := readExpected(t, tt.dir)
			if version < 0 || len(rows) == 0 {
				t.Fatalf("EXPECTED.%s.txt: universe %d, %d exposure rows", tt.dir, version, len(rows))
			}
			records := map[string]map[string]any{}
			for _, d := range tt.dumps {
				o, err := obsinfo.Translate(loadDump(t, d), d)
				if err != nil {
					t.Fatalf("%s: %v", d, err)
				}
				r, err := o.ExposureRecord(version)
				if err != nil {
					t.Fatal(err)
				}
				id := strconv.FormatInt(o.ExposureID, 10)
				if prev, dup := records[id]; dup {
					// several detectors of one exposure agree on the record
					for k, v := range r {
						if prev[k] != v {
							t.Errorf("%s: %s = %v, first detector gave %v", d, k, v, prev[k])
						}
					}
					continue
				}
				records[id] = r
			}
			if len(records) != len(rows) {
				t.Errorf("%d exposures from dumps, registry has %d", len(records), len(rows))
			}
			for _, row := range rows {
				rec, found := records[row["id"]]
				if !found {
					t.Errorf("registry exposure %s not produced", row["id"])
					continue
				}
				for col, want := range row {
					if strings.HasSuffix(col, "_tai") {
						continue // a rendering of timespan_begin/end
					}
					if d, known := tt.differs[col]; known {
						if want == d {
							t.Errorf("exposure %s: %s: registry now agrees with the dump; drop the exception", row["id"], col)
						}
						want = d
					}
					got, has := rec[col]
					if !has {
						t.Errorf("exposure %s: no column %s in our universe-%d record", row["id"], col, version)
						continue
					}
					if !sameValue(got, want) {
						t.Errorf("exposure %s: %s = %v, registry %q", row["id"], col, got, want)
					}
				}
				for col := range rec {
					if _, has := row[col]; !has {
						t.Errorf("exposure %s: column %s is not in the universe-%d table", row["id"], col, version)
					}
				}
			}
		})
	}
}

// sameValue compares a record value with the sqlite3 shell's rendering.
func sameValue(got any, want string) bool {
	switch g := got.(type) {
	case nil:
		return want == ""
	case string:
		return g == want
	case int64:
		return strconv.FormatInt(g, 10) == want
	case bool:
		return (g && want == "1") || (!g && want == "0")
	case float64:
		w, err := strconv.ParseFloat(want, 64)
		// the shell prints 15 significant digits
		return err == nil && math.Abs(g-w) <= 1e-12*math.Max(1, math.Abs(w))
	}
	return fmt.Sprint(got) == want
}

func TestDayObsTimespan(t *testing.T) {
	tests := []struct {
		file       string
		begin, end int64
	}{
		// Current code: 12 h for LSSTCamSim; the corpus registry still
		// shows the 7 h Pacific offset of older code.
		{"lsstCamSim-MC_S_20240321_000720_R22_S11.yaml", 1711022400000000000, 1711108800000000000},
		{"lsstCam-MC_O_20250609_000578_R01_S01.yaml", 1749470400000000000, 1749556800000000000},
		// 2019 lab data: Pacific daylight time, 7 h
		{"lsstCam-MC_C_20190319_000001_R10_S02.yaml", 1552953600000000000 + 7*3600e9, 1553040000000000000 + 7*3600e9},
	}
	for _, tt := range tests {
		o, err := obsinfo.Translate(loadDump(t, tt.file), tt.file)
		if err != nil {
			t.Fatal(err)
		}
		ts, ok, err := o.DayObsTimespan()
		if err != nil || !ok || ts != (timespan.Timespan{Begin: tt.begin, End: tt.end}) {
			t.Errorf("%s: DayObsTimespan() = %v, %v, %v, want [%d, %d)", tt.file, ts, ok, err, tt.begin, tt.end)
		}
	}
}

func TestTranslate_Errors(t *testing.T) {
	base := func(t *testing.T) obsinfo.Header { return loadDump(t, "lsstCam-MC_C_20190319_000001_R10_S02.yaml") }
	tests := []struct {
		name    string
		edit    func(obsinfo.Header)
		wantErr error
		wantMsg string
	}{
		{"no DAYOBS", func(h obsinfo.Header) { delete(h, "DAYOBS") }, errs.ErrInvalid, "DAYOBS"},
		{"undefined SEQNUM", func(h obsinfo.Header) { h["SEQNUM"] = nil }, errs.ErrInvalid, "SEQNUM"},
		{"no IMGTYPE", func(h obsinfo.Header) { delete(h, "IMGTYPE") }, errs.ErrInvalid, "IMGTYPE"},
		{"no dates", func(h obsinfo.Header) {
			for _, k := range []string{"DATE-OBS", "MJD-OBS", "DATE-BEG", "MJD-BEG"} {
				delete(h, k)
			}
		}, errs.ErrInvalid, "MJD-BEG"},
		{"unknown detector", func(h obsinfo.Header) { h["CCDSLOT"] = "S99" }, errs.ErrInvalid, "R10_S99"},
		{"no OBSID", func(h obsinfo.Header) { delete(h, "OBSID") }, errs.ErrInvalid, "OBSID"},
		{"bad controller", func(h obsinfo.Header) { h["CONTRLLR"] = "X" }, errs.ErrInvalid, `controller "X"`},
		{"other instrument", func(h obsinfo.Header) { h["INSTRUME"] = "DECam" }, errs.ErrUnsupported, "DECam"},
		{"no instrument", func(h obsinfo.Header) { delete(h, "INSTRUME") }, errs.ErrUnsupported, "INSTRUME undefined"},
		{"test stand", func(h obsinfo.Header) { delete(h, "INSTRUME"); h["TSTAND"] = "TS8" }, errs.ErrUnsupported, "LSST-TS8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := base(t)
			tt.edit(h)
			_, err := obsinfo.Translate(h, "x.fits")
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Translate = %v, want %v naming %q", err, tt.wantErr, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), `"x.fits"`) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestTranslate_DoesNotModifyHeader(t *testing.T) {
	h := loadDump(t, "latiss-AT_O_20191113_000061.yaml") // 1970 dates, radians, GROUPID fixes
	before := fmt.Sprint(h)
	if _, err := obsinfo.Translate(h, ""); err != nil {
		t.Fatal(err)
	}
	if after := fmt.Sprint(h); after != before {
		t.Error("Translate modified the caller's header")
	}
}

func TestTranslate_Corrections(t *testing.T) {
	// The embedded correction makes this exposure a bias.
	o, err := obsinfo.Translate(loadDump(t, "latiss-AT_O_20190329_000022-ats-wfs_ccd.yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Correction != "LATISS-AT_O_20190329_000022.yaml" || o.ObservationType != "bias" {
		t.Errorf("correction %q, type %q", o.Correction, o.ObservationType)
	}
	// A caller's correction directory wins over the embedded one.
	dir := fstest.MapFS{"LATISS-AT_O_20190329_000022.yaml": {Data: []byte("IMGTYPE: FLAT\nEXPTIME: 2.5\n")}}
	o, err = obsinfo.TranslateWith(loadDump(t, "latiss-AT_O_20190329_000022-ats-wfs_ccd.yaml"), "", obsinfo.Options{Corrections: []fs.FS{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if o.ObservationType != "flat" || o.ExposureTime != 2.5 {
		t.Errorf("with own correction: type %q exptime %v", o.ObservationType, o.ExposureTime)
	}
	// A header marked as already fixed is left alone.
	h := loadDump(t, "latiss-AT_O_20190329_000022-ats-wfs_ccd.yaml")
	h["ASTRO METADATA FIX MODIFIED"] = true
	o, err = obsinfo.Translate(h, "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Correction != "" || o.ObservationType == "bias" {
		t.Errorf("fixed header corrected again: %q, %q", o.Correction, o.ObservationType)
	}
}

func TestTranslate_LATISSFixups(t *testing.T) {
	// obs_lsst test_fix_header: RASTART after the hours→degrees and 37 s
	// corrections (compared exactly upstream).
	tests := []struct {
		file    string
		rastart float64
	}{
		{"latiss-AT_O_20210212_000006.yaml", 260.024385071917},
		{"latiss-AT_O_20210210_000011.yaml", 355.41750341182313},
	}
	for _, tt := range tests {
		h := loadDump(t, tt.file)
		fixed, err := obsinfo.FixHeader(h, obsinfo.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if fixed["RASTART"] != tt.rastart {
			t.Errorf("%s: fixed RASTART = %v, want %v", tt.file, fixed["RASTART"], tt.rastart)
		}
	}
}

func TestTimespan(t *testing.T) {
	tests := []struct {
		begin, end int64
		want       timespan.Timespan
	}{
		{100, 200, timespan.Timespan{Begin: 100, End: 200}},
		{100, 100, timespan.Timespan{Begin: 100, End: 101}}, // zero-length bias
		{100, 50, timespan.Timespan{Begin: 100, End: 101}},  // end before begin
	}
	for _, tt := range tests {
		o := &obsinfo.ObservationInfo{Begin: tt.begin, End: tt.end}
		if got := o.Timespan(); got != tt.want {
			t.Errorf("Timespan(%d, %d) = %v, want %v", tt.begin, tt.end, got, tt.want)
		}
	}
}

func derefBool(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestIdentify(t *testing.T) {
	tests := []struct {
		file      string
		name      string
		supported bool
	}{
		{"lsstCam-MC_C_20190319_000001_R10_S02.yaml", "LSSTCam", true},
		{"latiss-2018-09-20-05700065-det000.yaml", "LSST_LATISS", true},
		{"comCam-CC_C_20190526_000223_R22_S01.yaml", "LSSTComCam", true}, // INSTRUME LSST_CAMERA, TELCODE CC
		{"comCamSim-IM_P_20240117_000000_R22_S00.yaml", "LSSTComCamSim", true},
		{"lsstCamSim-MC_S_20240321_000720_R22_S11.yaml", "LSSTCamSim", true},
		{"ts8-TS_C_20220711_000174_R22_S00.yaml", "LSST-TS8", false},
		{"ts3-ITL-3800C-098_lambda_flat_1000_067_20160722020740.yaml", "LSST-TS3", false},
		{"imsim-bias-lsst_a_3010002_R11_S00.yaml", "LSSTCam-imSim", false},
		{"phosim-hdu0-lsst_a_204595_f3_R11_S02_E000.yaml", "LSSTCam-PhoSim", false},
	}
	for _, tt := range tests {
		name, supported := obsinfo.Identify(loadDump(t, tt.file))
		if name != tt.name || supported != tt.supported {
			t.Errorf("Identify(%s) = %q, %v, want %q, %v", tt.file, name, supported, tt.name, tt.supported)
		}
	}
	if name, supported := obsinfo.Identify(obsinfo.Header{"INSTRUME": "DECam"}); name != "" || supported {
		t.Errorf("Identify(DECam) = %q, %v", name, supported)
	}
}
