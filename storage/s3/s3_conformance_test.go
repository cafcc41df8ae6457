package s3_test

import (
	"net/url"
	"testing"

	"github.com/gobutler/butler/internal/testutil/s3test"
	"github.com/gobutler/butler/storage"
	"github.com/gobutler/butler/storage/s3"
	"github.com/gobutler/butler/storage/storagetest"
)

func TestMain(m *testing.M) {
	stop := s3test.Start()
	defer stop()
	m.Run()
}

// open opens a backend on a fresh bucket of the shared server, under prefix ("" for none).
func open(t testing.TB, prefix string, opts s3.Options) *s3.Backend {
	t.Helper()
	srv := s3test.Require(t)
	bucket := s3test.Bucket(t)
	return openOn(t, srv, bucket, prefix, opts)
}

func openOn(t testing.TB, srv *s3test.Server, bucket, prefix string, opts s3.Options) *s3.Backend {
	t.Helper()
	opts.Endpoint, opts.Region = srv.Endpoint, srv.Region
	if opts.AccessKeyID == "" {
		opts.AccessKeyID, opts.SecretAccessKey = srv.AccessKey, srv.SecretKey
	}
	u := &url.URL{Scheme: "s3", Host: bucket, Path: "/" + prefix}
	b, err := s3.OpenOptions(t.Context(), u, opts)
	if err != nil {
		t.Fatalf("OpenOptions(%s): %v", u, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	for _, prefix := range []string{"", "repo/sub"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			storagetest.Run(t, storagetest.Harness{New: func(t testing.TB) storage.Backend {
				return open(t, prefix, s3.Options{})
			}})
		})
	}
}

func BenchmarkStorage(b *testing.B) {
	storagetest.RunBenchmarks(b, storagetest.Harness{New: func(t testing.TB) storage.Backend {
		return open(t, "bench", s3.Options{})
	}})
}
