package posix_test

import (
	"testing"

	"github.com/gobutler/butler/storage"
	"github.com/gobutler/butler/storage/posix"
	"github.com/gobutler/butler/storage/storagetest"
)

// harness roots each backend in a directory that does not exist yet, so that every subtest
// also checks that writes create the root.
func harness(opts posix.Options) storagetest.Harness {
	return storagetest.Harness{New: func(t testing.TB) storage.Backend {
		b, err := posix.OpenOptions(t.Context(), t.TempDir()+"/root", opts)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}}
}

func TestConformance(t *testing.T) {
	t.Run("sync", func(t *testing.T) { storagetest.Run(t, harness(posix.Options{})) })
	t.Run("nosync", func(t *testing.T) { storagetest.Run(t, harness(posix.Options{NoSync: true})) })
}

func BenchmarkBackend(b *testing.B) {
	b.Run("sync", func(b *testing.B) { storagetest.RunBenchmarks(b, harness(posix.Options{})) })
	b.Run("nosync", func(b *testing.B) { storagetest.RunBenchmarks(b, harness(posix.Options{NoSync: true})) })
}
