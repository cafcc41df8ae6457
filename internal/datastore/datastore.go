// Package datastore is the file datastore: it names each dataset's file from the
// file templates, writes or transfers it into a storage.Backend, and reads it
// back. It never touches the registry; the butler writes the file first and the
// record after, and removes the file when the record's transaction fails.
package datastore

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/crypto/blake2b"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage"
)

// Config is what the datastore needs from butler.yaml.
type Config struct {
	// Name is the datastore name recorded in dataset_location ("FileDatastore@<butlerRoot>").
	Name string
	// RecordsTable is the opaque table of file records ("file_datastore_records").
	RecordsTable string
	// Templates maps lookup keys (dataset type, dimension group, storage class, "default",
	// optionally prefixed "instrument<NAME>") to file templates.
	Templates map[string]string
	// Formatters maps lookup keys to formatter class names.
	Formatters map[string]string
	// Checksum records a checksum of each file written (off by default, as upstream).
	Checksum bool
}

// Datastore is a FileDatastore over one storage backend.
type Datastore struct {
	cfg     Config
	Backend storage.Backend

	mu        sync.Mutex
	templates map[string]*Template
}

// New makes a datastore.
func New(cfg Config, b storage.Backend) (*Datastore, error) {
	if cfg.RecordsTable == "" {
		cfg.RecordsTable = "file_datastore_records"
	}
	if cfg.Name == "" {
		cfg.Name = "FileDatastore@<butlerRoot>"
	}
	return &Datastore{cfg: cfg, Backend: b, templates: map[string]*Template{}}, nil
}

// Name is the name recorded in dataset_location.
func (d *Datastore) Name() string { return d.cfg.Name }

// RecordsTable names the records table.
func (d *Datastore) RecordsTable() string { return d.cfg.RecordsTable }

// Target describes the dataset a file is for, for template and formatter lookup.
type Target struct {
	Instrument   string
	DatasetType  string
	Dimensions   string // "a+b+c" in universe order, required dimensions
	StorageClass string
	Fields       Fields
}

func (d *Datastore) lookup(m map[string]string, t Target) (string, string, bool) {
	parent, _, _ := strings.Cut(t.DatasetType, ".")
	for _, k := range LookupKeys(t.Instrument, t.DatasetType, parent, t.Dimensions, t.StorageClass, "") {
		if v, ok := m[k]; ok {
			return k, v, true
		}
	}
	return "", "", false
}

// Template returns the parsed template the target's lookup finds.
func (d *Datastore) Template(t Target) (*Template, error) {
	key, text, ok := d.lookup(d.cfg.Templates, t)
	if !ok {
		return nil, fmt.Errorf("file template for %s: %w: no template matches and there is no default", t.DatasetType, errs.ErrInvalid)
	}
	d.mu.Lock()
	tmpl, ok := d.templates[key]
	d.mu.Unlock()
	if ok {
		return tmpl, nil
	}
	tmpl, err := ParseTemplate(text)
	if err != nil {
		return nil, fmt.Errorf("file template %q: %w", key, err)
	}
	d.mu.Lock()
	d.templates[key] = tmpl
	d.mu.Unlock()
	return tmpl, nil
}

// Path renders the template for the target: the relative path without extension.
func (d *Datastore) Path(t Target) (string, error) {
	key, text, ok := d.lookup(d.cfg.Templates, t)
	if !ok {
		return "", fmt.Errorf("file template for %s: %w: no template matches and there is no default", t.DatasetType, errs.ErrInvalid)
	}
	d.mu.Lock()
	tmpl, ok := d.templates[key]
	d.mu.Unlock()
	if !ok {
		var err error
		if tmpl, err = ParseTemplate(text); err != nil {
			return "", fmt.Errorf("file template %q: %w", key, err)
		}
		d.mu.Lock()
		d.templates[key] = tmpl
		d.mu.Unlock()
	}
	return tmpl.Format(t.Fields)
}

// Formatter returns the formatter class configured for the target ("" when none).
func (d *Datastore) Formatter(t Target) string {
	_, f, _ := d.lookup(d.cfg.Formatters, t)
	return f
}

// Stored is what the datastore learnt about a file it placed.
type Stored struct {
	Path     string // key relative to the root, or an absolute URI for direct ingest
	Size     int64
	Checksum string
}

// Write stores the bytes of r at key atomically.
func (d *Datastore) Write(ctx context.Context, key string, r io.Reader, size int64) (Stored, error) {
	return d.write(ctx, key, r, size, d.Backend.Put)
}

// WriteNew is Write for a key that must not hold a file yet: an existing one is
// an error wrapping errs.ErrConflict, returned before r is read, and the file
// there is left alone. A backend that can (storage.NewPutter) writes the file in
// place, without Put's temporary file and rename; the others are asked for the
// key first.
func (d *Datastore) WriteNew(ctx context.Context, key string, r io.Reader, size int64) (Stored, error) {
	if np, ok := d.Backend.(storage.NewPutter); ok {
		return d.write(ctx, key, r, size, np.PutNew)
	}
	switch _, err := d.Backend.Stat(ctx, key); {
	case err == nil:
		return Stored{}, fmt.Errorf("write %s: %w: a file is there", d.Backend.URI(key), errs.ErrConflict)
	case !errors.Is(err, errs.ErrNotFound):
		return Stored{}, fmt.Errorf("check for a file at %s: %w", d.Backend.URI(key), err)
	}
	return d.Write(ctx, key, r, size)
}

func (d *Datastore) write(ctx context.Context, key string, r io.Reader, size int64, put func(context.Context, string, io.Reader, int64) error) (Stored, error) {
	var sum hash.Hash
	if d.cfg.Checksum {
		sum, _ = blake2b.New512(nil) // upstream records blake2b hex digests
		r = io.TeeReader(r, sum)
	}
	cr := &countingReader{r: r}
	if err := put(ctx, key, cr, size); err != nil {
		return Stored{}, fmt.Errorf("write %s: %w", d.Backend.URI(key), err)
	}
	st := Stored{Path: key, Size: cr.n}
	if sum != nil {
		st.Checksum = fmt.Sprintf("%x", sum.Sum(nil))
	}
	return st, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Transfer modes of ingest.
const (
	Auto       = "auto"
	Copy       = "copy"
	Move       = "move"
	Link       = "link"
	Hardlink   = "hardlink"
	Symlink    = "symlink"
	RelSymlink = "relsymlink"
	Direct     = "direct"
	InPlace    = "none" // the file is already inside the datastore root
)

// Modes lists the transfer modes the CLI accepts.
var Modes = []string{Auto, Link, Symlink, Hardlink, Copy, Move, RelSymlink, Direct}

// CheckMode validates a transfer mode name.
func CheckMode(mode string) error {
	for _, m := range append(append([]string(nil), Modes...), InPlace) {
		if m == mode {
			return nil
		}
	}
	return fmt.Errorf("transfer mode %q: %w: want one of %s", mode, errs.ErrInvalid, strings.Join(Modes, ", "))
}

// Root returns the local root directory when the backend is local ("" otherwise).
func (d *Datastore) Root() string {
	if r, ok := d.Backend.(interface{ Root() string }); ok {
		return r.Root()
	}
	return ""
}

// Inside reports the root-relative key of a local path inside the datastore root.
func (d *Datastore) Inside(src string) (string, bool) {
	root := d.Root()
	if root == "" {
		return "", false
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// Ingest puts the local file src into the datastore at key using the transfer
// mode. It returns where the file ended up: key, a root-relative path for a file
// already inside the root, or an absolute URI for direct. size < 0: unknown.
func (d *Datastore) Ingest(ctx context.Context, src, key, mode string, size int64) (Stored, error) {
	if mode == Auto {
		if rel, ok := d.Inside(src); ok {
			return d.stat(src, rel, size)
		}
		mode = Link
		if d.Root() == "" {
			mode = Copy
		}
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return Stored{}, fmt.Errorf("ingest %s: %w", src, err)
	}
	switch mode {
	case InPlace:
		rel, ok := d.Inside(src)
		if !ok {
			return Stored{}, fmt.Errorf("ingest %s without transfer: %w: the file is not inside the datastore root %s", src, errs.ErrInvalid, d.Root())
		}
		return d.stat(src, rel, size)
	case Direct:
		return d.stat(src, "file://"+abs, size)
	case Link, Symlink, Hardlink, RelSymlink:
		lk, ok := d.Backend.(storage.Linker)
		if !ok {
			return Stored{}, fmt.Errorf("ingest %s with transfer %q: %w: the datastore at %s cannot hold links (use copy, move or direct)", src, mode, errs.ErrUnsupported, d.Backend.URI(""))
		}
		lm, err := storage.ParseLinkMode(mode)
		if err != nil {
			return Stored{}, err
		}
		if err := lk.Link(ctx, abs, key, lm); err != nil {
			return Stored{}, fmt.Errorf("ingest %s: %w", src, err)
		}
		return d.stat(src, key, size)
	case Copy:
		if cp, ok := d.Backend.(storage.Copier); ok {
			st, err := d.stat(src, key, size)
			if err != nil {
				return Stored{}, err
			}
			if err := cp.CopyFrom(ctx, abs, key); err != nil {
				return Stored{}, fmt.Errorf("ingest %s: %w", src, err)
			}
			return st, nil
		}
		f, err := os.Open(src)
		if err != nil {
			return Stored{}, fmt.Errorf("ingest %s: %w", src, classifyOS(err))
		}
		defer f.Close()
		return d.Write(ctx, key, f, size)
	case Move:
		st, err := d.stat(src, key, size)
		if err != nil {
			return Stored{}, err
		}
		if mv, ok := d.Backend.(storage.Mover); ok {
			if err := mv.MoveFrom(ctx, abs, key); err != nil {
				return Stored{}, fmt.Errorf("ingest %s: %w", src, err)
			}
			return st, nil
		}
		if _, err := d.Ingest(ctx, src, key, Copy, size); err != nil {
			return Stored{}, err
		}
		return st, os.Remove(src)
	}
	return Stored{}, CheckMode(mode)
}

func (d *Datastore) stat(src, path string, size int64) (Stored, error) {
	st := Stored{Path: path, Size: size}
	if size < 0 {
		fi, err := os.Stat(src)
		if err != nil {
			return Stored{}, fmt.Errorf("ingest %s: %w", src, classifyOS(err))
		}
		st.Size = fi.Size()
	}
	if d.cfg.Checksum {
		f, err := os.Open(src)
		if err != nil {
			return Stored{}, classifyOS(err)
		}
		defer f.Close()
		h, _ := blake2b.New512(nil)
		if _, err := io.Copy(h, f); err != nil {
			return Stored{}, err
		}
		st.Checksum = fmt.Sprintf("%x", h.Sum(nil))
	}
	return st, nil
}

func classifyOS(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %w", errs.ErrNotFound, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: %w", errs.ErrPermission, err)
	}
	return err
}

// IsURI reports whether a stored path is an absolute URI (direct ingest).
func IsURI(p string) bool { return strings.Contains(p, "://") }

// Open reads a stored file, or the member of a stored zip that a
// <zip>#zip-path=<member> path names.
func (d *Datastore) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	if zipPath, member, ok := SplitZipMember(path); ok {
		return d.openZipMember(ctx, zipPath, member)
	}
	if IsURI(path) {
		if strings.HasPrefix(path, "file://") {
			f, err := os.Open(strings.TrimPrefix(path, "file://"))
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", path, classifyOS(err))
			}
			return f, nil
		}
		return nil, fmt.Errorf("read %s: %w: only file:// URIs can be read directly", path, errs.ErrUnsupported)
	}
	return d.Backend.Get(ctx, path, 0, -1)
}

// URI is the absolute URI of a stored path.
func (d *Datastore) URI(path string) string {
	if zipPath, member, ok := SplitZipMember(path); ok {
		return d.URI(zipPath) + ZipMemberSep + member
	}
	if IsURI(path) {
		return path
	}
	return d.Backend.URI(path)
}

// Remove deletes stored files; direct-ingested files (absolute URIs) are never
// deleted, and files already gone are not an error. Zip members are skipped:
// other records may still read the zip, so the caller passes the zip's own path
// once none does.
func (d *Datastore) Remove(ctx context.Context, paths []string) error {
	var errList []error
	for _, p := range paths {
		if _, _, member := SplitZipMember(p); IsURI(p) || member {
			continue
		}
		if err := d.Backend.Delete(ctx, p); err != nil && !errors.Is(err, errs.ErrNotFound) {
			errList = append(errList, err)
		}
	}
	return errors.Join(errList...)
}

// Size returns the size in bytes of a stored file (or zip member).
func (d *Datastore) Size(ctx context.Context, path string) (int64, error) {
	if _, _, ok := SplitZipMember(path); ok {
		rc, err := d.Open(ctx, path)
		if err != nil {
			return 0, err
		}
		defer rc.Close()
		return io.Copy(io.Discard, rc)
	}
	if IsURI(path) {
		if p, ok := strings.CutPrefix(path, "file://"); ok {
			fi, err := os.Stat(p)
			if err != nil {
				return 0, fmt.Errorf("stat %s: %w", path, classifyOS(err))
			}
			return fi.Size(), nil
		}
		return 0, fmt.Errorf("stat %s: %w: only file:// URIs can be read directly", path, errs.ErrUnsupported)
	}
	info, err := d.Backend.Stat(ctx, path)
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", d.Backend.URI(path), err)
	}
	return info.Size, nil
}
