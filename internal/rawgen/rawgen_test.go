package rawgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/fits"
	"github.com/google/go-cmp/cmp"
)

// readRaw reads all headers of a generated file.
func readRaw(t testing.TB, path string) []*fits.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	hdrs, err := fits.ReadHeaders(f, st.Size(), 0)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return hdrs
}

// perDetector are the primary keys that differ between the detectors of one exposure.
var perDetector = []string{"RAFTBAY", "CCDSLOT", "CCD_MANU", "CCD_TYPE", "LSST_NUM", "CCD_SERN", "REBNAME",
	"RAFTNAME", "CONTNUM", "SEQFILE", "SEQNAME", "SEQCKSUM", "FILENAME"}

// validFilters are physical filters of the registry tables (instruments_and_ingest.md
// §6.5–6.7) the generated FILTER (LATISS: FILTER~empty) must be among.
var validFilters = map[string][]string{
	LSSTCam:    {"u_24", "g_6", "r_57", "i_39", "z_20", "y_10"},
	LSSTComCam: {"u_05", "u_02", "u_06", "g_07", "g_01", "r_03", "i_06", "z_03", "z_02", "y_04"},
	LATISS:     {"SDSSu_65mm~empty", "SDSSg_65mm~empty", "SDSSr_65mm~empty", "SDSSi_65mm~empty", "SDSSz_65mm~empty", "SDSSy_65mm~empty"},
}

func parseISO(t testing.TB, h *fits.Header, key string) time.Time {
	t.Helper()
	s, _ := h.String(key)
	v, err := time.Parse(isoMillis, s)
	if err != nil {
		t.Fatalf("%s = %q: %v", key, s, err)
	}
	return v
}

func TestGenerate_ReadBack(t *testing.T) {
	for _, inst := range []string{LSSTCam, LSSTComCam, LATISS} {
		t.Run(inst, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			const exposures = 24
			var paths []string
			n, err := Generate(context.Background(), dir, Options{Instrument: inst, Exposures: exposures, Seed: 7},
				func(p string) { paths = append(paths, p) })
			if err != nil {
				t.Fatal(err)
			}
			dets := DefaultDetectors(inst)
			if n != exposures*len(dets) || len(paths) != n {
				t.Fatalf("Generate = %d files, %d callbacks; want %d", n, len(paths), exposures*len(dets))
			}
			known := map[string]detInfo{}
			for _, d := range detectorTable(inst) {
				known[d.name] = d
			}
			var (
				prevBeg   time.Time
				prevDay   string
				prevSeq   int64
				types     = map[string]int{}
				groups    = map[string][]int64{} // GROUPID → SEQNUM - CURINDEX + 1 of each member
				expShared map[string]any
			)
			for i, path := range paths {
				hdrs := readRaw(t, path)
				if len(hdrs) != 19 {
					t.Fatalf("%s: %d HDUs, want 19", path, len(hdrs))
				}
				var ext []string
				for _, h := range hdrs[1:] {
					s, _ := h.String("EXTNAME")
					ext = append(ext, s)
				}
				if d := cmp.Diff(append(ampNames(16), "REB_COND", "CONFIG_COND"), ext); d != "" {
					t.Fatalf("%s EXTNAMEs differ (-want +got):\n%s", path, d)
				}
				h := hdrs[0]
				m := h.Map()
				str := func(k string) string { s, _ := h.String(k); return s }
				num := func(k string) int64 { n, _ := h.Int(k); return n }
				flt := func(k string) float64 { f, _ := h.Float(k); return f }

				// Identity: OBSID from its parts, file layout and FILENAME.
				obsID := fmt.Sprintf("%s_%s_%s_%06d", str("CAMCODE"), str("CONTRLLR"), str("DAYOBS"), num("SEQNUM"))
				if str("OBSID") != obsID {
					t.Errorf("%s: OBSID %q, want %q from CAMCODE/CONTRLLR/DAYOBS/SEQNUM", path, str("OBSID"), obsID)
				}
				wantPath := filepath.Join(dir, str("DAYOBS"), obsID, obsID+"_"+str("RAFTBAY")+"_"+str("CCDSLOT")+".fits")
				if path != wantPath || str("FILENAME") != filepath.Base(path) {
					t.Errorf("path %s, FILENAME %s; want %s", path, str("FILENAME"), wantPath)
				}
				// Detector: the i-th default detector, with its serial.
				d := dets[i%len(dets)]
				name := str("RAFTBAY") + "_" + str("CCDSLOT")
				if inst == LATISS {
					if name != "R00_S00" {
						t.Errorf("LATISS RAFTBAY_CCDSLOT = %s, want R00_S00", name)
					}
					name = "RXX_S00"
				}
				if name != d.Name || str("LSST_NUM") != known[d.Name].serial {
					t.Errorf("%s: detector %s serial %s, want %s %s", path, name, str("LSST_NUM"), d.Name, known[d.Name].serial)
				}
				// Times: DAYOBS is the TAI date 12 h earlier; MJDs agree with dates;
				// DATE-END − DATE-BEG = DARKTIME.
				beg := parseISO(t, h, "DATE-BEG")
				if got := beg.Add(-12 * time.Hour).Format("20060102"); got != str("DAYOBS") {
					t.Errorf("%s: DAYOBS %s, want %s from DATE-BEG", path, str("DAYOBS"), got)
				}
				for _, k := range []string{"OBS", "BEG", "END", "TRG"} {
					ts := parseISO(t, h, "DATE-"+k)
					if d := math.Abs(mjd(ts) - flt("MJD-"+k)); d > 1e-9 {
						t.Errorf("MJD-%s off DATE-%s by %g days", k, k, d)
					}
				}
				if d := parseISO(t, h, "DATE-END").Sub(beg).Seconds() - flt("DARKTIME"); math.Abs(d) > 0.0011 {
					t.Errorf("DATE-END − DATE-BEG − DARKTIME = %g s", d)
				}
				if flt("DARKTIME") < flt("EXPTIME") {
					t.Errorf("DARKTIME %g < EXPTIME %g", flt("DARKTIME"), flt("EXPTIME"))
				}
				// Filter valid for the instrument, band consistent.
				filter := str("FILTER")
				if inst == LATISS {
					filter += "~empty"
				}
				if !slices.Contains(validFilters[inst], filter) || !strings.Contains(filter, str("FILTBAND")) {
					t.Errorf("%s: FILTER %s FILTBAND %s not a valid %s physical filter", path, str("FILTER"), str("FILTBAND"), inst)
				}
				if !slices.Contains([]string{"BIAS", "DARK", "FLAT", "OBJECT"}, str("IMGTYPE")) || str("TESTTYPE") != str("IMGTYPE") {
					t.Errorf("IMGTYPE %s TESTTYPE %s", str("IMGTYPE"), str("TESTTYPE"))
				}
				if str("IMGTYPE") == "OBJECT" {
					if el := flt("ELSTART"); el < 20 || el > 90 || math.Abs(flt("AMSTART")-1/math.Sin(el*math.Pi/180)) > 1e-9 {
						t.Errorf("science ELSTART %g AMSTART %g incoherent", el, flt("AMSTART"))
					}
				}

				if i%len(dets) == 0 { // first detector of an exposure
					if !prevBeg.IsZero() && !beg.After(prevBeg) {
						t.Errorf("DATE-OBS %v not after the previous exposure's %v", beg, prevBeg)
					}
					if str("DAYOBS") == prevDay && num("SEQNUM") != prevSeq+1 || str("DAYOBS") != prevDay && num("SEQNUM") != 1 {
						t.Errorf("SEQNUM %d on %s after %d on %s", num("SEQNUM"), str("DAYOBS"), prevSeq, prevDay)
					}
					prevBeg, prevDay, prevSeq = beg, str("DAYOBS"), num("SEQNUM")
					types[str("IMGTYPE")]++
					g := str("GROUPID")
					groups[g] = append(groups[g], num("SEQNUM")-num("CURINDEX")+1)
					if num("CURINDEX") < 1 || num("CURINDEX") > num("MAXINDEX") {
						t.Errorf("CURINDEX %d MAXINDEX %d", num("CURINDEX"), num("MAXINDEX"))
					}
					expShared = m
					for _, k := range perDetector {
						delete(expShared, k)
					}
				} else {
					for _, k := range perDetector {
						delete(m, k)
					}
					if d := cmp.Diff(expShared, m); d != "" {
						t.Errorf("%s: exposure-level keys differ from the exposure's first detector (-first +this):\n%s", path, d)
					}
				}
			}
			for _, typ := range []string{"BIAS", "DARK", "FLAT", "OBJECT"} {
				if types[typ] == 0 {
					t.Errorf("no %s exposure among %d: %v", typ, exposures, types)
				}
			}
			for g, starts := range groups {
				for _, s := range starts {
					if s != starts[0] {
						t.Errorf("group %s: SEQNUM − CURINDEX + 1 varies: %v", g, starts)
					}
				}
			}
		})
	}
}

// dumpKey is one key of a corpus header dump and the YAML type of its value.
type dumpKey struct{ key, typ string }

var (
	yamlInt   = regexp.MustCompile(`^-?\d+$`)
	yamlFloat = regexp.MustCompile(`^-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$`)
)

// readDump reads the primary-header part of a corpus YAML dump (the dumps merge the
// first extension after the primary; it starts at XTENSION).
func readDump(t *testing.T, path string) []dumpKey {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no header dump: %v", err)
	}
	defer f.Close()
	var keys []dumpKey
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			t.Fatalf("%s: line %q", path, sc.Text())
		}
		if k == "XTENSION" {
			break
		}
		typ := "string"
		switch {
		case v == "null":
			typ = "null"
		case v == "true" || v == "false":
			typ = "bool"
		case strings.HasPrefix(v, "'"):
		case yamlInt.MatchString(v):
			typ = "int"
		case yamlFloat.MatchString(v):
			typ = "float"
		}
		keys = append(keys, dumpKey{k, typ})
	}
	return keys
}

func typeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	}
	return "string"
}

// TestGenerate_MatchesSummitDumps checks the primary key set, order and value types
// against the real headers the generator is modelled on.
func TestGenerate_MatchesSummitDumps(t *testing.T) {
	corpus := corpusDir(t)
	for _, tt := range []struct{ inst, dump string }{
		{LSSTCam, "lsstCam-MC_O_20250415_000060_R01_S01.yaml"},
		{LSSTComCam, "comCam-CC_O_20241108_000266_R22_S00.yaml"},
		{LATISS, "latiss-AT_O_20240624_000169_R00_S00.yaml"},
	} {
		t.Run(tt.inst, func(t *testing.T) {
			want := readDump(t, filepath.Join(corpus, "headers", tt.dump))
			dir := t.TempDir()
			var paths []string
			if _, err := Generate(context.Background(), dir, Options{Instrument: tt.inst, Exposures: 8},
				func(p string) { paths = append(paths, p) }); err != nil {
				t.Fatal(err)
			}
			for _, path := range paths {
				h := readRaw(t, path)[0]
				var gotKeys, wantKeys []string
				got := map[string]any{}
				for _, c := range h.Cards {
					if c.Key == "BITPIX" || c.Key == "NAXIS" { // in the file, not in the merged dumps
						continue
					}
					gotKeys = append(gotKeys, c.Key)
					got[c.Key] = c.Value
				}
				for _, k := range want {
					wantKeys = append(wantKeys, k.key)
				}
				if d := cmp.Diff(wantKeys, gotKeys); d != "" {
					t.Fatalf("%s: primary keys differ from %s (-dump +generated):\n%s", filepath.Base(path), tt.dump, d)
				}
				for _, k := range want {
					g := typeOf(got[k.key])
					if k.key != "COMMENT" && k.typ != "null" && g != "null" && g != k.typ {
						t.Errorf("%s: %s is %s (%v), the dump has %s", filepath.Base(path), k.key, g, got[k.key], k.typ)
					}
				}
			}
		})
	}
}

func TestGenerate_InstrumentValues(t *testing.T) {
	tests := []struct {
		inst string
		want map[string]any
	}{
		{LSSTCam, map[string]any{"INSTRUME": "lsstCam", "TELESCOP": "Simonyi Survey Telescope", "CAMCODE": "MC",
			"CONTRLLR": "O", "TIMESYS": "TAI", "OBSGEO-Z": -3195172.08, "HEADVER": int64(2)}},
		{LSSTComCam, map[string]any{"INSTRUME": "ComCam", "TELESCOP": "Simonyi Survey Telescope", "CAMCODE": "CC",
			"SIMULATE MTMOUNT": int64(0), "SIMULATED DATE-OBS": nil}},
		{LATISS, map[string]any{"INSTRUME": "LATISS", "TELESCOP": "LSST AuxTelescope", "CAMCODE": "AT",
			"RAFTBAY": "R00", "CCDSLOT": "S00", "LSST_NUM": "ITL-3800C-068", "GRATING": "empty_1", "OBSGEO-Z": 3195186.45,
			"SIMULATE ATDOME": int64(0), "TSTAND": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.inst, func(t *testing.T) {
			dir := t.TempDir()
			var path string
			if _, err := Generate(context.Background(), dir, Options{Instrument: tt.inst, Exposures: 1,
				Start: time.Date(2024, 11, 9, 6, 34, 41, 323e6, time.UTC)}, func(p string) { path = p }); err != nil {
				t.Fatal(err)
			}
			h := readRaw(t, path)[0]
			for k, want := range tt.want {
				if got, ok := h.Get(k); !ok || got != want {
					t.Errorf("%s = %#v (present %v), want %#v", k, got, ok, want)
				}
			}
			if got, _ := h.String("DATE-OBS"); got != "2024-11-09T06:34:41.323" {
				t.Errorf("DATE-OBS = %s, want Start as written", got)
			}
			if got, _ := h.String("DAYOBS"); got != "20241108" {
				t.Errorf("DAYOBS = %s, want 20241108", got)
			}
		})
	}
}

func hashTree(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		sums[rel] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func TestGenerate_Deterministic(t *testing.T) {
	opts := Options{Instrument: LSSTCam, Exposures: 5, Seed: 42, Gzip: true}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if _, err := Generate(context.Background(), dir, opts, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !cmp.Equal(hashTree(t, a), hashTree(t, b)) {
		t.Error("two runs with the same options differ")
	}
	opts.Seed = 43
	if _, err := Generate(context.Background(), c, opts, nil); err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(hashTree(t, a), hashTree(t, c)) {
		t.Error("a different seed gave the same files")
	}
}

// TestGenerate_DetectorsDoNotChangeExposures checks that the exposure-level values
// depend on the seed only, not on which detectors are written.
func TestGenerate_DetectorsDoNotChangeExposures(t *testing.T) {
	primaries := func(dets []Detector) []map[string]any {
		var out []map[string]any
		_, err := Generate(context.Background(), t.TempDir(), Options{Instrument: LSSTCam, Exposures: 3, Detectors: dets},
			func(p string) {
				m := readRaw(t, p)[0].Map()
				for _, k := range perDetector {
					delete(m, k)
				}
				out = append(out, m)
			})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	one := primaries([]Detector{{ID: 94, Name: "R22_S11"}})
	two := primaries([]Detector{{ID: 0, Name: "R01_S00"}, {ID: 94, Name: "R22_S11"}})
	for i := range one {
		if d := cmp.Diff(one[i], two[2*i]); d != "" {
			t.Errorf("exposure %d differs with another detector list (-one +two):\n%s", i, d)
		}
	}
}

func TestGenerate_Gzip(t *testing.T) {
	plain, gz := t.TempDir(), t.TempDir()
	var pp, gp []string
	for _, run := range []struct {
		dir   string
		paths *[]string
		gzip  bool
	}{{plain, &pp, false}, {gz, &gp, true}} {
		if _, err := Generate(context.Background(), run.dir, Options{Instrument: LATISS, Exposures: 2, Gzip: run.gzip},
			func(p string) { *run.paths = append(*run.paths, p) }); err != nil {
			t.Fatal(err)
		}
	}
	for i := range pp {
		b, err := os.ReadFile(gp[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) || !strings.HasSuffix(gp[i], ".fits") {
			t.Errorf("%s is not a gzip stream named .fits", gp[i])
		}
		hp, hg := readRaw(t, pp[i]), readRaw(t, gp[i])
		if len(hp) != len(hg) || !cmp.Equal(hp[0].Map(), hg[0].Map()) {
			t.Errorf("%s: gzip and plain files differ in headers", filepath.Base(gp[i]))
		}
		// 4 primary blocks, 16 × (header + data), 2 tables.
		if st, err := os.Stat(pp[i]); err != nil || st.Size() != 38*fits.BlockSize {
			t.Errorf("plain file is %v bytes (%v), want 38 blocks", st.Size(), err)
		}
	}
}

func TestGenerate_DayRollover(t *testing.T) {
	// 11:58 TAI: the observing day changes at 12:00 during the run.
	start := time.Date(2025, 6, 10, 11, 58, 0, 0, time.UTC)
	var days []string
	var seqs []int64
	var groups = map[string]string{}
	_, err := Generate(context.Background(), t.TempDir(), Options{Instrument: LATISS, Exposures: 12, Start: start, Seed: 3},
		func(p string) {
			h := readRaw(t, p)[0]
			day, _ := h.String("DAYOBS")
			seq, _ := h.Int("SEQNUM")
			g, _ := h.String("GROUPID")
			days, seqs = append(days, day), append(seqs, seq)
			if d, ok := groups[g]; ok && d != day {
				t.Errorf("group %s spans DAYOBS %s and %s", g, d, day)
			}
			groups[g] = day
		})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(days, "20250610")
	if days[0] != "20250609" || i < 1 || seqs[i] != 1 || seqs[i-1] != int64(i) {
		t.Errorf("DAYOBS %v SEQNUM %v: want 20250609 then 20250610 restarting at 1", days, seqs)
	}
}

func TestGenerate_Detectors(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	dets := []Detector{{ID: 191, Name: "R00_SW0"}, {ID: 189, Name: "R00_SG0"}, {ID: 90, Name: "R22_S00"}, {ID: 999, Name: "R99_S99"}}
	if _, err := Generate(context.Background(), dir, Options{Instrument: LSSTCam, Exposures: 1, Detectors: dets, PixelsPerAmp: 3},
		func(p string) { paths = append(paths, p) }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hdus              int
		manu, typ, serial string
		detsize           string
		seg00             map[string]any // of the last amplifier, when there are 16
	}{
		{11, "ITL", "4400B", "ITL-4400B-023", "[1:4072,1:2000]", nil},
		{19, "ITL", "3800C", "ITL-3800C-397", "[1:4072,1:4000]", map[string]any{"DETSEC": "[509:1,4000:2001]", "DTV1": int64(513), "DTV2": int64(4001), "DTM1_1": -1.0, "DTM2_2": -1.0}},
		{19, "E2V", "CCD250", "E2V-CCD250-369", "[1:4096,1:4004]", map[string]any{"DETSEC": "[1:512,4004:2003]", "DTV1": int64(-10), "DTV2": int64(4005), "DTM1_1": 1.0, "DTM2_2": -1.0, "DATASEC": "[11:522,1:2002]"}},
		{19, "ITL", "3800C", "ITL-3800C-000", "[1:4072,1:4000]", nil},
	}
	for i, tt := range tests {
		hdrs := readRaw(t, paths[i])
		h := hdrs[0]
		got := []any{len(hdrs)}
		for _, k := range []string{"CCD_MANU", "CCD_TYPE", "LSST_NUM"} {
			v, _ := h.Get(k)
			got = append(got, v)
		}
		ds, _ := hdrs[1].Get("DETSIZE")
		n1, _ := hdrs[1].Int("NAXIS1")
		got = append(got, ds, n1)
		if d := cmp.Diff([]any{tt.hdus, tt.manu, tt.typ, tt.serial, tt.detsize, int64(3)}, got); d != "" {
			t.Errorf("%s differs (-want +got):\n%s", dets[i].Name, d)
		}
		for k, want := range tt.seg00 {
			if v, _ := hdrs[16].Get(k); v != want {
				t.Errorf("%s Segment00 %s = %v, want %v", dets[i].Name, k, v, want)
			}
		}
	}
}

func TestGenerate_Errors(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"instrument", Options{Instrument: "HSC", Exposures: 1}, `instrument "HSC"`},
		{"negative exposures", Options{Instrument: LATISS, Exposures: -1}, "-1 exposures"},
		{"pixels", Options{Instrument: LATISS, Exposures: 1, PixelsPerAmp: -2}, "PixelsPerAmp"},
		{"LATISS detector", Options{Instrument: LATISS, Exposures: 1, Detectors: []Detector{{0, "R22_S11"}}}, `no detector "R22_S11"`},
		{"id mismatch", Options{Instrument: LSSTCam, Exposures: 1, Detectors: []Detector{{5, "R22_S11"}}}, "has id 94, not 5"},
		{"duplicate", Options{Instrument: LSSTComCam, Exposures: 1, Detectors: []Detector{{0, "R22_S00"}, {0, "R22_S00"}}}, "twice"},
		{"malformed", Options{Instrument: LSSTCam, Exposures: 1, Detectors: []Detector{{1, "det1"}}}, `no detector "det1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			n, err := Generate(context.Background(), dir, tt.opts, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("Generate error = %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
			if entries, _ := os.ReadDir(dir); n != 0 || len(entries) != 0 {
				t.Errorf("Generate wrote %d files / %d entries on error", n, len(entries))
			}
		})
	}
}

func TestGenerate_Cancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	n, err := Generate(ctx, t.TempDir(), Options{Instrument: LSSTComCam, Exposures: 3}, func(string) {
		calls++
		if calls == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || n != 2 {
		t.Fatalf("Generate = %d, %v; want 2, context.Canceled", n, err)
	}
}

func TestDetectorTable(t *testing.T) {
	for _, tt := range []struct {
		inst     string
		n        int
		name     string
		id       int
		defaults int
	}{
		{LSSTCam, 205, "R22_S11", 94, 4},
		{LSSTComCam, 9, "R22_S22", 8, 9},
		{LATISS, 1, "RXX_S00", 0, 1},
		{"HSC", 0, "", 0, 0},
	} {
		all := AllDetectors(tt.inst)
		ids := map[int]bool{}
		for i, d := range all {
			ids[d.ID] = true
			if d.ID != i {
				t.Errorf("%s detector %d has id %d, want ids 0..n-1 in order", tt.inst, i, d.ID)
			}
		}
		if len(all) != tt.n || len(ids) != tt.n {
			t.Errorf("%s: %d detectors (%d ids), want %d", tt.inst, len(all), len(ids), tt.n)
		}
		if tt.n > 0 && !slices.Contains(all, Detector{ID: tt.id, Name: tt.name}) {
			t.Errorf("%s: no %s with id %d", tt.inst, tt.name, tt.id)
		}
		if got := len(DefaultDetectors(tt.inst)); got != tt.defaults {
			t.Errorf("%s: %d default detectors, want %d", tt.inst, got, tt.defaults)
		}
	}
}

// corpusDir finds the shared corpus: $BUTLER_TEST_CORPUS, else ../shared/corpus
// beside the module root. It skips the test when there is none.
func corpusDir(t testing.TB) string {
	return corpustest.Dir(t)
}

func BenchmarkGenerate(b *testing.B) {
	for _, bc := range []struct {
		inst string
		gzip bool
	}{{LSSTCam, false}, {LSSTCam, true}, {LATISS, false}} {
		b.Run(fmt.Sprintf("inst=%s/gzip=%v", bc.inst, bc.gzip), func(b *testing.B) {
			files, bytes := 0, int64(0)
			for b.Loop() {
				dir := b.TempDir()
				n, err := Generate(b.Context(), dir, Options{Instrument: bc.inst, Exposures: 10, Gzip: bc.gzip},
					func(p string) {
						if st, err := os.Stat(p); err == nil {
							bytes += st.Size()
						}
					})
				if err != nil {
					b.Fatal(err)
				}
				files += n
			}
			b.ReportMetric(float64(files)/b.Elapsed().Seconds(), "files/s")
			b.ReportMetric(float64(bytes)/float64(files), "bytes/file")
		})
	}
}
