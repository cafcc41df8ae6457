// Package s3test gives tests a real S3 endpoint: the one BUTLER_TEST_S3_ENDPOINT names, or a
// versitygw server (posix backend, loopback, free port, temporary directory) that it starts
// itself. A package shares one server, started in TestMain:
//
//	func TestMain(m *testing.M) {
//		stop := s3test.Start()
//		defer stop()
//		m.Run()
//	}
//
// and each test takes a fresh bucket with Bucket(t). Without a server the tests skip, unless
// BUTLER_TEST_REQUIRE lists "s3": then they fail. Tests that must kill the server take a
// private one with NewServer.
//
// versitygw is found on PATH or in the CI cache directory ($XDG_CACHE_HOME or ~/.cache, then
// butler-ci/bin), where scripts/test.sh installs it:
//
//	GOBIN=~/.cache/butler-ci/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Version is the versitygw release the tests are written against.
const Version = "v1.8.0"

// Server is an S3 endpoint for tests.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Region    string
	// Dir is versitygw's data directory (a bucket is a directory in it, an object a file);
	// "" for an external endpoint.
	Dir string

	bin, addr, log string
	mu             sync.Mutex
	cmd            *exec.Cmd
	done           chan struct{} // closed when cmd has exited
}

// shared is the package's server, set by Start. A test helper, like pgtest, keeps it here
// because TestMain has no other way to hand it to the tests.
var shared struct {
	sync.Mutex
	srv *Server
	why string // why there is no server
}

// Start starts (or finds) the server the package's tests share and returns the function
// that stops it. It never fails: when no server can be had, it records why, and Bucket
// skips or fails each test with that reason.
func Start() (stop func()) {
	srv, err := start()
	shared.Lock()
	defer shared.Unlock()
	if err != nil {
		shared.why = err.Error()
		return func() {}
	}
	shared.srv = srv
	return func() {
		shared.Lock()
		shared.srv = nil
		shared.why = "server stopped"
		shared.Unlock()
		srv.stop()
	}
}

func start() (*Server, error) {
	if ep := os.Getenv("BUTLER_TEST_S3_ENDPOINT"); ep != "" {
		s := &Server{
			Endpoint:  ep,
			AccessKey: firstEnv("BUTLER_TEST_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
			SecretKey: firstEnv("BUTLER_TEST_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"),
			Region:    firstEnv("BUTLER_TEST_S3_REGION", "AWS_REGION"),
		}
		if s.Region == "" {
			s.Region = "us-east-1"
		}
		if s.AccessKey == "" || s.SecretKey == "" {
			return nil, errors.New("BUTLER_TEST_S3_ENDPOINT is set but BUTLER_TEST_S3_ACCESS_KEY/BUTLER_TEST_S3_SECRET_KEY are not")
		}
		return s, nil
	}
	bin, err := FindVersityGW()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "s3test-")
	if err != nil {
		return nil, err
	}
	s := &Server{AccessKey: "butlertest" + randHex(4), SecretKey: randHex(20), Region: "us-east-1",
		Dir: filepath.Join(dir, "data"), bin: bin, log: filepath.Join(dir, "versitygw.log")}
	if err := os.Mkdir(s.Dir, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // the free port may be taken between finding and binding it
		if s.addr, err = freeAddr(); err != nil {
			return nil, err
		}
		s.Endpoint = "http://" + s.addr
		if lastErr = s.run(); lastErr == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// NewServer starts a private versitygw for one test, which may Kill and Restart it; it is
// stopped when the test ends. It skips (or fails, see Require) when versitygw is absent.
func NewServer(t testing.TB) *Server {
	t.Helper()
	bin, err := FindVersityGW()
	if err != nil {
		unavailable(t, err.Error())
	}
	dir := t.TempDir()
	s := &Server{AccessKey: "butlertest" + randHex(4), SecretKey: randHex(20), Region: "us-east-1",
		Dir: filepath.Join(dir, "data"), bin: bin, log: filepath.Join(dir, "versitygw.log")}
	if err := os.Mkdir(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if s.addr, err = freeAddr(); err != nil {
		t.Fatal(err)
	}
	s.Endpoint = "http://" + s.addr
	if err := s.run(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// FindVersityGW returns the path of the versitygw binary: on PATH, else in the CI cache.
func FindVersityGW() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err == nil {
		p := filepath.Join(cache, "butler-ci", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no S3 server: versitygw is neither on PATH nor in the CI cache; install it with "+
		"`GOBIN=$HOME/.cache/butler-ci/bin go install github.com/versity/versitygw/cmd/versitygw@%s` "+
		"or set BUTLER_TEST_S3_ENDPOINT", Version)
}

// run starts versitygw on s.addr and waits for its health check.
func (s *Server) run() error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	// --keep-alive: without it versitygw closes every connection after one request, which
	// would make the benchmarks measure TCP set-up.
	cmd := exec.Command(s.bin, "--port", s.addr, "--health", "/health", "--quiet", "--keep-alive", "posix", s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey, "VGW_REGION="+s.Region)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			out, _ := os.ReadFile(s.log)
			return fmt.Errorf("versitygw on %s exited: %s", s.addr, lastLines(string(out), 5))
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := http.Get(s.Endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	s.Kill()
	return fmt.Errorf("versitygw on %s not healthy after 15s", s.addr)
}

// Kill ends the server process at once (SIGKILL), as a crash would, and waits for it to go.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart starts the killed server again on the same address and directory.
func (s *Server) Restart() error {
	if s.bin == "" {
		return errors.New("cannot restart an external S3 endpoint")
	}
	s.Kill()
	return s.run()
}

func (s *Server) stop() {
	s.Kill()
	if s.Dir != "" {
		os.RemoveAll(filepath.Dir(s.Dir))
	}
}

// Client returns an SDK client for the server, for test set-up and inspection.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// SetEnv points the AWS environment variables at the server for the rest of the test, the way a
// user would configure the butler (S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...). Like t.Setenv,
// it cannot be used in parallel tests.
func (s *Server) SetEnv(t testing.TB) {
	t.Setenv("S3_ENDPOINT_URL", s.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", s.Region)
	t.Setenv("AWS_PROFILE", "")
	// Keep the SDK away from the user's files and from EC2 metadata probes.
	empty := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Require returns the package's shared server, started by Start. Without one it skips the
// test, or fails it when BUTLER_TEST_REQUIRE lists "s3".
func Require(t testing.TB) *Server {
	t.Helper()
	shared.Lock()
	srv, why := shared.srv, shared.why
	shared.Unlock()
	if srv == nil {
		if why == "" {
			why = "s3test.Start was not called in TestMain"
		}
		unavailable(t, why)
	}
	return srv
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	for _, r := range strings.Split(os.Getenv("BUTLER_TEST_REQUIRE"), ",") {
		if strings.TrimSpace(r) == "s3" {
			t.Fatalf("S3 required by BUTLER_TEST_REQUIRE: %s", why)
		}
	}
	t.Skip(why)
}

// Bucket creates a fresh, empty bucket on the shared server and returns its name. It is emptied
// and deleted when the test ends.
func Bucket(t testing.TB) string {
	t.Helper()
	return Require(t).Bucket(t)
}

// Bucket creates a fresh, empty bucket on s; see the package function.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := "butler-" + randHex(8)
	c := s.Client()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s at %s: %v", name, s.Endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.DeleteBucket(ctx, name); err != nil && s.Dir == "" {
			t.Logf("delete bucket %s: %v", name, err) // a local server's directory goes anyway
		}
	})
	return name
}

// DeleteBucket removes every object and unfinished upload in bucket, then the bucket.
func (s *Server) DeleteBucket(ctx context.Context, bucket string) error {
	c := s.Client()
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: o.Key}); err != nil {
				return err
			}
		}
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err == nil {
		for _, u := range ups.Uploads {
			c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
		}
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket})
	return err
}

// Keys lists every key in bucket through the SDK, for checks that must not trust the driver.
func (s *Server) Keys(ctx context.Context, bucket string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// Uploads lists the unfinished multipart uploads in bucket.
func (s *Server) Uploads(ctx context.Context, bucket string) ([]types.MultipartUpload, error) {
	out, err := s.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		return nil, err
	}
	return out.Uploads, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
