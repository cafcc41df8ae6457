package registry

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/registry/sqldb"
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
		st, err := r.storedType(ctx, r.db.Conn(), "raw")
		if err != nil {
			t.Fatal(err)
		}
		if fill, err := r.loadImplied(ctx, st, dimensions.DataID{"instrument": "Cam"}); err != nil || fill == nil || len(fill.steps) != 2 {
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
