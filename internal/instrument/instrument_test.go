package instrument_test

import (
	"database/sql"
	"errors"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	_ "modernc.org/sqlite"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/instrument"
)

func ptr(s string) *string { return &s }

func TestLookup(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"lsst.obs.lsst.LsstCam", "LSSTCam"},
		{"LSSTCam", "LSSTCam"},
		{"lsst.obs.lsst.LsstComCam", "LSSTComCam"},
		{"LSSTComCam", "LSSTComCam"},
		{"lsst.obs.lsst.Latiss", "LATISS"},
		{"LATISS", "LATISS"},
		{"lsst.obs.lsst.LsstCamSim", "LSSTCamSim"},
		{"lsst.obs.lsst.LsstComCamSim", "LSSTComCamSim"},
	}
	for _, tt := range tests {
		in, err := instrument.Lookup(tt.in)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", tt.in, err)
		}
		if in.Name != tt.want {
			t.Errorf("Lookup(%q).Name = %q, want %q", tt.in, in.Name, tt.want)
		}
	}
	for _, bad := range []string{"lsstcam", "lsst.obs.lsst.lsstcam", "lsst.obs.lsst._instrument.LsstCam", "HSC", ""} {
		_, err := instrument.Lookup(bad)
		if !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Lookup(%q) error = %v, want ErrNotFound", bad, err)
			continue
		}
		if !strings.Contains(err.Error(), "lsst.obs.lsst.Latiss") {
			t.Errorf("Lookup(%q) error %q does not list the known class names", bad, err)
		}
	}
}

func TestAll_Records(t *testing.T) {
	type rec struct {
		Name, ClassName                                 string
		VisitMax, ExposureMax, DetectorMax, VisitSystem int64
		NDetectors, NFilters                            int
		DefaultRawRun, RawFormatter                     string
	}
	want := []rec{
		{"LSSTCam", "lsst.obs.lsst.LsstCam", 7050123199999, 7050123199999, 1000, 2, 205, 276, "LSSTCam/raw/all", "lsst.obs.lsst.rawFormatter.LsstCamRawFormatter"},
		{"LSSTComCam", "lsst.obs.lsst.LsstComCam", 7050123199999, 7050123199999, 1000, 2, 9, 15, "LSSTComCam/raw/all", "lsst.obs.lsst.rawFormatter.LsstComCamRawFormatter"},
		{"LATISS", "lsst.obs.lsst.Latiss", 7050123199999, 7050123199999, 1, 2, 1, 707, "LATISS/raw/all", "lsst.obs.lsst.rawFormatter.LatissRawFormatter"},
		{"LSSTComCamSim", "lsst.obs.lsst.LsstComCamSim", 7050123199999, 7050123199999, 1000, 2, 9, 15, "LSSTComCamSim/raw/all", "lsst.obs.lsst.rawFormatter.LsstComCamSimRawFormatter"},
		{"LSSTCamSim", "lsst.obs.lsst.LsstCamSim", 7050123199999, 7050123199999, 1000, 2, 205, 276, "LSSTCamSim/raw/all", "lsst.obs.lsst.rawFormatter.LsstCamSimRawFormatter"},
	}
	var got []rec
	for _, in := range instrument.All() {
		got = append(got, rec{in.Name, in.ClassName, in.VisitMax, in.ExposureMax, in.DetectorMax, in.VisitSystem,
			len(in.Detectors), len(in.Filters), in.DefaultRawRun, in.RawFormatter})
		vs := []instrument.VisitSystem{{0, "one-to-one"}, {1, "by-group-metadata"}, {2, "by-seq-start-end"}}
		if d := cmp.Diff(vs, in.VisitSystems); d != "" {
			t.Errorf("%s visit systems (-want +got):\n%s", in.Name, d)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("instrument records (-want +got):\n%s", d)
	}
}

func TestDetectors(t *testing.T) {
	tests := []struct {
		inst, name string
		want       instrument.Detector
	}{
		{"LSSTCam", "R01_S00", instrument.Detector{ID: 0, FullName: "R01_S00", NameInRaft: "S00", Raft: ptr("R01"), Purpose: "SCIENCE", CCDType: "ITL", Serial: "ITL-3800C-083"}},
		{"LSSTCam", "R10_S02", instrument.Detector{ID: 29, FullName: "R10_S02", NameInRaft: "S02", Raft: ptr("R10"), Purpose: "SCIENCE", CCDType: "ITL", Serial: "ITL-3800C-167"}},
		{"LSSTCam", "R22_S11", instrument.Detector{ID: 94, FullName: "R22_S11", NameInRaft: "S11", Raft: ptr("R22"), Purpose: "SCIENCE", CCDType: "E2V", Serial: "E2V-CCD250-382"}},
		{"LSSTCam", "R43_S22", instrument.Detector{ID: 188, FullName: "R43_S22", NameInRaft: "S22", Raft: ptr("R43"), Purpose: "SCIENCE", CCDType: "ITL", Serial: "ITL-3800C-076"}},
		{"LSSTCam", "R00_SG0", instrument.Detector{ID: 189, FullName: "R00_SG0", NameInRaft: "SG0", Raft: ptr("R00"), Purpose: "GUIDER", CCDType: "ITL_G", Serial: "ITL-3800C-397"}},
		{"LSSTCam", "R44_SW0", instrument.Detector{ID: 203, FullName: "R44_SW0", NameInRaft: "SW0", Raft: ptr("R44"), Purpose: "WAVEFRONT", CCDType: "ITL_WF", Serial: "ITL-4400B-025"}},
		{"LSSTCam", "R44_SW1", instrument.Detector{ID: 204, FullName: "R44_SW1", NameInRaft: "SW1", Raft: ptr("R44"), Purpose: "WAVEFRONT", CCDType: "ITL_WF", Serial: "ITL-4400B-007"}},
		{"LSSTCamSim", "R22_S11", instrument.Detector{ID: 94, FullName: "R22_S11", NameInRaft: "S11", Raft: ptr("R22"), Purpose: "SCIENCE", CCDType: "E2V", Serial: "E2V-CCD250-382"}},
		{"LSSTComCam", "R22_S00", instrument.Detector{ID: 0, FullName: "R22_S00", NameInRaft: "S00", Raft: ptr("R22"), Purpose: "SCIENCE", CCDType: "ITL", Serial: "ITL-3800C-229"}},
		{"LSSTComCamSim", "R22_S22", instrument.Detector{ID: 8, FullName: "R22_S22", NameInRaft: "S22", Raft: ptr("R22"), Purpose: "SCIENCE", CCDType: "ITL", Serial: "ITL-3800C-206"}},
		{"LATISS", "RXX_S00", instrument.Detector{ID: 0, FullName: "RXX_S00", NameInRaft: "RXX_S00", Raft: nil, Purpose: "SCIENCE", CCDType: "ITL", Serial: "ITL-3800C-068"}},
	}
	for _, tt := range tests {
		in, err := instrument.Lookup(tt.inst)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := in.DetectorByName(tt.name)
		if !ok {
			t.Errorf("%s.DetectorByName(%q) not found", tt.inst, tt.name)
			continue
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%s.DetectorByName(%q) (-want +got):\n%s", tt.inst, tt.name, d)
		}
		byID, ok := in.DetectorByID(tt.want.ID)
		if !ok || byID.FullName != tt.name {
			t.Errorf("%s.DetectorByID(%d) = %q, %v, want %q", tt.inst, tt.want.ID, byID.FullName, ok, tt.name)
		}
	}
	lsst, _ := instrument.Lookup("LSSTCam")
	if _, ok := lsst.DetectorByName("RXX_S00"); ok {
		t.Error(`LSSTCam.DetectorByName("RXX_S00") found a detector`)
	}
	if _, ok := lsst.DetectorByID(205); ok {
		t.Error("LSSTCam.DetectorByID(205) found a detector")
	}
	purposes := map[string]int{}
	ids := map[int64]bool{}
	for _, d := range lsst.Detectors {
		purposes[d.Purpose]++
		ids[d.ID] = true
	}
	if d := cmp.Diff(map[string]int{"SCIENCE": 189, "GUIDER": 8, "WAVEFRONT": 8}, purposes); d != "" {
		t.Errorf("LSSTCam purposes (-want +got):\n%s", d)
	}
	for id := int64(0); id < 205; id++ {
		if !ids[id] {
			t.Errorf("LSSTCam has no detector %d", id)
		}
	}
}

func TestFilters(t *testing.T) {
	tests := []struct {
		inst, name, band string
	}{
		{"LSSTCam", "empty", "white"},
		{"LSSTCam", "ph_5", "white"},
		{"LSSTCam", "r_57", "r"},
		{"LSSTCam", "unknown", "unknown"},
		{"LSSTCam", "SDSSi~ND_OD0.5", "i~nd"},
		{"LSSTCam", "ND_OD0.5", "white~nd"},
		{"LSSTCam", "950nm", "y"},
		{"LSSTCam", "g_6~blue", "g"},
		{"LSSTCam", "grid~ND_OD1.0", "grid~nd"},
		{"LSSTCamSim", "r_57", "r"},
		{"LSSTComCam", "OG590_2_5mm", "OG590"},
		{"LSSTComCam", "g_01", "g"},
		{"LSSTComCamSim", "r_03", "r"},
		{"LATISS", "unknown~unknown", "unknown"},
		{"LATISS", "SDSSg~empty", "g"},
		{"LATISS", "SDSSg~ronchi170lpmm", "g"},
		{"LATISS", "empty~SDSSr_65mm", "r"},
		{"LATISS", "diffuser", "diffuser"},
		{"LATISS", "quadnotch1", "notch"},
		{"LATISS", "KPNO_406_828nm~empty", "z"},
	}
	for _, tt := range tests {
		in, err := instrument.Lookup(tt.inst)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := in.Filter(tt.name)
		if !ok || f.Band != tt.band {
			t.Errorf("%s.Filter(%q) = %+v, %v, want band %q", tt.inst, tt.name, f, ok, tt.band)
		}
	}
	latiss, _ := instrument.Lookup("LATISS")
	if _, ok := latiss.Filter("diffuser~empty"); ok {
		t.Error(`LATISS has "diffuser~empty", which upstream never defines`)
	}
	lsst, _ := instrument.Lookup("LSSTCam")
	bands := map[string]int{}
	for _, f := range lsst.Filters {
		bands[f.Band]++
	}
	wantBands := map[string]int{"white": 12, "white~nd": 11, "u": 9, "g": 10, "r": 10, "i": 10, "z": 10, "y": 11, "unknown": 1,
		"u~nd": 11, "g~nd": 22, "r~nd": 22, "i~nd": 22, "z~nd": 22, "y~nd": 33}
	for _, s := range []string{"grid", "spot", "sparsegrid", "streak", "ellipses"} {
		wantBands[s] = 1
		wantBands[s+"~nd"] = 11
	}
	if d := cmp.Diff(wantBands, bands); d != "" {
		t.Errorf("LSSTCam band counts (-want +got):\n%s", d)
	}
	for _, in := range instrument.All() {
		seen := map[string]bool{}
		for _, f := range in.Filters {
			if seen[f.Name] {
				t.Errorf("%s: duplicate filter %q", in.Name, f.Name)
			}
			seen[f.Name] = true
			if f.Name == "" || f.Band == "" || len(f.Name) > 32 || len(f.Band) > 32 {
				t.Errorf("%s: filter %+v violates the dimension column limits", in.Name, f)
			}
		}
	}
}

// corpusDir finds the shared test corpus: $BUTLER_TEST_CORPUS, else
// ../shared/corpus beside the module root.
func corpusDir(t *testing.T) string {
	return corpustest.Dir(t)
}

// TestMatchesCorpusRegistries compares the tables with the registries the
// Python butler wrote. Those are older universe versions: detectors agree
// everywhere, the lsstCamSim registry (universe 7) agrees in full, and the
// three universe-1 registries hold older filter lists and instrument maxima.
func TestMatchesCorpusRegistries(t *testing.T) {
	corpus := corpusDir(t)
	tests := []struct {
		dir, inst string
		// filters the old registry has that current obs_lsst dropped
		onlyInRegistry []string
		nFilters       int
		record         string // name|visit_max|exposure_max|detector_max|class_name as stored
	}{
		{"lsstCam", "LSSTCam", []string{"g", "i", "r", "u", "y", "z"}, 187, "LSSTCam|6050123199999|6050123199999|1000|lsst.obs.lsst.LsstCam"},
		{"latiss", "LATISS", nil, 79, "LATISS|6050123199999|6050123199999|0|lsst.obs.lsst.Latiss"},
		{"comCam", "LSSTComCam", nil, 12, "LSSTComCam|6050123199999|6050123199999|1000|lsst.obs.lsst.LsstComCam"},
		{"lsstCamSim", "LSSTCamSim", nil, 276, "LSSTCamSim|7050123199999|7050123199999|1000|lsst.obs.lsst.LsstCamSim"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			db, err := sql.Open("sqlite", "file:"+filepath.Join(corpus, "raws", tt.dir, "gen3.sqlite3")+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			in, err := instrument.Lookup(tt.inst)
			if err != nil {
				t.Fatal(err)
			}

			var record string
			err = db.QueryRow(`SELECT name || '|' || visit_max || '|' || exposure_max || '|' || detector_max || '|' || class_name FROM instrument`).Scan(&record)
			if err != nil {
				t.Fatal(err)
			}
			if record != tt.record {
				t.Errorf("registry instrument row = %q, want %q", record, tt.record)
			}
			if in.ClassName != strings.Split(tt.record, "|")[4] {
				t.Errorf("class name %q differs from registry %q", in.ClassName, tt.record)
			}

			rows, err := db.Query(`SELECT id, full_name, name_in_raft, raft, purpose FROM detector ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			var got []instrument.Detector
			for rows.Next() {
				var d instrument.Detector
				var raft sql.NullString
				if err := rows.Scan(&d.ID, &d.FullName, &d.NameInRaft, &raft, &d.Purpose); err != nil {
					t.Fatal(err)
				}
				if raft.Valid {
					d.Raft = &raft.String
				}
				got = append(got, d)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			var want []instrument.Detector
			for _, d := range in.Detectors {
				d.CCDType, d.Serial = "", ""
				want = append(want, d)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("detectors differ from registry (-ours +registry):\n%s", d)
			}

			rows, err = db.Query(`SELECT name, band FROM physical_filter`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			var extra []string
			for rows.Next() {
				var f instrument.Filter
				if err := rows.Scan(&f.Name, &f.Band); err != nil {
					t.Fatal(err)
				}
				n++
				ours, ok := in.Filter(f.Name)
				switch {
				case !ok:
					extra = append(extra, f.Name)
				case ours.Band != f.Band:
					t.Errorf("filter %q: band %q, registry %q", f.Name, ours.Band, f.Band)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if n != tt.nFilters {
				t.Errorf("registry has %d filters, want %d", n, tt.nFilters)
			}
			slices.Sort(extra)
			if d := cmp.Diff(tt.onlyInRegistry, extra); d != "" {
				t.Errorf("filters only in registry (-want +got):\n%s", d)
			}
		})
	}
}
