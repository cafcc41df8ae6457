package s3test_test

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gobutler/butler/internal/testutil/s3test"
)

func TestMain(m *testing.M) {
	stop := s3test.Start()
	defer stop()
	m.Run()
}

func TestBucket_FreshAndEmpty(t *testing.T) {
	a, b := s3test.Bucket(t), s3test.Bucket(t)
	if a == b {
		t.Fatalf("Bucket returned %q twice", a)
	}
	srv := s3test.Require(t)
	for _, bucket := range []string{a, b} {
		if keys, err := srv.Keys(t.Context(), bucket); err != nil || len(keys) != 0 {
			t.Errorf("new bucket %s: keys %q, %v; want none", bucket, keys, err)
		}
	}
}

// TestServer_KillRestart checks what the crash tests rely on: a killed server refuses
// requests, and after Restart it serves the objects it had from the same directory.
func TestServer_KillRestart(t *testing.T) {
	srv := s3test.NewServer(t)
	bucket := srv.Bucket(t)
	c := srv.Client()
	put := func(key string) error {
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: strings.NewReader("data")})
		return err
	}
	if err := put("a/b"); err != nil {
		t.Fatal(err)
	}
	// versitygw's posix backend keeps objects as plain files.
	if data, err := os.ReadFile(filepath.Join(srv.Dir, bucket, "a", "b")); err != nil || string(data) != "data" {
		t.Errorf("object file: %q, %v; want \"data\"", data, err)
	}
	srv.Kill()
	if err := put("a/c"); err == nil {
		t.Fatal("PutObject succeeded against a killed server")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	out, err := srv.Client().GetObject(t.Context(), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("a/b")})
	if err != nil {
		t.Fatalf("GetObject after restart: %v", err)
	}
	data, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(data) != "data" {
		t.Errorf("object after restart = %q, want \"data\"", data)
	}
	if keys, err := srv.Keys(t.Context(), bucket); err != nil || !slices.Equal(keys, []string{"a/b"}) {
		t.Errorf("keys after restart = %q, %v; want [a/b]", keys, err)
	}
}
