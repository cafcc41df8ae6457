// Package posix is the storage driver for a directory on a local or shared POSIX file system.
//
// An object is the file <root>/<key>. Put writes <file>.tmp-<random> in the target directory,
// syncs it, renames it into place and syncs the directory, so a crash leaves the old object or
// the new one, plus at worst a stray temporary file that List never shows. PutNew, for keys
// that must not exist yet, writes the file itself (no temporary file, no rename); a crash
// during it can leave the new file partly written, which no record points at yet.
package posix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unicode/utf8"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage"
)

// Scheme is the URI scheme this driver serves; bare paths map to it too.
const Scheme = "file"

// Backend stores objects as files below a root directory. It implements storage.Backend,
// storage.Linker, storage.Copier, storage.Mover and storage.NewPutter.
type Backend struct {
	root         string // absolute and clean
	noSync       bool
	deferDirSync bool
	closed       atomic.Bool
}

// Options tune a Backend; the zero value is the safe default.
type Options struct {
	// NoSync skips fsync of written files and of directories after a rename, as the Python
	// butler does: several times faster for small files, but a crash of the machine (not
	// just of the process) can then lose files whose registry rows were committed.
	NoSync bool
	// DeferDirSync skips the directory fsync after each rename (file contents are still
	// synced); the caller makes a batch of new entries durable at once with SyncKeys
	// before it commits the records that point at them. A directory synced once covers
	// every entry renamed into it, so this is much cheaper for ingest of many files.
	DeferDirSync bool
}

var (
	_ storage.Backend   = (*Backend)(nil)
	_ storage.Linker    = (*Backend)(nil)
	_ storage.Copier    = (*Backend)(nil)
	_ storage.Mover     = (*Backend)(nil)
	_ storage.NewPutter = (*Backend)(nil)
)

// Open returns the backend rooted at the directory root, made absolute. It creates nothing: the
// root is made by Create or by the first write. A root that exists but is not a directory is
// errs.ErrInvalid.
func Open(ctx context.Context, root string) (*Backend, error) {
	return OpenOptions(ctx, root, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, root string, opts Options) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if root == "" {
		return nil, fmt.Errorf("open file store: %w: empty root", errs.ErrInvalid)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open file store %q: %w", root, err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("open file store %q: %w: not a directory", abs, errs.ErrInvalid)
	}
	return &Backend{root: abs, noSync: opts.NoSync, deferDirSync: opts.DeferDirSync}, nil
}

// OpenURL is the storage.Opener for Scheme: file:///abs/path, file://localhost/abs/path, or a
// bare path (relative to the working directory).
func OpenURL(ctx context.Context, u *url.URL) (storage.Backend, error) {
	switch {
	case !strings.EqualFold(u.Scheme, Scheme):
		return nil, fmt.Errorf("open file store %q: %w: scheme %q", u, errs.ErrInvalid, u.Scheme)
	case u.Host != "" && u.Host != "localhost":
		return nil, fmt.Errorf("open file store %q: %w: remote host %q", u, errs.ErrUnsupported, u.Host)
	case u.Opaque != "" || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("open file store %q: %w: want file:///absolute/path", u, errs.ErrInvalid)
	}
	b, err := Open(ctx, filepath.FromSlash(u.Path))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Root returns the absolute root directory.
func (b *Backend) Root() string { return b.root }

// Create makes the root directory (and its parents) if it does not exist.
func (b *Backend) Create(ctx context.Context) error {
	if err := b.check(ctx); err != nil {
		return fmt.Errorf("create file store %q: %w", b.root, err)
	}
	if err := os.MkdirAll(b.root, 0o777); err != nil {
		return b.fail("create file store", b.root, err, true)
	}
	return nil
}

// URI returns file:// followed by the escaped absolute path of key.
func (b *Backend) URI(key string) string {
	return (&url.URL{Scheme: Scheme, Path: filepath.ToSlash(strings.TrimSuffix(b.root, "/")) + "/" + key}).String()
}

// Close makes later calls fail. Readers returned by Get stay usable until closed.
func (b *Backend) Close() error {
	b.closed.Store(true)
	return nil
}

// Get opens key and positions it at off. For a whole-file read the result is the *os.File
// itself, so callers may use its ReadAt.
func (b *Backend) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := b.checkKey(ctx, key); err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	if off < 0 {
		return nil, fmt.Errorf("get %q: %w: negative offset %d", key, errs.ErrInvalid, off)
	}
	f, err := os.Open(b.path(key))
	if err != nil {
		return nil, b.fail("get", key, err, false)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		f.Close()
		return nil, b.fail("get", key, err, false)
	case fi.IsDir():
		f.Close()
		return nil, fmt.Errorf("get %q: %w: is a directory", key, errs.ErrNotFound)
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("get %q: seek to %d: %w", key, off, err)
		}
	}
	if n < 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, n), f}, nil
}

// Stat follows symbolic links, so a linked object reports the size of its target.
func (b *Backend) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := b.checkKey(ctx, key); err != nil {
		return storage.Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	fi, err := os.Stat(b.path(key))
	if err != nil {
		return storage.Info{}, b.fail("stat", key, err, false)
	}
	if fi.IsDir() {
		return storage.Info{}, fmt.Errorf("stat %q: %w: is a directory", key, errs.ErrNotFound)
	}
	return storage.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Put writes a temporary file beside the target, syncs it and renames it into place.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := b.checkKey(ctx, key); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	err := b.place(ctx, b.path(key), func(f *os.File) error {
		// f hides its ReadFrom so that CopyBuffer uses our buffer and ctxReader checks ctx.
		return copyBody(ctx, struct{ io.Writer }{f}, r, size)
	})
	if err != nil {
		return b.fail("put", key, err, true)
	}
	return nil
}

// PutNew writes a new file at key itself, with no temporary file or rename: an
// exclusive create, the body, a sync unless NoSync, and the directory sync. An
// existing key is errs.ErrConflict, before r is read. It implements
// storage.NewPutter.
func (b *Backend) PutNew(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := b.checkKey(ctx, key); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	path := b.path(key)
	var fd int
	err := b.retryDir(path, func() (err error) {
		fd, err = openNew(path)
		return err
	})
	if err != nil {
		return b.fail("put", key, err, true)
	}
	w := fdWriter(fd)
	err = copyBody(ctx, w, r, size)
	if err == nil {
		err = ctx.Err() // a cancelled put must not stay, even when the body was done
	}
	if err == nil && !b.noSync {
		err = ignoringEINTR(func() error { return syscall.Fsync(fd) })
	}
	if cerr := syscall.Close(fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: path, Err: cerr}
	}
	if err != nil {
		syscall.Unlink(path)
		return b.fail("put", key, err, true)
	}
	if err := b.syncDir(filepath.Dir(path)); err != nil {
		return b.fail("put", key, err, true)
	}
	return nil
}

// copyBody copies r to w; a size >= 0 must be the body's exact length.
func copyBody(ctx context.Context, w io.Writer, r io.Reader, size int64) error {
	bufSize := int64(256 << 10)
	if size >= 0 {
		// Read one byte more than announced, to notice a longer body without reading it all.
		r = io.LimitReader(r, size+1)
		bufSize = max(512, min(size+1, 1<<20))
	}
	n, err := io.CopyBuffer(w, ctxReader{ctx, r}, make([]byte, bufSize))
	switch {
	case err != nil:
		return err
	case size >= 0 && n != size:
		return fmt.Errorf("%w: body has %s bytes, want %d", errs.ErrInvalid, sizeString(n, size), size)
	}
	return nil
}

// openNew creates path for writing, failing if it exists. It is os.OpenFile
// without the os.File: a regular file cannot use the poller, and finding that
// out cost os.OpenFile four more system calls per file.
func openNew(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o666)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

// fdWriter writes to a file descriptor, retrying short writes and EINTR.
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := syscall.Write(int(w), p[n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return n, &os.PathError{Op: "write", Path: "", Err: err}
		case m == 0:
			return n, io.ErrShortWrite
		}
		n += m
	}
	return n, nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != syscall.EINTR {
			return err
		}
	}
}

func sizeString(n, size int64) string {
	if n > size {
		return fmt.Sprintf("more than %d", size)
	}
	return fmt.Sprint(n)
}

// Delete removes key, then the directories above it that became empty, up to the root. It
// stops at the first directory that is not empty, so it costs one extra system call at most
// in a full directory.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := b.checkKey(ctx, key); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	p := b.path(key)
	fi, err := os.Lstat(p)
	if err != nil {
		return b.fail("delete", key, err, false)
	}
	if fi.IsDir() {
		return fmt.Errorf("delete %q: %w: is a directory", key, errs.ErrNotFound)
	}
	if err := os.Remove(p); err != nil {
		return b.fail("delete", key, err, false)
	}
	for dir := filepath.Dir(p); len(dir) > len(b.root); dir = filepath.Dir(dir) {
		if syscall.Rmdir(dir) != nil {
			break // not empty, or already gone: either way we are done
		}
	}
	return nil
}

// List walks the directory holding prefix's last component, reading each directory once and
// ordering its entries as their keys sort (a directory "a" sorts as "a/", after "a.txt").
func (b *Backend) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := b.check(ctx); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	if err := storage.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	dirKey, namePrefix := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey, namePrefix = prefix[:i], prefix[i+1:]
	}
	return b.walk(ctx, dirKey, namePrefix, fn)
}

func (b *Backend) walk(ctx context.Context, dirKey, namePrefix string, fn func(storage.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", dirKey, err)
	}
	dir := b.root
	if dirKey != "" {
		dir = b.path(dirKey)
	}
	entries, err := readDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil // nothing stored under this prefix yet
		}
		return b.fail("list", dirKey, err, false)
	}
	type item struct {
		sortKey string
		entry   fs.DirEntry
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, namePrefix) || !utf8.ValidString(name) {
			continue
		}
		if e.IsDir() {
			items = append(items, item{name + "/", e})
		} else if !isTemp(name) {
			items = append(items, item{name, e})
		}
	}
	slices.SortFunc(items, func(x, y item) int { return strings.Compare(x.sortKey, y.sortKey) })
	for _, it := range items {
		key := it.entry.Name()
		if dirKey != "" {
			key = dirKey + "/" + key
		}
		if it.entry.IsDir() {
			if err := b.walk(ctx, key, "", fn); err != nil {
				return err
			}
			continue
		}
		fi, err := it.entry.Info()
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			fi, err = os.Stat(filepath.Join(dir, it.entry.Name()))
		}
		if err != nil || !fi.Mode().IsRegular() {
			// Deleted since the directory was read, a dangling link, or a link to a
			// directory (never followed, so a loop cannot trap us): not an object.
			continue
		}
		if err := fn(storage.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

func readDir(dir string) ([]fs.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1) // unsorted: walk sorts by key, which os.ReadDir's name order is not
}

// tempRE matches the names of temporary files made by place.
var tempRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\.tmp-[0-9a-f]{12}$`)
})

func isTemp(name string) bool { return strings.Contains(name, ".tmp-") && tempRE().MatchString(name) }

// rename is os.Rename without its Lstat of newpath (which refuses to replace a
// directory: rename(2) refuses that too, with EISDIR).
func rename(oldpath, newpath string) error {
	if err := ignoringEINTR(func() error { return syscall.Rename(oldpath, newpath) }); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

func tempName(path string) string { return fmt.Sprintf("%s.tmp-%012x", path, rand.Uint64()>>16) }

// place creates path atomically: it opens a new temporary file beside path (making missing
// directories), lets write fill it, syncs and closes it, renames it to path and syncs the
// directory. On any error the temporary file is removed.
func (b *Backend) place(ctx context.Context, path string, write func(*os.File) error) error {
	var f *os.File
	var tmp string
	err := b.retryDir(path, func() error {
		tmp = tempName(path)
		fd, err := openNew(tmp)
		if err == nil {
			f = os.NewFile(uintptr(fd), tmp)
		}
		return err
	})
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = ctx.Err() // a cancelled Put must not become visible, even when the body was done
	}
	if err == nil && !b.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return b.syncDir(filepath.Dir(path))
}

// retryDir runs create, which makes a new directory entry beside path. When that fails because
// the directory is missing, it makes the directory and tries again. A concurrent Delete may
// remove emptied directories at any moment, even in the middle of MkdirAll, hence the retries.
func (b *Backend) retryDir(path string, create func() error) error {
	var err error
	for range 10 {
		err = create()
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if merr := os.MkdirAll(filepath.Dir(path), 0o777); merr != nil && !errors.Is(merr, fs.ErrNotExist) {
			return merr
		}
	}
	return err
}

// syncDir makes a rename in dir durable, unless NoSync is set. File systems that cannot sync a directory say so with
// EINVAL or ENOTSUP; there is nothing better to do there.
func (b *Backend) syncDir(dir string) error {
	if b.noSync || b.deferDirSync {
		return nil
	}
	return fsyncDir(dir)
}

// SyncKeys makes the directory entries of the keys durable: each distinct parent
// directory is fsynced once. It implements storage.Syncer.
func (b *Backend) SyncKeys(ctx context.Context, keys []string) error {
	if b.noSync {
		return nil
	}
	done := map[string]bool{}
	for _, k := range keys {
		dir := filepath.Dir(b.path(k))
		for !done[dir] && len(dir) >= len(b.root) {
			done[dir] = true
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fsyncDir(dir); err != nil {
				return err
			}
			if dir == b.root {
				break
			}
			// New parent directories are entries of their parents too.
			dir = filepath.Dir(dir)
		}
	}
	return nil
}

func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

func (b *Backend) path(key string) string { return filepath.Join(b.root, filepath.FromSlash(key)) }

func (b *Backend) check(ctx context.Context) error {
	if b.closed.Load() {
		return fmt.Errorf("%w: %w", errs.ErrInvalid, fs.ErrClosed)
	}
	return ctx.Err()
}

// checkKey also refuses keys that look like our temporary files, which List hides.
func (b *Backend) checkKey(ctx context.Context, key string) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := storage.CheckKey(key); err != nil {
		return err
	}
	if isTemp(key) {
		return fmt.Errorf("%w: name of a temporary file", errs.ErrInvalid)
	}
	return nil
}

// fail wraps err from operation op on key with its kind. write says whether op creates
// entries, where an existing directory or a file in place of a directory is a conflict rather
// than a missing object.
func (b *Backend) fail(op, key string, err error, write bool) error {
	var kind error
	switch {
	case errors.Is(err, errs.ErrInvalid), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %q: %w", op, key, err) // kind known already
	case errors.Is(err, syscall.EROFS):
		kind = errs.ErrReadOnly
	case errors.Is(err, fs.ErrPermission):
		kind = errs.ErrPermission
	case write && (errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY)):
		kind = errs.ErrConflict
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		kind = errs.ErrNotFound
	default:
		return fmt.Errorf("%s %q: %w", op, key, err)
	}
	return fmt.Errorf("%s %q: %w: %w", op, key, kind, err)
}

// ctxReader stops a copy at the first read after ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
