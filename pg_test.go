package butler_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

func TestMain(m *testing.M) {
	stop := pgtest.Start() // a private PostgreSQL cluster for the package, when there is one
	m.Run()
	repotest.RemoveBinary()
	stop()
}

// The seed tutorial end to end on PostgreSQL: user A makes a schema and a
// repository from a seed config, registers LSSTCam, ingests raws and puts a
// dataset; user B, with their own db-auth entry and a read-only grant, can
// query but not write; user C without a grant is refused; credentials never
// reach butler.yaml, config-dump or error messages.
func TestPostgres_SeedWorkflow(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.Admin(t)
	owner, ownerPW := pgtest.Role(t)
	reader, readerPW := pgtest.Role(t)
	stranger, strangerPW := pgtest.Role(t)
	secrets := []string{ownerPW, readerPW, strangerPW}
	// Step 2 of the tutorial (psql as the user): CREATE SCHEMA my_first_butler_repo;
	schema := "repo_" + strings.TrimPrefix(owner, "u_")
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema+" AUTHORIZATION "+owner); err != nil {
		t.Fatal(err)
	}
	ownerAuth, readerAuth, strangerAuth := pgtest.WriteDBAuth(t, owner, ownerPW), pgtest.WriteDBAuth(t, reader, readerPW), pgtest.WriteDBAuth(t, stranger, strangerPW)
	seed := pgtest.WriteSeed(t, schema)
	repo := filepath.Join(t.TempDir(), "my-butler-repo")
	noSecret := func(what, s string) {
		t.Helper()
		for _, p := range secrets {
			if strings.Contains(s, p) {
				t.Errorf("%s shows a password:\n%s", what, s)
			}
		}
	}

	// User A: butler create --seed-config butler-seed.yaml --override REPO.
	t.Setenv("LSST_DB_AUTH", ownerAuth)
	configFile, err := butler.Create(ctx, repo, butler.CreateOptions{SeedConfig: seed, Override: true})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	written, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}
	noSecret("butler.yaml", string(written))
	if !strings.Contains(string(written), schema) || !strings.Contains(string(written), "postgresql://") {
		t.Errorf("butler.yaml lacks the registry:\n%s", written)
	}
	a, err := butler.Open(ctx, repo, butler.OpenOptions{Writeable: true})
	if err != nil {
		t.Fatalf("open as owner: %v", err)
	}
	defer a.Close()
	if n, err := ingest.RegisterInstrument(ctx, a, "lsst.obs.lsst.LsstCam", false); err != nil || n < 190 {
		t.Fatalf("register-instrument LsstCam: %d records, %v", n, err)
	}
	raws := rawtest.Write(t, t.TempDir(), rawtest.LSSTCam, 2, 3)
	res, err := ingest.Raws(ctx, a, raws, ingest.Options{Transfer: "symlink", Processes: 2})
	if err != nil || res.Ingested != len(raws) || len(res.Failures) > 0 {
		t.Fatalf("ingest-raws: %+v, %v", res, err)
	}
	// Ingesting again skips everything (nothing duplicated).
	if res, err := ingest.Raws(ctx, a, raws, ingest.Options{Transfer: "symlink"}); err != nil || res.Skipped != len(raws) {
		t.Errorf("second ingest-raws: %+v, %v", res, err)
	}
	if _, err := a.RegisterDatasetType(ctx, "notes", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RegisterRun(ctx, "u/a/notes", ""); err != nil {
		t.Fatal(err)
	}
	did := dimensions.DataID{"instrument": "LSSTCam", "detector": 10}
	if _, err := a.Put(ctx, []byte("a: 1\n"), "notes", did, "u/a/notes"); err != nil {
		t.Fatalf("put: %v", err)
	}
	countRaws := func(b *butler.Butler, where string) int {
		t.Helper()
		n := 0
		err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"LSSTCam/raw/all"}, Where: where}, func(dataset.Ref) error { n++; return nil })
		if err != nil {
			t.Fatalf("query raws where %q: %v", where, err)
		}
		return n
	}
	if n := countRaws(a, ""); n != len(raws) {
		t.Errorf("owner finds %d raws, want %d", n, len(raws))
	}
	if n := countRaws(a, "exposure.timespan.begin > T'2000-01-01' AND GLOB(exposure.obs_id, 'MC_O_*')"); n != len(raws) {
		t.Errorf("owner finds %d raws by timespan and obs_id glob, want %d", n, len(raws))
	}

	// User A shares the repository with B, read-only (step 6), through the CLI.
	share := func(env string, args ...string) repotest.Result {
		return repotest.Cmd{Args: append([]string{"share", repo}, args...), Env: []string{"LSST_DB_AUTH=" + env}}.Run(t)
	}
	if res := share(ownerAuth, reader, "--read-only"); res.Code != 0 || !strings.Contains(res.Stdout, "read-only") {
		t.Fatalf("butler share --read-only: %s", res)
	}
	if res := share(ownerAuth, reader); res.Code != 2 {
		t.Errorf("butler share without an access flag: %s, want exit 2", res)
	}

	// User B: their own db-auth, the same butler.yaml.
	t.Setenv("LSST_DB_AUTH", readerAuth)
	b, err := butler.Open(ctx, repo, butler.OpenOptions{Writeable: true})
	if err != nil {
		t.Fatalf("open as reader: %v", err)
	}
	defer b.Close()
	if got, _, err := b.Get(ctx, "notes", did, []string{"u/a/notes"}); err != nil || string(got) != "a: 1\n" {
		t.Errorf("reader gets %q, %v", got, err)
	}
	if n := countRaws(b, "detector IN (0..300)"); n != len(raws) {
		t.Errorf("reader finds %d raws, want %d", n, len(raws))
	}
	_, err = b.Put(ctx, []byte("b: 2\n"), "notes", dimensions.DataID{"instrument": "LSSTCam", "detector": 11}, "u/a/notes")
	t.Logf("reader's put: %v", err)
	if !errors.Is(err, errs.ErrReadOnly) || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), reader) || strings.Contains(err.Error(), "SQLSTATE") {
		t.Errorf("reader puts: %v, want a plain read-only error naming the user", err)
	}
	if _, err := b.RegisterRun(ctx, "u/b/run", ""); !errors.Is(err, errs.ErrReadOnly) {
		t.Errorf("reader registers a run: %v, want read-only", err)
	}
	if res := (repotest.Cmd{Args: []string{"register-dataset-type", repo, "x", "StructuredDataDict", "instrument"}, Env: []string{"LSST_DB_AUTH=" + readerAuth}}).Run(t); res.Code != 1 ||
		!strings.Contains(res.Stderr, "read-only") || strings.Contains(res.Stderr, "bug") {
		t.Errorf("reader's butler register-dataset-type: %s, want exit 1 with a read-only message", res)
	}
	dump := repotest.Cmd{Args: []string{"config-dump", repo}, Env: []string{"LSST_DB_AUTH=" + readerAuth}}.Run(t)
	if dump.Code != 0 || !strings.Contains(dump.Stdout, schema) {
		t.Errorf("config-dump: %s", dump)
	}
	noSecret("config-dump", dump.Stdout+dump.Stderr)

	// User C: no grant.
	t.Setenv("LSST_DB_AUTH", strangerAuth)
	_, err = butler.Open(ctx, repo, butler.OpenOptions{})
	t.Logf("stranger's open: %v", err)
	if !errors.Is(err, errs.ErrPermission) || !strings.Contains(err.Error(), stranger) || !strings.Contains(err.Error(), schema) {
		t.Errorf("stranger opens: %v, want a permission error naming user and schema", err)
	}
	if err != nil {
		noSecret("stranger's error", err.Error())
	}
	res2 := repotest.Cmd{Args: []string{"query-collections", repo}, Env: []string{"LSST_DB_AUTH=" + strangerAuth}}.Run(t)
	if res2.Code != 1 || !strings.Contains(res2.Stderr, "no access to schema") {
		t.Errorf("stranger's butler query-collections: %s", res2)
	}
	noSecret("stranger's CLI error", res2.Stderr)

	// A wrong password is reported with the URL and user tried, not the password.
	t.Setenv("LSST_DB_AUTH", pgtest.WriteDBAuth(t, reader, "wrong-"+readerPW))
	_, err = butler.Open(ctx, repo, butler.OpenOptions{})
	t.Logf("wrong password: %v", err)
	if !errors.Is(err, errs.ErrPermission) || !strings.Contains(err.Error(), reader) || strings.Contains(err.Error(), "wrong-") {
		t.Errorf("open with a wrong password: %v", err)
	}

	// Revoking takes B's access away.
	if res := share(ownerAuth, reader, "--revoke"); res.Code != 0 {
		t.Fatalf("butler share --revoke: %s", res)
	}
	t.Setenv("LSST_DB_AUTH", readerAuth)
	if _, err := butler.Open(ctx, repo, butler.OpenOptions{}); !errors.Is(err, errs.ErrPermission) {
		t.Errorf("reader opens after revoke: %v, want permission error", err)
	}
}

func TestPostgres_CreateErrors(t *testing.T) {
	ctx := context.Background()
	user, pw := pgtest.Role(t) // may not create schemas
	t.Setenv("LSST_DB_AUTH", pgtest.WriteDBAuth(t, user, pw))
	_, err := butler.Create(ctx, filepath.Join(t.TempDir(), "repo"), butler.CreateOptions{SeedConfig: pgtest.WriteSeed(t, "not_mine"), Override: true})
	if !errors.Is(err, errs.ErrPermission) || !strings.Contains(err.Error(), "CREATE SCHEMA") {
		t.Errorf("create without the right to make the schema: %v, want permission error with advice", err)
	}
	schema := pgtest.Schema(t)
	pgtest.UseAdminAuth(t)
	root := filepath.Join(t.TempDir(), "repo")
	if _, err := butler.Create(ctx, root, butler.CreateOptions{SeedConfig: pgtest.WriteSeed(t, schema), Override: true}); err != nil {
		t.Fatal(err)
	}
	_, err = butler.Create(ctx, filepath.Join(t.TempDir(), "other"), butler.CreateOptions{SeedConfig: pgtest.WriteSeed(t, schema), Override: true})
	if !errors.Is(err, errs.ErrConflict) {
		t.Errorf("second repository in the same schema: %v, want conflict", err)
	}
}

// pgBenchRepo makes a PostgreSQL repository (fresh schema) like benchRepo's.
func pgBenchRepo(b *testing.B) *butler.Butler {
	b.Helper()
	_, bt := repotest.NewOn(b, pgtest.Postgres, butler.CreateOptions{})
	repotest.AddInstrument(b, bt, "Dummy", benchDatasets)
	if _, err := bt.RegisterDatasetType(b.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		b.Fatal(err)
	}
	if _, err := bt.RegisterRun(b.Context(), "bench", ""); err != nil {
		b.Fatal(err)
	}
	return bt
}

// BenchmarkPostgresPut is BenchmarkPut on a PostgreSQL registry (loopback server).
func BenchmarkPostgresPut(b *testing.B) {
	data := []byte("a: 1\nb: [1, 2, 3]\n")
	b.SetBytes(int64(len(data)) * benchDatasets)
	n := 0
	for b.Loop() {
		b.StopTimer()
		bt := pgBenchRepo(b)
		b.StartTimer()
		for d := range benchDatasets {
			if _, err := bt.Put(b.Context(), data, "dict", dimensions.DataID{"instrument": "Dummy", "detector": d}, "bench"); err != nil {
				b.Fatal(err)
			}
		}
		n += benchDatasets
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/dataset")
}

// BenchmarkPostgresGet is BenchmarkGet on a PostgreSQL registry.
func BenchmarkPostgresGet(b *testing.B) {
	bt := pgBenchRepo(b)
	data := []byte("a: 1\nb: [1, 2, 3]\n")
	for d := range benchDatasets {
		if _, err := bt.Put(b.Context(), data, "dict", dimensions.DataID{"instrument": "Dummy", "detector": d}, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(data)) * benchDatasets)
	n := 0
	for b.Loop() {
		for d := range benchDatasets {
			got, _, err := bt.Get(b.Context(), "dict", dimensions.DataID{"instrument": "Dummy", "detector": d}, []string{"bench"})
			if err != nil || len(got) != len(data) {
				b.Fatalf("get detector %d: %d bytes, %v", d, len(got), err)
			}
		}
		n += benchDatasets
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/dataset")
}
