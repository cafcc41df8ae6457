// Package remote is a client of daf_butler's remote butler protocol (v1),
// as `butler serve` and upstream's Butler server speak it: a repository at
// https://HOST/api/butler/repo/LABEL, a bearer token, JSON requests, query
// results streamed as JSON lines, files read from the signed URLs the server
// hands out. Answers come back as the Go API's types (dataset.Ref,
// dataset.Type, dimensions.DataID).
//
// It is the lower half of remote repositories in the Go API: butler.Open of
// a REPO URL returns a Butler whose read methods go through a Client and
// whose writes fail as a read-only repository's (errs.ErrReadOnly). So that
// the butler package can import it, it never imports the butler package.
package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
)

// Options tune a Client.
type Options struct {
	// Token is the bearer token; "" takes $BUTLER_RUBIN_ACCESS_TOKEN, then
	// $ACCESS_TOKEN (as upstream's client does).
	Token string
	// HTTP is the client requests go through (nil: a default one).
	HTTP *http.Client
	// MaxRetryWait bounds the total time spent waiting on 429 and 503
	// answers before giving up (120 s, as upstream's client).
	MaxRetryWait time.Duration
	// UserAgent names the client (default "gobutler").
	UserAgent string
}

// Client talks to one repository of a server.
type Client struct {
	base     string // https://host/api/butler/repo/LABEL
	token    string
	http     *http.Client
	maxWait  time.Duration
	agent    string
	universe *dimensions.Universe
}

// IsURL reports whether a repository reference is a server URL.
func IsURL(ref string) bool {
	return strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://")
}

// New returns a client of the repository at repoURL
// (https://HOST/api/butler/repo/LABEL). Plain http:// is accepted only for
// a loopback host, so that a token never crosses a network in clear. It
// reads the repository's dimension universe.
func New(ctx context.Context, repoURL string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(repoURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("remote repository %q: %w: want https://HOST/api/butler/repo/LABEL", repoURL, errs.ErrInvalid)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("remote repository %s: %w: plain http:// only to a loopback address; use https://", u.Redacted(), errs.ErrInvalid)
	}
	if !strings.Contains(u.Path, "/api/butler/repo/") {
		return nil, fmt.Errorf("remote repository %s: %w: the URL must end in /api/butler/repo/LABEL", u.Redacted(), errs.ErrInvalid)
	}
	c := &Client{base: u.String(), token: opts.Token, http: opts.HTTP, maxWait: opts.MaxRetryWait, agent: opts.UserAgent}
	if c.token == "" {
		c.token = os.Getenv("BUTLER_RUBIN_ACCESS_TOKEN")
	}
	if c.token == "" {
		c.token = os.Getenv("ACCESS_TOKEN")
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 0}
	}
	if c.maxWait == 0 {
		c.maxWait = 120 * time.Second
	}
	if c.agent == "" {
		c.agent = "gobutler"
	}
	var resp struct {
		Universe json.RawMessage `json:"universe"`
	}
	if err := c.call(ctx, "GET", "v1/universe", nil, &resp); err != nil {
		return nil, err
	}
	if c.universe, err = dimensions.Load(resp.Universe); err != nil {
		return nil, fmt.Errorf("remote repository %s: universe: %w", c.base, err)
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Universe is the repository's dimension universe.
func (c *Client) Universe() *dimensions.Universe { return c.universe }

// URL is the repository's URL.
func (c *Client) URL() string { return c.base }

// UserError is an error the server reports as the user's
// (daf_butler's ButlerUserError: HTTP 422 with error_type and detail).
type UserError struct {
	Type   string // missing_dataset_type, missing_collection, invalid_query, …
	Detail string
}

func (e *UserError) Error() string { return e.Detail }

// Is classifies user errors with the kinds of package errs.
func (e *UserError) Is(target error) bool {
	switch e.Type {
	case "missing_dataset_type", "missing_collection", "dataset_not_found", "data_id_value":
		return target == errs.ErrNotFound
	case "unimplemented_query":
		return target == errs.ErrUnsupported
	case "calibration_lookup":
		return target == errs.ErrConflict
	}
	return target == errs.ErrInvalid
}

// StatusError is any other refusal of the server.
type StatusError struct {
	Status int
	Detail string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Detail)
}

func (e *StatusError) Is(target error) bool {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return target == errs.ErrPermission
	case http.StatusNotFound:
		return target == errs.ErrNotFound
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return target == errs.ErrBusy
	}
	return false
}

// do sends a request and returns the response of status 200 (or another
// 2xx/3xx), waiting and retrying on 429 and 503 as long as the server's
// Retry-After says and MaxRetryWait allows.
func (c *Client) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	var idb [16]byte
	rand.Read(idb[:])
	requestID := hex.EncodeToString(idb[:])
	deadline := time.Now().Add(c.maxWait)
	backoff := time.Second
	for {
		req, err := http.NewRequestWithContext(ctx, method, c.base+"/"+path, bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		req.Header.Set("X-Butler-Client-Request-Id", requestID)
		req.Header.Set("User-Agent", c.agent)
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		if resp.StatusCode < 400 {
			return resp, nil
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			wait := backoff
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
			if time.Now().Add(wait).Before(deadline) {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				backoff = min(2*backoff, 30*time.Second)
				continue
			}
		}
		return nil, decodeError(resp.StatusCode, msg)
	}
}

func decodeError(status int, msg []byte) error {
	var ue struct {
		ErrorType string `json:"error_type"`
		Detail    any    `json:"detail"`
	}
	json.Unmarshal(msg, &ue)
	detail := fmt.Sprint(ue.Detail)
	if ue.Detail == nil {
		detail = strings.TrimSpace(string(msg))
	}
	if status == 422 && ue.ErrorType != "" {
		return &UserError{Type: ue.ErrorType, Detail: detail}
	}
	return &StatusError{Status: status, Detail: detail}
}

// call sends a request and decodes its JSON answer into out.
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: malformed answer: %w", method, path, err)
	}
	return nil
}
