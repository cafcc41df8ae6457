// Package sqldb is the one connection layer under the registry: table
// specifications, two SQL dialects (SQLite, PostgreSQL), transactions and the
// classification of database errors into errs kinds. It knows nothing of datasets
// or dimensions.
package sqldb

import (
	"fmt"
	"strings"
)

// Type is a logical column type, rendered per dialect.
type Type int

const (
	Int64    Type = iota // BIGINT
	Int16                // SMALLINT
	String               // VARCHAR(n) when Length <= 32, else TEXT
	Float                // FLOAT
	Bool                 // BOOLEAN
	UUID                 // CHAR(32) hex in SQLite, UUID in PostgreSQL
	Time                 // TIMESTAMP (legacy ingest_date)
	Timespan             // two BIGINT columns name_begin/name_end, or one INT8RANGE
)

// Column is one column of a table.
type Column struct {
	Name          string
	Type          Type
	Length        int
	NotNull       bool
	AutoIncrement bool   // the table's single-column integer primary key
	Default       string // SQL default expression, "" for none
}

// ForeignKey references another table's columns.
type ForeignKey struct {
	Columns  []string
	Table    string
	Target   []string
	OnDelete string // "" or "CASCADE"
}

// Table is a dialect-neutral table specification.
type Table struct {
	Name        string
	Columns     []Column
	PrimaryKey  []string
	Unique      [][]string
	ForeignKeys []ForeignKey
	Indexes     [][]string
}

// Column returns the named column.
func (t *Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

func sameCols(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fkIndexes lists the indexes daf_butler adds to support foreign keys: one per
// foreign key whose columns are not already the primary key, a unique
// constraint or an index.
func (t *Table) fkIndexes() [][]string {
	var out [][]string
	for _, fk := range t.ForeignKeys {
		covered := sameCols(fk.Columns, t.PrimaryKey)
		for _, u := range t.Unique {
			covered = covered || sameCols(fk.Columns, u)
		}
		for _, ix := range t.Indexes {
			covered = covered || sameCols(fk.Columns, ix)
		}
		for _, ix := range out {
			covered = covered || sameCols(fk.Columns, ix)
		}
		if !covered {
			out = append(out, fk.Columns)
		}
	}
	return out
}

func colsName(cols []string) string { return strings.Join(cols, "_") }

func fkName(table string, fk ForeignKey) string {
	return fmt.Sprintf("fkey_%s_%s_%s_%s", table, fk.Table, colsName(fk.Target), colsName(fk.Columns))
}
