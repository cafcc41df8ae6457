package registry

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
