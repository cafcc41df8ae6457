// Package pgtest gives tests a real PostgreSQL server: the one named by
// BUTLER_TEST_PG_DSN, or a private cluster that Start makes with initdb in a
// temporary directory (scram-sha-256 passwords, loopback only, a free port,
// btree_gist installed) and that the stop function removes. Each test gets
// its own schema (Schema) and, when it needs them, its own login roles (Role).
//
// PostgreSQL missing makes the tests that need it skip, unless
// BUTLER_TEST_REQUIRE names "postgres" (CI), which makes them fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
)

// Environment variables.
const (
	// EnvDSN names an existing server (a superuser's URL) to use instead of
	// starting one; its database must allow CREATE EXTENSION btree_gist or have it.
	EnvDSN = "BUTLER_TEST_PG_DSN"
	// EnvRequire lists the services whose absence fails tests ("postgres,s3").
	EnvRequire = "BUTLER_TEST_REQUIRE"
)

// Database is the database the private cluster creates for tests.
const Database = "butler_test"

// server is the one PostgreSQL server of a test binary. It is package state
// because TestMain starts it and every test of the package shares it.
var server struct {
	mu       sync.Mutex
	started  bool
	launched bool   // launch ran (the server is started on first use)
	dsn      string // superuser URL of the test database
	admin    *sql.DB
	why      string // why PostgreSQL is unavailable ("" when it is available)
	stop     func()
	restart  func(context.Context, Shutdown) error // nil for a server pgtest did not start
}

// Shutdown is how Restart stops the server.
type Shutdown int

const (
	// Fast rolls back open transactions and closes connections cleanly (SIGINT).
	Fast Shutdown = iota
	// Immediate aborts like a crash: no checkpoint, crash recovery at start (SIGQUIT).
	Immediate
)

// Restart stops the private server (every connection to it is cut) and
// starts it again on the same data directory and port, returning when it
// accepts connections again. It skips t when the server is not pgtest's own
// (BUTLER_TEST_PG_DSN). Tests that restart the server must not run in
// parallel with other PostgreSQL tests.
func Restart(t testing.TB, how Shutdown) {
	t.Helper()
	_, admin := available(t)
	server.mu.Lock()
	defer server.mu.Unlock()
	if server.restart == nil {
		t.Skipf("the PostgreSQL server was not started by pgtest (%s), so it cannot be restarted", EnvDSN)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := server.restart(ctx, how); err != nil {
		t.Fatalf("restart test PostgreSQL: %v", err)
	}
	// The admin pool's idle connections died with the server; drop them
	// so the next use opens fresh ones.
	admin.SetMaxIdleConns(0)
	admin.SetMaxIdleConns(2)
}

// Start makes the package's server available and returns the function that
// stops it (call it when the package's tests end, e.g. deferred in TestMain).
// It never fails: when no server can be had, it records why, and Schema, Role
// and DSN skip (or fail, under BUTLER_TEST_REQUIRE=postgres) with that reason.
func Start() (stop func()) {
	server.mu.Lock()
	defer server.mu.Unlock()
	if server.started {
		return func() {}
	}
	// The server itself starts on first use (launch), so that packages and
	// processes that never touch PostgreSQL (fuzz workers run TestMain too)
	// do not pay for a cluster.
	server.started = true
	return func() {
		server.mu.Lock()
		defer server.mu.Unlock()
		if server.stop != nil {
			server.stop()
			server.stop, server.admin, server.dsn = nil, nil, ""
			server.why = "the test PostgreSQL server was stopped"
		}
	}
}

// launch starts the server the first time a test asks for it; server.mu is held.
func launch() {
	if server.launched || !server.started {
		return
	}
	server.launched = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn, stopCluster, err := startServer(ctx)
	if err != nil {
		server.why = err.Error()
		return
	}
	admin, err := sql.Open("pgx", dsn)
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err == nil {
		_, err = admin.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS btree_gist")
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		stopCluster()
		server.why = fmt.Sprintf("connect to test PostgreSQL: %v", err)
		return
	}
	admin.SetMaxOpenConns(4)
	server.dsn, server.admin = dsn, admin
	server.stop = func() {
		admin.Close()
		stopCluster()
	}
}

func startServer(ctx context.Context) (string, func(), error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn, func() {}, nil
	}
	bin, err := findBinaries()
	if err != nil {
		return "", nil, err
	}
	return startCluster(ctx, bin)
}

// available returns the superuser DSN and connection, or skips/fails t.
func available(t testing.TB) (string, *sql.DB) {
	t.Helper()
	server.mu.Lock()
	launch()
	started, dsn, admin, why := server.started, server.dsn, server.admin, server.why
	server.mu.Unlock()
	if !started {
		why = "pgtest.Start was not called (add it to TestMain)"
	}
	if admin == nil {
		if Required() {
			t.Fatalf("PostgreSQL is required (%s=%s) but unavailable: %s", EnvRequire, os.Getenv(EnvRequire), why)
		}
		t.Skipf("PostgreSQL unavailable: %s", why)
	}
	return dsn, admin
}

// Required reports whether BUTLER_TEST_REQUIRE names postgres.
func Required() bool {
	for _, s := range strings.Split(os.Getenv(EnvRequire), ",") {
		if s = strings.TrimSpace(strings.ToLower(s)); s == "postgres" || s == "postgresql" {
			return true
		}
	}
	return false
}

// DSN returns the superuser URL of the test database (postgresql://…), or
// skips t when there is no server.
func DSN(t testing.TB) string {
	t.Helper()
	dsn, _ := available(t)
	return dsn
}

// Admin returns a superuser connection pool to the test database, shared by
// the package; do not close it.
func Admin(t testing.TB) *sql.DB {
	t.Helper()
	_, db := available(t)
	return db
}

// Schema creates a fresh, empty schema for t and drops it (with everything in
// it) when t ends. Tests using distinct schemas may run in parallel.
func Schema(t testing.TB) string {
	t.Helper()
	_, admin := available(t)
	name := "t_" + randomHex(6)
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+quote(name)); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+quote(name)+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", name, err)
		}
	})
	return name
}

// Role creates a login role with a random password for t and drops it (with
// its privileges) when t ends. The role owns nothing and has no grants.
func Role(t testing.TB) (name, password string) {
	t.Helper()
	_, admin := available(t)
	name, password = "u_"+randomHex(5), randomHex(12)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE ROLE "+quote(name)+" LOGIN PASSWORD '"+password+"'"); err != nil {
		t.Fatalf("create test role: %v", err)
	}
	t.Cleanup(func() {
		// Schemas are dropped by their own cleanups (registered later, so run
		// earlier); what remains are grants and default privileges.
		for _, q := range []string{"DROP OWNED BY " + quote(name) + " CASCADE", "DROP ROLE " + quote(name)} {
			if _, err := admin.ExecContext(ctx, q); err != nil {
				t.Errorf("drop test role %s: %v", name, err)
				return
			}
		}
	})
	return name, password
}

// URL returns the test database's URL for user (password omitted when "").
func URL(t testing.TB, user, password string) string {
	t.Helper()
	u, err := url.Parse(DSN(t))
	if err != nil {
		t.Fatalf("parse test DSN: %v", err)
	}
	switch {
	case user == "":
		u.User = nil
	case password == "":
		u.User = url.User(user)
	default:
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// Host returns host and port of the test server.
func Host(t testing.TB) (host, port string) {
	t.Helper()
	u, err := url.Parse(DSN(t))
	if err != nil {
		t.Fatalf("parse test DSN: %v", err)
	}
	return u.Hostname(), cmpOr(u.Port(), "5432")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type binaries struct{ initdb, postgres string }

// findBinaries looks in /usr/lib/postgresql/<newest>/bin, then on PATH.
func findBinaries() (binaries, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		b := binaries{initdb: filepath.Join(d, "initdb"), postgres: filepath.Join(d, "postgres")}
		if isExec(b.initdb) && isExec(b.postgres) {
			return b, nil
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 != nil || err2 != nil {
		return binaries{}, errors.New("no initdb and postgres binaries (install the postgresql and postgresql-contrib packages, or set " + EnvDSN + ")")
	}
	return binaries{initdb: initdb, postgres: postgres}, nil
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// startCluster runs initdb and postgres in a new temporary directory. As root
// (PostgreSQL refuses to run as root) both run as the postgres OS user, which
// then owns the directory.
func startCluster(ctx context.Context, bin binaries) (string, func(), error) {
	dir, err := os.MkdirTemp("", "butler-pgtest-")
	if err != nil {
		return "", nil, fmt.Errorf("make cluster directory: %w", err)
	}
	fail := func(err error) (string, func(), error) {
		os.RemoveAll(dir)
		return "", nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fail(fmt.Errorf("running as root and there is no postgres user to run the server as: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(fmt.Errorf("give the cluster directory to postgres: %w", err))
		}
	}
	password := randomHex(16)
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if cred != nil {
		os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	data := filepath.Join(dir, "data")
	const superuser = "butler_admin"
	initdb := exec.CommandContext(ctx, bin.initdb, "-D", data, "-U", superuser, "--pwfile", pwfile,
		"--auth", "scram-sha-256", "--encoding", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = serverEnv()
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v: %s", err, lastLines(string(out), 5)))
	}
	os.Remove(pwfile)
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	pm := &postmaster{bin: bin, dir: dir, data: data, port: port, cred: cred, logPath: filepath.Join(dir, "postgres.log")}
	if err := pm.launch(); err != nil {
		return fail(err)
	}
	stop := func() {
		pm.halt(syscall.SIGINT) // fast shutdown
		os.RemoveAll(dir)
	}
	adminURL := func(db string) string {
		return (&url.URL{Scheme: "postgresql", User: url.UserPassword(superuser, password),
			Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/" + db}).String()
	}
	if err := waitReady(ctx, adminURL("postgres"), pm.exited); err != nil {
		log, _ := os.ReadFile(pm.logPath)
		stop()
		return "", nil, fmt.Errorf("%v: %s", err, lastLines(string(log), 5))
	}
	db, err := sql.Open("pgx", adminURL("postgres"))
	if err == nil {
		_, err = db.ExecContext(ctx, "CREATE DATABASE "+Database)
		db.Close()
	}
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("create test database: %w", err)
	}
	server.restart = func(ctx context.Context, how Shutdown) error {
		sig := syscall.SIGINT
		if how == Immediate {
			sig = syscall.SIGQUIT
		}
		pm.halt(sig)
		if err := pm.launch(); err != nil {
			return err
		}
		if err := waitReady(ctx, adminURL("postgres"), pm.exited); err != nil {
			log, _ := os.ReadFile(pm.logPath)
			return fmt.Errorf("%v: %s", err, lastLines(string(log), 5))
		}
		return nil
	}
	return adminURL(Database), stop, nil
}

// postmaster is the private cluster's server process, which Restart stops
// and starts again on the same data directory and port.
type postmaster struct {
	bin       binaries
	dir, data string
	port      int
	cred      *syscall.Credential
	logPath   string
	cmd       *exec.Cmd
	exited    chan error
}

// launch starts the server (it appends to the log).
func (pm *postmaster) launch() error {
	logf, err := os.OpenFile(pm.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	// Run the postmaster as our child (not through pg_ctl) so that it gets a
	// parent-death signal: a test binary killed by a timeout takes its server along.
	// fsync=off is safe for a process crash (the OS keeps what was written);
	// synchronous_commit stays on, else an immediate shutdown loses commits
	// the server already acknowledged, which a real server never does.
	pg := exec.Command(pm.bin.postgres, "-D", pm.data, "-p", strconv.Itoa(pm.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+pm.dir,
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	pg.SysProcAttr = &syscall.SysProcAttr{Credential: pm.cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	pg.Env = serverEnv()
	pg.Stdout, pg.Stderr = logf, logf
	if err := pg.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- pg.Wait() }()
	pm.cmd, pm.exited = pg, exited
	return nil
}

// halt signals the server (SIGINT fast, SIGQUIT immediate shutdown) and
// waits for it to exit, killing it after 20 s. A halted server is left alone.
func (pm *postmaster) halt(sig syscall.Signal) {
	if pm.cmd == nil {
		return
	}
	defer func() { pm.cmd = nil }()
	pm.cmd.Process.Signal(sig)
	select {
	case <-pm.exited:
	case <-time.After(20 * time.Second):
		pm.cmd.Process.Kill()
		<-pm.exited
	}
}

// serverEnv keeps the server's environment small and its locale neutral.
func serverEnv() []string {
	return []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
}

func waitReady(ctx context.Context, dsn string, exited <-chan error) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := db.PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case e := <-exited:
			return fmt.Errorf("postgres exited during start-up: %v", e)
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
