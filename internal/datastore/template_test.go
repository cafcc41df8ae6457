package datastore

import (
	"bufio"
	"errors"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
)

// testFields is a data ID with records, as the butler hands it to templates.
type testFields struct {
	values  map[string]any
	records map[string]map[string]any
}

func (f testFields) Value(name string) (any, bool) { v, ok := f.values[name]; return v, ok }

func (f testFields) Record(element, field string) (any, bool) {
	v, ok := f.records[element][field]
	return v, ok
}

// with returns a copy of f with the values changed; a nil value removes the name.
func (f testFields) with(kv ...any) testFields {
	g := testFields{values: map[string]any{}, records: f.records}
	for k, v := range f.values {
		g.values[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(g.values, kv[i].(string))
		} else {
			g.values[kv[i].(string)] = kv[i+1]
		}
	}
	return g
}

// withRecord returns a copy of f whose element record has field set to v.
func (f testFields) withRecord(element, field string, v any) testFields {
	g := f.with()
	g.records = map[string]map[string]any{}
	for e, r := range f.records {
		g.records[e] = r
	}
	r := map[string]any{field: v}
	for k, x := range f.records[element] {
		if k != field {
			r[k] = x
		}
	}
	g.records[element] = r
	return g
}

// The packaged templates of daf_butler (configs/datastores/fileDatastore.yaml at HEAD).
const (
	defaultTemplate = "{run:/}/{datasetType}.{component:?}/{tract:?}/{patch:?}/{day_obs|visit.day_obs|exposure.day_obs:?}/{band:?}/{subfilter:?}/{physical_filter:?}/{visit:?}/{exposure.obs_id|group:?}/{datasetType}_{component:?}_{instrument:?}_{tract:?}_{patch:?}_{band:?}_{physical_filter:?}_{visit:?}_{exposure.obs_id|group:?}_{detector.full_name:?}_{skymap:?}_{skypix:?}_{ssp_hypothesis_table:?}_{ssp_hypothesis_bundle:?}_{ssp_balanced_index:?}_{run}"
	rawTemplate     = "{run:/}/{datasetType}.{component:?}/{day_obs|exposure.day_obs}/{exposure.obs_id}/{datasetType}_{component:?}_{instrument:?}_{physical_filter}_{exposure.obs_id}_{detector.full_name}_{run}"
)

// upstream is the data ID of daf_butler's tests/test_templates.py.
var upstream = testFields{values: map[string]any{
	"instrument": "dummy", "visit": int64(52), "physical_filter": "Most Amazing U Filter Ever", "band": "b",
	"day_obs": int64(20200101), "group": "2025-08-07>08:25:27.100",
	"datasetType": "calexp", "run": "run2", "id": "1f0e5b3c-1b9c-4d7e-8f00-0123456789ab",
}}

// rawLSSTCam is the first raw of the corpus (raws/lsstCam), expanded with records, in universe
// version 8 where exposure implies day_obs, group, physical_filter and band.
var rawLSSTCam = testFields{
	values: map[string]any{
		"instrument": "LSSTCam", "detector": int64(29), "exposure": int64(3019031900001),
		"day_obs": int64(20190319), "group": "3019031900001", "physical_filter": "unknown", "band": "unknown",
		"datasetType": "raw", "run": "LSSTCam/raw/all", "id": "7bb5ebb2-2bd9-5364-9069-5f545397e1cc",
	},
	records: map[string]map[string]any{
		"exposure": {"obs_id": "MC_C_20190319_000001", "day_obs": int64(20190319), "group": "3019031900001"},
		"detector": {"full_name": "R10_S02"},
	},
}

func TestTemplate_Format(t *testing.T) {
	noDayObs := rawLSSTCam.with("day_obs", nil, "group", nil) // universe versions before day_obs was a dimension
	tests := []struct {
		name, template string
		fields         testFields
		want           string
	}{
		// daf_butler tests/test_templates.py.
		{"basic", "{run}/{datasetType}/{visit:05d}/{physical_filter}", upstream, "run2/calexp/00052/Most_Amazing_U_Filter_Ever"},
		{"trailing text", "{run}/{datasetType}/{visit:05d}/{physical_filter}-trail", upstream, "run2/calexp/00052/Most_Amazing_U_Filter_Ever-trail"},
		{"slash in run replaced", "{run}/{datasetType}/{visit:05d}/{physical_filter}-trail-{run}", upstream.with("run", "run/2"), "run_2/calexp/00052/Most_Amazing_U_Filter_Ever-trail-run_2"},
		{"slash in run kept", "{run:/}/{datasetType}/{visit:05d}/{physical_filter}-trail-{run}", upstream.with("run", "run/2"), "run/2/calexp/00052/Most_Amazing_U_Filter_Ever-trail-run_2"},
		{"dots only in file name", "{run:/}/{datasetType}/{visit:05d}/{physical_filter}-trail-{run}", upstream.with("run", "run.2", "physical_filter", "g.10"), "run.2/calexp/00052/g_10-trail-run_2"},
		{"conversion then spec", "{run}/{datasetType}/{day_obs!s:.4s}", upstream.with("run", "run3", "day_obs", int64(20250203)), "run3/calexp/2025"},
		{"special characters", "{run}/{datasetType}/{group}", upstream, "run2/calexp/2025-08-07_08_25_27_100"},
		{"id alone", "{id}", upstream, "1f0e5b3c-1b9c-4d7e-8f00-0123456789ab"},
		{"id in file name", "fixed/{id}_{physical_filter}", upstream, "fixed/1f0e5b3c-1b9c-4d7e-8f00-0123456789ab_Most_Amazing_U_Filter_Ever"},
		{"alternates", "{run}/{datasetType}/{visit:05d}/{physical_filter|day_obs}_{day_obs|physical_filter}", upstream, "run2/calexp/00052/Most_Amazing_U_Filter_Ever_20200101"},
		{"alternates optional", "{run}/{datasetType}/{exposure|visit:05d}/{physical_filter|day_obs}_{tract|exposure:?}", upstream, "run2/calexp/00052/Most_Amazing_U_Filter_Ever"},
		{"optional in file name", "{run}/{datasetType}/v{visit:05d}_f{physical_filter:?}_{skypix:?}", upstream, "run2/calexp/v00052_fMost_Amazing_U_Filter_Ever"},
		{"optional skypix present", "{run}/{datasetType}/v{visit:05d}_f{physical_filter:?}_{skypix:?}",
			testFields{values: map[string]any{"visit": int64(48), "tract": int64(265), "skymap": "big", "instrument": "dummy", "skypix": int64(12345), "datasetType": "calexpT", "run": "run2"}},
			"run2/calexpT/v00048_12345"},
		{"optional first directory", "{run}/{tract:?}/{visit:?}/f{physical_filter}", upstream, "run2/52/fMost_Amazing_U_Filter_Ever"},
		{"double slash collapsed", "{run}/{datasetType}/{patch:?}/{tract:?}/f{physical_filter}", upstream, "run2/calexp/fMost_Amazing_U_Filter_Ever"},
		{"text kept before slash", "{run}/{datasetType}/p{patch:?}_t{tract:?}/f{physical_filter}", upstream, "run2/calexp/p/fMost_Amazing_U_Filter_Ever"},
		{"spec with optional mark", "{run}/{datasetType}/p{patch:?}_t{visit:04d?}/f{physical_filter}", upstream, "run2/calexp/p_t0052/fMost_Amazing_U_Filter_Ever"},
		{"component used", "{run}_c_{component}_v{visit}", upstream.with("datasetType", "metric", "component", "output"), "run2_c_output_v52"},
		{"component absent", "{component:?}/{run}_{component:?}_{visit}", upstream.with("datasetType", "metric"), "run2_52"},
		{"component present", "{component:?}/{run}_{component:?}_{visit}", upstream.with("datasetType", "metric", "component", "output"), "output/run2_output_52"},
		{"nested component", "{component:?}/{run}_{component:?}_{visit}", upstream.with("component", "maskedimage.variance"), "maskedimage.variance/run2_maskedimage_variance_52"},

		// The packaged templates against the corpus raw.
		{"raw template", rawTemplate, rawLSSTCam, "LSSTCam/raw/all/raw/20190319/MC_C_20190319_000001/raw_LSSTCam_unknown_MC_C_20190319_000001_R10_S02_LSSTCam_raw_all"},
		{"raw template of 2021-2024", strings.Replace(rawTemplate, "{day_obs|exposure.day_obs}", "{exposure.day_obs}", 1), rawLSSTCam,
			"LSSTCam/raw/all/raw/20190319/MC_C_20190319_000001/raw_LSSTCam_unknown_MC_C_20190319_000001_R10_S02_LSSTCam_raw_all"},
		{"raw template, day_obs from record", rawTemplate, noDayObs, "LSSTCam/raw/all/raw/20190319/MC_C_20190319_000001/raw_LSSTCam_unknown_MC_C_20190319_000001_R10_S02_LSSTCam_raw_all"},
		{"default template, raw", defaultTemplate, rawLSSTCam, "LSSTCam/raw/all/raw/20190319/unknown/unknown/MC_C_20190319_000001/raw_LSSTCam_unknown_unknown_MC_C_20190319_000001_R10_S02_LSSTCam_raw_all"},
		{"default template, component", defaultTemplate, rawLSSTCam.with("datasetType", "calexp", "component", "wcs"), "LSSTCam/raw/all/calexp.wcs/20190319/unknown/unknown/MC_C_20190319_000001/calexp_wcs_LSSTCam_unknown_unknown_MC_C_20190319_000001_R10_S02_LSSTCam_raw_all"},
		{"default template, group without exposure (dots kept in directories)", defaultTemplate,
			testFields{values: map[string]any{"instrument": "LSSTCam", "group": "2025-08-07>08:25:27.100", "day_obs": int64(20250807), "datasetType": "guider", "run": "u/me/run"}},
			"u/me/run/guider/20250807/2025-08-07_08_25_27.100/guider_LSSTCam_2025-08-07_08_25_27_100_u_me_run"},
		{"default template, visit record", defaultTemplate,
			testFields{values: map[string]any{"instrument": "HSC", "visit": int64(1228), "band": "i", "physical_filter": "HSC-I", "detector": int64(49), "datasetType": "calexp", "run": "HSC/runs/RC2/w_2025_01"},
				records: map[string]map[string]any{"visit": {"day_obs": int64(20150121)}, "detector": {"full_name": "1_41"}}},
			"HSC/runs/RC2/w_2025_01/calexp/20150121/i/HSC-I/1228/calexp_HSC_i_HSC-I_1228_1_41_HSC_runs_RC2_w_2025_01"},

		// Formatting details (Python's str.format mini-language).
		{"zero padding", "{run}/{visit:08d}", upstream, "run2/00000052"},
		{"width and alignment", "{run}/{band:>4}{visit:<4}|{visit:^6}", upstream, "run2/   b52  |  52  "}, // padding is not a value: kept
		{"fill character", "{run}/{visit:*^8}", upstream, "run2/***52***"},
		{"string zero fill", "{run}/{band:05}", upstream, "run2/b0000"},
		{"sign and hex", "{run}/{visit:+d}_{visit:#x}_{visit:X}_{visit:o}_{visit:b}", upstream, "run2/+52_0x34_34_64_110100"},
		{"grouping", "{run}/{day_obs:,}_{day_obs:_}", upstream, "run2/20,200,101_20_200_101"},
		{"repr conversion", "{run}/{band!r}", upstream, "run2/'b'"},
		{"float formats", "{run}/{ra:.2f}_{ra}_{ra:e}", upstream.with("ra", 150.125), "run2/150_12_150_125_1_501250e+02"},
		{"record float", "{run}/{visit.exposure_time}", upstream.withRecord("visit", "exposure_time", 30.0), "run2/30_0"},
		{"hash in file name", "{run}/{band}", upstream.with("band", "a#b"), "run2/aHASHb"},
		{"hash in directory kept", "{run}/{band}/x", upstream.with("band", "a#b"), "run2/a#b/x"},
		{"leading slash removed", "/{run}/{visit}", upstream, "run2/52"},
		{"escaped braces", "{run}/{{x}}_{visit}", upstream, "run2/{x}_52"},
		{"escaped brace ends literal", "{run}/a{{b_{tract:?}", upstream, "run2/a{"}, // "b_" is the text before tract
		{"None value", "{run}/{visit.name}", upstream.withRecord("visit", "name", nil), "run2/None"},
		{"bool value", "{run}/{flag}_{flag:d}", upstream.with("flag", true), "run2/True_1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.template)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Format(tt.fields)
			if err != nil {
				t.Fatalf("Format: %v", err)
			}
			if got != tt.want {
				t.Errorf("Format(%s)\n got %s\nwant %s", tt.template, got, tt.want)
			}
		})
	}
}

func TestTemplate_FormatErrors(t *testing.T) {
	tests := []struct {
		name, template string
		fields         testFields
		wantErr        string
	}{
		{"missing mandatory", "{run}/{tract}", upstream, `"tract" is not in the data ID`},
		{"record without records", "{run}/{visit.name}", upstream, "is the data ID expanded?"},
		{"unused component", "{run}/{datasetType}/v{visit:05d}", upstream.with("component", "wcs"), "does not use \"component\""},
		{"string spec on int", "{run}/{visit:.4s}", upstream, "format code 's' for an integer"},
		{"int spec on string", "{run}/{band:d}", upstream, "format code 'd' for a string"},
		{"escapes root", "{run:/}/{visit}", upstream.with("run", "../.."), "not a path inside the datastore"},
		{"spec on other type", "{run}/{when:5}", upstream.with("when", struct{}{}), "format spec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.template)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Format(tt.fields)
			if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Format(%s) = %q, %v; want errs.ErrInvalid with %q", tt.template, got, err, tt.wantErr)
			}
		})
	}
}

func TestParseTemplate_Invalid(t *testing.T) {
	tests := []struct{ template, wantErr string }{
		{"no fields at all", `no "run" or "id"`},
		{"{visit}", `no "run" or "id"`},
		{"{run}_{datasetType}", "no field names a dimension"},
		{"{id}/fixed", "not in the file name"},
		{"{id:?}_{run}", "not in the file name"},
		{"{run}/../{datasetType}_{visit}", `"../"`},
		{"{collection}/{visit}", `"collection"`},
		{"{run}/{collection.name|visit}", `"collection"`},
		{"{run}/{visit", "expected '}'"},
		{"{run}/visit}", "single '}'"},
		{"{run}/{}", "no name"},
		{"{run}/{0}", "bad name"},
		{"{run}/{visit|}", "bad name"},
		{"{run}/{a.b.c}", "bad name"},
		{"{run}/{a[0]}", "bad name"},
		{"{run}/{visit!x}", "unknown conversion"},
		{"{run}/{visit!}", "missing conversion"},
		{"{run}/{visit!ss}", "expected ':'"},
		{"{run}/{visit:{width}}", "nested fields"},
		{"{run}/{visit:05q}", "invalid format spec"},
		{"{run}/{visit:.}", "missing precision"},
	}
	for _, tt := range tests {
		_, err := ParseTemplate(tt.template)
		if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseTemplate(%q) error = %v, want errs.ErrInvalid with %q", tt.template, err, tt.wantErr)
		}
	}
	for _, s := range []string{"{id}", "{run}/{id}", "fixed/{id}", defaultTemplate, rawTemplate, "{run}/{visit:04d?}", "{run}/{x!s}"} {
		if tmpl, err := ParseTemplate(s); err != nil {
			t.Errorf("ParseTemplate(%q): %v", s, err)
		} else if tmpl.String() != s {
			t.Errorf("String() = %q, want %q", tmpl.String(), s)
		}
	}
}

func TestTemplate_Validate(t *testing.T) {
	raw := []string{"instrument", "detector", "exposure"}
	rawImplied := []string{"band", "physical_filter", "day_obs", "group"}
	tests := []struct {
		name, template string
		required       []string
		implied        []string
		component      bool
		wantErr        string // "" means valid
	}{
		{"raw template", rawTemplate, raw, rawImplied, false, ""},
		{"raw template, component", rawTemplate, raw, rawImplied, true, ""},
		{"raw template needs implied dims", rawTemplate, raw, nil, false, "not dimensions"},
		{"default template, raw", defaultTemplate, raw, rawImplied, false, ""},
		{"default template, calexp", defaultTemplate, []string{"instrument", "visit", "detector"}, []string{"band", "physical_filter", "day_obs"}, true, ""},
		{"default template, camera", defaultTemplate, []string{"instrument"}, nil, false, ""},
		{"default template lacks a dimension", defaultTemplate, []string{"instrument", "healpix11"}, nil, false, "[healpix11] are not in the template"},
		{"optional covers required", "{run}/{visit:?}/{instrument}", []string{"instrument", "visit"}, nil, false, ""},
		{"required dimension missing", "{run}/{instrument}", []string{"instrument", "visit"}, nil, false, "[visit] are not in the template"},
		{"mandatory field outside", "{run}/{tract}/{instrument}", []string{"instrument"}, nil, false, "[tract] are not dimensions"},
		{"record of an outside element", "{run}/{instrument}/{visit.name}", []string{"instrument"}, nil, false, "[visit] are not dimensions"},
		{"component needs component", "{run}/{instrument}", []string{"instrument"}, nil, true, `no "component"`},
		{"mandatory component", "{run}/{component}_{instrument}", []string{"instrument"}, nil, false, `"component" is mandatory`},
		{"mandatory component for a component", "{run}/{component}_{instrument}", []string{"instrument"}, nil, true, ""},
		{"id only", "{id}", []string{"instrument"}, nil, false, "[instrument] are not in the template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.template)
			if err != nil {
				t.Fatal(err)
			}
			err = tmpl.Validate(tt.required, tt.component, tt.implied...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.wantErr != "" && (!errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate error = %v, want errs.ErrInvalid with %q", err, tt.wantErr)
			}
		})
	}
}

// TestTemplate_CorpusCalibPaths checks the default template against files the Python butler
// named in the corpus registries (curated calibrations; the raws there were ingested in place,
// so their paths come from the source tree, not from a template).
func TestTemplate_CorpusCalibPaths(t *testing.T) {
	corpus := corpusDir(t)
	tmpl, err := ParseTemplate(defaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		expected string // EXPECTED file under raws/
		fields   testFields
		ext      string
	}{
		{"lsstCam/EXPECTED.lsstCam.txt", testFields{
			values:  map[string]any{"instrument": "LSSTCam", "detector": int64(0), "datasetType": "qe_curve", "run": "LSSTCam/calib/curated/19700101T000000Z"},
			records: map[string]map[string]any{"detector": {"full_name": "R01_S00"}}}, ".fits"},
		{"lsstCam/EXPECTED.lsstCam.txt", testFields{
			values: map[string]any{"instrument": "LSSTCam", "datasetType": "camera", "run": "LSSTCam/calib/unbounded"}}, ".fits"},
		{"latiss/EXPECTED.latiss.txt", testFields{
			values:  map[string]any{"instrument": "LATISS", "detector": int64(0), "datasetType": "defects", "run": "LATISS/calib/curated/20180101T000000Z"},
			records: map[string]map[string]any{"detector": {"full_name": "RXX_S00"}}}, ".fits"},
		{"comCam/EXPECTED.comCam.txt", testFields{
			values: map[string]any{"instrument": "LSSTComCam", "datasetType": "camera", "run": "LSSTComCam/calib/unbounded"}}, ".fits"},
	}
	for _, tt := range tests {
		got, err := tmpl.Format(tt.fields)
		if err != nil {
			t.Fatal(err)
		}
		paths := recordPaths(t, filepath.Join(corpus, "raws", tt.expected))
		if !paths[got+tt.ext] {
			t.Errorf("%s has no file_datastore_records path %q", tt.expected, got+tt.ext)
		}
	}
}

// recordPaths reads the path column of section 10 (file_datastore_records) of an EXPECTED file.
func recordPaths(t *testing.T, name string) map[string]bool {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	paths := map[string]bool{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.Contains(line, "file_datastore_records, all rows")
			continue
		}
		if cols := strings.Split(line, " | "); in && len(cols) >= 2 && cols[0] != "dataset_id" {
			paths[cols[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("%s: no file_datastore_records rows found", name)
	}
	return paths
}

// corpusDir finds the shared test corpus (BUTLER_TEST_CORPUS, else ../shared/corpus beside
// the module root), or skips.
func corpusDir(t *testing.T) string {
	return corpustest.Dir(t)
}
