// Package corpustest finds the shared test corpus (real raws, header dumps and
// Python-made registries) for tests: $BUTLER_TEST_CORPUS, else ../shared/corpus
// beside the module root. Tests skip when it is absent; the product never needs it.
package corpustest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the corpus directory, or skips the test when there is none.
func Dir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("BUTLER_TEST_CORPUS"); d != "" {
		if _, err := os.Stat(d); err != nil {
			tb.Skipf("BUTLER_TEST_CORPUS=%s: %v", d, err)
		}
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("no go.mod above the test directory; set BUTLER_TEST_CORPUS")
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(c, "raws")); err != nil {
		tb.Skipf("no test corpus at %s (set BUTLER_TEST_CORPUS)", c)
	}
	return c
}
