// Package storage is the narrow contract every datastore driver implements: objects named by
// '/'-separated keys, written atomically, read whole or by byte range, and listed in order.
//
// Drivers live in sub-packages (storage/posix, storage/s3) and each runs the shared conformance
// suite in storage/storagetest. Extra capabilities (Linker, Copier, Mover) are optional interfaces
// found by type assertion; a caller without them falls back to Put.
package storage

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gobutler/butler/errs"
)

// Info describes one stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Backend is a store of objects. All methods are safe for concurrent use. Keys must pass
// CheckKey; drivers reject others with errs.ErrInvalid. Errors are classified with the kinds
// of package errs (errors.Is) and keep the driver's own error as well.
type Backend interface {
	// Get reads [off, off+n) of key; n < 0 reads to the end. Reading past the end yields fewer
	// bytes (possibly none), not an error. Missing key: an error wrapping errs.ErrNotFound.
	Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
	// Put stores the bytes of r under key, replacing any existing object. size is the number
	// of bytes r yields, or -1 when unknown; a different count is an error (errs.ErrInvalid).
	// Put is atomic: readers see the old object or all of the new one, and a failed or
	// cancelled Put leaves nothing visible. ctx is checked between reads of r.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Stat describes key. Missing key: errs.ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes key. Missing key: errs.ErrNotFound.
	Delete(ctx context.Context, key string) error
	// List calls fn for each key starting with prefix (a plain string prefix, not only whole
	// path components), in lexical byte order of the keys. An error from fn stops the listing
	// and is returned as is. Objects being written by an unfinished Put are not listed.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// URI is the absolute URI of key ("file:///abs/path", "s3://bucket/prefix/key"), escaped
	// as a URI. URI("") is the URI of the store's root and ends in "/".
	URI(key string) string
	// Close releases resources; later calls fail. Closing twice is harmless.
	Close() error
}

// LinkMode says how Linker.Link puts a local file into the store.
type LinkMode int

const (
	Hardlink   LinkMode = iota + 1 // a hard link; fails across devices
	Symlink                        // a symbolic link to the absolute source path
	RelSymlink                     // a symbolic link to the source path relative to the link's directory
	Link                           // a hard link, falling back to a symbolic link when that fails
)

var linkModeNames = [...]string{Hardlink: "hardlink", Symlink: "symlink", RelSymlink: "relsymlink", Link: "link"}

// String returns the transfer-mode name of m as the butler command line spells it.
func (m LinkMode) String() string {
	if m >= Hardlink && m <= Link {
		return linkModeNames[m]
	}
	return fmt.Sprintf("LinkMode(%d)", int(m))
}

// ParseLinkMode maps a transfer-mode name ("hardlink", "symlink", "relsymlink", "link") to its
// LinkMode. Other names are errs.ErrInvalid.
func ParseLinkMode(s string) (LinkMode, error) {
	for m := Hardlink; m <= Link; m++ {
		if linkModeNames[m] == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("link mode %q: %w: want hardlink, symlink, relsymlink or link", s, errs.ErrInvalid)
}

// Linker is implemented by backends on a local file system. src is an absolute local path;
// symbolic links in it are resolved first, as the Python butler does. An existing key is
// replaced atomically. Missing src: errs.ErrNotFound. Fallback: Copier, then Put.
type Linker interface {
	Link(ctx context.Context, src, key string, mode LinkMode) error
}

// Copier copies the local file src (an absolute path) to key, faster than Put where the backend
// can (copy_file_range on Linux, multipart upload on S3). Same atomicity as Put. Missing src:
// errs.ErrNotFound. Fallback: open src and Put.
type Copier interface {
	CopyFrom(ctx context.Context, src, key string) error
}

// Mover moves the local file src (an absolute path) to key: a rename where possible, else a
// copy followed by removing src. Missing src: errs.ErrNotFound. Fallback: CopyFrom or Put,
// then remove src.
type Mover interface {
	MoveFrom(ctx context.Context, src, key string) error
}

// NewPutter is implemented by backends that can write an object that must not
// exist yet straight under its key, which costs less than Put's temporary object
// and rename. An existing key fails with errs.ErrConflict before anything is
// read from r, and is left alone. While PutNew runs, a reader may see the object
// partly written; a failed or cancelled PutNew removes it, and a crash may leave
// it partly written (as Put may leave a temporary object), so callers refer to
// the key only after PutNew has returned. Fallback: Stat, then Put.
type NewPutter interface {
	PutNew(ctx context.Context, key string, r io.Reader, size int64) error
}

// Syncer is implemented by backends whose new entries become durable only when
// their directories are synced; SyncKeys makes the given keys durable at once. A
// caller that batches writes calls it before committing records that point at them.
type Syncer interface {
	SyncKeys(ctx context.Context, keys []string) error
}

// Opener opens the backend that u names. A bare path reaches the "file" opener as a URL with
// Scheme "file" and the path, possibly relative, in Path.
type Opener func(ctx context.Context, u *url.URL) (Backend, error)

// Mux maps URI schemes to openers. The zero value is empty and ready to use; it is not safe to
// Register while another goroutine calls Open.
type Mux struct {
	openers map[string]Opener
}

// Register adds the opener for scheme (compared in lower case). Registering a scheme twice is a
// programming error and panics, like http.ServeMux.
func (m *Mux) Register(scheme string, o Opener) {
	scheme = strings.ToLower(scheme)
	if o == nil {
		panic("storage: Register of nil opener for scheme " + scheme)
	}
	if _, dup := m.openers[scheme]; dup {
		panic("storage: Register called twice for scheme " + scheme)
	}
	if m.openers == nil {
		m.openers = make(map[string]Opener)
	}
	m.openers[scheme] = o
}

// Schemes returns the registered schemes in no particular order.
func (m *Mux) Schemes() []string {
	s := make([]string, 0, len(m.openers))
	for k := range m.openers {
		s = append(s, k)
	}
	return s
}

// schemeRE matches the "scheme:" that starts a URI (RFC 3986 §3.1). One letter is not enough,
// so "C:/data" stays a path.
var schemeRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]+:`)
})

// Open opens the backend uri names. A bare path (no scheme) and file:// URIs go to the "file"
// opener; a bare path is taken literally, so '%', '?' and '#' in it are not URI syntax.
// A scheme with no opener is errs.ErrUnsupported.
func (m *Mux) Open(ctx context.Context, uri string) (Backend, error) {
	if uri == "" {
		return nil, fmt.Errorf("storage URI: %w: empty", errs.ErrInvalid)
	}
	var u *url.URL
	if schemeRE().MatchString(uri) {
		var err error
		if u, err = url.Parse(uri); err != nil {
			return nil, fmt.Errorf("storage URI %q: %w: %w", uri, errs.ErrInvalid, err)
		}
	} else {
		u = &url.URL{Scheme: "file", Path: uri}
	}
	if open, ok := m.openers[cmp.Or(strings.ToLower(u.Scheme), "file")]; ok {
		return open(ctx, u)
	}
	return nil, fmt.Errorf("storage URI %q: %w: no driver for scheme %q", uri, errs.ErrUnsupported, u.Scheme)
}
