package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

func TestQueryLimits(t *testing.T) {
	l := newQueryLimits(3, 2)
	r1, err := l.acquire("alice", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.acquire("alice", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = l.acquire("alice", 5*time.Second)
	if he, ok := err.(*httpError); !ok || he.status != 429 || he.headers["Retry-After"] != "5" {
		t.Fatalf("third query of one user: %v, want 429 with Retry-After 5", err)
	}
	if _, err := l.acquire("bob", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = l.acquire("carol", 5*time.Second)
	if he, ok := err.(*httpError); !ok || he.status != 503 {
		t.Fatalf("query beyond the server's limit: %v, want 503", err)
	}
	r1()
	r1() // releasing twice counts once
	if _, err := l.acquire("alice", 5*time.Second); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := l.acquire("carol", 5*time.Second); err == nil {
		t.Fatal("the double release freed two slots")
	}
}

// newTestServer serves a repository with 3 datasets, behind gafaelfawr
// headers (so tests choose the user), with a hook blocking queries.
func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	root, b := repotest.New(t)
	repotest.AddInstrument(t, b, "Dummy", 3)
	if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	for d := range 3 {
		if _, err := b.Put(t.Context(), []byte(fmt.Sprintf("d: %d\n", d)), "dict", dimensions.DataID{"instrument": "Dummy", "detector": d}, "run"); err != nil {
			t.Fatal(err)
		}
	}
	opts.Repositories = map[string]Repository{"main": {Config: root, Groups: []string{"*"}}}
	opts.Auth = AuthGafaelfawr
	s, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var allDatasets = `{"collections":["run"],"name":["dict"],"find_first":true,"data_id":{},"where":"","bind":{},"limit":null,"with_dimension_records":false}`

// startQuery posts query/all_datasets as user and returns the response
// once its headers are in.
func startQuery(t *testing.T, base, user string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/butler/repo/main/v1/query/all_datasets", strings.NewReader(allDatasets))
	req.Header.Set(AuthUserHeader, user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// rowsOf reads a streamed answer: dataset rows and keep-alive lines.
func rowsOf(t *testing.T, resp *http.Response) (rows, keepAlives int) {
	t.Helper()
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var page struct {
			Type string            `json:"type"`
			Rows []json.RawMessage `json:"rows"`
		}
		if err := json.Unmarshal(sc.Bytes(), &page); err != nil {
			t.Fatalf("line %q: %v", sc.Bytes(), err)
		}
		switch page.Type {
		case "keep-alive":
			keepAlives++
		case "dataset_ref":
			rows += len(page.Rows)
		default:
			t.Fatalf("line %s", sc.Bytes())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return rows, keepAlives
}

// TestServe_QueryLimitsHTTP: 2 streaming queries per user (429 beyond), 25
// per server (503 beyond), both with Retry-After; the queries held then all
// finish with their rows.
func TestServe_QueryLimitsHTTP(t *testing.T) {
	s := newTestServer(t, Options{})
	gate := make(chan struct{})
	s.queryHook = func(ctx context.Context) {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	var held []*http.Response
	for _, u := range []string{"alice", "alice"} {
		resp := startQuery(t, ts.URL, u)
		if resp.StatusCode != 200 {
			t.Fatalf("query %d of alice: %d", len(held)+1, resp.StatusCode)
		}
		held = append(held, resp)
	}
	resp := startQuery(t, ts.URL, "alice")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "5" || !bytes.Contains(body, []byte("too many queries")) {
		t.Fatalf("third query of alice: %d %q Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	for i := range 23 {
		resp := startQuery(t, ts.URL, fmt.Sprintf("user%d", i))
		if resp.StatusCode != 200 {
			t.Fatalf("query of user%d: %d", i, resp.StatusCode)
		}
		held = append(held, resp)
	}
	resp = startQuery(t, ts.URL, "zoe")
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("26th query: %d Retry-After %q, want 503 with Retry-After 5", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	close(gate)
	var wg sync.WaitGroup
	for _, r := range held {
		wg.Go(func() {
			if n, _ := rowsOf(t, r); n != 3 {
				t.Errorf("held query: %d rows, want 3", n)
			}
		})
	}
	wg.Wait()
	// All slots are free again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := startQuery(t, ts.URL, "alice")
		n, _ := rowsOf(t, resp)
		if resp.StatusCode == 200 && n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the held queries: %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A query silent for longer than KeepAlive sends keep-alive lines.
func TestServe_KeepAlive(t *testing.T) {
	s := newTestServer(t, Options{KeepAlive: 40 * time.Millisecond})
	s.queryHook = func(ctx context.Context) { time.Sleep(250 * time.Millisecond) }
	ts := httptest.NewServer(s)
	defer ts.Close()
	rows, ka := rowsOf(t, startQuery(t, ts.URL, "alice"))
	if rows != 3 || ka < 2 {
		t.Errorf("slow query: %d rows and %d keep-alives, want 3 and several", rows, ka)
	}
}

// SIGTERM (ctx cancelled) during a stream: new connections are refused, the
// stream finishes with all its rows, and ListenAndServe returns nil; a
// stream still running at the end of the grace period is cut.
func TestServe_ShutdownDuringStream(t *testing.T) {
	s := newTestServer(t, Options{})
	gate := make(chan struct{})
	s.queryHook = func(ctx context.Context) {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- ListenAndServe(ctx, s, ListenOptions{Addr: "127.0.0.1:0", Ready: func(a string) { addrc <- a }})
	}()
	base := "http://" + <-addrc
	resp := startQuery(t, base, "alice")
	if resp.StatusCode != 200 {
		t.Fatalf("query: %d", resp.StatusCode)
	}
	cancel() // what SIGTERM does in `butler serve`
	time.Sleep(100 * time.Millisecond)
	if r, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(base + "/"); err == nil {
		r.Body.Close()
		t.Errorf("a new connection during shutdown was served: %d", r.StatusCode)
	}
	select {
	case err := <-done:
		t.Fatalf("the server stopped with a stream in flight: %v", err)
	default:
	}
	close(gate)
	if n, _ := rowsOf(t, resp); n != 3 {
		t.Errorf("stream across shutdown: %d rows, want 3", n)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop after its last stream")
	}

	// The grace period bounds a stream that does not end.
	s2 := newTestServer(t, Options{})
	s2.queryHook = func(ctx context.Context) { <-ctx.Done() }
	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() {
		done <- ListenAndServe(ctx2, s2, ListenOptions{Addr: "127.0.0.1:0", Grace: 300 * time.Millisecond, Ready: func(a string) { addrc <- a }})
	}()
	resp = startQuery(t, "http://"+<-addrc, "alice")
	start := time.Now()
	cancel2()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after the grace period: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("shutdown took %s with a 300ms grace period", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the grace period did not bound the shutdown")
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// TestTurns: requests other than streaming queries take turns at the
// repository's database connections, as many at a time as there are
// connections, in order of arrival (a channel serves its waiters first
// come, first served; database/sql alone hands a freed connection to a
// waiter at random, which under `bench serve` made p99 8x the median). A
// request waiting for a turn past the request timeout is answered 503;
// many requests over one connection all complete.
func TestTurns(t *testing.T) {
	s := newTestServer(t, Options{DBConnections: 1, RequestTimeout: 300 * time.Millisecond})
	ts := httptest.NewServer(s)
	defer ts.Close()
	find := func(det int) (int, string) {
		body := fmt.Sprintf(`{"dataset_type":"dict","data_id":{"instrument":"Dummy","detector":%d},"collections":["run"],"timespan":null}`, det)
		req, _ := http.NewRequest("POST", ts.URL+"/api/butler/repo/main/v1/find_dataset", strings.NewReader(body))
		req.Header.Set(AuthUserHeader, "alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	turns := s.repos["main"].turns
	if cap(turns) != 1 {
		t.Fatalf("%d turns, want 1 (the connections)", cap(turns))
	}
	turns <- struct{}{} // another request's turn
	start := time.Now()
	if code, body := find(0); code != http.StatusServiceUnavailable || !strings.Contains(body, "took too long") || time.Since(start) < 300*time.Millisecond {
		t.Errorf("find while the only turn is taken: %d %s after %v, want 503 after the 300 ms timeout", code, body, time.Since(start))
	}
	<-turns
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if code, body := find(i % 3); code != http.StatusOK || !strings.Contains(body, `"dataset_ref":{`) {
				t.Errorf("find %d: %d %s", i, code, body)
			}
		})
	}
	wg.Wait()
	if len(turns) != 0 {
		t.Errorf("%d turns still taken after the requests", len(turns))
	}
}
