package butler_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/testutil/s3test"
)

// TestS3_NoCredentials runs the binary against a real S3 server with no
// credentials anywhere: it fails at once with exactly one clear line on
// stderr and no SDK log lines, and it does not probe EC2 instance metadata
// (IMDS) unless AWS_EC2_METADATA_DISABLED=false asks for it.
func TestS3_NoCredentials(t *testing.T) {
	srv := s3test.NewServer(t)
	root, _, b := newS3Repo(t, srv, "repo")
	b.Close()
	repotest.Binary(t) // built before the clock starts

	// A stand-in for the instance metadata service that counts the requests it gets
	// and, like the one on this VM, refuses them.
	var probes atomic.Int64
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	defer imds.Close()

	for _, tt := range []struct {
		name       string
		env        []string
		wantProbes bool
	}{
		{"IMDS by default", []string{"AWS_EC2_METADATA_DISABLED="}, false},
		{"IMDS disabled", []string{"AWS_EC2_METADATA_DISABLED=true"}, false},
		{"IMDS asked for", []string{"AWS_EC2_METADATA_DISABLED=false"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=",
				"AWS_CONTAINER_CREDENTIALS_FULL_URI=", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=", "AWS_WEB_IDENTITY_TOKEN_FILE=",
				"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds.URL}, tt.env...)
			probes.Store(0)
			start := time.Now()
			res := repotest.Cmd{Args: []string{"query-collections", root}, Env: env}.Run(t)
			elapsed := time.Since(start)
			if res.Code != 1 {
				t.Fatalf("query-collections without credentials: exit %d, want 1\n%s", res.Code, res)
			}
			msg, ok := strings.CutSuffix(res.Stderr, "\n")
			t.Logf("stderr: %s", msg)
			if !ok || strings.Contains(msg, "\n") || strings.Contains(msg, "SDK") || strings.Contains(msg, "IMDS") || len(msg) > 500 {
				t.Errorf("stderr is not one short clear line:\n%s", res.Stderr)
			}
			for _, want := range []string{"butler: ", "permission denied: no S3 credentials found for " + srv.Endpoint, "AWS_ACCESS_KEY_ID", "AWS_PROFILE"} {
				if !strings.Contains(msg, want) {
					t.Errorf("stderr %q does not name %q", msg, want)
				}
			}
			if n := probes.Load(); (n > 0) != tt.wantProbes {
				t.Errorf("instance metadata got %d requests, want some: %v", n, tt.wantProbes)
			}
			if elapsed > 10*time.Second {
				t.Errorf("took %v, want an immediate failure", elapsed)
			}
		})
	}
}
