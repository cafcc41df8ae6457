package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// readOnlyWhy says why writes are refused when the database was opened
	// writeable but the user's grants allow reading only.
	readOnlyWhy string
	// wal is set for a SQLite database in WAL mode (on a local disk).
	wal bool
	// pgSeen, on PostgreSQL, tells a statement's first execution (see once.go).
	pgSeen *pgFirstUse
	// tables holds the names of tables seen to exist outside a transaction:
	// the registry never drops one, so the answer stays true (a server asked
	// for the file records table at every get_file, a catalog query each).
	tables sync.Map
}

// sqliteMmapSize bounds the memory map of a bulk read (SQLite's own limit,
// SQLITE_MAX_MMAP_SIZE, is 2 GB; beyond the map pages are read as usual).
const sqliteMmapSize = 1 << 40

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
	// cache_size: SQLite's default 2 MB page cache spills dirty pages to the
	// journal in the middle of a bulk transaction (define-visits, ingest,
	// import write many index pages); up to 64 MB, allocated only as used,
	// keeps them in memory until the commit.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=" + mode +
		"&_pragma=busy_timeout(300000)&_pragma=foreign_keys(1)&_pragma=cache_size(-65536)&_pragma=temp_store(memory)&_txlock=immediate"
	if create {
		// A database being created has nothing to roll back to: a failed create
		// removes the file. Keeping the journal in memory saves most of the fsyncs.
		dsn += "&_pragma=journal_mode(memory)"
	}
	// A WAL database (chosen when it was created on a local disk) commits
	// without an fsync at synchronous=NORMAL and stays consistent after a
	// crash; every pooled connection needs the pragma, so it goes in the DSN.
	walDSN := dsn + "&_pragma=synchronous(normal)"
	wal, known := false, create
	if !create {
		// The file header says so without opening a connection (each one
		// parses the whole schema: a few ms of every command's start-up).
		wal, known = walHeader(path)
		if wal {
			dsn = walDSN
		}
	}
	db, err := openSQLiteDB(dsn)
	if err != nil {
		return nil, fmt.Errorf("open registry %q: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open registry %q: %w", path, sqlite{}.Classify(err))
	}
	walAfter := false
	if !known {
		var jm string
		if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&jm); err == nil && strings.EqualFold(jm, "wal") {
			walAfter = true
			db.Close()
			if db, err = openSQLiteDB(walDSN); err != nil {
				return nil, fmt.Errorf("open registry %q: %w", path, err)
			}
		}
	}
	return &DB{SQL: db, Dialect: sqlite{}, ReadOnly: readOnly, where: path, wal: wal || (!known && walAfter)}, nil
}

// walHeader reads whether the SQLite database at path is in WAL mode from
// its header (the file format versions at offsets 18 and 19 are 2 for WAL, 1
// for the rollback journal); known is false when the header cannot be read.
func walHeader(path string) (wal, known bool) {
	f, err := os.Open(path)
	if err != nil {
		return false, false
	}
	defer f.Close()
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:16]) != "SQLite format 3\x00" {
		return false, false
	}
	switch {
	case h[18] == 2 && h[19] == 2:
		return true, true
	case h[18] == 1 && h[19] == 1:
		return false, true
	}
	return false, false
}

// JournalMode is the SQLite journal mode a new repository at path gets: "wal"
// on a local file system, "delete" (the rollback journal, as the Python butler
// uses) on network file systems such as NFS, GPFS and Lustre, where WAL is
// unsafe. BUTLER_SQLITE_JOURNAL=wal|delete overrides the choice.
func JournalMode(path string) string {
	switch m := strings.ToLower(os.Getenv("BUTLER_SQLITE_JOURNAL")); m {
	case "wal", "delete":
		return m
	}
	if localFS(filepath.Dir(path)) {
		return "wal"
	}
	return "delete"
}

// SetJournalMode switches a new SQLite database's (persistent) journal mode.
func SetJournalMode(ctx context.Context, path, mode string) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=rw&_pragma=busy_timeout(300000)")
	if err != nil {
		return err
	}
	defer db.Close()
	var got string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode="+mode).Scan(&got); err != nil {
		return fmt.Errorf("set journal mode of %q: %w", path, err)
	}
	if !strings.EqualFold(got, mode) {
		return fmt.Errorf("set journal mode of %q: SQLite kept %q instead of %q", path, got, mode)
	}
	return nil
}

// SetJournalMode switches the (persistent) journal mode of a SQLite database
// this process just created and nobody else has opened yet.
func (db *DB) SetJournalMode(ctx context.Context, mode string) error {
	c, err := db.SQL.Conn(ctx)
	if err != nil {
		return fmt.Errorf("set journal mode of %q: %w", db.where, err)
	}
	defer c.Close()
	var got string
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode="+mode).Scan(&got); err != nil {
		return fmt.Errorf("set journal mode of %q: %w", db.where, err)
	}
	if !strings.EqualFold(got, mode) {
		return fmt.Errorf("set journal mode of %q: SQLite kept %q instead of %q", db.where, got, mode)
	}
	return nil
}

// Close closes the pool.
func (db *DB) Close() error { return db.SQL.Close() }

// String describes the database without secrets.
func (db *DB) String() string { return db.where }

// T returns the qualified, quoted name of a table.
func (db *DB) T(name string) string { return db.Dialect.Table(db.Schema, name) }

// AutoID returns what an INSERT into table adds for its autoincrement column:
// the quoted column and its value expression, each followed by ", ", or two
// empty strings where the database fills the column itself.
func (db *DB) AutoID(table, column string) (col, val string) {
	next := db.Dialect.NextID(db.Schema, table, column)
	if next == "" {
		return "", ""
	}
	return db.Q(column) + ", ", next + ", "
}

// Q quotes an identifier.
func (db *DB) Q(name string) string { return db.Dialect.Quote(name) }

// ReadOnlyError is the error of a write attempted on a read-only registry.
func (db *DB) ReadOnlyError() error {
	why := db.readOnlyWhy
	if why == "" {
		why = "opened read-only"
	}
	return fmt.Errorf("registry %s: %w: %s", db.where, errs.ErrReadOnly, why)
}

// Querier is what both *sql.DB and *sql.Tx offer.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Conn runs statements outside or inside a transaction, rebinding placeholders and
// classifying errors.
//
// Outside a transaction, a query whose connection was lost or refused (a
// server restart) is tried again for up to retryFor: reads are safe to repeat.
// Statements are not, and neither is anything inside a transaction.
type Conn struct {
	q  Querier
	db *DB
	tx bool
	// conn is the connection a PostgreSQL transaction runs on, which bulk
	// inserts reach for COPY.
	conn *sql.Conn
}

// retryFor bounds how long reads wait for a restarting server.
const retryFor = 30 * time.Second

// Exec runs a statement.
func (c Conn) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query = c.db.Dialect.Rebind(query)
	r, err := c.q.ExecContext(ctx, query, c.db.args(query, args)...)
	return r, c.db.Dialect.Classify(err)
}

// Query runs a query.
func (c Conn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = c.db.Dialect.Rebind(query)
	args = c.db.args(query, args)
	r, err := c.q.QueryContext(ctx, query, args...)
	for wait := c.retrying(); err != nil && wait != nil && c.db.Dialect.Transient(err) && wait(ctx); {
		r, err = c.q.QueryContext(ctx, query, args...)
	}
	return r, c.db.Dialect.Classify(err)
}

// QueryRow runs a one-row query.
func (c Conn) QueryRow(ctx context.Context, query string, args ...any) Row {
	query = c.db.Dialect.Rebind(query)
	args = c.db.args(query, args)
	r := c.q.QueryRowContext(ctx, query, args...)
	for wait := c.retrying(); r.Err() != nil && wait != nil && c.db.Dialect.Transient(r.Err()) && wait(ctx); {
		r = c.q.QueryRowContext(ctx, query, args...)
	}
	return Row{r: r, d: c.db.Dialect}
}

// Row is a one-row result whose Scan classifies errors like Query and Exec do
// (a lost connection is transient), keeping sql.ErrNoRows visible to IsNoRows.
type Row struct {
	r *sql.Row
	d Dialect
}

// Scan copies the row's columns into dest.
func (r Row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return r.d.Classify(err)
}

// ErrCommitUnknown marks a commit whose outcome is unknown (the connection was
// lost while committing): callers must not undo side effects such as files.
var ErrCommitUnknown = errors.New("commit outcome unknown")

// retrying returns the back-off of a read outside a transaction (nil inside
// one): it sleeps and reports whether to try again.
func (c Conn) retrying() func(context.Context) bool {
	if c.tx {
		return nil
	}
	deadline := time.Now().Add(retryFor)
	delay := 50 * time.Millisecond
	return func(ctx context.Context) bool {
		if time.Now().Add(delay).After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
		return true
	}
}

// BulkReader returns a connection for reading a large result, such as a
// listing of every dataset of a type, and the function that gives it back
// (call it once the rows are closed).
//
// On a SQLite database in WAL mode (so on a local disk) the connection reads
// through a memory map. A listing in data ID order visits the tags table's
// pages in another order than they were written (exposure by exposure), so
// with SQLite's 2 MiB page cache every row was a page read: a 1M-raw listing
// took 15 s, 8 s mapped. The map is only for bulk reads because a short
// query pays for it: a page fault per page touched, and an munmap (a
// one-day query took 14 ms instead of 4). The mapped pages are the kernel's
// page cache, counted in RSS but not allocated by this process.
func (db *DB) BulkReader(ctx context.Context) (Conn, func(), error) {
	if !db.wal {
		return db.Conn(), func() {}, nil
	}
	c, err := db.SQL.Conn(ctx)
	if err != nil {
		return Conn{}, nil, fmt.Errorf("open registry connection: %w", db.Dialect.Classify(err))
	}
	if _, err := c.ExecContext(ctx, "PRAGMA mmap_size = "+strconv.Itoa(sqliteMmapSize)); err != nil {
		c.Close()
		return Conn{}, nil, fmt.Errorf("map registry for reading: %w", db.Dialect.Classify(err))
	}
	release := func() {
		// Unmapped again before it returns to the pool for short queries.
		c.ExecContext(context.WithoutCancel(ctx), "PRAGMA mmap_size = 0")
		c.Close()
	}
	return Conn{q: c, db: db}, release, nil
}

// DB returns the database the connection belongs to.
func (c Conn) DB() *DB { return c.db }

// Conn returns a non-transactional connection.
func (db *DB) Conn() Conn { return Conn{q: db.SQL, db: db} }

// Tx runs fn in one transaction, committing when it returns nil.
//
// When the connection is lost inside the transaction (a server restart;
// errors.Is(err, errs.ErrBusy) and IsTransient(err)), nothing was committed and
// the caller may run the whole transaction again once it has undone fn's side
// effects outside the database. A connection lost during COMMIT itself leaves
// the outcome unknown; the error says so.
func (db *DB) Tx(ctx context.Context, fn func(Conn) error) error {
	if db.ReadOnly {
		return db.ReadOnlyError()
	}
	begin := func() (*sql.Tx, *sql.Conn, error) {
		if _, ok := db.Dialect.(postgres); !ok {
			tx, err := db.SQL.BeginTx(ctx, nil)
			return tx, nil, err
		}
		// On its own connection, so that bulk inserts can COPY on it.
		sc, err := db.SQL.Conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		tx, err := sc.BeginTx(ctx, nil)
		if err != nil {
			sc.Close()
			return nil, nil, err
		}
		return tx, sc, nil
	}
	tx, sc, err := begin()
	for wait := (Conn{db: db}).retrying(); err != nil && db.Dialect.Transient(err) && wait(ctx); {
		tx, sc, err = begin() // nothing has happened yet: safe to repeat
	}
	if err != nil {
		return fmt.Errorf("begin transaction: %w", db.Dialect.Classify(err))
	}
	if sc != nil {
		defer sc.Close()
	}
	if err := fn(Conn{q: tx, db: db, tx: true, conn: sc}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		if db.Dialect.Transient(err) {
			return fmt.Errorf("commit: %w: %w: the connection to %s was lost while committing, so the changes may or may not have been saved: %w",
				errs.ErrBusy, ErrCommitUnknown, db.where, err)
		}
		return fmt.Errorf("commit: %w", db.Dialect.Classify(err))
	}
	return nil
}

// CreateTables runs the DDL of every table in one transaction, as one script
// (one round trip; statement by statement, a new repository's hundred-odd
// statements each paid a driver call or, on PostgreSQL, a round trip). On
// PostgreSQL new tables get the grants of the collection table (see
// postgres.inheritGrants).
func (db *DB) CreateTables(ctx context.Context, c Conn, tables []Table) error {
	var script strings.Builder
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
		for _, stmt := range db.Dialect.CreateTable(db.Schema, t) {
			script.WriteString(stmt)
			script.WriteString(";\n")
		}
	}
	if script.Len() > 0 {
		// No bind values: SQLite and pgx run a script as its statements in order.
		if _, err := c.Exec(ctx, script.String()); err != nil {
			return fmt.Errorf("create table %s: %w", strings.Join(names, ", "), err)
		}
	}
	if pg, ok := db.Dialect.(postgres); ok {
		return pg.inheritGrants(ctx, c, db.Schema, tables)
	}
	return nil
}

// TableExists reports whether a table exists.
func (db *DB) TableExists(ctx context.Context, c Conn, name string) (bool, error) {
	if _, ok := db.tables.Load(name); ok {
		return true, nil
	}
	var n int
	var err error
	if db.Dialect.Name() == "sqlite" {
		err = c.QueryRow(ctx, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", name).Scan(&n)
	} else {
		// pg_tables, unlike information_schema, lists tables the user has no grant on.
		err = c.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname=? AND tablename=?", db.Schema, name).Scan(&n)
	}
	if err == nil && n > 0 && !c.tx {
		// Inside a transaction the table may be its own, gone if it rolls back.
		db.tables.Store(name, true)
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
