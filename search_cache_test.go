package butler_test

import (
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestSearchCache: a Butler never caches search resolutions unless told
// (SetSearchCache, as servers do); one that does reuses them for the TTL
// only, so a chain redefined by another process is seen at most one TTL
// late.
func TestSearchCache(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := t.Context()
		root, w := repotest.NewOn(t, dialect, butler.CreateOptions{})
		repotest.AddInstrument(t, w, "Cam", 2)
		if _, err := w.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
			t.Fatal(err)
		}
		id := dimensions.DataID{"instrument": "Cam", "detector": 0}
		if _, err := w.Put(ctx, []byte("a: 1\n"), "dict", id, "run/a"); err != nil {
			t.Fatal(err)
		}
		other := dimensions.DataID{"instrument": "Cam", "detector": 1}
		if _, err := w.Put(ctx, []byte("a: 2\n"), "dict", other, "run/a"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.ChainCollections(ctx, "chain", []string{"run/a"}, butler.ChainOptions{}); err != nil {
			t.Fatal(err)
		}
		open := func(ttl time.Duration) *butler.Butler {
			b, err := butler.Open(ctx, root, butler.OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			b.SetSearchCache(ttl)
			return b
		}
		plain, long, short := open(0), open(time.Hour), open(100*time.Millisecond)
		find := func(b *butler.Butler) string {
			t.Helper()
			ref, err := b.Find(ctx, "dict", id, []string{"chain"})
			if err != nil {
				t.Fatal(err)
			}
			return ref.Run
		}
		types := func(b *butler.Butler) int {
			t.Helper()
			ts, err := b.DatasetTypes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return len(ts)
		}
		for _, b := range []*butler.Butler{plain, long, short} {
			if run := find(b); run != "run/a" {
				t.Fatalf("before: found in %s, want run/a", run)
			}
			if n := types(b); n != 1 {
				t.Fatalf("before: %d dataset types, want 1", n)
			}
		}
		// Another writer registers a dataset type: a listing rereads the
		// types, each time without a cache, once per TTL with one.
		if _, err := w.RegisterDatasetType(ctx, "other", "StructuredDataDict", []string{"instrument"}, false); err != nil {
			t.Fatal(err)
		}
		if n, m := types(plain), types(long); n != 2 || m != 1 {
			t.Errorf("after a registration: %d dataset types listed without a cache (want 2), %d with a 1 h one (want 1)", n, m)
		}
		// Another writer puts a newer dataset in a new run at the chain's head.
		if _, err := w.Put(ctx, []byte("b: 2\n"), "dict", id, "run/b"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.ChainCollections(ctx, "chain", []string{"run/b", "run/a"}, butler.ChainOptions{}); err != nil {
			t.Fatal(err)
		}
		if run := find(plain); run != "run/b" {
			t.Errorf("without a cache: found in %s, want run/b at once", run)
		}
		if run := find(long); run != "run/a" {
			t.Errorf("with a 1 h cache: found in %s, want the cached resolution (run/a)", run)
		}
		// The SQL of a find is kept by shape: other values, other answers.
		for _, b := range []*butler.Butler{plain, long} {
			for det := range 2 {
				ref, err := b.Find(ctx, "dict", dimensions.DataID{"instrument": "Cam", "detector": det}, []string{"run/a"})
				if err != nil || ref.DataID["detector"] != int64(det) {
					t.Errorf("find detector %d: %v %v", det, ref, err)
				}
			}
		}
		time.Sleep(150 * time.Millisecond)
		if run := find(short); run != "run/b" {
			t.Errorf("with a 100 ms cache, 150 ms later: found in %s, want run/b", run)
		}
		if n := types(short); n != 2 {
			t.Errorf("with a 100 ms cache, 150 ms later: %d dataset types, want 2", n)
		}
	})
}
