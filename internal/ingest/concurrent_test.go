package ingest_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
)

// Three ingests of the same raws into one repository at the same time (three
// handles, as three processes would have) all finish, and nothing is lost.
// Each gets a deadline far above the normal run time (about a second), so that
// a lock-up fails the test instead of waiting out SQLite's busy timeout.
func TestRaws_ConcurrentIngests(t *testing.T) {
	if testing.Short() {
		t.Skip("several full ingests")
	}
	const writers = 3
	src := t.TempDir()
	total := len(rawtest.Write(t, src, rawtest.LSSTCam, 20, 5))
	for round := range 4 {
		b := newRepo(t)
		registerAll(t, b)
		var wg sync.WaitGroup
		results := make([]ingest.Result, writers)
		errs := make([]error, writers)
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				h, err := butler.Open(ctx, b.Root, butler.OpenOptions{Writeable: true})
				if err != nil {
					errs[i] = err
					return
				}
				defer h.Close()
				<-start
				results[i], errs[i] = ingest.Raws(ctx, h, []string{src}, ingest.Options{Transfer: "copy", Processes: 1, BatchSize: 5})
			}()
		}
		close(start)
		wg.Wait()
		for i := range writers {
			if errs[i] != nil || len(results[i].Failures) != 0 {
				t.Errorf("round %d, ingest %d: ingested %d, skipped %d, %v, %d failures (first: %v)", round, i,
					results[i].Ingested, results[i].Skipped, errs[i], len(results[i].Failures), firstFailure(results[i]))
			}
		}
		got := checkEveryDatasetHasItsFile(t, b)
		if t.Failed() {
			t.Logf("round %d: %d of %d raws in the repository", round, got, total)
			return
		}
		if got != total {
			t.Errorf("round %d: %d raws in the repository, want %d", round, got, total)
		}
	}
}

func firstFailure(r ingest.Result) any {
	if len(r.Failures) == 0 {
		return nil
	}
	return r.Failures[0]
}

// A dataset query that is reading rows must not lock up a writer that is
// committing in another handle. With SQLite's rollback journal a committing
// writer holds PENDING and waits for readers to finish; a reader that opens a
// second read (another pooled connection) before closing its first waits for
// the writer: each waits for the other until the busy timeout.
// The query below lists raws of two runs; the writer commits while the query
// is between its rows.
func TestRaws_QueryDoesNotLockUpCommittingWriter(t *testing.T) {
	raws := filepath.Join(corpusRoot(t), "raws")
	ctx := context.Background()
	b := newRepo(t)
	registerAll(t, b)
	for _, run := range []string{"run/a", "run/b"} {
		if _, err := ingest.Raws(ctx, b, []string{filepath.Join(raws, rawDet035)}, ingest.Options{Transfer: "direct", Run: run}); err != nil {
			t.Fatal(err)
		}
	}
	writer, err := butler.Open(ctx, b.Root, butler.OpenOptions{Writeable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()

	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	wrote := make(chan error, 1)
	rows := 0
	start := time.Now()
	var qerr error
	for _, err := range b.Query().Collections("run/a", "run/b").Implied(false).Datasets(qctx, "raw") {
		if err != nil {
			qerr = err
			break
		}
		rows++
		if rows == 1 {
			go func() {
				_, err := writer.RegisterRun(qctx, "run/c", "")
				wrote <- err
			}()
			time.Sleep(300 * time.Millisecond) // let the writer reach its commit
		}
	}
	if qerr != nil || rows != 2 {
		t.Errorf("QueryDatasets while another handle commits: %d rows, %v after %s; want 2 rows, nil", rows, qerr, time.Since(start).Round(time.Millisecond))
	}
	if err := <-wrote; err != nil {
		t.Errorf("RegisterRun while a query reads: %v after %s", err, time.Since(start).Round(time.Millisecond))
	}
}
