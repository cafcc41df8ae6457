package pgtest

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// The registry dialects, as subtest names and as ForEachDialect passes them.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// ForEachDialect runs fn as one subtest per registry dialect, named after it:
// SQLite, then Postgres. It is the one place that says which dialects a
// registry test runs on; each package turns the dialect into what it needs (a
// registry, a repository, `butler create` arguments). Before fn runs on
// PostgreSQL, a server must be there: without one the subtest skips (fails
// under BUTLER_TEST_REQUIRE=postgres) at once, not in the middle of fn.
func ForEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range []string{SQLite, Postgres} {
		t.Run(d, func(t *testing.T) {
			if d == Postgres {
				available(t)
			}
			fn(t, d)
		})
	}
}

// AdminUser returns the test server's superuser and password.
func AdminUser(t testing.TB) (user, password string) {
	t.Helper()
	u, err := url.Parse(DSN(t))
	if err != nil {
		t.Fatalf("parse test DSN: %v", err)
	}
	pw, _ := u.User.Password()
	return u.User.Username(), pw
}

// WriteDBAuth writes a db-auth file (mode 0600) holding one user's
// credentials for the test server, as the seed tutorial's step 1 does, and
// returns its path for $LSST_DB_AUTH.
func WriteDBAuth(t testing.TB, user, password string) string {
	t.Helper()
	host, port := Host(t)
	path := filepath.Join(t.TempDir(), "db-auth.yaml")
	body := fmt.Sprintf("- url: \"postgresql://%s:%s\"\n  username: %q\n  password: %q\n", host, port, user, password)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// UseAdminAuth points $LSST_DB_AUTH, for the rest of t, at a db-auth file
// holding the superuser's credentials, so repositories on the test server
// need no password in their config; it returns the file's path.
func UseAdminAuth(t testing.TB) string {
	t.Helper()
	user, password := AdminUser(t)
	path := WriteDBAuth(t, user, password)
	t.Setenv("LSST_DB_AUTH", path)
	return path
}

// WriteSeed writes a seed config (the seed tutorial's butler-seed.yaml) whose
// registry is schema of the test database, and returns its path.
func WriteSeed(t testing.TB, schema string) string {
	t.Helper()
	host, port := Host(t)
	path := filepath.Join(t.TempDir(), "butler-seed.yaml")
	body := fmt.Sprintf("registry:\n    db: \"postgresql://%s:%s/%s\"\n    namespace: %q\n", host, port, Database, schema)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
