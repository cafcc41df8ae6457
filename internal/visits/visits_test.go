package visits

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
)

func TestConfigSetAndLoad(t *testing.T) {
	tests := []struct {
		key, value string
		check      func(Config) bool
		err        string
	}{
		{"groupExposures.name", `"one-to-one-and-by-counter"`, func(c Config) bool { return c.GroupExposures == OneToOneAndByCounter }, ""},
		{"config.groupExposures.name", `'by-group-metadata'`, func(c Config) bool { return c.GroupExposures == ByGroupMetadata }, ""},
		{"groupExposures.name", `by-magic`, nil, "unknown grouping algorithm"},
		{"computeVisitRegions.active.padding", `4000`, func(c Config) bool { return c.Padding != nil && *c.Padding == 4000 }, ""},
		{`computeVisitRegions["single-raw-wcs"].padding`, `10`, func(c Config) bool { return c.Padding != nil && *c.Padding == 10 }, ""},
		{"computeVisitRegions.active.padding", `ten`, nil, "want an integer"},
		{"computeVisitRegions.active.mergeExposures", `True`, func(c Config) bool { return c.MergeExposures }, ""},
		{"ignoreNonScienceExposures", `False`, func(c Config) bool { return !c.IgnoreNonScienceExposures }, ""},
		{"ignoreNonScienceExposures", `maybe`, nil, "want True or False"},
		{"computeVisitRegions.active.detectorId", `None`, func(c Config) bool { return c.DetectorID == nil }, ""},
		{"computeVisitRegions.name", `"other"`, nil, "unknown region algorithm"},
		{"noSuchField", `1`, nil, "unknown define-visits config field"},
	}
	for _, tc := range tests {
		c := DefaultConfig()
		err := c.Set(tc.key, tc.value)
		switch {
		case tc.err != "":
			if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Set(%s, %s): %v, want an ErrInvalid saying %q", tc.key, tc.value, err, tc.err)
			}
		case err != nil:
			t.Errorf("Set(%s, %s): %v", tc.key, tc.value, err)
		case !tc.check(c):
			t.Errorf("Set(%s, %s): config %+v", tc.key, tc.value, c)
		}
	}

	c := DefaultConfig()
	file := "# LATISS override\nimport os\nconfig.computeVisitRegions.active.padding = 4000  # pixels\n\nconfig.groupExposures.name = \"one-to-one\"\n"
	if err := c.Load(strings.NewReader(file), "defineVisits.py"); err != nil || c.Padding == nil || *c.Padding != 4000 {
		t.Errorf("Load: %v, %+v", err, c)
	}
	err := c.Load(strings.NewReader("config.groupExposures.name = 'one-to-one'\nconfig.bad = 3\n"), "x.py")
	if err == nil || !strings.Contains(err.Error(), "x.py line 2") {
		t.Errorf("Load of a bad line: %v, want it named by file and line", err)
	}
	c = DefaultConfig()
	c.RequireVersionedCamera = true
	if err := c.Validate(); !errors.Is(err, errs.ErrUnsupported) {
		t.Errorf("requireVersionedCamera: %v, want ErrUnsupported", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestAggregate(t *testing.T) {
	e1 := &Exposure{ID: 1, ObservationReason: ptr("a"), TargetName: ptr("t"), DayObs: ptr(int64(20250102)), SeqNum: ptr(int64(5)),
		ExposureTime: ptr(15.0), ZenithAngle: ptr(10.0), Azimuth: ptr(350.0)}
	e2 := &Exposure{ID: 2, ObservationReason: ptr("b"), TargetName: ptr("t"), DayObs: ptr(int64(20250101)), SeqNum: ptr(int64(6)),
		ExposureTime: ptr(15.0), ZenithAngle: ptr(20.0), Azimuth: ptr(30.0)}
	f := Aggregate([]*Exposure{e1, e2})
	if f.ObservationReason != "various" || f.TargetName == nil || *f.TargetName != "t" || *f.DayObs != 20250101 || *f.SeqNum != 5 ||
		*f.ExposureTime != 30 || *f.ZenithAngle != 15 || math.Abs(*f.Azimuth-10) > 1e-12 || f.PhysicalFilter != nil || f.Timespan != nil {
		t.Errorf("Aggregate: %+v", f)
	}
	// Upstream's circular mean lies in (-180, 180].
	e1.Azimuth, e2.Azimuth = ptr(200.0), ptr(220.0)
	if f := Aggregate([]*Exposure{e1, e2}); math.Abs(*f.Azimuth-(-150)) > 1e-9 {
		t.Errorf("mean of 200 and 220: %v, want -150 as upstream", *f.Azimuth)
	}
	// One exposure keeps its value; a NULL makes the visit's NULL.
	if f := Aggregate([]*Exposure{e1}); *f.Azimuth != 200 || f.ObservationReason != "a" {
		t.Errorf("one exposure: %+v", f)
	}
	e2.ZenithAngle, e2.ObservationReason = nil, nil
	if f := Aggregate([]*Exposure{e1, e2}); f.ZenithAngle != nil || f.ObservationReason != "various" {
		t.Errorf("with a NULL: %+v", f)
	}
}

func TestGroupByCounterNeedsCounters(t *testing.T) {
	_, err := Group(OneToOneAndByCounter, []*Exposure{{ID: 1, ObsID: "X"}}, false, nil)
	if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "exposure 1 (X)") {
		t.Errorf("exposure without seq_start: %v", err)
	}
	// seq_num 0: an instrument without counters; no warning, no multi-snap visit.
	var warned []string
	defs, err := Group(OneToOneAndByCounter, []*Exposure{{ID: 7, ObsID: "Y", DayObs: ptr(int64(1)), SeqNum: ptr(int64(0)), SeqStart: ptr(int64(1)), SeqEnd: ptr(int64(2))}},
		false, func(m string) { warned = append(warned, m) })
	if err != nil || len(defs) != 1 || defs[0].ID != 7 || len(warned) != 0 {
		t.Errorf("seq_num 0: %+v, %v, warnings %v", defs, err, warned)
	}
}
