package butler_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// pgRepo creates a repository whose registry is a fresh schema of the test
// server (seed config, superuser credentials in a db-auth file), opens it for
// writing and registers LSSTCam. It returns the butler and the schema.
func pgRepo(tb testing.TB) (*butler.Butler, string) {
	tb.Helper()
	pgtest.UseAdminAuth(tb)
	schema := pgtest.Schema(tb)
	root := filepath.Join(tb.TempDir(), "repo")
	if _, err := butler.Create(tb.Context(), root, butler.CreateOptions{SeedConfig: pgtest.WriteSeed(tb, schema), Override: true}); err != nil {
		tb.Fatalf("create repository on PostgreSQL: %v", err)
	}
	b := repotest.Open(tb, root)
	if _, err := ingest.RegisterInstrument(tb.Context(), b, "lsst.obs.lsst.LsstCam", false); err != nil {
		tb.Fatalf("register LsstCam: %v", err)
	}
	return b, schema
}

// The registry server restarts while a long ingest runs: the ingest either
// carries on (its batches retry a lost connection) or stops with an error,
// never hangs or panics; a rerun on the same files then leaves every raw
// ingested exactly once, each with its file record and file, and no file in
// the datastore without a record.
func TestPostgres_RestartDuringIngest(t *testing.T) {
	pgtest.Admin(t) // skip early without a server
	raws := rawtest.Write(t, t.TempDir(), rawtest.LSSTCam, 20, 150)
	const batch = 200
	for _, tc := range []struct {
		name string
		how  pgtest.Shutdown
	}{{"fast", pgtest.Fast}, {"immediate", pgtest.Immediate}} {
		t.Run(tc.name, func(t *testing.T) {
			b, schema := pgRepo(t)
			admin := pgtest.Admin(t)
			ctx := t.Context()
			opts := ingest.Options{Transfer: "symlink", Processes: 2, BatchSize: batch, Logger: testLogger(t)}

			type outcome struct {
				res ingest.Result
				err error
			}
			done := make(chan outcome, 1)
			ictx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			go func() {
				defer func() {
					if p := recover(); p != nil {
						done <- outcome{err: errors.New("panic: " + strings.TrimSpace(toString(p)))}
					}
				}()
				res, err := ingest.Raws(ictx, b, raws, opts)
				done <- outcome{res, err}
			}()

			// Restart once the first batches are committed, seen through
			// another connection.
			count := func() int {
				var n int
				if err := admin.QueryRowContext(ctx, `SELECT count(*) FROM "`+schema+`".dataset`).Scan(&n); err != nil {
					return -1
				}
				return n
			}
			var before int
			for before = count(); before < 2*batch; before = count() {
				select {
				case o := <-done:
					t.Fatalf("the ingest ended (%+v, %v) before the restart: make it longer", o.res, o.err)
				case <-time.After(10 * time.Millisecond):
				}
			}
			pgtest.Restart(t, tc.how)
			t.Logf("restarted the server (%s shutdown) with %d of %d raws committed", tc.name, before, len(raws))

			var first outcome
			select {
			case first = <-done:
			case <-time.After(4 * time.Minute):
				t.Fatal("the ingest hangs after the server restart")
			}
			switch {
			case first.err != nil && strings.HasPrefix(first.err.Error(), "panic: "):
				t.Fatalf("the ingest panicked: %v", first.err)
			case first.err != nil:
				t.Logf("the ingest stopped with an error: %v (%d ingested, %d failures)", first.err, first.res.Ingested, len(first.res.Failures))
			default:
				t.Logf("the ingest carried on: %d ingested, %d skipped, %d failures", first.res.Ingested, first.res.Skipped, len(first.res.Failures))
				if len(first.res.Failures) > 0 {
					// A lost connection is the server's fault, not the files'.
					t.Errorf("the restart failed %d files; first: %s", len(first.res.Failures), firstFailure(first.res))
				}
			}

			// The rerun finishes the job.
			res, err := ingest.Raws(ctx, b, raws, opts)
			if err != nil || len(res.Failures) > 0 || res.Ingested+res.Skipped != len(raws) {
				t.Fatalf("rerun: %d ingested, %d skipped, %d failures (%v), err %v; want %d in all", res.Ingested, res.Skipped, len(res.Failures), firstFailure(res), err, len(raws))
			}
			t.Logf("rerun: %d ingested, %d skipped", res.Ingested, res.Skipped)
			checkRawsOnce(t, b, len(raws))
			if n := count(); n != len(raws) {
				t.Errorf("%d dataset rows in the registry, want %d", n, len(raws))
			}
		})
	}
}

// checkRawsOnce checks that the repository holds want raws, once each, each
// with a file record whose file exists, and no datastore file without a record.
func checkRawsOnce(t *testing.T, b *butler.Butler, want int) {
	t.Helper()
	ctx := t.Context()
	var ids []dataset.ID
	seenID, seenDataID := map[dataset.ID]bool{}, map[string]bool{}
	err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"LSSTCam/raw/all"}}, func(r dataset.Ref) error {
		if seenID[r.ID] {
			t.Errorf("dataset %s found twice", r.ID)
		}
		k := r.DataID.String()
		if seenDataID[k] {
			t.Errorf("two raws with data ID %s", k)
		}
		seenID[r.ID], seenDataID[k] = true, true
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("query raws: %v", err)
	}
	if len(ids) != want {
		t.Errorf("%d raws in LSSTCam/raw/all, want %d", len(ids), want)
	}
	uris, err := b.URIs(ctx, ids)
	if err != nil {
		t.Fatalf("file records: %v", err)
	}
	recorded := map[string]bool{}
	for _, id := range ids {
		u, ok := uris[id]
		if !ok {
			t.Errorf("dataset %s has no file record", id)
			continue
		}
		p := strings.TrimPrefix(u, "file://")
		recorded[filepath.Clean(p)] = true
		if _, err := os.Stat(p); err != nil {
			t.Errorf("dataset %s: file %s: %v", id, p, err)
		}
	}
	root := butler.DatastoreRoot(b)
	if root == "" {
		t.Fatal("the datastore has no local root")
	}
	stray := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Dir(p) == filepath.Clean(root) {
			return err // files at the top (butler.yaml) are the repository's, not the datastore's
		}
		if !recorded[filepath.Clean(p)] {
			if stray++; stray <= 5 {
				t.Errorf("datastore file without a record: %s", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk datastore %s: %v", root, err)
	}
	if stray > 0 {
		t.Errorf("%d datastore files without a record", stray)
	}
}

func firstFailure(r ingest.Result) string {
	if len(r.Failures) == 0 {
		return "none"
	}
	return r.Failures[0].Path + ": " + r.Failures[0].Err.Error()
}

func toString(v any) string { return fmt.Sprint(v) }

// testLogger logs at Info and above to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// BenchmarkIngestRawsPostgresVsSQLite ingests $BUTLER_BENCH_PG_INGEST
// synthetic LSSTCam raws (symlink, 4 header readers) into a fresh PostgreSQL
// repository and a fresh SQLite one per op and reports files/s for each. The
// raws are written once, outside the timing. Skipped unless the variable is
// set; run with -benchtime=1x for large N.
func BenchmarkIngestRawsPostgresVsSQLite(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("BUTLER_BENCH_PG_INGEST"))
	if n <= 0 {
		b.Skip("set BUTLER_BENCH_PG_INGEST to the number of raws")
	}
	pgtest.Admin(b)
	const perExposure = 189 // LSSTCam's science detectors
	start := time.Now()
	raws := rawtest.Write(b, b.TempDir(), rawtest.LSSTCam, (n+perExposure-1)/perExposure, perExposure)[:n]
	b.Logf("wrote %d raws in %v", len(raws), time.Since(start).Round(time.Second))
	opts := ingest.Options{Transfer: "symlink", Processes: 4}
	var pgTime, liteTime time.Duration
	ingestInto := func(bt *butler.Butler) time.Duration {
		t0 := time.Now()
		res, err := ingest.Raws(b.Context(), bt, raws, opts)
		if err != nil || res.Ingested != len(raws) {
			b.Fatalf("ingest: %d of %d ingested, %d failures (%s), %v", res.Ingested, len(raws), len(res.Failures), firstFailure(res), err)
		}
		return time.Since(t0)
	}
	for b.Loop() {
		b.StopTimer()
		pg, _ := pgRepo(b)
		b.StartTimer()
		pgTime += ingestInto(pg)
		b.StopTimer()
		pg.Close()
		_, lite := repotest.New(b)
		if _, err := ingest.RegisterInstrument(b.Context(), lite, "lsst.obs.lsst.LsstCam", false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		liteTime += ingestInto(lite)
	}
	b.ReportMetric(float64(b.N*n)/pgTime.Seconds(), "pg-files/s")
	b.ReportMetric(float64(b.N*n)/liteTime.Seconds(), "sqlite-files/s")
	b.Logf("%d raws: PostgreSQL %.0f files/s, SQLite %.0f files/s", n,
		float64(b.N*n)/pgTime.Seconds(), float64(b.N*n)/liteTime.Seconds())
}
