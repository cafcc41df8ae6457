package campaign

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gobutler/butler/internal/cli"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/s3test"
)

// A variant's starting repository is made once (newRepo) and copied for
// each of its runs (cloneRepo): the directory is copied; a PostgreSQL
// registry, which templateSeed puts in a database of its own, is copied by
// CREATE DATABASE … TEMPLATE (a file copy inside the server, a fraction of
// creating the schema and registering an instrument again); an S3 datastore
// gets a fresh bucket (the starting repository's must be empty).

// templateSeed returns the `butler create` options (to go before REPO) of a
// variant's starting repository with its registry on dialect and, when srv
// is not nil, its datastore in a fresh bucket of srv. A PostgreSQL registry
// goes in a database of its own, dropped when t ends.
func templateSeed(t *testing.T, dialect string, srv *s3test.Server) []string {
	t.Helper()
	var body string
	if dialect == pgtest.Postgres {
		pgtest.UseAdminAuth(t)
		host, port := pgtest.Host(t)
		body = fmt.Sprintf("registry:\n  db: \"postgresql://%s:%s/%s\"\n  namespace: campaign\n", host, port, newDatabase(t, ""))
	}
	if srv != nil {
		body += "datastore:\n  root: s3://" + srv.Bucket(t) + "/repo\n"
	}
	if body == "" {
		return nil
	}
	seed := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(seed, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--seed-config", seed, "--override"}
}

// newDatabase creates a database on the test server, a copy of template
// when it is not "" (else with btree_gist installed), dropped when t ends.
// A copy waits for the template's last sessions to end (the server ends a
// backend shortly after its client has gone).
func newDatabase(t *testing.T, template string) string {
	t.Helper()
	admin := pgtest.Admin(t)
	name := "campaign_" + randHex(t, 6)
	q := `CREATE DATABASE "` + name + `"`
	if template != "" {
		q += ` TEMPLATE "` + template + `"`
	}
	ctx := t.Context()
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err := admin.ExecContext(ctx, q)
		if err == nil {
			break
		}
		var pe *pgconn.PgError
		if !(errors.As(err, &pe) && pe.Code == "55006") || time.Now().After(deadline) { // object_in_use
			t.Fatalf("%s: %v", q, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	if template == "" {
		u, err := url.Parse(pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		db, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "CREATE EXTENSION btree_gist"); err != nil {
			t.Fatalf("install btree_gist in %s: %v", name, err)
		}
	}
	return name
}

var (
	pgDBRe = regexp.MustCompile(`(postgresql://[^/"\s]+/)([A-Za-z0-9_]+)`)
	s3Re   = regexp.MustCompile(`s3://([a-z0-9.-]+)/`)
)

// cloneRepo copies the starting repository at tmpl (see templateSeed) for
// one run and returns the copy's root; srv is the S3 server of its
// datastore, if any.
func cloneRepo(t *testing.T, tmpl string, srv *s3test.Server) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	if err := copyDir(tmpl, root); err != nil {
		t.Fatalf("copy the starting repository: %v", err)
	}
	cfgPath := filepath.Join(root, "butler.yaml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if m := pgDBRe.FindSubmatch(cfg); m != nil {
		if string(m[2]) == pgtest.Database {
			t.Fatalf("the starting repository %s has its registry in the shared test database: make it with templateSeed", tmpl)
		}
		cfg = pgDBRe.ReplaceAll(cfg, []byte("${1}"+newDatabase(t, string(m[2]))))
	}
	if m := s3Re.FindSubmatch(cfg); m != nil {
		if srv == nil {
			t.Fatalf("the starting repository %s has an S3 datastore: give the variant its server", tmpl)
		}
		keys, err := srv.Keys(t.Context(), string(m[1]))
		if err != nil || len(keys) > 0 {
			t.Fatalf("the starting repository's bucket %s holds %v (%v): only an empty S3 datastore is copied", m[1], keys, err)
		}
		cfg = s3Re.ReplaceAll(cfg, []byte("s3://"+srv.Bucket(t)+"/"))
	}
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// copyDir copies the directories, symbolic links and regular files under
// src to dst; the datastore's artifacts are hard links where possible.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case !d.Type().IsRegular():
			return nil
		case !strings.HasPrefix(d.Name(), "gen3.sqlite3") && d.Name() != "butler.yaml" && os.Link(p, target) == nil:
			// An artifact is never written again in place, only added,
			// removed or moved: a copy may share it with the original.
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// runCLI runs the butler command line in this process (as the binary would,
// without starting one) and returns what it printed and its exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(t.Context(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// mustCLI is runCLI for a command that must succeed.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("butler %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}
