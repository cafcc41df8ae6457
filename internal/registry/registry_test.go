package registry

import (
	"context"
	"errors"
	"fmt"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

func corpusDir(t testing.TB) string {
	return corpustest.Dir(t)
}

func newSQLite(t testing.TB, u *dimensions.Universe) *Registry {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.OpenSQLite(ctx, filepath.Join(t.TempDir(), "gen3.sqlite3"), true, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Create(ctx, db, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// tableColumns lists table -> "col col col" from sqlite pragma.
func tableColumns(t *testing.T, db *sqldb.DB) map[string]string {
	ctx := context.Background()
	rows, err := db.SQL.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type='table'")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	out := map[string]string{}
	for _, n := range names {
		rows, err := db.SQL.QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`, n)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var c, typ string
			var nn, pk int
			rows.Scan(&c, &typ, &nn, &pk)
			col := c + ":" + typ
			if nn != 0 {
				col += " NOT NULL"
			}
			if pk != 0 {
				col += fmt.Sprintf(" PK%d", pk)
			}
			cols = append(cols, col)
		}
		rows.Close()
		out[n] = strings.Join(cols, " ")
	}
	return out
}

// The schema we derive for universe 7 must be the one the Python butler made in
// the corpus registry (apart from the dataset table's ingest_date, whose type the
// newer datasets manager changed).
func TestCreate_SchemaMatchesPythonRegistry(t *testing.T) {
	corpus := corpusDir(t)
	ctx := context.Background()
	py, err := sqldb.OpenSQLite(ctx, filepath.Join(corpus, "raws", "lsstCamSim", "gen3.sqlite3"), false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer py.Close()
	u7, _ := dimensions.Version(7)
	ours := newSQLite(t, u7)
	if err := ours.EnsureFileRecordsTable(ctx, "file_datastore_records"); err != nil {
		t.Fatal(err)
	}
	want, got := tableColumns(t, py), tableColumns(t, ours.db)
	if len(want) < 40 {
		t.Fatalf("Python registry lists only %d tables", len(want))
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasPrefix(n, "dataset_tags_") || strings.HasPrefix(n, "dataset_calibs_") {
			continue
		}
		if n == "dataset" {
			continue
		}
		if got[n] != want[n] {
			t.Errorf("table %s:\n got  %s\n want %s", n, got[n], want[n])
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("extra table %s", n)
		}
	}
}

func TestCreate_Twice(t *testing.T) {
	r := newSQLite(t, nil)
	if _, err := Create(context.Background(), r.db, nil); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("second Create: %v, want conflict", err)
	}
	if _, err := Open(context.Background(), r.db); err != nil {
		t.Errorf("Open: %v", err)
	}
}

func TestCollections_Chains(t *testing.T) {
	ctx := context.Background()
	r := newSQLite(t, nil)
	err := r.inTx(ctx, func(c sqldb.Conn) error {
		for _, n := range []string{"a", "b", "c"} {
			if _, err := r.registerRun(ctx, c, n, ""); err != nil {
				return err
			}
		}
		for _, n := range []string{"chain1", "chain2"} {
			if _, err := r.registerCollection(ctx, c, n, dataset.Chained, ""); err != nil {
				return err
			}
		}
		if err := r.setChain(ctx, c, "chain1", []string{"b", "a"}, false); err != nil {
			return err
		}
		return r.setChain(ctx, c, "chain2", []string{"c", "chain1", "a"}, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	flat, err := r.Flatten(ctx, []string{"chain2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(flat, ","); got != "c,b,a" {
		t.Errorf("Flatten(chain2) = %s, want c,b,a", got)
	}
	err = r.inTx(ctx, func(c sqldb.Conn) error { return r.setChain(ctx, c, "chain1", []string{"chain2"}, false) })
	var cyc *dataset.CollectionCycleError
	if !errors.As(err, &cyc) {
		t.Errorf("cycle: got %v, want CollectionCycleError", err)
	}
	err = r.inTx(ctx, func(c sqldb.Conn) error { _, err := r.registerCollection(ctx, c, "a", dataset.Tagged, ""); return err })
	if !errors.Is(err, errs.ErrConflict) {
		t.Errorf("re-register run as tagged: %v, want conflict", err)
	}
	err = r.inTx(ctx, func(c sqldb.Conn) error { _, err := r.registerRun(ctx, c, strings.Repeat("x", 65), ""); return err })
	if !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("65-char name: %v, want invalid", err)
	}
	err = r.inTx(ctx, func(c sqldb.Conn) error { return r.removeCollection(ctx, c, "chain1", false) })
	if !errors.Is(err, errs.ErrConflict) {
		t.Errorf("remove chain child: %v, want conflict", err)
	}
}

func TestDatasets_FindFirst(t *testing.T) {
	ctx := context.Background()
	r := newSQLite(t, nil)
	u := r.Universe
	g, _ := u.Group("instrument", "detector")
	typ := dataset.Type{Name: "bias", Dimensions: g, StorageClass: "StructuredDataDict"}
	ids := map[string]dataset.ID{}
	err := r.inTx(ctx, func(c sqldb.Conn) error {
		if err := r.insertRecords(ctx, c, "instrument", []dimensions.Record{{Element: u.MustElement("instrument"), Values: map[string]any{"name": "Cam"}}}, InsertNew); err != nil {
			return err
		}
		var dets []dimensions.Record
		for i := int64(0); i < 3; i++ {
			dets = append(dets, dimensions.Record{Element: u.MustElement("detector"), Values: map[string]any{"instrument": "Cam", "id": i, "full_name": "D" + string(rune('0'+i))}})
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
		var ds1, ds2 []NewDataset
		for i := int64(0); i < 3; i++ {
			id, _ := dataset.NewID(dataset.Unique, "bias", "r1", nil)
			ids["r1"+string(rune('0'+i))] = id
			ds1 = append(ds1, NewDataset{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "detector": i}})
		}
		id, _ := dataset.NewID(dataset.Unique, "bias", "r2", nil)
		ids["r21"] = id
		ds2 = append(ds2, NewDataset{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "detector": int64(1)}})
		if err := r.insertDatasets(ctx, c, "bias", "r1", ds1, false); err != nil {
			return err
		}
		return r.insertDatasets(ctx, c, "bias", "r2", ds2, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = r.Datasets(ctx, DatasetQuery{Type: "bias", Collections: []string{"r2", "r1"}, FindFirst: true}, func(ref dataset.Ref) error {
		got = append(got, ref.Run+":"+string(rune('0'+ref.DataID["detector"].(int64))))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, " "); s != "r1:0 r2:1 r1:2" {
		t.Errorf("find-first r2,r1 = %s", s)
	}
	ref, err := r.FindDataset(ctx, "bias", dimensions.DataID{"instrument": "Cam", "detector": int64(1)}, []string{"r1", "r2"})
	if err != nil || ref == nil || ref.ID != ids["r11"] {
		t.Errorf("FindDataset r1,r2 = %v, %v; want %s", ref, err, ids["r11"])
	}
	// Same data ID again in r1: conflict, nothing written.
	err = r.inTx(ctx, func(c sqldb.Conn) error {
		id, _ := dataset.NewID(dataset.Unique, "bias", "r1", nil)
		return r.insertDatasets(ctx, c, "bias", "r1", []NewDataset{{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "detector": int64(0)}}}, false)
	})
	var ce *dataset.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("duplicate insert: %v, want ConflictError", err)
	}
	n := 0
	r.Datasets(ctx, DatasetQuery{Type: "bias", Collections: []string{"r1"}}, func(dataset.Ref) error { n++; return nil })
	if n != 3 {
		t.Errorf("r1 has %d datasets after failed insert, want 3", n)
	}
}
