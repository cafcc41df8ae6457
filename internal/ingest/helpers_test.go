package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/testutil/corpustest"
)

// corpusRoot finds the shared corpus: $BUTLER_TEST_CORPUS, else ../shared/corpus
// beside the module root. It skips the test when there is none.
func corpusRoot(t *testing.T) string {
	return corpustest.Dir(t)
}

// newRepo creates an empty repository in a temporary directory and opens it
// for writing.
func newRepo(t *testing.T) *butler.Butler {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	if _, err := butler.Create(ctx, root, butler.CreateOptions{}); err != nil {
		t.Fatalf("Create(%s): %v", root, err)
	}
	b, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true})
	if err != nil {
		t.Fatalf("Open(%s, writeable): %v", root, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// openCorpus opens a corpus registry read-only.
func openCorpus(t *testing.T, dir string) *butler.Butler {
	t.Helper()
	b, err := butler.Open(context.Background(), dir, butler.OpenOptions{})
	if err != nil {
		t.Fatalf("Open(%s, read-only): %v", dir, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// records reads every record of an element, keyed by its data ID.
func records(t *testing.T, b *butler.Butler, element string) map[string]dimensions.Record {
	t.Helper()
	recs, err := b.Records(context.Background(), element, nil)
	if err != nil {
		t.Fatalf("Records(%s): %v", element, err)
	}
	out := make(map[string]dimensions.Record, len(recs))
	for _, r := range recs {
		out[r.DataID().String()] = r
	}
	return out
}

// rawRefs lists every raw dataset of the repository, by ID.
func rawRefs(t *testing.T, b *butler.Butler) map[dataset.ID]dataset.Ref {
	t.Helper()
	out := map[dataset.ID]dataset.Ref{}
	if _, err := b.DatasetType(context.Background(), "raw"); err != nil {
		return out // nothing ingested yet
	}
	for r, err := range b.Query().Collections("*").Datasets(context.Background(), "raw") {
		if err != nil {
			t.Fatalf("query datasets (raw, *): %v", err)
		}
		out[r.ID] = r
	}
	return out
}

// repoFiles lists the files and symlinks under the repository root other than
// the registry and its config, relative to the root.
func repoFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "butler.yaml" || strings.HasPrefix(rel, "gen3.sqlite3") {
			return nil
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
