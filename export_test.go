package butler

import (
	"context"

	"testing"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/registry"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// RegistryDB opens a second connection to the registry's
// database, for tests that check the upstream table layout with SQL of their
// own (the registry itself never hands out its connection).
func RegistryDB(tb testing.TB, b *Butler) *sqldb.DB {
	tb.Helper()
	db, _, err := registry.Connect(tb.Context(), location(b.repo.Registry), false, false)
	if err != nil {
		tb.Fatalf("open registry database: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// DatastoreURI returns the URI of a path in the datastore ("" for its root).
func DatastoreURI(b *Butler, path string) string { return b.ds.URI(path) }

// DatastoreRoot returns the datastore's local root directory ("" when it is
// not on a local file system).
func DatastoreRoot(b *Butler) string { return b.ds.Root() }

// FileSizes returns the file sizes recorded for datasets (-1: not tracked), for
// tests of what the datastore records.
func FileSizes(ctx context.Context, b *Butler, ids []dataset.ID) (map[dataset.ID]int64, error) {
	recs, err := b.reg.FileRecords(ctx, b.ds.RecordsTable(), ids)
	if err != nil {
		return nil, err
	}
	out := map[dataset.ID]int64{}
	for id, rs := range recs {
		for _, r := range rs {
			out[id] = r.FileSize
		}
	}
	return out, nil
}
