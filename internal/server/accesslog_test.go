package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler/internal/server"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/google/go-cmp/cmp"
)

// TestServe_AccessLogDirect: access-log lines written straight to
// Options.AccessLog have the keys and values the slog Logger writes (time
// and duration aside), for answers of every kind and paths that need JSON
// escaping.
func TestServe_AccessLogDirect(t *testing.T) {
	f := newFixture(t, pgtest.SQLite)
	var viaSlog, direct syncBuffer
	slogURL, _ := serve(t, f, server.Options{Logger: newJSONLogger(&viaSlog)})
	directURL, _ := serve(t, f, server.Options{AccessLog: &direct})
	paths := []string{
		repoPath + "dataset_type/dict",
		repoPath + "dataset_type/nope",
		repoPath + "dataset_type/%22quoted%5C%C3%A9%E2%80%A8",
		repoPath + "dataset/not-a-uuid",
		"/api/butler/repo/other/v1/dataset_type/dict",
		"/",
	}
	for _, p := range paths {
		for _, base := range []string{slogURL, directURL} {
			req, _ := http.NewRequest("GET", base+p, nil)
			req.Header.Set(server.ClientRequestIDHeader, "req-1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	lines := func(s string) []map[string]any {
		var out []map[string]any
		sc := bufio.NewScanner(strings.NewReader(s))
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("log line %q: %v", sc.Text(), err)
			}
			if m["msg"] != "request" {
				continue
			}
			if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
				t.Errorf("time of %q: %v", sc.Text(), err)
			}
			if d, ok := m["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms of %q", sc.Text())
			}
			delete(m, "time")
			delete(m, "duration_ms")
			delete(m, "remote") // another client port
			out = append(out, m)
		}
		return out
	}
	want, got := lines(viaSlog.String()), lines(direct.String())
	if len(want) != len(paths) {
		t.Fatalf("slog access log has %d lines, want %d:\n%s", len(want), len(paths), viaSlog.String())
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("direct access log (-slog +direct):\n%s", d)
	}
}
