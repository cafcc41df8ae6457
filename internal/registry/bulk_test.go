package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/timespan"
)

// bulkExposures are exposure records 100..100+n of fillCam's instrument.
func bulkExposures(r *Registry, n int) []dimensions.Record {
	recs := make([]dimensions.Record, n)
	for i := range recs {
		id := int64(100 + i)
		recs[i] = dimensions.Record{Element: r.Universe.MustElement("exposure"), Values: map[string]any{
			"instrument": "Cam", "id": id, "obs_id": fmt.Sprintf("CC_O_20240101_%06d", id), "physical_filter": "r_01",
			"group": "grp1", "day_obs": int64(20240101), "exposure_time": 30.0, "timespan": timespan.Timespan{Begin: id * 1000, End: id*1000 + 30}}}
	}
	return recs
}

// bulkDatasets are raws of exposures 100..100+n × detectors 0..2 in run,
// with IDs made from their data IDs (so the same raw has the same ID).
func bulkDatasets(t *testing.T, run string, from, to int) []NewDataset {
	t.Helper()
	var ds []NewDataset
	for e := from; e < to; e++ {
		for d := int64(0); d < 3; d++ {
			did := dimensions.DataID{"instrument": "Cam", "exposure": int64(100 + e), "detector": d}
			id, err := dataset.NewID(dataset.DataIDTypeRun, "raw", run, did)
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, NewDataset{ID: id, DataID: did})
		}
	}
	return ds
}

func countTag(t *testing.T, r *Registry, tag string) int {
	t.Helper()
	return countRun(t, r, tag)
}

func countRun(t *testing.T, r *Registry, run string) int {
	t.Helper()
	n := 0
	err := r.Datasets(context.Background(), DatasetQuery{Type: "raw", Collections: []string{run}}, func(dataset.Ref) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBulkWrites writes datasets, their tags rows, file records and
// dimension records in batches larger than one statement's bind-variable
// limit (SQLite: 32766; PostgreSQL: COPY), and checks that a conflict in the
// middle of a large batch names the conflicting dataset or record and leaves
// nothing written, and that skip-existing inside a COPY batch writes only the
// new rows.
func TestBulkWrites(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		fillCam(t, r)
		g, _ := r.Universe.Group("instrument", "exposure", "detector")
		exps := bulkExposures(r, 3000) // 3000 records × 11+ columns
		first := bulkDatasets(t, "r1", 0, 2000)
		mustTx(t, r, func(c sqldb.Conn) error {
			if err := r.insertRecords(ctx, c, "exposure", exps, InsertNew); err != nil {
				return err
			}
			if _, err := r.registerDatasetType(ctx, c, dataset.Type{Name: "raw", Dimensions: g, StorageClass: "Exposure"}); err != nil {
				return err
			}
			for _, run := range []string{"r1", "r2"} {
				if _, err := r.registerRun(ctx, c, run, ""); err != nil {
					return err
				}
			}
			return r.insertDatasets(ctx, c, "raw", "r1", first, false) // 6000 × 6 tags values
		})
		if n := countRun(t, r, "r1"); n != 6000 {
			t.Fatalf("r1 holds %d raws, want 6000", n)
		}
		for _, i := range []int{0, 2999, 5999} {
			ref, err := r.FindDataset(ctx, "raw", first[i].DataID, []string{"r1"})
			if err != nil || ref == nil || ref.ID != first[i].ID {
				t.Errorf("FindDataset(%s) = %v, %v; want ID %s", first[i].DataID, ref, err, first[i].ID)
			}
		}

		// A data ID already in r1, in the middle of 6000 new raws for r1.
		clash := bulkDatasets(t, "r1", 2000, 3000)
		old := first[4321]
		clashID, _ := dataset.NewID(dataset.Unique, "raw", "r1", nil)
		clash = append(append(clash[:1500:1500], NewDataset{ID: clashID, DataID: old.DataID}), clash[1500:]...)
		// A dataset ID already used (in r1), in the middle of raws for r2.
		reused := bulkDatasets(t, "r2", 0, 2000)
		reused[3210].ID = first[1234].ID
		for _, tt := range []struct {
			name, run string
			ds        []NewDataset
			want      dimensions.DataID
		}{
			{"same data ID", "r1", clash, old.DataID},
			{"same dataset ID", "r2", reused, reused[3210].DataID},
		} {
			err := r.inTx(ctx, func(c sqldb.Conn) error {
				if err := r.insertRecords(ctx, c, "day_obs", []dimensions.Record{{Element: r.Universe.MustElement("day_obs"),
					Values: map[string]any{"instrument": "Cam", "id": int64(20240102)}}}, InsertNew); err != nil {
					return err
				}
				return r.insertDatasets(ctx, c, "raw", tt.run, tt.ds, false)
			})
			var ce *dataset.ConflictError
			if !errors.As(err, &ce) || !errors.Is(err, errs.ErrConflict) {
				t.Fatalf("%s: %v, want a ConflictError", tt.name, err)
			}
			if ce.DataID.String() != tt.want.String() || !strings.Contains(err.Error(), tt.want.String()) {
				t.Errorf("%s: the error names %v (%q), want %s", tt.name, ce.DataID, err, tt.want)
			}
		}
		if n1, n2 := countRun(t, r, "r1"), countRun(t, r, "r2"); n1 != 6000 || n2 != 0 {
			t.Errorf("after the failed inserts r1 holds %d raws and r2 %d, want 6000 and 0", n1, n2)
		}
		if recs, err := r.records(ctx, r.db.Conn(), "day_obs", ""); err != nil || len(recs) != 1 {
			t.Errorf("day_obs records after the failed transactions: %d, %v; want only fillCam's", len(recs), err)
		}

		// Skip-existing: the 6000 raws again and 3000 new ones, in one batch.
		again := bulkDatasets(t, "r1", 0, 3000)
		mustTx(t, r, func(c sqldb.Conn) error { return r.insertDatasets(ctx, c, "raw", "r1", again, true) })
		if n := countRun(t, r, "r1"); n != 9000 {
			t.Errorf("r1 holds %d raws after the skipping insert, want 9000", n)
		}
		for _, i := range []int{0, 6000, 8999} {
			ref, err := r.FindDataset(ctx, "raw", again[i].DataID, []string{"r1"})
			if err != nil || ref == nil || ref.ID != again[i].ID {
				t.Errorf("FindDataset(%s) = %v, %v; want ID %s", again[i].DataID, ref, err, again[i].ID)
			}
		}

		// TAGGED: 9000 at once, again as a no-op with 10 more, and a
		// different raw with a tagged data ID among them is named.
		refsOf := func(ds []NewDataset, run string) []dataset.Ref {
			out := make([]dataset.Ref, len(ds))
			for i, d := range ds {
				out[i] = dataset.Ref{ID: d.ID, Type: dataset.Type{Name: "raw", Dimensions: g}, Run: run, DataID: d.DataID}
			}
			return out
		}
		other := bulkDatasets(t, "r2", 2999, 3000)
		mustTx(t, r, func(c sqldb.Conn) error {
			if _, err := r.registerCollection(ctx, c, "tag", dataset.Tagged, ""); err != nil {
				return err
			}
			if err := r.insertDatasets(ctx, c, "raw", "r2", other, false); err != nil {
				return err
			}
			return r.associate(ctx, c, "tag", refsOf(again[:8990], "r1"))
		})
		mustTx(t, r, func(c sqldb.Conn) error { return r.associate(ctx, c, "tag", refsOf(again, "r1")) })
		if n := countTag(t, r, "tag"); n != 9000 {
			t.Errorf("tag holds %d raws, want 9000", n)
		}
		err := r.inTx(ctx, func(c sqldb.Conn) error {
			return r.associate(ctx, c, "tag", append(refsOf(again[:5000], "r1"), refsOf(other[:1], "r2")...))
		})
		var ce *dataset.ConflictError
		if !errors.As(err, &ce) || ce.DataID.String() != other[0].DataID.String() {
			t.Errorf("tagging a second raw of a data ID: %v, want a conflict naming %s", err, other[0].DataID)
		}

		// File records: 9000 at once, then a duplicate among new ones is named.
		var recs []FileRecord
		for i, d := range again {
			recs = append(recs, FileRecord{DatasetID: d.ID, Path: fmt.Sprintf("r1/raw/%d\tx.fits", i), Formatter: "f.Fits", StorageClass: "Exposure", FileSize: int64(i)})
		}
		mustTx(t, r, func(c sqldb.Conn) error {
			return r.insertFileRecords(ctx, c, "file_datastore_records", "FileDatastore@<butlerRoot>", recs[:8000], false)
		})
		err = r.inTx(ctx, func(c sqldb.Conn) error {
			return r.insertFileRecords(ctx, c, "file_datastore_records", "FileDatastore@<butlerRoot>", append(recs[8000:], recs[77]), false)
		})
		if !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), recs[77].DatasetID.String()) {
			t.Errorf("duplicate file record among 1001: %v, want a conflict naming %s", err, recs[77].DatasetID)
		}
		got, err := r.FileRecords(ctx, "file_datastore_records", []dataset.ID{again[5].ID, again[8500].ID})
		if err != nil || len(got) != 1 || got[again[5].ID][0] != recs[5] {
			t.Errorf("file records = %v, %v; want only dataset 5's, unchanged", got, err)
		}

		// Dimension records: an existing exposure in the middle of 2000 new ones.
		more := bulkExposures(r, 5000)[3000:]
		more = append(more[:700:700], append([]dimensions.Record{exps[42]}, more[700:]...)...)
		err = r.inTx(ctx, func(c sqldb.Conn) error { return r.insertRecords(ctx, c, "exposure", more, InsertNew) })
		if want := "exposure record " + exps[42].DataID().String(); !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), want) {
			t.Errorf("existing record among 2001: %v, want a conflict naming %q", err, want)
		}
		mustTx(t, r, func(c sqldb.Conn) error { return r.insertRecords(ctx, c, "exposure", more, InsertSkip) })
		if all, err := r.records(ctx, r.db.Conn(), "exposure", ""); err != nil || len(all) != 3+5000 {
			t.Errorf("exposures after the skipping insert: %d, %v; want 5003", len(all), err)
		}
	})
}
