package remote_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/server"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/remote"
	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) {
	stop := pgtest.Start()
	code := m.Run()
	stop()
	os.Exit(code)
}

const inst = "Dummy"

// setup makes a repository (instrument with 5 detectors, "dict" datasets in
// run/a for detectors 0-4 and run/b for 0-1, chain = [run/b, run/a]), serves
// it with a token, and returns the local butler, the repository URL and the
// token. wrap, when set, wraps the server's handler.
func setup(t *testing.T, dialect string, wrap func(http.Handler) http.Handler) (*butler.Butler, string, string) {
	t.Helper()
	ctx := t.Context()
	root, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
	repotest.AddInstrument(t, b, inst, 5)
	if _, err := b.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	for run, n := range map[string]int{"run/a": 5, "run/b": 2} {
		for d := range n {
			if _, err := b.Put(ctx, []byte(fmt.Sprintf("run: %s\ndetector: %d\n", run, d)), "dict", dimensions.DataID{"instrument": inst, "detector": d}, run); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := b.ChainCollections(ctx, "chain", []string{"run/b", "run/a"}, butler.ChainOptions{}); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(t.TempDir(), "tokens.yaml")
	tok, _, err := server.CreateToken(tokens, "alice", []string{"team"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(ctx, server.Options{Auth: server.AuthTokens, TokensFile: tokens,
		Repositories: map[string]server.Repository{"main": {Config: root, Groups: []string{"team"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return b, ts.URL + "/api/butler/repo/main", tok
}

type refKey struct {
	ID, Type, Run, DataID string
}

func keyOf(r dataset.Ref) refKey {
	return refKey{r.ID.String(), r.Type.Name, r.Run, r.DataID.String()}
}

// The client's answers are the local Go API's, on both dialects.
func TestClient_SameAsLocal(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		b, repo, tok := setup(t, dialect, nil)
		ctx := t.Context()
		t.Setenv("BUTLER_RUBIN_ACCESS_TOKEN", tok)
		c, err := remote.New(ctx, repo, remote.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Universe().Version != b.Universe.Version {
			t.Errorf("universe %d, local %d", c.Universe().Version, b.Universe.Version)
		}
		dt, err := c.DatasetType(ctx, "dict")
		local, _ := b.DatasetType(ctx, "dict")
		if err != nil || !dt.Equal(local) {
			t.Errorf("DatasetType: %v %v, local %v", dt, err, local)
		}
		if _, err := c.DatasetType(ctx, "nosuch"); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("unknown dataset type: %v, want ErrNotFound", err)
		}
		types, err := c.DatasetTypes(ctx)
		if err != nil || len(types) != 1 || types[0].Name != "dict" {
			t.Errorf("DatasetTypes: %v %v", types, err)
		}
		for _, d := range []int{1, 3} {
			id := dimensions.DataID{"instrument": inst, "detector": d}
			got, err := c.Find(ctx, "dict", id, []string{"chain"})
			want, werr := b.Find(ctx, "dict", id, []string{"chain"})
			if err != nil || werr != nil || keyOf(got) != keyOf(want) {
				t.Errorf("Find %v: %v %v, local %v %v", id, keyOf(got), err, keyOf(want), werr)
			}
			byID, err := c.Dataset(ctx, want.ID)
			if err != nil || keyOf(byID) != keyOf(want) {
				t.Errorf("Dataset(%s): %v %v", want.ID, byID, err)
			}
		}
		if _, err := c.Find(ctx, "dict", dimensions.DataID{"instrument": inst, "detector": 4}, []string{"run/b"}); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Find of nothing: %v", err)
		}
		colls, err := c.Collections(ctx, []string{"*"})
		if err != nil || len(colls) != 3 {
			t.Fatalf("Collections: %v %v", colls, err)
		}
		for _, q := range []remote.DatasetQuery{
			{Collections: []string{"chain"}, FindFirst: true},
			{Collections: []string{"chain"}, Where: "detector > :d", Bind: map[string]any{"d": 1}},
			{Types: []string{"d*"}, Collections: []string{"run/a"}, Limit: 2},
		} {
			var got, want []refKey
			for ref, err := range c.Datasets(ctx, q) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, keyOf(ref))
			}
			lq := b.Query().Collections(q.Collections...).Where(q.Where, q.Bind).FindFirst(q.FindFirst).Limit(q.Limit, 0)
			types := q.Types
			if types == nil {
				types = []string{"*"}
			}
			for ref, err := range lq.Datasets(ctx, types...) {
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, keyOf(ref))
			}
			if d := cmp.Diff(want, got); d != "" || len(want) == 0 {
				t.Errorf("Datasets %+v (-local +remote):\n%s", q, d)
			}
		}
		var bad error
		for _, err := range c.Datasets(ctx, remote.DatasetQuery{Collections: []string{"chain"}, Where: "detector >"}) {
			bad = err
		}
		var ue *remote.UserError
		if !errors.As(bad, &ue) || ue.Type != "invalid_query" {
			t.Errorf("bad where: %v, want an invalid_query user error", bad)
		}

		// Files, whole and from an offset.
		ref, _ := b.Find(ctx, "dict", dimensions.DataID{"instrument": inst, "detector": 2}, []string{"run/a"})
		want, _ := b.GetRef(ctx, ref)
		files, err := c.Files(ctx, ref.ID)
		if err != nil || len(files) != 1 || files[0].Size != int64(len(want)) {
			t.Fatalf("Files: %+v %v", files, err)
		}
		for _, off := range []int64{0, 4} {
			rc, err := c.OpenFile(ctx, files[0], off)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, want[off:]) {
				t.Errorf("OpenFile at %d: %q, want %q", off, got, want[off:])
			}
		}
	})
}

func TestClient_Refusals(t *testing.T) {
	_, repo, _ := setup(t, pgtest.SQLite, nil)
	ctx := t.Context()
	if _, err := remote.New(ctx, repo, remote.Options{Token: "butler_wrong"}); !errors.Is(err, errs.ErrPermission) {
		t.Errorf("bad token: %v, want ErrPermission", err)
	}
	for _, u := range []string{"http://example.org/api/butler/repo/main", "ftp://x/api/butler/repo/main", "http://127.0.0.1:1/nothing"} {
		if _, err := remote.New(ctx, u, remote.Options{Token: "t"}); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("New(%s): %v, want ErrInvalid", u, err)
		}
	}
}

// 429 and 503 with Retry-After are waited out and retried, as upstream's
// client does; past MaxRetryWait the refusal is the error.
func TestClient_RetriesOnLimits(t *testing.T) {
	var refusals atomic.Int64
	refuse := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n := refusals.Add(-1); n >= 0 {
				w.Header().Set("Retry-After", "1")
				status := http.StatusTooManyRequests
				if n%2 == 1 {
					status = http.StatusServiceUnavailable
				}
				http.Error(w, `{"detail":"busy"}`, status)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	_, repo, tok := setup(t, pgtest.SQLite, refuse)
	ctx := t.Context()
	refusals.Store(2)
	start := time.Now()
	c, err := remote.New(ctx, repo, remote.Options{Token: tok})
	if err != nil {
		t.Fatalf("New through two refusals: %v", err)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("retried after %s; Retry-After said 1 s twice", d)
	}
	refusals.Store(0)
	short, err := remote.New(ctx, repo, remote.Options{Token: tok, MaxRetryWait: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	refusals.Store(5)
	start = time.Now()
	if _, err := short.DatasetType(ctx, "dict"); !errors.Is(err, errs.ErrBusy) || time.Since(start) > 3*time.Second {
		t.Errorf("refused past MaxRetryWait: %v after %s, want ErrBusy within it", err, time.Since(start))
	}
	refusals.Store(1)
	if _, err := c.DatasetType(ctx, "dict"); err != nil {
		t.Errorf("DatasetType through one refusal: %v", err)
	}
}
