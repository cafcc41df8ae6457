package butler_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/exportfile"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// newDialectRepo makes an empty repository with a SQLite or (fresh schema)
// PostgreSQL registry.
func newDialectRepo(t *testing.T, dialect string) *butler.Butler {
	t.Helper()
	_, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
	return b
}

// checkFileSizes checks the recorded size of every ref's file: its length, or
// -1 (not tracked) when want is -1.
func checkFileSizes(t *testing.T, b *butler.Butler, refs []dataset.Ref, content map[dataset.ID][]byte, untracked bool) {
	t.Helper()
	ids := make([]dataset.ID, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	sizes, err := butler.FileSizes(t.Context(), b, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		want := int64(len(content[r.ID]))
		if untracked {
			want = -1
		}
		if got, ok := sizes[r.ID]; !ok || got != want {
			t.Errorf("recorded size of %s = %d (found %v), want %d", r, got, ok, want)
		}
	}
}

// TestImport_RecordsFileSizes: import (every transfer mode, with and without
// file attributes) and transfer-datasets record each file's real size, or -1
// when sizes are not tracked, never 0 (which the Python butler refuses to read:
// "Size of file ... does not match size recorded in registry of 0").
func TestImport_RecordsFileSizes(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		src, refs, content := transferSource(t)
		for _, tc := range []struct {
			mode      string
			untracked bool
		}{
			{"copy", false}, {"link", false}, {"hardlink", false}, {"symlink", false},
			{"relsymlink", false}, {"move", false}, {"direct", false}, {"auto", false}, {"copy", true},
		} {
			name := tc.mode
			if tc.untracked {
				name += "/no-track-file-attrs"
			}
			t.Run("import/"+name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "export")
				if _, err := exportfile.ExportDir(t.Context(), src, refs, dir, "", "copy", butler.ExportOptions{}); err != nil {
					t.Fatalf("ExportDir: %v", err)
				}
				dst := newDialectRepo(t, dialect)
				opts := butler.ImportOptions{Transfer: tc.mode, NoFileAttrs: tc.untracked}
				if _, err := exportfile.ImportFile(t.Context(), dst, filepath.Join(dir, exportfile.DefaultExportFile), opts, nil); err != nil {
					t.Fatalf("ImportFile: %v", err)
				}
				checkFileSizes(t, dst, refs, content, tc.untracked)
				for _, r := range refs {
					if _, err := dst.GetRef(t.Context(), r); err != nil {
						t.Errorf("GetRef(%s): %v", r, err)
					}
				}
			})
		}
		for _, mode := range []string{"copy", "link", "symlink", "auto"} {
			t.Run("transfer-datasets/"+mode, func(t *testing.T) {
				dst := newDialectRepo(t, dialect)
				opts := butler.TransferOptions{Transfer: mode, RegisterDatasetTypes: true, TransferDimensions: true}
				if _, err := dst.TransferFrom(t.Context(), src, refs, opts); err != nil {
					t.Fatalf("TransferFrom: %v", err)
				}
				checkFileSizes(t, dst, refs, content, false)
			})
		}
	})
}

// TestExport_DatasetInSeveralCollections: a dataset found through its RUN and
// a TAGGED collection is listed once by a search of both (as upstream's
// query-datasets prints it once) and exported once, even when the caller
// passes it twice (as upstream's export context removes duplicates).
func TestExport_DatasetInSeveralCollections(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := t.Context()
		b := newDialectRepo(t, dialect)
		repotest.AddInstrument(t, b, inst, 3)
		if _, err := b.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
			t.Fatal(err)
		}
		var refs []dataset.Ref
		for d := range 3 {
			refs = append(refs, mustPut(t, b, fmt.Sprintf("detector: %d\n", d), "dict", det(d), "run/a"))
		}
		refs = append(refs, mustPut(t, b, "detector: 0\nrun: b\n", "dict", det(0), "run/b"))
		if _, err := b.RegisterCollection(ctx, "tag", dataset.Tagged, ""); err != nil {
			t.Fatal(err)
		}
		if err := b.Associate(ctx, "tag", refs[:2]); err != nil {
			t.Fatal(err)
		}
		for _, cols := range [][]string{{"run/a", "tag"}, {"tag", "run/a", "run/b"}, {"*"}} {
			got := queryRefs(t, b, butler.DatasetSearch{Types: []string{"dict"}, Collections: cols})
			ids := map[dataset.ID]int{}
			for _, r := range got {
				ids[r.ID]++
			}
			want := 3
			if len(cols) != 2 {
				want = 4
			}
			if len(got) != want || len(ids) != want {
				t.Errorf("query of %v: %d refs (%d datasets), want each of %d once: %v", cols, len(got), len(ids), want, refKeys(got))
			}
		}
		dir := filepath.Join(t.TempDir(), "export")
		twice := append(append([]dataset.Ref(nil), refs...), refs[:2]...)
		bun, err := exportfile.ExportDir(ctx, b, twice, dir, "", "copy", butler.ExportOptions{Collections: []string{"tag"}})
		if err != nil {
			t.Fatalf("ExportDir of refs found twice: %v", err)
		}
		n := 0
		for _, f := range bun.Files {
			n += len(f.Refs)
		}
		if n != len(refs) {
			t.Errorf("export holds %d datasets, want %d", n, len(refs))
		}
		dst := newDialectRepo(t, dialect)
		if _, err := exportfile.ImportFile(ctx, dst, filepath.Join(dir, exportfile.DefaultExportFile), butler.ImportOptions{Transfer: "copy"}, nil); err != nil {
			t.Fatalf("import: %v", err)
		}
		if got := queryRefs(t, dst, butler.DatasetSearch{Types: []string{"dict"}, Collections: []string{"tag"}}); len(got) != 2 {
			t.Errorf("imported tag holds %v, want 2 datasets", refKeys(got))
		}
	})
}
