// Package faulty wraps a storage.Backend and fails chosen calls (writes with
// Nth, any call kind with Once), for crash-ordering tests:
// wrap the backend with NthWrite(n) for n = 0, 1, …, run the operation under test, check the
// repository's invariants after each failure, and stop when no fault fired.
//
//	for n := 0; ; n++ {
//		inj := faulty.NthWrite(n)
//		fb := faulty.Wrap(backend, inj)
//		err := doPut(ctx, fb) // must fail cleanly when the fault fires
//		checkInvariants(t)
//		if !inj.Fired() {
//			break
//		}
//	}
package faulty

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage"
)

// ErrInjected is wrapped by every injected failure.
var ErrInjected = errors.New("injected fault")

// Op names a write operation.
type Op string

const (
	OpPut    Op = "put"
	OpLink   Op = "link"
	OpCopy   Op = "copy"
	OpMove   Op = "move"
	OpDelete Op = "delete"
	// Reads: Nth never counts them; Once can fail them.
	OpGet  Op = "get"
	OpStat Op = "stat"
	OpList Op = "list"
)

// IsWrite reports whether op changes the store.
func (op Op) IsWrite() bool {
	switch op {
	case OpGet, OpStat, OpList:
		return false
	}
	return true
}

// Once fails one call of one kind: the first call of Op after Skip such
// calls, on any key (or on keys containing KeyPart when it is set). Err, when
// set, is wrapped besides ErrInjected (e.g. syscall.ENOSPC for a full disk).
// Safe for concurrent use.
type Once struct {
	Op      Op
	Skip    int
	KeyPart string
	After   bool // fail after the inner call is done (writes only)
	Err     error

	mu    sync.Mutex
	seen  int
	fired bool
}

// Fired reports whether the fault was injected.
func (f *Once) Fired() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// Fault fails the chosen call.
func (f *Once) Fault(op Op, key string) (before, after error) {
	if op != f.Op || (f.KeyPart != "" && !strings.Contains(key, f.KeyPart)) {
		return nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fired {
		return nil, nil
	}
	if f.seen++; f.seen <= f.Skip {
		return nil, nil
	}
	f.fired = true
	err := fmt.Errorf("%w on %s %q", ErrInjected, op, key)
	if f.Err != nil {
		err = fmt.Errorf("%w on %s %q: %w", ErrInjected, op, key, f.Err)
	}
	if f.After && op.IsWrite() {
		return nil, err
	}
	return err, nil
}

// Injector decides whether a write fails. Fault is called before each write reaches the inner
// backend. A non-nil before fails the write without doing it; a non-nil after is returned once
// the inner write has succeeded, like a crash between a write and its acknowledgement.
type Injector interface {
	Fault(op Op, key string) (before, after error)
}

// Nth fails one write: the one numbered N (from 0) among Put, Link, CopyFrom and MoveFrom.
// Deletes are not counted (they are how callers clean up), unless CountDeletes is set. A
// negative N never fires. Safe for concurrent use.
type Nth struct {
	N            int
	AfterWrite   bool  // fail after the write is done instead of before it
	CountDeletes bool  // count Delete as a write too
	Err          error // wrapped in the injected error besides ErrInjected

	mu    sync.Mutex
	seen  int
	fired bool
}

// NthWrite returns an injector failing write n (from 0) before it happens.
func NthWrite(n int) *Nth { return &Nth{N: n} }

// Fired reports whether write N was reached, so that the fault was injected.
func (f *Nth) Fired() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// Writes returns how many writes were counted so far.
func (f *Nth) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen
}

// Fault counts the write and fails it when it is number N.
func (f *Nth) Fault(op Op, key string) (before, after error) {
	if !op.IsWrite() || (op == OpDelete && !f.CountDeletes) {
		return nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.seen
	f.seen++
	if i != f.N {
		return nil, nil
	}
	f.fired = true
	var err error
	if f.Err != nil {
		err = fmt.Errorf("%w on write %d (%s %q): %w", ErrInjected, i, op, key, f.Err)
	} else {
		err = fmt.Errorf("%w on write %d (%s %q)", ErrInjected, i, op, key)
	}
	if f.AfterWrite {
		return nil, err
	}
	return err, nil
}

// Backend is a storage.Backend that consults an Injector before and after each write. It has
// the optional capabilities too; where the wrapped backend lacks one, the method returns
// errs.ErrUnsupported, so callers should fall back on that error as well as on a failed type
// assertion.
type Backend struct {
	inner storage.Backend
	inj   Injector
}

var (
	_ storage.Backend = (*Backend)(nil)
	_ storage.Linker  = (*Backend)(nil)
	_ storage.Copier  = (*Backend)(nil)
	_ storage.Mover   = (*Backend)(nil)
)

// Wrap returns b with faults from inj.
func Wrap(b storage.Backend, inj Injector) *Backend { return &Backend{inner: b, inj: inj} }

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() storage.Backend { return b.inner }

func (b *Backend) write(op Op, key string, do func() error) error {
	before, after := b.inj.Fault(op, key)
	if before != nil {
		return before
	}
	if err := do(); err != nil {
		return err
	}
	return after
}

// read consults the injector before a read; reads never fail after the fact.
func (b *Backend) read(op Op, key string) error {
	before, _ := b.inj.Fault(op, key)
	return before
}

func (b *Backend) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := b.read(OpGet, key); err != nil {
		return nil, err
	}
	return b.inner.Get(ctx, key, off, n)
}

func (b *Backend) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return b.write(OpPut, key, func() error { return b.inner.Put(ctx, key, r, size) })
}

func (b *Backend) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := b.read(OpStat, key); err != nil {
		return storage.Info{}, err
	}
	return b.inner.Stat(ctx, key)
}

func (b *Backend) Delete(ctx context.Context, key string) error {
	return b.write(OpDelete, key, func() error { return b.inner.Delete(ctx, key) })
}

func (b *Backend) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := b.read(OpList, prefix); err != nil {
		return err
	}
	return b.inner.List(ctx, prefix, fn)
}

func (b *Backend) URI(key string) string { return b.inner.URI(key) }

func (b *Backend) Close() error { return b.inner.Close() }

func (b *Backend) Link(ctx context.Context, src, key string, mode storage.LinkMode) error {
	l, ok := b.inner.(storage.Linker)
	if !ok {
		return fmt.Errorf("%s %q to %q: %w: backend cannot link", mode, src, key, errs.ErrUnsupported)
	}
	return b.write(OpLink, key, func() error { return l.Link(ctx, src, key, mode) })
}

func (b *Backend) CopyFrom(ctx context.Context, src, key string) error {
	c, ok := b.inner.(storage.Copier)
	if !ok {
		return fmt.Errorf("copy %q to %q: %w: backend has no CopyFrom", src, key, errs.ErrUnsupported)
	}
	return b.write(OpCopy, key, func() error { return c.CopyFrom(ctx, src, key) })
}

func (b *Backend) MoveFrom(ctx context.Context, src, key string) error {
	m, ok := b.inner.(storage.Mover)
	if !ok {
		return fmt.Errorf("move %q to %q: %w: backend has no MoveFrom", src, key, errs.ErrUnsupported)
	}
	return b.write(OpMove, key, func() error { return m.MoveFrom(ctx, src, key) })
}

// PutNew injects faults around the inner backend's PutNew (as OpPut), so that
// fault tests cover the in-place write a POSIX datastore makes for a new
// dataset; over a backend without one it does what the datastore does then:
// Stat, then Put.
func (b *Backend) PutNew(ctx context.Context, key string, r io.Reader, size int64) error {
	np, ok := b.inner.(storage.NewPutter)
	if !ok {
		switch _, err := b.Stat(ctx, key); {
		case err == nil:
			return fmt.Errorf("%w: %s is there", errs.ErrConflict, key)
		case !errors.Is(err, errs.ErrNotFound):
			return err
		}
		return b.Put(ctx, key, r, size)
	}
	if _, err := b.inner.Stat(ctx, key); err == nil {
		// The conflict is found before anything is written: not a write to fail.
		return np.PutNew(ctx, key, r, size)
	}
	return b.write(OpPut, key, func() error { return np.PutNew(ctx, key, r, size) })
}
