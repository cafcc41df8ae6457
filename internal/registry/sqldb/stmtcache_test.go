package sqldb

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestStmtCache: SQLite connections reuse prepared statements, and reuse stays
// correct: the same query nested inside its own open rows (in and out of a
// transaction) gets its own statement, a schema change made through another
// pool (another process) is seen by the cached statement, and a failing
// statement reports the error it always did.
func TestStmtCache(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gen3.sqlite3")
	db, err := OpenSQLite(ctx, path, true, false)
	if err != nil {
		t.Fatal(err)
	}
	c := db.Conn()
	if _, err := c.Exec(ctx, "CREATE TABLE x (a INTEGER, b INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.Exec(ctx, "INSERT INTO x (a, b) VALUES (?, ?)", i, 10*i); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if err := SetJournalMode(ctx, path, "wal"); err != nil {
		t.Fatal(err)
	}
	db, err = OpenSQLite(ctx, path, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	const q = "SELECT a FROM x WHERE a >= ? ORDER BY a"
	// nested runs q, and inside each row q again, returning all pairs seen.
	nested := func(c Conn) [][2]int {
		t.Helper()
		rows, err := c.Query(ctx, q, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got [][2]int
		for rows.Next() {
			var a int
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			inner, err := c.Query(ctx, q, a)
			if err != nil {
				t.Fatal(err)
			}
			for inner.Next() {
				var b int
				if err := inner.Scan(&b); err != nil {
					t.Fatal(err)
				}
				got = append(got, [2]int{a, b})
			}
			inner.Close()
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := [][2]int{{0, 0}, {0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 2}}
	if got := nested(db.Conn()); !slices.Equal(got, want) {
		t.Errorf("nested query outside a transaction: %v, want %v", got, want)
	}
	// A transaction runs everything on one connection, so there the nested
	// query meets its own statement busy.
	if err := db.Tx(ctx, func(c Conn) error {
		if got := nested(c); !slices.Equal(got, want) {
			t.Errorf("nested query in a transaction: %v, want %v", got, want)
		}
		_, err := c.Exec(ctx, "INSERT INTO x (a, b) VALUES (?, ?)", 3, 30)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A cached statement sees a column another process added and filled.
	sum := func() int {
		t.Helper()
		var n int
		if err := db.Conn().QueryRow(ctx, "SELECT sum(b) FROM x WHERE a >= ?", 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := sum(); got != 60 {
		t.Errorf("sum = %d, want 60", got)
	}
	other, err := OpenSQLite(ctx, path, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Conn().Exec(ctx, "DROP TABLE x"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Conn().Exec(ctx, "CREATE TABLE x (z TEXT, a INTEGER, b INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Conn().Exec(ctx, "INSERT INTO x (z, a, b) VALUES (?, ?, ?)", "z", 1, 5); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if got := sum(); got != 5 {
		t.Errorf("sum after another process replaced the table = %d, want 5", got)
	}
	// Errors are those of an uncached statement.
	if _, err := db.Conn().Exec(ctx, "INSERT INTO nosuch (a) VALUES (?)", 1); err == nil {
		t.Error("insert into a missing table: no error")
	}
	if _, err := db.Conn().Exec(ctx, "CREATE UNIQUE INDEX x_a ON x (a)"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time through the cache
		if _, err := db.Conn().Exec(ctx, "INSERT INTO x (z, a, b) VALUES (?, ?, ?)", "y", 1, 6); err == nil {
			t.Error("duplicate insert: no error")
		}
	}
	if got := sum(); got != 5 {
		t.Errorf("sum after failed inserts = %d, want 5", got)
	}
}
