package s3

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/gobutler/butler/errs"
)

// Put sends a body of up to one part in a single PutObject, and a longer one as a multipart
// upload. Either way the whole body is read, and its size checked, before the request that
// makes it visible, so a short, long, failing or cancelled body leaves nothing behind.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := b.checkKey(ctx, key); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := b.put(ctx, key, r, size); err != nil {
		return b.fail(ctx, "put", key, err)
	}
	return nil
}

func (b *Backend) put(ctx context.Context, key string, r io.Reader, size int64) error {
	partSize := b.partSizeFor(size)
	if size >= 0 {
		// Read one byte more than announced, to notice a longer body without reading it all.
		r = io.LimitReader(r, size+1)
	}
	r = ctxReader{ctx, r}
	if size >= 0 && size < partSize {
		// A small body of known size: a buffer of its size, not a whole part.
		buf := make([]byte, size+1)
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return err
		}
		return b.putObject(ctx, key, bytes.NewReader(buf[:n]), int64(n), size)
	}
	c := &chunker{r: r}
	buf := b.getBuf(partSize)
	n, last, err := c.next(*buf)
	if err != nil {
		b.putBuf(buf)
		return err
	}
	if last {
		defer b.putBuf(buf)
		return b.putObject(ctx, key, bytes.NewReader((*buf)[:n]), int64(n), size)
	}
	first := true
	return b.putMultipart(ctx, key, size, partSize, func() (part, bool, error) {
		if first {
			first = false
			held := buf
			return part{bytes.NewReader((*held)[:n]), int64(n), func() { b.putBuf(held) }}, false, nil
		}
		buf := b.getBuf(partSize)
		n, last, err := c.next(*buf)
		if err != nil {
			b.putBuf(buf)
			return part{}, false, err
		}
		return part{bytes.NewReader((*buf)[:n]), int64(n), func() { b.putBuf(buf) }}, last, nil
	})
}

// putFile uploads the size bytes of f. Parts are sections of the file read with ReadAt, so
// they go up concurrently and nothing is buffered here, whatever the file's size.
func (b *Backend) putFile(ctx context.Context, key string, f *os.File, size int64) error {
	partSize := b.partSizeFor(size)
	if size <= partSize {
		return b.putObject(ctx, key, io.NewSectionReader(f, 0, size), size, size)
	}
	off := int64(0)
	return b.putMultipart(ctx, key, size, partSize, func() (part, bool, error) {
		n := min(partSize, size-off)
		p := part{body: io.NewSectionReader(f, off, n), n: n}
		off += n
		return p, off == size, nil
	})
}

// partSizeFor returns the part size for a body of size bytes (-1: unknown). Very large objects
// need larger parts to fit in S3's 10,000.
func (b *Backend) partSizeFor(size int64) int64 {
	if size < 0 {
		return b.partSize
	}
	return max(b.partSize, (size/maxParts+1+(1<<20)-1)&^(1<<20-1))
}

// putObject sends a whole body of n bytes, announced as size, in one request.
func (b *Backend) putObject(ctx context.Context, key string, body io.ReadSeeker, n, size int64) error {
	if err := checkSize(n, size); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // a cancelled Put must not become visible, even when the body was read
	}
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &b.bucket, Key: aws.String(b.prefix + key), Body: body, ContentLength: aws.Int64(n),
	})
	return err
}

func checkSize(n, size int64) error {
	switch {
	case size < 0 || n == size:
		return nil
	case n > size:
		return fmt.Errorf("%w: body has more than %d bytes, want %d", errs.ErrInvalid, size, size)
	}
	return fmt.Errorf("%w: body has %d bytes, want %d", errs.ErrInvalid, n, size)
}

// part is one part of a multipart upload; release, if set, gives back its buffer.
type part struct {
	body    io.ReadSeeker
	n       int64
	release func()
}

// putMultipart uploads the parts next yields (last: the body ended with that part), at most
// b.conc at once. Any failure aborts the upload; S3 then drops the parts, and nothing was ever
// visible under key.
func (b *Backend) putMultipart(ctx context.Context, key string, size, partSize int64, next func() (part, bool, error)) (err error) {
	full := aws.String(b.prefix + key)
	created, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &b.bucket, Key: full, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return fmt.Errorf("start multipart upload: %w", err)
	}
	uploadID := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		// Abort even when ctx is done: the parts would otherwise linger (invisible, but billed).
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, aerr := b.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &b.bucket, Key: full, UploadId: uploadID})
		if aerr != nil {
			err = fmt.Errorf("%w (and abort multipart upload %s: %v)", err, aws.ToString(uploadID), aerr)
		}
	}()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.conc)
	var mu sync.Mutex
	var parts []types.CompletedPart
	total := int64(0)
	for num := int32(1); gctx.Err() == nil; num++ { // a failed part stops the reading; g.Wait says why
		p, last, err := next()
		if err != nil {
			g.Wait()
			return err
		}
		if num > maxParts {
			if p.release != nil {
				p.release()
			}
			g.Wait()
			return fmt.Errorf("%w: body longer than %d parts of %d bytes", errs.ErrInvalid, maxParts, partSize)
		}
		total += p.n
		g.Go(func() error {
			if p.release != nil {
				defer p.release()
			}
			out, err := b.client.UploadPart(gctx, &s3.UploadPartInput{
				Bucket: &b.bucket, Key: full, UploadId: uploadID, PartNumber: aws.Int32(num),
				Body: p.body, ContentLength: aws.Int64(p.n), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				return fmt.Errorf("upload part %d: %w", num, err)
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
			mu.Unlock()
			return nil
		})
		if last {
			break
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // before the size check: a cancelled Put stops reading early
	}
	if err := checkSize(total, size); err != nil {
		return err
	}
	slices.SortFunc(parts, func(x, y types.CompletedPart) int { return cmp.Compare(*x.PartNumber, *y.PartNumber) })
	_, err = b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &b.bucket, Key: full, UploadId: uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

func (b *Backend) getBuf(size int64) *[]byte {
	if size != b.partSize {
		p := make([]byte, size)
		return &p
	}
	return b.bufs.Get().(*[]byte)
}

func (b *Backend) putBuf(p *[]byte) {
	if int64(len(*p)) == b.partSize {
		b.bufs.Put(p)
	}
}

// chunker cuts a body into parts and tells whether a part is the last, by reading one byte
// ahead, so that no empty trailing part is ever sent.
type chunker struct {
	r       io.Reader
	peek    byte
	hasPeek bool
}

// next fills buf as far as the body goes and returns the byte count and whether the body ended.
func (c *chunker) next(buf []byte) (n int, last bool, err error) {
	if c.hasPeek {
		buf[0], n, c.hasPeek = c.peek, 1, false
	}
	m, err := io.ReadFull(c.r, buf[n:])
	n += m
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return n, true, nil
	case err != nil:
		return n, false, err
	}
	var p [1]byte
	k, err := io.ReadFull(c.r, p[:])
	switch {
	case k == 1:
		c.peek, c.hasPeek = p[0], true
		return n, false, nil
	case err == io.EOF:
		return n, true, nil
	}
	return n, false, err
}

// ctxReader stops a body at the first read after ctx is done.
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

// CopyFrom uploads the local file src, in parts when it is large.
func (b *Backend) CopyFrom(ctx context.Context, src, key string) error {
	if err := b.checkKey(ctx, key); err != nil {
		return fmt.Errorf("copy %q to %q: %w", src, key, err)
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %q to %q: %w", src, key, classifyOS(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("copy %q to %q: %w", src, key, classifyOS(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("copy %q to %q: %w: not a regular file", src, key, errs.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("copy %q to %q: %w", src, key, err)
	}
	if err := b.putFile(ctx, key, f, fi.Size()); err != nil {
		return b.fail(ctx, fmt.Sprintf("copy %q to", src), key, err)
	}
	return nil
}

// MoveFrom uploads src, then removes it.
func (b *Backend) MoveFrom(ctx context.Context, src, key string) error {
	if err := b.CopyFrom(ctx, src, key); err != nil {
		return err
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("move %q to %s: uploaded, but removing the source: %w", src, b.URI(key), classifyOS(err))
	}
	return nil
}

func classifyOS(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", errs.ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %w", errs.ErrPermission, err)
	}
	return err
}
