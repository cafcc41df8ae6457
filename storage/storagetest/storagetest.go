// Package storagetest is the conformance suite every storage driver runs, so that a bug found
// in one driver becomes a test for all of them. A driver's test is a few lines:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, storagetest.Harness{New: func(t testing.TB) storage.Backend {
//			b, err := posix.Open(t.Context(), t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			return b
//		}})
//	}
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage"
)

// Harness makes backends for the suite.
type Harness struct {
	// New returns an empty backend for one test; it is called once per subtest, and the
	// suite closes what it returns. Use t.TempDir or a fresh bucket prefix.
	New func(t testing.TB) storage.Backend
}

// Run runs the conformance subtests against backends made by h. Subtests for the optional
// capabilities (Linker, Copier, Mover) skip when the backend lacks them.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, storage.Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"RangeRead", testRangeRead},
		{"MissingKey", testMissingKey},
		{"InvalidKey", testInvalidKey},
		{"OddKeys", testOddKeys},
		{"Overwrite", testOverwrite},
		{"PutSizeMismatch", testPutSizeMismatch},
		{"CancelledPut", testCancelledPut},
		{"FailingReaderPut", testFailingReaderPut},
		{"CancelledContext", testCancelledContext},
		{"Delete", testDelete},
		{"List", testList},
		{"ListStop", testListStop},
		{"ConcurrentPut", testConcurrentPut},
		{"ConcurrentReadDuringOverwrite", testConcurrentReadDuringOverwrite},
		{"ConcurrentPutAndDelete", testConcurrentPutAndDelete},
		{"URI", testURI},
		{"Close", testClose},
		{"CopyFrom", testCopyFrom},
		{"MoveFrom", testMoveFrom},
		{"Link", testLink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := h.New(t)
			t.Cleanup(func() { b.Close() })
			tt.fn(t, b)
		})
	}
}

// payload returns n bytes that differ with seed and position, so that a shifted, truncated or
// mixed read does not compare equal.
func payload(seed byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7+i/251)
	}
	return p
}

func mustPut(t testing.TB, b storage.Backend, key string, data []byte) {
	t.Helper()
	if err := b.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(ctx context.Context, b storage.Backend, key string, off, n int64) ([]byte, error) {
	rc, err := b.Get(ctx, key, off, n)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return data, err
}

func mustGet(t testing.TB, b storage.Backend, key string) []byte {
	t.Helper()
	data, err := get(t.Context(), b, key, 0, -1)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return data
}

func listAll(t testing.TB, b storage.Backend, prefix string) []storage.Info {
	t.Helper()
	var got []storage.Info
	if err := b.List(t.Context(), prefix, func(i storage.Info) error { got = append(got, i); return nil }); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return got
}

func listKeys(t testing.TB, b storage.Backend, prefix string) []string {
	t.Helper()
	var keys []string
	for _, i := range listAll(t, b, prefix) {
		keys = append(keys, i.Key)
	}
	return keys
}

// wantGone checks that key does not exist, through Get and Stat.
func wantGone(t testing.TB, b storage.Backend, key string) {
	t.Helper()
	if _, err := get(t.Context(), b, key, 0, -1); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Get(%q) error = %v, want errs.ErrNotFound", key, err)
	}
	if _, err := b.Stat(t.Context(), key); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Stat(%q) error = %v, want errs.ErrNotFound", key, err)
	}
}

func testRoundTrip(t *testing.T, b storage.Backend) {
	for _, size := range []int{0, 1, 1000, 1<<20 + 3} {
		key := fmt.Sprintf("round/trip/size-%d.bin", size)
		data := payload(byte(size), size)
		before := time.Now().Add(-time.Minute) // file systems and servers round and skew clocks
		mustPut(t, b, key, data)
		if got := mustGet(t, b, key); !bytes.Equal(got, data) {
			t.Errorf("Get(%q) returned %d bytes that differ from the %d put", key, len(got), len(data))
		}
		info, err := b.Stat(t.Context(), key)
		if err != nil {
			t.Fatalf("Stat(%q): %v", key, err)
		}
		if info.Key != key || info.Size != int64(size) {
			t.Errorf("Stat(%q) = %+v, want key %q size %d", key, info, key, size)
		}
		if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Minute)) {
			t.Errorf("Stat(%q).ModTime = %v, want about now", key, info.ModTime)
		}
	}
	// Unknown size.
	data := payload(9, 5000)
	if err := b.Put(t.Context(), "unknown-size", io.MultiReader(bytes.NewReader(data[:100]), bytes.NewReader(data[100:])), -1); err != nil {
		t.Fatalf("Put with size -1: %v", err)
	}
	if got := mustGet(t, b, "unknown-size"); !bytes.Equal(got, data) {
		t.Errorf("Get after Put with size -1 returned %d bytes, want the %d put", len(got), len(data))
	}
}

func testRangeRead(t *testing.T, b storage.Backend) {
	data := payload(3, 10000)
	mustPut(t, b, "range", data)
	tests := []struct {
		off, n int64
		want   []byte
	}{
		{0, -1, data},
		{0, 10, data[:10]},
		{123, 456, data[123 : 123+456]},
		{9990, -1, data[9990:]},
		{9990, 100, data[9990:]}, // past the end: fewer bytes
		{10000, -1, nil},
		{20000, 5, nil},
		{5, 0, nil},
		{0, 10000, data},
	}
	for _, tt := range tests {
		got, err := get(t.Context(), b, "range", tt.off, tt.n)
		if err != nil {
			t.Errorf("Get(off=%d, n=%d): %v", tt.off, tt.n, err)
			continue
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("Get(off=%d, n=%d) returned %d bytes, want %d bytes [%d:%d]",
				tt.off, tt.n, len(got), len(tt.want), tt.off, tt.off+int64(len(tt.want)))
		}
	}
	if _, err := b.Get(t.Context(), "range", -1, 5); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("Get(off=-1) error = %v, want errs.ErrInvalid", err)
	}
}

func testMissingKey(t *testing.T, b storage.Backend) {
	mustPut(t, b, "dir/sub/present", []byte("x"))
	for _, key := range []string{"absent", "dir/absent", "no/such/dir/key", "dir", "dir/sub", "dir/sub/present/below"} {
		wantGone(t, b, key)
		if _, err := b.Get(t.Context(), key, 10, 5); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Get(%q, 10, 5) error = %v, want errs.ErrNotFound", key, err)
		}
		if err := b.Delete(t.Context(), key); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Delete(%q) error = %v, want errs.ErrNotFound", key, err)
		}
	}
	if got := mustGet(t, b, "dir/sub/present"); string(got) != "x" {
		t.Errorf("Get(dir/sub/present) = %q after failed deletes around it, want \"x\"", got)
	}
}

var invalidKeys = []string{"", "/abs", "..", "../up", "a/../b", "a/..", ".", "./a", "a/./b", "a//b", "a/", "nul\x00byte", "bad\xffutf8"}

func testInvalidKey(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	for _, key := range invalidKeys {
		if err := b.Put(ctx, key, strings.NewReader("x"), 1); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Put(%q) error = %v, want errs.ErrInvalid", key, err)
		}
		if _, err := b.Get(ctx, key, 0, -1); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Get(%q) error = %v, want errs.ErrInvalid", key, err)
		}
		if _, err := b.Stat(ctx, key); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Stat(%q) error = %v, want errs.ErrInvalid", key, err)
		}
		if err := b.Delete(ctx, key); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Delete(%q) error = %v, want errs.ErrInvalid", key, err)
		}
	}
	for _, prefix := range []string{"/abs", "../x", "a//", "nul\x00"} {
		err := b.List(ctx, prefix, func(storage.Info) error { return nil })
		if !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("List(%q) error = %v, want errs.ErrInvalid", prefix, err)
		}
	}
	if keys := listKeys(t, b, ""); len(keys) != 0 {
		t.Errorf("List after invalid Puts = %q, want nothing", keys)
	}
}

var oddKeys = []string{
	"with space/and  two  spaces.txt",
	"ünïcödé/日本語/ファイル.fits",
	"punct/#hash?query%percent+plus&amp=eq;semi:colon,comma@at!bang$dollar'quote(paren)[br]{br}~tilde",
	"deep/" + strings.Repeat("d/", 30) + "leaf",
	".hidden/.dotfile",
	"trailing.dot.",
	"back\\slash",
	"tab\tand\nnewline",
	strings.Repeat("x", 200),
}

func testOddKeys(t *testing.T, b storage.Backend) {
	for i, key := range oddKeys {
		mustPut(t, b, key, payload(byte(i), 100+i))
	}
	for i, key := range oddKeys {
		if got := mustGet(t, b, key); !bytes.Equal(got, payload(byte(i), 100+i)) {
			t.Errorf("Get(%q) differs from what was put", key)
		}
		if info, err := b.Stat(t.Context(), key); err != nil || info.Key != key || info.Size != int64(100+i) {
			t.Errorf("Stat(%q) = %+v, %v", key, info, err)
		}
	}
	want := slices.Sorted(slices.Values(oddKeys))
	if got := listKeys(t, b, ""); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	for _, key := range oddKeys {
		if err := b.Delete(t.Context(), key); err != nil {
			t.Errorf("Delete(%q): %v", key, err)
		}
	}
	if got := listKeys(t, b, ""); len(got) != 0 {
		t.Errorf("List after deleting all = %q, want nothing", got)
	}
}

func testOverwrite(t *testing.T, b storage.Backend) {
	mustPut(t, b, "over/write", payload(1, 5000))
	mustPut(t, b, "over/write", payload(2, 100))
	if got := mustGet(t, b, "over/write"); !bytes.Equal(got, payload(2, 100)) {
		t.Errorf("Get after overwrite returned %d bytes, want the 100 bytes of the second Put", len(got))
	}
	if info, err := b.Stat(t.Context(), "over/write"); err != nil || info.Size != 100 {
		t.Errorf("Stat after overwrite = %+v, %v, want size 100", info, err)
	}
	if got := listKeys(t, b, ""); !slices.Equal(got, []string{"over/write"}) {
		t.Errorf("List after overwrite = %q, want one key", got)
	}
}

func testPutSizeMismatch(t *testing.T, b storage.Backend) {
	mustPut(t, b, "old", []byte("old"))
	for _, tt := range []struct {
		key  string
		body string
		size int64
	}{
		{"short", "12345", 10},
		{"long", "1234567890", 5},
		{"old", "12345", 10},
	} {
		err := b.Put(t.Context(), tt.key, strings.NewReader(tt.body), tt.size)
		if !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Put(%q) of %d bytes announced as %d: error = %v, want errs.ErrInvalid", tt.key, len(tt.body), tt.size, err)
		}
	}
	wantGone(t, b, "short")
	wantGone(t, b, "long")
	if got := mustGet(t, b, "old"); string(got) != "old" {
		t.Errorf("Get(old) = %q after a failed overwrite, want \"old\"", got)
	}
	if got := listKeys(t, b, ""); !slices.Equal(got, []string{"old"}) {
		t.Errorf("List = %q, want [old]", got)
	}
}

// slowReader yields chunks of a payload one at a time; after the first it calls onFirst and
// then waits for the context to end, the way a slow network source stalls mid-stream.
type slowReader struct {
	ctx     context.Context
	data    []byte
	chunk   int
	reads   int
	onFirst func()
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if r.reads == 1 {
		r.onFirst()
		select {
		case <-r.ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	r.reads++
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

func testCancelledPut(t *testing.T, b storage.Backend) {
	mustPut(t, b, "cancel/existing", []byte("old"))
	for _, key := range []string{"cancel/existing", "cancel/new", "cancel/newdir/new"} {
		ctx, cancel := context.WithCancel(t.Context())
		data := payload(5, 1<<20)
		r := &slowReader{ctx: ctx, data: data, chunk: 64 << 10, onFirst: cancel}
		err := b.Put(ctx, key, r, int64(len(data)))
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put(%q) cancelled mid-stream: error = %v, want context.Canceled", key, err)
		}
	}
	if got := mustGet(t, b, "cancel/existing"); string(got) != "old" {
		t.Errorf("Get(cancel/existing) after a cancelled overwrite returned %d bytes, want \"old\"", len(got))
	}
	wantGone(t, b, "cancel/new")
	wantGone(t, b, "cancel/newdir/new")
	if got := listKeys(t, b, ""); !slices.Equal(got, []string{"cancel/existing"}) {
		t.Errorf("List after cancelled Puts = %q, want only cancel/existing", got)
	}
}

var errReader = errors.New("storagetest: reader broke")

// failingReader yields n bytes, then errReader.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errReader
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

func testFailingReaderPut(t *testing.T, b storage.Backend) {
	mustPut(t, b, "fail/existing", []byte("old"))
	for _, key := range []string{"fail/existing", "fail/new"} {
		err := b.Put(t.Context(), key, &failingReader{n: 300 << 10}, 1<<20)
		if !errors.Is(err, errReader) {
			t.Errorf("Put(%q) with a reader that fails: error = %v, want it to wrap the reader's error", key, err)
		}
	}
	if got := mustGet(t, b, "fail/existing"); string(got) != "old" {
		t.Errorf("Get(fail/existing) after a failed overwrite returned %d bytes, want \"old\"", len(got))
	}
	wantGone(t, b, "fail/new")
	if got := listKeys(t, b, ""); !slices.Equal(got, []string{"fail/existing"}) {
		t.Errorf("List after failed Puts = %q, want only fail/existing", got)
	}
}

func testCancelledContext(t *testing.T, b storage.Backend) {
	mustPut(t, b, "k", []byte("v"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"Put":    func() error { return b.Put(ctx, "k2", strings.NewReader("v"), 1) },
		"Get":    func() error { _, err := b.Get(ctx, "k", 0, -1); return err },
		"Stat":   func() error { _, err := b.Stat(ctx, "k"); return err },
		"Delete": func() error { return b.Delete(ctx, "k") },
		"List":   func() error { return b.List(ctx, "", func(storage.Info) error { return nil }) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error = %v, want context.Canceled", name, err)
		}
	}
	if got := listKeys(t, b, ""); !slices.Equal(got, []string{"k"}) {
		t.Errorf("List = %q, want [k]: nothing done under a cancelled context", got)
	}
}

func testDelete(t *testing.T, b storage.Backend) {
	mustPut(t, b, "a/b/c", []byte("1"))
	mustPut(t, b, "a/b/d", []byte("2"))
	mustPut(t, b, "a/e", []byte("3"))
	for _, key := range []string{"a/b/c", "a/b/d"} {
		if err := b.Delete(t.Context(), key); err != nil {
			t.Fatalf("Delete(%q): %v", key, err)
		}
		wantGone(t, b, key)
	}
	if got := listKeys(t, b, ""); !slices.Equal(got, []string{"a/e"}) {
		t.Errorf("List after Delete = %q, want [a/e]", got)
	}
	if err := b.Delete(t.Context(), "a/b/c"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("second Delete(a/b/c) error = %v, want errs.ErrNotFound", err)
	}
	// The emptied "directory" must not get in the way of new keys, nor of a key of its name.
	mustPut(t, b, "a/b/c", []byte("4"))
	if err := b.Delete(t.Context(), "a/b/c"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, "a/b", []byte("5"))
	if got := mustGet(t, b, "a/b"); string(got) != "5" {
		t.Errorf("Get(a/b) = %q, want \"5\"", got)
	}
}

func testList(t *testing.T, b storage.Backend) {
	keys := []string{
		"a", "a.txt", "a/b", "a/b.txt", "a/b/c", "a/bc", "a-b/x", "a0", "b/1/2/3", "raw/2019-03-19/x", "raw/2019-03-22/y",
		"raw/2021/z", "Z-upper",
	}
	// Keys cannot be both an object and a "directory" everywhere (POSIX), so drop "a" and "a/b".
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "a" || k == "a/b" })
	for i, k := range keys {
		mustPut(t, b, k, payload(byte(i), i+1))
	}
	sorted := slices.Sorted(slices.Values(keys))
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", sorted},
		{"a", []string{"a-b/x", "a.txt", "a/b.txt", "a/b/c", "a/bc", "a0"}},
		{"a/", []string{"a/b.txt", "a/b/c", "a/bc"}},
		{"a/b", []string{"a/b.txt", "a/b/c", "a/bc"}},
		{"a/b/", []string{"a/b/c"}},
		{"raw/2019-", []string{"raw/2019-03-19/x", "raw/2019-03-22/y"}},
		{"raw/2019-03-19/", []string{"raw/2019-03-19/x"}},
		{"b/1/2/3", []string{"b/1/2/3"}},
		{"nothing", nil},
		{"nothing/below/", nil},
		{"a.txt/", nil},
	}
	for _, tt := range tests {
		if got := listKeys(t, b, tt.prefix); !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
	for _, info := range listAll(t, b, "") {
		i := slices.Index(keys, info.Key)
		if info.Size != int64(i+1) || info.ModTime.IsZero() {
			t.Errorf("List gave %+v, want size %d and a modification time", info, i+1)
		}
	}
}

func testListStop(t *testing.T, b storage.Backend) {
	for _, k := range []string{"s/1", "s/2", "s/3/4", "s/5"} {
		mustPut(t, b, k, nil)
	}
	stop := errors.New("stop")
	var seen []string
	err := b.List(t.Context(), "", func(i storage.Info) error {
		seen = append(seen, i.Key)
		if len(seen) == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("List error = %v, want the callback's error as is", err)
	}
	if !slices.Equal(seen, []string{"s/1", "s/2", "s/3/4"}) {
		t.Errorf("List called back with %q, want it to stop after the third key", seen)
	}
}

func testConcurrentPut(t *testing.T, b storage.Backend) {
	const n = 24
	var wg sync.WaitGroup
	errc := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("conc/dir%d/key%d", i%3, i) // several writers share each directory
			errc <- b.Put(t.Context(), key, bytes.NewReader(payload(byte(i), 10000+i)), int64(10000+i))
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Error(err)
		}
	}
	for i := range n {
		key := fmt.Sprintf("conc/dir%d/key%d", i%3, i)
		if got := mustGet(t, b, key); !bytes.Equal(got, payload(byte(i), 10000+i)) {
			t.Errorf("Get(%q) differs from what was put", key)
		}
	}
	if got := listKeys(t, b, "conc/"); len(got) != n {
		t.Errorf("List(conc/) gave %d keys, want %d", len(got), n)
	}
}

func testConcurrentReadDuringOverwrite(t *testing.T, b storage.Backend) {
	versions := [][]byte{payload(1, 300<<10), payload(2, 200<<10), payload(3, 400<<10)}
	mustPut(t, b, "hot", versions[0])
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		defer cancel()
		for i := range 30 {
			v := versions[i%len(versions)]
			if err := b.Put(ctx, "hot", bytes.NewReader(v), int64(len(v))); err != nil {
				t.Errorf("Put #%d: %v", i, err)
				return
			}
		}
	})
	for r := range 3 {
		wg.Go(func() {
			for reads := 0; ctx.Err() == nil || reads == 0; reads++ {
				got, err := get(t.Context(), b, "hot", 0, -1)
				if err != nil {
					t.Errorf("reader %d: Get during overwrite: %v", r, err)
					return
				}
				if !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, got) }) {
					t.Errorf("reader %d: Get during overwrite returned %d bytes that are no version put", r, len(got))
					return
				}
			}
		})
	}
	wg.Wait()
}

// testConcurrentPutAndDelete races a Put into a directory with the Delete of the last other
// key there: a driver that prunes empty directories must not make the Put fail.
func testConcurrentPutAndDelete(t *testing.T, b storage.Backend) {
	for i := range 50 {
		dir := fmt.Sprintf("race/%d/sub", i%5)
		mustPut(t, b, dir+"/old", []byte("old"))
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := b.Delete(t.Context(), dir+"/old"); err != nil {
				t.Errorf("Delete(%s/old): %v", dir, err)
			}
		})
		wg.Go(func() {
			if err := b.Put(t.Context(), dir+"/new", strings.NewReader("new"), 3); err != nil {
				t.Errorf("Put(%s/new) racing a Delete: %v", dir, err)
			}
		})
		wg.Wait()
		if got := mustGet(t, b, dir+"/new"); string(got) != "new" {
			t.Errorf("Get(%s/new) = %q", dir, got)
		}
		if err := b.Delete(t.Context(), dir+"/new"); err != nil {
			t.Fatal(err)
		}
	}
}

func testURI(t *testing.T, b storage.Backend) {
	root, err := url.Parse(b.URI(""))
	if err != nil || root.Scheme == "" || !strings.HasSuffix(root.Path, "/") {
		t.Fatalf("URI(\"\") = %q (%v), want an absolute URI ending in /", b.URI(""), err)
	}
	seen := map[string]string{}
	for _, key := range append([]string{"plain/key.fits"}, oddKeys...) {
		s := b.URI(key)
		u, err := url.Parse(s)
		if err != nil {
			t.Errorf("URI(%q) = %q does not parse: %v", key, s, err)
			continue
		}
		if u.Scheme != root.Scheme || u.Host != root.Host || u.Path != root.Path+key || u.RawQuery != "" || u.Fragment != "" {
			t.Errorf("URI(%q) = %q, want the root URI %q with the key appended, escaped", key, s, b.URI(""))
		}
		if other, dup := seen[s]; dup {
			t.Errorf("URI(%q) = URI(%q) = %q", key, other, s)
		}
		seen[s] = key
	}
}

func testClose(t *testing.T, b storage.Backend) {
	mustPut(t, b, "k", []byte("v"))
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Put(t.Context(), "k2", strings.NewReader("v"), 1); err == nil {
		t.Error("Put after Close succeeded")
	}
	if _, err := b.Stat(t.Context(), "k"); err == nil {
		t.Error("Stat after Close succeeded")
	}
}

// localFile writes data to a new file in a temporary directory and returns its path.
func localFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func testCopyFrom(t *testing.T, b storage.Backend) {
	c, ok := b.(storage.Copier)
	if !ok {
		t.Skip("backend is not a storage.Copier")
	}
	data := payload(7, 3<<20+11)
	src := localFile(t, "src.fits", data)
	mustPut(t, b, "copy/dst", []byte("old"))
	for _, key := range []string{"copy/dst", "copy/new/dir/dst"} {
		if err := c.CopyFrom(t.Context(), src, key); err != nil {
			t.Fatalf("CopyFrom(%q): %v", key, err)
		}
		if got := mustGet(t, b, key); !bytes.Equal(got, data) {
			t.Errorf("Get(%q) after CopyFrom returned %d bytes, want the %d of the source", key, len(got), len(data))
		}
	}
	if got, err := os.ReadFile(src); err != nil || !bytes.Equal(got, data) {
		t.Errorf("source after CopyFrom: %d bytes, %v; want it unchanged", len(got), err)
	}
	err := c.CopyFrom(t.Context(), filepath.Join(t.TempDir(), "absent"), "copy/absent")
	if !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("CopyFrom(missing source) error = %v, want errs.ErrNotFound", err)
	}
	wantGone(t, b, "copy/absent")
	if err := c.CopyFrom(t.Context(), src, "../escape"); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("CopyFrom to an invalid key: error = %v, want errs.ErrInvalid", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.CopyFrom(ctx, src, "copy/cancelled"); !errors.Is(err, context.Canceled) {
		t.Errorf("CopyFrom with a cancelled context: error = %v, want context.Canceled", err)
	}
	wantGone(t, b, "copy/cancelled")
}

func testMoveFrom(t *testing.T, b storage.Backend) {
	m, ok := b.(storage.Mover)
	if !ok {
		t.Skip("backend is not a storage.Mover")
	}
	for i, key := range []string{"move/dst", "move/new/dir/dst"} {
		data := payload(byte(i), 5000)
		src := localFile(t, "src", data)
		if err := m.MoveFrom(t.Context(), src, key); err != nil {
			t.Fatalf("MoveFrom(%q): %v", key, err)
		}
		if got := mustGet(t, b, key); !bytes.Equal(got, data) {
			t.Errorf("Get(%q) after MoveFrom differs from the source", key)
		}
		if _, err := os.Lstat(src); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("source after MoveFrom: Lstat error = %v, want it gone", err)
		}
	}
	err := m.MoveFrom(t.Context(), filepath.Join(t.TempDir(), "absent"), "move/absent")
	if !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("MoveFrom(missing source) error = %v, want errs.ErrNotFound", err)
	}
	wantGone(t, b, "move/absent")
}

func testLink(t *testing.T, b storage.Backend) {
	l, ok := b.(storage.Linker)
	if !ok {
		t.Skip("backend is not a storage.Linker")
	}
	data := payload(4, 7000)
	src := localFile(t, "raw.fits", data)
	// Reach the source through a symbolic link: links must point at the real file.
	via := filepath.Join(t.TempDir(), "via.fits")
	if err := os.Symlink(src, via); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []storage.LinkMode{storage.Hardlink, storage.Symlink, storage.RelSymlink, storage.Link} {
		for _, key := range []string{"link/" + mode.String(), "link/deep/er/" + mode.String()} {
			if err := l.Link(t.Context(), via, key, mode); err != nil {
				t.Errorf("Link(%s, %q): %v", mode, key, err)
				continue
			}
			if got := mustGet(t, b, key); !bytes.Equal(got, data) {
				t.Errorf("Get(%q) after Link(%s) differs from the source", key, mode)
			}
			if info, err := b.Stat(t.Context(), key); err != nil || info.Size != int64(len(data)) {
				t.Errorf("Stat(%q) after Link(%s) = %+v, %v, want size %d", key, mode, info, err, len(data))
			}
		}
		// Linking over an existing object replaces it.
		mustPut(t, b, "link/over", []byte("old"))
		if err := l.Link(t.Context(), src, "link/over", mode); err != nil {
			t.Errorf("Link(%s) over an existing key: %v", mode, err)
		} else if got := mustGet(t, b, "link/over"); !bytes.Equal(got, data) {
			t.Errorf("Get after Link(%s) over an existing key returned %d bytes, want the source", mode, len(got))
		}
		err := l.Link(t.Context(), filepath.Join(t.TempDir(), "absent"), "link/absent", mode)
		if !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Link(%s, missing source) error = %v, want errs.ErrNotFound", mode, err)
		}
		wantGone(t, b, "link/absent")
		if err := l.Link(t.Context(), "relative/path", "link/rel", mode); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Link(%s, relative source) error = %v, want errs.ErrInvalid", mode, err)
		}
	}
	if got, err := os.ReadFile(src); err != nil || !bytes.Equal(got, data) {
		t.Errorf("source after Link: %d bytes, %v; want it unchanged", len(got), err)
	}
}
