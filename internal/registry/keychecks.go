package registry

import (
	"context"
	"fmt"
)

// Foreign-key checks on PostgreSQL. Every row inserted into a table with
// foreign keys runs one query per key (SELECT 1 FROM ONLY parent x WHERE key
// = $1 FOR KEY SHARE OF x), which each connection plans once and keeps until
// the parent's statistics change. Planned while a parent has no statistics
// (visit, created empty; detector, before autovacuum reaches it) or is small,
// the check scans the whole table, or the index of its instrument column (all
// of an instrument's rows), instead of looking the key up in the primary key:
// each check then costs as much as the table holds, and a define-visits that
// checks 13 keys per detector region slowed down with every visit written.
// Writers of many child rows therefore refresh the parents' statistics
// (RefreshKeyStats) and write with sequential scans off (PreferIndexScans),
// which leaves the primary key as the cheapest plan. SQLite checks foreign
// keys through the parent's primary key (or unique) index whatever its size.

// RefreshKeyStats gives the planner statistics for the tables of the given
// elements that have none (never analyzed, or empty when last analyzed), so
// that foreign-key checks into them are planned on their primary keys. Only
// on PostgreSQL; a table the user may not analyze is left as it is (the
// server warns and goes on).
func (r *Registry) RefreshKeyStats(ctx context.Context, elements ...string) error {
	if r.db.Dialect.Name() != "postgresql" || r.db.ReadOnly {
		return nil
	}
	c := r.db.Conn()
	for _, name := range elements {
		table := r.db.T(name)
		var tuples float64
		if err := c.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = to_regclass(?)", table).Scan(&tuples); err != nil {
			return fmt.Errorf("statistics of %s: %w", name, err)
		}
		if tuples > 0 {
			continue
		}
		if _, err := c.Exec(ctx, "ANALYZE "+table); err != nil {
			return fmt.Errorf("analyze %s: %w", name, err)
		}
	}
	return nil
}

// PreferIndexScans turns PostgreSQL's sequential scans off for the rest of
// the transaction, so that foreign-key checks planned in it look their keys
// up in the parents' primary keys even when a parent is small enough for the
// planner to think a scan cheaper (205 detectors: a scan costs ten times
// the lookup). A no-op on SQLite.
func (tx *Tx) PreferIndexScans(ctx context.Context) error {
	if tx.r.db.Dialect.Name() != "postgresql" {
		return nil
	}
	_, err := tx.c.Exec(ctx, "SET LOCAL enable_seqscan = off")
	return err
}

// Writers is how many transactions writing disjoint rows are worth running
// at once: two on PostgreSQL, whose server checks each transaction's
// foreign keys and fills its indexes in a process of its own, one on SQLite,
// which takes one writer at a time.
func (r *Registry) Writers() int {
	if r.db.Dialect.Name() == "postgresql" {
		return 2
	}
	return 1
}
