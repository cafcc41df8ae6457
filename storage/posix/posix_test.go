package posix_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage"
	"github.com/gobutler/butler/storage/posix"
)

func open(t *testing.T, root string) *posix.Backend {
	t.Helper()
	b, err := posix.Open(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func put(t *testing.T, b storage.Backend, key, data string) {
	t.Helper()
	if err := b.Put(t.Context(), key, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// files returns the paths of everything below root, relative to it, as the file system sees it
// (temporary files included, which List hides).
func files(t *testing.T, root string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			if d.IsDir() {
				rel += "/"
			}
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return got
}

func TestOpen_CreatesNothing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "root")
	b := open(t, root)
	if b.Root() != root {
		t.Errorf("Root() = %q, want %q", b.Root(), root)
	}
	ctx := t.Context()
	if _, err := b.Stat(ctx, "x"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Stat in a missing root: %v, want errs.ErrNotFound", err)
	}
	if _, err := b.Get(ctx, "x", 0, -1); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Get in a missing root: %v, want errs.ErrNotFound", err)
	}
	if err := b.Delete(ctx, "x/y"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Delete in a missing root: %v, want errs.ErrNotFound", err)
	}
	if err := b.List(ctx, "", func(storage.Info) error { return errors.New("called") }); err != nil {
		t.Errorf("List in a missing root: %v, want nothing listed", err)
	}
	if _, err := os.Stat(filepath.Dir(root)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open and reads created %s (Stat error %v)", filepath.Dir(root), err)
	}
	if err := b.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("after Create, Stat(root) = %v, %v", fi, err)
	}
	if err := b.Create(ctx); err != nil {
		t.Errorf("second Create: %v", err)
	}
}

func TestOpen_Errors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := posix.Open(t.Context(), file); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("Open(a file) error = %v, want errs.ErrInvalid", err)
	}
	if _, err := posix.Open(t.Context(), ""); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("Open(\"\") error = %v, want errs.ErrInvalid", err)
	}
}

func TestOpen_RelativeRoot(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	b := open(t, "rel/root")
	if want := filepath.Join(dir, "rel", "root"); b.Root() != want {
		t.Errorf("Root() = %q, want %q", b.Root(), want)
	}
}

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	var m storage.Mux
	m.Register(posix.Scheme, posix.OpenURL)
	tests := []struct {
		uri      string
		wantRoot string
		wantErr  error
	}{
		{dir + "/plain", dir + "/plain", nil},
		{"file://" + dir + "/uri", dir + "/uri", nil},
		{"file://localhost" + dir + "/local", dir + "/local", nil},
		{"file://" + dir + "/with%20space", dir + "/with space", nil},
		{dir + "/100%", dir + "/100%", nil},
		{"file://otherhost/x", "", errs.ErrUnsupported},
		{"file:relative", "", errs.ErrInvalid},
		{"file:///x?option=1", "", errs.ErrInvalid},
	}
	for _, tt := range tests {
		b, err := m.Open(t.Context(), tt.uri)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open(%q) error = %v, want %v", tt.uri, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tt.uri, err)
			continue
		}
		if got := b.(*posix.Backend).Root(); got != tt.wantRoot {
			t.Errorf("Open(%q) root = %q, want %q", tt.uri, got, tt.wantRoot)
		}
		b.Close()
	}
}

func TestBackend_URI(t *testing.T) {
	root := filepath.Join(t.TempDir(), "my repo")
	b := open(t, root)
	tests := []struct{ key, want string }{
		{"", "file://" + strings.ReplaceAll(root, " ", "%20") + "/"},
		{"raw/x.fits", "file://" + strings.ReplaceAll(root, " ", "%20") + "/raw/x.fits"},
		{"a b/#?.fits", "file://" + strings.ReplaceAll(root, " ", "%20") + "/a%20b/%23%3F.fits"},
	}
	for _, tt := range tests {
		if got := b.URI(tt.key); got != tt.want {
			t.Errorf("URI(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// TestPut_NoTemporaryFilesLeft looks at the directory itself, since List hides temporary files.
func TestPut_NoTemporaryFilesLeft(t *testing.T) {
	root := t.TempDir()
	b := open(t, root)
	put(t, b, "d/keep", "keep")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_ = b.Put(t.Context(), "d/short", strings.NewReader("abc"), 10)
	_ = b.Put(t.Context(), "d/broken", io.MultiReader(strings.NewReader("abc"), errReader{}), -1)
	_ = b.Put(ctx, "d/cancelled", strings.NewReader("abc"), 3)
	_ = b.Put(t.Context(), "d/keep", strings.NewReader("abc"), 99)
	want := []string{"d/", "d/keep"}
	if got := files(t, root); !equal(got, want) {
		t.Errorf("files after failed Puts = %q, want %q", got, want)
	}
}

// TestPutNew: an existing key is refused before the body is read and kept as it
// was; a failed or cancelled PutNew leaves no file; missing directories are made.
func TestPutNew(t *testing.T) {
	root := t.TempDir()
	b := open(t, root)
	put(t, b, "d/keep", "keep")
	r := strings.NewReader("new")
	if err := b.PutNew(t.Context(), "d/keep", r, 3); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("PutNew over a file: error = %v, want errs.ErrConflict", err)
	}
	if r.Len() != 3 {
		t.Errorf("PutNew over a file read %d bytes of the body, want none", 3-r.Len())
	}
	if err := b.PutNew(t.Context(), "d", strings.NewReader("x"), 1); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("PutNew over a directory: error = %v, want errs.ErrConflict", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tt := range []struct {
		name, key string
		ctx       context.Context
		r         io.Reader
		size      int64
		want      error
	}{
		{"short body", "d/short", t.Context(), strings.NewReader("abc"), 10, errs.ErrInvalid},
		{"long body", "d/long", t.Context(), strings.NewReader("abcdef"), 3, errs.ErrInvalid},
		{"broken source", "d/broken", t.Context(), io.MultiReader(strings.NewReader("abc"), errReader{}), -1, nil},
		{"cancelled", "d/cancelled", ctx, strings.NewReader("abc"), 3, context.Canceled},
	} {
		err := b.PutNew(tt.ctx, tt.key, tt.r, tt.size)
		if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: PutNew(%q) error = %v, want %v", tt.name, tt.key, err, tt.want)
		}
	}
	if err := b.PutNew(t.Context(), "a/b/new", strings.NewReader("new"), 3); err != nil {
		t.Fatalf("PutNew(a/b/new): %v", err)
	}
	want := []string{"a/", "a/b/", "a/b/new", "d/", "d/keep"}
	if got := files(t, root); !equal(got, want) {
		t.Errorf("files after PutNew calls = %q, want %q", got, want)
	}
	for key, want := range map[string]string{"d/keep": "keep", "a/b/new": "new"} {
		if got, err := os.ReadFile(filepath.Join(root, key)); err != nil || string(got) != want {
			t.Errorf("%s holds %q, %v; want %q", key, got, err, want)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("broken source") }

func TestList_HidesTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	b := open(t, root)
	put(t, b, "d/x", "x")
	// What a crash between create and rename leaves behind.
	if err := os.WriteFile(filepath.Join(root, "d", "y.tmp-0123456789ab"), []byte("partial"), 0o666); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := b.List(t.Context(), "", func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !equal(keys, []string{"d/x"}) {
		t.Errorf("List = %q, want [d/x]", keys)
	}
	if err := b.Put(t.Context(), "d/z.tmp-0123456789ab", strings.NewReader("z"), 1); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("Put of a temporary-file name: error = %v, want errs.ErrInvalid", err)
	}
	put(t, b, "d/z.tmp-notours", "ok") // only the exact pattern is reserved
}

func TestDelete_PrunesEmptyDirectories(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	b := open(t, root)
	put(t, b, "a/b/c/d", "1")
	put(t, b, "a/x", "2")
	if err := b.Delete(t.Context(), "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if got, want := files(t, root), []string{"a/", "a/x"}; !equal(got, want) {
		t.Errorf("after Delete(a/b/c/d): files = %q, want %q", got, want)
	}
	if err := b.Delete(t.Context(), "a/x"); err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); len(got) != 0 {
		t.Errorf("after deleting everything: files = %q, want none", got)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Errorf("the root itself must stay: Stat = %v, %v", fi, err)
	}
}

func TestWrite_Conflicts(t *testing.T) {
	b := open(t, t.TempDir())
	put(t, b, "file", "f")
	put(t, b, "dir/x", "x")
	for _, key := range []string{"file/below", "dir"} {
		if err := b.Put(t.Context(), key, strings.NewReader("v"), 1); !errors.Is(err, errs.ErrConflict) {
			t.Errorf("Put(%q) error = %v, want errs.ErrConflict", key, err)
		}
	}
}

func TestGet_WholeFileIsReaderAt(t *testing.T) {
	b := open(t, t.TempDir())
	put(t, b, "k", "0123456789")
	rc, err := b.Get(t.Context(), "k", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ra, ok := rc.(io.ReaderAt)
	if !ok {
		t.Fatalf("Get(k, 0, -1) returned %T, want an io.ReaderAt", rc)
	}
	p := make([]byte, 3)
	if _, err := ra.ReadAt(p, 4); err != nil || string(p) != "456" {
		t.Errorf("ReadAt(4) = %q, %v", p, err)
	}
}

func TestGet_DanglingLink(t *testing.T) {
	root := t.TempDir()
	b := open(t, root)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("x"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := b.Link(t.Context(), src, "linked", storage.Symlink); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(t.Context(), "linked", 0, -1); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Get of a dangling link: %v, want errs.ErrNotFound", err)
	}
	if err := b.Delete(t.Context(), "linked"); err != nil {
		t.Errorf("Delete of a dangling link: %v", err)
	}
}

func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions")
	}
	root := t.TempDir()
	b := open(t, root)
	put(t, b, "locked/k", "v")
	if err := os.Chmod(filepath.Join(root, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "locked"), 0o755) })
	if _, err := b.Get(t.Context(), "locked/k", 0, -1); !errors.Is(err, errs.ErrPermission) {
		t.Errorf("Get in an unreadable directory: %v, want errs.ErrPermission", err)
	}
	if _, err := b.Stat(t.Context(), "locked/k"); !errors.Is(err, errs.ErrPermission) {
		t.Errorf("Stat in an unreadable directory: %v, want errs.ErrPermission", err)
	}
	if err := b.Put(t.Context(), "locked/k2", strings.NewReader("v"), 1); !errors.Is(err, errs.ErrPermission) {
		t.Errorf("Put in an unwritable directory: %v, want errs.ErrPermission", err)
	}
}

func TestLink_FileSystemObjects(t *testing.T) {
	root := t.TempDir()
	b := open(t, root)
	src := filepath.Join(t.TempDir(), "raw.fits")
	if err := os.WriteFile(src, []byte("data"), 0o666); err != nil {
		t.Fatal(err)
	}
	srcInfo, _ := os.Stat(src)
	ctx := t.Context()

	if err := b.Link(ctx, src, "h/raw", storage.Hardlink); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "h/raw")); err != nil || !os.SameFile(fi, srcInfo) {
		t.Errorf("Hardlink: Lstat = %v, %v; want the source's inode", fi, err)
	}
	if err := b.Link(ctx, src, "l/raw", storage.Link); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "l/raw")); err != nil || !os.SameFile(fi, srcInfo) {
		t.Errorf("Link on one device: Lstat = %v, %v; want a hard link", fi, err)
	}
	if err := b.Link(ctx, src, "s/raw", storage.Symlink); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(root, "s/raw")); err != nil || target != src {
		t.Errorf("Symlink target = %q, %v; want %q", target, err, src)
	}
	if err := b.Link(ctx, src, "r/deep/raw", storage.RelSymlink); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(filepath.Join(root, "r/deep"), src)
	if target, err := os.Readlink(filepath.Join(root, "r/deep/raw")); err != nil || target != rel || filepath.IsAbs(target) {
		t.Errorf("RelSymlink target = %q, %v; want %q", target, err, rel)
	}

	// Linking the object onto itself must not turn it into a link to itself.
	for _, mode := range []storage.LinkMode{storage.Symlink, storage.Hardlink, storage.RelSymlink} {
		if err := b.Link(ctx, filepath.Join(root, "h/raw"), "h/raw", mode); err != nil {
			t.Errorf("Link(%s) of an object onto itself: %v", mode, err)
		}
		if data, err := os.ReadFile(filepath.Join(root, "h/raw")); err != nil || string(data) != "data" {
			t.Errorf("after Link(%s) onto itself: %q, %v", mode, data, err)
		}
	}
	if got := files(t, root); !equal(got, []string{"h/", "h/raw", "l/", "l/raw", "r/", "r/deep/", "r/deep/raw", "s/", "s/raw"}) {
		t.Errorf("files = %q: stray temporary files?", got)
	}
}

// otherDevice returns a directory on another file system than t.TempDir(), or skips.
func otherDevice(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "posix-test-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a, _ := os.Stat(dir)
	b, _ := os.Stat(t.TempDir())
	if a.Sys().(*syscall.Stat_t).Dev == b.Sys().(*syscall.Stat_t).Dev {
		t.Skip("/dev/shm is on the same device as the temporary directory")
	}
	return dir
}

func TestCrossDevice(t *testing.T) {
	other := otherDevice(t)
	root := t.TempDir()
	b := open(t, root)
	src := filepath.Join(other, "src.fits")
	if err := os.WriteFile(src, []byte("far away"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := b.Link(t.Context(), src, "hard", storage.Hardlink); !errors.Is(err, syscall.EXDEV) {
		t.Errorf("Hardlink across devices: error = %v, want EXDEV", err)
	}
	if err := b.Link(t.Context(), src, "link", storage.Link); err != nil {
		t.Fatalf("Link across devices: %v", err)
	}
	if target, err := os.Readlink(filepath.Join(root, "link")); err != nil || target != src {
		t.Errorf("Link across devices made %q, %v; want a symbolic link to %q", target, err, src)
	}
	if err := b.MoveFrom(t.Context(), src, "moved/here"); err != nil {
		t.Fatalf("MoveFrom across devices: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "moved/here")); err != nil || !bytes.Equal(data, []byte("far away")) {
		t.Errorf("moved file = %q, %v", data, err)
	}
	if _, err := os.Lstat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("source after MoveFrom across devices: %v, want it removed", err)
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestURLParseAgreesWithURI(t *testing.T) {
	b := open(t, filepath.Join(t.TempDir(), "r%oot"))
	u, err := url.Parse(b.URI("k"))
	if err != nil || u.Path != b.Root()+"/k" {
		t.Errorf("url.Parse(URI(k)) = %v, %v; want path %q", u, err, b.Root()+"/k")
	}
}
