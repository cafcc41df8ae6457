package butler_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/benchrepo"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// TestVerify_PageBoundaries checks, on SQLite and PostgreSQL, that the
// whole-repository checks count every file record exactly once and find each
// problem once whatever the page size (one record a page, pages that end on
// a problem, the last page full or short, one page for all), records-only
// and with the files.
func TestVerify_PageBoundaries(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		_, b := newVerifyRepo(t, dialect, "posix")
		var refs []dataset.Ref
		for d := range 12 {
			refs = append(refs, mustPut(t, b, fmt.Sprintf("d: %d\n", d), "dict", det(d), "run"))
		}
		// Records whose dataset is gone, sorting first, in the middle and last.
		var want []string
		for _, id := range []string{"00000000-0000-4000-8000-000000000001", "7fffffff-0000-4000-8000-000000000000", "ffffffff-ffff-4fff-bfff-ffffffffffff"} {
			ghost := uuid.MustParse(id)
			path := "ghost/" + id + ".yaml"
			execSQL(t, b, "INSERT INTO file_datastore_records (dataset_id, path, formatter, storage_class, component, checksum, file_size) VALUES (?, ?, 'f', 'StructuredDataDict', '__NULL_STRING__', NULL, 3)",
				uuidArg(t, b, ghost), path)
			want = append(want, problemKey(butler.Problem{Kind: butler.ProblemRecordWithoutDataset, ID: ghost, Path: path}))
		}
		// Stored datasets whose records are gone (their files stay, as orphans
		// that these checks do not look for).
		for _, i := range []int{0, 5, 11} {
			execSQL(t, b, "DELETE FROM file_datastore_records WHERE dataset_id = ?", uuidArg(t, b, refs[i].ID))
			want = append(want, problemKey(butler.Problem{Kind: butler.ProblemNoFileRecord, ID: refs[i].ID}))
		}
		slices.Sort(want)
		const records = 12 - 3 + 3
		for _, recordsOnly := range []bool{true, false} {
			for _, page := range []int{1, 2, 3, 4, 11, 12, 13, 100} {
				t.Run(fmt.Sprintf("records-only=%v/page=%d", recordsOnly, page), func(t *testing.T) {
					st := &butler.VerifyStats{}
					var got []string
					for _, p := range verifyAll(t, b, butler.VerifyOptions{RecordsOnly: recordsOnly, PageSize: page, Stats: st}) {
						got = append(got, problemKey(p))
					}
					if !slices.Equal(got, want) {
						t.Errorf("found:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
					}
					if n := st.Datasets.Load(); n != records {
						t.Errorf("checked %d records, want %d", n, records)
					}
				})
			}
		}
	})
}

// TestVerify_PostgresReadsDatasetsOnce checks that a whole-repository verify
// on PostgreSQL reads the dataset table a bounded number of times, whatever
// the page size, on tables filled without ANALYZE. Checking pages of records
// with keyset queries was planned, for want of statistics, as a hashed
// subplan over the whole dataset table for every page: the rate fell with
// the size (78,000 datasets/s at 102,000, 29,000/s at 205,000).
func TestVerify_PostgresReadsDatasetsOnce(t *testing.T) {
	pgtest.UseAdminAuth(t)
	host, port := pgtest.Host(t)
	schema := pgtest.Schema(t)
	root := filepath.Join(t.TempDir(), "repo")
	opts := benchrepo.Options{Exposures: 10, Detectors: 205, PerNight: 10, Batch: 5000,
		DB: fmt.Sprintf("postgresql://%s:%s/%s", host, port, pgtest.Database), Namespace: schema}
	if _, err := benchrepo.Build(t.Context(), root, opts); err != nil {
		t.Fatal(err)
	}
	const n = 10 * 205
	admin := pgtest.Admin(t)
	for _, q := range []string{
		`INSERT INTO %s.file_datastore_records (dataset_id, path, formatter, storage_class, component, checksum, file_size)
		SELECT id, 'raw/' || id::text || '.fits', 'f', 'Exposure', '__NULL_STRING__', NULL, 1000 FROM %[1]s.dataset`,
		`INSERT INTO %s.dataset_location (datastore_name, dataset_id) SELECT 'FileDatastore@<butlerRoot>', id FROM %[1]s.dataset`,
	} {
		if _, err := admin.ExecContext(t.Context(), fmt.Sprintf(q, `"`+schema+`"`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, recordsOnly := range []bool{true, false} {
		t.Run(fmt.Sprintf("records-only=%v", recordsOnly), func(t *testing.T) {
			before := tuplesRead(t, admin, schema, readTables, "file_datastore_records", nil)
			b, err := butler.Open(t.Context(), root, butler.OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			st := &butler.VerifyStats{}
			// Every file is missing, so only a records-only pass is clean.
			problems := 0
			for _, err := range b.Verify(t.Context(), butler.VerifyOptions{RecordsOnly: recordsOnly, PageSize: 100, Stats: st}) {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				problems++
			}
			b.Close()
			if want := map[bool]int{true: 0, false: n}[recordsOnly]; problems != want {
				t.Errorf("%d problems, want %d", problems, want)
			}
			if got := st.Datasets.Load(); got != n {
				t.Errorf("checked %d records, want %d", got, n)
			}
			// Pages planned one by one read the dataset table whole for each
			// (21 × 2,050 rows), and the locations and records from the page
			// to the end. One statement reads each table once, or once per
			// parallel worker of a hash join that each build their own table.
			after := tuplesRead(t, admin, schema, readTables, "file_datastore_records", before)
			for _, table := range readTables {
				read := after[table] - before[table]
				t.Logf("verify read %d rows of %s for %d datasets", read, table, n)
				if read > 8*n {
					t.Errorf("verify read %d rows of %s for %d datasets (pages of 100): more than 8 times each", read, table, n)
				}
			}
		})
	}
}

// readTables are the tables whose reads TestVerify_PostgresReadsDatasetsOnce counts.
var readTables = []string{"dataset", "dataset_location", "file_datastore_records"}

// tuplesRead is the number of rows PostgreSQL has read from each of tables
// in schema, by sequential scans and index fetches. The server's backends
// send their counts when they end, a little later than the client closes
// them: it waits until the counts have stopped changing and, given the
// previous counts, until those of grown have grown.
func tuplesRead(t *testing.T, admin *sql.DB, schema string, tables []string, grown string, prev map[string]int64) map[string]int64 {
	t.Helper()
	read := func() map[string]int64 {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		conn, err := admin.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, table := range tables {
			var n int64
			if err := conn.QueryRowContext(ctx, `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables
				WHERE schemaname = $1 AND relname = $2`, schema, table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			out[table] = n
		}
		return out
	}
	n := read()
	stable, deadline := 0, time.Now().Add(20*time.Second)
	for stable < 4 && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		m := read()
		if maps.Equal(m, n) && (prev == nil || m[grown] > prev[grown]) {
			stable++
		} else {
			stable = 0
		}
		n = m
	}
	return n
}
