package transfer_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/transfer"
)

func readExport(t *testing.T, b *butler.Butler, name string) *butler.Bundle {
	t.Helper()
	f, err := os.Open(filepath.Join(corpustest.Dir(t), "daf_butler", "exports", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bun, _, err := transfer.Read(f, b.Universe, transfer.ReadOptions{Warn: func(m string) { t.Log("warning:", m) }})
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return bun
}

func TestExploreImports(t *testing.T) {
	ctx := context.Background()
	for _, files := range [][]string{{"base.yaml", "datasets.yaml"}, {"base.yaml", "spatial.yaml"}, {"ci_hsc-subset.yaml", "ci_hsc-subset-skymap.yaml"}, {"hsc-rc2-subset.yaml"}, {"hsc-rc2-subset-v0.yaml"}, {"lsstcam-subset.yaml"}} {
		_, b := repotest.New(t)
		for _, name := range files {
			bun := readExport(t, b, name)
			res, err := b.Import(ctx, bun, butler.ImportOptions{RegistryOnly: true})
			if err != nil {
				t.Fatalf("import %s: %v", name, err)
			}
			t.Logf("%s: %+v", name, res)
			var buf bytes.Buffer
			if err := transfer.Write(&buf, bun, b.Universe); err != nil {
				t.Fatal(err)
			}
			if name == "base.yaml" || name == "ci_hsc-subset-skymap.yaml" {
				t.Log(buf.String())
			}
		}
	}
}
