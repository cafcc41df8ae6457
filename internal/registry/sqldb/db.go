package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/gobutler/butler/errs"
	_ "modernc.org/sqlite" // registers driver "sqlite"
)

// DB is an open registry database.
type DB struct {
	SQL      *sql.DB
	Dialect  Dialect
	Schema   string // PostgreSQL namespace; "" for SQLite
	ReadOnly bool
	where    string // redacted description for messages
}

// OpenSQLite opens (create=true: creates) the SQLite database at path. Every
// pooled connection gets the pragmas through the DSN; writers start with BEGIN
// IMMEDIATE so two processes wait for each other instead of failing.
func OpenSQLite(ctx context.Context, path string, create, readOnly bool) (*DB, error) {
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open registry %q: %w: %w", path, errs.ErrNotFound, err)
		}
	}
	mode := "rw"
	switch {
	case readOnly:
		mode = "ro"
	case create:
		mode = "rwc"
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=" + mode +
		"&_pragma=busy_timeout(300000)&_pragma=foreign_keys(1)&_txlock=immediate"
	if create {
		// A database being created has nothing to roll back to: a failed create
		// removes the file. Keeping the journal in memory saves most of the fsyncs.
		dsn += "&_pragma=journal_mode(memory)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open registry %q: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open registry %q: %w", path, sqlite{}.Classify(err))
	}
	return &DB{SQL: db, Dialect: sqlite{}, ReadOnly: readOnly, where: path}, nil
}

// Close closes the pool.
func (db *DB) Close() error { return db.SQL.Close() }

// String describes the database without secrets.
func (db *DB) String() string { return db.where }

// T returns the qualified, quoted name of a table.
func (db *DB) T(name string) string { return db.Dialect.Table(db.Schema, name) }

// Q quotes an identifier.
func (db *DB) Q(name string) string { return db.Dialect.Quote(name) }

// Querier is what both *sql.DB and *sql.Tx offer.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Conn runs statements outside or inside a transaction, rebinding placeholders and
// classifying errors.
type Conn struct {
	q  Querier
	db *DB
}

// Exec runs a statement.
func (c Conn) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	r, err := c.q.ExecContext(ctx, c.db.Dialect.Rebind(query), args...)
	return r, c.db.Dialect.Classify(err)
}

// Query runs a query.
func (c Conn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	r, err := c.q.QueryContext(ctx, c.db.Dialect.Rebind(query), args...)
	return r, c.db.Dialect.Classify(err)
}

// QueryRow runs a one-row query.
func (c Conn) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.db.Dialect.Rebind(query), args...)
}

// DB returns the database the connection belongs to.
func (c Conn) DB() *DB { return c.db }

// Conn returns a non-transactional connection.
func (db *DB) Conn() Conn { return Conn{q: db.SQL, db: db} }

// Tx runs fn in one transaction, committing when it returns nil.
func (db *DB) Tx(ctx context.Context, fn func(Conn) error) error {
	if db.ReadOnly {
		return fmt.Errorf("registry %s: %w: opened read-only", db.where, errs.ErrReadOnly)
	}
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", db.Dialect.Classify(err))
	}
	if err := fn(Conn{q: tx, db: db}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", db.Dialect.Classify(err))
	}
	return nil
}

// CreateTables runs the DDL of every table in one transaction.
func (db *DB) CreateTables(ctx context.Context, c Conn, tables []Table) error {
	for _, t := range tables {
		for _, stmt := range db.Dialect.CreateTable(db.Schema, t) {
			if _, err := c.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("create table %s: %w", t.Name, err)
			}
		}
	}
	return nil
}

// TableExists reports whether a table exists.
func (db *DB) TableExists(ctx context.Context, c Conn, name string) (bool, error) {
	var n int
	var err error
	if db.Dialect.Name() == "sqlite" {
		err = c.QueryRow(ctx, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", name).Scan(&n)
	} else {
		err = c.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema=? AND table_name=?", db.Schema, name).Scan(&n)
	}
	return n > 0, err
}

// Placeholders returns "?, ?, ?" for n values.
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
