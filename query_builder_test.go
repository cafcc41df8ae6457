package butler_test

import (
	"slices"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/timespan"
)

// The Query builder runs the same search as the deprecated QueryDatasets for
// every field of a DatasetSearch, including the two the CLI and calibration
// lookups need: Implied(false) (data IDs of required dimensions only) and
// CalibTime.
func TestQueryBuilder_MatchesSearch(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		loadExports(t, b, "base.yaml", "datasets.yaml")
		builderRefs := func(q butler.Query, types ...string) []dataset.Ref {
			t.Helper()
			var out []dataset.Ref
			for r, err := range q.Datasets(ctx, types...) {
				if err != nil {
					t.Fatalf("Query.Datasets(%v): %v", types, err)
				}
				out = append(out, r)
			}
			return out
		}
		if err := b.Certify(ctx, "calib", queryRefs(t, b, butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_g"}}), timespan.New(0, 1700000000e9)); err != nil {
			t.Fatal(err)
		}
		if err := b.Certify(ctx, "calib", queryRefs(t, b, butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"imported_r"}}), timespan.New(1700000000e9, timespan.Max)); err != nil {
			t.Fatal(err)
		}
		at := timespan.Instant(1800000000e9)
		cases := []struct {
			name string
			q    butler.Query
			s    butler.DatasetSearch
		}{
			{"implied", b.Query().Collections("imported_g", "imported_r"), butler.DatasetSearch{Collections: []string{"imported_g", "imported_r"}, WithImplied: true}},
			{"required only", b.Query().Implied(false).Collections("imported_g", "imported_r"), butler.DatasetSearch{Collections: []string{"imported_g", "imported_r"}}},
			{"where, bind, find-first, order, limit", b.Query().Implied(false).Collections("imported_r", "imported_g").Where("detector > :d", map[string]any{"d": 1}).FindFirst(true).OrderBy("-detector").Limit(3, 0),
				butler.DatasetSearch{Types: []string{"flat"}, Collections: []string{"imported_r", "imported_g"}, Where: "detector > :d", Bind: map[string]any{"d": 1}, FindFirst: true, OrderBy: []string{"-detector"}, Limit: 3}},
			{"calibration time", b.Query().Implied(false).Collections("calib", "imported_g").FindFirst(true).CalibTime(at),
				butler.DatasetSearch{Types: []string{"bias"}, Collections: []string{"calib", "imported_g"}, FindFirst: true, CalibTime: &at}},
		}
		for _, c := range cases {
			got := builderRefs(c.q, c.s.Types...)
			want := queryRefs(t, b, c.s)
			if len(want) == 0 {
				t.Fatalf("%s: the search finds nothing: a vacuous case", c.name)
			}
			gk, wk := refKeys(got), refKeys(want)
			if c.s.OrderBy != nil {
				gk, wk = nil, nil
				for _, r := range got {
					gk = append(gk, r.Run+" "+r.DataID.String())
				}
				for _, r := range want {
					wk = append(wk, r.Run+" "+r.DataID.String())
				}
			}
			if !slices.Equal(gk, wk) {
				t.Errorf("%s: builder %v, search %v", c.name, gk, wk)
			}
		}
		// Implied(false) leaves out what the required dimensions imply.
		for _, r := range builderRefs(b.Query().Implied(false).Collections("imported_g"), "flat") {
			if _, ok := r.DataID["band"]; ok {
				t.Errorf("Implied(false): %s has band", r.DataID)
			}
		}
		if refs := builderRefs(b.Query().Collections("imported_g"), "flat"); len(refs) == 0 || refs[0].DataID["band"] == nil {
			t.Errorf("implied by default: %v", refKeys(refs))
		}
	})
}
