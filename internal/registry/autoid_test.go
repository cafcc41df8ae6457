package registry

import (
	"context"
	"fmt"
	"testing"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/timespan"
)

// TestPostgres_GeneratedIDs: rows that need a generated ID (a collection, a
// dataset type, a dimension group, a certification) go into a PostgreSQL
// schema laid out as daf_butler lays it out, with a <table>_seq_<column>
// sequence and no column default (INSERTs call nextval), and into one made by
// earlier versions of this butler, whose columns default to the sequence.
// New schemas have no such defaults, as Python's.
func TestPostgres_GeneratedIDs(t *testing.T) {
	autoCols := [][2]string{{"collection", "collection_id"}, {"dataset_type", "id"}, {"dimension_graph_key", "id"}}
	for _, withDefaults := range []bool{false, true} {
		t.Run(fmt.Sprintf("column defaults=%v", withDefaults), func(t *testing.T) {
			ctx := context.Background()
			schema := pgtest.Schema(t)
			r := openPGRegistry(t, schema)
			c := r.db.Conn()
			var n int
			if err := c.QueryRow(ctx, "SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND column_default IS NOT NULL AND column_default LIKE 'nextval%'", schema).Scan(&n); err != nil || n != 0 {
				t.Errorf("new schema: %d columns default to a sequence (%v), want 0 as in daf_butler's DDL", n, err)
			}
			if withDefaults {
				for _, tc := range autoCols {
					seq := r.db.T(tc[0] + "_seq_" + tc[1])
					if _, err := c.Exec(ctx, "ALTER TABLE "+r.db.T(tc[0])+" ALTER COLUMN "+r.db.Q(tc[1])+" SET DEFAULT nextval('"+seq+"'::regclass)"); err != nil {
						t.Fatal(err)
					}
				}
			}
			u := r.Universe
			g, _ := u.Group("instrument", "detector")
			bias := dataset.Type{Name: "bias", Dimensions: g, StorageClass: "ExposureF", IsCalibration: true}
			flat := dataset.Type{Name: "flat", Dimensions: g, StorageClass: "ExposureF", IsCalibration: true}
			id0 := dimensions.DataID{"instrument": "Cam", "detector": int64(0)}
			var refs []dataset.Ref
			mustTx(t, r, func(c sqldb.Conn) error {
				if err := r.insertRecords(ctx, c, "instrument", []dimensions.Record{{Element: u.MustElement("instrument"), Values: map[string]any{"name": "Cam"}}}, InsertNew); err != nil {
					return err
				}
				if err := r.insertRecords(ctx, c, "detector", []dimensions.Record{{Element: u.MustElement("detector"), Values: map[string]any{"instrument": "Cam", "id": int64(0), "full_name": "D0"}}}, InsertNew); err != nil {
					return err
				}
				for _, typ := range []dataset.Type{bias, flat} {
					if _, err := r.registerDatasetType(ctx, c, typ); err != nil {
						return err
					}
				}
				for _, run := range []string{"b1", "b2"} {
					if _, err := r.registerRun(ctx, c, run, ""); err != nil {
						return err
					}
					id, _ := dataset.NewID(dataset.DataIDTypeRun, "bias", run, id0)
					if err := r.insertDatasets(ctx, c, "bias", run, []NewDataset{{ID: id, DataID: id0}}, false); err != nil {
						return err
					}
					refs = append(refs, dataset.Ref{ID: id, Type: bias, DataID: id0, Run: run})
				}
				if _, err := r.registerCollection(ctx, c, "calib", dataset.Calibration, ""); err != nil {
					return err
				}
				if err := r.certify(ctx, c, "calib", refs[:1], timespan.New(1e18, 2e18)); err != nil {
					return err
				}
				return r.certify(ctx, c, "calib", refs[1:], timespan.New(2e18, 3e18))
			})
			for _, at := range []int64{15e17, 25e17} {
				if ref, err := r.FindCalibration(ctx, "calib", "bias", id0, timespan.Instant(at)); err != nil || ref == nil {
					t.Errorf("FindCalibration at %d = %v, %v", at, ref, err)
				}
			}
			for _, tc := range append(autoCols, [2]string{"dataset_calibs_00000001", "id"}) {
				var rows, distinct int
				if err := c.QueryRow(ctx, "SELECT count(*), count(DISTINCT "+r.db.Q(tc[1])+") FROM "+r.db.T(tc[0])).Scan(&rows, &distinct); err != nil || rows == 0 || rows != distinct {
					t.Errorf("%s.%s: %d rows, %d distinct IDs (%v)", tc[0], tc[1], rows, distinct, err)
				}
			}
		})
	}
}
