package posix_test

import (
	"testing"

	"github.com/gobutler/butler/storage"
	"github.com/gobutler/butler/storage/posix"
	"github.com/gobutler/butler/storage/storagetest"
)

// harness roots each backend in a directory that does not exist yet, so that every subtest
// also checks that writes create the root.
var harness = storagetest.Harness{New: func(t testing.TB) storage.Backend {
	b, err := posix.Open(t.Context(), t.TempDir()+"/root")
	if err != nil {
		t.Fatal(err)
	}
	return b
}}

func TestConformance(t *testing.T) { storagetest.Run(t, harness) }

func BenchmarkBackend(b *testing.B) { storagetest.RunBenchmarks(b, harness) }
