package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"

	msqlite "modernc.org/sqlite"
)

// SQLite connections keep their prepared statements: parsing a statement cost
// more than running it (a put ran a dozen statements, a find four, each parsed
// anew every time). pgx caches prepared statements per connection itself; the
// SQLite driver does not, so each pooled SQLite connection gets a cache of its
// parameterised statements, keyed by their text.
//
// A cached statement stays correct when another process changes the schema:
// SQLite re-prepares a statement whose schema changed (sqlite3_prepare_v2).
// Statements without arguments (DDL, pragmas, scripts) are not cached.

// maxCachedStmts bounds the statements one connection keeps; statements beyond
// it (such as IN lists of many lengths) are prepared and finalized as before.
const maxCachedStmts = 256

// openSQLiteDB opens a database/sql pool over the SQLite driver whose
// connections cache their prepared statements.
func openSQLiteDB(dsn string) (*sql.DB, error) {
	c, err := msqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(cachingConnector{c}), nil
}

type cachingConnector struct{ driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

// cachingConn is a driver connection with a statement cache. database/sql
// uses a connection from one goroutine at a time, so the cache needs no lock;
// a statement whose rows are still open (a nested query of the same text) is
// busy, and the nested query runs uncached.
type cachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	st   driver.Stmt
	busy bool
}

// The optional interfaces of the SQLite driver's connection, forwarded.
type sqliteConn interface {
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

func (c *cachingConn) inner() sqliteConn { return c.Conn.(sqliteConn) }

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner().BeginTx(ctx, opts)
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner().PrepareContext(ctx, query)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.inner().Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error { return c.inner().ResetSession(ctx) }

func (c *cachingConn) IsValid() bool { return c.inner().IsValid() }

// Close finalizes the cached statements and closes the connection.
func (c *cachingConn) Close() error {
	var errList []error
	for q, s := range c.stmts {
		errList = append(errList, s.st.Close())
		delete(c.stmts, q)
	}
	return errors.Join(append(errList, c.Conn.Close())...)
}

// stmt returns the cached statement of query, preparing it when new, or nil
// when the query is not to be cached or its statement is in use.
func (c *cachingConn) stmt(ctx context.Context, query string, nargs int) *cachedStmt {
	if nargs == 0 {
		return nil
	}
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil
		}
		return s
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil
	}
	st, err := c.inner().PrepareContext(ctx, query)
	if err != nil {
		return nil // the uncached path reports the error as it always did
	}
	if _, ok := st.(driver.StmtQueryContext); !ok {
		st.Close()
		return nil
	}
	s := &cachedStmt{st: st}
	c.stmts[query] = s
	return s
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s := c.stmt(ctx, query, len(args))
	if s == nil {
		return c.inner().ExecContext(ctx, query, args)
	}
	s.busy = true
	defer func() { s.busy = false }()
	return s.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s := c.stmt(ctx, query, len(args))
	if s == nil {
		return c.inner().QueryContext(ctx, query, args)
	}
	s.busy = true
	rows, err := s.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		s.busy = false
		return nil, err
	}
	return &cachedRows{Rows: rows, s: s}, nil
}

// cachedRows are the rows of a cached statement; closing them frees it.
type cachedRows struct {
	driver.Rows
	s *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.s != nil {
		r.s.busy = false
		r.s = nil
	}
	return err
}

// The column type interfaces of the SQLite driver's rows, forwarded.

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
