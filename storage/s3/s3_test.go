package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/testutil/s3test"
	"github.com/gobutler/butler/storage"
	"github.com/gobutler/butler/storage/s3"
)

const partSize = 5 << 20 // the smallest S3 allows, so that multipart tests stay small

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, bucket, prefix string
		wantErr            error
	}{
		{"s3://bucket", "bucket", "", nil},
		{"s3://bucket/", "bucket", "", nil},
		{"s3://my.bucket-1/repo", "my.bucket-1", "repo/", nil},
		{"s3://bucket/repo/sub/", "bucket", "repo/sub/", nil},
		{"S3://bucket/a%20b", "bucket", "a b/", nil},
		{"s3://Bucket/x", "", "", errs.ErrInvalid},
		{"s3://ab/x", "", "", errs.ErrInvalid},
		{"s3://bucket_x/x", "", "", errs.ErrInvalid},
		{"s3:///x", "", "", errs.ErrInvalid},
		{"s3://bucket/a//b", "", "", errs.ErrInvalid},
		{"s3://bucket/a/../b", "", "", errs.ErrInvalid},
		{"s3://bucket/x?versionId=3", "", "", errs.ErrInvalid},
		{"s3://bucket/x#frag", "", "", errs.ErrInvalid},
		{"s3://profile@bucket/x", "", "", errs.ErrUnsupported},
		{"gs://bucket/x", "", "", errs.ErrInvalid},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		bucket, prefix, err := s3.ParseURL(u)
		switch {
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("ParseURL(%q) error = %v, want %v", tt.in, err, tt.wantErr)
		case tt.wantErr == nil && err != nil:
			t.Errorf("ParseURL(%q): %v", tt.in, err)
		case bucket != tt.bucket || prefix != tt.prefix:
			t.Errorf("ParseURL(%q) = %q, %q, want %q, %q", tt.in, bucket, prefix, tt.bucket, tt.prefix)
		}
	}
}

func TestEndpointFromEnv(t *testing.T) {
	vars := []string{"S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}
	for _, v := range vars {
		t.Setenv(v, "")
	}
	if got := s3.EndpointFromEnv(); got != "" {
		t.Errorf("EndpointFromEnv() = %q with nothing set, want \"\"", got)
	}
	// Set from the lowest priority up: each one must win over those set before.
	for i := len(vars) - 1; i >= 0; i-- {
		want := "http://host-" + vars[i]
		t.Setenv(vars[i], want)
		if got := s3.EndpointFromEnv(); got != want {
			t.Errorf("EndpointFromEnv() = %q after setting %s, want %q", got, vars[i], want)
		}
	}
}

// TestOpen_FromEnvironment opens through the storage.Opener, configured only the way a user
// would: S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...
func TestOpen_FromEnvironment(t *testing.T) {
	srv := s3test.Require(t)
	bucket := s3test.Bucket(t)
	srv.SetEnv(t)
	var mux storage.Mux
	mux.Register(s3.Scheme, s3.Open)
	b, err := mux.Open(t.Context(), "s3://"+bucket+"/repo")
	if err != nil {
		t.Fatalf("Open from the environment: %v", err)
	}
	defer b.Close()
	if err := b.Put(t.Context(), "k", strings.NewReader("v"), 1); err != nil {
		t.Fatal(err)
	}
	keys, err := srv.Keys(t.Context(), bucket)
	if err != nil || len(keys) != 1 || keys[0] != "repo/k" {
		t.Errorf("keys in bucket = %q, %v; want [repo/k]", keys, err)
	}
	if got, want := b.URI("k"), "s3://"+bucket+"/repo/k"; got != want {
		t.Errorf("URI(k) = %q, want %q", got, want)
	}
	if _, ok := b.(storage.Linker); ok {
		t.Error("the S3 backend is a storage.Linker; links cannot point into a bucket")
	}
}

// TestOpen_Profile takes everything from a named profile in the AWS config and credentials
// files, endpoint_url included.
func TestOpen_Profile(t *testing.T) {
	srv := s3test.Require(t)
	bucket := s3test.Bucket(t)
	srv.SetEnv(t)
	for _, v := range []string{"S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	config, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	// A host name, not an IP address: the SDK would address the bucket as a virtual host then.
	endpoint := strings.Replace(srv.Endpoint, "127.0.0.1", "localhost", 1)
	if err := os.WriteFile(config, []byte("[profile butler]\nregion = "+srv.Region+"\nendpoint_url = "+endpoint+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte("[butler]\naws_access_key_id = "+srv.AccessKey+"\naws_secret_access_key = "+srv.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", config)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_PROFILE", "butler")
	b, err := s3.Open(t.Context(), &url.URL{Scheme: "s3", Host: bucket, Path: "/p"})
	if err != nil {
		t.Fatalf("Open with profile butler: %v", err)
	}
	defer b.Close()
	if err := b.Put(t.Context(), "k", strings.NewReader("v"), 1); err != nil {
		t.Errorf("Put with profile butler: %v", err)
	}
}

func TestOpen_MissingBucket(t *testing.T) {
	srv := s3test.Require(t)
	bucket := "butler-absent-" + fmt.Sprint(time.Now().UnixNano())
	u := &url.URL{Scheme: "s3", Host: bucket, Path: "/repo"}
	opts := s3.Options{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
	_, err := s3.OpenOptions(t.Context(), u, opts)
	if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), `bucket "`+bucket+`" does not exist at `+srv.Endpoint) {
		t.Errorf("OpenOptions on a missing bucket: error = %v, want errs.ErrNotFound naming the bucket and endpoint", err)
	}
	// Without the check at Open, writes and reads say the same.
	opts.NoVerify = true
	b, err := s3.OpenOptions(t.Context(), u, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Put(t.Context(), "k", strings.NewReader("v"), 1)
	if !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), bucket) {
		t.Errorf("Put into a missing bucket: error = %v, want errs.ErrNotFound naming the bucket", err)
	}
	// Open never creates the bucket.
	if _, err := srv.Client().HeadBucket(t.Context(), &awss3.HeadBucketInput{Bucket: &bucket}); err == nil {
		t.Fatal("the bucket exists after Open and a failed Put")
	}
	if err := b.Create(t.Context()); err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { srv.DeleteBucket(context.Background(), bucket) })
	if err := b.Create(t.Context()); err != nil {
		t.Errorf("Create of an existing bucket: %v", err)
	}
	if err := b.Put(t.Context(), "k", strings.NewReader("v"), 1); err != nil {
		t.Errorf("Put after Create: %v", err)
	}
}

func TestOpen_WrongCredentials(t *testing.T) {
	srv := s3test.Require(t)
	bucket := s3test.Bucket(t)
	const secret = "not-the-secret-0123456789"
	for _, tt := range []struct{ name, key string }{
		{"wrong secret", srv.AccessKey},
		{"unknown key", "NOSUCHKEYID"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := &url.URL{Scheme: "s3", Host: bucket}
			opts := s3.Options{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: tt.key, SecretAccessKey: secret}
			_, err := s3.OpenOptions(t.Context(), u, opts)
			checkPermissionError(t, "OpenOptions", err, srv.Endpoint, tt.key, secret)
			opts.NoVerify = true
			b, err := s3.OpenOptions(t.Context(), u, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			checkPermissionError(t, "Put", b.Put(t.Context(), "k", strings.NewReader("v"), 1), srv.Endpoint, tt.key, secret)
			_, err = b.Get(t.Context(), "k", 0, -1)
			checkPermissionError(t, "Get", err, srv.Endpoint, tt.key, secret)
		})
	}
}

func checkPermissionError(t *testing.T, op string, err error, endpoint, keyID, secret string) {
	t.Helper()
	switch {
	case !errors.Is(err, errs.ErrPermission):
		t.Errorf("%s with wrong credentials: error = %v, want errs.ErrPermission", op, err)
	case !strings.Contains(err.Error(), endpoint) || !strings.Contains(err.Error(), `access key id "`+keyID+`"`):
		t.Errorf("%s with wrong credentials: error = %v, want it to name the endpoint %s and access key id %q", op, err, endpoint, keyID)
	case strings.Contains(err.Error(), secret):
		t.Errorf("%s with wrong credentials: error = %v shows the secret", op, err)
	}
}

func TestOpen_UnreachableEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	u := &url.URL{Scheme: "s3", Host: "bucket", Path: "/repo"}
	start := time.Now()
	_, err = s3.OpenOptions(t.Context(), u, s3.Options{Endpoint: endpoint, AccessKeyID: "k", SecretAccessKey: "s", MaxAttempts: 3, MaxBackoff: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "cannot reach S3 endpoint "+endpoint) {
		t.Errorf("OpenOptions(%s): error = %v, want one saying the endpoint cannot be reached", endpoint, err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("OpenOptions on a closed port took %v", d)
	}
	for _, bad := range []string{"localhost:9000", "ftp://host", "http://"} {
		_, err := s3.OpenOptions(t.Context(), u, s3.Options{Endpoint: bad, AccessKeyID: "k", SecretAccessKey: "s"})
		if !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("OpenOptions with endpoint %q: error = %v, want errs.ErrInvalid", bad, err)
		}
	}
}

// pattern is a reader of n deterministic bytes that holds no buffer of its own, with a hook
// called once when offset at passes.
type pattern struct {
	n, off int64
	at     int64
	hook   func()
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(b)), p.n-p.off))
	for i := range k {
		x := p.off + int64(i)
		b[i] = byte(x*31 + x>>13)
	}
	p.off += int64(k)
	if p.hook != nil && p.off >= p.at {
		h := p.hook
		p.hook = nil
		h()
	}
	return k, nil
}

func patternSum(n int64) [32]byte {
	h := sha256.New()
	io.Copy(h, &pattern{n: n})
	return [32]byte(h.Sum(nil))
}

func getSum(t *testing.T, b storage.Backend, key string) ([32]byte, int64) {
	t.Helper()
	rc, err := b.Get(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return [32]byte(h.Sum(nil)), n
}

// noUploads checks that no multipart upload was left behind in bucket.
func noUploads(t *testing.T, srv *s3test.Server, bucket string) {
	t.Helper()
	ups, err := srv.Uploads(t.Context(), bucket)
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	if len(ups) != 0 {
		t.Errorf("%d unfinished multipart uploads left in the bucket, want none", len(ups))
	}
}

func TestPut_Multipart(t *testing.T) {
	srv := s3test.Require(t)
	bucket := s3test.Bucket(t)
	b := openOn(t, srv, bucket, "mp", s3.Options{PartSize: partSize, Concurrency: 2})
	for _, tt := range []struct {
		name     string
		n        int64
		announce bool
	}{
		{"two parts and a bit", 2*partSize + 123, true},
		{"exactly two parts", 2 * partSize, true},
		{"one part and one byte", partSize + 1, true},
		{"exactly one part", partSize, true},
		{"unknown size", 3*partSize + 7, false},
		{"unknown size exact parts", 2 * partSize, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := "obj/" + strings.ReplaceAll(tt.name, " ", "-")
			size := int64(-1)
			if tt.announce {
				size = tt.n
			}
			if err := b.Put(t.Context(), key, &pattern{n: tt.n}, size); err != nil {
				t.Fatalf("Put of %d bytes (size %d): %v", tt.n, size, err)
			}
			sum, n := getSum(t, b, key)
			if n != tt.n || sum != patternSum(tt.n) {
				t.Errorf("Get returned %d bytes (sum match %v), want the %d put", n, sum == patternSum(tt.n), tt.n)
			}
			if info, err := b.Stat(t.Context(), key); err != nil || info.Size != tt.n {
				t.Errorf("Stat = %+v, %v; want size %d", info, err, tt.n)
			}
			// A range across a part boundary.
			rc, err := b.Get(t.Context(), key, partSize-10, 20)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			want := make([]byte, partSize+10)
			io.ReadFull(&pattern{n: tt.n}, want)
			if want = want[partSize-10 : min(partSize+10, tt.n)]; !bytes.Equal(got, want) {
				t.Errorf("Get across the first part boundary = %x, want %x", got, want)
			}
		})
	}
	noUploads(t, srv, bucket)
}

// failAfter fails with errBroken after n bytes.
type failAfter struct {
	p *pattern
	n int64
}

var errBroken = errors.New("source broke")

func (f *failAfter) Read(b []byte) (int, error) {
	if f.p.off >= f.n {
		return 0, errBroken
	}
	return f.p.Read(b[:min(int64(len(b)), f.n-f.p.off)])
}

func TestPut_MultipartFailure(t *testing.T) {
	srv := s3test.Require(t)
	bucket := s3test.Bucket(t)
	b := openOn(t, srv, bucket, "", s3.Options{PartSize: partSize, Concurrency: 2})
	if err := b.Put(t.Context(), "existing", strings.NewReader("old"), 3); err != nil {
		t.Fatal(err)
	}
	const n = 3*partSize + 5
	for _, tt := range []struct {
		name string
		put  func(ctx context.Context, key string) error
		want error
	}{
		{"short body", func(ctx context.Context, key string) error { return b.Put(ctx, key, &pattern{n: n - 1}, n) }, errs.ErrInvalid},
		{"long body", func(ctx context.Context, key string) error { return b.Put(ctx, key, &pattern{n: n + 1}, n) }, errs.ErrInvalid},
		{"reader fails", func(ctx context.Context, key string) error {
			return b.Put(ctx, key, &failAfter{&pattern{n: n}, 2*partSize + 100}, n)
		}, errBroken},
		{"cancelled", func(ctx context.Context, key string) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			return b.Put(ctx, key, &pattern{n: n, at: partSize + 100, hook: cancel}, n)
		}, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, key := range []string{"new/" + tt.name, "existing"} {
				if err := tt.put(t.Context(), key); !errors.Is(err, tt.want) {
					t.Errorf("Put(%q) error = %v, want %v", key, err, tt.want)
				}
			}
			if _, err := b.Stat(t.Context(), "new/"+tt.name); !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("Stat after failed Put: error = %v, want errs.ErrNotFound", err)
			}
			rc, err := b.Get(t.Context(), "existing", 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if string(got) != "old" {
				t.Errorf("existing object after a failed overwrite: %d bytes, want \"old\"", len(got))
			}
			noUploads(t, srv, bucket)
		})
	}
	keys, err := srv.Keys(t.Context(), bucket)
	if err != nil || len(keys) != 1 {
		t.Errorf("keys after failed Puts = %q, %v; want only existing", keys, err)
	}
}

// TestPut_BoundedMemory uploads 64 MiB from a reader that holds no buffer: the driver may hold
// a few parts, never the whole body.
func TestPut_BoundedMemory(t *testing.T) {
	b := open(t, "", s3.Options{PartSize: partSize, Concurrency: 2})
	const n = 64 << 20
	b.Put(t.Context(), "warm-up", &pattern{n: 2*partSize + 1}, -1) // set up connections and pools
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := b.Put(t.Context(), "big", &pattern{n: n}, n); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// Concurrency+1 parts of 5 MiB, plus the SDK's own buffers; the body is 64 MiB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 40<<20 {
		t.Errorf("Put of %d MiB allocated %d MiB, want at most 40 MiB", n>>20, alloc>>20)
	}
}

// TestCopyFrom_Multipart uploads large local files, whose parts are read straight from the
// file, through CopyFrom and MoveFrom, and checks that nothing of the file is buffered.
func TestCopyFrom_Multipart(t *testing.T) {
	srv := s3test.Require(t)
	bucket := s3test.Bucket(t)
	b := openOn(t, srv, bucket, "files", s3.Options{PartSize: partSize, Concurrency: 3})
	for _, n := range []int64{partSize + 1, 2 * partSize, 6*partSize + 17} {
		src := filepath.Join(t.TempDir(), "big.fits")
		f, err := os.Create(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, &pattern{n: n}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("copy/%d", n)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := b.CopyFrom(t.Context(), src, key); err != nil {
			t.Fatalf("CopyFrom of %d bytes: %v", n, err)
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > partSize {
			t.Errorf("CopyFrom of %d bytes allocated %d bytes, want less than one part", n, alloc)
		}
		if sum, got := getSum(t, b, key); got != n || sum != patternSum(n) {
			t.Errorf("Get after CopyFrom: %d bytes (sum match %v), want %d", got, sum == patternSum(n), n)
		}
		moved := fmt.Sprintf("move/%d", n)
		if err := b.MoveFrom(t.Context(), src, moved); err != nil {
			t.Fatalf("MoveFrom of %d bytes: %v", n, err)
		}
		if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("source after MoveFrom: Stat error = %v, want it gone", err)
		}
		if sum, got := getSum(t, b, moved); got != n || sum != patternSum(n) {
			t.Errorf("Get after MoveFrom: %d bytes (sum match %v), want %d", got, sum == patternSum(n), n)
		}
	}
	noUploads(t, srv, bucket)
}

// TestPut_ServerKilledMidUpload kills versitygw during a multipart upload: the Put fails,
// nothing is visible after the server restarts on the same directory, and a retry succeeds.
func TestPut_ServerKilledMidUpload(t *testing.T) {
	srv := s3test.NewServer(t)
	bucket := srv.Bucket(t)
	opts := s3.Options{PartSize: partSize, Concurrency: 2, MaxAttempts: 2, MaxBackoff: 100 * time.Millisecond}
	b := openOn(t, srv, bucket, "repo", opts)
	const n = 8 * partSize
	var killed atomic.Bool
	src := &pattern{n: n, at: 3 * partSize, hook: func() { srv.Kill(); killed.Store(true) }}
	err := b.Put(t.Context(), "raw/big.fits", src, n)
	if !killed.Load() {
		t.Fatal("the server was never killed")
	}
	if err == nil {
		t.Fatal("Put succeeded although the server was killed during the upload")
	}
	if !strings.Contains(err.Error(), srv.Endpoint) {
		t.Errorf("Put error = %v, want it to name the endpoint %s", err, srv.Endpoint)
	}
	t.Logf("Put with the server killed: %v", err)

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	b2 := openOn(t, srv, bucket, "repo", opts)
	if _, err := b2.Stat(t.Context(), "raw/big.fits"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Stat after restart: error = %v, want errs.ErrNotFound", err)
	}
	if keys, err := srv.Keys(t.Context(), bucket); err != nil || len(keys) != 0 {
		t.Errorf("keys after restart = %q, %v; want none", keys, err)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, bucket, "repo", "raw", "big.fits")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("object file on the server's disk: Stat error = %v, want it absent", err)
	}

	if err := b2.Put(t.Context(), "raw/big.fits", &pattern{n: n}, n); err != nil {
		t.Fatalf("Put retried after restart: %v", err)
	}
	if sum, got := getSum(t, b2, "raw/big.fits"); got != n || sum != patternSum(n) {
		t.Errorf("Get after the retried Put: %d bytes (sum match %v), want %d", got, sum == patternSum(n), n)
	}
}

// flaky forwards to the real server but answers the first `fails` requests with status.
type flaky struct {
	fails, seen atomic.Int32
	status      int
	code        string
	next        http.Handler
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.seen.Add(1) <= f.fails.Load() {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>try again</Message></Error>`, f.code)
		return
	}
	f.next.ServeHTTP(w, r)
}

func TestRetry_ThrottlingAnd5xx(t *testing.T) {
	srv := s3test.Require(t)
	bucket := s3test.Bucket(t)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		status int
		code   string
	}{
		{503, "SlowDown"},
		{500, "InternalError"},
		{502, "BadGateway"},
	} {
		t.Run(tt.code, func(t *testing.T) {
			f := &flaky{status: tt.status, code: tt.code, next: httputil.NewSingleHostReverseProxy(target)}
			proxy := httptest.NewServer(f)
			defer proxy.Close()
			opts := s3.Options{Endpoint: proxy.URL, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
				MaxAttempts: 4, MaxBackoff: 20 * time.Millisecond, NoVerify: true}
			b, err := s3.OpenOptions(t.Context(), &url.URL{Scheme: "s3", Host: bucket, Path: "/" + tt.code}, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			f.fails.Store(3) // three failures, then the fourth attempt gets through
			if err := b.Put(t.Context(), "k", strings.NewReader("value"), 5); err != nil {
				t.Fatalf("Put with 3 x %d before success: %v", tt.status, err)
			}
			if got := f.seen.Load(); got != 4 {
				t.Errorf("server saw %d requests, want 4 (3 failures and a retry that worked)", got)
			}
			f.seen.Store(0)
			f.fails.Store(1 << 30) // never recovers
			_, err = b.Get(t.Context(), "k", 0, -1)
			if err == nil || !strings.Contains(err.Error(), tt.code) {
				t.Errorf("Get against a server that always fails: error = %v, want it to carry %s", err, tt.code)
			}
			if got := f.seen.Load(); got != 4 {
				t.Errorf("server saw %d requests for one Get, want MaxAttempts = 4", got)
			}
		})
	}
}

func TestClose_Concurrent(t *testing.T) {
	b := open(t, "", s3.Options{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { b.Close() })
	}
	wg.Wait()
	if err := b.Put(t.Context(), "k", strings.NewReader("v"), 1); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("Put after Close: error = %v, want errs.ErrInvalid", err)
	}
}
