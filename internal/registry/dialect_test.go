package registry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/query"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/timespan"
	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) {
	stop := pgtest.Start() // one private cluster for the package; tests skip without it
	defer stop()
	m.Run()
}

// forEachDialect runs fn on a new, empty registry of each dialect: a SQLite file
// in t.TempDir() and a fresh PostgreSQL schema. The same assertions must hold on both.
func forEachDialect(t *testing.T, fn func(t *testing.T, r *Registry)) {
	t.Helper()
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		if dialect == pgtest.SQLite {
			fn(t, openSQLiteRegistry(t))
		} else {
			fn(t, openPGRegistry(t, pgtest.Schema(t)))
		}
	})
}

func openSQLiteRegistry(t testing.TB) *Registry {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.OpenSQLite(ctx, filepath.Join(t.TempDir(), "gen3.sqlite3"), true, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Create(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func openPGRegistry(t testing.TB, schema string) *Registry {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	db, err := sqldb.OpenPostgres(ctx, dsn, redacted(dsn), schema, true, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Create(ctx, db, nil)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgresql://?"
	}
	return u.Redacted()
}

// reopen opens r's database again through a new connection pool.
func reopen(t *testing.T, r *Registry, readOnly bool) *Registry {
	t.Helper()
	ctx := context.Background()
	var db *sqldb.DB
	var err error
	if r.db.Dialect.Name() == "sqlite" {
		db, err = sqldb.OpenSQLite(ctx, r.db.String(), false, readOnly)
	} else {
		dsn := pgtest.DSN(t)
		db, err = sqldb.OpenPostgres(ctx, dsn, redacted(dsn), r.db.Schema, false, readOnly)
	}
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, db)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { r2.Close() })
	return r2
}

func mustTx(t *testing.T, r *Registry, fn func(c sqldb.Conn) error) {
	t.Helper()
	if err := r.inTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func listTables(t *testing.T, r *Registry) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table'"
	var args []any
	if r.db.Dialect.Name() != "sqlite" {
		q, args = "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = ?", []any{r.db.Schema}
	}
	rows, err := r.db.Conn().Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestDialects_CreateOpen(t *testing.T) {
	tables := map[string][]string{}
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		if _, err := Create(ctx, r.db, nil); !errors.Is(err, errs.ErrConflict) {
			t.Errorf("second Create: %v, want conflict", err)
		}
		r2 := reopen(t, r, false)
		if r2.Universe.Version != r.Universe.Version || !r2.datasetsV2 {
			t.Errorf("reopened: universe %d (want %d), datasetsV2 %v", r2.Universe.Version, r.Universe.Version, r2.datasetsV2)
		}
		if v, err := r2.Attribute(ctx, "config:registry.managers.datasets"); err != nil || !strings.Contains(v, "ByDimensionsDatasetRecordStorageManagerUUID") {
			t.Errorf("datasets manager attribute = %q, %v", v, err)
		}
		if err := r.EnsureFileRecordsTable(ctx, "file_datastore_records"); err != nil {
			t.Fatal(err)
		}
		tables[r.db.Dialect.Name()] = listTables(t, r)
	})
	if len(tables) == 2 {
		if d := cmp.Diff(tables["sqlite"], tables["postgresql"]); d != "" {
			t.Errorf("tables differ between dialects (-sqlite +postgresql):\n%s", d)
		}
		if len(tables["sqlite"]) < 40 {
			t.Errorf("only %d tables", len(tables["sqlite"]))
		}
	}
}

func TestDialects_OpenEmptyIsNotFound(t *testing.T) {
	ctx := context.Background()
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		db, err := sqldb.OpenPostgres(ctx, dsn, redacted(dsn), pgtest.Schema(t), false, true)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := Open(ctx, db); !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "butler create") {
			t.Errorf("Open on an empty schema: %v, want not found with advice", err)
		}
	})
}

func TestDialects_CollectionsAndChains(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		mustTx(t, r, func(c sqldb.Conn) error {
			for _, n := range []string{"a", "b", "c"} {
				if created, err := r.registerRun(ctx, c, n, "run "+n); err != nil || !created {
					return fmt.Errorf("register %s: %v, %v", n, created, err)
				}
			}
			if created, err := r.registerRun(ctx, c, "a", ""); err != nil || created {
				return fmt.Errorf("re-register a: %v, %v", created, err)
			}
			for _, n := range []string{"chain1", "chain2"} {
				if _, err := r.registerCollection(ctx, c, n, dataset.Chained, ""); err != nil {
					return err
				}
			}
			if _, err := r.registerCollection(ctx, c, "tag", dataset.Tagged, ""); err != nil {
				return err
			}
			if err := r.setChain(ctx, c, "chain1", []string{"b", "a", "b"}, false); err != nil {
				return err
			}
			return r.setChain(ctx, c, "chain2", []string{"c", "chain1", "a"}, false)
		})
		flat, err := r.Flatten(ctx, []string{"chain2"})
		if err != nil || strings.Join(flat, ",") != "c,b,a" {
			t.Errorf("Flatten(chain2) = %v, %v; want c,b,a", flat, err)
		}
		if kids, err := r.Chain(ctx, "chain1"); err != nil || strings.Join(kids, ",") != "b,a" {
			t.Errorf("Chain(chain1) = %v, %v; want b,a", kids, err)
		}
		if ps, err := r.ParentChains(ctx, "a"); err != nil || strings.Join(ps, ",") != "chain1,chain2" {
			t.Errorf("ParentChains(a) = %v, %v", ps, err)
		}
		var cyc *dataset.CollectionCycleError
		if err := r.inTx(ctx, func(c sqldb.Conn) error { return r.setChain(ctx, c, "chain1", []string{"chain2"}, false) }); !errors.As(err, &cyc) {
			t.Errorf("cycle: %v, want CollectionCycleError", err)
		}
		if err := r.inTx(ctx, func(c sqldb.Conn) error { _, err := r.registerCollection(ctx, c, "a", dataset.Tagged, ""); return err }); !errors.Is(err, errs.ErrConflict) {
			t.Errorf("re-register run as tagged: %v, want conflict", err)
		}
		if err := r.inTx(ctx, func(c sqldb.Conn) error { _, err := r.registerRun(ctx, c, strings.Repeat("x", 65), ""); return err }); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("65-character name: %v, want invalid", err)
		}
		if err := r.inTx(ctx, func(c sqldb.Conn) error { return r.removeCollection(ctx, c, "chain1", false) }); !errors.Is(err, errs.ErrConflict) {
			t.Errorf("remove a chain's child: %v, want conflict", err)
		}
		mustTx(t, r, func(c sqldb.Conn) error { return r.setDoc(ctx, c, "b", "the b run") })
		r2 := reopen(t, r, true) // a second client sees the committed state
		if col, err := r2.Collection(ctx, "b"); err != nil || col.Doc != "the b run" || col.Type != dataset.Run {
			t.Errorf("Collection(b) from another client = %+v, %v", col, err)
		}
		runs, err := r2.MatchCollections(ctx, []string{"?"}, dataset.Run)
		if err != nil || len(runs) != 3 {
			t.Errorf("MatchCollections(?, RUN) = %d collections, %v; want 3", len(runs), err)
		}
		mustTx(t, r, func(c sqldb.Conn) error { return r.removeCollection(ctx, c, "chain1", true) })
		if kids, err := r.Chain(ctx, "chain2"); err != nil || strings.Join(kids, ",") != "c,a" {
			t.Errorf("chain2 after removing chain1 = %v, %v; want c,a", kids, err)
		}
		if _, err := r.Collection(ctx, "chain1"); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("removed collection: %v, want not found", err)
		}
	})
}

func TestDialects_DatasetTypes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		g, _ := r.Universe.Group("instrument", "detector")
		g2, _ := r.Universe.Group("instrument", "exposure", "detector")
		bias := dataset.Type{Name: "bias", Dimensions: g, StorageClass: "ExposureF", IsCalibration: true}
		raw := dataset.Type{Name: "raw", Dimensions: g2, StorageClass: "Exposure"}
		mustTx(t, r, func(c sqldb.Conn) error {
			for _, typ := range []dataset.Type{bias, raw} {
				if added, err := r.registerDatasetType(ctx, c, typ); err != nil || !added {
					return fmt.Errorf("register %s: %v, %v", typ.Name, added, err)
				}
			}
			if added, err := r.registerDatasetType(ctx, c, raw); err != nil || added {
				return fmt.Errorf("register raw again: %v, %v", added, err)
			}
			return nil
		})
		changed := raw
		changed.StorageClass = "ImageF"
		if err := r.inTx(ctx, func(c sqldb.Conn) error { _, err := r.registerDatasetType(ctx, c, changed); return err }); !errors.Is(err, errs.ErrConflict) {
			t.Errorf("redefine raw: %v, want conflict", err)
		}
		r2 := reopen(t, r, true)
		got, err := r2.DatasetType(ctx, "bias.image")
		if err != nil || got.Name != "bias.image" || !got.IsCalibration || !got.Dimensions.Equal(g) {
			t.Errorf("DatasetType(bias.image) = %v, %v", got, err)
		}
		types, err := r2.DatasetTypes(ctx, []string{"r*"})
		if err != nil || len(types) != 1 || types[0].Name != "raw" {
			t.Errorf("DatasetTypes(r*) = %v, %v", types, err)
		}
		tables := strings.Join(listTables(t, r), " ")
		if !strings.Contains(tables, "dataset_tags_00000001") || !strings.Contains(tables, "dataset_calibs_00000001") || !strings.Contains(tables, "dataset_tags_00000002") {
			t.Errorf("dynamic tables missing: %s", tables)
		}
		mustTx(t, r, func(c sqldb.Conn) error { return r.removeDatasetType(ctx, c, "raw") })
		if _, err := r.DatasetType(ctx, "raw"); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("removed type: %v, want not found", err)
		}
	})
}

// fillCam writes instrument Cam with three detectors, two physical filters and
// three exposures (timespans 100..200, 200..300 and an unbounded-end one).
func fillCam(t *testing.T, r *Registry) {
	t.Helper()
	ctx := context.Background()
	u := r.Universe
	rec := func(e string, vals map[string]any) dimensions.Record {
		return dimensions.Record{Element: u.MustElement(e), Values: vals}
	}
	mustTx(t, r, func(c sqldb.Conn) error {
		steps := []struct {
			element string
			recs    []dimensions.Record
		}{
			{"instrument", []dimensions.Record{rec("instrument", map[string]any{"name": "Cam", "detector_max": int64(3), "class_name": "test.Cam"})}},
			{"physical_filter", []dimensions.Record{rec("physical_filter", map[string]any{"instrument": "Cam", "name": "r_01", "band": "r"}),
				rec("physical_filter", map[string]any{"instrument": "Cam", "name": "g_01", "band": "g"})}},
			{"day_obs", []dimensions.Record{rec("day_obs", map[string]any{"instrument": "Cam", "id": int64(20240101)})}},
			{"group", []dimensions.Record{rec("group", map[string]any{"instrument": "Cam", "name": "grp1"})}},
		}
		for i := int64(0); i < 3; i++ {
			steps = append(steps, struct {
				element string
				recs    []dimensions.Record
			}{"detector", []dimensions.Record{rec("detector", map[string]any{"instrument": "Cam", "id": i, "full_name": fmt.Sprintf("R0%d_S00", i), "purpose": "SCIENCE"})}})
		}
		exps := []dimensions.Record{
			rec("exposure", map[string]any{"instrument": "Cam", "id": int64(1), "obs_id": "CC_O_20240101_000001", "physical_filter": "r_01", "group": "grp1", "day_obs": int64(20240101),
				"exposure_time": 30.0, "can_see_sky": true, "timespan": timespan.Timespan{Begin: 100, End: 200}}),
			rec("exposure", map[string]any{"instrument": "Cam", "id": int64(2), "obs_id": "CC_O_20240101_000002", "physical_filter": "g_01", "group": "grp1", "day_obs": int64(20240101),
				"exposure_time": 15.5, "can_see_sky": false, "timespan": timespan.Timespan{Begin: 200, End: 300}}),
			rec("exposure", map[string]any{"instrument": "Cam", "id": int64(3), "obs_id": "CC_C_20240101_000003", "physical_filter": "r_01", "group": "grp1", "day_obs": int64(20240101),
				"exposure_time": 0.0, "timespan": timespan.Timespan{Begin: 500, End: sqldb.TimespanMax}}),
		}
		steps = append(steps, struct {
			element string
			recs    []dimensions.Record
		}{"exposure", exps})
		for _, s := range steps {
			if err := r.insertRecords(ctx, c, s.element, s.recs, InsertNew); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestDialects_DimensionRecords(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		fillCam(t, r)
		got, ok, err := r.Record(ctx, "exposure", dimensions.DataID{"instrument": "Cam", "exposure": int64(1)})
		if err != nil || !ok {
			t.Fatalf("Record(exposure 1) = %v, %v", ok, err)
		}
		want := map[string]any{"timespan": timespan.Timespan{Begin: 100, End: 200}, "exposure_time": 30.0, "can_see_sky": true,
			"obs_id": "CC_O_20240101_000001", "physical_filter": "r_01", "day_obs": int64(20240101), "seq_num": nil}
		for k, v := range want {
			if d := cmp.Diff(v, got.Values[k]); d != "" {
				t.Errorf("exposure 1 %s (-want +got):\n%s", k, d)
			}
		}
		open, _, _ := r.Record(ctx, "exposure", dimensions.DataID{"instrument": "Cam", "exposure": int64(3)})
		if d := cmp.Diff(any(timespan.Timespan{Begin: 500, End: sqldb.TimespanMax}), open.Values["timespan"]); d != "" {
			t.Errorf("unbounded timespan (-want +got):\n%s", d)
		}
		// Identical sync writes nothing; a changed one conflicts, unless update.
		same := got
		if wrote, err := r.syncIn(ctx, "exposure", same, false); err != nil || wrote {
			t.Errorf("sync identical record: wrote %v, %v", wrote, err)
		}
		moved := dimensions.Record{Element: got.Element, Values: map[string]any{}}
		for k, v := range got.Values {
			moved.Values[k] = v
		}
		moved.Values["timespan"] = timespan.Timespan{Begin: 150, End: 250}
		if _, err := r.syncIn(ctx, "exposure", moved, false); !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), "timespan") {
			t.Errorf("sync changed timespan: %v, want conflict naming timespan", err)
		}
		if wrote, err := r.syncIn(ctx, "exposure", moved, true); err != nil || !wrote {
			t.Errorf("sync with update: wrote %v, %v", wrote, err)
		}
		// Timespan bounds in conditions: the way butler.QueryRecords names them.
		// Kinds are left unknown (unchecked) but for the timespan.
		resolve := func(parts []string) (Column, error) {
			if len(parts) > 1 && parts[0] == "exposure" {
				parts = parts[1:]
			}
			switch {
			case len(parts) == 1 && parts[0] == "timespan":
				return Column{Kind: KindTimespan, Begin: r.db.Q("timespan_begin"), End: r.db.Q("timespan_end")}, nil
			case len(parts) == 2 && parts[0] == "timespan":
				return Column{SQL: r.db.Q("timespan_" + parts[1])}, nil
			}
			return Column{SQL: r.db.Q(parts[0])}, nil
		}
		bind := map[string]any{"all": timespan.New(0, 600), "late": timespan.New(260, timespan.Max), "t": int64(300)}
		tests := []struct{ where, want string }{
			{"exposure.timespan OVERLAPS :all", "1 2 3"},
			{"exposure.timespan OVERLAPS :late", "2 3"},
			{"exposure.timespan.end > :t", "3"},
			{"exposure_time > 10 AND can_see_sky", "1"},
			{"NOT can_see_sky", "2"},
			{"GLOB(obs_id, 'CC_O_*')", "1 2"},
			{"physical_filter IN ('r_01') AND exposure_time < 1", "3"},
		}
		for _, tt := range tests {
			ast, err := query.Parse(tt.where)
			if err != nil {
				t.Fatal(err)
			}
			sqlWhere, args, err := TranslateWhere(ast, resolve, bind)
			if err != nil {
				t.Fatalf("translate %q: %v", tt.where, err)
			}
			recs, err := r.records(ctx, r.db.Conn(), "exposure", sqlWhere, args...)
			if err != nil {
				t.Errorf("Records(%q): %v", tt.where, err)
				continue
			}
			var ids []string
			for _, rec := range recs {
				ids = append(ids, fmt.Sprint(rec.Values["id"]))
			}
			if got := strings.Join(ids, " "); got != tt.want {
				t.Errorf("Records(%q) = %q, want %q", tt.where, got, tt.want)
			}
		}
		// Exposure 1 moved to 150..250: it overlaps [240, 260), exposure 2 too.
		n := 0
		err = r.eachRecord(ctx, r.db.Conn(), "exposure", r.db.Q("timespan_end")+" > ? AND "+r.db.Q("timespan_begin")+" < ?", []any{int64(240), int64(260)},
			func(dimensions.Record) error { n++; return nil })
		if err != nil || n != 2 {
			t.Errorf("overlap [240, 260): %d records, %v; want 2", n, err)
		}
		if err := r.inTx(ctx, func(c sqldb.Conn) error {
			return r.insertRecords(ctx, c, "detector", []dimensions.Record{{Element: r.Universe.MustElement("detector"), Values: map[string]any{"instrument": "Nope", "id": int64(0), "full_name": "x"}}}, InsertNew)
		}); !errors.Is(err, errs.ErrConflict) {
			t.Errorf("detector of a missing instrument: %v, want conflict (foreign key)", err)
		}
	})
}

// syncIn runs SyncRecord in its own transaction.
func (r *Registry) syncIn(ctx context.Context, element string, rec dimensions.Record, update bool) (bool, error) {
	var wrote bool
	err := r.inTx(ctx, func(c sqldb.Conn) error {
		var err error
		wrote, err = r.syncRecord(ctx, c, element, rec, update)
		return err
	})
	return wrote, err
}

// datasetResolver maps where identifiers the way butler's resolver does.
func datasetResolver(parts []string) (Column, error) {
	switch len(parts) {
	case 1:
		return Column{SQL: "{" + parts[0] + "}"}, nil
	case 2:
		if parts[1] == "timespan" {
			return Column{Kind: KindTimespan, Begin: "{" + parts[0] + ".timespan_begin}", End: "{" + parts[0] + ".timespan_end}"}, nil
		}
		return Column{SQL: "{" + parts[0] + "." + parts[1] + "}"}, nil
	case 3:
		return Column{SQL: "{" + parts[0] + ".timespan_" + parts[2] + "}"}, nil
	}
	return Column{}, fmt.Errorf("unknown name %q", strings.Join(parts, "."))
}

func TestDialects_Datasets(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		fillCam(t, r)
		g, _ := r.Universe.Group("instrument", "exposure", "detector")
		ids := map[string]dataset.ID{}
		mustTx(t, r, func(c sqldb.Conn) error {
			if _, err := r.registerDatasetType(ctx, c, dataset.Type{Name: "raw", Dimensions: g, StorageClass: "Exposure"}); err != nil {
				return err
			}
			for _, run := range []string{"r1", "r2"} {
				if _, err := r.registerRun(ctx, c, run, ""); err != nil {
					return err
				}
			}
			if _, err := r.registerCollection(ctx, c, "tag", dataset.Tagged, ""); err != nil {
				return err
			}
			var ds1, ds2 []NewDataset
			for e := int64(1); e <= 3; e++ {
				for d := int64(0); d < 3; d++ {
					id, _ := dataset.NewID(dataset.Unique, "raw", "r1", nil)
					ids[fmt.Sprintf("r1/%d/%d", e, d)] = id
					ds1 = append(ds1, NewDataset{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "exposure": e, "detector": d}})
				}
			}
			id, _ := dataset.NewID(dataset.Unique, "raw", "r2", nil)
			ids["r2/1/1"] = id
			ds2 = append(ds2, NewDataset{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "exposure": int64(1), "detector": int64(1)}})
			if err := r.insertDatasets(ctx, c, "raw", "r1", ds1, false); err != nil {
				return err
			}
			return r.insertDatasets(ctx, c, "raw", "r2", ds2, false)
		})
		list := func(q DatasetQuery) string {
			t.Helper()
			var got []string
			err := r.Datasets(ctx, q, func(ref dataset.Ref) error {
				got = append(got, fmt.Sprintf("%s/%d/%d", ref.Run, ref.DataID["exposure"], ref.DataID["detector"]))
				if ids[got[len(got)-1]] != ref.ID {
					t.Errorf("%s has ID %s, want %s", got[len(got)-1], ref.ID, ids[got[len(got)-1]])
				}
				return nil
			})
			if err != nil {
				t.Errorf("Datasets(%+v): %v", q, err)
			}
			return strings.Join(got, " ")
		}
		if got := list(DatasetQuery{Type: "raw", Collections: []string{"r2", "r1"}, FindFirst: true, DataID: dimensions.DataID{"exposure": int64(1)}}); got != "r1/1/0 r2/1/1 r1/1/2" {
			t.Errorf("find-first r2,r1 = %s", got)
		}
		ref, err := r.FindDataset(ctx, "raw", dimensions.DataID{"instrument": "Cam", "exposure": int64(1), "detector": int64(1)}, []string{"r1", "r2"})
		if err != nil || ref == nil || ref.ID != ids["r1/1/1"] {
			t.Errorf("FindDataset r1,r2 = %v, %v; want %s", ref, err, ids["r1/1/1"])
		}
		tests := []struct {
			where string
			bind  map[string]any
			want  string
		}{
			{"detector IN (0..1) AND exposure = 2", nil, "r1/2/0 r1/2/1"},
			{"exposure.physical_filter = 'g_01' AND detector > 1", nil, "r1/2/2"},
			{"GLOB(exposure.obs_id, :pat) AND detector = 0", map[string]any{"pat": "CC_C_*"}, "r1/3/0"},
			{"exposure.timespan OVERLAPS :t AND detector = 2", map[string]any{"t": timespan.New(250, timespan.Max)}, "r1/2/2 r1/3/2"},
			{"exposure.timespan.begin >= 500 AND detector = 2", nil, "r1/3/2"},
		}
		for _, tt := range tests {
			ast, err := query.Parse(tt.where)
			if err != nil {
				t.Fatal(err)
			}
			sqlWhere, args, err := TranslateWhere(ast, datasetResolver, tt.bind)
			if err != nil {
				t.Fatalf("translate %q: %v", tt.where, err)
			}
			if got := list(DatasetQuery{Type: "raw", Collections: []string{"r1"}, Where: sqlWhere, Args: args}); got != tt.want {
				t.Errorf("where %q = %q, want %q", tt.where, got, tt.want)
			}
		}
		implied := ""
		r.Datasets(ctx, DatasetQuery{Type: "raw", Collections: []string{"r2"}, WithImplied: true}, func(ref dataset.Ref) error {
			implied = fmt.Sprint(ref.DataID["physical_filter"], " ", ref.DataID["band"], " ", ref.DataID["day_obs"])
			return nil
		})
		if implied != "r_01 r 20240101" {
			t.Errorf("implied dimensions = %q", implied)
		}
		// Same data ID again: a conflict that leaves nothing behind.
		err = r.inTx(ctx, func(c sqldb.Conn) error {
			id, _ := dataset.NewID(dataset.Unique, "raw", "r1", nil)
			return r.insertDatasets(ctx, c, "raw", "r1", []NewDataset{{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "exposure": int64(1), "detector": int64(0)}}}, false)
		})
		var ce *dataset.ConflictError
		if !errors.As(err, &ce) {
			t.Errorf("duplicate insert: %v, want ConflictError", err)
		}
		if got := list(DatasetQuery{Type: "raw", Collections: []string{"r1"}}); strings.Count(got, " ")+1 != 9 {
			t.Errorf("r1 after a failed insert: %s", got)
		}
		// By ID, tagging, removal.
		one, err := r.Dataset(ctx, ids["r2/1/1"])
		if err != nil || one == nil || one.Run != "r2" {
			t.Fatalf("Dataset(id) = %v, %v", one, err)
		}
		mustTx(t, r, func(c sqldb.Conn) error { return r.associate(ctx, c, "tag", []dataset.Ref{*one}) })
		if got := list(DatasetQuery{Type: "raw", Collections: []string{"tag"}}); got != "r2/1/1" {
			t.Errorf("tag holds %q", got)
		}
		if types, err := r.CollectionDatasetTypes(ctx, "tag"); err != nil || strings.Join(types, ",") != "raw" {
			t.Errorf("CollectionDatasetTypes(tag) = %v, %v", types, err)
		}
		mustTx(t, r, func(c sqldb.Conn) error { return r.removeRun(ctx, c, "r2", false) })
		if got := list(DatasetQuery{Type: "raw", Collections: []string{"tag"}}); got != "" {
			t.Errorf("tag after removing its dataset's run holds %q", got)
		}
		if ref, err := r.Dataset(ctx, ids["r2/1/1"]); err != nil || ref != nil {
			t.Errorf("removed dataset: %v, %v", ref, err)
		}
	})
}

func TestDialects_FileRecords(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		fillCam(t, r)
		g, _ := r.Universe.Group("instrument", "detector")
		var ids []dataset.ID
		var recs []FileRecord
		mustTx(t, r, func(c sqldb.Conn) error {
			if _, err := r.registerDatasetType(ctx, c, dataset.Type{Name: "flatish", Dimensions: g, StorageClass: "StructuredDataDict"}); err != nil {
				return err
			}
			if _, err := r.registerRun(ctx, c, "run", ""); err != nil {
				return err
			}
			var ds []NewDataset
			for d := int64(0); d < 3; d++ {
				id, _ := dataset.NewID(dataset.Unique, "flatish", "run", nil)
				ids = append(ids, id)
				ds = append(ds, NewDataset{ID: id, DataID: dimensions.DataID{"instrument": "Cam", "detector": d}})
				path := fmt.Sprintf("run/flatish/%d.yaml", d)
				if d == 2 {
					path = "run/flatish/1.yaml" // shares a file with detector 1
				}
				recs = append(recs, FileRecord{DatasetID: id, Path: path, Formatter: "f.Yaml", StorageClass: "StructuredDataDict", Checksum: "", FileSize: 10 + d})
			}
			recs[0].Component, recs[0].Checksum = "", "abc"
			if err := r.insertDatasets(ctx, c, "flatish", "run", ds, false); err != nil {
				return err
			}
			return r.insertFileRecords(ctx, c, "file_datastore_records", "FileDatastore@<butlerRoot>", recs, false)
		})
		got, err := r.FileRecords(ctx, "file_datastore_records", ids)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			if d := cmp.Diff([]FileRecord{recs[i]}, got[id]); d != "" {
				t.Errorf("records of dataset %d (-want +got):\n%s", i, d)
			}
		}
		if err := r.inTx(ctx, func(c sqldb.Conn) error {
			return r.insertFileRecords(ctx, c, "file_datastore_records", "FileDatastore@<butlerRoot>", recs[:1], false)
		}); !errors.Is(err, errs.ErrConflict) {
			t.Errorf("duplicate file record: %v, want conflict", err)
		}
		var orphans []string
		mustTx(t, r, func(c sqldb.Conn) error {
			var err error
			orphans, err = r.deleteFileRecords(ctx, c, "file_datastore_records", ids[:2])
			return err
		})
		if strings.Join(orphans, ",") != "run/flatish/0.yaml" {
			t.Errorf("orphaned paths = %v, want only run/flatish/0.yaml (1.yaml is still used)", orphans)
		}
		// DatasetFiles answers as Dataset and FileRecords do: with records,
		// without (deleted above), for no dataset, and with no records table.
		missing, _ := dataset.NewID(dataset.Unique, "flatish", "run", nil)
		for _, id := range append(slices.Clone(ids), missing) {
			ref, recs, err := r.DatasetFiles(ctx, id, "file_datastore_records")
			if err != nil {
				t.Fatal(err)
			}
			wantRef, err := r.Dataset(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			wantRecs, err := r.FileRecords(ctx, "file_datastore_records", []dataset.ID{id})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(wantRef, ref); d != "" {
				t.Errorf("DatasetFiles(%s) ref (-Dataset +DatasetFiles):\n%s", id, d)
			}
			if d := cmp.Diff(wantRecs[id], recs); d != "" {
				t.Errorf("DatasetFiles(%s) records (-FileRecords +DatasetFiles):\n%s", id, d)
			}
		}
		if ref, recs, err := r.DatasetFiles(ctx, ids[2], "no_such_records"); err != nil || ref == nil || ref.ID != ids[2] || len(recs) != 0 {
			t.Errorf("DatasetFiles without a records table: %v, %v, %v; want the dataset and no records", ref, recs, err)
		}
	})
}

func TestDialects_ReadOnly(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		fillCam(t, r)
		ro := reopen(t, r, true)
		if ro.IsWriteable() {
			t.Errorf("read-only registry says it is writeable")
		}
		err := ro.inTx(ctx, func(c sqldb.Conn) error { _, err := ro.registerRun(ctx, c, "x", ""); return err })
		if !errors.Is(err, errs.ErrReadOnly) {
			t.Errorf("write on a read-only registry: %v, want read-only", err)
		}
		if recs, err := ro.records(ctx, ro.db.Conn(), "detector", ""); err != nil || len(recs) != 3 {
			t.Errorf("read on a read-only registry: %d records, %v", len(recs), err)
		}
	})
}
