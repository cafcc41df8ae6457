package dimensions

import (
	"strings"
	"testing"
)

func TestUniverse_Order(t *testing.T) {
	u := Default()
	var names []string
	for _, e := range u.Elements {
		if e.SkyPixSystem == "" {
			names = append(names, e.Name)
		}
	}
	// reference/daf_butler.md §4.4, skypix levels left out.
	want := "band instrument skymap ssp_hypothesis_table day_obs detector group physical_filter ssp_balanced_index ssp_hypothesis_bundle subfilter tract visit_system exposure patch visit visit_definition visit_detector_region visit_system_membership"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("universe order = %s\nwant %s", got, want)
	}
	if u.CommonSkyPix == nil || u.CommonSkyPix.Name != "htm7" {
		t.Errorf("common skypix = %v, want htm7", u.CommonSkyPix)
	}
}

func TestUniverse_AllVersionsLoad(t *testing.T) {
	for v := 0; v <= DefaultVersion; v++ {
		u, err := Version(v)
		if err != nil {
			t.Fatalf("Version(%d): %v", v, err)
		}
		if u.Version != v {
			t.Errorf("Version(%d).Version = %d", v, u.Version)
		}
		if _, ok := u.Element("exposure"); !ok {
			t.Errorf("universe %d has no exposure", v)
		}
		data, err := u.JSON()
		if err != nil {
			t.Fatal(err)
		}
		u2, err := loadJSON(data) // the fast path repositories are opened with
		if err != nil {
			t.Fatalf("reload universe %d from JSON: %v", v, err)
		}
		if len(u2.Elements) != len(u.Elements) {
			t.Fatalf("universe %d: %d elements after JSON round trip, want %d", v, len(u2.Elements), len(u.Elements))
		}
		for i, e := range u.Elements {
			e2 := u2.Elements[i]
			if e.Name != e2.Name || len(e.Required) != len(e2.Required) || len(e.Implied) != len(e2.Implied) ||
				len(e.Metadata) != len(e2.Metadata) || e.Spatial != e2.Spatial || e.Temporal != e2.Temporal || e.Cached != e2.Cached || e.ViewOf != e2.ViewOf {
				t.Errorf("universe %d element %d: YAML %+v, JSON %+v", v, i, e, e2)
			}
		}
	}
	if _, err := Version(99); err == nil {
		t.Error("Version(99) succeeded")
	}
}

func TestGroup(t *testing.T) {
	u := Default()
	tests := []struct {
		in            []string
		required, all string
	}{
		{[]string{"instrument", "detector", "exposure"}, "instrument detector exposure", "instrument detector exposure band day_obs group physical_filter"},
		{[]string{"exposure", "detector"}, "instrument detector exposure", "instrument detector exposure band day_obs group physical_filter"},
		{[]string{"visit_definition"}, "instrument exposure visit", "instrument exposure visit band day_obs group physical_filter"},
		{[]string{"patch"}, "skymap tract patch", "skymap tract patch"},
		{[]string{"physical_filter"}, "instrument physical_filter", "instrument physical_filter band"},
		{nil, "", ""},
	}
	for _, tt := range tests {
		g, err := u.Group(tt.in...)
		if err != nil {
			t.Fatalf("Group(%v): %v", tt.in, err)
		}
		if got := strings.Join(g.RequiredNames(), " "); got != tt.required {
			t.Errorf("Group(%v).Required = %q, want %q", tt.in, got, tt.required)
		}
		if got := strings.Join(g.Names(), " "); got != tt.all {
			t.Errorf("Group(%v).Names = %q, want %q", tt.in, got, tt.all)
		}
	}
	if _, err := u.Group("nonesuch"); err == nil {
		t.Error("Group(nonesuch) succeeded")
	}
}

func TestElement_Required(t *testing.T) {
	u := Default()
	vdr := u.MustElement("visit_detector_region")
	var names []string
	for _, e := range vdr.Required {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, " "); got != "instrument detector visit" {
		t.Errorf("visit_detector_region.Required = %s", got)
	}
	if !u.MustElement("visit").HasTable() || u.MustElement("band").HasTable() || u.MustElement("htm7").HasTable() {
		t.Error("HasTable wrong for visit/band/htm7")
	}
	if u.MustElement("exposure").Temporal != "observation_timespans" || u.MustElement("visit").Spatial != "observation_regions" {
		t.Error("topology not applied")
	}
}

func TestNormalize(t *testing.T) {
	u := Default()
	g, _ := u.Group("instrument", "detector", "exposure")
	d, err := u.Normalize(g, DataID{"instrument": "LSSTCam", "detector": "29", "exposure": 3019031900001})
	if err != nil {
		t.Fatal(err)
	}
	if d["detector"] != int64(29) || d["exposure"] != int64(3019031900001) {
		t.Errorf("Normalize = %v", d)
	}
	for _, bad := range []DataID{
		{"instrument": "LSSTCam", "detector": 1},
		{"instrument": "LSSTCam", "detector": "x", "exposure": 1},
		{"instrument": "LSSTCam", "detector": 1, "exposure": 1, "tract": 3},
		{"instrument": "", "detector": 1, "exposure": 1},
	} {
		if _, err := u.Normalize(g, bad); err == nil {
			t.Errorf("Normalize(%v) succeeded", bad)
		}
	}
}
