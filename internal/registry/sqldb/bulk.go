package sqldb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/gobutler/butler/errs"
	"github.com/jackc/pgx/v5/stdlib"
)

// Bulk writes. A registry write of many rows (an import, a transfer, an
// ingest, define-visits) goes through Conn.Insert, which writes them in as
// few statements as each database allows:
//
//   - SQLite: multi-row INSERTs of sqliteRowsPerStmt rows, one prepared
//     statement per shape (the connection's statement cache keeps it), so a
//     batch costs one parse however many rows it has. A statement is also
//     bounded by SQLite's bind-variable limit (32766).
//   - PostgreSQL: COPY FROM STDIN in the text format, straight into the table
//     when a conflict is an error; when conflicting rows are to be skipped,
//     into a temporary table first and then INSERT … SELECT … ON CONFLICT DO
//     NOTHING. Fewer than pgCopyMinRows rows use a multi-row INSERT instead
//     (COPY costs an extra round trip). Inside a transaction the write is
//     wrapped in a savepoint, so that a conflict leaves the transaction usable
//     (for the caller to find which row conflicted), as a failed statement
//     leaves a SQLite transaction.

// OnConflict says what Insert does with a row whose unique key is taken.
type OnConflict int

const (
	// FailOnConflict fails the insert (errs.ErrConflict).
	FailOnConflict OnConflict = iota
	// SkipOnConflict leaves such rows out (ON CONFLICT DO NOTHING).
	SkipOnConflict
)

// sqliteMaxVars is SQLite's limit on bind variables per statement
// (SQLITE_MAX_VARIABLE_NUMBER, 32766 since SQLite 3.32).
const sqliteMaxVars = 32766

// sqliteRowsPerStmt bounds the rows of one SQLite INSERT. Larger statements
// parse no faster per row and make SQLite's statement journal (the copy of
// every page a multi-row statement changes, kept to undo the statement on a
// constraint failure) outgrow the memory allocator's reuse window, so that its
// pages are handed back to the kernel and faulted in again every statement.
const sqliteRowsPerStmt = 128

// pgCopyMinRows is the fewest rows PostgreSQL writes with COPY.
const pgCopyMinRows = 64

// Insert writes rows into table (its unqualified name), each row holding one
// value per column of cols, as Exec takes them. It returns how many rows were
// written: with SkipOnConflict, rows whose key was taken are not counted.
// When it fails, the statement that failed wrote nothing and the caller's
// transaction stays usable; on SQLite the rows of the call's earlier
// statements stay written until the caller rolls back. Inside a transaction
// a constraint failure names its row (FailedRow).
func (c Conn) Insert(ctx context.Context, table string, cols []string, rows [][]any, on OnConflict) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	for i, r := range rows {
		if len(r) != len(cols) {
			return 0, fmt.Errorf("insert into %s: %w: row %d has %d values for %d columns", table, errs.ErrInvalid, i, len(r), len(cols))
		}
	}
	if _, ok := c.db.Dialect.(postgres); ok && len(rows) > 1 {
		return c.pgInsert(ctx, table, cols, rows, on)
	}
	// SQLite: a failed statement writes nothing and the transaction goes on.
	return c.insertValues(ctx, table, cols, rows, on, true)
}

// InsertError is the error of an Insert that could name the row that failed:
// rows[Row] (its index in the call's rows).
type InsertError struct {
	Row int
	Err error
}

func (e *InsertError) Error() string { return e.Err.Error() }
func (e *InsertError) Unwrap() error { return e.Err }

// FailedRow is the index of the row a failed Insert names, or -1.
func FailedRow(err error) int {
	var ie *InsertError
	if errors.As(err, &ie) {
		return ie.Row
	}
	return -1
}

// findFailing finds the row a failed multi-row write failed on: the first
// row that fails when the rows are written in order. It bisects inside a
// savepoint that is rolled back whatever happens (a half that goes in stays
// while the search goes on in the other), so it costs about two writes of
// the rows and 2·log2(n) savepoints. It returns that row's error as an
// *InsertError, or orig when no row fails. Only inside a transaction:
// elsewhere the rows before the failing one would stay written.
func (c Conn) findFailing(ctx context.Context, table string, cols []string, rows [][]any, on OnConflict, offset int, orig error) error {
	if !c.tx || len(rows) == 0 || !(errors.Is(orig, errs.ErrConflict) || errors.Is(orig, errs.ErrInvalid)) {
		return orig
	}
	found := orig
	errReplayed := errors.New("replayed")
	c.savepoint(ctx, func() error {
		for len(rows) > 1 {
			half := len(rows) / 2
			err := c.savepoint(ctx, func() error {
				_, err := c.insertValues(ctx, table, cols, rows[:half], on, false)
				return err
			})
			if err != nil {
				rows = rows[:half]
				continue
			}
			rows, offset = rows[half:], offset+half
		}
		if _, err := c.insertValues(ctx, table, cols, rows, on, false); err != nil {
			found = &InsertError{Row: offset, Err: err}
		}
		return errReplayed
	})
	return found
}

// savepoint runs fn inside a savepoint of the caller's transaction, rolled
// back to when fn fails. Outside a transaction it just runs fn.
func (c Conn) savepoint(ctx context.Context, fn func() error) error {
	if !c.tx {
		return fn()
	}
	if _, err := c.q.ExecContext(ctx, "SAVEPOINT butler_bulk"); err != nil {
		return fmt.Errorf("savepoint: %w", c.db.Dialect.Classify(err))
	}
	if err := fn(); err != nil {
		if _, rbErr := c.q.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT butler_bulk"); rbErr == nil {
			c.q.ExecContext(context.WithoutCancel(ctx), "RELEASE SAVEPOINT butler_bulk")
		}
		return err
	}
	if _, err := c.q.ExecContext(ctx, "RELEASE SAVEPOINT butler_bulk"); err != nil {
		return fmt.Errorf("release savepoint: %w", c.db.Dialect.Classify(err))
	}
	return nil
}

// insertValues writes rows with multi-row INSERT … VALUES statements of one
// prepared shape (and one more for the remainder).
func (c Conn) insertValues(ctx context.Context, table string, cols []string, rows [][]any, on OnConflict, diagnose bool) (int64, error) {
	per := max(1, min(sqliteRowsPerStmt, sqliteMaxVars/len(cols)))
	if _, ok := c.db.Dialect.(postgres); ok {
		per = max(1, min(pgInsertRows, pgMaxParams/len(cols)))
	}
	head := "INSERT INTO " + c.db.T(table) + " (" + c.quoteCols(cols) + ") VALUES "
	tail := ""
	if on == SkipOnConflict {
		tail = " ON CONFLICT DO NOTHING"
	}
	row := "(" + Placeholders(len(cols)) + ")"
	stmt := func(k int) string {
		var b strings.Builder
		b.Grow(len(head) + k*(len(row)+2) + len(tail))
		b.WriteString(head)
		for i := range k {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
		}
		b.WriteString(tail)
		return b.String()
	}
	// Full statements of per rows, then the remainder in powers of two, so
	// that a table has a few statement shapes for the caches to keep (a
	// shape per remainder would fill them with statements used once).
	shapes := map[int]string{}
	args := make([]any, 0, min(per, len(rows))*len(cols))
	var n int64
	for start, k := 0, 0; start < len(rows); start += k {
		k = per
		if rest := len(rows) - start; rest < per {
			k = 1 << (bits.Len(uint(rest)) - 1)
		}
		chunk := rows[start : start+k]
		q, ok := shapes[k]
		if !ok {
			q = stmt(k)
			shapes[k] = q
		}
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r...)
		}
		res, err := c.Exec(ctx, q, args...)
		if err != nil {
			if len(chunk) == 1 {
				return n, &InsertError{Row: start, Err: err}
			}
			if !diagnose {
				return n, err
			}
			return n, c.findFailing(ctx, table, cols, chunk, on, start, err)
		}
		if m, err := res.RowsAffected(); err == nil {
			n += m
		}
	}
	return n, nil
}

// PostgreSQL's limit on bind parameters per statement, and the rows of one
// multi-row INSERT below pgCopyMinRows.
const (
	pgMaxParams  = 65535
	pgInsertRows = 1000
)

func (c Conn) quoteCols(cols []string) string {
	q := make([]string, len(cols))
	for i, col := range cols {
		q[i] = c.db.Q(col)
	}
	return strings.Join(q, ", ")
}

// pgInsert writes rows on PostgreSQL with COPY (or, for a few rows, INSERT),
// inside a savepoint when in a transaction.
func (c Conn) pgInsert(ctx context.Context, table string, cols []string, rows [][]any, on OnConflict) (int64, error) {
	var data []byte
	if len(rows) >= pgCopyMinRows {
		var err error
		if data, err = copyText(rows); err != nil && !errors.Is(err, errs.ErrUnsupported) {
			return 0, fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	if data == nil {
		// A few rows, or values COPY cannot render: multi-row INSERTs.
		var n int64
		err := c.savepoint(ctx, func() error {
			var err error
			n, err = c.insertValues(ctx, table, cols, rows, on, false)
			return err
		})
		if err != nil && FailedRow(err) < 0 {
			return 0, c.findFailing(ctx, table, cols, rows, on, 0, err)
		}
		return n, err
	}
	if !c.tx {
		// Temporary table, COPY and INSERT on one connection.
		sc, err := c.db.SQL.Conn(ctx)
		if err != nil {
			return 0, c.db.Dialect.Classify(err)
		}
		defer sc.Close()
		c.q, c.conn = sc, sc
	}
	var n int64
	noTemp := false
	colList := " (" + c.quoteCols(cols) + ")"
	err := c.savepoint(ctx, func() error {
		if on == FailOnConflict {
			var err error
			n, err = c.copyFrom(ctx, "COPY "+c.db.T(table)+colList+" FROM STDIN", data)
			return err
		}
		// A temporary table of the same columns (without constraints),
		// dropped at once so that the next call can make it again.
		tmp := quoteIdent("butler_bulk_" + table)
		if _, err := c.q.ExecContext(ctx, "CREATE TEMPORARY TABLE "+tmp+" (LIKE "+c.db.T(table)+")"); err != nil {
			if pgCode(err) == "42501" {
				noTemp = true // no TEMPORARY privilege on the database
			}
			return c.db.Dialect.Classify(err)
		}
		if _, err := c.copyFrom(ctx, "COPY "+tmp+colList+" FROM STDIN", data); err != nil {
			return err
		}
		res, err := c.q.ExecContext(ctx, "INSERT INTO "+c.db.T(table)+colList+" SELECT "+c.quoteCols(cols)+" FROM "+tmp+" ON CONFLICT DO NOTHING")
		if err != nil {
			return c.db.Dialect.Classify(err)
		}
		n, _ = res.RowsAffected()
		if _, err := c.q.ExecContext(ctx, "DROP TABLE "+tmp); err != nil {
			return c.db.Dialect.Classify(err)
		}
		return nil
	})
	if noTemp {
		// Without a temporary table: multi-row INSERT … ON CONFLICT DO NOTHING.
		err = c.savepoint(ctx, func() error {
			var err error
			n, err = c.insertValues(ctx, table, cols, rows, on, false)
			return err
		})
	}
	if err != nil {
		return 0, c.findFailing(ctx, table, cols, rows, on, 0, err)
	}
	return n, nil
}

// copyFrom runs a COPY … FROM STDIN of data on c's own PostgreSQL
// connection (nothing else may use it meanwhile: database/sql holds its lock).
func (c Conn) copyFrom(ctx context.Context, query string, data []byte) (int64, error) {
	if c.conn == nil {
		return 0, fmt.Errorf("bulk insert: %w: no connection of its own", errs.ErrUnsupported)
	}
	var n int64
	err := c.conn.Raw(func(dc any) error {
		raw, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("bulk insert: %w: driver connection %T is not pgx's", errs.ErrUnsupported, dc)
		}
		tag, err := raw.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), query)
		if err != nil {
			return c.db.Dialect.Classify(err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return n, err
}

// copyText renders rows in COPY's text format: tab-separated values, \N for
// NULL, backslash escapes, one line per row.
func copyText(rows [][]any) ([]byte, error) {
	b := make([]byte, 0, len(rows)*len(rows[0])*12)
	for _, r := range rows {
		for i, v := range r {
			if i > 0 {
				b = append(b, '\t')
			}
			var err error
			if b, err = appendCopyValue(b, v); err != nil {
				return nil, fmt.Errorf("column %d: %w", i+1, err)
			}
		}
		b = append(b, '\n')
	}
	return b, nil
}

func appendCopyValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, `\N`...), nil
	case string:
		return appendCopyString(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return append(b, "NaN"...), nil
		case math.IsInf(x, 1):
			return append(b, "Infinity"...), nil
		case math.IsInf(x, -1):
			return append(b, "-Infinity"...), nil
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64), nil
	case float32:
		return strconv.AppendFloat(b, float64(x), 'g', -1, 32), nil
	case bool:
		if x {
			return append(b, 't'), nil
		}
		return append(b, 'f'), nil
	case []byte:
		if x == nil {
			return append(b, `\N`...), nil
		}
		b = append(b, `\\x`...) // bytea hex input, its backslash escaped for COPY
		const hex = "0123456789abcdef"
		for _, c := range x {
			b = append(b, hex[c>>4], hex[c&15])
		}
		return b, nil
	case time.Time:
		return x.UTC().AppendFormat(b, "2006-01-02 15:04:05.999999999Z07:00"), nil
	case sql.NullString:
		if !x.Valid {
			return append(b, `\N`...), nil
		}
		return appendCopyString(b, x.String), nil
	case sql.NullInt64:
		if !x.Valid {
			return append(b, `\N`...), nil
		}
		return strconv.AppendInt(b, x.Int64, 10), nil
	case sql.NullFloat64:
		if !x.Valid {
			return append(b, `\N`...), nil
		}
		return appendCopyValue(b, x.Float64)
	case sql.NullBool:
		if !x.Valid {
			return append(b, `\N`...), nil
		}
		return appendCopyValue(b, x.Bool)
	}
	return nil, fmt.Errorf("%w: no COPY encoding for a %T value", errs.ErrUnsupported, v)
}

// appendCopyString escapes a text value for COPY: backslash, and the
// characters that end a value or a line.
func appendCopyString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
