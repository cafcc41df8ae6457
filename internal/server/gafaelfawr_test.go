package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/server"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// gafaelfawr stands in for Rubin's Gafaelfawr (a Python service that cannot
// run here): its user-info route answers, for a delegated token, the user's
// groups, in Gafaelfawr's JSON shape. It counts the lookups.
func gafaelfawr(t *testing.T, groups map[string][]string) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth/api/v1/user-info" {
			http.NotFound(w, r)
			return
		}
		n.Add(1)
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		gs, ok := groups[token]
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		type group struct {
			Name string `json:"name"`
			ID   int    `json:"id"`
		}
		info := struct {
			Username string  `json:"username"`
			Groups   []group `json:"groups,omitempty"`
		}{Username: "someone"}
		for i, g := range gs {
			info.Groups = append(info.Groups, group{g, 1000 + i})
		}
		json.NewEncoder(w).Encode(info)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, &n
}

// Under --auth gafaelfawr with a Gafaelfawr URL, the server asks Gafaelfawr's
// user-info route for the groups of the delegated token's user, as upstream:
// a member gets in, others get 403 with upstream's message, a missing or
// refused token is 403, the answer is reused within the TTL, a public
// repository needs no lookup, and the token never reaches the log.
func TestServe_GafaelfawrUserInfo(t *testing.T) {
	f := newFixture(t, pgtest.SQLite)
	gURL, lookups := gafaelfawr(t, map[string][]string{"tok-alice": {"x", "team"}, "tok-bob": {"others"}, "tok-none": nil})
	var logs bytes.Buffer
	url, _ := serve(t, f, server.Options{Auth: server.AuthGafaelfawr, GafaelfawrURL: gURL, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, "team")
	get := func(user, token, groupsHeader string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url+repoPath+"dataset_type/dict", nil)
		if user != "" {
			req.Header.Set(server.AuthUserHeader, user)
		}
		if token != "" {
			req.Header.Set(server.AuthTokenHeader, token)
		}
		if groupsHeader != "" {
			req.Header.Set(server.AuthGroupsHeader, groupsHeader)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, tc := range []struct {
		name, user, token, groups string
		want                      int
		detail                    string
	}{
		{"member", "alice", "tok-alice", "", http.StatusOK, ""},
		{"not a member", "bob", "tok-bob", "", http.StatusForbidden, "User bob does not have permission to access Butler repository 'main'"},
		{"no groups at all", "carol", "tok-none", "", http.StatusForbidden, "does not have permission"},
		{"groups header ignored", "bob", "tok-bob", "team", http.StatusForbidden, "does not have permission"},
		{"no token", "alice", "", "", http.StatusForbidden, "X-Auth-Request-Token"},
		{"token Gafaelfawr refuses", "alice", "tok-forged", "", http.StatusForbidden, "Gafaelfawr does not accept"},
		{"no user", "", "tok-alice", "", http.StatusForbidden, "X-Auth-Request-User"},
	} {
		if got, body := get(tc.user, tc.token, tc.groups); got != tc.want || !strings.Contains(body, tc.detail) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, got, body, tc.want, tc.detail)
		}
	}
	before := lookups.Load()
	for range 5 {
		if got, body := get("alice", "tok-alice", ""); got != http.StatusOK {
			t.Fatalf("alice again: %d %s", got, body)
		}
	}
	if n := lookups.Load() - before; n != 0 {
		t.Errorf("%d more user-info lookups for a token answered within the TTL, want 0", n)
	}
	if strings.Contains(logs.String(), "tok-") {
		t.Errorf("a delegated token reached the log:\n%s", logs.String())
	}

	t.Run("public repository", func(t *testing.T) {
		gURL, lookups := gafaelfawr(t, nil)
		url, _ := serve(t, f, server.Options{Auth: server.AuthGafaelfawr, GafaelfawrURL: gURL}, "*")
		req, _ := http.NewRequest("GET", url+repoPath+"dataset_type/dict", nil)
		req.Header.Set(server.AuthUserHeader, "anyone")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || lookups.Load() != 0 {
			t.Errorf("public repository: %d after %d lookups, want 200 after none", resp.StatusCode, lookups.Load())
		}
	})
	t.Run("Gafaelfawr down", func(t *testing.T) {
		down := httptest.NewServer(nil)
		down.Close()
		url, _ := serve(t, f, server.Options{Auth: server.AuthGafaelfawr, GafaelfawrURL: down.URL}, "team")
		req, _ := http.NewRequest("GET", url+repoPath+"dataset_type/dict", nil)
		req.Header.Set(server.AuthUserHeader, "alice")
		req.Header.Set(server.AuthTokenHeader, "tok-alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "Gafaelfawr user-info lookup failed") || strings.Contains(string(body), "tok-alice") {
			t.Errorf("Gafaelfawr unreachable: %d %s, want 503 naming the lookup (never the token)", resp.StatusCode, body)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		for _, opts := range []server.Options{
			{Auth: server.AuthNone, GafaelfawrURL: "https://g.example"},
			{Auth: server.AuthGafaelfawr, GafaelfawrURL: "g.example"},
		} {
			opts.Repositories = map[string]server.Repository{"main": {Config: f.root, Groups: []string{"team"}}}
			if _, err := server.New(t.Context(), opts); err == nil || !strings.Contains(err.Error(), errs.ErrInvalid.Error()) {
				t.Errorf("server.New(%+v): %v, want an invalid-options error", opts, err)
			}
		}
	})
}
