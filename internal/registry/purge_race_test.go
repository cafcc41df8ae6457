package registry

import (
	"context"
	"testing"
	"time"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// TestDeleteFileRecords_ConcurrentPurge: two purges of one dataset at once on
// PostgreSQL. The second waits on the rows the first deletes and, once the
// first commits, deletes nothing: it must name no orphan. Before, it took
// the path from a SELECT made before it waited and so deleted, after its
// commit, the file a new dataset of the same data ID had been written to
// in the meantime (TestConcurrentWriters saw that 1 run in about 10).
func TestDeleteFileRecords_ConcurrentPurge(t *testing.T) {
	schema := pgtest.Schema(t)
	r := openPGRegistry(t, schema)
	ctx := context.Background()
	fillCam(t, r)
	g, _ := r.Universe.Group("instrument", "detector")
	id, _ := dataset.NewID(dataset.Unique, "flatish", "run", nil)
	mustTx(t, r, func(c sqldb.Conn) error {
		if _, err := r.registerDatasetType(ctx, c, dataset.Type{Name: "flatish", Dimensions: g, StorageClass: "StructuredDataDict"}); err != nil {
			return err
		}
		if _, err := r.registerRun(ctx, c, "run", ""); err != nil {
			return err
		}
		if err := r.insertDatasets(ctx, c, "flatish", "run", []NewDataset{{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "detector": int64(1)}}}, false); err != nil {
			return err
		}
		return r.insertFileRecords(ctx, c, "file_datastore_records", "FileDatastore@<butlerRoot>",
			[]FileRecord{{DatasetID: id, Path: "run/flatish/1.yaml", Formatter: "f.Yaml", StorageClass: "StructuredDataDict"}}, false)
	})

	firstDeleted, release := make(chan []string, 1), make(chan struct{})
	firstErr := make(chan error, 1)
	go func() {
		firstErr <- r.inTx(ctx, func(c sqldb.Conn) error {
			orphans, err := r.deleteFileRecords(ctx, c, "file_datastore_records", []dataset.ID{id})
			if err != nil {
				return err
			}
			firstDeleted <- orphans
			<-release // hold the rows until the second purge waits on them
			return r.deleteDatasets(ctx, c, []dataset.ID{id})
		})
	}()
	var first []string
	select {
	case first = <-firstDeleted:
	case err := <-firstErr:
		t.Fatalf("first purge: %v", err)
	}
	if len(first) != 1 || first[0] != "run/flatish/1.yaml" {
		t.Fatalf("first purge's orphans = %v, want [run/flatish/1.yaml]", first)
	}
	type result struct {
		orphans []string
		err     error
	}
	second := make(chan result, 1)
	go func() {
		var res result
		res.err = r.inTx(ctx, func(c sqldb.Conn) error {
			var err error
			res.orphans, err = r.deleteFileRecords(ctx, c, "file_datastore_records", []dataset.ID{id})
			if err != nil {
				return err
			}
			return r.deleteDatasets(ctx, c, []dataset.ID{id})
		})
		second <- res
	}()
	// Wait until the second purge is blocked on the first one's row locks.
	admin := pgtest.Admin(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM "`+schema+`"."file_datastore_records"%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			rows, _ := admin.QueryContext(ctx, "SELECT coalesce(wait_event_type,''), state, query FROM pg_stat_activity")
			for rows.Next() {
				var a, b, q string
				rows.Scan(&a, &b, &q)
				t.Logf("%s %s %s", a, b, q)
			}
			close(release)
			t.Fatal("the second purge never waited on the first one's rows")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if err := <-firstErr; err != nil {
		t.Fatalf("first purge: %v", err)
	}
	res := <-second
	if res.err != nil {
		t.Fatalf("second purge: %v", res.err)
	}
	if len(res.orphans) != 0 {
		t.Errorf("second purge names %v as orphans, but the first one deleted its records (a new file may be there now)", res.orphans)
	}
}
