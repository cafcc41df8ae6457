package cli_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/cli"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// BenchmarkQueryCollections runs `butler query-collections REPO` on the small
// fixture repository: in-process through cli.Main, and as the real binary.
func BenchmarkQueryCollections(b *testing.B) {
	f := newFixture(b)
	repotest.Binary(b) // built once, outside the timed loops
	for _, mode := range []string{"TREE", "FLATTEN", "TABLE"} {
		args := []string{"query-collections", f.root, "--chains", mode}
		b.Run("in-process/chains="+mode, func(b *testing.B) {
			for b.Loop() {
				if code := cli.Main(context.Background(), args, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
		})
	}
	b.Run("binary/chains=TREE", func(b *testing.B) {
		for b.Loop() {
			repotest.MustRun(b, "query-collections", f.root)
		}
	})
}

// BenchmarkCreate times `butler create` as a user runs it: the binary, and in-process.
func BenchmarkCreate(b *testing.B) {
	dir := b.TempDir()
	repotest.Binary(b)
	i := 0
	b.Run("binary", func(b *testing.B) {
		for b.Loop() {
			i++
			repotest.MustRun(b, "create", filepath.Join(dir, fmt.Sprint(i)))
		}
	})
	b.Run("in-process", func(b *testing.B) {
		for b.Loop() {
			i++
			if code := cli.Main(context.Background(), []string{"create", filepath.Join(dir, fmt.Sprint(i))}, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
				b.Fatalf("exit %d", code)
			}
		}
	})
}
