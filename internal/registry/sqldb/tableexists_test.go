package sqldb

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// TestTableExists_Cache: a table seen to exist is remembered (no catalog
// query the next time), but not one seen inside a transaction that then
// rolls back, on both dialects.
func TestTableExists_Cache(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		var db *DB
		var err error
		if dialect == pgtest.SQLite {
			db, err = OpenSQLite(ctx, filepath.Join(t.TempDir(), "r.sqlite3"), true, false)
		} else {
			schema := "te_" + strings.ToLower(pgtest.Schema(t))
			t.Cleanup(func() { pgtest.Admin(t).Exec("DROP SCHEMA IF EXISTS " + quoteIdent(schema) + " CASCADE") })
			db, err = openPG(t, pgtest.DSN(t), schema, true, false)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rollback := errors.New("roll back")
		err = db.Tx(ctx, func(c Conn) error {
			if _, err := c.Exec(ctx, "CREATE TABLE "+db.T("gone")+" (x INTEGER)"); err != nil {
				return err
			}
			if ok, err := db.TableExists(ctx, c, "gone"); !ok || err != nil {
				t.Errorf("table made in the transaction: exists %v, %v", ok, err)
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		if ok, err := db.TableExists(ctx, db.Conn(), "gone"); ok || err != nil {
			t.Errorf("table rolled back: exists %v, %v", ok, err)
		}
		if _, err := db.Conn().Exec(ctx, "CREATE TABLE "+db.T("kept")+" (x INTEGER)"); err != nil {
			t.Fatal(err)
		}
		if ok, err := db.TableExists(ctx, db.Conn(), "kept"); !ok || err != nil {
			t.Fatalf("table made: exists %v, %v", ok, err)
		}
		// Remembered: it is found even on a connection that cannot ask.
		if ok, err := db.TableExists(ctx, Conn{q: failing{}, db: db}, "kept"); !ok || err != nil {
			t.Errorf("second look: exists %v, %v, want true without a query", ok, err)
		}
	})
}

// failing is a Querier whose every statement fails.
type failing struct{ Querier }
