package butler_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/exportfile"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/sphgeom"
	"github.com/gobutler/butler/timespan"
)

// The query test suite runs on daf_butler's own registry test data (the export
// files of its registry tests), loaded into a fresh repository of each
// dialect, and asserts the same answers on both.

// forEachDialect runs fn on a new repository with a SQLite registry and on one
// with a PostgreSQL registry (when a server is available).
func forEachDialect(t *testing.T, fn func(t *testing.T, b *butler.Butler)) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		_, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
		fn(t, b)
	})
}

// loadExports imports daf_butler test export files, registry only.
func loadExports(t *testing.T, b *butler.Butler, names ...string) {
	t.Helper()
	for _, name := range names {
		f, err := os.Open(filepath.Join(corpustest.Dir(t), "daf_butler", "exports", name))
		if err != nil {
			t.Fatal(err)
		}
		bun, _, err := exportfile.Read(f, b.Universe, exportfile.ReadOptions{})
		f.Close()
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if _, err := b.Import(t.Context(), bun, butler.ImportOptions{RegistryOnly: true}); err != nil {
			t.Fatalf("import %s: %v", name, err)
		}
	}
}

func queryRefs(t *testing.T, b *butler.Butler, s butler.DatasetSearch) []dataset.Ref {
	t.Helper()
	var out []dataset.Ref
	if err := b.QueryDatasets(t.Context(), s, func(r dataset.Ref) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("query %+v: %v", s, err)
	}
	return out
}

// refKeys renders refs as sorted "type run dim=value..." strings.
func refKeys(refs []dataset.Ref) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Type.Name + " " + r.Run + " " + r.DataID.String()
	}
	sort.Strings(out)
	return out
}

func TestQuerySuite_BaseDatasets(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		loadExports(t, b, "base.yaml", "datasets.yaml")
		cases := []struct {
			name string
			s    butler.DatasetSearch
			want int
			keys []string // when set, the exact answer
		}{
			{name: "bias in g", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g"}}, want: 3},
			{name: "bias in both", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g", "imported_r"}}, want: 6},
			{name: "bias find-first g,r", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g", "imported_r"}, FindFirst: true}, want: 4,
				keys: []string{"bias imported_g {detector: 1, instrument: 'Cam1'}", "bias imported_g {detector: 2, instrument: 'Cam1'}", "bias imported_g {detector: 3, instrument: 'Cam1'}", "bias imported_r {detector: 4, instrument: 'Cam1'}"}},
			{name: "bias find-first r,g", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_r", "imported_g"}, FindFirst: true}, want: 4,
				keys: []string{"bias imported_g {detector: 1, instrument: 'Cam1'}", "bias imported_r {detector: 2, instrument: 'Cam1'}", "bias imported_r {detector: 3, instrument: 'Cam1'}", "bias imported_r {detector: 4, instrument: 'Cam1'}"}},
			{name: "flat find-first keeps distinct filters", s: butler.DatasetSearch{Types: []string{"flat"}, Collections: []string{"imported_r", "imported_g"}, FindFirst: true}, want: 7},
			{name: "glob collections", s: butler.DatasetSearch{Types: []string{"*"}, Collections: []string{"imported_*"}}, want: 13},
			{name: "detector metadata", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g", "imported_r"}, Where: "detector.purpose = 'WAVEFRONT'"}, want: 1},
			{name: "band via physical_filter", s: butler.DatasetSearch{Types: []string{"flat"}, Collections: []string{"imported_g", "imported_r"}, Where: "band = 'r'"}, want: 4},
			{name: "physical_filter IN", s: butler.DatasetSearch{Types: []string{"flat"}, Collections: []string{"imported_g", "imported_r"}, Where: "physical_filter IN ('Cam1-R2', 'Cam1-G')"}, want: 5},
			{name: "range literal", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_r"}, Where: "detector IN (1..3)"}, want: 2},
			{name: "range with stride", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g", "imported_r"}, Where: "detector IN (1..4:2)"}, want: 3},
			{name: "NOT IN and raft", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g", "imported_r"}, Where: "detector NOT IN (2) AND detector.raft = 'B'"}, want: 3},
			{name: "bind", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g", "imported_r"}, Where: "detector = :d", Bind: map[string]any{"d": 3}}, want: 2},
			{name: "arithmetic", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g"}, Where: "detector * 2 - 1 > 3"}, want: 1},
			{name: "data ID constraint", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g", "imported_r"}, DataID: dimensions.DataID{"detector": 2}}, want: 2},
			{name: "dataset_id", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g"}, Where: "dataset_id = UUID('e15ab039-bc8b-4135-87c5-90902a7c0b22')"}, want: 1},
			{name: "glob function", s: butler.DatasetSearch{Types: []string{"flat"}, Collections: []string{"imported_g", "imported_r"}, Where: "GLOB(physical_filter, 'Cam1-R*')"}, want: 4},
			{name: "limit", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g", "imported_r"}, Limit: 2}, want: 2},
			{name: "run field", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g", "imported_r"}, Where: "run = 'imported_r'"}, want: 3},
			{name: "qualified dataset fields", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g", "imported_r"}, Where: "bias.collection = 'imported_g' AND bias.dataset_id != UUID('e15ab039-bc8b-4135-87c5-90902a7c0b22')"}, want: 2},
			{name: "ingest_date", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g"}, Where: "ingest_date > T'2020-01-01'"}, want: 3},
			{name: "ingest_date before", s: butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g"}, Where: "bias.ingest_date < T'2020-01-01'"}, want: 0},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got := queryRefs(t, b, c.s)
				if len(got) != c.want {
					t.Fatalf("%d datasets, want %d: %v", len(got), c.want, refKeys(got))
				}
				if c.keys != nil {
					if g := refKeys(got); strings.Join(g, "\n") != strings.Join(c.keys, "\n") {
						t.Fatalf("got\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(c.keys, "\n"))
					}
				}
			})
		}

		// Empty data ID and record searches are explained too.
		for _, c := range []struct {
			why  []string
			want string
		}{
			{b.ExplainNoDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"detector"}, Where: "detector = 9"}), "no combination of them matches"},
			{b.ExplainNoDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"exposure"}}), "no exposure records"},
			{b.ExplainNoRecords(t.Context(), butler.RecordSearch{Element: "detector", Where: "raft = 'Z'"}), "none matches"},
			{b.ExplainNoRecords(t.Context(), butler.RecordSearch{Element: "visit"}), "no visit records"},
		} {
			if got := strings.Join(c.why, " "); !strings.Contains(got, c.want) {
				t.Errorf("explanation %q, want it to say %q", got, c.want)
			}
		}
		// Find-first (the window-function path) with an order.
		var order []string
		for ref, err := range b.Query().Collections("imported_g", "imported_r").FindFirst(true).OrderBy("-detector").Datasets(t.Context(), "bias") {
			if err != nil {
				t.Fatal(err)
			}
			order = append(order, fmt.Sprintf("%v/%s", ref.DataID["detector"], ref.Run))
		}
		if strings.Join(order, " ") != "4/imported_r 3/imported_g 2/imported_g 1/imported_g" {
			t.Fatalf("find-first ordered by -detector: %v", order)
		}
		// Data IDs and records.
		var ids []string
		if err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"detector"}, Where: "detector.raft = 'A'"}, func(d dimensions.DataID) error {
			ids = append(ids, d.String())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(ids) != 2 {
			t.Fatalf("detectors in raft A: %v", ids)
		}
		var recs []dimensions.Record
		if err := b.QueryRecords(t.Context(), butler.RecordSearch{Element: "detector", Where: "purpose = 'SCIENCE'"}, func(r dimensions.Record) error {
			recs = append(recs, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(recs) != 3 {
			t.Fatalf("science detectors: %d", len(recs))
		}
		var pf []string
		if err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"physical_filter"}, Where: "band = 'r'"}, func(d dimensions.DataID) error {
			pf = append(pf, fmt.Sprint(d["physical_filter"]))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sort.Strings(pf)
		if strings.Join(pf, ",") != "Cam1-R1,Cam1-R2" {
			t.Fatalf("r filters: %v", pf)
		}

		// Errors name what was wrong.
		for _, bad := range []struct{ where, want string }{
			{"detector.flavor = 'x'", "purpose"},
			{"detector = ", "expected"},
			{"nonesuch = 3", "nonesuch"},
		} {
			err := b.QueryDatasets(t.Context(), butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g"}, Where: bad.where}, func(dataset.Ref) error { return nil })
			if err == nil || !strings.Contains(err.Error(), bad.want) || !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("where %q: error %v, want an invalid-input error mentioning %q", bad.where, err, bad.want)
			}
		}
		// Empty results are explained, each cause in its own words.
		for _, c := range []struct {
			s    butler.DatasetSearch
			want string
		}{
			{butler.DatasetSearch{Types: []string{"flat"}, Collections: []string{"imported_g"}, Where: "physical_filter = 'Cam1-R1'"}, "no dataset has one of those data IDs"},
			{butler.DatasetSearch{Types: []string{"flat"}, Collections: []string{"imported_g"}, Where: "detector = 99"}, "matches no dimension records"},
			{butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g"}, Where: "instrument = 'HSC'"}, "summaries exclude it"},
			{butler.DatasetSearch{Types: []string{"flats"}, Collections: []string{"imported_g"}}, "registered: flat"},
			{butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_q"}}, "collections: imported_g, imported_r"},
			{butler.DatasetSearch{Types: []string{"bias"}}, "No collections were given"},
		} {
			n := 0
			_ = b.QueryDatasets(t.Context(), c.s, func(dataset.Ref) error { n++; return nil })
			if n != 0 {
				t.Fatalf("%+v found %d datasets", c.s, n)
			}
			why := strings.Join(b.ExplainNoDatasets(t.Context(), c.s), " ")
			if !strings.Contains(why, c.want) {
				t.Errorf("%+v: explanation %q, want it to say %q", c.s, why, c.want)
			}
		}
	})
}

func TestQuerySuite_CIHSC(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		loadExports(t, b, "ci_hsc-subset.yaml", "ci_hsc-subset-skymap.yaml")
		run := []string{"HSC/runs/ci_hsc/20240806T180642Z"}
		cases := []struct {
			name  string
			where string
			find  bool
			want  int
		}{
			{"all", "", false, 33},
			{"find-first", "", true, 33},
			{"one visit", "visit = 903334", false, 4},
			{"band r", "band = 'r'", false, 17},
			{"band i, find-first", "band = 'i'", true, 16},
			{"day_obs", "day_obs = 20131102", false, 16},
			{"visit.day_obs", "visit.day_obs = 20130617", false, 17},
			{"visit time before", "visit.timespan.begin < T'2013-06-17 13:33:00/tai'", false, 8},
			{"visit overlaps window", "visit.timespan OVERLAPS (T'2013-06-17T13:30:00/tai', T'2013-06-17T13:35:00/tai')", false, 7},
			{"visit overlaps mjd instant", "visit.timespan OVERLAPS T'mjd/56460.5622/tai'", false, 4},
			{"exposure_time", "visit.exposure_time > 29.5 AND visit.exposure_time < 30.5", false, 33},
			{"visit name glob", "GLOB(visit.name, 'HSCA9040*')", false, 6},
			{"detector and visit range", "visit IN (903334..903338) AND detector > 20", false, 5},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got := queryRefs(t, b, butler.DatasetSearch{Types: []string{"calexp"}, Collections: run, Where: c.where, FindFirst: c.find})
				if len(got) != c.want {
					t.Fatalf("%d calexps, want %d", len(got), c.want)
				}
			})
		}
		var visits []string
		if err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"visit"}, Where: "physical_filter = 'HSC-I'"}, func(d dimensions.DataID) error {
			visits = append(visits, fmt.Sprint(d["visit"]))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(visits) != 5 {
			t.Fatalf("HSC-I visits: %v", visits)
		}
		// Records that datasets refer to.
		for _, c := range []struct {
			where string
			want  int
		}{{"", 11}, {"physical_filter = 'HSC-I'", 5}} {
			n := 0
			if err := b.QueryRecords(t.Context(), butler.RecordSearch{Element: "visit", Where: c.where, Datasets: []string{"calexp"}, Collections: run}, func(dimensions.Record) error {
				n++
				return nil
			}); err != nil || n != c.want {
				t.Fatalf("visit records of calexps where %q: %d, %v; want %d", c.where, n, err, c.want)
			}
		}
		// Data IDs of datasets: visit+detector pairs of the calexps.
		n := 0
		if err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"visit", "detector"}, Datasets: []string{"calexp"}, Collections: run, Where: "band = 'r'"}, func(d dimensions.DataID) error {
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != 17 {
			t.Fatalf("visit+detector data IDs of r calexps: %d", n)
		}
	})
}

func TestQuerySuite_BuilderAndOrder(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		loadExports(t, b, "ci_hsc-subset.yaml", "ci_hsc-subset-skymap.yaml")
		ctx := t.Context()
		q := b.Query().Collections("HSC/runs/ci_hsc/20240806T180642Z")
		n, err := q.Where("band = :b", map[string]any{"b": "r"}).Count(ctx, "calexp")
		if err != nil || n != 17 {
			t.Fatalf("count r calexps: %d, %v", n, err)
		}
		// Where clauses accumulate (AND), and the base query is unchanged.
		n, err = q.Where("band = 'r'", nil).Where("visit = 903334", nil).Count(ctx, "calexp")
		if err != nil || n != 4 {
			t.Fatalf("count r calexps of one visit: %d, %v", n, err)
		}
		if n, _ := q.Count(ctx, "calexp"); n != 33 {
			t.Fatalf("base query changed: %d", n)
		}
		// Ordering by a time field, descending, with limit and offset.
		var visits []int64
		for ref, err := range q.OrderBy("-visit.timespan.begin", "detector").Limit(5, 2).Datasets(ctx, "calexp") {
			if err != nil {
				t.Fatal(err)
			}
			visits = append(visits, ref.DataID["visit"].(int64))
		}
		if fmt.Sprint(visits) != "[904014 904010 904010 904010 903990]" {
			t.Fatalf("ordered visits: %v", visits)
		}
		var ids []string
		for id, err := range q.OrderBy("-visit").Limit(3, 0).DataIDs(ctx, []string{"visit"}) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, fmt.Sprint(id["visit"]))
		}
		if strings.Join(ids, ",") != "904014,904010,903990" {
			t.Fatalf("data IDs ordered: %v", ids)
		}
		var names []string
		for rec, err := range q.Where("physical_filter = 'HSC-I'", nil).OrderBy("-name").DimensionRecords(ctx, "visit") {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, rec.Values["name"].(string))
		}
		if len(names) != 5 || names[0] != "HSCA90401400" {
			t.Fatalf("visit records ordered by name: %v", names)
		}
		// Any / Explain.
		if ok, err := q.Where("visit = 1", nil).Any(ctx, "calexp"); err != nil || ok {
			t.Fatalf("any of a missing visit: %v %v", ok, err)
		}
		why, err := q.Where("visit = 1", nil).Explain(ctx, "calexp")
		if err != nil || len(why) == 0 {
			t.Fatalf("explain: %v %v", why, err)
		}
		if _, err := q.OrderBy("visit.nonesuch").Count(ctx, "calexp"); err != nil {
			t.Fatalf("Count ignores order: %v", err)
		}
		for _, err := range q.OrderBy("visit.nam").Datasets(ctx, "calexp") {
			if err == nil || !strings.Contains(err.Error(), "did you mean name") {
				t.Fatalf("order by a misspelt field: %v", err)
			}
			break
		}
		// Several types cannot be ordered.
		for _, err := range q.Collections("*").OrderBy("visit").Datasets(ctx) {
			if err == nil {
				t.Fatal("ordering all types: no error")
			}
			break
		}
	})
}

// regionsOf reads the decoded regions of an element's records, keyed by data ID.
func regionsOf(t *testing.T, b *butler.Butler, element string) map[string]sphgeom.Region {
	t.Helper()
	recs, err := b.Records(t.Context(), element, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]sphgeom.Region{}
	for _, r := range recs {
		raw, _ := r.Values["region"].([]byte)
		reg, err := sphgeom.Decode(raw)
		if err != nil {
			t.Fatalf("%s %s region: %v", element, r.DataID(), err)
		}
		out[r.DataID().String()] = reg
	}
	return out
}

func dataIDSet(t *testing.T, b *butler.Butler, s butler.DataIDSearch, keys ...string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if err := b.QueryDataIDs(t.Context(), s, func(d dimensions.DataID) error {
		k := dimensions.DataID{}
		for _, n := range keys {
			k[n] = d[n]
		}
		out[k.String()] = true
		return nil
	}); err != nil {
		t.Fatalf("query %+v: %v", s, err)
	}
	return out
}

// Spatial queries on daf_butler's spatial.yaml (regions made to exercise every
// overlap case) agree with a brute-force test of every stored region: the
// skypix overlap rows never lose a match and the exact refinement drops the
// false ones.
func TestQuerySuite_Spatial(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		loadExports(t, b, "base.yaml", "spatial.yaml")
		visits := regionsOf(t, b, "visit")
		vdrs := regionsOf(t, b, "visit_detector_region")
		tracts := regionsOf(t, b, "tract")
		patches := regionsOf(t, b, "patch")
		if len(visits) == 0 || len(vdrs) == 0 || len(tracts) == 0 || len(patches) == 0 {
			t.Fatalf("regions: %d visits, %d visit_detector_regions, %d tracts, %d patches", len(visits), len(vdrs), len(tracts), len(patches))
		}
		// Probe points and circles around every visit's centre.
		var probes []sphgeom.Region
		var exprs []string
		for _, reg := range visits {
			c := sphgeom.LonLatOf(reg.BoundingCircle().Center())
			ra, dec := float64(c.Lon)*180/3.141592653589793, float64(c.Lat)*180/3.141592653589793
			for _, d := range []float64{-0.02, 0, 0.013} {
				p, _ := sphgeom.Point(ra+d, dec-d)
				probes = append(probes, p)
				exprs = append(exprs, fmt.Sprintf("POINT(%v, %v)", ra+d, dec-d))
			}
			cc, _ := sphgeom.NewCircleDeg(ra, dec, 2*0.01) // CIRCLE(ra, dec, r) has opening angle 2r upstream
			probes = append(probes, cc)
			exprs = append(exprs, fmt.Sprintf("CIRCLE(%v, %v, 0.01)", ra, dec))
		}
		matched := 0
		for i, probe := range probes {
			for _, c := range []struct {
				element string
				dims    []string
				regions map[string]sphgeom.Region
			}{
				{"visit", []string{"instrument", "visit"}, visits},
				{"visit_detector_region", []string{"instrument", "visit", "detector"}, vdrs},
				{"patch", []string{"skymap", "tract", "patch"}, patches},
			} {
				want := map[string]bool{}
				for k, reg := range c.regions {
					if reg.Overlaps(probe) {
						want[k] = true
					}
				}
				got := dataIDSet(t, b, butler.DataIDSearch{Dimensions: c.dims[1:], Where: c.element + ".region OVERLAPS " + exprs[i]}, c.dims...)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s.region OVERLAPS %s: got %v, want %v", c.element, exprs[i], got, want)
				}
				matched += len(want)
			}
		}
		if matched == 0 {
			t.Fatal("no probe matched any region: the test proves nothing")
		}
		// Binds: a region value and an IVOA POS string.
		got := dataIDSet(t, b, butler.DataIDSearch{Dimensions: []string{"visit"}, Where: "visit.region OVERLAPS :r", Bind: map[string]any{"r": probes[1]}}, "instrument", "visit")
		if len(got) == 0 {
			t.Fatal("bound region matched nothing")
		}
		// Spatial joins: visit × tract and visit_detector_region × patch.
		for _, c := range []struct {
			dims   []string
			keysA  []string
			keysB  []string
			ra, rb map[string]sphgeom.Region
		}{
			{[]string{"visit", "tract"}, []string{"instrument", "visit"}, []string{"skymap", "tract"}, visits, tracts},
			{[]string{"visit", "detector", "patch"}, []string{"instrument", "visit", "detector"}, []string{"skymap", "tract", "patch"}, vdrs, patches},
		} {
			want := map[string]bool{}
			for ka, a := range c.ra {
				for kb, bb := range c.rb {
					if a.Overlaps(bb) {
						want[ka+" "+kb] = true
					}
				}
			}
			got := map[string]bool{}
			if err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: c.dims}, func(d dimensions.DataID) error {
				ka, kb := dimensions.DataID{}, dimensions.DataID{}
				for _, n := range c.keysA {
					ka[n] = d[n]
				}
				for _, n := range c.keysB {
					kb[n] = d[n]
				}
				got[ka.String()+" "+kb.String()] = true
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("spatial join %v: got %d pairs %v, want %d %v", c.dims, len(got), got, len(want), want)
			}
		}
		// Datasets of visit_detector_region data IDs found by patch: the
		// skypix rows give candidates, the exact test decides (spatial.yaml
		// has pairs that share pixels without overlapping).
		calexp := dataset.Type{Name: "calexp", StorageClass: "ExposureF"}
		var err error
		if calexp.Dimensions, err = b.Universe.Group("instrument", "visit", "detector"); err != nil {
			t.Fatal(err)
		}
		bun := &butler.Bundle{DatasetTypes: []dataset.Type{calexp}, Collections: []butler.CollectionSpec{{Name: "run", Type: dataset.Run}}}
		recs, err := b.Records(t.Context(), "visit_detector_region", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			bun.Files = append(bun.Files, butler.BundleFile{Refs: []dataset.Ref{{Type: calexp, Run: "run", DataID: r.DataID()}}})
		}
		if _, err := b.Import(t.Context(), bun, butler.ImportOptions{RegistryOnly: true}); err != nil {
			t.Fatal(err)
		}
		patchRecs, err := b.Records(t.Context(), "patch", nil)
		if err != nil {
			t.Fatal(err)
		}
		coarseOnly := 0
		for _, p := range patchRecs {
			pid := p.DataID()
			want := map[string]bool{}
			for k, reg := range vdrs {
				if reg.Overlaps(patches[pid.String()]) {
					want[k] = true
				}
			}
			where := fmt.Sprintf("skymap = '%v' AND tract = %v AND patch = %v", pid["skymap"], pid["tract"], pid["patch"])
			got := map[string]bool{}
			for _, r := range queryRefs(t, b, butler.DatasetSearch{Types: []string{"calexp"}, Collections: []string{"run"}, Where: where}) {
				got[dimensions.DataID{"instrument": r.DataID["instrument"], "visit": r.DataID["visit"], "detector": r.DataID["detector"]}.String()] = true
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("calexps where %s: got %v, want %v", where, got, want)
			}
			coarseOnly += len(got)
		}
		if coarseOnly == 0 {
			t.Fatal("no calexp found by patch: the test proves nothing")
		}
		// Bad region literals are clear errors.
		for _, bad := range []string{"visit.region OVERLAPS POLYGON(0, 0, 0, 0, 1, 1)", "visit.timespan OVERLAPS POINT(1, 2)", "visit.region OVERLAPS REGION('TRIANGLE 1 2 3')", "visit.region OVERLAPS 3"} {
			err := b.QueryDataIDs(t.Context(), butler.DataIDSearch{Dimensions: []string{"visit"}, Where: bad}, func(dimensions.DataID) error { return nil })
			if err == nil || !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("%s: %v", bad, err)
			}
		}
	})
}

// The region queries of daf_butler's tests/butler_queries.py
// (test_region_queries) on ci_hsc-subset's calexps, through the query system.
func TestQuerySuite_CIHSCRegions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		loadExports(t, b, "ci_hsc-subset.yaml")
		run := []string{"HSC/runs/ci_hsc/20240806T180642Z"}
		cases := []struct {
			region string
			bind   any
			want   int
		}{
			{"CIRCLE(320., -0.25, 10.)", nil, 33},
			{"CIRCLE(321.0, -0.4, 0.01)", nil, 1},
			{"CIRCLE(321.0, -0.5, 0.01)", nil, 0},
			{"BOX(320, -0.25, 5, 5)", nil, 33},
			{"BOX(321.0, -0.4, 0.01, 0.01)", nil, 1},
			{"BOX(321.0, -0.5, 0.01, 0.01)", nil, 0},
			{"POLYGON(320, -10, 320, 10, 340, 10, 340, -10)", nil, 33},
			{"POLYGON(320.99, -0.401, 320.99, -0.399, 321.01, -0.399, 321.01, -0.401)", nil, 1},
			{"POLYGON(320.99, -0.501, 320.99, -0.499, 321.01, -0.499, 321.01, -0.501)", nil, 0},
			{"REGION('CIRCLE 320. -0.25 10.')", nil, 33},
			{"REGION('RANGE 310 330 -10 10')", nil, 33},
			{"REGION('RANGE 320.99 321.01 -0.401 -0.399')", nil, 1},
			{"REGION('POLYGON 320.99 -0.501 320.99 -0.499 321.01 -0.499 321.01 -0.501')", nil, 0},
			{":pos", "CIRCLE 321.1 -0.35 0.02", 2},
			{":pos", "CIRCLE 321.1 -0.48 0.05", 1},
		}
		for _, c := range cases {
			var bind map[string]any
			if c.bind != nil {
				bind = map[string]any{"pos": c.bind}
			}
			got := queryRefs(t, b, butler.DatasetSearch{Types: []string{"calexp"}, Collections: run, Where: "visit_detector_region.region OVERLAPS " + c.region, Bind: bind})
			if len(got) != c.want {
				t.Errorf("%s %v: %d calexps, want %d", c.region, c.bind, len(got), c.want)
			}
		}
		// With a limit, rows the exact test drops do not count.
		got := queryRefs(t, b, butler.DatasetSearch{Types: []string{"calexp"}, Collections: run, Where: "visit_detector_region.region OVERLAPS CIRCLE(321.1, -0.35, 0.02)", Limit: 5})
		if len(got) != 2 {
			t.Errorf("limited region query: %d", len(got))
		}
	})
}

// Calibration collections in dataset queries: listings include certified
// datasets, find-first picks by collection order and, for several validity
// ranges in one collection, needs a time (else CalibrationLookupError).
func TestQuerySuite_Calibrations(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		loadExports(t, b, "base.yaml", "datasets.yaml")
		biasG := queryRefs(t, b, butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g"}})
		biasR := queryRefs(t, b, butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_r"}})
		t1 := timespan.New(0, 1700000000e9)
		t2 := timespan.New(1700000000e9, timespan.Max)
		if err := b.Certify(ctx, "calib", biasG, t1); err != nil {
			t.Fatal(err)
		}
		if err := b.Certify(ctx, "calib", biasR, t2); err != nil {
			t.Fatal(err)
		}
		all := queryRefs(t, b, butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"calib"}})
		if len(all) != 6 {
			t.Fatalf("bias certified in calib: %d, want 6", len(all))
		}
		// Detector 1 is only in imported_g's range: found without a time.
		one := queryRefs(t, b, butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"calib", "imported_r"}, FindFirst: true, DataID: dimensions.DataID{"detector": 1}})
		if len(one) != 1 || one[0].Run != "imported_g" {
			t.Fatalf("detector 1: %v", refKeys(one))
		}
		// Detector 2 has two ranges in calib: ambiguous without a time.
		err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"calib", "imported_r"}, FindFirst: true}, func(dataset.Ref) error { return nil })
		var lookup *dataset.CalibrationLookupError
		if !errors.As(err, &lookup) {
			t.Fatalf("find-first over two validity ranges: %v, want a CalibrationLookupError", err)
		}
		at := timespan.Instant(1800000000e9)
		got := queryRefs(t, b, butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"calib", "imported_g"}, FindFirst: true, CalibTime: &at})
		if keys := refKeys(got); len(keys) != 4 || !strings.Contains(strings.Join(keys, "\n"), "bias imported_g {detector: 1,") {
			t.Fatalf("valid at a late time: %v", keys)
		}
		// The time can come from an exposure in the data ID (a temporal join).
		late := timespan.New(1800000000e9, 1800000030e9)
		if err := b.InsertRecords(ctx, "day_obs", []dimensions.Record{{Element: b.Universe.MustElement("day_obs"), Values: map[string]any{"instrument": "Cam1", "id": int64(20270115), "timespan": timespan.Timespan{}}}}, butler.InsertSkip); err != nil {
			t.Fatal(err)
		}
		exp := dimensions.Record{Element: b.Universe.MustElement("exposure"), Values: map[string]any{"instrument": "Cam1", "id": int64(7), "obs_id": "e7", "physical_filter": "Cam1-G", "day_obs": int64(20270115), "group": "g7", "timespan": late}}
		if err := b.InsertRecords(ctx, "group", []dimensions.Record{{Element: b.Universe.MustElement("group"), Values: map[string]any{"instrument": "Cam1", "name": "g7"}}}, butler.InsertSkip); err != nil {
			t.Fatal(err)
		}
		if err := b.InsertRecords(ctx, "exposure", []dimensions.Record{exp}, butler.InsertNew); err != nil {
			t.Fatal(err)
		}
		byExp := queryRefs(t, b, butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"calib"}, FindFirst: true, DataID: dimensions.DataID{"instrument": "Cam1", "exposure": 7, "detector": 2}})
		if len(byExp) != 1 || byExp[0].Run != "imported_r" {
			t.Fatalf("bias for exposure 7, detector 2: %v", refKeys(byExp))
		}
		for _, r := range got {
			if d := r.DataID["detector"].(int64); d >= 2 && r.Run != "imported_r" {
				t.Errorf("detector %d from %s, want imported_r's (valid then)", d, r.Run)
			}
		}
	})
}

// Dataset queries whose where names dimensions the dataset type lacks relate
// them through the dimension records: raws (exposure) by visit, through
// visit_definition; calexps (visit) by tract, through the skypix overlaps.
func TestQuerySuite_WiderDimensions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		loadExports(t, b, "lsstcam-subset.yaml")
		raw := dataset.Type{Name: "raw", StorageClass: "Exposure"}
		var err error
		if raw.Dimensions, err = b.Universe.Group("instrument", "detector", "exposure"); err != nil {
			t.Fatal(err)
		}
		bun := &butler.Bundle{DatasetTypes: []dataset.Type{raw}, Collections: []butler.CollectionSpec{{Name: "raws", Type: dataset.Run}}}
		for _, exp := range []int64{2025120200439, 2025120200440} {
			for _, det := range []int64{10, 11} {
				bun.Files = append(bun.Files, butler.BundleFile{Refs: []dataset.Ref{{Type: raw, Run: "raws", DataID: dimensions.DataID{"instrument": "LSSTCam", "exposure": exp, "detector": det}}}})
			}
		}
		if _, err := b.Import(ctx, bun, butler.ImportOptions{RegistryOnly: true}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			where string
			want  int
		}{
			{"visit = 2025120200440", 2},
			{"visit IN (2025120200439, 2025120200440) AND detector = 11", 2},
			{"visit = 1", 0},
			{"visit.name = 'MC_O_20251202_000439' AND detector = 10", 1},
		} {
			if got := queryRefs(t, b, butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"raws"}, Where: c.where}); len(got) != c.want {
				t.Errorf("raws where %s: %d, want %d", c.where, len(got), c.want)
			}
		}
	})
}

// Calexps by tract: related through the common skypix overlap rows of their
// visit_detector_region and the tract, then by an exact test of the regions:
// the answer is exactly the calexps whose regions overlap the tract's.
func TestQuerySuite_CalexpsByTract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		loadExports(t, b, "ci_hsc-subset.yaml", "ci_hsc-subset-skymap.yaml")
		tracts := regionsOf(t, b, "tract")
		vdrs := regionsOf(t, b, "visit_detector_region")
		var tract sphgeom.Region
		for _, r := range tracts {
			tract = r
		}
		exact := map[string]bool{}
		for k, r := range vdrs {
			if r.Overlaps(tract) {
				exact[k] = true
			}
		}
		got := queryRefs(t, b, butler.DatasetSearch{Types: []string{"calexp"}, Collections: []string{"HSC/runs/ci_hsc/20240806T180642Z"}, Where: "skymap = 'discrete/ci_hsc' AND tract = 0"})
		gotKeys := map[string]bool{}
		for _, r := range got {
			gotKeys[dimensions.DataID{"instrument": r.DataID["instrument"], "visit": r.DataID["visit"], "detector": r.DataID["detector"]}.String()] = true
		}
		for k := range exact {
			if !gotKeys[k] {
				t.Errorf("calexp %s overlaps tract 0 but was not found", k)
			}
		}
		if len(exact) == 0 || len(got) != len(exact) {
			t.Fatalf("%d calexps overlap tract 0 exactly; the query found %d", len(exact), len(got))
		}
		// A smaller region: patches of a tract made up here would do, but the
		// exact test is also visible with a where-clause region on the tract.
		small := queryRefs(t, b, butler.DatasetSearch{Types: []string{"calexp"}, Collections: []string{"HSC/runs/ci_hsc/20240806T180642Z"},
			Where: "skymap = 'discrete/ci_hsc' AND tract = 0 AND visit_detector_region.region OVERLAPS CIRCLE(321.1, -0.35, 0.02)"})
		if len(small) != 2 {
			t.Fatalf("calexps in tract 0 overlapping a small circle: %d, want 2", len(small))
		}
		none := queryRefs(t, b, butler.DatasetSearch{Types: []string{"calexp"}, Collections: []string{"HSC/runs/ci_hsc/20240806T180642Z"}, Where: "skymap = 'discrete/ci_hsc' AND tract = 7"})
		if len(none) != 0 {
			t.Fatalf("tract 7 (no record): %d calexps", len(none))
		}
	})
}
