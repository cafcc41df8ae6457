package campaign

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/storage/faulty"
)

const (
	fullDetectors = 64
	fullSize      = 16 << 10 // bytes per dataset
)

// fullRepo creates a SQLite repository whose datastore root is datastore,
// with a "dict" type and run "run".
func fullRepo(t *testing.T, datastore string) string {
	t.Helper()
	seed := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(seed, []byte("datastore:\n  root: file://"+datastore+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "repo")
	if _, err := butler.Create(t.Context(), root, butler.CreateOptions{SeedConfig: seed, Override: true}); err != nil {
		t.Fatal(err)
	}
	b := repotest.Open(t, root)
	defer b.Close()
	repotest.AddInstrument(t, b, "Dummy", fullDetectors)
	if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RegisterRun(t.Context(), "run", ""); err != nil {
		t.Fatal(err)
	}
	return root
}

// payload is dataset i's content, fullSize bytes of YAML.
func payload(i int) []byte {
	return fmt.Appendf(nil, "value: %d\npad: %s\n", i, bytes.Repeat([]byte("x"), fullSize-32))
}

// TestDiskFull: the datastore is a 256 KiB tmpfs (the test mounts it; it
// skips where it cannot), the registry on another disk. Puts, then an
// ingest by copy, run until the disk is full: the failing one reports
// ENOSPC naming its file, the repository verifies clean (no record without
// its file, no partial file), and once space is freed the same put and
// ingest complete.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("fault campaign: not with -short")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs for a full disk (%v: %s); TestDiskFull_ENOSPC covers the error path with the faulty backend", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	root := fullRepo(t, mnt)
	b := repotest.Open(t, root)
	ctx := t.Context()
	var full error
	n := 0
	for ; n < fullDetectors; n++ {
		id := dimensions.DataID{"instrument": "Dummy", "detector": n}
		if _, err := b.Put(ctx, payload(n), "dict", id, "run"); err != nil {
			full = err
			break
		}
	}
	if full == nil {
		t.Fatalf("%d puts of %d bytes fitted in 256 KiB", n, fullSize)
	}
	t.Logf("put %d: %v", n, full)
	if !errors.Is(full, syscall.ENOSPC) || !strings.Contains(full.Error(), fmt.Sprintf("D%04d", n)) {
		t.Errorf("the put that filled the disk: %v; want ENOSPC naming its file", full)
	}
	if ps := apiVerify(t, b); len(ps) > 0 {
		t.Errorf("after the disk filled: %d problem(s), first %s %s", len(ps), ps[0].Kind, ps[0].Path)
	}
	// An ingest by copy into the full disk fails whole.
	src := t.TempDir()
	var files []butler.FileDataset
	for i := n; i < n+4 && i < fullDetectors; i++ {
		p := filepath.Join(src, fmt.Sprintf("f%d.yaml", i))
		if err := os.WriteFile(p, payload(i), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, butler.FileDataset{Path: p, DataID: dimensions.DataID{"instrument": "Dummy", "detector": i}})
	}
	_, ierr := b.Ingest(ctx, "dict", "run", files, butler.IngestOptions{Transfer: "copy"})
	t.Logf("ingest into the full disk: %v", ierr)
	if !errors.Is(ierr, syscall.ENOSPC) || !strings.Contains(ierr.Error(), fmt.Sprintf("f%d.yaml", n)) {
		t.Errorf("ingest into the full disk: %v; want ENOSPC naming a file", ierr)
	}
	if ps := apiVerify(t, b); len(ps) > 0 {
		t.Errorf("after the failed ingest: %d problem(s), first %s %s", len(ps), ps[0].Kind, ps[0].Path)
	}
	// Free space (purge the first half) and retry.
	var refs []dataset.Ref
	for r, err := range b.Query().Collections("run").Datasets(ctx, "dict") {
		if err != nil {
			t.Fatal(err)
		}
		if r.DataID["detector"].(int64) < int64(n/2+4) {
			refs = append(refs, r)
		}
	}
	if err := b.Prune(ctx, refs, butler.PruneOptions{Purge: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, payload(n), "dict", dimensions.DataID{"instrument": "Dummy", "detector": n}, "run"); err != nil {
		t.Fatalf("the put once space was freed: %v", err)
	}
	files = files[1:]
	if _, err := b.Ingest(ctx, "dict", "run", files, butler.IngestOptions{Transfer: "copy"}); err != nil {
		t.Fatalf("the ingest once space was freed: %v", err)
	}
	if ps := apiVerify(t, b); len(ps) > 0 {
		t.Errorf("after the retries: %d problem(s), first %s %s", len(ps), ps[0].Kind, ps[0].Path)
	}
}

// TestDiskFull_ENOSPC: the faulty backend's put and copy fail with ENOSPC
// (as a full disk would, where no tmpfs can be mounted): the error names the
// file and wraps ENOSPC, nothing is left behind, a retry completes.
func TestDiskFull_ENOSPC(t *testing.T) {
	for _, op := range []faulty.Op{faulty.OpPut, faulty.OpCopy} {
		t.Run(string(op), func(t *testing.T) {
			root := fullRepo(t, filepath.Join(t.TempDir(), "store"))
			ctx := t.Context()
			inj := &faulty.Once{Op: op, Skip: 2, Err: syscall.ENOSPC}
			fb, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true, Storage: faultyStorage(inj)})
			if err != nil {
				t.Fatal(err)
			}
			src := t.TempDir()
			do := func(b *butler.Butler) error {
				for i := range 5 {
					id := dimensions.DataID{"instrument": "Dummy", "detector": i}
					if _, err := b.Find(ctx, "dict", id, []string{"run"}); err == nil {
						continue
					}
					if op == faulty.OpPut {
						if _, err := b.Put(ctx, payload(i), "dict", id, "run"); err != nil {
							return err
						}
						continue
					}
					p := filepath.Join(src, fmt.Sprintf("f%d.yaml", i))
					if err := os.WriteFile(p, payload(i), 0o644); err != nil {
						return err
					}
					if _, err := b.Ingest(ctx, "dict", "run", []butler.FileDataset{{Path: p, DataID: id}}, butler.IngestOptions{Transfer: "copy"}); err != nil {
						return err
					}
				}
				return nil
			}
			err = do(fb)
			fb.Close()
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "D0002") {
				t.Errorf("with ENOSPC on the third %s: %v; want ENOSPC naming its file", op, err)
			}
			b := repotest.Open(t, root)
			if ps := apiVerify(t, b); len(ps) > 0 {
				t.Errorf("after ENOSPC: %d problem(s), first %s %s", len(ps), ps[0].Kind, ps[0].Path)
			}
			if err := do(b); err != nil {
				t.Fatalf("the retry: %v", err)
			}
			if ps := apiVerify(t, b); len(ps) > 0 {
				t.Errorf("after the retry: %d problem(s)", len(ps))
			}
		})
	}
}
