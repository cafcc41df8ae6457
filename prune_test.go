package butler_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/storage/faulty"
)

// TestPrune runs Butler.Prune (prune-datasets) on both dialects: each action
// and their combination in one call, the refused combinations, and a failure
// part-way (the second of two tags is a RUN) that must leave the registry and
// the files as they were.
func TestPrune(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		repotest.AddInstrument(t, b, inst, 5)
		if _, err := b.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
			t.Fatal(err)
		}
		refs := []dataset.Ref{
			mustPut(t, b, "a: 1\n", "dict", det(1), "run"),
			mustPut(t, b, "a: 2\n", "dict", det(2), "run"),
		}
		for _, tag := range []string{"t1", "t2"} {
			if err := b.Associate(ctx, tag, refs); err != nil {
				t.Fatal(err)
			}
		}
		stored := func() int {
			n := 0
			for _, r := range refs {
				if _, err := b.GetRef(ctx, r); err == nil {
					n++
				} else if !errors.Is(err, errs.ErrNotFound) {
					t.Fatalf("GetRef(%s): %v", r.ID, err)
				}
			}
			return n
		}
		type state struct{ run, t1, t2, stored int }
		now := func() state {
			return state{countDatasets(t, b, "run"), countDatasets(t, b, "t1"), countDatasets(t, b, "t2"), stored()}
		}
		check := func(step string, want state) {
			t.Helper()
			if got := now(); got != want {
				t.Errorf("%s: (run, t1, t2, stored) = %+v, want %+v", step, got, want)
			}
		}
		check("start", state{2, 2, 2, 2})

		for _, tc := range []struct {
			name string
			opts butler.PruneOptions
			want error
		}{
			{"nothing to do", butler.PruneOptions{}, errs.ErrInvalid},
			{"purge and disassociate", butler.PruneOptions{Purge: true, Disassociate: []string{"t1"}}, errs.ErrInvalid},
			{"second tag is a RUN", butler.PruneOptions{Unstore: true, Disassociate: []string{"t1", "t2", "run"}}, errs.ErrInvalid},
			{"second tag is missing", butler.PruneOptions{Unstore: true, Disassociate: []string{"t1", "nosuch"}}, errs.ErrNotFound},
		} {
			if err := b.Prune(ctx, refs, tc.opts); !errors.Is(err, tc.want) {
				t.Errorf("Prune(%s) = %v, want %v", tc.name, err, tc.want)
			}
			check("after the refused "+tc.name, state{2, 2, 2, 2})
		}

		if err := b.Prune(ctx, refs[:1], butler.PruneOptions{Unstore: true, Disassociate: []string{"t1", "t2"}}); err != nil {
			t.Fatalf("Prune(unstore, disassociate t1 t2): %v", err)
		}
		check("after unstoring and disassociating one", state{2, 1, 1, 1})
		if err := b.Prune(ctx, refs[1:], butler.PruneOptions{Disassociate: []string{"t2"}}); err != nil {
			t.Fatalf("Prune(disassociate t2): %v", err)
		}
		check("after disassociating the other from t2", state{2, 1, 0, 1})
		if err := b.Prune(ctx, refs, butler.PruneOptions{Purge: true, Unstore: true}); err != nil {
			t.Fatalf("Prune(purge): %v", err)
		}
		check("after the purge", state{0, 0, 0, 0})
		repotest.CheckConsistent(t, b)
	})
}

// A purge deletes its files after its commit, so another writer may put a new
// dataset with the same data ID (hence the same file name) in between: the
// purge's late removal must not take the new dataset's file (seen in
// TestConcurrentWriters). Here the purge's pending removal is staged: the
// purged file is put back before the second put and removed after it.
func TestPut_BesideAFilePendingRemoval(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		repotest.AddInstrument(t, b, inst, 5)
		if _, err := b.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
			t.Fatal(err)
		}
		old := mustPut(t, b, "a: 1\n", "dict", det(1), "run")
		uri, err := b.URI(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		path := strings.TrimPrefix(uri, "file://")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Prune(ctx, []dataset.Ref{old}, butler.PruneOptions{Purge: true}); err != nil {
			t.Fatal(err)
		}
		// The purge has committed but not yet removed its file.
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ref := mustPut(t, b, "a: 2\n", "dict", det(1), "run")
		if err := os.Remove(path); err != nil { // the purge's removal lands
			t.Fatal(err)
		}
		got, err := b.GetRef(ctx, ref)
		if err != nil || string(got) != "a: 2\n" {
			t.Fatalf("the new dataset reads %q, %v; want its own bytes", got, err)
		}
		newURI, _ := b.URI(ctx, ref)
		if !strings.Contains(newURI, ref.ID.String()) {
			t.Errorf("new file %s: want the dataset ID in the name beside the orphan", newURI)
		}
		// Without an orphan in the way the name is the template's.
		other := mustPut(t, b, "a: 3\n", "dict", det(2), "run")
		if u, _ := b.URI(ctx, other); strings.Contains(u, other.ID.String()) {
			t.Errorf("file %s: the dataset ID should appear only when a file is in the way", u)
		}
	})
}

// TestPrune_DeleteFails: when a file cannot be deleted after the registry
// committed, the error says the entries are gone and how to find the file,
// for a purge and for remove-runs, and the left file is what verify reports.
func TestPrune_DeleteFails(t *testing.T) {
	for _, cmd := range []string{"purge", "remove runs"} {
		t.Run(cmd, func(t *testing.T) {
			root, b := newRepo(t)
			mustRun(t, b, "run")
			ctx := t.Context()
			ref, err := b.Put(ctx, []byte("x: 1\n"), "dict", det(1), "run")
			if err != nil {
				t.Fatal(err)
			}
			inj := &faulty.Once{Op: faulty.OpDelete}
			fb, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true, Storage: faultyStorage(inj)})
			if err != nil {
				t.Fatal(err)
			}
			defer fb.Close()
			if cmd == "purge" {
				err = fb.Prune(ctx, []dataset.Ref{ref}, butler.PruneOptions{Purge: true, Unstore: true})
			} else {
				_, err = fb.RemoveRuns(ctx, []string{"run"}, false)
			}
			if !inj.Fired() || !errors.Is(err, faulty.ErrInjected) {
				t.Fatalf("%s with the delete failing: %v (fired %v), want the injected error", cmd, err, inj.Fired())
			}
			what := map[string]string{"purge": "remove datasets", "remove runs": "remove runs"}[cmd]
			for _, want := range []string{what + ": the registry entries are removed", "verify --orphans"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if _, err := b.Find(ctx, "dict", det(1), []string{"run"}); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("after the %s the dataset is still found: %v", cmd, err)
			}
			if files := repotest.DatastoreFiles(t, root); len(files) != 1 {
				t.Errorf("files left = %v, want the one whose delete failed", files)
			}
		})
	}
}
