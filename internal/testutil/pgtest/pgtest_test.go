package pgtest

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	stop := Start()
	defer stop()
	m.Run()
}

func TestSchema_FreshAndBtreeGist(t *testing.T) {
	admin := Admin(t)
	ctx := context.Background()
	s1, s2 := Schema(t), Schema(t)
	if s1 == s2 {
		t.Fatalf("Schema returned %q twice", s1)
	}
	var n int
	if err := admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname IN ($1, $2)", s1, s2).Scan(&n); err != nil || n != 2 {
		t.Fatalf("schemas %s, %s: found %d (err %v), want 2", s1, s2, n, err)
	}
	if err := admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_extension WHERE extname = 'btree_gist'").Scan(&n); err != nil || n != 1 {
		t.Errorf("btree_gist installed: %d (err %v), want 1", n, err)
	}
}

func TestRole_PasswordLoginOnly(t *testing.T) {
	name, password := Role(t)
	ctx := context.Background()
	good, err := sql.Open("pgx", URL(t, name, password))
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	var who string
	if err := good.QueryRowContext(ctx, "SELECT current_user").Scan(&who); err != nil || who != name {
		t.Fatalf("login as %s: current_user %q, err %v", name, who, err)
	}
	bad, err := sql.Open("pgx", URL(t, name, "wrong"))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.PingContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("login with a wrong password: %v, want a password authentication failure (scram-sha-256)", err)
	}
}

// Restart cuts open connections and brings the server back with its data.
func TestRestart_KeepsDataCutsConnections(t *testing.T) {
	for _, how := range []Shutdown{Fast, Immediate} {
		admin := Admin(t)
		ctx := context.Background()
		schema := Schema(t)
		if _, err := admin.ExecContext(ctx, "CREATE TABLE "+schema+".x (v int); INSERT INTO "+schema+".x VALUES (7)"); err != nil {
			t.Fatal(err)
		}
		conn, err := admin.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		Restart(t, how)
		if err := conn.PingContext(ctx); err == nil {
			t.Errorf("shutdown %d: a connection opened before the restart still works", how)
		}
		conn.Close()
		var v int
		if err := admin.QueryRowContext(ctx, "SELECT v FROM "+schema+".x").Scan(&v); err != nil || v != 7 {
			t.Errorf("shutdown %d: after the restart read %d, %v; want 7", how, v, err)
		}
	}
}
