package registry

import (
	"context"
	"fmt"
	"sync"
)

// SetPool sizes the registry's connection pool for a long-running process
// serving many requests at once (`butler serve`): at most open connections,
// of which idle stay open between requests, so that a busy server reuses
// connections instead of opening one per request (each costs a connection
// handshake, and on SQLite a parse of the whole schema). Zero keeps a
// setting as it is.
func (r *Registry) SetPool(open, idle int) {
	if open > 0 {
		r.db.SQL.SetMaxOpenConns(open)
	}
	if idle > 0 {
		r.db.SQL.SetMaxIdleConns(idle)
	}
}

// WarmPool opens n pooled connections at once and leaves them idle, so that
// a server's first requests do not each wait for a connection handshake (a
// new PostgreSQL backend costs a few milliseconds). SQLite needs none.
func (r *Registry) WarmPool(ctx context.Context, n int) error {
	if r.db.Dialect.Name() == "sqlite" || n <= 0 {
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	closers := make([]func() error, n)
	for i := range n {
		wg.Go(func() {
			c, err := r.db.SQL.Conn(ctx) // connected (or failed) when it returns
			if err == nil {
				closers[i] = c.Close
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, c := range closers {
		if c != nil {
			c() // back to the pool, idle
		}
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("open %d database connections: %w", n, r.db.Dialect.Classify(err))
		}
	}
	return nil
}
