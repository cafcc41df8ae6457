package registry

import (
	"context"
	"database/sql"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// wireCounter is a TCP proxy in front of the test server that counts
// connections and round trips: each time the client sends after the
// server has answered.
type wireCounter struct {
	ln          net.Listener
	target      string
	mu          sync.Mutex
	conns, rtts int
}

func newWireCounter(t *testing.T, target string) *wireCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireCounter{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go w.serve()
	return w
}

func (w *wireCounter) serve() {
	for {
		c, err := w.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", w.target)
		if err != nil {
			c.Close()
			continue
		}
		w.mu.Lock()
		w.conns++
		w.mu.Unlock()
		answered := true // the first client message starts a round trip
		var mu sync.Mutex
		pump := func(dst, src net.Conn, fromClient bool) {
			defer dst.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := src.Read(buf)
				if n > 0 {
					mu.Lock()
					if fromClient && answered {
						w.mu.Lock()
						w.rtts++
						w.mu.Unlock()
					}
					answered = !fromClient
					mu.Unlock()
					if _, err := dst.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}
		go pump(s, c, true)
		go pump(c, s, false)
	}
}

func (w *wireCounter) counts() (conns, rtts int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conns, w.rtts
}

// TestPostgresOpen_RoundTrips: opening a PostgreSQL registry takes one
// connection and, after the connection's own start-up and authentication,
// two round trips (the checks, the attributes); the connection is not pinged
// when it is used again, and a statement is prepared only when it runs a
// second time.
func TestPostgresOpen_RoundTrips(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		if dialect == pgtest.SQLite {
			t.Skip("PostgreSQL only")
		}
		ctx := context.Background()
		schema := pgtest.Schema(t)
		openPGRegistry(t, schema) // makes the registry

		u, err := url.Parse(pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		startup := authRoundTrips(t, u.String())
		server := u.Host

		for _, readOnly := range []bool{true, false} {
			// A proxy per pool: a closed pool's goodbye is not counted.
			w := newWireCounter(t, server)
			u.Host = w.ln.Addr().String()
			dsn := u.String()
			before, beforeRT := w.counts()
			db, _, err := Connect(ctx, Location{URL: dsn, Namespace: schema, Resolve: func() (string, string, error) { return dsn, redacted(dsn), nil }}, false, readOnly)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Open(ctx, db)
			if err != nil {
				db.Close()
				t.Fatal(err)
			}
			conns, rtts := w.counts()
			if conns-before != 1 || rtts-beforeRT != startup+2 {
				t.Errorf("read-only %v: open took %d connections and %d round trips, want 1 and %d (%d of start-up and authentication, then 2)",
					readOnly, conns-before, rtts-beforeRT, startup+2, startup)
			}
			// A statement's first run is one round trip (not prepared, no
			// ping); its second prepares it (two); from the third on, one.
			for i, want := range []int{1, 2, 1} {
				if _, err := r.Collections(ctx); err != nil {
					t.Fatal(err)
				}
				c, rt := w.counts()
				if c != conns || rt-rtts != want {
					t.Errorf("read-only %v: query %d after open took %d more connections and %d round trips, want 0 and %d", readOnly, i+1, c-conns, rt-rtts, want)
				}
				rtts = rt
			}
			r.Close()
		}
	})
}

// authRoundTrips counts the round trips of a bare connection to dsn: its
// start-up and authentication, which no client can save.
func authRoundTrips(t *testing.T, dsn string) int {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	w := newWireCounter(t, u.Host)
	u.Host = w.ln.Addr().String()
	q := u.Query()
	q.Set("sslmode", "disable") // as Connect does on loopback
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	_, rtts := w.counts()
	return rtts
}
