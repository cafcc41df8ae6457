package butler_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/obsinfo"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/progress"
	"github.com/gobutler/butler/timespan"
)

// expSpec is one synthetic LSSTCam exposure of day 20250415.
type expSpec struct {
	seq, start, end int64
	group           string // default: one group per exposure
	noBoresight     bool   // tracking_ra NULL
	cannotSeeSky    bool
	azimuth         float64
	reason          string // default "science"
	target          string // default "field"
	ra              float64
}

const testDay = 20250415

func expID(seq int64) int64 { return testDay*100000 + seq }

// exposureRecords builds the exposure (and group, day_obs) records of specs.
func exposureRecords(t testing.TB, b *butler.Butler, specs []expSpec) []butler.RecordSet {
	t.Helper()
	u := b.Universe
	var exps, groups []dimensions.Record
	seen := map[string]bool{}
	for _, s := range specs {
		beg := time.Date(2025, 4, 16, 1, 0, 0, 0, time.UTC).Add(time.Duration(s.seq) * time.Minute)
		group := s.group
		if group == "" {
			group = beg.Format("2006-01-02T15:04:05.000")
		}
		reason := cmpOr(s.reason, "science")
		target := cmpOr(s.target, "field")
		ra, dec, sky, zen := 150.0+s.ra, -30.0, 45.0, 20.0+float64(s.seq)
		az := s.azimuth
		canSee := !s.cannotSeeSky
		vals := map[string]any{
			"instrument": "LSSTCam", "id": expID(s.seq), "obs_id": fmt.Sprintf("MC_O_%d_%06d", testDay, s.seq),
			"day_obs": int64(testDay), "group": group, "physical_filter": "r_57", "exposure_time": 15.0, "dark_time": 16.0,
			"observation_type": "science", "observation_reason": reason, "seq_num": s.seq, "seq_start": s.start, "seq_end": s.end,
			"target_name": target, "science_program": "BLOCK-1", "tracking_ra": ra, "tracking_dec": dec, "sky_angle": sky,
			"azimuth": az, "zenith_angle": zen, "has_simulated": false, "can_see_sky": canSee,
			"timespan": timespan.Timespan{Begin: timespan.FromUTC(beg), End: timespan.FromUTC(beg.Add(16 * time.Second))},
		}
		if s.noBoresight {
			vals["tracking_ra"] = nil
		}
		expElem := u.MustElement("exposure")
		if expElem.HasField("group_name") { // universes before 6
			vals["group_name"] = group
			id, err := obsinfo.VisitIDFromGroup(group)
			if err != nil {
				t.Fatal(err)
			}
			vals["group_id"] = id
		}
		for k := range vals {
			if !expElem.HasField(k) {
				delete(vals, k)
			}
		}
		exps = append(exps, dimensions.Record{Element: expElem, Values: vals})
		if _, ok := u.Element("group"); !ok {
			continue
		}
		if !seen[group] {
			seen[group] = true
			groups = append(groups, dimensions.Record{Element: u.MustElement("group"), Values: map[string]any{"instrument": "LSSTCam", "name": group}})
		}
	}
	if _, ok := u.Element("day_obs"); !ok {
		return []butler.RecordSet{{Element: "exposure", Records: exps}}
	}
	day := dimensions.Record{Element: u.MustElement("day_obs"), Values: map[string]any{"instrument": "LSSTCam", "id": int64(testDay)}}
	return []butler.RecordSet{{Element: "day_obs", Records: []dimensions.Record{day}}, {Element: "group", Records: groups}, {Element: "exposure", Records: exps}}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// visitRepo registers LSSTCam in b and adds the exposures.
func visitRepo(t testing.TB, b *butler.Butler, specs []expSpec) {
	t.Helper()
	if _, err := ingest.RegisterInstrument(t.Context(), b, "lsst.obs.lsst.LsstCam", false); err != nil {
		t.Fatal(err)
	}
	addExposures(t, b, specs, false)
}

func addExposures(t testing.TB, b *butler.Butler, specs []expSpec, replace bool) {
	t.Helper()
	for _, set := range exposureRecords(t, b, specs) {
		mode := butler.InsertSkip
		if replace && set.Element == "exposure" {
			mode = butler.InsertReplace
		}
		if err := b.InsertRecords(t.Context(), set.Element, set.Records, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// visitSummary renders the visits of b: "id name [systems] exposures".
func visitSummary(t *testing.T, b *butler.Butler) []string {
	t.Helper()
	defs := map[int64][]int64{}
	for _, r := range records(t, b, "visit_definition") {
		v := r.Values["visit"].(int64)
		defs[v] = append(defs[v], r.Values["exposure"].(int64)%100000)
	}
	systems := map[int64][]int64{}
	for _, r := range records(t, b, "visit_system_membership") {
		v := r.Values["visit"].(int64)
		systems[v] = append(systems[v], r.Values["visit_system"].(int64))
	}
	var out []string
	for _, r := range records(t, b, "visit") {
		id := r.Values["id"].(int64)
		slices.Sort(defs[id])
		slices.Sort(systems[id])
		out = append(out, fmt.Sprintf("%d %s %v %v", id, r.Values["name"], systems[id], defs[id]))
	}
	slices.Sort(out)
	return out
}

func countRecords(t *testing.T, b *butler.Butler, element string) int {
	t.Helper()
	return len(records(t, b, element))
}

// groupingSpecs: 1 a single snap; 2 and 3 a two-snap visit; 4 cannot see
// the sky; 5 has no boresight; 6 the second snap of a visit whose first (5)
// is not usable.
var groupingSpecs = []expSpec{
	{seq: 1, start: 1, end: 1, group: "2025-04-16T01:01:00.000", azimuth: 10},
	{seq: 2, start: 2, end: 3, group: "2025-04-16T01:02:00.000", azimuth: 350, reason: "a"},
	{seq: 3, start: 2, end: 3, group: "2025-04-16T01:02:00.000", azimuth: 20, reason: "b"},
	{seq: 4, start: 4, end: 4, cannotSeeSky: true},
	{seq: 5, start: 5, end: 6, noBoresight: true, group: "2025-04-16T01:05:00.000"},
	{seq: 6, start: 5, end: 6, group: "2025-04-16T01:05:00.000"},
}

func TestDefineVisitsGrouping(t *testing.T) {
	g1, _ := obsinfo.VisitIDFromGroup("2025-04-16T01:01:00.000")
	g2, _ := obsinfo.VisitIDFromGroup("2025-04-16T01:02:00.000")
	g5, _ := obsinfo.VisitIDFromGroup("2025-04-16T01:05:00.000")
	name := func(seq int64) string { return fmt.Sprintf("MC_O_%d_%06d", testDay, seq) }
	tests := []struct {
		algorithm string
		systems   []int64
		want      []string
	}{
		{"one-to-one", []int64{0}, []string{
			fmt.Sprintf("%d %s [0] [1]", expID(1), name(1)),
			fmt.Sprintf("%d %s [0] [2]", expID(2), name(2)),
			fmt.Sprintf("%d %s [0] [3]", expID(3), name(3)),
			fmt.Sprintf("%d %s [0] [6]", expID(6), name(6)),
		}},
		{"one-to-one-and-by-counter", []int64{0, 2}, []string{
			fmt.Sprintf("%d %s [0 2] [1]", expID(1), name(1)),
			fmt.Sprintf("%d %s [2] [2 3]", expID(2), name(2)),
			fmt.Sprintf("%d %s [0] [3]", expID(3), name(3)),
			fmt.Sprintf("%d %s [0] [6]", expID(6), name(6)),
			fmt.Sprintf("9%d %s_first [0] [2]", expID(2), name(2)),
		}},
		{"by-group-metadata", []int64{1}, []string{
			fmt.Sprintf("%d 2025-04-16T01:01:00.000 [1] [1]", g1),
			fmt.Sprintf("%d 2025-04-16T01:02:00.000 [1] [2 3]", g2),
			fmt.Sprintf("%d 2025-04-16T01:05:00.000 [1] [6]", g5),
		}},
	}
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		for _, tc := range tests {
			t.Run(tc.algorithm, func(t *testing.T) {
				_, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
				visitRepo(t, b, groupingSpecs)
				res, err := b.DefineVisits(t.Context(), "LSSTCam", butler.DefineVisitsOptions{Config: []string{"groupExposures.name=" + tc.algorithm}})
				if err != nil {
					t.Fatal(err)
				}
				got := visitSummary(t, b)
				slices.Sort(tc.want)
				if !slices.Equal(got, tc.want) {
					t.Errorf("visits:\n got %q\nwant %q", got, tc.want)
				}
				if res.Exposures != 4 || res.NotOnSky != 2 || res.New != len(tc.want) || res.Algorithm != tc.algorithm {
					t.Errorf("result %+v", res)
				}
				var ids []int64
				for _, r := range records(t, b, "visit_system") {
					ids = append(ids, r.Values["id"].(int64))
				}
				for _, s := range tc.systems {
					if !slices.Contains(ids, s) {
						t.Errorf("visit_system %d not written (have %v)", s, ids)
					}
				}
				if n := countRecords(t, b, "visit_detector_region"); n != 205*len(tc.want) {
					t.Errorf("%d detector regions, want 205 per visit", n)
				}
				// The two-snap visit's fields aggregate its exposures.
				ndefs := map[any]int{}
				for _, r := range records(t, b, "visit_definition") {
					ndefs[r.Values["visit"]]++
				}
				for _, r := range records(t, b, "visit") {
					if ndefs[r.Values["id"]] != 2 {
						continue
					}
					v := maps.Clone(r.Values)
					delete(v, "region")
					ts := v["timespan"].(timespan.Timespan)
					if v["exposure_time"] != 30.0 || v["observation_reason"] != "various" || v["zenith_angle"] != 22.5 ||
						math.Abs(v["azimuth"].(float64)-5) > 1e-9 || v["seq_num"] != int64(2) || v["target_name"] != "field" {
						t.Errorf("two-snap visit fields %v", v)
					}
					if want := exposureSpan(t, b, 2, 3); ts != want {
						t.Errorf("two-snap visit timespan %v, want %v", ts, want)
					}
				}
			})
		}
	})
}

// exposureSpan is the union of two exposures' timespans.
func exposureSpan(t *testing.T, b *butler.Butler, a, c int64) timespan.Timespan {
	t.Helper()
	ex := records(t, b, "exposure")
	var out timespan.Timespan
	for _, r := range ex {
		id := r.Values["id"].(int64)
		ts := r.Values["timespan"].(timespan.Timespan)
		if id == expID(a) {
			out.Begin = ts.Begin
		}
		if id == expID(c) {
			out.End = ts.End
		}
	}
	return out
}

// eachDialect runs fn on a new repository of each dialect.
func eachDialect(t *testing.T, fn func(t *testing.T, dialect string, b *butler.Butler)) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		_, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
		fn(t, dialect, b)
	})
}

func TestDefineVisitsRerunConflictsAndUpdates(t *testing.T) {
	specs := []expSpec{{seq: 1, start: 1, end: 1}, {seq: 2, start: 2, end: 2}, {seq: 3, start: 3, end: 3}}
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		visitRepo(t, b, specs)
		// The where is a data-ID query over exposures: it may name implied
		// dimensions such as band.
		res, err := b.DefineVisits(ctx, "lsst.obs.lsst.LsstCam", butler.DefineVisitsOptions{Where: "band = 'g'"})
		if err != nil || res.Exposures != 0 || countRecords(t, b, "visit") != 0 {
			t.Fatalf("band g: %+v, %v; want no exposure", res, err)
		}
		res, err = b.DefineVisits(ctx, "lsst.obs.lsst.LsstCam", butler.DefineVisitsOptions{Where: "band = :b AND exposure.seq_num <= 2", Bind: map[string]any{"b": "r"}})
		if err != nil || res.New != 2 {
			t.Fatalf("band r, seq_num <= 2: %+v, %v", res, err)
		}
		res, err = b.DefineVisits(ctx, "lsst.obs.lsst.LsstCam", butler.DefineVisitsOptions{})
		if err != nil || res.New != 1 || res.Skipped != 2 {
			t.Fatalf("first full run: %+v, %v", res, err)
		}
		before := visitSummary(t, b)
		res, err = b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{})
		if err != nil || res.Skipped != 3 || res.New != 0 || res.DetectorRegions != 0 {
			t.Fatalf("re-run: %+v, %v; want a no-op", res, err)
		}

		// A changed exposure makes a conflicting visit.
		changed := slices.Clone(specs)
		changed[1].target = "other"
		addExposures(t, b, changed, true)
		_, err = b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{})
		if !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), fmt.Sprint(expID(2))) || !strings.Contains(err.Error(), "target_name") {
			t.Fatalf("conflict: %v; want ErrConflict naming visit %d and target_name", err, expID(2))
		}
		if got := visitSummary(t, b); !slices.Equal(got, before) {
			t.Errorf("visits changed by the failed run: %v", got)
		}
		res, err = b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{SkipConflicting: true})
		if err != nil || res.Skipped != 3 {
			t.Fatalf("skip-conflicting: %+v, %v", res, err)
		}
		// Incremental takes the change without rewriting unchanged regions.
		res, err = b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{Incremental: true})
		if err != nil || res.PartiallyUpdated != 1 || res.Skipped != 2 || res.DetectorRegions != 0 {
			t.Fatalf("incremental: %+v, %v; want 1 partially updated", res, err)
		}
		if v := records(t, b, "visit")[dimensions.DataID{"instrument": "LSSTCam", "visit": expID(2)}.String()]; v.Values["target_name"] != "other" {
			t.Errorf("visit not updated: %v", v.Values)
		}
		// A moved boresight changes the regions: update-records rewrites them
		// all, for every visit.
		changed[2].ra = 10
		addExposures(t, b, changed, true)
		oldRegions := records(t, b, "visit_detector_region")
		res, err = b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{UpdateRecords: true})
		if err != nil || res.FullyUpdated != 3 || res.DetectorRegions != 3*205 {
			t.Fatalf("update-records: %+v, %v", res, err)
		}
		newRegions := records(t, b, "visit_detector_region")
		moved := 0
		for k, r := range newRegions {
			if fmt.Sprint(r.Values["region"]) != fmt.Sprint(oldRegions[k].Values["region"]) {
				moved++
			}
		}
		if moved != 205 {
			t.Errorf("%d detector regions changed, want the 205 of the moved exposure", moved)
		}
		// The htm7 overlap rows follow: the old position finds nothing of visit 3.
		n := 0
		err = b.QueryDataIDs(ctx, butler.DataIDSearch{Dimensions: []string{"visit"}, Where: "visit.region OVERLAPS POINT(150.0, -30.0)"},
			func(id dimensions.DataID) error {
				if id["visit"] == expID(3) {
					n++
				}
				return nil
			})
		if err != nil || n != 0 {
			t.Errorf("visit %d still found at its old position (%d, %v)", expID(3), n, err)
		}
		n = 0
		err = b.QueryDataIDs(ctx, butler.DataIDSearch{Dimensions: []string{"visit"}, Where: "visit.region OVERLAPS POINT(160.0, -30.0)"},
			func(id dimensions.DataID) error {
				if id["visit"] == expID(3) {
					n++
				}
				return nil
			})
		if err != nil || n != 1 {
			t.Errorf("visit %d not found at its new position (%d, %v)", expID(3), n, err)
		}
	})
}

func TestDefineVisitsIncrementalSnaps(t *testing.T) {
	specs := []expSpec{{seq: 2, start: 2, end: 3}, {seq: 3, start: 2, end: 3}}
	opts := butler.DefineVisitsOptions{Config: []string{"groupExposures.name=one-to-one-and-by-counter"}}
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		visitRepo(t, b, specs[:1])
		if res, err := b.DefineVisits(ctx, "LSSTCam", opts); err != nil || res.New != 2 {
			t.Fatalf("first snap: %+v, %v", res, err)
		}
		addExposures(t, b, specs, false)
		only3 := opts
		only3.Where = fmt.Sprintf("exposure = %d", expID(3))
		// Without incremental the second snap alone has no first snap: it
		// gets its own one-to-one visit only (upstream warns).
		res, err := b.DefineVisits(ctx, "LSSTCam", only3)
		if err != nil || res.New != 1 || res.Visits != 1 {
			t.Fatalf("second snap alone: %+v, %v; want its one-to-one visit", res, err)
		}
		// Both snaps without incremental: the grown two-snap visit conflicts.
		if _, err := b.DefineVisits(ctx, "LSSTCam", opts); !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), fmt.Sprintf("visit %d ", expID(2))) {
			t.Fatalf("both snaps without incremental: %v; want a conflict naming visit %d", err, expID(2))
		}
		// Incremental finds the first snap and grows the two-snap visit
		// (same first exposure, so same regions: a partial update).
		only3.Incremental = true
		res, err = b.DefineVisits(ctx, "LSSTCam", only3)
		if err != nil || res.PartiallyUpdated != 1 || res.Skipped != 2 || res.Visits != 3 {
			t.Fatalf("incremental: %+v, %v; want the two-snap visit updated", res, err)
		}
		want := []string{
			fmt.Sprintf("%d MC_O_%d_000002 [2] [2 3]", expID(2), testDay),
			fmt.Sprintf("%d MC_O_%d_000003 [0] [3]", expID(3), testDay),
			fmt.Sprintf("9%d MC_O_%d_000002_first [0] [2]", expID(2), testDay),
		}
		if got := visitSummary(t, b); !slices.Equal(got, want) {
			t.Errorf("after the second snap (%+v):\n got %q\nwant %q", res, got, want)
		}
		v := records(t, b, "visit")[dimensions.DataID{"instrument": "LSSTCam", "visit": expID(2)}.String()]
		if v.Values["exposure_time"] != 30.0 {
			t.Errorf("two-snap visit exposure_time %v, want 30", v.Values["exposure_time"])
		}
	})
}

func TestDefineVisitsPrefilterAndDetectorRegions(t *testing.T) {
	specs := []expSpec{{seq: 1, start: 1, end: 1}, {seq: 2, start: 2, end: 2}}
	eachDialect(t, func(t *testing.T, dialect string, b *butler.Butler) {
		ctx := t.Context()
		visitRepo(t, b, specs[:1])
		if _, err := b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{}); err != nil {
			t.Fatal(err)
		}
		addExposures(t, b, specs, false)
		res, err := b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{Prefilter: true})
		if err != nil || res.Filtered != 1 || res.New != 1 || res.Visits != 1 {
			t.Fatalf("prefilter: %+v, %v", res, err)
		}
		if _, err := b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{Prefilter: true, UpdateRecords: true}); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("prefilter with update-records: %v, want ErrInvalid", err)
		}

		// A visit written without its detector regions (by another tool) is
		// completed by CheckDetectorRegions.
		_, other := repotest.NewOn(t, dialect, butler.CreateOptions{})
		visitRepo(t, other, specs[:1])
		for _, el := range []string{"visit_system", "visit", "visit_definition", "visit_system_membership"} {
			var recs []dimensions.Record
			for _, r := range records(t, b, el) {
				if el == "visit_system" || r.Values["visit"] == expID(1) || r.Values["id"] == expID(1) {
					recs = append(recs, r)
				}
			}
			if err := other.InsertRecords(ctx, el, recs, butler.InsertNew); err != nil {
				t.Fatal(err)
			}
		}
		res, err = other.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{})
		if err != nil || res.Skipped != 1 || countRecords(t, other, "visit_detector_region") != 0 {
			t.Fatalf("without check: %+v, %v", res, err)
		}
		res, err = other.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{CheckDetectorRegions: true})
		if err != nil || res.FullyUpdated != 1 || countRecords(t, other, "visit_detector_region") != 205 {
			t.Fatalf("check-detector-regions: %+v, %v", res, err)
		}
		res, err = other.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{CheckDetectorRegions: true, Prefilter: true})
		if err != nil || res.Filtered != 1 || res.Visits != 0 {
			t.Fatalf("check-detector-regions with prefilter on complete visits: %+v, %v", res, err)
		}
	})
}

func TestDefineVisitsBadInput(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		visitRepo(t, b, groupingSpecs)
		before := countRecords(t, b, "visit_system")
		tests := []struct {
			name       string
			instrument string
			opts       butler.DefineVisitsOptions
			kind       error
			says       string
		}{
			{"unknown instrument", "lsst.obs.lsst.NoSuchCam", butler.DefineVisitsOptions{}, errs.ErrNotFound, "not registered"},
			{"bad where", "LSSTCam", butler.DefineVisitsOptions{Where: "exposure.no_such_field = 3"}, nil, "no_such_field"},
			{"where syntax", "LSSTCam", butler.DefineVisitsOptions{Where: "exposure = = 3"}, nil, ""},
			{"unknown config field", "LSSTCam", butler.DefineVisitsOptions{Config: []string{"groupExposures.nmae=one-to-one"}}, errs.ErrInvalid, "groupExposures.nmae"},
			{"unknown algorithm", "LSSTCam", butler.DefineVisitsOptions{Config: []string{"groupExposures.name='by-magic'"}}, errs.ErrInvalid, "by-magic"},
			{"missing config file", "LSSTCam", butler.DefineVisitsOptions{ConfigFile: "/no/such/file.py"}, nil, "/no/such/file.py"},
			{"off-sky exposure not ignored", "LSSTCam", butler.DefineVisitsOptions{Config: []string{"ignoreNonScienceExposures=False"}}, errs.ErrInvalid, "not on sky"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := b.DefineVisits(ctx, tc.instrument, tc.opts)
				if err == nil || (tc.kind != nil && !errors.Is(err, tc.kind)) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("error %v; want %v saying %q", err, tc.kind, tc.says)
				}
				for _, el := range visitElements {
					if n := countRecords(t, b, el); n != 0 {
						t.Errorf("%d %s records written", n, el)
					}
				}
				if n := countRecords(t, b, "visit_system"); n != before {
					t.Errorf("visit_system records: %d, were %d", n, before)
				}
			})
		}
	})
}

// cancelAfterFirst is a progress reporter that cancels the run once the
// first batch of visits is committed.
type cancelAfterFirst struct{ cancel func() }

func (c cancelAfterFirst) Task(string, int64) progress.Task { return cancelTask(c) }

type cancelTask cancelAfterFirst

func (c cancelTask) Add(int64)      { c.cancel() }
func (c cancelTask) SetTotal(int64) {}
func (c cancelTask) Done()          {}

// TestDefineVisitsInterrupted stops a run after its first transaction: the
// visits written have all their records, the others none, and a second run
// completes the job.
func TestDefineVisitsInterrupted(t *testing.T) {
	specs := make([]expSpec, 10)
	for i := range specs {
		seq := int64(i + 1)
		specs[i] = expSpec{seq: seq, start: seq, end: seq}
	}
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		visitRepo(t, b, specs)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		_, err := b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{BatchSize: 3, Progress: cancelAfterFirst{cancel}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v, want context.Canceled", err)
		}
		if n := countRecords(t, b, "visit"); n != 3 {
			t.Errorf("%d visits after the first transaction, want 3", n)
		}
		for _, el := range []string{"visit_definition", "visit_system_membership"} {
			if n := countRecords(t, b, el); n != 3 {
				t.Errorf("%d %s records, want 3", n, el)
			}
		}
		if n := countRecords(t, b, "visit_detector_region"); n != 3*205 {
			t.Errorf("%d detector regions, want 3 × 205", n)
		}
		res, err := b.DefineVisits(t.Context(), "LSSTCam", butler.DefineVisitsOptions{})
		if err != nil || res.Skipped != 3 || res.New != 7 || countRecords(t, b, "visit_detector_region") != 10*205 {
			t.Errorf("second run: %+v, %v", res, err)
		}
	})
}

// TestDefineVisitsInterruptedLargeBatch interrupts a run whose transactions
// hold more visits than are built at once (20 visits, built 8, 8 and 4): the
// first transaction is committed whole, with every region of its visits,
// and nothing of the second (on PostgreSQL the second writer starts only
// after the first commit).
func TestDefineVisitsInterruptedLargeBatch(t *testing.T) {
	specs := make([]expSpec, 40)
	for i := range specs {
		seq := int64(i + 1)
		specs[i] = expSpec{seq: seq, start: seq, end: seq, ra: float64(i)}
	}
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		visitRepo(t, b, specs)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		_, err := b.DefineVisits(ctx, "LSSTCam", butler.DefineVisitsOptions{BatchSize: 20, Progress: cancelAfterFirst{cancel}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v, want context.Canceled", err)
		}
		for el, want := range map[string]int{"visit": 20, "visit_definition": 20, "visit_system_membership": 20, "visit_detector_region": 20 * 205} {
			if n := countRecords(t, b, el); n != want {
				t.Errorf("%d %s records after the first transaction, want %d", n, el, want)
			}
		}
		res, err := b.DefineVisits(t.Context(), "LSSTCam", butler.DefineVisitsOptions{BatchSize: 20})
		if err != nil || res.Skipped != 20 || res.New != 20 || countRecords(t, b, "visit_detector_region") != 40*205 {
			t.Errorf("second run: %+v, %v", res, err)
		}
	})
}

// TestDefineVisitsOldUniverses defines visits in repositories of older
// universes: 0 (one visit system on the visit and its definitions, no
// visit_system_membership, no azimuth), 2 (day_obs a visit field, legacy
// group_name/group_id) and 6.
func TestDefineVisitsOldUniverses(t *testing.T) {
	for _, version := range []int{0, 2, 6} {
		t.Run(fmt.Sprint(version), func(t *testing.T) {
			pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
				dimCfg := filepath.Join(repotest.ModuleRoot(t), "dimensions", "universes", fmt.Sprintf("daf_butler_universe%d.yaml", version))
				algorithms := []string{"one-to-one", "by-group-metadata"}
				if version >= 2 {
					algorithms = append(algorithms, "one-to-one-and-by-counter")
				}
				// These universes have no can_see_sky: exposure 4 is on the sky.
				want := map[string]int{"one-to-one": 5, "by-group-metadata": 4, "one-to-one-and-by-counter": 6}
				var b *butler.Butler
				for _, alg := range algorithms {
					_, b = repotest.NewOn(t, dialect, butler.CreateOptions{DimensionConfig: dimCfg})
					visitRepo(t, b, groupingSpecs)
					res, err := b.DefineVisits(t.Context(), "LSSTCam", butler.DefineVisitsOptions{Config: []string{"groupExposures.name=" + alg}})
					if err != nil {
						t.Fatalf("%s: %v", alg, err)
					}
					if res.Visits != want[alg] || res.New != want[alg] || res.Exposures != 5 {
						t.Errorf("%s: %+v, want %d new visits of 5 exposures", alg, res, want[alg])
					}
					if n := countRecords(t, b, "visit_detector_region"); n != 205*want[alg] {
						t.Errorf("%s: %d detector regions for %d visits", alg, n, want[alg])
					}
					if again, err := b.DefineVisits(t.Context(), "LSSTCam", butler.DefineVisitsOptions{Config: []string{"groupExposures.name=" + alg}}); err != nil || again.Skipped != want[alg] {
						t.Errorf("%s re-run: %+v, %v", alg, again, err)
					}
				}
				if version == 0 {
					for _, r := range records(t, b, "visit_definition") {
						if r.Values["visit_system"] == nil {
							t.Errorf("universe 0 visit_definition without visit_system: %v", r.Values)
						}
					}
				}
			})
		})
	}
}
