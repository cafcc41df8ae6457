package registry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// TestFindDatasets: the finds of many data IDs in one query answer as
// FindDataset does for each, on both dialects, with and without the
// server's search cache: through a chain and an ordered list of runs, with
// data IDs missing, asked twice, in batches of every size up to 9 (padded
// statements), with one or two varying keys, and with data IDs that do not
// share their keys (looked up one by one).
func TestFindDatasets(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		u := r.Universe
		g, _ := u.Group("instrument", "detector", "physical_filter")
		typ := dataset.Type{Name: "flatish", Dimensions: g, StorageClass: "StructuredDataDict"}
		rec := func(e string, v map[string]any) dimensions.Record {
			return dimensions.Record{Element: u.MustElement(e), Values: v}
		}
		err := r.inTx(ctx, func(c sqldb.Conn) error {
			if err := r.insertRecords(ctx, c, "instrument", []dimensions.Record{rec("instrument", map[string]any{"name": "Cam"})}, InsertNew); err != nil {
				return err
			}
			if err := r.insertRecords(ctx, c, "physical_filter", []dimensions.Record{
				rec("physical_filter", map[string]any{"instrument": "Cam", "name": "r_01", "band": "r"}),
				rec("physical_filter", map[string]any{"instrument": "Cam", "name": "g_01", "band": "g"})}, InsertNew); err != nil {
				return err
			}
			var dets []dimensions.Record
			for i := int64(0); i < 5; i++ {
				dets = append(dets, rec("detector", map[string]any{"instrument": "Cam", "id": i, "full_name": fmt.Sprint("D", i)}))
			}
			if err := r.insertRecords(ctx, c, "detector", dets, InsertNew); err != nil {
				return err
			}
			if _, err := r.registerDatasetType(ctx, c, typ); err != nil {
				return err
			}
			for _, run := range []string{"r1", "r2"} {
				if _, err := r.registerRun(ctx, c, run, ""); err != nil {
					return err
				}
			}
			var ds1 []NewDataset
			for i := int64(0); i < 4; i++ { // detector 4 has nothing
				for _, f := range []string{"r_01", "g_01"} {
					id, _ := dataset.NewID(dataset.Unique, typ.Name, "r1", nil)
					ds1 = append(ds1, NewDataset{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "detector": i, "physical_filter": f}})
				}
			}
			id, _ := dataset.NewID(dataset.Unique, typ.Name, "r2", nil)
			ds2 := []NewDataset{{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "detector": int64(1), "physical_filter": "r_01"}}}
			if err := r.insertDatasets(ctx, c, typ.Name, "r1", ds1, false); err != nil {
				return err
			}
			return r.insertDatasets(ctx, c, typ.Name, "r2", ds2, false)
		})
		if err != nil {
			t.Fatal(err)
		}
		err = r.inTx(ctx, func(c sqldb.Conn) error {
			if _, err := r.registerCollection(ctx, c, "chain", dataset.Chained, ""); err != nil {
				return err
			}
			return r.setChain(ctx, c, "chain", []string{"r2", "r1"}, false)
		})
		if err != nil {
			t.Fatal(err)
		}
		id := func(det int64, f string) dimensions.DataID {
			return dimensions.DataID{"instrument": "Cam", "detector": det, "physical_filter": f}
		}
		all := []dimensions.DataID{id(1, "r_01"), id(0, "g_01"), id(4, "r_01"), id(1, "r_01"), id(2, "g_01"), id(3, "r_01"), id(1, "g_01"), id(0, "r_01"), id(9, "r_01")}
		sameFilter := []dimensions.DataID{id(0, "r_01"), id(1, "r_01"), id(4, "r_01"), id(3, "r_01")}
		mixed := []dimensions.DataID{id(1, "r_01"), {"instrument": "Cam", "detector": int64(2)}}
		check := func(t *testing.T, ids []dimensions.DataID, colls []string) {
			t.Helper()
			got, err := r.FindDatasets(ctx, typ.Name, ids, colls)
			if err != nil {
				t.Fatalf("FindDatasets(%v, %v): %v", ids, colls, err)
			}
			for i, dataID := range ids {
				want, err := r.FindDataset(ctx, typ.Name, dataID, colls)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case (want == nil) != (got[i] == nil):
					t.Errorf("%v in %v: got %v, want %v", dataID, colls, got[i], want)
				case want != nil && (got[i].ID != want.ID || got[i].Run != want.Run || got[i].DataID["band"] != want.DataID["band"]):
					t.Errorf("%v in %v: got %s in %s (band %v), want %s in %s (band %v)", dataID, colls, got[i].ID, got[i].Run, got[i].DataID["band"], want.ID, want.Run, want.DataID["band"])
				}
			}
		}
		for _, cache := range []time.Duration{0, time.Minute} {
			r.SetSearchCache(cache)
			t.Run(fmt.Sprint("cache=", cache), func(t *testing.T) {
				for _, colls := range [][]string{{"chain"}, {"r1", "r2"}, {"r2"}} {
					for n := 1; n <= len(all); n++ {
						check(t, all[:n], colls)
					}
					check(t, sameFilter, colls)
					check(t, mixed, colls)
				}
			})
		}
		// One found in r2 by the chain, the rest in r1.
		got, err := r.FindDatasets(ctx, typ.Name, all[:2], []string{"chain"})
		if err != nil || got[0] == nil || got[0].Run != "r2" || got[1] == nil || got[1].Run != "r1" {
			t.Errorf("chain: %v, %v", got, err)
		}
	})
}
