package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gobutler/butler/errs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Pool limits of a PostgreSQL registry. A butler process rarely needs more
// than a few connections at once; keeping the pool small leaves the server's
// max_connections (100 by default) for the many users of a shared server.
const (
	pgMaxOpen     = 10
	pgMaxIdle     = 4
	pgIdleTimeout = 5 * time.Minute
	pgLifetime    = time.Hour
)

// OpenPostgres connects to the PostgreSQL registry database at dsn, in the
// given schema (registry.namespace; "" means the user's current schema).
// dsn may hold a password and is never shown: messages use redacted.
//
// With create, a missing schema is created; otherwise it must exist. With
// readOnly, every transaction of every connection is read-only. A user whose
// grants allow reading only gets a read-only DB (writes fail with
// errs.ErrReadOnly saying so) even when it was opened for writing.
//
// At connect it checks what daf_butler checks: the btree_gist extension
// (advising `CREATE EXTENSION btree_gist;` when missing); every connection
// uses time zone UTC (daf_butler's SET TIME ZONE 0) and the schema as its
// search_path, though all statements name the schema anyway.
func OpenPostgres(ctx context.Context, dsn, redacted, schema string, create, readOnly bool) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// ParseConfigError masks passwords, but its inner error is enough.
		msg := "not a PostgreSQL connection URL"
		var pce *pgconn.ParseConfigError
		if errors.As(err, &pce) && pce.Unwrap() != nil {
			msg = pce.Unwrap().Error()
		}
		return nil, fmt.Errorf("registry %s: %w: %s", redacted, errs.ErrInvalid, msg)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	if !strings.Contains(dsn, "sslmode") && isLoopback(cfg.Host) {
		// pgx's default (prefer) tries TLS first and, on a server without it,
		// connects a second time: 15-30 ms of every command. Traffic that never
		// leaves the machine gains nothing from TLS; say sslmode=... to choose.
		cfg.TLSConfig = nil
		var keep []*pgconn.FallbackConfig
		for _, f := range cfg.Fallbacks {
			if f.Host != cfg.Host || f.Port != cfg.Port {
				keep = append(keep, f)
			}
		}
		cfg.Fallbacks = keep
	}
	cfg.RuntimeParams["timezone"] = "UTC"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "butler"
	}
	if readOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if schema != "" {
		cfg.RuntimeParams["search_path"] = quoteIdent(schema)
	}
	d := postgres{user: cfg.User, database: cfg.Database, schema: schema, url: redacted}
	pool := stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(pgShouldPing))
	pool.SetMaxOpenConns(pgMaxOpen)
	pool.SetMaxIdleConns(pgMaxIdle)
	pool.SetConnMaxIdleTime(pgIdleTimeout)
	pool.SetConnMaxLifetime(pgLifetime)
	db := &DB{SQL: pool, Dialect: d, Schema: schema, ReadOnly: readOnly, where: redacted, pgSeen: &pgFirstUse{}}
	if err := d.connect(ctx, db, create); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// pgShouldPing says whether a pooled connection is checked before it is
// used again: after a second of rest, as pgx does by default, but not the
// first time, when pgx counts the rest from the zero time (a connection
// just opened was a round trip of every command).
func pgShouldPing(_ context.Context, p stdlib.ShouldPingParams) bool {
	return p.IdleDuration > time.Second && p.IdleDuration < 100*365*24*time.Hour
}

// connect checks the server, extension, schema and grants, completing db.
//
// It costs the connection and one round trip: the checks are one statement,
// not prepared (a prepared statement's first use is a second round trip),
// and nothing pings the new connection (see pgShouldPing).
func (d postgres) connect(ctx context.Context, db *DB, create bool) error {
	conn, err := db.SQL.Conn(ctx)
	// A server that is starting up or recovering refuses connections briefly.
	for wait := (Conn{db: db}).retrying(); err != nil && pgCode(err) == "57P03" && wait(ctx); {
		conn, err = db.SQL.Conn(ctx)
	}
	if err != nil {
		return d.connectError(err)
	}
	defer conn.Close()
	st, err := d.check(ctx, conn)
	if err != nil {
		return err
	}
	if st.extensions == 0 {
		return fmt.Errorf("registry %s: %w: the butler needs the btree_gist extension in database %q; "+
			"its owner (or a superuser) must run once, in that database: CREATE EXTENSION btree_gist;", d.url, errs.ErrUnsupported, d.database)
	}
	if !st.schema.Valid {
		return fmt.Errorf("registry %s: %w: no registry.namespace is set and user %q has no current schema; set registry.namespace", d.url, errs.ErrInvalid, d.user)
	}
	d.schema = st.schema.String
	db.Schema, db.Dialect = d.schema, d
	db.where = fmt.Sprintf("%s (schema %s)", d.url, d.schema)
	if !st.exists {
		if !create {
			return fmt.Errorf("registry %s: %w: schema %q does not exist in database %q", d.url, errs.ErrNotFound, d.schema, d.database)
		}
		if _, err := (Conn{q: conn, db: db}).Exec(ctx, "CREATE SCHEMA "+quoteIdent(d.schema)); err != nil && !errors.Is(err, errs.ErrConflict) {
			if pgCode(err) == "42501" {
				return fmt.Errorf("registry %s: %w: user %q may not create schema %q in database %q; ask its owner to run: CREATE SCHEMA %s;",
					d.url, errs.ErrPermission, d.user, d.schema, d.database, quoteIdent(d.schema))
			}
			return fmt.Errorf("registry %s: create schema %q: %w", d.url, d.schema, err)
		}
		if st, err = d.check(ctx, conn); err != nil {
			return err
		}
	}
	if !st.usage.Bool {
		return fmt.Errorf("registry %s: %w: user %q has no access to schema %q; its owner can grant it with: butler share REPO %s --read-only (or --read-write)",
			d.url, errs.ErrPermission, d.user, d.schema, d.user)
	}
	if !db.ReadOnly && !st.canWrite.Bool {
		// A collaborator granted read-only access gets a read-only registry, so
		// that writes fail with one plain message instead of at some statement.
		db.ReadOnly = true
		db.readOnlyWhy = fmt.Sprintf("user %q has read-only access to schema %q (its owner can grant more with: butler share REPO %s --read-write)", d.user, d.schema, d.user)
	}
	return nil
}

// pgState is what connect checks.
type pgState struct {
	extensions int64          // btree_gist installed: 1
	schema     sql.NullString // the registry schema (registry.namespace, else the user's current schema)
	exists     bool           // the schema exists
	usage      sql.NullBool   // the user may use it (NULL when it does not exist)
	canWrite   sql.NullBool   // the user may insert into its collection table, or it has none
}

// pgCheck is connect's one statement; $1 is the schema, "" for the user's current one.
const pgCheck = `SELECT
  (SELECT count(*) FROM pg_catalog.pg_extension WHERE extname = 'btree_gist'),
  s.name, n.oid IS NOT NULL,
  CASE WHEN n.oid IS NOT NULL THEN has_schema_privilege(s.name, 'USAGE') END,
  CASE WHEN n.oid IS NULL THEN NULL
       WHEN NOT has_schema_privilege(s.name, 'USAGE') THEN NULL
       WHEN to_regclass(quote_ident(s.name) || '.collection') IS NULL THEN true
       ELSE has_table_privilege(quote_ident(s.name) || '.collection', 'INSERT') END
FROM (SELECT coalesce(nullif($1::text, ''), current_schema()) AS name) s
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.name`

func (d postgres) check(ctx context.Context, conn *sql.Conn) (pgState, error) {
	var st pgState
	// One use per connection: sent with its argument in one round trip
	// instead of prepared first.
	err := conn.QueryRowContext(ctx, pgCheck, pgx.QueryExecModeExec, d.schema).Scan(&st.extensions, &st.schema, &st.exists, &st.usage, &st.canWrite)
	if err != nil {
		return st, fmt.Errorf("registry %s: check extension, schema and privileges: %w", d.url, d.Classify(err))
	}
	return st, nil
}

func (d postgres) connectError(err error) error {
	who := fmt.Sprintf("connect to registry %s as user %q", d.url, d.user)
	var pe *pgconn.PgError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000"):
		return fmt.Errorf("%s: %w: the server refused the credentials (check the password in your db-auth file, ~/.lsst/db-auth.yaml or $LSST_DB_AUTH): %s", who, errs.ErrPermission, pe.Message)
	case errors.As(err, &pe) && pe.Code == "3D000":
		return fmt.Errorf("%s: %w: %s", who, errs.ErrNotFound, pe.Message)
	case errors.As(err, &pe) && pe.Code == "53300":
		return fmt.Errorf("%s: %w: the server has no free connections: %s", who, errs.ErrBusy, pe.Message)
	case errors.As(err, &pe):
		return fmt.Errorf("%s: %w", who, d.Classify(err))
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%s: %w: unknown host %q", who, errs.ErrNotFound, dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: %w: nothing is listening there (is the server running, and are host and port right?)", who, errs.ErrNotFound)
	case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) || isNetTimeout(err):
		return fmt.Errorf("%s: %w: timed out (is the host reachable from here?)", who, errs.ErrBusy)
	case d.Transient(err):
		return fmt.Errorf("%s: %w: the server closed the connection while it was being opened (is it restarting?); try again: %w", who, errs.ErrBusy, err)
	}
	return fmt.Errorf("%s: %w", who, err)
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// postgres is the PostgreSQL dialect of one connection; the user and schema
// are there for messages.
type postgres struct {
	user, database, schema, url string
}

func (postgres) Name() string                { return "postgresql" }
func (postgres) Quote(s string) string       { return quoteIdent(s) }
func (postgres) SupportsTimespanRange() bool { return true }

// NextID draws from daf_butler's sequence <table>_seq_<column>: repositories
// the Python butler made have no column default to fall back on.
func (d postgres) NextID(schema, table, column string) string {
	return "nextval('" + strings.ReplaceAll(d.Table(schema, shrinkName(table+"_seq_"+column)), "'", "''") + "')"
}

func (postgres) Table(schema, name string) string {
	if schema == "" {
		return quoteIdent(name)
	}
	return quoteIdent(schema) + "." + quoteIdent(name)
}

// UUIDValue is the canonical text form, which PostgreSQL casts to uuid.
func (postgres) UUIDValue(b [16]byte) any {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Rebind renders GlobMatch and numbers '?' placeholders $1, $2… outside
// string literals and quoted identifiers.
func (postgres) Rebind(q string) string {
	if strings.Contains(q, globOpen) {
		q = expandGlobs(q, func(expr, pattern string) string { return "((" + expr + ")::text ~ " + pattern + ")" })
	}
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte // the quote character we are inside, or 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Args turns GlobPatterns into anchored POSIX regular expressions.
func (postgres) Args(args []any) []any {
	for i, a := range args {
		if g, ok := a.(GlobPattern); ok {
			args = append([]any(nil), args...)
			args[i] = globRegexp(string(g))
		}
	}
	return args
}

// globRegexp translates a SQLite GLOB pattern (* ? [set] [^set], no escape
// character, case-sensitive) into an equivalent anchored regular expression.
func globRegexp(p string) string {
	var b strings.Builder
	b.WriteByte('^')
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteByte('.')
		case '[':
			j := i + 1
			if j < len(p) && (p[j] == '^' || p[j] == '!') {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++ // a leading ] is a member
			}
			for j < len(p) && p[j] != ']' {
				j++
			}
			if j >= len(p) {
				b.WriteString(`\[`) // unclosed: a literal [
				continue
			}
			set := p[i+1 : j]
			b.WriteByte('[')
			if set != "" && (set[0] == '^' || set[0] == '!') {
				b.WriteByte('^')
				set = set[1:]
			}
			b.WriteString(strings.ReplaceAll(set, `\`, `\\`))
			b.WriteByte(']')
			i = j
		default:
			if strings.IndexByte(`\.+()|{}^$]`, c) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
	}
	b.WriteByte('$')
	return b.String()
}

// TimespanArgs writes an int8range literal; unbounded ends are NULL bounds
// and an empty span is 'empty', as daf_butler stores them.
func (postgres) TimespanArgs(begin, end int64, valid bool) []any {
	if !valid {
		return []any{nil}
	}
	if begin >= end {
		return []any{"empty"}
	}
	lo, hi := "", ""
	if begin > TimespanMin {
		lo = strconv.FormatInt(begin, 10)
	}
	if end < TimespanMax {
		hi = strconv.FormatInt(end, 10)
	}
	return []any{"[" + lo + "," + hi + ")"}
}

// ScanTimespan parses int8range text: "[a,b)", "(,b)", "[a,)", "empty".
func (postgres) ScanTimespan(vals []any) (begin, end int64, valid bool, err error) {
	if len(vals) != 1 {
		return 0, 0, false, fmt.Errorf("timespan: %w: %d columns, want 1", errs.ErrInvalid, len(vals))
	}
	var s string
	switch x := vals[0].(type) {
	case nil:
		return 0, 0, false, nil
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return 0, 0, false, fmt.Errorf("timespan: %w: %v (%T) is not a range", errs.ErrInvalid, x, x)
	}
	if s == "empty" {
		return TimespanMax, TimespanMin, true, nil
	}
	bad := fmt.Errorf("timespan: %w: %q is not an int8range", errs.ErrInvalid, s)
	if len(s) < 3 {
		return 0, 0, false, bad
	}
	lo, hi, ok := strings.Cut(s[1:len(s)-1], ",")
	if !ok {
		return 0, 0, false, bad
	}
	begin, end = TimespanMin, TimespanMax
	if lo != "" {
		if begin, err = strconv.ParseInt(lo, 10, 64); err != nil {
			return 0, 0, false, bad
		}
		if s[0] == '(' {
			begin++ // int8range is canonically [), but be exact anyway
		}
	}
	if hi != "" {
		if end, err = strconv.ParseInt(hi, 10, 64); err != nil {
			return 0, 0, false, bad
		}
		if s[len(s)-1] == ']' {
			end++
		}
	}
	return begin, end, true, nil
}

// TimespanBound maps NULL bounds to the limits and an empty range to
// (max, min), as daf_butler's SQLite representation stores them.
func (postgres) TimespanBound(qualifier, column string, end bool) string {
	col := quoteIdent(column)
	if qualifier != "" {
		col = qualifier + "." + col
	}
	if end {
		return fmt.Sprintf("(CASE WHEN %s IS NULL THEN NULL WHEN isempty(%s) THEN %d ELSE COALESCE(upper(%s), %d) END)", col, col, TimespanMin, col, TimespanMax)
	}
	return fmt.Sprintf("(CASE WHEN %s IS NULL THEN NULL WHEN isempty(%s) THEN %d ELSE COALESCE(lower(%s), %d) END)", col, col, TimespanMax, col, TimespanMin)
}

func (postgres) typeName(c Column) string {
	switch c.Type {
	case Int16:
		return "SMALLINT"
	case String:
		if c.Length > 0 && c.Length <= 32 {
			return fmt.Sprintf("VARCHAR(%d)", c.Length)
		}
		return "TEXT"
	case Float:
		return "FLOAT"
	case Bool:
		return "BOOLEAN"
	case UUID:
		return "UUID"
	case Time:
		return "TIMESTAMP"
	case Timespan:
		return "INT8RANGE"
	}
	return "BIGINT"
}

// CreateTable renders daf_butler's PostgreSQL DDL (reference §3.1): UUID,
// INT8RANGE timespans, autoincrement through a sequence <table>_seq_<col>,
// and constraint, index and sequence names shrunk to 63 characters.
func (d postgres) CreateTable(schema string, t Table) []string {
	var stmts, lines []string
	for _, c := range t.Columns {
		l := quoteIdent(c.Name) + " " + d.typeName(c)
		switch {
		case c.AutoIncrement:
			// As daf_butler (SQLAlchemy) makes it: a sequence and no column
			// default; every INSERT calls nextval itself (NextID).
			stmts = append(stmts, "CREATE SEQUENCE "+d.Table(schema, shrinkName(t.Name+"_seq_"+c.Name)))
		case c.Default != "":
			l += " DEFAULT " + c.Default
		case c.Type == Timespan && c.NotNull:
			l += " DEFAULT '(,)'::int8range"
		}
		if c.NotNull || c.AutoIncrement {
			l += " NOT NULL"
		}
		lines = append(lines, l)
	}
	if len(t.PrimaryKey) > 0 {
		lines = append(lines, "PRIMARY KEY ("+quoteList(t.PrimaryKey)+")")
	}
	for _, u := range t.Unique {
		lines = append(lines, fmt.Sprintf("CONSTRAINT %s UNIQUE (%s)", quoteIdent(shrinkName(t.Name+"_unq_"+colsName(u))), quoteList(u)))
	}
	for _, fk := range t.ForeignKeys {
		l := fmt.Sprintf("CONSTRAINT %s FOREIGN KEY(%s) REFERENCES %s (%s)", quoteIdent(shrinkName(fkName(t.Name, fk))),
			quoteList(fk.Columns), d.Table(schema, fk.Table), quoteList(fk.Target))
		if fk.OnDelete != "" {
			l += " ON DELETE " + fk.OnDelete
		}
		lines = append(lines, l)
	}
	table := d.Table(schema, t.Name)
	stmts = append(stmts, "CREATE TABLE "+table+" (\n\t"+strings.Join(lines, ",\n\t")+"\n)")
	for _, ix := range t.Indexes {
		stmts = append(stmts, fmt.Sprintf("CREATE INDEX %s ON %s (%s)", quoteIdent(shrinkName(t.Name+"_idx_"+colsName(ix))), table, quoteList(ix)))
	}
	for _, ix := range t.fkIndexes() {
		stmts = append(stmts, fmt.Sprintf("CREATE INDEX %s ON %s (%s)", quoteIdent(shrinkName(t.Name+"_fkidx_"+colsName(ix))), table, quoteList(ix)))
	}
	return stmts
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// Classify maps SQLSTATEs to errs kinds with a plain message, keeping the
// server's (one-line, SQL-free) error last.
func (d postgres) Classify(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if d.Transient(err) {
			return &transientError{err: err}
		}
		return err
	}
	switch code := pe.Code; {
	case code == "23505" || code == "42P07" || code == "42710": // unique; table or object exists
		return fmt.Errorf("%w: %w", errs.ErrConflict, err)
	case code == "23503":
		return fmt.Errorf("%w: a referenced record is missing or still in use (%s): %w", errs.ErrConflict, pe.ConstraintName, err)
	case code == "23502" || code == "23514" || strings.HasPrefix(code, "22"):
		return fmt.Errorf("%w: %w", errs.ErrInvalid, err)
	case code == "25006":
		return &plainError{kind: errs.ErrReadOnly, err: err, msg: "the registry was opened read-only, so it cannot be changed"}
	case code == "42501":
		return &plainError{kind: errs.ErrPermission, err: err,
			msg: fmt.Sprintf("user %q may not do this in schema %q (%s; the repository's owner can grant access with butler share)", d.user, d.schema, pe.Message)}
	case code == "42P01" || code == "3D000" || code == "3F000":
		return fmt.Errorf("%w: %w", errs.ErrNotFound, err)
	case code == "40001" || code == "40P01" || code == "55P03" || code == "53300":
		return fmt.Errorf("%w: %w", errs.ErrBusy, err)
	case code == "28P01" || code == "28000":
		return fmt.Errorf("%w: %w", errs.ErrPermission, err)
	case d.Transient(err):
		return &transientError{err: err}
	}
	return err
}

// Transient recognises a lost or refused connection: the server restarting
// (57P01 admin shutdown, 57P02 crash, 57P03 starting up, class 08), a reset
// or closed socket, or an error the driver knows happened before sending.
func (postgres) Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	return pgconn.SafeToRetry(err) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &ne)
}

// plainError says what happened in the user's terms; the server's error stays
// in the chain for errors.As but out of the message.
type plainError struct {
	kind, err error
	msg       string
}

func (e *plainError) Error() string   { return e.kind.Error() + ": " + e.msg }
func (e *plainError) Unwrap() []error { return []error{e.kind, e.err} }

// transientError is a lost connection: errs.ErrBusy, so callers may retry.
type transientError struct{ err error }

func (e *transientError) Error() string {
	return "lost the connection to the registry database (server restart or network failure?); nothing was committed, the operation can be retried: " + e.err.Error()
}
func (e *transientError) Is(target error) bool { return target == errs.ErrBusy }
func (e *transientError) Unwrap() error        { return e.err }

// IsTransient reports whether err (from a Conn or Tx) means the connection
// was lost before anything was committed, so the whole operation may be run again.
//
// A connection lost while rows were being read (rows.Next, Scan, Err come
// straight from database/sql, not through Classify) counts too: for a read
// nothing needs committing, and a write's transaction fails before its commit
// (a lost commit is ErrCommitUnknown, never transient).
func IsTransient(err error) bool {
	var t *transientError
	if errors.As(err, &t) {
		return true
	}
	return !errors.Is(err, ErrCommitUnknown) && postgres{}.Transient(err)
}

// inheritGrants gives new tables (and their sequences) the privileges that
// the collection table (and its sequence) carry, so that what `butler share`
// granted also covers tables that someone other than the schema's owner
// creates later (a new dataset type's tags table, say): default privileges
// only cover tables their own author creates. The owner of the collection
// table keeps its grant option, so it can still share or revoke everything.
func (d postgres) inheritGrants(ctx context.Context, c Conn, schema string, tables []Table) error {
	type grant struct{ role, privilege, option string }
	read := func(ref string) ([]grant, error) {
		rows, err := c.Query(ctx, `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.rolname) END, a.privilege_type, a.is_grantable
			FROM pg_catalog.pg_class k CROSS JOIN LATERAL aclexplode(k.relacl) a LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
			WHERE k.oid = to_regclass(?::text) AND (a.grantee = 0 OR g.rolname <> current_user)`, ref)
		if err != nil {
			return nil, fmt.Errorf("read grants of %s: %w", ref, err)
		}
		defer rows.Close()
		var out []grant
		for rows.Next() {
			var g grant
			var grantable bool
			if err := rows.Scan(&g.role, &g.privilege, &grantable); err != nil {
				return nil, err
			}
			if grantable {
				g.option = " WITH GRANT OPTION"
			}
			out = append(out, g)
		}
		return out, rows.Err()
	}
	tableGrants, err := read(d.Table(schema, "collection"))
	if err != nil || len(tableGrants) == 0 {
		return err // nothing shared yet (or the repository is being created)
	}
	seqGrants, err := read(d.Table(schema, shrinkName("collection_seq_collection_id")))
	if err != nil {
		return err
	}
	for _, t := range tables {
		if t.Name == "collection" {
			continue
		}
		apply := func(kind, name string, grants []grant) error {
			for _, g := range grants {
				if _, err := c.Exec(ctx, "GRANT "+g.privilege+" ON "+kind+" "+name+" TO "+g.role+g.option); err != nil {
					return fmt.Errorf("share new table %s like the others: %w", t.Name, err)
				}
			}
			return nil
		}
		if err := apply("TABLE", d.Table(schema, t.Name), tableGrants); err != nil {
			return err
		}
		for _, col := range t.Columns {
			if col.AutoIncrement {
				if err := apply("SEQUENCE", d.Table(schema, shrinkName(t.Name+"_seq_"+col.Name)), seqGrants); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// isLoopback reports whether host names this machine over loopback.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
