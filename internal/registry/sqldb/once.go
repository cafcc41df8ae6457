package sqldb

import (
	"sync"

	"github.com/jackc/pgx/v5"
)

// pgFirstUse remembers which statements a PostgreSQL pool has run. pgx
// prepares every statement before its first execution, a round trip of its
// own that pays off only when the statement runs again; a command runs most
// of its statements once. So a statement's first execution is sent with its
// arguments in one round trip, unprepared, and pgx prepares (and caches) it
// from its second on.
type pgFirstUse struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// pgFirstUseMax bounds the statements remembered; beyond it, statements not
// seen yet are always run unprepared (a pool that has run this many
// different texts builds them with their values inlined).
const pgFirstUseMax = 4096

// first reports whether query has not run in the pool before.
func (f *pgFirstUse) first(query string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.seen[query]; ok {
		return false
	}
	if f.seen == nil {
		f.seen = map[string]struct{}{}
	}
	if len(f.seen) < pgFirstUseMax {
		f.seen[query] = struct{}{}
	}
	return true
}

// args converts a statement's arguments for the driver; on PostgreSQL the
// first execution of query also asks pgx not to prepare it.
func (db *DB) args(query string, args []any) []any {
	args = db.Dialect.Args(args)
	if db.pgSeen != nil && db.pgSeen.first(query) {
		return append([]any{pgx.QueryExecModeExec}, args...)
	}
	return args
}
