package butler_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/benchrepo"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestImport_BulkConflictNamed imports thousands of raws (a COPY on
// PostgreSQL, several multi-row statements on SQLite) into a run, then a
// second bundle whose one raw, in the middle, has the data ID of a raw
// already there: the import fails naming that data ID and leaves the run as
// it was; with skip-existing semantics (the same raws again) nothing is
// duplicated.
func TestImport_BulkConflictNamed(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := t.Context()
		root := filepath.Join(t.TempDir(), "repo")
		opts := benchrepo.Options{Exposures: 40, Detectors: 205, PerNight: 20, Batch: 100000}
		if dialect == pgtest.Postgres {
			pgtest.UseAdminAuth(t)
			opts.DB, opts.Namespace = pgtest.URL(t, "", ""), pgtest.Schema(t)
		}
		if _, err := benchrepo.Build(ctx, root, opts); err != nil {
			t.Fatal(err)
		}
		b := repotest.Open(t, root)
		var all []dataset.Ref
		if err := b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{benchrepo.Run}}, func(r dataset.Ref) error {
			all = append(all, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(all) != 40*205 {
			t.Fatalf("%d raws, want %d", len(all), 40*205)
		}
		const run = "other"
		bundle := func(refs []dataset.Ref, fresh bool) *butler.Bundle {
			var files []butler.BundleFile
			for _, r := range refs {
				var id dataset.ID
				if fresh {
					id, _ = dataset.NewID(dataset.Unique, "raw", run, nil)
				} else {
					id, _ = dataset.NewID(dataset.DataIDTypeRun, "raw", run, r.DataID)
				}
				files = append(files, butler.BundleFile{Refs: []dataset.Ref{{ID: id, Type: dataset.Type{Name: "raw"}, Run: run, DataID: r.DataID}}})
			}
			return &butler.Bundle{Files: files}
		}
		count := func() int {
			n, err := b.Query().Collections(run).Count(ctx, "raw")
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if _, err := b.Import(ctx, bundle(all[:4000], false), butler.ImportOptions{RegistryOnly: true}); err != nil {
			t.Fatal(err)
		}
		clash := all[1234]
		second := append(append(append([]dataset.Ref{}, all[4000:6000]...), clash), all[6000:]...)
		_, err := b.Import(ctx, bundle(second, true), butler.ImportOptions{RegistryOnly: true})
		var ce *dataset.ConflictError
		if !errors.As(err, &ce) || ce.DataID.String() != clash.DataID.String() {
			t.Fatalf("import with one raw already there: %v, want a conflict naming %s", err, clash.DataID)
		}
		if n := count(); n != 4000 {
			t.Errorf("%s holds %d raws after the failed import, want 4000", run, n)
		}
		res, err := b.Import(ctx, bundle(all, false), butler.ImportOptions{RegistryOnly: true})
		if err != nil || res.Datasets != len(all)-4000 || res.Skipped != 4000 {
			t.Errorf("import of all raws = %+v, %v; want %d new and 4000 skipped", res, err, len(all)-4000)
		}
		if n := count(); n != len(all) {
			t.Errorf("%s holds %d raws, want %d", run, n, len(all))
		}
	})
}
