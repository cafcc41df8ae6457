package registry

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/timespan"
	"github.com/google/go-cmp/cmp"
)

// TestDatasets_ListingImpliedFromRecords: an unbounded listing fills implied
// dimensions from the element tables read up front rather than by joins; its
// data IDs must be those of the joined query (a limit keeps the joins), for
// a dataset type reaching exposure → physical_filter → band and one with no
// implied dimensions, in one collection and find-first over two.
func TestDatasets_ListingImpliedFromRecords(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		fillRaws(t, r)
		st, err := r.storedType(ctx, r.db.Conn(), "raw")
		if err != nil {
			t.Fatal(err)
		}
		if fill, err := r.loadImplied(ctx, st, dimensions.DataID{"instrument": "Cam"}, impliedRowsMax); err != nil || fill == nil || len(fill.steps) != 2 {
			t.Fatalf("loadImplied(raw) = %+v, %v; want the exposure and physical_filter steps", fill, err)
		}
		list := func(q DatasetQuery) []string {
			t.Helper()
			var out []string
			err := r.Datasets(ctx, q, func(ref dataset.Ref) error {
				out = append(out, fmt.Sprintf("%s %s %v", ref.Run, ref.ID, ref.DataID))
				return nil
			})
			if err != nil {
				t.Fatalf("Datasets(%+v): %v", q, err)
			}
			return out
		}
		for _, typ := range []string{"raw", "flat"} {
			for _, colls := range [][]string{{"r1"}, {"r2", "r1"}} {
				t.Run(typ+"/"+strings.Join(colls, ","), func(t *testing.T) {
					q := DatasetQuery{Type: typ, Collections: colls, FindFirst: true, WithImplied: true}
					got := list(q)
					q.Limit = 1000
					want := list(q)
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("listing differs from the joined query (-joined +listing):\n%s", d)
					}
					if typ == "raw" && !strings.Contains(got[0], "band: 'r'") {
						t.Errorf("first raw %s has no band", got[0])
					}
				})
			}
		}
	})
}

// fillRaws registers the Cam records, a raw type (exposure → physical_filter
// → band) and a flat type (no implied dimensions), with a raw per exposure
// (1-3) and detector (0-2) and a flat per detector in runs r1 and r2.
func fillRaws(t *testing.T, r *Registry) {
	t.Helper()
	ctx := context.Background()
	fillCam(t, r)
	raw, _ := r.Universe.Group("instrument", "exposure", "detector")
	flat, _ := r.Universe.Group("instrument", "detector")
	mustTx(t, r, func(c sqldb.Conn) error {
		for _, tt := range []dataset.Type{{Name: "raw", Dimensions: raw, StorageClass: "Exposure"}, {Name: "flat", Dimensions: flat, StorageClass: "Exposure"}} {
			if _, err := r.registerDatasetType(ctx, c, tt); err != nil {
				return err
			}
		}
		for _, run := range []string{"r1", "r2"} {
			if _, err := r.registerRun(ctx, c, run, ""); err != nil {
				return err
			}
			var raws, flats []NewDataset
			for d := int64(0); d < 3; d++ {
				for e := int64(1); e <= 3; e++ {
					id, _ := dataset.NewID(dataset.Unique, "raw", run, nil)
					raws = append(raws, NewDataset{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "exposure": e, "detector": d}})
				}
				id, _ := dataset.NewID(dataset.Unique, "flat", run, nil)
				flats = append(flats, NewDataset{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "detector": d}})
			}
			if err := r.insertDatasets(ctx, c, "raw", run, raws, false); err != nil {
				return err
			}
			if err := r.insertDatasets(ctx, c, "flat", run, flats, false); err != nil {
				return err
			}
		}
		return nil
	})
}

// TestFindDataset_ImpliedFromSearchCache: with the search cache on (a
// server), a find and a one-exposure search read the tags table alone and
// fill the implied dimensions from the element rows kept for the TTL; their
// refs must be those of the joined query (cache off), a record added after
// the rows were read is read when needed, and a data ID naming an implied
// dimension still joins.
func TestFindDataset_ImpliedFromSearchCache(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		fillRaws(t, r)
		colls := []string{"r2", "r1"}
		searches := func() []string {
			t.Helper()
			var out []string
			for e := int64(1); e <= 4; e++ {
				for d := int64(0); d < 3; d++ {
					ref, err := r.FindDataset(ctx, "raw", dimensions.DataID{"instrument": "Cam", "exposure": e, "detector": d}, colls)
					if err != nil {
						t.Fatal(err)
					}
					if ref != nil {
						out = append(out, fmt.Sprintf("%s %s %v", ref.Run, ref.ID, ref.DataID))
					}
				}
				err := r.Datasets(ctx, DatasetQuery{Type: "raw", Collections: colls, FindFirst: true, DataID: dimensions.DataID{"instrument": "Cam", "exposure": e}}, func(ref dataset.Ref) error {
					out = append(out, fmt.Sprintf("exposure %d: %s %s %v", e, ref.Run, ref.ID, ref.DataID))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			return out
		}
		joined := searches()
		if len(joined) != 18 || !strings.Contains(joined[0], "band: 'r'") {
			t.Fatalf("joined searches: %d refs (want 18), first %q (want a band)", len(joined), joined[0])
		}
		r.SetSearchCache(time.Hour)
		if d := cmp.Diff(joined, searches()); d != "" {
			t.Errorf("searches filled from the search cache differ from the joined ones (-joined +cached):\n%s", d)
		}
		st, err := r.storedType(ctx, r.db.Conn(), "raw")
		if err != nil {
			t.Fatal(err)
		}
		q := DatasetQuery{Type: "raw", Collections: colls, FindFirst: true, Limit: 1, DataID: dimensions.DataID{"instrument": "Cam", "exposure": int64(1), "detector": int64(0)}}
		if fill, err := r.searchFill(ctx, st, nil, q); err != nil || fill == nil {
			t.Fatalf("searchFill(find) = %v, %v; want the kept rows", fill, err)
		}
		q.noJoins = true
		if text, _, _ := r.datasetSQL(st, nil, q); strings.Contains(text, "JOIN") {
			t.Errorf("the find's SQL joins: %s", text)
		}
		// A data ID naming an implied dimension restricts by it: joined.
		q.DataID["physical_filter"] = "g_01"
		if fill, err := r.searchFill(ctx, st, nil, q); err != nil || fill != nil {
			t.Errorf("searchFill(find with physical_filter) = %v, %v; want none (join)", fill, err)
		}
		// An exposure added after the rows were read, with its raws: read
		// when a search needs it.
		mustTx(t, r, func(c sqldb.Conn) error {
			exp := dimensions.Record{Element: r.Universe.MustElement("exposure"), Values: map[string]any{"instrument": "Cam", "id": int64(4),
				"obs_id": "CC_O_20240101_000004", "physical_filter": "g_01", "group": "grp1", "day_obs": int64(20240101), "exposure_time": 1.0,
				"timespan": timespan.Timespan{Begin: 600, End: 700}}}
			if err := r.insertRecords(ctx, c, "exposure", []dimensions.Record{exp}, InsertNew); err != nil {
				return err
			}
			var raws []NewDataset
			for d := int64(0); d < 3; d++ {
				id, _ := dataset.NewID(dataset.Unique, "raw", "r1", nil)
				raws = append(raws, NewDataset{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "exposure": int64(4), "detector": d}})
			}
			return r.insertDatasets(ctx, c, "raw", "r1", raws, false)
		})
		cachedRefs := searches()
		r.SetSearchCache(0)
		if d := cmp.Diff(searches(), cachedRefs); d != "" {
			t.Errorf("after a new exposure, cached searches differ from the joined ones (-joined +cached):\n%s", d)
		}
		if len(cachedRefs) != 24 || !strings.Contains(cachedRefs[len(cachedRefs)-1], "band: 'g'") {
			t.Errorf("after a new exposure: %d refs (want 24), last %q (want band g)", len(cachedRefs), cachedRefs[len(cachedRefs)-1])
		}
	})
}
