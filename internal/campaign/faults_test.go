package campaign

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/exportfile"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/testutil/s3test"
	"github.com/gobutler/butler/storage"
	"github.com/gobutler/butler/storage/faulty"
	"github.com/gobutler/butler/storage/posix"
	"github.com/gobutler/butler/storage/s3"
)

// faultyStorage returns a mux whose POSIX and S3 backends are wrapped with inj.
func faultyStorage(inj faulty.Injector) *storage.Mux {
	m := &storage.Mux{}
	for scheme, open := range map[string]storage.Opener{posix.Scheme: posix.OpenURL, s3.Scheme: s3.Open} {
		m.Register(scheme, func(ctx context.Context, u *url.URL) (storage.Backend, error) {
			be, err := open(ctx, u)
			if err != nil {
				return nil, err
			}
			return faulty.Wrap(be, inj), nil
		})
	}
	return m
}

// newRepoOn creates an empty SQLite repository whose datastore is a fresh
// bucket of srv, or POSIX when srv is nil.
func newRepoOn(t *testing.T, srv *s3test.Server) (string, *butler.Butler) {
	t.Helper()
	if srv == nil {
		return repotest.New(t)
	}
	root := filepath.Join(t.TempDir(), "repo")
	repotest.MustRun(t, append(append([]string{"create"}, seedFor(t, "sqlite", srv)...), root)...)
	return root, repotest.Open(t, root)
}

// apiVerify verifies root in process (checksums, orphans) and returns the
// problems.
func apiVerify(t *testing.T, b *butler.Butler) []butler.Problem {
	t.Helper()
	var ps []butler.Problem
	for p, err := range b.Verify(t.Context(), butler.VerifyOptions{Checksums: true, Orphans: true}) {
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		ps = append(ps, p)
	}
	return ps
}

// repairClean verifies b's repository, repairs what verify found and
// checks that nothing is left; it returns how many problems it found and
// how many were left.
func repairClean(t *testing.T, b *butler.Butler) (found, left int) {
	t.Helper()
	ps := apiVerify(t, b)
	if len(ps) == 0 {
		return 0, 0
	}
	if _, err := b.Repair(t.Context(), ps, butler.RepairOptions{Yes: true}); err != nil {
		t.Errorf("repair of %d problem(s): %v", len(ps), err)
	}
	rest := apiVerify(t, b)
	for _, p := range rest {
		t.Errorf("left after the repair: %s %s", p.Kind, p.Path)
	}
	return len(ps), len(rest)
}

const smallRun = 8

// smallRepo makes a SQLite repository with smallRun "dict" datasets in each
// of runs r0, r1 and r2 (ingested by copy), and the source files of a
// fourth run r3 not yet ingested.
func smallRepo(t *testing.T, srv *s3test.Server) (root string, r3 []butler.FileDataset) {
	t.Helper()
	root, b := newRepoOn(t, srv)
	defer b.Close()
	repotest.AddInstrument(t, b, "Dummy", smallRun)
	if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, run := range []string{"r0", "r1", "r2", "r3"} {
		var files []butler.FileDataset
		for i := range smallRun {
			p := filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", run, i))
			if err := os.WriteFile(p, fmt.Appendf(nil, "value: %s %d\n", run, i), 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, butler.FileDataset{Path: p, DataID: dimensions.DataID{"instrument": "Dummy", "detector": i}})
		}
		if run == "r3" {
			return root, files
		}
		if _, err := b.Ingest(t.Context(), "dict", run, files, butler.IngestOptions{Transfer: "copy"}); err != nil {
			t.Fatal(err)
		}
	}
	panic("unreachable")
}

// TestFaultyStorage fails each call kind the datastore makes (put, copy,
// link, move, delete before and after the write lands, get, stat, list)
// once, during a put, an ingest by copy, an import (copy), a purge
// (prune-datasets --purge) and remove-runs. The operation fails or
// completes; the repository then verifies clean or is repaired to clean,
// and a retry completes the operation exactly.
func TestFaultyStorage(t *testing.T) {
	if testing.Short() {
		t.Skip("fault campaign: not with -short")
	}
	repotest.Binary(t)
	t.Run("posix", func(t *testing.T) { faultyStorageOn(t, nil) })
	t.Run("s3", func(t *testing.T) { faultyStorageOn(t, s3Server(t, true)) })
}

func faultyStorageOn(t *testing.T, srv *s3test.Server) {
	exported := filepath.Join(t.TempDir(), "export")
	{
		src, _ := smallRepo(t, nil)
		sb := repotest.Open(t, src)
		var refs []dataset.Ref
		for r, err := range sb.Query().Collections("r0").Datasets(t.Context(), "dict") {
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, r)
		}
		if _, err := exportfile.ExportDir(t.Context(), sb, refs, exported, exportfile.DefaultExportFile, "copy", butler.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		sb.Close()
	}
	base := map[string]int{"r0": smallRun, "r1": smallRun, "r2": smallRun}
	with := func(run string, n int) map[string]int { m := maps.Clone(base); m[run] = n; return m }
	without := func(runs ...string) map[string]int {
		m := maps.Clone(base)
		for _, r := range runs {
			delete(m, r)
		}
		return m
	}
	type operation struct {
		name string
		// setup returns the repository and the operation on a butler.
		setup func(t *testing.T) (root string, do func(ctx context.Context, b *butler.Butler) error)
		want  map[string]int
	}
	ops := []operation{
		{"put", func(t *testing.T) (string, func(context.Context, *butler.Butler) error) {
			root, _ := smallRepo(t, srv)
			return root, func(ctx context.Context, b *butler.Butler) error {
				if _, err := b.RegisterRun(ctx, "r3", ""); err != nil {
					return err
				}
				for i := range smallRun {
					id := dimensions.DataID{"instrument": "Dummy", "detector": i}
					if _, err := b.Find(ctx, "dict", id, []string{"r3"}); err == nil {
						continue // the retry: put before the fault
					}
					if _, err := b.Put(ctx, fmt.Appendf(nil, "value: r3 %d\n", i), "dict", id, "r3"); err != nil {
						return err
					}
				}
				return nil
			}
		}, with("r3", smallRun)},
		{"ingest (copy)", func(t *testing.T) (string, func(context.Context, *butler.Butler) error) {
			root, files := smallRepo(t, srv)
			return root, func(ctx context.Context, b *butler.Butler) error {
				_, err := b.Ingest(ctx, "dict", "r3", files, butler.IngestOptions{Transfer: "copy", SkipExisting: true})
				return err
			}
		}, with("r3", smallRun)},
		{"import (copy)", func(t *testing.T) (string, func(context.Context, *butler.Butler) error) {
			root, b := newRepoOn(t, srv)
			b.Close()
			return root, func(ctx context.Context, b *butler.Butler) error {
				_, err := exportfile.ImportFile(ctx, b, filepath.Join(exported, exportfile.DefaultExportFile), butler.ImportOptions{Transfer: "copy"}, func(string) {})
				return err
			}
		}, map[string]int{"r0": smallRun}},
		{"prune-datasets --purge", func(t *testing.T) (string, func(context.Context, *butler.Butler) error) {
			root, _ := smallRepo(t, srv)
			return root, func(ctx context.Context, b *butler.Butler) error {
				var refs []dataset.Ref
				for r, err := range b.Query().Collections("r0").Datasets(ctx, "dict") {
					if err != nil {
						return err
					}
					refs = append(refs, r)
				}
				if len(refs) == 0 {
					return nil // the retry: purged before the fault
				}
				return b.Prune(ctx, refs, butler.PruneOptions{Purge: true})
			}
		}, without("r0")},
		{"remove-runs", func(t *testing.T) (string, func(context.Context, *butler.Butler) error) {
			root, _ := smallRepo(t, srv)
			return root, func(ctx context.Context, b *butler.Butler) error {
				var there []string
				for _, r := range []string{"r0", "r1"} {
					if _, err := b.Collection(ctx, r); err == nil {
						there = append(there, r)
					}
				}
				if len(there) == 0 {
					return nil
				}
				_, err := b.RemoveRuns(ctx, there, false)
				return err
			}
		}, without("r0", "r1")},
	}
	type fault struct {
		op    faulty.Op
		after bool
	}
	var total tally
	fired := map[faulty.Op]int{}
	for _, o := range ops {
		// The call kinds o makes, from a clean run: each is failed below,
		// a write both before and after it lands.
		used := &recorder{}
		{
			root, do := o.setup(t)
			rb, err := butler.Open(t.Context(), root, butler.OpenOptions{Writeable: true, Storage: faultyStorage(used)})
			if err != nil {
				t.Fatal(err)
			}
			if err := do(t.Context(), rb); err != nil {
				t.Fatalf("%s without a fault: %v", o.name, err)
			}
			rb.Close()
		}
		var faults []fault
		for _, op := range used.kinds() {
			faults = append(faults, fault{op: op})
			if op.IsWrite() {
				faults = append(faults, fault{op, true})
			}
		}
		t.Logf("%s makes calls %v", o.name, used.kinds())
		for _, f := range faults {
			name := fmt.Sprintf("%s/%s", o.name, f.op)
			if f.after {
				name += "-after"
			}
			t.Run(name, func(t *testing.T) {
				root, do := o.setup(t)
				inj := &faulty.Once{Op: f.op, After: f.after}
				ctx := t.Context()
				fb, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true, Storage: faultyStorage(inj)})
				if err != nil {
					t.Fatal(err)
				}
				err = do(ctx, fb)
				fb.Close()
				if !inj.Fired() {
					if err != nil {
						t.Fatalf("no fault fired, yet: %v", err)
					}
					return
				}
				total.kills++
				fired[f.op]++
				if err != nil && !errors.Is(err, faulty.ErrInjected) {
					t.Errorf("the error does not wrap the injected fault: %v", err)
				}
				t.Logf("with the fault: %v", err)
				b := repotest.Open(t, root)
				found, left := repairClean(t, b)
				total.problems += found
				total.repaired += found - left
				total.left += left
				if err := do(ctx, b); err != nil {
					t.Errorf("the retry: %v", err)
				}
				total.reruns++
				if got := runCounts(t, root); !maps.Equal(got, o.want) {
					t.Errorf("after the retry %v, want %v", got, o.want)
				}
				if ps := apiVerify(t, b); len(ps) > 0 {
					total.left += len(ps)
					t.Errorf("after the retry: %d problem(s), first %s %s", len(ps), ps[0].Kind, ps[0].Path)
				}
			})
		}
	}
	t.Logf("TALLY faulty storage (%s): %s; faults by call kind %v", t.Name(), total, fired)
	// These writers never get, stat or list (link and move are for other
	// transfer modes); the calls they do make must all have failed.
	want := []faulty.Op{faulty.OpPut, faulty.OpCopy, faulty.OpDelete}
	if srv != nil {
		want = []faulty.Op{faulty.OpPut, faulty.OpDelete}
	}
	for _, op := range want {
		if fired[op] == 0 {
			t.Errorf("no operation made a %s call to fail", op)
		}
	}
}

// recorder is an injector that fails nothing and records the call kinds.
type recorder struct {
	mu  sync.Mutex
	ops map[faulty.Op]bool
}

func (r *recorder) Fault(op faulty.Op, _ string) (before, after error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ops == nil {
		r.ops = map[faulty.Op]bool{}
	}
	r.ops[op] = true
	return nil, nil
}

// kinds returns the call kinds seen, sorted.
func (r *recorder) kinds() []faulty.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.ops))
}
