package butler_test

// Benchmarks of S3 datastore uploads against a private local versitygw, each beside the
// limit a plain client reaches on the same files and server in the same run:
//
//   - BenchmarkS3SmallRawIngest: N small synthetic raws ingested by copy with 4 processes,
//     vs 4 workers doing PutObject, and 4 workers through the S3 backend's CopyFrom.
//   - BenchmarkS3LargeUpload: large synthetic raws (about 100 MB each) ingested by copy, and
//     uploaded through the backend's CopyFrom, vs a plain multipart upload with as many parts
//     in flight as the backend uses.
//
// Sizes come from the environment so that a quick run stays quick:
//
//	BUTLER_BENCH_S3_SMALL_FILES  number of small raws (default 10000)
//	BUTLER_BENCH_S3_LARGE_FILES  number of large raws (default 100)
//	BUTLER_BENCH_S3_LARGE_MB     size of each large raw in MB (default 100)
//
// Each sub-benchmark uploads the whole set once per iteration; run with -benchtime=1x.

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/rawgen"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/s3test"
	s3store "github.com/gobutler/butler/storage/s3"
)

// benchEnvInt reads a positive integer from the environment, else def.
func benchEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// benchFileSet is a set of source files and their total size.
type benchFileSet struct {
	paths []string
	bytes int64
}

func newBenchFileSet(b *testing.B, paths []string) benchFileSet {
	b.Helper()
	s := benchFileSet{paths: paths}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		s.bytes += fi.Size()
	}
	return s
}

// report gives the rates of `rounds` uploads of the whole set in the measured time.
func (s benchFileSet) report(b *testing.B, rounds int) {
	b.Helper()
	sec := b.Elapsed().Seconds()
	if rounds == 0 || sec == 0 {
		return
	}
	files := float64(len(s.paths) * rounds)
	mb := float64(s.bytes) * float64(rounds) / 1e6
	b.ReportMetric(files/sec, "files/s")
	b.ReportMetric(mb/sec, "MB/s")
	b.Logf("%d files, %.1f MB in %.2fs: %.1f files/s, %.1f MB/s", int(files), mb, sec, files/sec, mb/sec)
}

// benchBackend opens the butler's S3 driver on bucket/prefix of srv, as the datastore does.
func benchBackend(b *testing.B, srv *s3test.Server, bucket, prefix string) *s3store.Backend {
	b.Helper()
	u := &url.URL{Scheme: "s3", Host: bucket, Path: "/" + prefix}
	be, err := s3store.OpenOptions(b.Context(), u, s3store.Options{
		Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
	})
	if err != nil {
		b.Fatalf("open S3 backend %s: %v", u, err)
	}
	b.Cleanup(func() { be.Close() })
	return be
}

// uploadAll runs fn over the set's files with `workers` goroutines and stops at the first error.
func uploadAll(ctx context.Context, paths []string, workers int, fn func(ctx context.Context, i int, path string) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, p := range paths {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(ctx, i, p) })
	}
	return g.Wait()
}

// benchPutObject uploads one file in a single PutObject request.
func benchPutObject(ctx context.Context, c *awss3.Client, bucket, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: &key, Body: f, ContentLength: aws.Int64(fi.Size())})
	if err != nil {
		return fmt.Errorf("put %s as %s: %w", path, key, err)
	}
	return nil
}

// benchMultipart uploads one file as a plain multipart upload: parts of partSize read
// straight from the file, conc of them in flight, no buffering.
func benchMultipart(ctx context.Context, c *awss3.Client, bucket, key, path string, partSize int64, conc int) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	up, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return fmt.Errorf("start multipart upload of %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			c.AbortMultipartUpload(context.WithoutCancel(ctx), &awss3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId})
		}
	}()
	nparts := int((size + partSize - 1) / partSize)
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i := range nparts {
		off := int64(i) * partSize
		n := min(partSize, size-off)
		g.Go(func() error {
			out, err := c.UploadPart(gctx, &awss3.UploadPartInput{
				Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)),
				Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n),
			})
			if err != nil {
				return fmt.Errorf("upload part %d of %s: %w", i+1, key, err)
			}
			parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &key, UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload of %s: %w", key, err)
	}
	return nil
}

// benchIngest ingests the set by copy into a fresh S3 repository each round; the repository
// (bucket, registry, instruments) is made outside the timer.
func benchIngest(b *testing.B, srv *s3test.Server, set benchFileSet, procs int) {
	rounds := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		_, _, bu := newS3Repo(b, srv, fmt.Sprintf("repo%d", i))
		b.StartTimer()
		res, err := ingest.Raws(b.Context(), bu, set.paths, ingest.Options{Transfer: "copy", Processes: procs})
		if err != nil || res.Ingested != len(set.paths) || len(res.Failures) > 0 {
			b.Fatalf("ingest: %d of %d ingested, %v (failures %v)", res.Ingested, len(set.paths), err, res.Failures)
		}
		rounds++
	}
	set.report(b, rounds)
}

func BenchmarkS3SmallRawIngest(b *testing.B) {
	const workers = 4
	n := benchEnvInt(b, "BUTLER_BENCH_S3_SMALL_FILES", 10000)
	srv := s3test.NewServer(b)
	per := min(n, 100)
	set := newBenchFileSet(b, rawtest.Write(b, b.TempDir(), rawtest.LSSTCam, (n+per-1)/per, per))
	b.Logf("%d synthetic LSSTCam raws, %.1f MB, %d workers", len(set.paths), float64(set.bytes)/1e6, workers)

	b.Run(fmt.Sprintf("ingest/files=%d/procs=%d", len(set.paths), workers), func(b *testing.B) {
		benchIngest(b, srv, set, workers)
	})
	b.Run(fmt.Sprintf("putobject/files=%d/workers=%d", len(set.paths), workers), func(b *testing.B) {
		bucket := srv.Bucket(b)
		c := srv.Client()
		rounds := 0
		for i := 0; b.Loop(); i++ {
			err := uploadAll(b.Context(), set.paths, workers, func(ctx context.Context, j int, p string) error {
				return benchPutObject(ctx, c, bucket, fmt.Sprintf("r%d/%06d.fits", i, j), p)
			})
			if err != nil {
				b.Fatal(err)
			}
			rounds++
		}
		set.report(b, rounds)
	})
	b.Run(fmt.Sprintf("copyfrom/files=%d/workers=%d", len(set.paths), workers), func(b *testing.B) {
		be := benchBackend(b, srv, srv.Bucket(b), "plain")
		rounds := 0
		for i := 0; b.Loop(); i++ {
			err := uploadAll(b.Context(), set.paths, workers, func(ctx context.Context, j int, p string) error {
				return be.CopyFrom(ctx, p, fmt.Sprintf("r%d/%06d.fits", i, j))
			})
			if err != nil {
				b.Fatal(err)
			}
			rounds++
		}
		set.report(b, rounds)
	})
}

func BenchmarkS3LargeUpload(b *testing.B) {
	n := benchEnvInt(b, "BUTLER_BENCH_S3_LARGE_FILES", 100)
	mb := benchEnvInt(b, "BUTLER_BENCH_S3_LARGE_MB", 100)
	srv := s3test.NewServer(b)
	// An LSSTCam raw holds 16 amplifiers of side² 4-byte pixels.
	side := int(math.Round(math.Sqrt(float64(mb) * 1e6 / 64)))
	if side > 4096 {
		b.Fatalf("BUTLER_BENCH_S3_LARGE_MB=%d: at most %d MB per raw", mb, 4096*4096*64/1000000)
	}
	var paths []string
	dir := b.TempDir()
	for len(paths) < n {
		per := min(n-len(paths), 100)
		paths = append(paths, rawtest.WriteOptions(b, filepath.Join(dir, strconv.Itoa(len(paths))), rawgen.Options{
			Instrument: rawtest.LSSTCam, Exposures: 1, Detectors: rawtest.Detectors(b, rawtest.LSSTCam, per),
			Seed: rawtest.Seed + int64(len(paths)), PixelsPerAmp: side,
			Start: rawgen.DefaultStart().Add(time.Duration(len(paths)/100) * 24 * time.Hour),
		})...)
	}
	set := newBenchFileSet(b, paths)
	b.Logf("%d synthetic LSSTCam raws of %.1f MB, %.1f MB in all", len(paths), float64(set.bytes)/1e6/float64(len(paths)), float64(set.bytes)/1e6)

	// One file at a time, as `aws s3 cp` of one file does; the parallelism is in the parts.
	b.Run(fmt.Sprintf("ingest/files=%d/procs=1", len(paths)), func(b *testing.B) {
		benchIngest(b, srv, set, 1)
	})
	b.Run(fmt.Sprintf("copyfrom/files=%d", len(paths)), func(b *testing.B) {
		be := benchBackend(b, srv, srv.Bucket(b), "plain")
		rounds := 0
		for i := 0; b.Loop(); i++ {
			for j, p := range paths {
				if err := be.CopyFrom(b.Context(), p, fmt.Sprintf("r%d/%04d.fits", i, j)); err != nil {
					b.Fatal(err)
				}
			}
			rounds++
		}
		set.report(b, rounds)
	})
	b.Run(fmt.Sprintf("multipart/files=%d/parts=%d", len(paths), s3store.DefaultConcurrency), func(b *testing.B) {
		bucket := srv.Bucket(b)
		c := srv.Client()
		rounds := 0
		for i := 0; b.Loop(); i++ {
			for j, p := range paths {
				if err := benchMultipart(b.Context(), c, bucket, fmt.Sprintf("r%d/%04d.fits", i, j), p, s3store.DefaultPartSize, s3store.DefaultConcurrency); err != nil {
					b.Fatal(err)
				}
			}
			rounds++
		}
		set.report(b, rounds)
	})
	// The same files with four in flight, each in parts: the most a client gets from the server.
	b.Run(fmt.Sprintf("ingest/files=%d/procs=4", len(paths)), func(b *testing.B) {
		benchIngest(b, srv, set, 4)
	})
	b.Run(fmt.Sprintf("multipart/files=%d/workers=4/parts=%d", len(paths), s3store.DefaultConcurrency), func(b *testing.B) {
		bucket := srv.Bucket(b)
		c := srv.Client()
		rounds := 0
		for i := 0; b.Loop(); i++ {
			err := uploadAll(b.Context(), paths, 4, func(ctx context.Context, j int, p string) error {
				return benchMultipart(ctx, c, bucket, fmt.Sprintf("r%d/%04d.fits", i, j), p, s3store.DefaultPartSize, s3store.DefaultConcurrency)
			})
			if err != nil {
				b.Fatal(err)
			}
			rounds++
		}
		set.report(b, rounds)
	})
}
