package registry

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// sqliteContent is what a registry file holds apart from page layout: the
// schema objects with their SQL, butler_attributes and the header pragmas.
func sqliteContent(t *testing.T, path string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.OpenSQLite(ctx, path, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	for key, q := range map[string]string{
		"schema":     "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY type, name",
		"attributes": "SELECT name || '=' || value FROM butler_attributes ORDER BY name",
		"pragmas": "SELECT 'page_size=' || (SELECT page_size FROM pragma_page_size) || ' encoding=' || (SELECT encoding FROM pragma_encoding) ||" +
			" ' auto_vacuum=' || (SELECT auto_vacuum FROM pragma_auto_vacuum) || ' user_version=' || (SELECT user_version FROM pragma_user_version) ||" +
			" ' application_id=' || (SELECT application_id FROM pragma_application_id)",
	} {
		rows, err := db.SQL.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out[key] = append(out[key], s)
		}
		rows.Close()
	}
	if len(out["schema"]) < 100 || len(out["attributes"]) == 0 {
		t.Fatalf("%s: schema of %d objects, %d attributes: not a registry", path, len(out["schema"]), len(out["attributes"]))
	}
	return out
}

// TestSQLiteTemplate_Current: the embedded template is what Create makes
// today, so a repository made from it is the one the DDL would make.
func TestSQLiteTemplate_Current(t *testing.T) {
	dir := t.TempDir()
	built := filepath.Join(dir, "built.sqlite3")
	raw, err := BuildTemplate(context.Background(), built)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := decodeTemplate(EncodeTemplate(raw)); err != nil || !bytes.Equal(back, raw) {
		t.Fatalf("template encoding does not round-trip (%d bytes back of %d): %v", len(back), len(raw), err)
	}
	data, err := decodeTemplate(sqliteTemplate)
	if err != nil {
		t.Fatal(err)
	}
	embedded := filepath.Join(dir, "embedded.sqlite3")
	if err := os.WriteFile(embedded, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want, got := sqliteContent(t, built), sqliteContent(t, embedded)
	for _, k := range []string{"schema", "attributes", "pragmas"} {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("the embedded registry template is stale (%s differ: %d vs %d entries): run `go generate ./internal/registry`", k, len(got[k]), len(want[k]))
		}
	}
}

// TestCreateFromTemplate: a registry made from the template opens, takes
// writes, passes SQLite's integrity check and is in the journal mode
// chosen for its file system (or BUTLER_SQLITE_JOURNAL); anything the
// template does not hold falls back to the DDL.
func TestCreateFromTemplate(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"wal", "delete"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("BUTLER_SQLITE_JOURNAL", mode)
			path := filepath.Join(t.TempDir(), "gen3.sqlite3")
			loc := Location{URL: "sqlite:///" + path}
			created, ok, err := CreateFromTemplate(ctx, loc, nil, TemplateRecordsTable)
			if err != nil || !ok || created != path {
				t.Fatalf("CreateFromTemplate = %q, %v, %v", created, ok, err)
			}
			db, _, err := Connect(ctx, loc, false, false)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Open(ctx, db)
			if err != nil {
				db.Close()
				t.Fatal(err)
			}
			defer r.Close()
			if err := r.Update(ctx, func(tx *Tx) error { _, err := tx.RegisterRun(ctx, "run", ""); return err }); err != nil {
				t.Fatal(err)
			}
			var jm, check string
			if err := db.SQL.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&jm); err != nil || jm != mode {
				t.Errorf("journal_mode = %q (%v), want %q", jm, err, mode)
			}
			if err := db.SQL.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
				t.Errorf("integrity_check = %q (%v)", check, err)
			}

			// A second create finds the file and leaves it to Connect, which refuses it.
			if _, ok, err := CreateFromTemplate(ctx, loc, nil, TemplateRecordsTable); ok || err != nil {
				t.Errorf("CreateFromTemplate over an existing file = %v, %v", ok, err)
			}
			if _, _, err := Connect(ctx, loc, true, false); !errors.Is(err, errs.ErrConflict) {
				t.Errorf("Connect(create) over an existing registry = %v, want a conflict", err)
			}
		})
	}
	for name, tc := range map[string]struct {
		loc    Location
		tables []string
	}{
		"other records table": {Location{URL: "sqlite:///" + filepath.Join(t.TempDir(), "a.sqlite3")}, []string{"other_records"}},
		"no records table":    {Location{URL: "sqlite:///" + filepath.Join(t.TempDir(), "b.sqlite3")}, nil},
		"postgres":            {Location{URL: "postgresql://localhost/db"}, []string{TemplateRecordsTable}},
	} {
		if _, ok, err := CreateFromTemplate(ctx, tc.loc, nil, tc.tables...); ok || err != nil {
			t.Errorf("%s: CreateFromTemplate = %v, %v; want no template", name, ok, err)
		}
	}
}
