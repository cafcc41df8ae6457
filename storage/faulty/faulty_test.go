package faulty_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage"
	"github.com/gobutler/butler/storage/faulty"
	"github.com/gobutler/butler/storage/posix"
	"github.com/gobutler/butler/storage/storagetest"
)

func newPosix(t testing.TB) *posix.Backend {
	b, err := posix.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// With a fault that never fires, the wrapper must pass the whole suite.
func TestConformance_NoFault(t *testing.T) {
	storagetest.Run(t, storagetest.Harness{New: func(t testing.TB) storage.Backend {
		return faulty.Wrap(newPosix(t), faulty.NthWrite(-1))
	}})
}

func keys(t *testing.T, b storage.Backend) []string {
	t.Helper()
	var got []string
	if err := b.List(t.Context(), "", func(i storage.Info) error { got = append(got, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// writeAll does one of each counted write, then a delete.
func writeAll(t *testing.T, b *faulty.Backend, src string) []error {
	ctx := t.Context()
	var errList []error
	errList = append(errList, b.Put(ctx, "put", strings.NewReader("p"), 1))
	errList = append(errList, b.Link(ctx, src, "link", storage.Symlink))
	errList = append(errList, b.CopyFrom(ctx, src, "copy"))
	moveSrc := filepath.Join(t.TempDir(), "move-src")
	if err := os.WriteFile(moveSrc, []byte("m"), 0o666); err != nil {
		t.Fatal(err)
	}
	errList = append(errList, b.MoveFrom(ctx, moveSrc, "move"))
	errList = append(errList, b.Delete(ctx, "put"))
	return errList
}

func TestNthWrite(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("s"), 0o666); err != nil {
		t.Fatal(err)
	}
	order := []string{"put", "link", "copy", "move"} // the order writeAll writes in
	for n := 0; ; n++ {
		inj := faulty.NthWrite(n)
		b := faulty.Wrap(newPosix(t), inj)
		errList := writeAll(t, b, src)
		if !inj.Fired() {
			if n != 4 {
				t.Errorf("no fault fired at n=%d, want the loop to end at n=4 (four counted writes)", n)
			}
			if got := inj.Writes(); got != 4 {
				t.Errorf("Writes() = %d, want 4", got)
			}
			break
		}
		for i, err := range errList[:4] {
			if (i == n) != errors.Is(err, faulty.ErrInjected) {
				t.Errorf("n=%d: write %d error = %v", n, i, err)
			}
		}
		// The failed write did nothing; the delete of "put" ran unless "put" failed.
		want := slices.DeleteFunc(slices.Sorted(slices.Values(order)), func(k string) bool { return k == order[n] || k == "put" })
		if got := keys(t, b); !slices.Equal(got, want) {
			t.Errorf("n=%d: keys = %q, want %q", n, got, want)
		}
		if n > 10 {
			t.Fatal("fault keeps firing")
		}
	}
}

func TestNthWrite_AfterWrite(t *testing.T) {
	inner := errors.New("disk on fire")
	inj := &faulty.Nth{N: 1, AfterWrite: true, Err: inner}
	b := faulty.Wrap(newPosix(t), inj)
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		err := b.Put(ctx, k, strings.NewReader(k), 1)
		if (k == "b") != (errors.Is(err, faulty.ErrInjected) && errors.Is(err, inner)) {
			t.Errorf("Put(%q) error = %v", k, err)
		}
	}
	// The write that "failed" happened all the same.
	if got := keys(t, b); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("keys = %q, want [a b c]", got)
	}
}

func TestNthWrite_CountDeletes(t *testing.T) {
	inj := &faulty.Nth{N: 1, CountDeletes: true}
	b := faulty.Wrap(newPosix(t), inj)
	if err := b.Put(t.Context(), "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(t.Context(), "k"); !errors.Is(err, faulty.ErrInjected) {
		t.Errorf("Delete error = %v, want the injected fault", err)
	}
	if got := keys(t, b); !slices.Equal(got, []string{"k"}) {
		t.Errorf("keys = %q, want [k]", got)
	}
}

// onlyBackend hides the optional capabilities of the backend it holds.
type onlyBackend struct{ storage.Backend }

func TestWrap_MissingCapabilities(t *testing.T) {
	b := faulty.Wrap(onlyBackend{newPosix(t)}, faulty.NthWrite(-1))
	ctx := t.Context()
	if err := b.Link(ctx, "/x", "k", storage.Symlink); !errors.Is(err, errs.ErrUnsupported) {
		t.Errorf("Link error = %v, want errs.ErrUnsupported", err)
	}
	if err := b.CopyFrom(ctx, "/x", "k"); !errors.Is(err, errs.ErrUnsupported) {
		t.Errorf("CopyFrom error = %v, want errs.ErrUnsupported", err)
	}
	if err := b.MoveFrom(ctx, "/x", "k"); !errors.Is(err, errs.ErrUnsupported) {
		t.Errorf("MoveFrom error = %v, want errs.ErrUnsupported", err)
	}
	if _, ok := b.Unwrap().(onlyBackend); !ok {
		t.Errorf("Unwrap() = %T", b.Unwrap())
	}
}

// Once fails exactly one call of its kind (after Skip of them), reads too,
// wrapping its Err; a write failed After is done.
func TestOnce(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		op    faulty.Op
		after bool
		call  func(b *faulty.Backend) error
	}{
		{faulty.OpGet, false, func(b *faulty.Backend) error {
			r, err := b.Get(ctx, "k", 0, -1)
			if err == nil {
				r.Close()
			}
			return err
		}},
		{faulty.OpStat, false, func(b *faulty.Backend) error { _, err := b.Stat(ctx, "k"); return err }},
		{faulty.OpList, false, func(b *faulty.Backend) error {
			return b.List(ctx, "", func(storage.Info) error { return nil })
		}},
		{faulty.OpPut, true, func(b *faulty.Backend) error { return b.Put(ctx, "k", strings.NewReader("v2"), 2) }},
	} {
		t.Run(string(tc.op), func(t *testing.T) {
			inner := newPosix(t)
			if err := inner.Put(ctx, "k", strings.NewReader("v"), 1); err != nil {
				t.Fatal(err)
			}
			inj := &faulty.Once{Op: tc.op, Skip: 1, After: tc.after, Err: syscall.ENOSPC}
			b := faulty.Wrap(inner, inj)
			for i, want := range []bool{false, true, false} {
				err := tc.call(b)
				if failed := errors.Is(err, faulty.ErrInjected) && errors.Is(err, syscall.ENOSPC); failed != want {
					t.Errorf("call %d: %v, want injected=%v", i, err, want)
				}
			}
			if !inj.Fired() {
				t.Error("Fired() = false")
			}
			if tc.after {
				if info, err := inner.Stat(ctx, "k"); err != nil || info.Size != 2 {
					t.Errorf("the write failed after it was done: %+v, %v; want it done", info, err)
				}
			}
		})
	}
}

// PutNew passes the inner backend's in-place write through the fault: a
// failure before the write leaves nothing, one after it leaves the file
// (the caller's record never points at it), and a key that is taken is a
// conflict that does not count as a write.
func TestPutNew(t *testing.T) {
	ctx := t.Context()
	for _, after := range []bool{false, true} {
		inner := newPosix(t)
		inj := faulty.NthWrite(0)
		inj.AfterWrite = after
		b := faulty.Wrap(inner, inj)
		err := b.PutNew(ctx, "a/x", strings.NewReader("x"), 1)
		if !errors.Is(err, faulty.ErrInjected) {
			t.Fatalf("after=%v: PutNew = %v, want the injected fault", after, err)
		}
		if got := keys(t, inner); (len(got) == 1) != after {
			t.Errorf("after=%v: keys %v after the failed write", after, got)
		}
	}
	inner := newPosix(t)
	if err := inner.Put(ctx, "a/x", strings.NewReader("old"), 3); err != nil {
		t.Fatal(err)
	}
	inj := faulty.NthWrite(0)
	if err := faulty.Wrap(inner, inj).PutNew(ctx, "a/x", strings.NewReader("new"), 3); !errors.Is(err, errs.ErrConflict) || inj.Fired() {
		t.Errorf("PutNew over a taken key = %v (fault fired %v), want a conflict and no fault", err, inj.Fired())
	}
}
