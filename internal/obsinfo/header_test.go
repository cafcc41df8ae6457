package obsinfo_test

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/obsinfo"
	"github.com/gobutler/butler/timespan"
)

func TestParseHeaderDump(t *testing.T) {
	tests := []struct {
		name, in string
		want     obsinfo.Header
		wantErr  error
	}{
		{"yaml mapping", `
SIMPLE: true
EXPTIME: 15.0
SEQNUM: 32
DAYOBS: '20100217'
GROUPID: 2024-03-22T03:41:54.994
RA: null
OBJECT: HD 131586
COMMENT:
- first
- second
HIERARCH ASTRO METADATA FIX MODIFIED: false
`, obsinfo.Header{"SIMPLE": true, "EXPTIME": 15.0, "SEQNUM": int64(32), "DAYOBS": "20100217",
			"GROUPID": "2024-03-22T03:41:54.994", "RA": nil, "OBJECT": "HD 131586", "COMMENT": "first\nsecond",
			"ASTRO METADATA FIX MODIFIED": false}, nil},
		{"yaml 1.1 plain scalars", `
CONTNUM: 0000189126e1
A: 1e5
B: 017
C: yes
D: ~
E: 1_000
F: 1.5e+3
G: '017'
H: 1:30
I: .NaN
J: Off
K: 1 1
L:
`, obsinfo.Header{"CONTNUM": "0000189126e1", "A": "1e5", "B": int64(15), "C": true, "D": nil, "E": int64(1000),
			"F": 1500.0, "G": "017", "H": int64(90), "I": math.NaN(), "J": false, "K": "1 1", "L": nil}, nil},
		{"property list", `!<lsst.daf.base.PropertyList>
- [SIMPLE, Bool, true, conforms]
- [BITPIX, Int, 8, array data type]
- - EXPTIME
  - Double
  - 3
  - exposure time
- [RA, Undef, null, '']
- [TIMESYS, String, TAI, The time scale used]
- [SEQ, LongLong, 12345678901, '']
- [TIMESYS, String, UTC, repeated key: last wins]
`, obsinfo.Header{"SIMPLE": true, "BITPIX": int64(8), "EXPTIME": 3.0, "RA": nil, "TIMESYS": "UTC", "SEQ": int64(12345678901)}, nil},
		{"json metadata", `{"__CONTENT__": "metadata", "EXPTIME": 30, "DARKTIME": 30.5, "OBSID": "AT_O_1",
 "HIERARCH.SIMULATE.ATDOME": 1, "FILTPOS": null, "BIG": 1E+3}`,
			obsinfo.Header{"EXPTIME": int64(30), "DARKTIME": 30.5, "OBSID": "AT_O_1", "SIMULATE ATDOME": int64(1), "FILTPOS": nil, "BIG": 1000.0}, nil},
		{"json translated", `{"__CONTENT__": "translated", "exposure_id": 1}`, nil, errs.ErrUnsupported},
		{"json other content", `{"__CONTENT__": "other"}`, nil, errs.ErrInvalid},
		{"yaml list", "- 1\n- 2\n", nil, errs.ErrInvalid},
		{"bad yaml", "A: [unclosed\n", nil, errs.ErrInvalid},
		{"bad json", `{"A": }`, nil, errs.ErrInvalid},
		{"bad property list type", "!<lsst.daf.base.PropertyList>\n- [X, Int, abc, '']\n", nil, errs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := obsinfo.ParseHeaderDump([]byte(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseHeaderDump error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHeaderDump: %v", err)
			}
			if d := cmp.Diff(tt.want, got, cmpopts.EquateNaNs()); d != "" {
				t.Errorf("ParseHeaderDump (-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadHeaderDump_CorpusFormats(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "headers")
	tests := []struct {
		file string
		key  string
		want any
	}{
		{"lsstCam-MC_C_20190319_000001_R10_S02.yaml", "MJD-OBS", 58561.66004797444},
		{"lsstCam-MC_C_20190319_000001_R10_S02.yaml", "DAYOBS", "20190319"},
		{"latiss-AT_O_20191031_000004.yaml", "INSTRUME", "LATISS"}, // PropertyList
		{"latiss-AT_O_20191031_000004.yaml", "RA", nil},            // Undef
		{"latiss-AT_O_20230705_000379_R00_S00.json", "SIMULATE ATDOME", int64(0)},
		{"latiss-AT_O_20230705_000379_R00_S00.json", "SIMULATE ATMCS", nil},
		{"ts8-TS_C_20230512_000021_R22_S02-fixed.yaml", "ASTRO METADATA FIX MODIFIED", false},
	}
	for _, tt := range tests {
		h, err := obsinfo.LoadHeaderDump(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		got, present := h[tt.key]
		if !present || got != tt.want {
			t.Errorf("%s: %s = %#v (present %v), want %#v", tt.file, tt.key, got, present, tt.want)
		}
	}
	if _, err := obsinfo.LoadHeaderDump(filepath.Join(dir, "no-such-file.yaml")); err == nil {
		t.Error("LoadHeaderDump of a missing file succeeded")
	}
}

// TestTranslate_GuiderSidecar translates the sidecar JSON that stands in for
// an empty FITS file in the corpus.
func TestTranslate_GuiderSidecar(t *testing.T) {
	h, err := obsinfo.LoadHeaderDump(filepath.Join(corpusDir(t), "raws", "guider", "raw", "MC_C_20240918_000013_R42_S11.json"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := obsinfo.Translate(h, "MC_C_20240918_000013_R42_S11.fits")
	if err != nil {
		t.Fatal(err)
	}
	// CCS counters joined the OCS ones after 2023-10-04: no controller offset.
	if o.Instrument != "LSSTCam" || o.ExposureID != 2024091800013 || o.DetectorNum != 175 || o.ObsID != "MC_C_20240918_000013" ||
		o.PhysicalFilter != "ef_43" || o.ObservationType != "test" || o.DayObs != 20240918 || o.SeqNum != 13 {
		t.Errorf("got %s exposure %d detector %d obs_id %s filter %s type %s day_obs %d seq %d",
			o.Instrument, o.ExposureID, o.DetectorNum, o.ObsID, o.PhysicalFilter, o.ObservationType, o.DayObs, o.SeqNum)
	}
	if *o.DayObsOffset != 43200 || o.CanSeeSky == nil || *o.CanSeeSky || math.Abs(float64(o.End-o.Begin)/1e9-15.014) > 1e-3 {
		t.Errorf("offset %v can_see_sky %v duration %v", *o.DayObsOffset, derefBool(o.CanSeeSky), float64(o.End-o.Begin)/1e9)
	}
}

func TestParseTranslated(t *testing.T) {
	in := `{"__CONTENT__": "translated", "_translator": "LSSTCam",
 "altaz_begin": [-110.0, 65.0], "boresight_rotation_angle": 45.0, "boresight_rotation_coord": "sky",
 "can_see_sky": true, "dark_time": 31.0,
 "datetime_begin": [2460817.0, -0.4418402777777778], "datetime_end": [2460817.0, -0.44149305555555557],
 "detector_num": 42, "exposure_group": "20250521_000123", "exposure_id": 2025052000123,
 "exposure_time": 30.0, "exposure_time_requested": 30.0, "focus_z": 0.001, "group_counter_end": 123,
 "group_counter_start": 123, "has_simulated_content": false, "instrument": "LSSTCam", "object": "HD12345",
 "observation_counter": 123, "observation_id": "MC_O_20250520_000123", "observation_reason": "science",
 "observation_type": "science", "observing_day": 20250520, "observing_day_offset": 43200,
 "physical_filter": "r_57", "pressure": 750.0, "temperature": 283.15, "tracking_radec": [123.456, -45.678],
 "visit_id": 987654000, "science_program": null, "ext_foo": 1}`
	o, err := obsinfo.ParseTranslated([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	begin, _ := timespan.ParseTAI("2025-05-21T01:23:45")
	end, _ := timespan.ParseTAI("2025-05-21T01:24:15")
	if o.Begin != begin || o.End != end {
		t.Errorf("begin, end = %s, %s", timespan.FormatTAI(o.Begin), timespan.FormatTAI(o.End))
	}
	if o.Translator != "LSSTCam" || o.ExposureID != 2025052000123 || o.DetectorNum != 42 || o.Group != "20250521_000123" ||
		o.DayObs != 20250520 || *o.DayObsOffset != 43200 || o.FocusZ != 1 || *o.Pressure != 75000 ||
		math.Abs(*o.Temperature-10) > 1e-9 || *o.Azimuth != 250 || *o.ZenithAngle != 25 || *o.SkyAngle != 45 {
		t.Errorf("decoded %+v", o)
	}
	if o.OK("science_program") || !o.OK("dark_time") {
		t.Errorf("failed properties %v", o.FailedProperties())
	}
	for _, bad := range []string{
		`{"__CONTENT__": "metadata", "EXPTIME": 1}`,
		strings.Replace(in, `"exposure_id": 2025052000123,`, `"exposure_id": null,`, 1),
		strings.Replace(in, `"datetime_begin": [2460817.0, -0.4418402777777778],`, `"datetime_begin": "2025-05-21",`, 1),
		`[1, 2]`,
	} {
		if _, err := obsinfo.ParseTranslated([]byte(bad)); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("ParseTranslated(%.40q...) = %v, want ErrInvalid", bad, err)
		}
	}
}
