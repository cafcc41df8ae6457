package sqldb

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/gobutler/butler/errs"
)

// Dialect holds every difference between the databases the registry runs on.
type Dialect interface {
	Name() string // "sqlite" or "postgresql"
	// Quote quotes an identifier (table or column name).
	Quote(ident string) string
	// CreateTable renders the DDL statements for t in the given schema ("" = default).
	CreateTable(schema string, t Table) []string
	// Rebind converts '?' placeholders to the dialect's form.
	Rebind(query string) string
	// UUIDValue converts 16 raw bytes to the value stored in a UUID column.
	UUIDValue(b [16]byte) any
	// Classify maps driver errors to errs kinds, keeping the original.
	Classify(err error) error
	// Table qualifies a table name with the schema.
	Table(schema, name string) string
	// SupportsTimespanRange reports whether timespans are one range column.
	SupportsTimespanRange() bool
	// TimespanArgs are the bind values of one timespan column for [begin, end)
	// in TAI nanoseconds, or for NULL when !valid: two values (SQLite) or one
	// (PostgreSQL), in the order of the columns the dialect makes.
	TimespanArgs(begin, end int64, valid bool) []any
	// ScanTimespan reads back the values of one timespan column.
	ScanTimespan(vals []any) (begin, end int64, valid bool, err error)
	// TimespanBound is the SQL expression for the begin (or end) bound in TAI
	// nanoseconds of timespan column `column` of table alias qualifier ("" for
	// none), NULL when the timespan is NULL.
	TimespanBound(qualifier, column string, end bool) string
	// Args converts bind values of dialect-neutral types (GlobPattern).
	Args(args []any) []any
	// Transient reports whether err means the connection was lost or refused
	// (server restart), so that a read may be tried again.
	Transient(err error) bool
	// NextID is the SQL expression an INSERT gives an autoincrement column, or
	// "" where the database fills it itself (SQLite's INTEGER PRIMARY KEY).
	NextID(schema, table, column string) string
}

// Timespan limits (daf_butler TimeConverter): unbounded begin and end are
// stored as these in SQLite and as NULL bounds in PostgreSQL ranges.
const (
	TimespanMin int64 = 0
	TimespanMax int64 = 4102444800000000000
)

// GlobPattern is a bind value matched with GlobMatch: a SQLite GLOB pattern
// (* ? [set] [^set], case-sensitive). Dialects without GLOB get a regex.
type GlobPattern string

// Markers around the operands of GlobMatch; Rebind replaces them with the
// dialect's operator. NUL bytes cannot appear in SQL text otherwise.
const (
	globOpen  = "\x00GLOB("
	globSep   = "\x00,"
	globClose = "\x00)"
)

// GlobMatch is the condition "expr matches pattern", where pattern is SQL for
// a GlobPattern value (normally "?"). Statements holding it must go through a
// Conn, whose Rebind renders it.
func GlobMatch(expr, pattern string) string { return globOpen + expr + globSep + pattern + globClose }

// expandGlobs replaces GlobMatch markers using render.
func expandGlobs(q string, render func(expr, pattern string) string) string {
	for {
		i := strings.Index(q, globOpen)
		if i < 0 {
			return q
		}
		rest := q[i+len(globOpen):]
		j := strings.Index(rest, globSep)
		k := strings.Index(rest, globClose)
		if j < 0 || k < j {
			return q // malformed; let the database report it
		}
		q = q[:i] + render(rest[:j], rest[j+len(globSep):k]) + rest[k+len(globClose):]
	}
}

// quoteIdent double-quotes an identifier; both SQLite and PostgreSQL accept it.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// ErrNoRows is returned by QueryRow scans with no result.
var ErrNoRows = sql.ErrNoRows

// IsNoRows reports whether err is "no rows".
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

type sqlite struct{}

func (sqlite) Name() string                 { return "sqlite" }
func (sqlite) Quote(s string) string        { return quoteIdent(s) }
func (sqlite) Transient(error) bool         { return false } // busy_timeout does the waiting
func (sqlite) NextID(_, _, _ string) string { return "" }

func (sqlite) Rebind(q string) string {
	if !strings.Contains(q, globOpen) {
		return q
	}
	return expandGlobs(q, func(expr, pattern string) string { return "(" + expr + " GLOB " + pattern + ")" })
}

func (sqlite) Args(args []any) []any {
	for i, a := range args {
		if g, ok := a.(GlobPattern); ok {
			args = append([]any(nil), args...)
			args[i] = string(g)
		}
	}
	return args
}

func (sqlite) TimespanArgs(begin, end int64, valid bool) []any {
	if !valid {
		return []any{nil, nil}
	}
	return []any{begin, end}
}

func (sqlite) ScanTimespan(vals []any) (begin, end int64, valid bool, err error) {
	if len(vals) != 2 {
		return 0, 0, false, fmt.Errorf("timespan: %w: %d columns, want 2", errs.ErrInvalid, len(vals))
	}
	if vals[0] == nil || vals[1] == nil {
		return 0, 0, false, nil
	}
	b, ok1 := vals[0].(int64)
	e, ok2 := vals[1].(int64)
	if !ok1 || !ok2 {
		return 0, 0, false, fmt.Errorf("timespan: %w: bounds %v (%T), %v (%T) are not integers", errs.ErrInvalid, vals[0], vals[0], vals[1], vals[1])
	}
	return b, e, true, nil
}

func (sqlite) TimespanBound(qualifier, column string, end bool) string {
	name := column + "_begin"
	if end {
		name = column + "_end"
	}
	if qualifier == "" {
		return quoteIdent(name)
	}
	return qualifier + "." + quoteIdent(name)
}

func (sqlite) SupportsTimespanRange() bool      { return false }
func (sqlite) Table(schema, name string) string { return quoteIdent(name) }
func (sqlite) UUIDValue(b [16]byte) any         { return fmt.Sprintf("%x", b[:]) }

func (sqlite) typeName(c Column) string {
	switch c.Type {
	case Int64:
		if c.AutoIncrement {
			return "INTEGER"
		}
		return "BIGINT"
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
		return "CHAR(32)"
	case Time:
		return "TIMESTAMP"
	}
	return "BIGINT"
}

func (d sqlite) CreateTable(schema string, t Table) []string {
	var lines []string
	var checks []string
	for _, c := range t.Columns {
		if c.Type == Timespan {
			for _, suffix := range []string{"_begin", "_end"} {
				l := quoteIdent(c.Name+suffix) + " BIGINT"
				if c.NotNull {
					def := "0"
					if suffix == "_end" {
						def = "4102444800000000000"
					}
					l += " DEFAULT " + def + " NOT NULL"
				}
				lines = append(lines, l)
			}
			continue
		}
		l := quoteIdent(c.Name) + " " + d.typeName(c)
		if c.Default != "" {
			l += " DEFAULT " + c.Default
		}
		if c.NotNull || c.AutoIncrement {
			l += " NOT NULL"
		}
		lines = append(lines, l)
		if c.Type == String && c.Length > 0 && c.Length <= 32 {
			checks = append(checks, fmt.Sprintf("CONSTRAINT %s CHECK (length(%s)<=%d AND length(%s)>=1)",
				quoteIdent(t.Name+"_len_"+c.Name), quoteIdent(c.Name), c.Length, quoteIdent(c.Name)))
		}
	}
	if len(t.PrimaryKey) > 0 {
		lines = append(lines, "PRIMARY KEY ("+quoteList(t.PrimaryKey)+")")
	}
	lines = append(lines, checks...)
	for _, u := range t.Unique {
		lines = append(lines, fmt.Sprintf("CONSTRAINT %s UNIQUE (%s)", quoteIdent(t.Name+"_unq_"+colsName(u)), quoteList(u)))
	}
	for _, fk := range t.ForeignKeys {
		l := fmt.Sprintf("CONSTRAINT %s FOREIGN KEY(%s) REFERENCES %s (%s)", quoteIdent(fkName(t.Name, fk)), quoteList(fk.Columns), quoteIdent(fk.Table), quoteList(fk.Target))
		if fk.OnDelete != "" {
			l += " ON DELETE " + fk.OnDelete
		}
		lines = append(lines, l)
	}
	stmts := []string{"CREATE TABLE " + quoteIdent(t.Name) + " (\n\t" + strings.Join(lines, ",\n\t") + "\n)"}
	for _, ix := range t.Indexes {
		stmts = append(stmts, fmt.Sprintf("CREATE INDEX %s ON %s (%s)", quoteIdent(t.Name+"_idx_"+colsName(expandTimespan(t, ix))), quoteIdent(t.Name), quoteList(expandTimespan(t, ix))))
	}
	for _, ix := range t.fkIndexes() {
		stmts = append(stmts, fmt.Sprintf("CREATE INDEX %s ON %s (%s)", quoteIdent(t.Name+"_fkidx_"+colsName(ix)), quoteIdent(t.Name), quoteList(ix)))
	}
	return stmts
}

// expandTimespan replaces a timespan column in an index by its two SQLite columns.
func expandTimespan(t Table, cols []string) []string {
	var out []string
	for _, c := range cols {
		if col, ok := t.Column(c); ok && col.Type == Timespan {
			out = append(out, c+"_begin", c+"_end")
			continue
		}
		out = append(out, c)
	}
	return out
}

func quoteList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteIdent(c)
	}
	return strings.Join(q, ", ")
}

func (sqlite) Classify(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "UNIQUE constraint failed"), strings.Contains(msg, "PRIMARY KEY constraint failed"):
		return fmt.Errorf("%w: %w", errs.ErrConflict, err)
	case strings.Contains(msg, "FOREIGN KEY constraint failed"):
		return fmt.Errorf("%w: a referenced record is missing or still in use: %w", errs.ErrConflict, err)
	case strings.Contains(msg, "NOT NULL constraint failed"), strings.Contains(msg, "CHECK constraint failed"):
		// A value the row needs is missing or out of range, as PostgreSQL's 23502 and 23514.
		return fmt.Errorf("%w: %w", errs.ErrInvalid, err)
	case strings.Contains(msg, "database is locked"), strings.Contains(msg, "SQLITE_BUSY"):
		return fmt.Errorf("%w: %w", errs.ErrBusy, err)
	case strings.Contains(msg, "readonly database"), strings.Contains(msg, "attempt to write a readonly"):
		return fmt.Errorf("%w: %w", errs.ErrReadOnly, err)
	case strings.Contains(msg, "unable to open database"):
		return fmt.Errorf("%w: %w", errs.ErrNotFound, err)
	}
	return err
}
