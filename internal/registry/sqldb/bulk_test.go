package sqldb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/google/go-cmp/cmp"
)

// bulkDB opens an empty database of the dialect with one table, t(k PRIMARY
// KEY, s text, f float, b bool, n nullable int).
func bulkDB(t *testing.T, dialect string) *DB {
	t.Helper()
	ctx := context.Background()
	var db *DB
	var err error
	if dialect == pgtest.SQLite {
		db, err = OpenSQLite(ctx, filepath.Join(t.TempDir(), "bulk.sqlite3"), true, false)
	} else {
		db, err = openPG(t, pgtest.DSN(t), pgtest.Schema(t), true, false)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tbl := Table{Name: "t", Columns: []Column{{Name: "k", Type: Int64, NotNull: true}, {Name: "s", Type: String, Length: 256},
		{Name: "f", Type: Float}, {Name: "b", Type: Bool}, {Name: "n", Type: Int64}}, PrimaryKey: []string{"k"}}
	if err := db.Tx(ctx, func(c Conn) error { return db.CreateTables(ctx, c, []Table{tbl}) }); err != nil {
		t.Fatal(err)
	}
	return db
}

type bulkRow struct {
	K int64
	S string
	F float64
	B bool
	N *int64
}

func readBulk(t *testing.T, db *DB) []bulkRow {
	t.Helper()
	rows, err := db.Conn().Query(context.Background(), "SELECT k, s, f, b, n FROM "+db.T("t")+" ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []bulkRow
	for rows.Next() {
		var r bulkRow
		if err := rows.Scan(&r.K, &r.S, &r.F, &r.B, &r.N); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func bulkRows(from, to int64) ([]bulkRow, [][]any) {
	strs := []string{"plain", "tab\there", "new\nline", `back\slash`, "cr\rlf", `\N`, "ünïcødé ✓", "", "quote ' and \""}
	var want []bulkRow
	var rows [][]any
	for k := from; k < to; k++ {
		r := bulkRow{K: k, S: strs[k%int64(len(strs))] + fmt.Sprint(k), F: float64(k) / 3, B: k%2 == 0}
		var n any
		if k%5 != 0 {
			v := k * 1000003
			r.N, n = &v, v
		}
		if k == from {
			r.F = math.SmallestNonzeroFloat64
		}
		want = append(want, r)
		rows = append(rows, []any{r.K, r.S, r.F, r.B, n})
	}
	return want, rows
}

// TestInsert_Bulk writes more rows than one statement may bind (SQLite's
// 32766 variables; COPY on PostgreSQL), with values COPY must escape, and
// reads them back unchanged; then a conflict in the middle of a large
// insert fails it whole, names the row, and leaves the transaction usable;
// SkipOnConflict writes only the new rows.
func TestInsert_Bulk(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := bulkDB(t, dialect)
		cols := []string{"k", "s", "f", "b", "n"}
		want, rows := bulkRows(0, 10000) // 50,000 values
		var n int64
		err := db.Tx(ctx, func(c Conn) error {
			var err error
			n, err = c.Insert(ctx, "t", cols, rows, FailOnConflict)
			return err
		})
		if err != nil || n != int64(len(rows)) {
			t.Fatalf("Insert = %d, %v; want %d rows", n, err, len(rows))
		}
		if d := cmp.Diff(want, readBulk(t, db)); d != "" {
			t.Fatalf("rows read back (-want +got):\n%s", d)
		}

		// A conflict at row 7000 of 9000 (rows 10000.. are new): nothing of the
		// call is kept, the error names the row, the transaction goes on.
		_, more := bulkRows(10000, 17000)
		_, dup := bulkRows(4321, 4322)
		_, tail := bulkRows(17000, 19000)
		batch := append(append(more, dup...), tail...)
		err = db.Tx(ctx, func(c Conn) error {
			_, err := c.Insert(ctx, "t", cols, batch, FailOnConflict)
			if !errors.Is(err, errs.ErrConflict) || FailedRow(err) != 7000 {
				return fmt.Errorf("conflicting insert: %w (failed row %d), want a conflict at row 7000", err, FailedRow(err))
			}
			if dialect == pgtest.Postgres {
				// COPY is all or nothing; SQLite keeps the statements before the
				// failing one until the transaction is rolled back.
				var k int
				if err := c.QueryRow(ctx, "SELECT count(*) FROM "+db.T("t")).Scan(&k); err != nil || k != 10000 {
					return fmt.Errorf("after the failed insert the transaction sees %d rows (%v), want 10000", k, err)
				}
			}
			return errors.New("roll back")
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatal(err)
		}
		if got := len(readBulk(t, db)); got != 10000 {
			t.Errorf("%d rows after a rolled-back conflicting insert, want 10000", got)
		}

		// Skip: the 10000 rows again plus 5000 new ones.
		_, again := bulkRows(5000, 15000)
		err = db.Tx(ctx, func(c Conn) error {
			var err error
			n, err = c.Insert(ctx, "t", cols, again, SkipOnConflict)
			return err
		})
		if err != nil || n != 5000 {
			t.Errorf("Insert(skip) = %d, %v; want 5000 new rows", n, err)
		}
		want, _ = bulkRows(0, 15000)
		if d := cmp.Diff(want, readBulk(t, db)); d != "" {
			t.Errorf("rows after the skipping insert (-want +got):\n%s", d)
		}
		// Outside a transaction too (PostgreSQL: a connection of its own).
		_, last := bulkRows(15000, 15100)
		if n, err := db.Conn().Insert(ctx, "t", cols, last, SkipOnConflict); err != nil || n != 100 {
			t.Errorf("Insert outside a transaction = %d, %v; want 100", n, err)
		}
	})
}

func TestCopyText(t *testing.T) {
	got, err := copyText([][]any{{nil, "a\tb\\c\nd\re", int64(-3), 1.5, true, false, []byte{0, 0xff}, math.Inf(-1)}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `\N` + "\t" + `a\tb\\c\nd\re` + "\t-3\t1.5\tt\tf\t" + `\\x00ff` + "\t-Infinity\n"; string(got) != want {
		t.Errorf("copyText = %q, want %q", got, want)
	}
	if _, err := copyText([][]any{{struct{}{}}}); !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), "struct") {
		t.Errorf("copyText(struct) = %v, want unsupported", err)
	}
}

// TestInsert_PostgresWithoutTempPrivilege skips conflicts without the
// temporary table when the user may not create one (REVOKE TEMPORARY).
func TestInsert_PostgresWithoutTempPrivilege(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.Admin(t)
	schema := pgtest.Schema(t)
	user, password := pgtest.Role(t)
	for _, q := range []string{
		"GRANT ALL ON SCHEMA " + schema + " TO " + user,
		"REVOKE TEMPORARY ON DATABASE " + pgtest.Database + " FROM PUBLIC",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { admin.ExecContext(ctx, "GRANT TEMPORARY ON DATABASE "+pgtest.Database+" TO PUBLIC") })
	db, err := openPG(t, pgtest.URL(t, user, password), schema, false, false)
	if err != nil {
		t.Fatal(err)
	}
	tbl := Table{Name: "t", Columns: []Column{{Name: "k", Type: Int64, NotNull: true}, {Name: "s", Type: String, Length: 256},
		{Name: "f", Type: Float}, {Name: "b", Type: Bool}, {Name: "n", Type: Int64}}, PrimaryKey: []string{"k"}}
	if err := db.Tx(ctx, func(c Conn) error { return db.CreateTables(ctx, c, []Table{tbl}) }); err != nil {
		t.Fatal(err)
	}
	cols := []string{"k", "s", "f", "b", "n"}
	for _, span := range [][2]int64{{0, 500}, {250, 1000}} {
		_, rows := bulkRows(span[0], span[1])
		var n int64
		if _, err := db.Conn().Exec(ctx, "CREATE TEMPORARY TABLE probe (x int)"); !errors.Is(err, errs.ErrPermission) {
			t.Fatalf("CREATE TEMPORARY TABLE: %v, want a permission error", err)
		}
		err := db.Tx(ctx, func(c Conn) error {
			n, err = c.Insert(ctx, "t", cols, rows, SkipOnConflict)
			return err
		})
		if err != nil || n != 500 { // 0..500, then 250..1000 of which 500 are new
			t.Errorf("Insert(%v, skip) = %d, %v", span, n, err)
		}
	}
	want, _ := bulkRows(0, 1000)
	if d := cmp.Diff(want, readBulk(t, db)); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
}
