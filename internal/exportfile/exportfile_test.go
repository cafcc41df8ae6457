package exportfile_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/exportfile"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/timespan"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func TestMain(m *testing.M) {
	stop := pgtest.Start() // one PostgreSQL server for the package, when there is one
	m.Run()
	stop()
}

// newRepoFunc makes a fresh, empty, writeable repository and returns its root.
type newRepoFunc func(t *testing.T) (string, *butler.Butler)

// forEachDialect runs fn with a maker of fresh repositories whose registry is
// SQLite, then PostgreSQL (skipped when no server is available). The
// PostgreSQL maker sets LSST_DB_AUTH, so these tests never run in parallel.
func forEachDialect(t *testing.T, fn func(t *testing.T, newRepo newRepoFunc)) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		fn(t, func(t *testing.T) (string, *butler.Butler) { return repotest.NewOn(t, dialect, butler.CreateOptions{}) })
	})
}

func exportPath(t testing.TB, name string) string {
	return filepath.Join(corpustest.Dir(t), "daf_butler", "exports", name)
}

// importFiles imports corpus export files in order, registry only.
func importFiles(t *testing.T, b *butler.Butler, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exportfile.ImportFile(t.Context(), b, exportPath(t, name), butler.ImportOptions{RegistryOnly: true}, nil); err != nil {
			t.Fatalf("import %s: %v", name, err)
		}
	}
}

// repoState is what an import may change, counted through the public API.
type repoState struct {
	Records     map[string]int    // element → rows (elements without rows left out)
	Collections map[string]string // name → type; chains with their children
	Members     map[string]int    // RUN/TAGGED collection → datasets; CALIBRATION → certifications
	Types       map[string]string // dataset type → dimensions, storage class, calibration
	Certs       []string          // "collection id timespan" of every certification
}

func snapshot(t *testing.T, b *butler.Butler) repoState {
	t.Helper()
	ctx := t.Context()
	s := repoState{Records: map[string]int{}, Collections: map[string]string{}, Members: map[string]int{}, Types: map[string]string{}}
	for _, e := range b.Universe.Elements {
		if !e.HasTable() {
			continue
		}
		n := 0
		if err := b.EachRecord(ctx, e.Name, func(dimensions.Record) error { n++; return nil }); err != nil {
			t.Fatalf("read %s records: %v", e.Name, err)
		}
		if n > 0 {
			s.Records[e.Name] = n
		}
	}
	cols, err := b.Collections(ctx, nil)
	if err != nil {
		t.Fatalf("list collections: %v", err)
	}
	for _, c := range cols {
		s.Collections[c.Name] = c.Type.String()
		switch c.Type {
		case dataset.Chained:
			kids, err := b.Chain(ctx, c.Name)
			if err != nil {
				t.Fatal(err)
			}
			s.Collections[c.Name] += fmt.Sprint(kids)
		case dataset.Calibration:
			certs, err := b.Certifications(ctx, c.Name)
			if err != nil {
				t.Fatal(err)
			}
			s.Members[c.Name] = len(certs)
			for _, ce := range certs {
				s.Certs = append(s.Certs, fmt.Sprintf("%s %s %s", c.Name, ce.ID, ce.Timespan))
			}
		default:
			s.Members[c.Name] = countDatasets(t, b, c.Name)
		}
	}
	sort.Strings(s.Certs)
	types, err := b.DatasetTypes(ctx)
	if err != nil {
		t.Fatalf("list dataset types: %v", err)
	}
	for _, dt := range types {
		s.Types[dt.Name] = typeString(dt)
	}
	return s
}

func typeString(dt dataset.Type) string {
	return fmt.Sprintf("%v %s calibration=%t", dt.Dimensions.Names(), dt.StorageClass, dt.IsCalibration)
}

func countDatasets(t *testing.T, b *butler.Butler, collection string) int {
	t.Helper()
	n := 0
	for _, err := range b.Query().Collections(collection).Implied(false).Datasets(t.Context()) {
		if err != nil {
			t.Fatalf("query datasets in %s: %v", collection, err)
		}
		n++
	}
	return n
}

// record reads the one record of element with the given data ID values.
func record(t *testing.T, b *butler.Butler, element string, id dimensions.DataID) dimensions.Record {
	t.Helper()
	recs, err := b.Records(t.Context(), element, id)
	if err != nil {
		t.Fatalf("Records(%s, %v): %v", element, id, err)
	}
	if len(recs) != 1 {
		t.Fatalf("Records(%s, %v) = %d records, want 1", element, id, len(recs))
	}
	return recs[0]
}

// checkFields compares some fields of a record; values are compared by their
// printed form, so 4 and int64(4) match.
func checkFields(t *testing.T, r dimensions.Record, want map[string]any) {
	t.Helper()
	for k, w := range want {
		if got := r.Values[k]; fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s %v: %s = %v (%T), want %v", r.Element.Name, r.DataID(), k, got, got, w)
		}
	}
}

// tai is an instant given by its TAI calendar reading, as export files write it.
func tai(y int, mo time.Month, d, h, mi, s, ns int) int64 {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC).UnixNano()
}

func checkSpan(t *testing.T, r dimensions.Record, begin, end int64) {
	t.Helper()
	ts, ok := r.Values["timespan"].(timespan.Timespan)
	if !ok {
		t.Errorf("%s %v: timespan = %v (%T), want [%s, %s)", r.Element.Name, r.DataID(), r.Values["timespan"], r.Values["timespan"],
			timespan.FormatTAI(begin), timespan.FormatTAI(end))
		return
	}
	if ts.Begin != begin || ts.End != end {
		t.Errorf("%s %v: timespan = %s, want [%s, %s)", r.Element.Name, r.DataID(), ts, timespan.FormatTAI(begin), timespan.FormatTAI(end))
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func mustBase64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// tract0Region is the encoded region of tract 0 in ci_hsc-subset-skymap.yaml.
const tract0Region = "70cb48dd838019e83fe79b0e4ace0ae5bfcae4291ac61395bf4884794db329e93f68b2ba9327c2e3bfa603a921c61395bf0e047a6ce727e93fc46da7b1aac0e3bf8779dd59c921a03f513c3fa3b417e83f6ffa86675109e5bf06a12054c921a03f"

// TestImport_Corpus imports each of daf_butler's test export files (on top of
// the files they are layered on) into a fresh repository, registry only, and
// checks what the registry then holds: rows per element, collections and
// their datasets, dataset types, and sample values of every kind (times,
// regions, hashes, strings YAML could mistake for numbers).
func TestImport_Corpus(t *testing.T) {
	baseRecords := map[string]int{"instrument": 1, "physical_filter": 3, "detector": 4}
	baseTypes := map[string]string{
		"bias": "[instrument detector] Exposure calibration=true",
		"flat": "[instrument detector physical_filter band] Exposure calibration=true",
	}
	hscRun := "HSC/runs/ci_hsc/20240806T180642Z"
	tests := []struct {
		name    string
		files   []string
		records map[string]int
		cols    map[string]string
		members map[string]int
		types   map[string]string
		check   func(t *testing.T, b *butler.Butler)
	}{
		{
			name: "base", files: []string{"base.yaml"}, records: baseRecords, types: baseTypes,
			check: func(t *testing.T, b *butler.Butler) {
				checkFields(t, record(t, b, "instrument", dimensions.DataID{"instrument": "Cam1"}),
					map[string]any{"visit_max": 1024, "exposure_max": 512, "detector_max": 4, "class_name": "lsst.pipe.base.Instrument"})
				checkFields(t, record(t, b, "detector", dimensions.DataID{"instrument": "Cam1", "detector": 4}),
					map[string]any{"full_name": "Bb", "raft": "B", "name_in_raft": "b", "purpose": "WAVEFRONT"})
				checkFields(t, record(t, b, "physical_filter", dimensions.DataID{"instrument": "Cam1", "physical_filter": "Cam1-R2"}),
					map[string]any{"band": "r"})
			},
		},
		{
			name: "base+datasets", files: []string{"base.yaml", "datasets.yaml"}, records: baseRecords, types: baseTypes,
			cols:    map[string]string{"imported_g": "RUN", "imported_r": "RUN"},
			members: map[string]int{"imported_g": 6, "imported_r": 7},
			check: func(t *testing.T, b *butler.Butler) {
				for _, c := range []struct {
					id, typ, run string
					detector     int
					filter       string
				}{
					{"e15ab039-bc8b-4135-87c5-90902a7c0b22", "bias", "imported_g", 1, ""},
					{"37185f04-1cea-4ddd-a065-a5e0be9e19de", "flat", "imported_r", 4, "Cam1-R2"},
				} {
					ref, err := b.Dataset(t.Context(), uuid.MustParse(c.id))
					if err != nil {
						t.Fatalf("Dataset(%s): %v", c.id, err)
					}
					if ref.Type.Name != c.typ || ref.Run != c.run || fmt.Sprint(ref.DataID["detector"]) != fmt.Sprint(c.detector) ||
						(c.filter != "" && fmt.Sprint(ref.DataID["physical_filter"]) != c.filter) {
						t.Errorf("Dataset(%s) = %s %v in %s, want %s detector %d %s in %s", c.id, ref.Type.Name, ref.DataID, ref.Run, c.typ, c.detector, c.filter, c.run)
					}
				}
			},
		},
		{
			name: "base+spatial", files: []string{"base.yaml", "spatial.yaml"}, types: baseTypes,
			records: map[string]int{"instrument": 1, "physical_filter": 3, "detector": 4, "day_obs": 1, "visit": 2,
				"visit_detector_region": 8, "skymap": 1, "tract": 2, "patch": 12},
			check: func(t *testing.T, b *butler.Butler) {
				v := record(t, b, "visit", dimensions.DataID{"instrument": "Cam1", "visit": 2})
				checkFields(t, v, map[string]any{"name": "2", "physical_filter": "Cam1-R1", "exposure_time": 45.0, "day_obs": 20210909})
				checkSpan(t, v, tai(2021, 9, 9, 3, 2, 0, 0), tai(2021, 9, 9, 3, 3, 0, 0))
				if d := record(t, b, "day_obs", dimensions.DataID{"instrument": "Cam1", "day_obs": 20210909}); d.Values["timespan"] != nil {
					if ts, ok := d.Values["timespan"].(timespan.Timespan); !ok || ts != (timespan.Timespan{Begin: timespan.Min, End: timespan.Max}) {
						t.Errorf("day_obs 20210909 has no times in the file, but its timespan is %v", d.Values["timespan"])
					}
				}
				r, _ := record(t, b, "visit_detector_region", dimensions.DataID{"instrument": "Cam1", "visit": 1, "detector": 4}).Values["region"].([]byte)
				if !bytes.HasPrefix(r, mustHex("70119fd527b5feef3f34ccf281e60c7e3f")) || len(r) != 1+4*3*8 {
					t.Errorf("visit_detector_region 1/4 region = %x, want the file's 4-vertex polygon 70119fd527b5…", r)
				}
			},
		},
		{
			name: "ci_hsc-subset+skymap", files: []string{"ci_hsc-subset.yaml", "ci_hsc-subset-skymap.yaml"},
			records: map[string]int{"instrument": 1, "day_obs": 2, "detector": 16, "physical_filter": 2, "visit": 11,
				"visit_detector_region": 33, "skymap": 1, "tract": 1},
			cols:    map[string]string{hscRun: "RUN", "skymaps": "RUN"},
			members: map[string]int{hscRun: 33, "skymaps": 1},
			types: map[string]string{
				"calexp": "[instrument detector visit band day_obs physical_filter] ExposureF calibration=false",
				"skyMap": "[skymap] SkyMap calibration=false",
			},
			check: func(t *testing.T, b *butler.Butler) {
				checkFields(t, record(t, b, "skymap", dimensions.DataID{"skymap": "discrete/ci_hsc"}),
					map[string]any{"hash": mustBase64("Kt7swQ9e5zUif7fo1Onj3ezH+Ts="), "tract_max": 1, "patch_nx_max": 16})
				if got := record(t, b, "tract", dimensions.DataID{"skymap": "discrete/ci_hsc", "tract": 0}).Values["region"]; !bytes.Equal(got.([]byte), mustHex(tract0Region)) {
					t.Errorf("tract 0 region = %x, want %s", got, tract0Region)
				}
				v := record(t, b, "visit", dimensions.DataID{"instrument": "HSC", "visit": 903334})
				checkFields(t, v, map[string]any{"name": "HSCA90333400", "physical_filter": "HSC-R", "day_obs": 20130617,
					"exposure_time": 30.0, "zenith_angle": 21.192894420000002, "target_name": "STRIPE82L"})
				checkSpan(t, v, tai(2013, 6, 17, 13, 29, 11, 39_000_000), tai(2013, 6, 17, 13, 29, 43, 495_000_000))
				checkSpan(t, record(t, b, "day_obs", dimensions.DataID{"instrument": "HSC", "day_obs": 20131102}),
					tai(2013, 11, 2, 0, 0, 0, 0), tai(2013, 11, 3, 0, 0, 0, 0))
				// '0_30' is quoted in the file, 0_29 is not: both are strings (YAML 1.1 and 1.2 agree).
				checkFields(t, record(t, b, "detector", dimensions.DataID{"instrument": "HSC", "detector": 16}), map[string]any{"full_name": "0_30", "raft": "0"})
				checkFields(t, record(t, b, "detector", dimensions.DataID{"instrument": "HSC", "detector": 17}), map[string]any{"full_name": "0_29", "name_in_raft": "29"})
				ref, err := b.Dataset(t.Context(), uuid.MustParse("557e15c6-0529-4fc9-998b-b90a4750315e"))
				if err != nil || ref.Type.Name != "skyMap" || ref.Run != "skymaps" || ref.DataID["skymap"] != "discrete/ci_hsc" {
					t.Errorf("skyMap dataset = %v, %v", ref, err)
				}
			},
		},
		{
			name: "hsc-rc2-subset", files: []string{"hsc-rc2-subset.yaml"},
			records: map[string]int{"instrument": 1, "skymap": 1, "group": 1, "day_obs": 15, "detector": 111, "physical_filter": 5,
				"tract": 2, "visit_system": 1, "patch": 2, "exposure": 1, "visit": 160, "visit_detector_region": 1132, "visit_system_membership": 160},
			check: func(t *testing.T, b *butler.Butler) {
				v := record(t, b, "visit", dimensions.DataID{"instrument": "HSC", "visit": 318})
				checkFields(t, v, map[string]any{"name": "HSCA00031800", "day_obs": 20140324, "physical_filter": "HSC-Y", "exposure_time": 240.0, "seq_num": nil})
				checkSpan(t, v, tai(2014, 3, 25, 9, 34, 19, 634_000_000), tai(2014, 3, 25, 9, 38, 21, 595_000_000))
				checkFields(t, record(t, b, "exposure", dimensions.DataID{"instrument": "HSC", "exposure": 903342}),
					map[string]any{"group": "903342", "obs_id": "HSCA90334200", "has_simulated": false, "tracking_ra": 320.2499291666666})
				if d := record(t, b, "day_obs", dimensions.DataID{"instrument": "HSC", "day_obs": 20140327}); d.Values["timespan"] != nil &&
					d.Values["timespan"] != (timespan.Timespan{Begin: timespan.Min, End: timespan.Max}) {
					t.Errorf("day_obs 20140327 has no times in the file, but its timespan is %v", d.Values["timespan"])
				}
			},
		},
		{
			// Universe 0: visit.seeing dropped, visit.day_obs derived from the
			// begin time (HSC's day offset is unknown here: 0, with a warning),
			// day_obs records made, group records from exposure.group_name,
			// visit_system_membership from visit.visit_system.
			name: "hsc-rc2-subset-v0", files: []string{"hsc-rc2-subset-v0.yaml"},
			records: map[string]int{"instrument": 1, "skymap": 1, "detector": 3, "physical_filter": 2, "tract": 2, "visit_system": 1,
				"patch": 2, "exposure": 1, "visit": 2, "group": 1, "day_obs": 3, "visit_system_membership": 2},
			check: func(t *testing.T, b *butler.Butler) {
				// 2014-11-18 12:56:47.112 UTC (naive YAML timestamp) is 35 s later in TAI.
				v := record(t, b, "visit", dimensions.DataID{"instrument": "HSC", "visit": 11690})
				checkFields(t, v, map[string]any{"day_obs": 20141118, "name": "HSCA01169000", "physical_filter": "HSC-G"})
				checkSpan(t, v, tai(2014, 11, 18, 12, 57, 22, 112_000_000), tai(2014, 11, 18, 13, 2, 24, 92_000_000))
				if _, ok := v.Values["seeing"]; ok {
					t.Errorf("visit 11690 has a seeing field: %v", v.Values)
				}
				checkFields(t, record(t, b, "visit", dimensions.DataID{"instrument": "HSC", "visit": 23868}), map[string]any{"day_obs": 20150318})
				checkFields(t, record(t, b, "exposure", dimensions.DataID{"instrument": "HSC", "exposure": 903342}),
					map[string]any{"group": "903342", "day_obs": 20130617})
				record(t, b, "group", dimensions.DataID{"instrument": "HSC", "group": "903342"})
				for _, d := range []int{20130617, 20141118, 20150318} {
					record(t, b, "day_obs", dimensions.DataID{"instrument": "HSC", "day_obs": d})
				}
				for _, vis := range []int{11690, 23868} {
					checkFields(t, record(t, b, "visit_system_membership", dimensions.DataID{"instrument": "HSC", "visit": vis}), map[string]any{"visit_system": 0})
				}
				checkFields(t, record(t, b, "skymap", dimensions.DataID{"skymap": "hsc_rings_v1"}), map[string]any{"hash": mustBase64("4p/p8QCONZ82o2d+fWnMQ5N20eY=")})
			},
		},
		{
			name: "lsstcam-subset", files: []string{"lsstcam-subset.yaml"},
			records: map[string]int{"instrument": 1, "day_obs": 1, "detector": 2, "group": 2, "physical_filter": 1, "visit_system": 2,
				"exposure": 2, "visit": 2, "visit_definition": 2, "visit_detector_region": 4, "visit_system_membership": 4},
			check: func(t *testing.T, b *butler.Butler) {
				e := record(t, b, "exposure", dimensions.DataID{"instrument": "LSSTCam", "exposure": 2025120200439})
				checkFields(t, e, map[string]any{"group": "2025-12-03T07:58:10.858", "obs_id": "MC_O_20251202_000439", "can_see_sky": true, "dark_time": 30.9296})
				checkSpan(t, e, tai(2025, 12, 3, 7, 59, 7, 425_363_958), tai(2025, 12, 3, 7, 59, 38, 355_000_000))
				checkSpan(t, record(t, b, "day_obs", dimensions.DataID{"instrument": "LSSTCam", "day_obs": 20251202}),
					tai(2025, 12, 2, 12, 0, 0, 0), tai(2025, 12, 3, 12, 0, 0, 0))
				checkFields(t, record(t, b, "instrument", dimensions.DataID{"instrument": "LSSTCam"}), map[string]any{"visit_max": int64(6050123199999), "visit_system": 2})
			},
		},
	}
	forEachDialect(t, func(t *testing.T, newRepo newRepoFunc) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, b := newRepo(t)
				importFiles(t, b, tt.files...)
				got := snapshot(t, b)
				want := repoState{Records: tt.records, Collections: tt.cols, Members: tt.members, Types: tt.types}
				for _, m := range []*map[string]string{&want.Collections, &want.Types} {
					if *m == nil {
						*m = map[string]string{}
					}
				}
				if want.Members == nil {
					want.Members = map[string]int{}
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("repository after importing %v (-want +got):\n%s", tt.files, d)
				}
				tt.check(t, b)
			})
		}
	})
}

// TestRead_Header reads the top-level fields: old files without them mean
// version 1.0.0 of universe 0 in namespace daf_butler.
func TestRead_Header(t *testing.T) {
	u := dimensions.Default()
	for _, tt := range []struct {
		file string
		want exportfile.Header
	}{
		{"hsc-rc2-subset-v0.yaml", exportfile.Header{Version: "0", UniverseVersion: 0, UniverseNamespace: "daf_butler"}},
		{"base.yaml", exportfile.Header{Version: "0", UniverseVersion: 6, UniverseNamespace: "daf_butler"}},
		{"lsstcam-subset.yaml", exportfile.Header{Version: "1.0.2", UniverseVersion: 7, UniverseNamespace: "daf_butler"}},
	} {
		f, err := os.Open(exportPath(t, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		_, h, err := exportfile.Read(f, u, exportfile.ReadOptions{})
		f.Close()
		if err != nil || h != tt.want {
			t.Errorf("Read(%s) header = %+v, %v; want %+v", tt.file, h, err, tt.want)
		}
	}
}

// TestRead_DayObsWarning: day_obs records made for an instrument whose day
// offset is unknown come with a warning naming it.
func TestRead_DayObsWarning(t *testing.T) {
	f, err := os.Open(exportPath(t, "hsc-rc2-subset-v0.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var warnings []string
	if _, _, err := exportfile.Read(f, dimensions.Default(), exportfile.ReadOptions{Warn: func(m string) { warnings = append(warnings, m) }}); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "HSC") || !strings.Contains(warnings[0], "day_obs") {
		t.Errorf("warnings = %q, want one about HSC's day_obs records", warnings)
	}
}

// v0IntIDs is an export file as old butlers wrote it: version 0, no universe
// version, integer dataset IDs, the legacy form of validity ranges.
const v0IntIDs = `description: Butler Data Repository Export
version: 0
data:
  - type: dimension
    element: instrument
    records:
      - {name: Old, visit_max: 10, exposure_max: 10, detector_max: 4, class_name: some.Camera}
  - type: dimension
    element: detector
    records:
      - {instrument: Old, id: 1, full_name: A1, raft: A, name_in_raft: "1", purpose: SCIENCE}
      - {instrument: Old, id: 2, full_name: A2, raft: A, name_in_raft: "2", purpose: SCIENCE}
  - type: run
    name: old/run
  - type: collection
    collection_type: TAGGED
    name: old/tagged
  - type: collection
    collection_type: CALIBRATION
    name: old/calib
  - type: collection
    collection_type: CHAINED
    name: old/chain
    children: [old/tagged, [old/run, bias]]
  - type: dataset_type
    name: bias
    dimensions: [instrument, detector]
    storage_class: Exposure
    is_calibration: true
  - type: dataset
    dataset_type: bias
    run: old/run
    records:
      - dataset_id: 42
        data_id: {instrument: Old, detector: 1}
        path: bias_1.fits
      - dataset_id: 7
        data_id: {instrument: Old, detector: 2}
        path: bias_2.fits
  - type: associations
    collection: old/tagged
    collection_type: TAGGED
    dataset_ids: [42]
  - type: associations
    collection: old/calib
    collection_type: CALIBRATION
    validity_ranges:
      - begin: !butler_time/tai/iso '2020-01-01 00:00:00.000000000'
        end: !butler_time/tai/iso '2020-02-01 00:00:00.000000000'
        dataset_ids: [7]
`

// TestImport_IntegerIDs: integer dataset IDs of old files become uuid3 in
// upstream's namespace 4d4851f4-2890-4d41-8779-5f38a3f5062b of the decimal ID
// (the values below are Python's uuid.uuid3), consistently in datasets, tags
// and certifications.
func TestImport_IntegerIDs(t *testing.T) {
	id42 := uuid.MustParse("45ee6266-703a-302c-831c-39c1f9d70786")
	id7 := uuid.MustParse("84438d17-690c-3b4d-a528-61850703f1f4")
	forEachDialect(t, func(t *testing.T, newRepo newRepoFunc) {
		_, b := newRepo(t)
		var warned []string
		bun, _, err := exportfile.Read(strings.NewReader(v0IntIDs), b.Universe, exportfile.ReadOptions{Warn: func(m string) { warned = append(warned, m) }})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(warned) != 1 || !strings.Contains(warned[0], "old/chain") {
			t.Errorf("warnings = %q, want one about old/chain's dataset type restriction", warned)
		}
		if _, err := b.Import(t.Context(), bun, butler.ImportOptions{RegistryOnly: true}); err != nil {
			t.Fatalf("Import: %v", err)
		}
		for id, det := range map[dataset.ID]int{id42: 1, id7: 2} {
			ref, err := b.Dataset(t.Context(), id)
			if err != nil || ref.Run != "old/run" || fmt.Sprint(ref.DataID["detector"]) != fmt.Sprint(det) {
				t.Errorf("Dataset(%s) = %v, %v; want bias detector %d in old/run", id, ref, err, det)
			}
		}
		got := snapshot(t, b)
		wantCerts := []string{fmt.Sprintf("old/calib %s %s", id7, timespan.New(tai(2020, 1, 1, 0, 0, 0, 0), tai(2020, 2, 1, 0, 0, 0, 0)))}
		if d := cmp.Diff(wantCerts, got.Certs); d != "" {
			t.Errorf("certifications (-want +got):\n%s", d)
		}
		want := map[string]string{"old/run": "RUN", "old/tagged": "TAGGED", "old/calib": "CALIBRATION", "old/chain": "CHAINED[old/tagged old/run]"}
		if d := cmp.Diff(want, got.Collections); d != "" {
			t.Errorf("collections (-want +got):\n%s", d)
		}
		var tagged []dataset.ID
		for r, qerr := range b.Query().Collections("old/tagged").Implied(false).Datasets(t.Context()) {
			if qerr != nil {
				err = qerr
				break
			}
			tagged = append(tagged, r.ID)
		}
		if err != nil || !slices.Equal(tagged, []dataset.ID{id42}) {
			t.Errorf("old/tagged holds %v, %v; want [%s]", tagged, err, id42)
		}
	})
}

// allRefs lists every dataset of the repository's RUN collections, sorted by ID.
func allRefs(t *testing.T, b *butler.Butler) []dataset.Ref {
	t.Helper()
	runs, err := b.Collections(t.Context(), nil, dataset.Run)
	if err != nil {
		t.Fatal(err)
	}
	var refs []dataset.Ref
	for _, r := range runs {
		for ref, err := range b.Query().Collections(r.Name).Implied(false).Datasets(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].ID.String() < refs[j].ID.String() })
	return refs
}

func exportAll(t *testing.T, b *butler.Butler) []byte {
	t.Helper()
	bun, err := b.Export(t.Context(), allRefs(t, b), butler.ExportOptions{})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	var buf bytes.Buffer
	if err := exportfile.Write(&buf, bun, b.Universe); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// TestExportImport_RoundTrip: what is exported from one repository, imported
// into a fresh one and exported again is the same document, byte for byte.
func TestExportImport_RoundTrip(t *testing.T) {
	forEachDialect(t, func(t *testing.T, newRepo newRepoFunc) {
		_, a := newRepo(t)
		importFiles(t, a, "ci_hsc-subset.yaml", "ci_hsc-subset-skymap.yaml")
		first := exportAll(t, a)
		bun, h, err := exportfile.Read(bytes.NewReader(first), a.Universe, exportfile.ReadOptions{})
		if err != nil {
			t.Fatalf("Read of our own export: %v\n%s", err, first)
		}
		if h.Version != exportfile.FormatVersion || h.UniverseVersion != a.Universe.Version {
			t.Errorf("header of our export = %+v, want version %s, universe %d", h, exportfile.FormatVersion, a.Universe.Version)
		}
		// The export holds the 34 datasets and the records of their data IDs.
		n := 0
		for _, f := range bun.Files {
			n += len(f.Refs)
		}
		recs := map[string]int{}
		for _, s := range bun.Records {
			recs[s.Element] = len(s.Records)
		}
		// Their data IDs cover every visit and detector of the file, not its tract.
		wantRecs := map[string]int{"instrument": 1, "day_obs": 2, "detector": 16, "physical_filter": 2, "visit": 11, "visit_detector_region": 33, "skymap": 1}
		if n != 34 || !cmp.Equal(recs, wantRecs) {
			t.Errorf("export holds %d datasets and records %v; want 34 and %v", n, recs, wantRecs)
		}
		_, b := newRepo(t)
		if _, err := b.Import(t.Context(), bun, butler.ImportOptions{RegistryOnly: true}); err != nil {
			t.Fatalf("Import of our own export: %v", err)
		}
		second := exportAll(t, b)
		if d := cmp.Diff(string(first), string(second)); d != "" {
			t.Errorf("export → import → export differs (-first +second):\n%s", d)
		}
		if !bytes.Contains(first, []byte("!<lsst.sphgeom.ConvexPolygon>")) || !bytes.Contains(first, []byte("!!binary")) ||
			!bytes.Contains(first, []byte("!butler_time/tai/iso '2013-06-17 13:29:11.039000000'")) || !bytes.Contains(first, []byte("!uuid '557e15c6-0529-4fc9-998b-b90a4750315e'")) {
			t.Errorf("export lacks upstream's tags for regions, hashes, times or UUIDs:\n%.3000s", first)
		}
	})
}

// lineOf returns the 1-based line of the first occurrence of s in doc.
func lineOf(doc, s string) int {
	i := strings.Index(doc, s)
	if i < 0 {
		panic("lineOf: " + s + " not in the document")
	}
	return strings.Count(doc[:i], "\n") + 1
}

const header = "description: Butler Data Repository Export\nversion: 1.0.2\nuniverse_version: 7\nuniverse_namespace: daf_butler\ndata:\n"

// newThings is the start of a document that, if imported, would add a record,
// a run and a dataset type: a failing import must leave none of them.
const newThings = header + `- type: dimension
  element: detector
  records:
  - {instrument: Cam1, id: 5, full_name: Cc, raft: C, name_in_raft: c, purpose: SCIENCE}
- type: collection
  collection_type: RUN
  name: new/run
- type: dataset_type
  name: dark
  dimensions: [instrument, detector]
  storage_class: Exposure
  is_calibration: true
`

// TestImport_BadInput: each bad export file fails with an error naming the
// line or entry at fault, and leaves the repository exactly as it was.
func TestImport_BadInput(t *testing.T) {
	truncated := func(t *testing.T) string {
		data, err := os.ReadFile(exportPath(t, "ci_hsc-subset.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		// Cut inside the quotes of a dataset ID: the quoted scalar never ends.
		i := bytes.Index(data, []byte("!uuid '1b3a4c19"))
		return string(data[:i+len("!uuid '1b3a")])
	}
	tests := []struct {
		name     string
		doc      func(t *testing.T) string
		files    []string // created in the export directory
		transfer string   // "" imports registry only
		wantIs   error
		want     []string // in the error message; "@text" stands for "line N" of text's line
		inFile   bool     // a fault of the file's syntax or format: the error names the file too
	}{
		{
			name: "unknown item type", doc: fixed(newThings + "- type: widget\n  name: w\n"),
			wantIs: errs.ErrInvalid, want: []string{"@type: widget", `unknown data item type "widget"`}, inFile: true,
		},
		{
			name: "unknown YAML tag", doc: fixed(newThings + "- type: dimension\n  element: detector\n  records:\n  - {instrument: Cam1, id: 6, full_name: !frobnicate Dd}\n"),
			wantIs: errs.ErrInvalid, want: []string{"@!frobnicate", "unknown YAML tag !frobnicate", "detector"}, inFile: true,
		},
		{
			name: "record field not in the universe", doc: fixed(newThings + "- type: dimension\n  element: detector\n  records:\n  - instrument: Cam1\n    id: 6\n    colour: red\n"),
			wantIs: errs.ErrInvalid, want: []string{"@colour: red", `unknown field "colour"`, "detector"}, inFile: true,
		},
		{
			name: "unknown element", doc: fixed(newThings + "- type: dimension\n  element: telescope\n  records: []\n"),
			wantIs: errs.ErrInvalid, want: []string{"@element: telescope", `"telescope"`}, inFile: true,
		},
		{
			name: "major version 2", doc: fixed(strings.Replace(newThings, "version: 1.0.2", "version: 2.0.0", 1)),
			wantIs: errs.ErrUnsupported, want: []string{"2.0.0"}, inFile: true,
		},
		{
			name: "newer minor version", doc: fixed(strings.Replace(newThings, "version: 1.0.2", "version: 1.1.0", 1)),
			wantIs: errs.ErrUnsupported, want: []string{"1.1.0"}, inFile: true,
		},
		{
			name: "not YAML", doc: fixed(newThings + "- type: dimension\n  element: [unclosed\n"),
			wantIs: errs.ErrInvalid, want: []string{"not YAML", "line"}, inFile: true,
		},
		{name: "truncated", doc: truncated, wantIs: errs.ErrInvalid, want: []string{"not YAML", "line"}, inFile: true},
		{name: "empty", doc: fixed(""), wantIs: errs.ErrInvalid, want: []string{"empty export file"}, inFile: true},
		{
			name: "missing file", transfer: "copy", files: []string{"dark_1.fits"},
			doc: fixed(newThings + `- type: dataset
  dataset_type: dark
  run: new/run
  records:
  - {dataset_id: !uuid '0a2c8f7e-1111-4a4a-8888-000000000001', data_id: {instrument: Cam1, detector: 1}, path: dark_1.fits}
  - {dataset_id: !uuid '0a2c8f7e-1111-4a4a-8888-000000000002', data_id: {instrument: Cam1, detector: 2}, path: dark_2.fits}
`),
			wantIs: errs.ErrNotFound, want: []string{"dark_2.fits", "dataset dark", "detector: 2", "new/run"},
		},
		{
			name: "dataset ID taken by another run",
			doc: fixed(newThings + `- type: dataset
  dataset_type: bias
  run: new/run
  records:
  - {dataset_id: !uuid 'e15ab039-bc8b-4135-87c5-90902a7c0b22', data_id: {instrument: Cam1, detector: 1}, path: p}
`),
			wantIs: errs.ErrConflict, want: []string{"e15ab039-bc8b-4135-87c5-90902a7c0b22", "new/run", "imported_g"},
		},
		{
			name: "dataset type differs from the registered one",
			doc: fixed(newThings + `- type: dataset_type
  name: bias
  dimensions: [instrument]
  storage_class: Exposure
  is_calibration: true
`),
			wantIs: errs.ErrConflict, want: []string{"dataset type bias"},
		},
		{
			// Found only inside the transaction, after records, runs and types
			// were written: all of it is rolled back.
			name: "data ID without its dimension record",
			doc: fixed(newThings + `- type: dataset
  dataset_type: dark
  run: new/run
  records:
  - {dataset_id: !uuid '0a2c8f7e-1111-4a4a-8888-000000000003', data_id: {instrument: Cam1, detector: 99}, path: p}
`),
			want: []string{"dark", "99", "new/run"},
		},
		{
			name: "association with an unknown dataset",
			doc: fixed(newThings + `- type: dataset
  dataset_type: dark
  run: new/run
  records:
  - {dataset_id: !uuid '0a2c8f7e-1111-4a4a-8888-000000000004', data_id: {instrument: Cam1, detector: 1}, path: p}
- type: associations
  collection: new/tagged
  collection_type: TAGGED
  dataset_ids: [!uuid '0a2c8f7e-1111-4a4a-8888-0000000000ff']
`),
			wantIs: errs.ErrNotFound, want: []string{"new/tagged", "0a2c8f7e-1111-4a4a-8888-0000000000ff"},
		},
		{
			// The first group's files are in the datastore when the second
			// group fails: they are removed with the rollback.
			name: "files of a failed import are removed", transfer: "copy", files: []string{"dark_1.fits", "flat_1.fits"},
			doc: fixed(newThings + `- type: dataset
  dataset_type: dark
  run: new/run
  records:
  - {dataset_id: !uuid '0a2c8f7e-1111-4a4a-8888-000000000005', data_id: {instrument: Cam1, detector: 1}, path: dark_1.fits}
- type: dataset
  dataset_type: flat
  run: new/run
  records:
  - {dataset_id: !uuid '0a2c8f7e-1111-4a4a-8888-000000000006', data_id: {instrument: Cam1, detector: 1, physical_filter: Cam1-X}, path: flat_1.fits}
`),
			want: []string{"flat", "Cam1-X", "new/run"},
		},
	}
	forEachDialect(t, func(t *testing.T, newRepo newRepoFunc) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				root, b := newRepo(t)
				importFiles(t, b, "base.yaml", "datasets.yaml")
				before, beforeFiles := snapshot(t, b), repotest.DatastoreFiles(t, root)
				dir := t.TempDir()
				doc := tt.doc(t)
				file := filepath.Join(dir, "export.yaml")
				if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
					t.Fatal(err)
				}
				for _, f := range tt.files {
					if err := os.WriteFile(filepath.Join(dir, f), []byte("content of "+f), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				opts := butler.ImportOptions{Transfer: tt.transfer, RegistryOnly: tt.transfer == ""}
				_, err := exportfile.ImportFile(t.Context(), b, file, opts, nil)
				if err == nil {
					t.Fatalf("ImportFile succeeded, want an error")
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("ImportFile error = %v, want errors.Is %v", err, tt.wantIs)
				}
				for _, w := range tt.want {
					if at, ok := strings.CutPrefix(w, "@"); ok {
						w = fmt.Sprintf("line %d", lineOf(doc, at))
					}
					if !strings.Contains(err.Error(), w) {
						t.Errorf("ImportFile error = %q, want it to name %q", err, w)
					}
				}
				if tt.inFile && !strings.Contains(err.Error(), file) {
					t.Errorf("ImportFile error = %q does not name the file %s", err, file)
				}
				if d := cmp.Diff(before, snapshot(t, b)); d != "" {
					t.Errorf("the failed import changed the repository (-before +after):\n%s", d)
				}
				if d := cmp.Diff(beforeFiles, repotest.DatastoreFiles(t, root)); d != "" {
					t.Errorf("the failed import changed the datastore's files (-before +after):\n%s", d)
				}
			})
		}
	})
}

func fixed(doc string) func(*testing.T) string { return func(*testing.T) string { return doc } }

// TestImport_Files imports datasets with their files, by copy and by
// symlink, from the export directory: the files are then read back through
// the butler; a second import of the same file skips everything.
func TestImport_Files(t *testing.T) {
	doc := newThings + `- type: dataset
  dataset_type: dark
  run: new/run
  records:
  - {dataset_id: !uuid '0a2c8f7e-1111-4a4a-8888-000000000011', data_id: {instrument: Cam1, detector: 1}, path: darks/dark_1.fits, formatter: lsst.obs.base.formatters.fitsExposure.FitsExposureFormatter}
  - {dataset_id: !uuid '0a2c8f7e-1111-4a4a-8888-000000000012', data_id: {instrument: Cam1, detector: 2}, path: darks/dark_2.fits}
`
	forEachDialect(t, func(t *testing.T, newRepo newRepoFunc) {
		for _, mode := range []string{"copy", "symlink"} {
			t.Run(mode, func(t *testing.T) {
				root, b := newRepo(t)
				importFiles(t, b, "base.yaml")
				dir := t.TempDir()
				if err := os.MkdirAll(filepath.Join(dir, "darks"), 0o755); err != nil {
					t.Fatal(err)
				}
				for _, d := range []string{"1", "2"} {
					if err := os.WriteFile(filepath.Join(dir, "darks", "dark_"+d+".fits"), []byte("dark "+d), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				file := filepath.Join(dir, "export.yaml")
				if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
					t.Fatal(err)
				}
				res, err := exportfile.ImportFile(t.Context(), b, file, butler.ImportOptions{Transfer: mode}, nil)
				if err != nil {
					t.Fatalf("ImportFile: %v", err)
				}
				if res.Datasets != 2 || res.Files != 2 || res.Records != 1 || res.Collections != 1 || res.DatasetTypes != 1 || res.Skipped != 0 {
					t.Errorf("ImportFile = %+v, want 2 datasets and files, 1 record, collection and dataset type", res)
				}
				for _, d := range []string{"1", "2"} {
					ref, err := b.Dataset(t.Context(), uuid.MustParse("0a2c8f7e-1111-4a4a-8888-00000000001"+d))
					if err != nil {
						t.Fatal(err)
					}
					data, err := b.GetRef(t.Context(), ref)
					if err != nil || string(data) != "dark "+d {
						t.Errorf("GetRef(dark %s) = %q, %v; want %q", d, data, err, "dark "+d)
					}
				}
				files := repotest.DatastoreFiles(t, root)
				if len(files) != 2 {
					t.Fatalf("datastore files = %q, want 2", files)
				}
				for _, f := range files {
					fi, err := os.Lstat(filepath.Join(root, f))
					if err != nil {
						t.Fatal(err)
					}
					if isLink := fi.Mode()&os.ModeSymlink != 0; isLink != (mode == "symlink") {
						t.Errorf("%s: mode %v after a %s import", f, fi.Mode(), mode)
					}
				}
				res, err = exportfile.ImportFile(t.Context(), b, file, butler.ImportOptions{Transfer: mode}, nil)
				if err != nil || res.Datasets != 0 || res.Files != 0 || res.Skipped != 2 {
					t.Errorf("second ImportFile = %+v, %v; want the 2 datasets skipped", res, err)
				}
				if got := repotest.DatastoreFiles(t, root); !slices.Equal(got, files) {
					t.Errorf("datastore files after the second import = %q, want %q", got, files)
				}
			})
		}
	})
}

// TestImport_SkipDimensions leaves the named elements' records out.
func TestImport_SkipDimensions(t *testing.T) {
	_, b := repotest.New(t)
	bun := readFile(t, b, "base.yaml")
	if _, err := b.Import(t.Context(), bun, butler.ImportOptions{RegistryOnly: true, SkipDimensions: []string{"detector"}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"instrument": 1, "physical_filter": 3}
	if got := snapshot(t, b).Records; !cmp.Equal(got, want) {
		t.Errorf("records after importing base.yaml without detectors = %v, want %v", got, want)
	}
}

func readFile(t *testing.T, b *butler.Butler, name string) *butler.Bundle {
	t.Helper()
	f, err := os.Open(exportPath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bun, _, err := exportfile.Read(f, b.Universe, exportfile.ReadOptions{})
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return bun
}

// TestCalibrationRefs lists what is certified in CALIBRATION collections,
// each dataset once, filtered by collection and dataset type globs.
func TestCalibrationRefs(t *testing.T) {
	ctx := t.Context()
	_, b := repotest.New(t)
	importFiles(t, b, "base.yaml", "datasets.yaml")
	byType := map[string][]dataset.Ref{}
	for _, r := range allRefs(t, b) {
		byType[r.Type.Name+" "+r.Run] = append(byType[r.Type.Name+" "+r.Run], r)
	}
	span := timespan.New(tai(2020, 1, 1, 0, 0, 0, 0), tai(2021, 1, 1, 0, 0, 0, 0))
	for coll, refs := range map[string][]dataset.Ref{
		"Cam1/calib/a": byType["bias imported_g"],
		"Cam1/calib/b": append(byType["flat imported_r"], byType["bias imported_g"][0]),
	} {
		if err := b.Certify(ctx, coll, refs, span); err != nil {
			t.Fatalf("Certify(%s): %v", coll, err)
		}
	}
	tests := []struct {
		names, types []string
		want         int
		wantCols     []string
		wantErr      error
	}{
		{nil, nil, 7, []string{"Cam1/calib/a", "Cam1/calib/b"}, nil},
		{[]string{"Cam1/calib/a"}, nil, 3, []string{"Cam1/calib/a"}, nil},
		{[]string{"Cam1/calib/b"}, []string{"b*"}, 1, []string{"Cam1/calib/b"}, nil},
		{nil, []string{"fl?t"}, 4, []string{"Cam1/calib/a", "Cam1/calib/b"}, nil},
		{[]string{"imported_*"}, nil, 0, nil, errs.ErrNotFound}, // RUN collections, not CALIBRATION
	}
	for _, tt := range tests {
		refs, cols, err := exportfile.CalibrationRefs(ctx, b, tt.names, tt.types)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("CalibrationRefs(%q, %q) error = %v, want %v", tt.names, tt.types, err, tt.wantErr)
			}
			continue
		}
		sort.Strings(cols)
		if err != nil || len(refs) != tt.want || !slices.Equal(cols, tt.wantCols) {
			t.Errorf("CalibrationRefs(%q, %q) = %d refs in %q, %v; want %d in %q", tt.names, tt.types, len(refs), cols, err, tt.want, tt.wantCols)
		}
	}
}

// pyyamlFloat is PyYAML's (YAML 1.1) implicit float pattern: upstream reads
// a plain scalar as a float only when it matches.
var pyyamlFloat = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)

// TestWrite_Floats: numbers are written so that PyYAML reads them as floats
// (30.0, not 30; 1.0e-05, not 1e-05) and read back exactly.
func TestWrite_Floats(t *testing.T) {
	u := dimensions.Default()
	visit := u.MustElement("visit")
	values := []float64{30, 0.1, -2.5, 1e-05, 1.5e20, 1234567, 0, 1e16, 123456789012345680, 21.192894420000002, math.Inf(1), math.NaN()}
	bun := &butler.Bundle{Records: []butler.RecordSet{{Element: "visit"}}}
	for i, v := range values {
		bun.Records[0].Records = append(bun.Records[0].Records, dimensions.Record{Element: visit, Values: map[string]any{
			"instrument": "Cam1", "id": int64(i), "name": fmt.Sprint(i), "physical_filter": "Cam1-G", "day_obs": int64(20200101), "exposure_time": v,
		}})
	}
	var buf bytes.Buffer
	if err := exportfile.Write(&buf, bun, u); err != nil {
		t.Fatal(err)
	}
	var written []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "exposure_time: "); ok {
			written = append(written, v)
			if !pyyamlFloat.MatchString(v) {
				t.Errorf("exposure_time written as %q: not a float to YAML 1.1", v)
			}
		}
	}
	if len(written) != len(values) {
		t.Fatalf("%d exposure_time values written, want %d:\n%s", len(written), len(values), buf.String())
	}
	back, _, err := exportfile.Read(&buf, u, exportfile.ReadOptions{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	for i, r := range back.Records[0].Records {
		got, ok := r.Values["exposure_time"].(float64)
		if want := values[i]; !ok || (got != want && !(math.IsNaN(got) && math.IsNaN(want))) {
			t.Errorf("exposure_time %g written as %q read back as %v", want, written[i], r.Values["exposure_time"])
		}
	}
}

// TestExportImport_Collections exports datasets with a TAGGED, a CALIBRATION
// (two validity ranges) and a CHAINED collection: the repository made by
// importing the export is the same as the source, and exports the same bytes.
func TestExportImport_Collections(t *testing.T) {
	forEachDialect(t, func(t *testing.T, newRepo newRepoFunc) {
		ctx := t.Context()
		_, a := newRepo(t)
		importFiles(t, a, "base.yaml", "datasets.yaml")
		refs := allRefs(t, a)
		var biasG, biasR, flats []dataset.Ref
		for _, r := range refs {
			switch {
			case r.Type.Name == "bias" && r.Run == "imported_g":
				biasG = append(biasG, r)
			case r.Type.Name == "bias":
				biasR = append(biasR, r)
			default:
				flats = append(flats, r)
			}
		}
		if err := a.Associate(ctx, "Cam1/tagged", flats[:3]); err != nil {
			t.Fatal(err)
		}
		y2020, y2021, y2022 := tai(2020, 1, 1, 0, 0, 0, 0), tai(2021, 1, 1, 0, 0, 0, 0), tai(2022, 1, 1, 0, 0, 0, 0)
		if err := a.Certify(ctx, "Cam1/calib", biasG, timespan.New(y2020, y2021)); err != nil {
			t.Fatal(err)
		}
		if err := a.Certify(ctx, "Cam1/calib", biasR, timespan.New(y2021, y2022)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.ChainCollections(ctx, "Cam1/defaults", []string{"Cam1/calib", "Cam1/tagged", "imported_r"}, butler.ChainOptions{}); err != nil {
			t.Fatal(err)
		}
		export := func(b *butler.Butler) []byte {
			t.Helper()
			bun, err := b.Export(ctx, allRefs(t, b), butler.ExportOptions{Collections: []string{"Cam1/tagged", "Cam1/calib", "Cam1/defaults"}})
			if err != nil {
				t.Fatalf("Export: %v", err)
			}
			var buf bytes.Buffer
			if err := exportfile.Write(&buf, bun, b.Universe); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}
		first := export(a)
		bun, _, err := exportfile.Read(bytes.NewReader(first), a.Universe, exportfile.ReadOptions{})
		if err != nil {
			t.Fatalf("Read: %v\n%s", err, first)
		}
		_, b := newRepo(t)
		if _, err := b.Import(ctx, bun, butler.ImportOptions{RegistryOnly: true}); err != nil {
			t.Fatalf("Import: %v", err)
		}
		want, got := snapshot(t, a), snapshot(t, b)
		if len(want.Certs) != 6 || want.Members["Cam1/tagged"] != 3 {
			t.Fatalf("source state: %+v", want)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("imported repository differs from the source (-source +imported):\n%s", d)
		}
		if d := cmp.Diff(string(first), string(export(b))); d != "" {
			t.Errorf("second export differs (-first +second):\n%s", d)
		}
	})
}

// TestRead_NewerUniverseRefused: an export file of universe 7 read for a
// universe-1 repository is refused by the migration transfers use too, naming
// what universe 1 cannot hold (#12.2).
func TestRead_NewerUniverseRefused(t *testing.T) {
	v1, err := dimensions.Version(1)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exportPath(t, "lsstcam-subset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, _, err = exportfile.Read(f, v1, exportfile.ReadOptions{})
	var ue *dimensions.UnrepresentableError
	if !errors.As(err, &ue) || !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("Read(universe 7 file, universe 1) = %v, want a *dimensions.UnrepresentableError", err)
	}
	for _, want := range []string{"universe 7", "universe 1", "exposure.group", "day_obs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
