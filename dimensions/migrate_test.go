package dimensions

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/timespan"
)

func mustVersion(t *testing.T, v int) *Universe {
	t.Helper()
	u, err := Version(v)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// render prints records as "element field=value ..." lines, sorted fields.
func render(recs []Record) []string {
	var out []string
	for _, r := range recs {
		keys := make([]string, 0, len(r.Values))
		for k := range r.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := []string{r.Element.Name}
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%v", k, r.Values[k]))
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

func tai(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

// TestMigrate covers each universe migration daf_butler's import applies, and
// the refusals of content an older universe cannot hold.
func TestMigrate(t *testing.T) {
	inst := map[string]any{"name": "Cam", "class_name": "lsst.obs.lsst.LsstCam"}
	offset := func(cls string) (int64, bool) { return 12 * 3600, cls == "lsst.obs.lsst.LsstCam" }
	day := time.Date(2024, 3, 21, 12, 0, 0, 0, time.UTC).UnixNano()
	span := timespan.New(tai("2024-03-22T01:00:00Z"), tai("2024-03-22T01:00:30Z"))
	tests := []struct {
		name     string
		from, to int
		recs     map[string][]map[string]any // element → values, in this order: see order below
		want     []string                    // rendered output; nil with wantErr
		wantErr  []string                    // substrings of an UnrepresentableError
	}{
		{"v0 visit: seeing dropped, day_obs derived", 0, 1,
			map[string][]map[string]any{"visit": {{"instrument": "Cam", "id": int64(5), "physical_filter": "r", "visit_system": int64(0), "seeing": 0.7, "timespan": span}}},
			[]string{"visit day_obs=20240321 id=5 instrument=Cam physical_filter=r timespan=" + span.String() + " visit_system=0"}, nil},
		{"v1 visit: visit_system becomes a membership, visit_definition loses it", 1, 2,
			map[string][]map[string]any{
				"visit":            {{"instrument": "Cam", "id": int64(5), "physical_filter": "r", "visit_system": int64(1), "day_obs": int64(20240321)}},
				"visit_definition": {{"instrument": "Cam", "exposure": int64(9), "visit_system": int64(1), "visit": int64(5)}, {"instrument": "Cam", "exposure": int64(9), "visit_system": int64(2), "visit": int64(5)}},
			},
			[]string{
				"visit day_obs=20240321 id=5 instrument=Cam physical_filter=r",
				"visit_definition exposure=9 instrument=Cam visit=5",
				"visit_system_membership instrument=Cam visit=5 visit_system=1",
			}, nil},
		{"v5 exposure: group from group_name, day_obs records", 5, 8,
			map[string][]map[string]any{"exposure": {{"instrument": "Cam", "id": int64(9), "physical_filter": "r", "obs_id": "o", "day_obs": int64(20240321), "group_name": "g1", "group_id": int64(77), "azimuth": nil}}},
			[]string{
				"day_obs id=20240321 instrument=Cam timespan=" + timespan.New(day, day+86400e9).String(),
				"group instrument=Cam name=g1",
				"exposure azimuth=<nil> day_obs=20240321 group=g1 id=9 instrument=Cam obs_id=o physical_filter=r",
			}, nil},
		{"v5 exposure without group_name: group left missing for the NOT NULL check", 5, 8,
			map[string][]map[string]any{"exposure": {{"instrument": "Cam", "id": int64(9), "physical_filter": "r", "obs_id": "o", "day_obs": int64(20240321)}}},
			[]string{
				"day_obs id=20240321 instrument=Cam timespan=" + timespan.New(day, day+86400e9).String(),
				"exposure day_obs=20240321 id=9 instrument=Cam obs_id=o physical_filter=r",
			}, nil},
		{"same universe: copied", 8, 8,
			map[string][]map[string]any{"detector": {{"instrument": "Cam", "id": int64(1), "full_name": "R22_S11"}}},
			[]string{"detector full_name=R22_S11 id=1 instrument=Cam"}, nil},
		{"v7 to v1: exposure fields, group and day_obs refused", 7, 1,
			map[string][]map[string]any{
				"day_obs":  {{"instrument": "Cam", "id": int64(20240321)}},
				"group":    {{"instrument": "Cam", "name": "g1"}},
				"exposure": {{"instrument": "Cam", "id": int64(9), "physical_filter": "r", "obs_id": "o", "day_obs": int64(20240321), "group": "g1", "can_see_sky": true, "azimuth": nil}},
			},
			nil, []string{"universe 7", "universe 1", "day_obs, exposure.can_see_sky, exposure.group, group have no place there"}},
		{"v3 to v2: a string too long for the older column", 3, 2,
			map[string][]map[string]any{"exposure": {{"instrument": "Cam", "id": int64(9), "physical_filter": "r", "obs_id": "o", "observation_reason": strings.Repeat("x", 40)}}},
			nil, []string{"exposure.observation_reason (40 characters, 32 allowed)", "e.g. exposure {exposure: 9, instrument: 'Cam'}"}},
		{"v8 to v7: an element v7 lacks", 8, 7,
			map[string][]map[string]any{"ssp_hypothesis_table": {{"name": "h"}}},
			nil, []string{"ssp_hypothesis_table have no place"}},
	}
	order := []string{"day_obs", "group", "visit", "visit_definition", "exposure", "detector", "ssp_hypothesis_table"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to := mustVersion(t, tt.from), mustVersion(t, tt.to)
			recs := []Record{{Element: from.MustElement("instrument"), Values: inst}}
			for _, el := range order {
				for _, v := range tt.recs[el] {
					recs = append(recs, Record{Element: from.MustElement(el), Values: v})
				}
			}
			var warnings []string
			got, err := Migrate(from, to, recs, MigrateOptions{DayObsOffset: offset, Warn: func(m string) { warnings = append(warnings, m) }})
			if tt.wantErr != nil {
				var ue *UnrepresentableError
				if !errors.As(err, &ue) || !errors.Is(err, errs.ErrInvalid) {
					t.Fatalf("Migrate(%d → %d) = %v, want an *UnrepresentableError", tt.from, tt.to, err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Migrate(%d → %d): %v", tt.from, tt.to, err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings %q", warnings)
			}
			for _, r := range got {
				if e, _ := to.Element(r.Element.Name); e != r.Element {
					t.Errorf("record of %s is not of the destination universe", r.Element.Name)
				}
			}
			rendered := render(got)
			want := append([]string{"instrument class_name=lsst.obs.lsst.LsstCam name=Cam"}, tt.want...)
			// Universe order puts instrument first, then what depends on it.
			sort.Strings(rendered[1:])
			sort.Strings(want[1:])
			if strings.Join(rendered, "\n") != strings.Join(want, "\n") {
				t.Errorf("Migrate(%d → %d) =\n%s\nwant\n%s", tt.from, tt.to, strings.Join(rendered, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestMigrate_UnknownOffsetWarns: day_obs records of an instrument whose
// observing-day offset is unknown are made without a timespan, with a warning.
func TestMigrate_UnknownOffsetWarns(t *testing.T) {
	from, to := mustVersion(t, 5), mustVersion(t, 8)
	recs := []Record{
		{Element: from.MustElement("instrument"), Values: map[string]any{"name": "HSC", "class_name": "lsst.obs.subaru.HyperSuprimeCam"}},
		{Element: from.MustElement("exposure"), Values: map[string]any{"instrument": "HSC", "id": int64(1), "physical_filter": "r", "obs_id": "o", "day_obs": int64(20130617), "group_name": "1"}},
	}
	var warnings []string
	got, err := Migrate(from, to, recs, MigrateOptions{Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "instrument HSC") {
		t.Errorf("warnings %q, want one naming HSC", warnings)
	}
	for _, r := range got {
		if r.Element.Name == "day_obs" && r.Values["timespan"] != nil {
			t.Errorf("day_obs record %v has a timespan without a known offset", r.Values)
		}
	}
}

// TestMigrateDimensions: visit_system leaves visit dataset types and data IDs
// of universes before 2; dimensions an older universe lacks are refused.
func TestMigrateDimensions(t *testing.T) {
	v1, v8 := mustVersion(t, 1), mustVersion(t, 8)
	got, err := MigrateDimensions(v1, v8, []string{"instrument", "visit", "visit_system", "detector"}, "calexp")
	if err != nil || strings.Join(got, ",") != "instrument,visit,detector" {
		t.Errorf("MigrateDimensions(1 → 8) = %v, %v", got, err)
	}
	got, err = MigrateDimensions(v1, v8, []string{"instrument", "visit_system"}, "x")
	if err != nil || strings.Join(got, ",") != "instrument,visit_system" {
		t.Errorf("MigrateDimensions(1 → 8) without visit = %v, %v", got, err)
	}
	if _, err := MigrateDimensions(v8, v1, []string{"instrument", "day_obs"}, "dataset type nightly"); err == nil || !strings.Contains(err.Error(), "day_obs") || !strings.Contains(err.Error(), "dataset type nightly") {
		t.Errorf("MigrateDimensions(8 → 1) with day_obs = %v, want a refusal naming day_obs and the type", err)
	}
}

// TestCheckRecord names the record and the first field without a value.
func TestCheckRecord(t *testing.T) {
	u := Default()
	err := CheckRecord(Record{Element: u.MustElement("exposure"), Values: map[string]any{"instrument": "Cam", "id": int64(3), "physical_filter": "r", "day_obs": int64(1)}})
	if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), `exposure record {exposure: 3, instrument: 'Cam'}: invalid: field "group" has no value`) {
		t.Errorf("CheckRecord = %v", err)
	}
	if err := CheckRecord(Record{Element: u.MustElement("exposure"), Values: map[string]any{"instrument": "Cam", "id": int64(3), "physical_filter": "r", "day_obs": int64(1), "group": "g"}}); err != nil {
		t.Errorf("CheckRecord of a complete record: %v", err)
	}
}
