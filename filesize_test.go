package butler_test

import (
	"path/filepath"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/transfer"
)

// newDialectRepo makes an empty repository with a SQLite or (fresh schema)
// PostgreSQL registry.
func newDialectRepo(t *testing.T, dialect string) *butler.Butler {
	t.Helper()
	if dialect == "sqlite" {
		_, b := repotest.New(t)
		return b
	}
	user, pw := adminUser(t)
	t.Setenv("LSST_DB_AUTH", writeDBAuth(t, user, pw))
	root := filepath.Join(t.TempDir(), "repo")
	if _, err := butler.Create(t.Context(), root, butler.CreateOptions{SeedConfig: writeSeed(t, pgtest.Schema(t)), Override: true}); err != nil {
		t.Fatal(err)
	}
	return repotest.Open(t, root)
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
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
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
					if _, err := transfer.ExportDir(t.Context(), src, refs, dir, "", "copy", butler.ExportOptions{}); err != nil {
						t.Fatalf("ExportDir: %v", err)
					}
					dst := newDialectRepo(t, dialect)
					opts := butler.ImportOptions{Transfer: tc.mode, NoFileAttrs: tc.untracked}
					if _, err := transfer.ImportFile(t.Context(), dst, filepath.Join(dir, transfer.DefaultExportFile), opts, nil); err != nil {
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
}
