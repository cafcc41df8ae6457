package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// AuthTokenHeader is the delegated token Gafaelfawr hands a service with each
// request; the server shows it to Gafaelfawr's user-info route to learn the
// user's groups, as upstream's GafaelfawrClient does.
const AuthTokenHeader = "X-Auth-Request-Token"

// userInfoPath is Gafaelfawr's route answering who a token belongs to.
const userInfoPath = "/auth/api/v1/user-info"

// groupLookup asks Gafaelfawr for the groups of the user a delegated token
// belongs to. An answer is kept for ttl per token (upstream keeps a granted
// repository per user for the process's life; a bounded time lets a removal
// from a group take effect).
type groupLookup struct {
	base   string
	client *http.Client
	ttl    time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cachedGroups
}

type cachedGroups struct {
	groups  []string
	expires time.Time
}

func newGroupLookup(base string, ttl time.Duration) *groupLookup {
	return &groupLookup{
		base:   strings.TrimRight(base, "/"),
		client: &http.Client{Timeout: 10 * time.Second},
		ttl:    ttl,
		cache:  map[[32]byte]cachedGroups{},
	}
}

// groups returns the names of the token's user's groups.
func (g *groupLookup) groups(ctx context.Context, token string) ([]string, error) {
	key := sha256.Sum256([]byte(token)) // the token itself is never kept
	now := time.Now()
	g.mu.Lock()
	c, ok := g.cache[key]
	g.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.groups, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+userInfoPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, &httpError{status: http.StatusServiceUnavailable, detail: "Gafaelfawr user-info lookup failed: " + redactURLError(err, token)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, &httpError{status: http.StatusForbidden, detail: "Gafaelfawr does not accept the delegated token"}
	case resp.StatusCode != http.StatusOK:
		return nil, &httpError{status: http.StatusServiceUnavailable, detail: fmt.Sprintf("Gafaelfawr user-info lookup failed: status %d", resp.StatusCode)}
	}
	var info struct {
		Username string `json:"username"`
		Groups   []struct {
			Name string `json:"name"`
		} `json:"groups"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info); err != nil {
		return nil, &httpError{status: http.StatusServiceUnavailable, detail: "Gafaelfawr user-info answer unreadable: " + err.Error()}
	}
	names := make([]string, 0, len(info.Groups))
	for _, gr := range info.Groups {
		names = append(names, gr.Name)
	}
	g.mu.Lock()
	if len(g.cache) > 100_000 { // bounded: drop everything rather than grow without end
		clear(g.cache)
	}
	g.cache[key] = cachedGroups{groups: names, expires: now.Add(g.ttl)}
	g.mu.Unlock()
	return names, nil
}

// redactURLError is err's text with the token taken out (a transport error
// can quote the request).
func redactURLError(err error, token string) string {
	return strings.ReplaceAll(err.Error(), token, "[token]")
}
