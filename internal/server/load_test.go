package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobutler/butler/internal/server"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// TestLoad_FindDataset is a bounded loopback load test of find_dataset with
// token authentication: BUTLER_SERVE_LOAD=DURATION runs it (e.g. 10s), with
// BUTLER_SERVE_CLIENTS clients (default 64). It reports requests/s and
// latency percentiles; any error fails it.
func TestLoad_FindDataset(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("BUTLER_SERVE_LOAD"))
	if err != nil || d <= 0 {
		t.Skip("set BUTLER_SERVE_LOAD=10s to run the load test")
	}
	clients := 64
	if v := os.Getenv("BUTLER_SERVE_CLIENTS"); v != "" {
		json.Unmarshal([]byte(v), &clients)
	}
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		tokens := filepath.Join(t.TempDir(), "tokens.yaml")
		tok, _, err := server.CreateToken(tokens, "alice", []string{"team"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := server.New(t.Context(), server.Options{Auth: server.AuthTokens, TokensFile: tokens,
			Repositories: map[string]server.Repository{"main": {Config: f.root, Groups: []string{"team"}}}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ts := httptest.NewServer(s)
		defer ts.Close()
		tr := &http.Transport{MaxIdleConnsPerHost: clients}
		client := &http.Client{Transport: tr}
		url := ts.URL + repoPath + "find_dataset"
		var n, errors atomic.Int64
		var mu sync.Mutex
		var lat []time.Duration
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				var mine []time.Duration
				body, _ := json.Marshal(map[string]any{"dataset_type": "dict", "data_id": map[string]any{"instrument": inst, "detector": c % 5}, "collections": []string{"chain"}, "timespan": nil})
				for time.Now().Before(stop) {
					req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+tok)
					req.Header.Set("Content-Type", "application/json")
					start := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						errors.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errors.Add(1)
					}
					mine = append(mine, time.Since(start))
					n.Add(1)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
		t.Logf("%s: %d clients, %s: %d requests, %.0f req/s, p50 %s, p99 %s, errors %d",
			dialect, clients, d, n.Load(), float64(n.Load())/d.Seconds(), pct(.5), pct(.99), errors.Load())
		if errors.Load() > 0 {
			t.Errorf("%d errors", errors.Load())
		}
	})
}
