package datastore

import (
	"archive/zip"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"strings"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage"
)

// ZipMemberSep joins the stored path of a zip to the member a file record
// reads: "zips/ab12/ab12....zip#zip-path=member.json", as daf_butler writes it.
const ZipMemberSep = "#zip-path="

// SplitZipMember splits a record path of the form <zip>#zip-path=<member>.
func SplitZipMember(p string) (zipPath, member string, ok bool) {
	i := strings.Index(p, ZipMemberSep)
	if i < 0 {
		return p, "", false
	}
	return p[:i], p[i+len(ZipMemberSep):], true
}

// ZipMemberPath is the record path of member inside the stored zip at zipPath.
func ZipMemberPath(zipPath, member string) string { return zipPath + ZipMemberSep + member }

// ZipArchive is a zip file in the datastore (or a direct-ingested local one),
// open for reading its members.
type ZipArchive struct {
	path   string
	r      *zip.Reader
	byName map[string]*zip.File
	closer io.Closer
	// backend and key are set for zips inside the store: members are then read
	// with one ranged Get each, not through many small ReadAt calls.
	backend storage.Backend
	key     string
}

// OpenZip opens a stored zip (a root-relative key or a file:// URI) and reads
// its central directory.
func (d *Datastore) OpenZip(ctx context.Context, zipPath string) (*ZipArchive, error) {
	z := &ZipArchive{path: zipPath}
	var ra io.ReaderAt
	var size int64
	switch {
	case strings.HasPrefix(zipPath, "file://"):
		f, err := os.Open(strings.TrimPrefix(zipPath, "file://"))
		if err != nil {
			return nil, fmt.Errorf("open zip %s: %w", zipPath, classifyOS(err))
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("open zip %s: %w", zipPath, err)
		}
		ra, size, z.closer = f, fi.Size(), f
	case IsURI(zipPath):
		return nil, fmt.Errorf("open zip %s: %w: only file:// URIs can be read directly", zipPath, errs.ErrUnsupported)
	default:
		info, err := d.Backend.Stat(ctx, zipPath)
		if err != nil {
			return nil, fmt.Errorf("open zip %s: %w", d.Backend.URI(zipPath), err)
		}
		ra, size = &backendReaderAt{ctx: ctx, b: d.Backend, key: zipPath, size: info.Size}, info.Size
		z.backend, z.key = d.Backend, zipPath
	}
	r, err := zip.NewReader(ra, size)
	if err != nil {
		if z.closer != nil {
			z.closer.Close()
		}
		return nil, fmt.Errorf("open zip %s: %w: %w", d.URI(zipPath), errs.ErrInvalid, err)
	}
	z.r = r
	z.byName = make(map[string]*zip.File, len(r.File))
	for _, f := range r.File {
		z.byName[f.Name] = f
	}
	return z, nil
}

// Has reports whether the zip holds the member.
func (z *ZipArchive) Has(member string) bool {
	_, ok := z.byName[member]
	return ok
}

// MemberSize returns the uncompressed size of a member and whether the zip holds it.
func (z *ZipArchive) MemberSize(member string) (int64, bool) {
	f, ok := z.byName[member]
	if !ok {
		return 0, false
	}
	return int64(f.UncompressedSize64), true
}

// Open reads one member; a missing member is errs.ErrNotFound. The content's
// CRC-32 and length are checked when the reader reaches the end.
func (z *ZipArchive) Open(ctx context.Context, member string) (io.ReadCloser, error) {
	f, ok := z.byName[member]
	if !ok {
		return nil, fmt.Errorf("read %s: %w: the zip has no member %q", z.path, errs.ErrNotFound, member)
	}
	if z.backend == nil || (f.Method != zip.Store && f.Method != zip.Deflate) {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("read %s in %s: %w", member, z.path, err)
		}
		return rc, nil
	}
	off, err := f.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", member, z.path, err)
	}
	raw, err := z.backend.Get(ctx, z.key, off, int64(f.CompressedSize64))
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", member, z.path, err)
	}
	var body io.Reader = raw
	closers := []io.Closer{raw}
	if f.Method == zip.Deflate {
		fr := flate.NewReader(raw)
		body, closers = fr, append(closers, fr)
	}
	return &checkedReader{r: body, closers: closers, want: f.CRC32, size: f.UncompressedSize64, crc: crc32.NewIEEE(), name: member}, nil
}

// Close releases the zip.
func (z *ZipArchive) Close() error {
	if z.closer != nil {
		return z.closer.Close()
	}
	return nil
}

// checkedReader verifies a member's length and CRC-32 at EOF, as archive/zip does.
type checkedReader struct {
	r       io.Reader
	closers []io.Closer
	crc     hash.Hash32
	want    uint32
	size, n uint64
	name    string
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	c.n += uint64(n)
	if err == io.EOF {
		if c.n != c.size {
			return n, fmt.Errorf("read zip member %s: %w: %d bytes, the directory says %d", c.name, errs.ErrInvalid, c.n, c.size)
		}
		if c.crc.Sum32() != c.want {
			return n, fmt.Errorf("read zip member %s: %w: checksum mismatch", c.name, errs.ErrInvalid)
		}
	}
	return n, err
}

func (c *checkedReader) Close() error {
	var errList []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errList = append(errList, c.closers[i].Close())
	}
	return errors.Join(errList...)
}

// zipTail is how much of a zip's end is read at once: the central directory
// lives there, and archive/zip reads it in small pieces (one request each on S3).
const zipTail = 1 << 20

// backendReaderAt reads a stored object by ranges; archive/zip uses it only for
// the central directory (served from one read of the tail) and local headers.
type backendReaderAt struct {
	ctx  context.Context
	b    storage.Backend
	key  string
	size int64

	tail    []byte // the last bytes of the object, once read
	tailOff int64
}

func (r *backendReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if r.tail == nil && off >= r.size-zipTail {
		r.tailOff = max(r.size-zipTail, 0)
		rc, err := r.b.Get(r.ctx, r.key, r.tailOff, r.size-r.tailOff)
		if err != nil {
			return 0, err
		}
		r.tail, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			r.tail = nil
			return 0, err
		}
	}
	if r.tail != nil && off >= r.tailOff {
		i := off - r.tailOff
		if i >= int64(len(r.tail)) {
			return 0, io.EOF
		}
		n := copy(p, r.tail[i:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	rc, err := r.b.Get(r.ctx, r.key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// openZipMember reads the member of a stored zip that a record path names.
func (d *Datastore) openZipMember(ctx context.Context, zipPath, member string) (io.ReadCloser, error) {
	z, err := d.OpenZip(ctx, zipPath)
	if err != nil {
		return nil, err
	}
	rc, err := z.Open(ctx, member)
	if err != nil {
		z.Close()
		return nil, err
	}
	return &memberReader{ReadCloser: rc, z: z}, nil
}

// memberReader closes the zip along with the member.
type memberReader struct {
	io.ReadCloser
	z *ZipArchive
}

func (m *memberReader) Close() error { return errors.Join(m.ReadCloser.Close(), m.z.Close()) }
