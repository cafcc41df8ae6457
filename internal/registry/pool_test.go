package registry

import (
	"context"
	"testing"

	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// TestWarmPool: a server's pool is open before its first request: on
// PostgreSQL WarmPool leaves n connections open and idle; SQLite opens none.
func TestWarmPool(t *testing.T) {
	forEachDialect(t, func(t *testing.T, r *Registry) {
		ctx := context.Background()
		r.SetPool(6, 6)
		before := r.db.SQL.Stats().OpenConnections
		if err := r.WarmPool(ctx, 6); err != nil {
			t.Fatal(err)
		}
		st := r.db.SQL.Stats()
		want, wantIdle := 6, 6
		if r.db.Dialect.Name() == pgtest.SQLite {
			want, wantIdle = before, st.Idle // nothing opened
		}
		if st.OpenConnections != want || st.Idle != wantIdle || st.InUse != 0 {
			t.Errorf("after WarmPool(6): %d open (%d idle, %d in use), want %d open, all idle", st.OpenConnections, st.Idle, st.InUse, want)
		}
		// A cancelled context opens nothing and says so.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		r.SetPool(12, 12)
		if err := r.WarmPool(cctx, 12); r.db.Dialect.Name() != pgtest.SQLite && err == nil {
			t.Error("WarmPool with a cancelled context: no error")
		}
	})
}
