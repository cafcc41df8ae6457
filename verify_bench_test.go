package butler_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/benchrepo"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func runVerify(b *testing.B, bt *butler.Butler, opts butler.VerifyOptions) int {
	n := 0
	for _, err := range bt.Verify(b.Context(), opts) {
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	return n
}

// BenchmarkVerify_Records verifies a registry-only repository of LSSTCam
// raws (BUTLER_BENCH_VERIFY_RECORDS datasets, default 20,500), each with a
// file record and a location row but no file: the registry checks of
// `butler verify --records-only`, on SQLite and PostgreSQL.
func BenchmarkVerify_Records(b *testing.B) {
	for _, dialect := range []string{pgtest.SQLite, pgtest.Postgres} {
		b.Run(dialect, func(b *testing.B) { benchVerifyRecords(b, dialect) })
	}
}

func benchVerifyRecords(b *testing.B, dialect string) {
	n := envInt("BUTLER_BENCH_VERIFY_RECORDS", 20500)
	// BUTLER_BENCH_VERIFY_DIR keeps the SQLite repository there, e.g. to time
	// the command line on it.
	root := filepath.Join(b.TempDir(), "repo")
	if d := os.Getenv("BUTLER_BENCH_VERIFY_DIR"); d != "" && dialect == pgtest.SQLite {
		root = d
	}
	opts := benchrepo.Options{Exposures: max(1, n/205), Detectors: 205, PerNight: 200, Batch: 20000}
	id := "id"
	if dialect == pgtest.Postgres {
		pgtest.UseAdminAuth(b)
		host, port := pgtest.Host(b)
		opts.DB, opts.Namespace = fmt.Sprintf("postgresql://%s:%s/%s", host, port, pgtest.Database), pgtest.Schema(b)
		id = "id::text"
	}
	_, err := os.Stat(filepath.Join(root, "butler.yaml"))
	built := err == nil // a kept repository from an earlier round
	if !built {
		if _, err := benchrepo.Build(b.Context(), root, opts); err != nil {
			b.Fatal(err)
		}
	}
	bt := repotest.Open(b, root)
	if !built {
		execSQL(b, bt, `INSERT INTO file_datastore_records (dataset_id, path, formatter, storage_class, component, checksum, file_size)
		SELECT id, 'raw/' || `+id+` || '.fits', 'lsst.obs.base.formatters.fitsExposure.FitsExposureFormatter', 'Exposure', '__NULL_STRING__', NULL, 1000 FROM dataset`)
		execSQL(b, bt, `INSERT INTO dataset_location (datastore_name, dataset_id) SELECT 'FileDatastore@<butlerRoot>', id FROM dataset`)
	}
	datasets := opts.Exposures * 205
	b.ResetTimer()
	for range b.N {
		if p := runVerify(b, bt, butler.VerifyOptions{RecordsOnly: true}); p != 0 {
			b.Fatalf("%d problems", p)
		}
	}
	b.ReportMetric(float64(datasets*b.N)/b.Elapsed().Seconds(), "datasets/s")
}

// BenchmarkVerify_Files verifies BUTLER_BENCH_VERIFY_FILES real files (default
// 2,000) of 16 KiB with checksums recorded: stat only, and with --checksums.
// The files are ingested (moved) in runs of 1,000; BUTLER_BENCH_VERIFY_FILES_DIR
// keeps the repository there for later rounds or the command line.
func BenchmarkVerify_Files(b *testing.B) {
	n := envInt("BUTLER_BENCH_VERIFY_FILES", 2000)
	const perRun = 1000
	root := filepath.Join(b.TempDir(), "repo")
	if d := os.Getenv("BUTLER_BENCH_VERIFY_FILES_DIR"); d != "" {
		root = d
	}
	var bt *butler.Butler
	if _, err := os.Stat(filepath.Join(root, "butler.yaml")); err == nil {
		bt = repotest.Open(b, root)
	} else {
		bt = newVerifyRepoAt(b, root, perRun)
		pad := strings.Repeat("x", 16<<10)
		stage := b.TempDir()
		for start := 0; start < n; start += perRun {
			var files []butler.FileDataset
			for i := start; i < min(n, start+perRun); i++ {
				p := filepath.Join(stage, fmt.Sprintf("%d.yaml", i))
				if err := os.WriteFile(p, []byte(fmt.Sprintf("v: %d\npad: %s\n", i, pad)), 0o644); err != nil {
					b.Fatal(err)
				}
				files = append(files, butler.FileDataset{Path: p, DataID: det(i - start)})
			}
			if _, err := bt.Ingest(b.Context(), "dict", fmt.Sprintf("run%d", start/perRun), files, butler.IngestOptions{Transfer: "move", Parallel: 4}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		opts butler.VerifyOptions
	}{{"stat", butler.VerifyOptions{}}, {"checksums", butler.VerifyOptions{Checksums: true}}} {
		b.Run(tc.name, func(b *testing.B) {
			st := &butler.VerifyStats{}
			tc.opts.Stats = st
			for range b.N {
				if p := runVerify(b, bt, tc.opts); p != 0 {
					b.Fatalf("%d problems", p)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "files/s")
			b.ReportMetric(float64(st.Bytes.Load())/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
}

// newVerifyRepoAt is newVerifyRepo for benchmarks (SQLite, POSIX, at
// root) with an instrument of detectors detectors.
func newVerifyRepoAt(b *testing.B, root string, detectors int) *butler.Butler {
	b.Helper()
	seed := filepath.Join(b.TempDir(), "seed.yaml")
	if err := os.WriteFile(seed, []byte("datastore:\n  checksum: true\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if _, err := butler.Create(b.Context(), root, butler.CreateOptions{SeedConfig: seed, Override: true}); err != nil {
		b.Fatal(err)
	}
	bt := repotest.Open(b, root)
	repotest.AddInstrument(b, bt, inst, detectors)
	if _, err := bt.RegisterDatasetType(b.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		b.Fatal(err)
	}
	return bt
}
