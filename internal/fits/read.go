package fits

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gobutler/butler/errs"
)

// maxCards bounds one header, so that a file of blank cards without END is
// rejected instead of read to the end (real headers have a few hundred cards).
const maxCards = 1 << 17

// Error reports a malformed or truncated FITS file. errors.Is(err, errs.ErrInvalid)
// holds for it.
type Error struct {
	HDU    int   // index of the HDU, 0 for the primary
	Offset int64 // byte offset of the problem in the file, or in the decompressed stream if Gzip
	Gzip   bool
	Reason string
	Err    error // underlying cause (e.g. from the gzip decoder), or nil
}

func (e *Error) Error() string {
	where := "byte"
	if e.Gzip {
		where = "decompressed byte"
	}
	msg := fmt.Sprintf("HDU %d at %s %d: %s", e.HDU, where, e.Offset, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap makes the error match errs.ErrInvalid and its cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{errs.ErrInvalid, e.Err}
	}
	return []error{errs.ErrInvalid}
}

// ReadHeaders reads the headers of up to maxHDU HDUs (maxHDU <= 0: all) from a FITS
// file of the given size.
//
// A file starting with the gzip magic (1f 8b) is read as a gzip stream whatever its
// name: the decompressed stream is walked and data units are discarded. Otherwise
// ReadAt jumps over data units, so pixel data is never read; reads are one block
// (2880 bytes) each, which also suits ranged reads from an object store.
//
// Malformed input gives an *Error (errs.ErrInvalid) naming the HDU, the offset and
// the reason; an error of r itself is returned wrapped, without a kind. Bytes after
// the last HDU that do not start an extension are ignored, as the standard allows.
func ReadHeaders(r io.ReaderAt, size int64, maxHDU int) ([]*Header, error) {
	if size <= 0 {
		return nil, &Error{Reason: "empty file"}
	}
	var magic [2]byte
	if size >= 2 {
		if _, err := r.ReadAt(magic[:], 0); err != nil && err != io.EOF {
			return nil, fmt.Errorf("read FITS magic: %w", err)
		}
	}
	if magic != [2]byte{0x1f, 0x8b} {
		return walk(&atSource{r: r, size: size}, maxHDU)
	}
	rec := &recorder{r: io.NewSectionReader(r, 0, size)}
	br := bufio.NewReaderSize(rec, 32<<10)
	zr, err := gzip.NewReader(br)
	if err != nil {
		if rec.err != nil {
			return nil, fmt.Errorf("read gzip header: %w", rec.err)
		}
		return nil, &Error{Gzip: true, Reason: "bad gzip header", Err: err}
	}
	defer zr.Close()
	return walk(&gzSource{zr: zr, rec: rec}, maxHDU)
}

// source is the byte stream of a FITS file: raw, or decompressed.
type source interface {
	// read fills buf as far as the input goes; n < len(buf) with a nil error means
	// the input ended.
	read(buf []byte) (int, error)
	// skip advances by up to n bytes and reports how many it skipped.
	skip(n int64) (int64, error)
	offset() int64
	gzip() bool
}

type atSource struct {
	r         io.ReaderAt
	size, off int64
}

func (s *atSource) read(buf []byte) (int, error) {
	want := min(int64(len(buf)), s.size-s.off)
	if want <= 0 {
		return 0, nil
	}
	n, err := s.r.ReadAt(buf[:want], s.off)
	s.off += int64(n)
	if int64(n) == want || err == io.EOF { // a file shorter than size just ends early
		return n, nil
	}
	return n, fmt.Errorf("read at byte %d: %w", s.off, err)
}

func (s *atSource) skip(n int64) (int64, error) {
	k := max(0, min(n, s.size-s.off))
	s.off += k
	return k, nil
}

func (s *atSource) offset() int64 { return s.off }
func (s *atSource) gzip() bool    { return false }

// recorder keeps the first error of the underlying reader, so that an I/O failure
// is not mistaken for a corrupt gzip stream.
type recorder struct {
	r   io.Reader
	err error
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

type gzSource struct {
	zr  *gzip.Reader
	rec *recorder
	off int64
}

func (s *gzSource) read(buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := s.zr.Read(buf[n:])
		n += k
		if err == io.EOF {
			break
		}
		if err != nil {
			s.off += int64(n)
			return n, s.classify(err)
		}
	}
	s.off += int64(n)
	return n, nil
}

func (s *gzSource) skip(n int64) (int64, error) {
	k, err := io.CopyN(io.Discard, s.zr, n)
	s.off += k
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		return k, s.classify(err)
	}
	return k, nil
}

func (s *gzSource) classify(err error) error {
	if s.rec.err != nil {
		return fmt.Errorf("read gzip stream: %w", s.rec.err)
	}
	reason := "corrupt gzip stream"
	if errors.Is(err, io.ErrUnexpectedEOF) {
		reason = "truncated gzip stream"
	}
	return &Error{Offset: s.off, Gzip: true, Reason: reason, Err: err}
}

func (s *gzSource) offset() int64 { return s.off }
func (s *gzSource) gzip() bool    { return true }

// walk reads headers from src until maxHDU headers are read or the input ends.
func walk(src source, maxHDU int) ([]*Header, error) {
	buf := make([]byte, BlockSize)
	var hdrs []*Header
	for hdu := 0; maxHDU <= 0 || hdu < maxHDU; hdu++ {
		start := src.offset()
		n, err := src.read(buf)
		if err != nil {
			return nil, withHDU(err, hdu)
		}
		if hdu == 0 {
			if n == 0 {
				return nil, &Error{Gzip: src.gzip(), Reason: "empty file"}
			}
			if !startsWith(buf[:n], "SIMPLE  = ") {
				return nil, &Error{Gzip: src.gzip(), Reason: "not a FITS file: it does not start with a SIMPLE card"}
			}
		} else if n == 0 || !startsWith(buf[:n], "XTENSION") {
			return hdrs, nil // end of file, or special records after the last HDU
		}
		h, err := readHeader(src, buf, n, hdu, start)
		if err != nil {
			return nil, err
		}
		hdrs = append(hdrs, h)
		if hdu+1 == maxHDU {
			break
		}
		size, err := h.DataSize()
		if err != nil {
			return nil, &Error{HDU: hdu, Offset: start, Gzip: src.gzip(), Reason: "bad data unit description: " + err.Error()}
		}
		dataStart := src.offset()
		skipped, err := src.skip(size)
		if err != nil {
			return nil, withHDU(err, hdu)
		}
		if skipped < size {
			return nil, &Error{HDU: hdu, Offset: dataStart, Gzip: src.gzip(),
				Reason: fmt.Sprintf("truncated data unit: the file ends after %d of its %d bytes", skipped, size)}
		}
		// The padding of the last data unit is often missing; a short skip here is harmless.
		if _, err := src.skip(padded(size) - size); err != nil {
			return nil, withHDU(err, hdu)
		}
	}
	return hdrs, nil
}

// withHDU fills in the HDU of a source error.
func withHDU(err error, hdu int) error {
	var fe *Error
	if errors.As(err, &fe) {
		fe.HDU = hdu
	}
	return err
}

// startsWith reports whether b starts with prefix, or is a truncated start of it.
func startsWith(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return strings.HasPrefix(prefix, string(b))
	}
	return bytes.HasPrefix(b, []byte(prefix))
}

// readHeader parses the header whose first n bytes are in buf, reading more blocks
// from src until the END card.
func readHeader(src source, buf []byte, n, hdu int, start int64) (*Header, error) {
	h := &Header{Offset: start, Cards: make([]Card, 0, 48)}
	fail := func(off int64, format string, args ...any) error {
		return &Error{HDU: hdu, Offset: off, Gzip: src.gzip(), Reason: fmt.Sprintf(format, args...)}
	}
	ncards := 0
	long := -1 // index in h.Cards of a string ending in '&' that a CONTINUE may extend
	blockStart := start
	for {
		block := string(buf[:n-n%CardSize]) // one allocation; cards keep substrings of it
		for off := 0; off < len(block); off += CardSize {
			text := block[off : off+CardSize]
			at := blockStart + int64(off)
			c, kind, err := parseCard(text)
			if err != nil {
				return nil, fail(at, "card %d %q: %v", ncards+1, strings.TrimRight(text, " "), err)
			}
			if ncards == 0 {
				if err := checkFirst(c, hdu); err != nil {
					return nil, fail(at, "%v", err)
				}
			}
			ncards++
			switch kind {
			case kindEnd:
				return h, nil
			case kindContinue:
				if long >= 0 {
					prev := &h.Cards[long]
					s := prev.Value.(string)
					prev.Value = s[:len(s)-1] + c.Value.(string)
					if c.Comment != "" {
						prev.Comment = strings.TrimSpace(prev.Comment + " " + c.Comment)
					}
					if !strings.HasSuffix(prev.Value.(string), "&") {
						long = -1
					}
					continue
				}
				// CONTINUE with nothing to continue: keep it as commentary.
				c = Card{Key: c.Key, Comment: strings.TrimRight(text[8:], " ")}
			}
			h.Cards = append(h.Cards, c)
			long = -1
			if s, ok := c.Value.(string); ok && strings.HasSuffix(s, "&") {
				long = len(h.Cards) - 1
			}
			if ncards >= maxCards {
				return nil, fail(at, "no END card in the first %d cards", maxCards)
			}
		}
		if n < BlockSize {
			return nil, fail(blockStart+int64(n), "truncated header: the file ends after %d cards, before the END card", ncards)
		}
		blockStart = src.offset()
		var err error
		if n, err = src.read(buf); err != nil {
			return nil, withHDU(err, hdu)
		}
	}
}

// checkFirst checks the mandatory first keyword of an HDU.
func checkFirst(c Card, hdu int) error {
	if hdu == 0 {
		if c.Key != "SIMPLE" {
			return fmt.Errorf("first card is %q, want SIMPLE", c.Key)
		}
		if c.Value != true {
			return fmt.Errorf("SIMPLE = %v: the file does not conform to the FITS standard", c.Value)
		}
		return nil
	}
	if _, ok := c.Value.(string); c.Key != "XTENSION" || !ok {
		return fmt.Errorf("first card of an extension is %q = %v, want XTENSION = '<type>'", c.Key, c.Value)
	}
	return nil
}
