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
	partSize := b.partSize
	if size >= 0 {
		// Read one byte more than announced, to notice a longer body without reading it all.
		r = io.LimitReader(r, size+1)
		// Very large objects need larger parts to fit in S3's 10,000.
		partSize = max(partSize, (size/maxParts+1+(1<<20)-1)&^(1<<20-1))
	}
	c := &chunker{r: ctxReader{ctx, r}}
	buf := b.getBuf(partSize)
	n, last, err := c.next(*buf)
	if err != nil {
		b.putBuf(buf)
		return err
	}
	if !last {
		return b.putMultipart(ctx, key, c, size, buf, n, partSize)
	}
	defer b.putBuf(buf)
	if err := checkSize(int64(n), size); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &b.bucket, Key: aws.String(b.prefix + key),
		Body: bytes.NewReader((*buf)[:n]), ContentLength: aws.Int64(int64(n)),
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

// putMultipart uploads the body in parts, first (of n bytes) being the first. At most b.conc
// parts are in flight, so memory stays below (b.conc+1)*partSize. Any failure aborts the upload;
// S3 then drops the parts, and nothing was ever visible under key.
func (b *Backend) putMultipart(ctx context.Context, key string, c *chunker, size int64, first *[]byte, n int, partSize int64) (err error) {
	full := aws.String(b.prefix + key)
	created, cerr := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &b.bucket, Key: full, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if cerr != nil {
		b.putBuf(first)
		return fmt.Errorf("start multipart upload: %w", cerr)
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
	buf, last := first, false
	for num := int32(1); ; num++ {
		if num > maxParts {
			b.putBuf(buf)
			g.Wait()
			return fmt.Errorf("%w: body longer than %d parts of %d bytes", errs.ErrInvalid, maxParts, partSize)
		}
		total += int64(n)
		part, data := num, (*buf)[:n]
		held := buf
		g.Go(func() error {
			defer b.putBuf(held)
			out, err := b.client.UploadPart(gctx, &s3.UploadPartInput{
				Bucket: &b.bucket, Key: full, UploadId: uploadID, PartNumber: aws.Int32(part),
				Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
				ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				return fmt.Errorf("upload part %d: %w", part, err)
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(part), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
			mu.Unlock()
			return nil
		})
		if last {
			break
		}
		if gctx.Err() != nil {
			break // a part failed; g.Wait says which
		}
		buf = b.getBuf(partSize)
		var rerr error
		n, last, rerr = c.next(*buf)
		if rerr != nil {
			b.putBuf(buf)
			g.Wait()
			return rerr
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := checkSize(total, size); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
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
	if err := b.put(ctx, key, f, fi.Size()); err != nil {
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
