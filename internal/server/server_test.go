package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/server"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/testutil/s3test"
	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) {
	stopPG := pgtest.Start()
	stopS3 := s3test.Start()
	code := m.Run()
	stopS3()
	stopPG()
	os.Exit(code)
}

const inst = "Dummy"

// fixture is a repository with an instrument of 5 detectors, a dataset type
// "dict" (instrument+detector), runs run/a (detectors 0-4) and run/b
// (detectors 0-1), and chain = [run/b, run/a].
type fixture struct {
	root string
	b    *butler.Butler
	refs map[string][]dataset.Ref // by run
}

func newFixture(t testing.TB, dialect string) *fixture {
	t.Helper()
	root, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
	return fill(t, root, b)
}

func fill(t testing.TB, root string, b *butler.Butler) *fixture {
	t.Helper()
	ctx := t.Context()
	repotest.AddInstrument(t, b, inst, 5)
	if _, err := b.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	f := &fixture{root: root, b: b, refs: map[string][]dataset.Ref{}}
	for run, n := range map[string]int{"run/a": 5, "run/b": 2} {
		for d := range n {
			data := fmt.Sprintf("run: %s\ndetector: %d\npadding: %s\n", run, d, strings.Repeat("x", 100*d))
			ref, err := b.Put(ctx, []byte(data), "dict", dimensions.DataID{"instrument": inst, "detector": d}, run)
			if err != nil {
				t.Fatal(err)
			}
			f.refs[run] = append(f.refs[run], ref)
		}
	}
	if _, err := b.ChainCollections(ctx, "chain", []string{"run/b", "run/a"}, butler.ChainOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetCollectionDoc(ctx, "run/a", "the first run"); err != nil {
		t.Fatal(err)
	}
	return f
}

// serve starts a server over the fixture's repository as label "main"
// (groups given) and returns its base URL.
func serve(t *testing.T, f *fixture, opts server.Options, groups ...string) (string, *server.Server) {
	t.Helper()
	if len(groups) == 0 {
		groups = []string{"*"}
	}
	if opts.Repositories == nil {
		opts.Repositories = map[string]server.Repository{"main": {Config: f.root, Groups: groups}}
	}
	if opts.Auth == "" {
		opts.Auth = server.AuthNone
	}
	s, err := server.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts.URL, s
}

const repoPath = "/api/butler/repo/main/v1/"

// call makes a request and decodes a JSON answer.
func call(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: status %d, body %q: %v", method, url, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// refOf is the protocol's dataset ref, as our tests compare it.
type refOf struct {
	ID          string `json:"id"`
	DatasetType struct {
		Name          string   `json:"name"`
		StorageClass  string   `json:"storageClass"`
		Dimensions    []string `json:"dimensions"`
		IsCalibration bool     `json:"isCalibration"`
	} `json:"datasetType"`
	DataID struct {
		DataID  map[string]any      `json:"dataId"`
		Records map[string]recordOf `json:"records"`
	} `json:"dataId"`
	Run string `json:"run"`
}

// recordOf is the protocol's dimension record.
type recordOf struct {
	Definition string         `json:"definition"`
	Record     map[string]any `json:"record"`
}

// localRef is a ref from the Go API in the same shape.
func localRef(ref dataset.Ref) refOf {
	var r refOf
	r.ID = ref.ID.String()
	r.DatasetType.Name = ref.Type.Name
	r.DatasetType.StorageClass = ref.Type.StorageClass
	r.DatasetType.Dimensions = ref.Type.Dimensions.RequiredNames()
	r.DatasetType.IsCalibration = ref.Type.IsCalibration
	r.DataID.DataID = map[string]any{}
	for k, v := range ref.DataID {
		if n, ok := v.(int64); ok {
			r.DataID.DataID[k] = float64(n)
		} else {
			r.DataID.DataID[k] = v
		}
	}
	r.Run = ref.Run
	return r
}

func TestServe_Auth(t *testing.T) {
	f := newFixture(t, pgtest.SQLite)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.yaml")
	alice, _, err := server.CreateToken(tokens, "alice", []string{"team"})
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := server.CreateToken(tokens, "bob", []string{"others"})
	if err != nil {
		t.Fatal(err)
	}
	carol, carolTok, err := server.CreateToken(tokens, "carol", []string{"team"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(alice, server.TokenPrefix) || len(alice) < 40 {
		t.Fatalf("token %q: want %s and 32 random bytes", alice, server.TokenPrefix)
	}
	data, _ := os.ReadFile(tokens)
	if bytes.Contains(data, []byte(alice)) || bytes.Contains(data, []byte(alice[len(server.TokenPrefix):])) {
		t.Fatal("the tokens file holds a token, not only its hash")
	}
	var logs syncBuffer
	url, _ := serve(t, f, server.Options{Auth: server.AuthTokens, TokensFile: tokens, TokenReload: time.Nanosecond,
		Logger: newJSONLogger(&logs)}, "team")
	dt := url + repoPath + "dataset_type/dict"

	var detail struct {
		Detail string `json:"detail"`
	}
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"bad token", server.TokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", http.StatusUnauthorized},
		{"wrong group", bob, http.StatusForbidden},
		{"member", alice, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := call(t, "GET", dt, tc.token, nil, nil); got != tc.want {
				t.Errorf("GET dataset_type with %s: status %d, want %d", tc.name, got, tc.want)
			}
		})
	}
	// A repository that does not exist looks like one the user may not read.
	var d1, d2 struct{ Detail string }
	s1 := call(t, "GET", url+"/api/butler/repo/nosuch/v1/dataset_type/dict", bob, nil, &d1)
	s2 := call(t, "GET", dt, bob, nil, &d2)
	if s1 != http.StatusForbidden || s1 != s2 || strings.Replace(d1.Detail, "nosuch", "main", 1) != d2.Detail {
		t.Errorf("unknown repository: %d %q; forbidden one: %d %q; want the same answer", s1, d1.Detail, s2, d2.Detail)
	}
	// The client config needs no token (as upstream).
	if got := call(t, "GET", url+"/api/butler/repo/main/butler.yaml", "", nil, &detail); got != http.StatusOK {
		t.Errorf("butler.yaml without a token: %d", got)
	}

	// Revoked: refused at once, without a restart.
	if got := call(t, "GET", dt, carol, nil, nil); got != http.StatusOK {
		t.Fatalf("carol before revocation: %d", got)
	}
	if _, err := server.RevokeTokens(tokens, carolTok.ID, ""); err != nil {
		t.Fatal(err)
	}
	if got := call(t, "GET", dt, carol, nil, nil); got != http.StatusUnauthorized {
		t.Errorf("revoked token: status %d, want 401", got)
	}
	if got := call(t, "GET", dt, alice, nil, nil); got != http.StatusOK {
		t.Errorf("alice after carol's revocation: %d", got)
	}
	for _, tok := range []string{alice, bob, carol} {
		if strings.Contains(logs.String(), tok) {
			t.Fatalf("a token reached the log:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), `"user":"alice"`) || !strings.Contains(logs.String(), `"route":"dataset_type"`) {
		t.Errorf("access log lacks user or route:\n%s", logs.String())
	}

	t.Run("gafaelfawr", func(t *testing.T) {
		url, _ := serve(t, f, server.Options{Auth: server.AuthGafaelfawr}, "team")
		for _, tc := range []struct {
			user, groups string
			want         int
		}{
			{"", "", http.StatusForbidden},
			{"alice", "x, team", http.StatusOK},
			{"bob", "others", http.StatusForbidden},
		} {
			req, _ := http.NewRequest("GET", url+repoPath+"dataset_type/dict", nil)
			if tc.user != "" {
				req.Header.Set(server.AuthUserHeader, tc.user)
				req.Header.Set(server.AuthGroupsHeader, tc.groups)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("user %q groups %q: %d, want %d", tc.user, tc.groups, resp.StatusCode, tc.want)
			}
		}
	})
	t.Run("none", func(t *testing.T) {
		url, _ := serve(t, f, server.Options{Auth: server.AuthNone}, "team")
		if got := call(t, "GET", url+repoPath+"dataset_type/dict", "", nil, nil); got != http.StatusOK {
			t.Errorf("auth none: %d", got)
		}
		if got := call(t, "GET", url+"/api/butler/repo/nosuch/v1/dataset_type/dict", "", nil, nil); got != http.StatusNotFound {
			t.Errorf("auth none, unknown repository: %d, want 404", got)
		}
	})
}

// TestServe_RoutesMatchLocal asks every route what the Go API answers
// locally, on both registry dialects.
func TestServe_RoutesMatchLocal(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		url, _ := serve(t, f, server.Options{})
		ctx := t.Context()
		b := f.b

		t.Run("dataset_type", func(t *testing.T) {
			var got struct {
				DatasetType map[string]any `json:"dataset_type"`
			}
			if st := call(t, "GET", url+repoPath+"dataset_type/dict", "", nil, &got); st != 200 {
				t.Fatalf("status %d", st)
			}
			want := map[string]any{"name": "dict", "storageClass": "StructuredDataDict", "dimensions": []any{"instrument", "detector"}, "parentStorageClass": nil, "isCalibration": false}
			if d := cmp.Diff(want, got.DatasetType); d != "" {
				t.Errorf("dataset_type (-want +got):\n%s", d)
			}
			var e struct{ ErrorType, Detail string }
			var raw map[string]string
			if st := call(t, "GET", url+repoPath+"dataset_type/nosuch", "", nil, &raw); st != 422 || raw["error_type"] != "missing_dataset_type" {
				t.Errorf("unknown dataset type: %d %v, want 422 missing_dataset_type", st, raw)
			}
			_ = e
		})

		t.Run("find_dataset", func(t *testing.T) {
			for _, tc := range []struct {
				dataID      map[string]any
				collections []string
			}{
				{map[string]any{"instrument": inst, "detector": 1}, []string{"chain"}},
				{map[string]any{"instrument": inst, "detector": 3}, []string{"chain"}},
				{map[string]any{"instrument": inst, "detector": 3}, []string{"run/b"}},
				{map[string]any{"detector": 0}, []string{"run/a"}}, // instrument from the default data ID
			} {
				req := map[string]any{"dataset_type": "dict", "data_id": tc.dataID, "collections": tc.collections, "timespan": nil, "default_data_id": map[string]any{"instrument": inst}}
				var got struct {
					Ref *refOf `json:"dataset_ref"`
				}
				if st := call(t, "POST", url+repoPath+"find_dataset", "", req, &got); st != 200 {
					t.Fatalf("find_dataset %v: status %d", tc, st)
				}
				id := dimensions.DataID{"instrument": inst}
				for k, v := range tc.dataID {
					id[k] = v
				}
				ref, err := b.Find(ctx, "dict", id, tc.collections)
				if err != nil {
					if got.Ref != nil {
						t.Errorf("find %v: server found %s, locally: %v", tc, got.Ref.ID, err)
					}
					continue
				}
				if got.Ref == nil {
					t.Errorf("find %v: server found nothing, locally %s", tc, ref)
					continue
				}
				if d := cmp.Diff(localRef(ref), *got.Ref); d != "" {
					t.Errorf("find %v (-local +server):\n%s", tc, d)
				}
			}
			// With records: the instrument and detector records.
			req := map[string]any{"dataset_type": "dict", "data_id": map[string]any{"instrument": inst, "detector": 2}, "collections": []string{"run/a"}, "timespan": nil, "dimension_records": true}
			var got struct {
				Ref *refOf `json:"dataset_ref"`
			}
			call(t, "POST", url+repoPath+"find_dataset", "", req, &got)
			if got.Ref == nil || got.Ref.DataID.Records["detector"].Record["full_name"] != "D0002" || got.Ref.DataID.Records["instrument"].Record["name"] != inst || got.Ref.DataID.Records["detector"].Definition != "detector" {
				t.Errorf("find with dimension_records: %+v", got.Ref)
			}
			// Missing collection: a user error.
			var e map[string]string
			req = map[string]any{"dataset_type": "dict", "data_id": map[string]any{"instrument": inst, "detector": 2}, "collections": []string{"nosuch"}, "timespan": nil}
			if st := call(t, "POST", url+repoPath+"find_dataset", "", req, &e); st != 422 || e["error_type"] != "missing_collection" {
				t.Errorf("find in a missing collection: %d %v", st, e)
			}
		})

		t.Run("dataset", func(t *testing.T) {
			want := f.refs["run/a"][2]
			var got struct {
				Ref *refOf `json:"dataset_ref"`
			}
			call(t, "GET", url+repoPath+"dataset/"+want.ID.String(), "", nil, &got)
			if got.Ref == nil {
				t.Fatal("dataset: null")
			}
			local, err := b.Dataset(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(localRef(local), *got.Ref); d != "" {
				t.Errorf("dataset (-local +server):\n%s", d)
			}
			var none map[string]any
			if st := call(t, "GET", url+repoPath+"dataset/59467c1b-fa13-4f7a-8ff8-cd83e092e563", "", nil, &none); st != 200 || none["dataset_ref"] != nil {
				t.Errorf("unknown dataset: %d %v, want 200 null", st, none)
			}
			var many struct {
				Type string  `json:"type"`
				Rows []refOf `json:"rows"`
			}
			ids := []string{f.refs["run/a"][0].ID.String(), "59467c1b-fa13-4f7a-8ff8-cd83e092e563", f.refs["run/b"][1].ID.String()}
			call(t, "POST", url+repoPath+"datasets", "", map[string]any{"dataset_ids": ids}, &many)
			if many.Type != "dataset_ref" || len(many.Rows) != 2 || many.Rows[0].ID != ids[0] || many.Rows[1].ID != ids[2] {
				t.Errorf("datasets: %+v", many)
			}
		})

		t.Run("expand_data_id", func(t *testing.T) {
			var got struct {
				DC struct {
					DataID  map[string]any      `json:"dataId"`
					Records map[string]recordOf `json:"records"`
				} `json:"data_coordinate"`
			}
			call(t, "POST", url+repoPath+"expand_data_id", "", map[string]any{"data_id": map[string]any{"instrument": inst, "detector": 4}}, &got)
			full, recs, err := b.ExpandDataID(ctx, []string{"instrument", "detector"}, dimensions.DataID{"instrument": inst, "detector": 4})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.DC.DataID) != len(full) || got.DC.Records["detector"].Record["raft"] != recs["detector"].Values["raft"] || got.DC.Records["detector"].Record["id"] != float64(4) {
				t.Errorf("expand_data_id: %+v; local %v %v", got.DC, full, recs)
			}
			var e map[string]string
			if st := call(t, "POST", url+repoPath+"expand_data_id", "", map[string]any{"data_id": map[string]any{"instrument": inst, "detector": 99}}, &e); st != 422 || e["error_type"] != "data_id_value" {
				t.Errorf("expand an unknown detector: %d %v", st, e)
			}
		})

		t.Run("collections", func(t *testing.T) {
			var info map[string]any
			call(t, "GET", url+repoPath+"collection_info?name=chain&include_parents=true&include_doc=true", "", nil, &info)
			want := map[string]any{"name": "chain", "type": float64(3), "children": []any{"run/b", "run/a"}, "doc": "", "parents": []any{}}
			if d := cmp.Diff(want, info); d != "" {
				t.Errorf("collection_info (-want +got):\n%s", d)
			}
			call(t, "GET", url+repoPath+"collection_info?name=run/a&include_parents=true", "", nil, &info)
			if info["type"] != float64(1) || fmt.Sprint(info["parents"]) != "[chain]" {
				t.Errorf("collection_info run/a: %v", info)
			}
			for _, tc := range []struct {
				req  map[string]any
				want []string
			}{
				{map[string]any{"search": []string{"run/*"}, "collection_types": []int{1, 2, 3, 4}, "flatten_chains": false, "include_chains": true}, []string{"run/a", "run/b"}},
				{map[string]any{"search": []string{"chain"}, "collection_types": []int{1, 2, 3, 4}, "flatten_chains": true, "include_chains": false}, []string{"run/a", "run/b"}},
				{map[string]any{"search": []string{"*"}, "collection_types": []int{3}, "flatten_chains": false, "include_chains": true}, []string{"chain"}},
			} {
				var got struct{ Collections []string }
				call(t, "POST", url+repoPath+"query_collections", "", tc.req, &got)
				sort.Strings(got.Collections)
				if d := cmp.Diff(tc.want, got.Collections); d != "" {
					t.Errorf("query_collections %v (-want +got):\n%s", tc.req, d)
				}
			}
			var qi struct {
				Collections []map[string]any `json:"collections"`
			}
			call(t, "POST", url+repoPath+"query_collection_info", "", map[string]any{"expression": []string{"run/a"}, "collection_types": []int{1, 2, 3, 4}, "flatten_chains": false, "include_chains": true, "include_parents": true, "include_summary": true, "include_doc": true, "summary_datasets": nil}, &qi)
			want2 := []map[string]any{{"name": "run/a", "type": float64(1), "doc": "the first run", "children": []any{}, "parents": []any{"chain"}, "dataset_types": []any{"dict"}}}
			if d := cmp.Diff(want2, qi.Collections); d != "" {
				t.Errorf("query_collection_info (-want +got):\n%s", d)
			}
		})

		t.Run("query_dataset_types", func(t *testing.T) {
			var got struct {
				DatasetTypes []map[string]any `json:"dataset_types"`
				Missing      []string         `json:"missing"`
			}
			call(t, "POST", url+repoPath+"query_dataset_types", "", map[string]any{"search": []string{"d*", "nosuch"}}, &got)
			local, err := b.DatasetTypes(ctx, "d*")
			if err != nil {
				t.Fatal(err)
			}
			if len(got.DatasetTypes) != len(local) || got.DatasetTypes[0]["name"] != local[0].Name || fmt.Sprint(got.Missing) != "[nosuch]" {
				t.Errorf("query_dataset_types: %+v, local %v", got, local)
			}
		})

		t.Run("query_all_datasets", func(t *testing.T) {
			for _, tc := range []struct {
				where     string
				bind      map[string]any
				findFirst bool
				limit     *int
			}{
				{"", nil, true, nil},
				{"", nil, false, nil},
				{"detector > :d", map[string]any{"d": map[string]any{"expression_type": "int", "value": 0}}, true, nil},
				{"", nil, false, ptr(3)},
			} {
				req := map[string]any{"collections": []string{"chain"}, "name": []string{"*"}, "find_first": tc.findFirst, "data_id": map[string]any{}, "where": tc.where, "bind": tc.bind, "limit": tc.limit, "with_dimension_records": false}
				lines := stream(t, url+repoPath+"query/all_datasets", req)
				var got []refOf
				for _, l := range lines {
					var page struct {
						Type string  `json:"type"`
						Rows []refOf `json:"rows"`
					}
					if err := json.Unmarshal(l, &page); err != nil || page.Type != "dataset_ref" {
						t.Fatalf("line %s: %v", l, err)
					}
					got = append(got, page.Rows...)
				}
				bind := map[string]any{}
				if tc.bind != nil {
					bind["d"] = 0
				}
				q := b.Query().Collections("chain").Where(tc.where, bind).FindFirst(tc.findFirst)
				if tc.limit != nil {
					q = q.Limit(*tc.limit, 0)
				}
				var want []refOf
				for ref, err := range q.Datasets(ctx, "*") {
					if err != nil {
						t.Fatal(err)
					}
					want = append(want, localRef(ref))
				}
				if d := cmp.Diff(want, got); d != "" || len(want) == 0 {
					t.Errorf("all_datasets %+v (-local +server):\n%s", tc, d)
				}
			}
			// A bad where is an in-band user error.
			req := map[string]any{"collections": []string{"chain"}, "name": []string{"dict"}, "find_first": true, "data_id": map[string]any{}, "where": "detector >", "bind": map[string]any{}, "limit": nil, "with_dimension_records": false}
			lines := stream(t, url+repoPath+"query/all_datasets", req)
			if len(lines) != 1 || !strings.Contains(string(lines[0]), `"type":"error"`) || !strings.Contains(string(lines[0]), `"error_type":"invalid_query"`) {
				t.Errorf("bad where: %q", lines)
			}
		})
	})
}

func ptr[T any](v T) *T { return &v }

// stream posts a streaming query and returns its lines.
func stream(t *testing.T, url string, body any) [][]byte {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jsonlines" {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), msg)
	}
	var lines [][]byte
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// getFile asks for a dataset's file info.
func getFile(t *testing.T, url, id string) (string, map[string]any) {
	t.Helper()
	var got struct {
		Artifact struct {
			Type     string `json:"datastore_type"`
			FileInfo []struct {
				URL     string         `json:"url"`
				Records map[string]any `json:"datastoreRecords"`
				Auth    string         `json:"auth"`
			} `json:"file_info"`
		} `json:"artifact"`
	}
	if st := call(t, "GET", url+repoPath+"get_file/"+id, "", nil, &got); st != 200 {
		t.Fatalf("get_file: %d", st)
	}
	if got.Artifact.Type != "file" || len(got.Artifact.FileInfo) != 1 || got.Artifact.FileInfo[0].Auth != "none" {
		t.Fatalf("get_file: %+v", got)
	}
	return got.Artifact.FileInfo[0].URL, got.Artifact.FileInfo[0].Records
}

func fetch(t *testing.T, url string, header map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header
}

func TestServe_Download(t *testing.T) {
	f := newFixture(t, pgtest.SQLite)
	url, _ := serve(t, f, server.Options{})
	ref := f.refs["run/a"][4]
	want, err := f.b.GetRef(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	u, rec := getFile(t, url, ref.ID.String())
	if !strings.HasPrefix(u, url+"/api/butler/repo/main/dataset/"+ref.ID.String()+"/download?") || !strings.Contains(u, "sig=") || !strings.Contains(u, "exp=") {
		t.Fatalf("file URL %s", u)
	}
	if p, _ := rec["path"].(string); strings.HasPrefix(p, "/") || strings.Contains(p, "://") || rec["file_size"] != float64(len(want)) {
		t.Errorf("datastoreRecords %v: want a relative path and the size", rec)
	}
	st, got, h := fetch(t, u, nil)
	if st != 200 || !bytes.Equal(got, want) || h.Get("Accept-Ranges") != "bytes" {
		t.Errorf("download: %d %q (Accept-Ranges %q), want 200 %q", st, got, h.Get("Accept-Ranges"), want)
	}
	st, got, h = fetch(t, u, map[string]string{"Range": "bytes=5-24"})
	if st != http.StatusPartialContent || !bytes.Equal(got, want[5:25]) || h.Get("Content-Range") != fmt.Sprintf("bytes 5-24/%d", len(want)) {
		t.Errorf("ranged download: %d %q %q, want 206 %q", st, got, h.Get("Content-Range"), want[5:25])
	}
	st, got, _ = fetch(t, u, map[string]string{"Range": fmt.Sprintf("bytes=-%d", 7)})
	if st != http.StatusPartialContent || !bytes.Equal(got, want[len(want)-7:]) {
		t.Errorf("suffix range: %d %q", st, got)
	}
	// A signature for another dataset, a changed expiry, no signature: 403.
	other := f.refs["run/a"][3].ID.String()
	for _, bad := range []string{
		strings.Replace(u, ref.ID.String(), other, 1),
		strings.Replace(u, "exp=", "exp=1", 1),
		u[:strings.Index(u, "sig=")] + "sig=00",
		url + "/api/butler/repo/main/dataset/" + ref.ID.String() + "/download",
	} {
		if st, body, _ := fetch(t, bad, nil); st != http.StatusForbidden || bytes.Contains(body, want) {
			t.Errorf("tampered URL %s: %d", bad, st)
		}
	}
	// The authenticated redirect.
	req, _ := http.NewRequest("GET", url+repoPath+"dataset/"+ref.ID.String()+"/download", nil)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.Contains(resp.Header.Get("Location"), "/dataset/"+ref.ID.String()+"/download?") {
		t.Errorf("redirect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st, _, _ := fetch(t, url+repoPath+"dataset/"+ref.ID.String()+"/download?component=nosuch", nil); st != 404 {
		t.Errorf("unknown component: %d, want 404", st)
	}
	if st, _, _ := fetch(t, url+repoPath+"dataset/59467c1b-fa13-4f7a-8ff8-cd83e092e563/download", nil); st != 404 {
		t.Errorf("unknown dataset: %d, want 404", st)
	}
}

// An expired URL is refused.
func TestServe_DownloadExpired(t *testing.T) {
	f := newFixture(t, pgtest.SQLite)
	url, _ := serve(t, f, server.Options{URLLifetime: time.Second})
	u, _ := getFile(t, url, f.refs["run/a"][0].ID.String())
	if st, _, _ := fetch(t, u, nil); st != 200 {
		t.Fatalf("fresh URL: %d", st)
	}
	time.Sleep(2100 * time.Millisecond)
	if st, _, _ := fetch(t, u, nil); st != http.StatusForbidden {
		t.Errorf("expired URL: %d, want 403", st)
	}
}

// An S3 datastore's files come back as presigned URLs that plain HTTP reads,
// with a PostgreSQL registry.
func TestServe_S3Presigned(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		if dialect == pgtest.SQLite {
			t.Skip("the S3 case runs with PostgreSQL")
		}
		srv := s3test.NewServer(t)
		bucket := srv.Bucket(t)
		srv.SetEnv(t)
		seed := filepath.Join(t.TempDir(), "seed.yaml")
		pgtest.UseAdminAuth(t)
		pgSeed, err := os.ReadFile(pgtest.WriteSeed(t, pgtest.Schema(t)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(seed, append(pgSeed, []byte("datastore:\n  root: s3://"+bucket+"/repo\n")...), 0o644); err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(t.TempDir(), "repo")
		if _, err := butler.Create(t.Context(), root, butler.CreateOptions{SeedConfig: seed, Override: true}); err != nil {
			t.Fatal(err)
		}
		f := fill(t, root, repotest.Open(t, root))
		url, _ := serve(t, f, server.Options{})
		ref := f.refs["run/a"][3]
		want, err := f.b.GetRef(t.Context(), ref)
		if err != nil {
			t.Fatal(err)
		}
		u, rec := getFile(t, url, ref.ID.String())
		if !strings.HasPrefix(u, srv.Endpoint+"/"+bucket+"/repo/") && !strings.Contains(u, bucket) || !strings.Contains(u, "X-Amz-Signature=") || !strings.Contains(u, "X-Amz-Expires=3600") {
			t.Fatalf("S3 file URL %s: want a presigned GET of the bucket, valid one hour", u)
		}
		if p, _ := rec["path"].(string); strings.Contains(p, "s3://") {
			t.Errorf("datastoreRecords path %q", p)
		}
		st, got, _ := fetch(t, u, nil)
		if st != 200 || !bytes.Equal(got, want) {
			t.Errorf("presigned GET: %d %q, want %q", st, got, want)
		}
		st, got, _ = fetch(t, u, map[string]string{"Range": "bytes=2-9"})
		if st != http.StatusPartialContent || !bytes.Equal(got, want[2:10]) {
			t.Errorf("presigned ranged GET: %d %q", st, got)
		}
	})
}

func TestServe_HealthConfigMetrics(t *testing.T) {
	f := newFixture(t, pgtest.SQLite)
	url, _ := serve(t, f, server.Options{})
	var h map[string]any
	if st := call(t, "GET", url+"/", "", nil, &h); st != 200 || h["name"] != "butler" {
		t.Errorf("health: %d %v", st, h)
	}
	var cfg map[string]any
	call(t, "GET", url+"/api/butler/repo/main/butler.json", "", nil, &cfg)
	want := map[string]any{"cls": "lsst.daf.butler.remote_butler.RemoteButler", "remote_butler": map[string]any{"url": "<butlerRoot>", "authentication": "rubin_science_platform"}}
	if d := cmp.Diff(want, cfg); d != "" {
		t.Errorf("butler.json (-want +got):\n%s", d)
	}
	call(t, "GET", url+repoPath+"dataset_type/dict", "", nil, nil)
	st, body, _ := fetch(t, url+"/metrics", nil)
	for _, m := range []string{`butler_http_requests_total{code="200",route="dataset_type"} 1`, "butler_http_request_duration_seconds_bucket", "butler_queries_in_flight 0"} {
		if st != 200 || !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %q (status %d)", m, st)
		}
	}
	var e map[string]string
	if st := call(t, "POST", url+repoPath+"query/execute", "", map[string]any{}, &e); st != 422 || e["error_type"] != "invalid_query" {
		t.Errorf("query/execute: %d %v", st, e)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newJSONLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// tree builds a query/execute request as upstream's RemoteButler sends it.
func tree(dims []string, datasets map[string][]string, operands [][]any, spec map[string]any) map[string]any {
	ds := map[string]any{}
	for name, colls := range datasets {
		ds[name] = map[string]any{"collections": colls, "dimensions": []string{"instrument", "detector"}}
	}
	if operands == nil {
		operands = [][]any{}
	}
	base := map[string]any{"order_by": []any{}, "limit": nil, "allow_duplicate_overlaps": false}
	for k, v := range spec {
		base[k] = v
	}
	return map[string]any{
		"query": map[string]any{
			"tree":                    map[string]any{"dimensions": dims, "datasets": ds, "any_dataset": nil, "data_coordinate_uploads": map[string]any{}, "materializations": map[string]any{}, "predicate": map[string]any{"operands": operands}},
			"default_data_id":         map[string]any{"dataId": map[string]any{}, "records": nil},
			"additional_query_inputs": []any{},
		},
		"result_spec": base,
	}
}

func key(d string) map[string]any {
	return map[string]any{"expression_type": "dimension_key", "dimension": d}
}
func intLit(v int) map[string]any { return map[string]any{"expression_type": "int", "value": v} }

func TestServe_QueryExecute(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		url, _ := serve(t, f, server.Options{})
		ctx := t.Context()
		b := f.b
		dims := []string{"instrument", "detector"}
		gt1 := [][]any{{map[string]any{"predicate_type": "comparison", "a": key("detector"), "operator": ">", "b": intLit(1)}}}
		pages := func(req map[string]any, typ string) []json.RawMessage {
			t.Helper()
			var rows []json.RawMessage
			for _, l := range stream(t, url+repoPath+"query/execute", req) {
				var page struct {
					Type string            `json:"type"`
					Rows []json.RawMessage `json:"rows"`
				}
				if err := json.Unmarshal(l, &page); err != nil || page.Type != typ {
					t.Fatalf("line %s (want type %s): %v", l, typ, err)
				}
				rows = append(rows, page.Rows...)
			}
			return rows
		}

		t.Run("dataset_ref", func(t *testing.T) {
			for _, tc := range []struct {
				name      string
				operands  [][]any
				findFirst bool
				order     []any
				limit     any
				where     string
				orderBy   []string
				lim       int
			}{
				{"find-first", gt1, true, nil, nil, "detector > 1", nil, 0},
				{"all", nil, false, nil, nil, "", nil, 0},
				{"order-limit", nil, true, []any{map[string]any{"expression_type": "reversed", "operand": key("detector")}}, 2, "", []string{"-detector"}, 2},
				{"in-not-range", [][]any{
					{map[string]any{"predicate_type": "in_container", "member": key("detector"), "container": []any{intLit(0), intLit(3), intLit(4)}}},
					{map[string]any{"predicate_type": "not", "operand": map[string]any{"predicate_type": "in_range", "member": key("detector"), "start": 4, "stop": 5, "step": 1}}},
				}, true, nil, nil, "detector IN (0, 3, 4) AND NOT (detector IN (4..4))", nil, 0},
			} {
				t.Run(tc.name, func(t *testing.T) {
					spec := map[string]any{"result_type": "dataset_ref", "dataset_type_name": "dict", "dimensions": dims, "storage_class_name": "StructuredDataDict", "include_dimension_records": false, "find_first": tc.findFirst, "limit": tc.limit}
					if tc.order != nil {
						spec["order_by"] = tc.order
					}
					var got []refOf
					for _, r := range pages(tree(dims, map[string][]string{"dict": {"chain"}}, tc.operands, spec), "dataset_ref") {
						var ref refOf
						json.Unmarshal(r, &ref)
						got = append(got, ref)
					}
					q := b.Query().Collections("chain").Where(tc.where, nil).FindFirst(tc.findFirst).OrderBy(tc.orderBy...).Limit(tc.lim, 0)
					var want []refOf
					for ref, err := range q.Datasets(ctx, "dict") {
						if err != nil {
							t.Fatal(err)
						}
						want = append(want, localRef(ref))
					}
					if d := cmp.Diff(want, got); d != "" || len(want) == 0 {
						t.Errorf("(-local +server):\n%s", d)
					}
				})
			}
		})

		t.Run("data_coordinate", func(t *testing.T) {
			spec := map[string]any{"result_type": "data_coordinate", "dimensions": dims, "include_dimension_records": true}
			rows := pages(tree(dims, map[string][]string{"dict": {"run/b"}}, nil, spec), "data_coordinate")
			var got []string
			for _, r := range rows {
				var dc struct {
					DataID  map[string]any      `json:"dataId"`
					Records map[string]recordOf `json:"records"`
				}
				json.Unmarshal(r, &dc)
				if dc.Records["detector"].Record["full_name"] == nil {
					t.Errorf("data ID without records: %s", r)
				}
				got = append(got, fmt.Sprint(dc.DataID["detector"]))
			}
			var want []string
			for id, err := range b.Query().Collections("run/b").DataIDs(ctx, dims, "dict") {
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, fmt.Sprint(id["detector"]))
			}
			sort.Strings(got)
			sort.Strings(want)
			if d := cmp.Diff(want, got); d != "" || len(want) != 2 {
				t.Errorf("(-local +server):\n%s", d)
			}
		})

		t.Run("dimension_record", func(t *testing.T) {
			spec := map[string]any{"result_type": "dimension_record", "element": "detector"}
			rows := pages(tree(dims, nil, gt1, spec), "dimension_record")
			var got []string
			for _, r := range rows {
				var rec recordOf
				json.Unmarshal(r, &rec)
				got = append(got, fmt.Sprint(rec.Definition, rec.Record["id"], rec.Record["full_name"]))
			}
			var want []string
			for rec, err := range b.Query().Where("detector > 1", nil).DimensionRecords(ctx, "detector") {
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, fmt.Sprint("detector", rec.Values["id"], rec.Values["full_name"]))
			}
			if d := cmp.Diff(want, got); d != "" || len(want) != 3 {
				t.Errorf("(-local +server):\n%s", d)
			}
		})

		t.Run("count-any-explain", func(t *testing.T) {
			spec := map[string]any{"result_type": "dataset_ref", "dataset_type_name": "dict", "dimensions": dims, "storage_class_name": "StructuredDataDict", "include_dimension_records": false, "find_first": false}
			req := tree(dims, map[string][]string{"dict": {"chain"}}, gt1, spec)
			req["exact"], req["discard"], req["execute"] = true, false, true
			var cnt struct{ Count int }
			call(t, "POST", url+repoPath+"query/count", "", req, &cnt)
			n, err := b.Query().Collections("chain").Where("detector > 1", nil).Count(ctx, "dict")
			if err != nil || cnt.Count != n || n != 3 {
				t.Errorf("count: server %d, local %d %v", cnt.Count, n, err)
			}
			var anyr struct {
				Found bool `json:"found_rows"`
			}
			call(t, "POST", url+repoPath+"query/any", "", req, &anyr)
			if !anyr.Found {
				t.Error("any: false")
			}
			none := tree(dims, map[string][]string{"dict": {"chain"}}, [][]any{{map[string]any{"predicate_type": "comparison", "a": key("detector"), "operator": "==", "b": intLit(99)}}}, spec)
			none["execute"] = true
			call(t, "POST", url+repoPath+"query/any", "", none, &anyr)
			var ex struct{ Messages []string }
			call(t, "POST", url+repoPath+"query/explain", "", none, &ex)
			local, _ := b.Query().Collections("chain").Where("detector = 99", nil).Explain(ctx, "dict")
			if anyr.Found || len(ex.Messages) == 0 || !cmp.Equal(ex.Messages, local) {
				t.Errorf("any/explain of an empty query: %v %q, local %q", anyr.Found, ex.Messages, local)
			}
		})

		t.Run("unsupported", func(t *testing.T) {
			req := tree(dims, nil, nil, map[string]any{"result_type": "general", "dimensions": dims, "find_first": false})
			var e map[string]string
			if st := call(t, "POST", url+repoPath+"query/execute", "", req, &e); st != 422 || e["error_type"] != "unimplemented_query" {
				t.Errorf("general results: %d %v", st, e)
			}
			req = tree(dims, map[string][]string{"dict": {"chain"}}, [][]any{{map[string]any{"predicate_type": "comparison", "a": key("nosuch"), "operator": "==", "b": intLit(1)}}},
				map[string]any{"result_type": "dataset_ref", "dataset_type_name": "dict", "dimensions": dims, "find_first": true})
			lines := stream(t, url+repoPath+"query/execute", req)
			if len(lines) != 1 || !strings.Contains(string(lines[0]), `"error_type":"invalid_query"`) {
				t.Errorf("unknown dimension: %q", lines)
			}
		})
	})
}

// Two servers over one PostgreSQL repository behind a round-robin proxy,
// sharing a signing key and a tokens file: every answer is the same whichever
// server gives it, and a file URL one server signed is served by the other.
func TestServe_TwoServersRoundRobin(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		if dialect == pgtest.SQLite {
			t.Skip("several servers share a PostgreSQL repository")
		}
		f := newFixture(t, dialect)
		tokens := filepath.Join(t.TempDir(), "tokens.yaml")
		tok, _, err := server.CreateToken(tokens, "alice", []string{"team"})
		if err != nil {
			t.Fatal(err)
		}
		key := bytes.Repeat([]byte("k"), 32)
		var backends []*neturl.URL
		var served [2]atomic.Int64
		var next atomic.Int64
		proxy := httptest.NewUnstartedServer(nil)
		for range 2 {
			s, err := server.New(t.Context(), server.Options{Auth: server.AuthTokens, TokensFile: tokens, SigningKey: key, PublicURL: "http://" + proxy.Listener.Addr().String(),
				Repositories: map[string]server.Repository{"main": {Config: f.root, Groups: []string{"team"}}}})
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(s)
			t.Cleanup(func() { ts.Close(); s.Close() })
			u, _ := neturl.Parse(ts.URL)
			backends = append(backends, u)
		}
		proxy.Config.Handler = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			i := next.Add(1) % 2
			served[i].Add(1)
			r.SetURL(backends[i])
		}}
		proxy.Start()
		defer proxy.Close()
		base := proxy.URL + repoPath
		var answers []string
		for range 4 {
			var got map[string]any
			req := map[string]any{"dataset_type": "dict", "data_id": map[string]any{"instrument": inst, "detector": 3}, "collections": []string{"chain"}, "timespan": nil}
			if st := call(t, "POST", base+"find_dataset", tok, req, &got); st != 200 {
				t.Fatalf("find_dataset through the proxy: %d", st)
			}
			data, _ := json.Marshal(got)
			answers = append(answers, string(data))
		}
		for _, a := range answers[1:] {
			if a != answers[0] {
				t.Errorf("servers disagree:\n%s\n%s", answers[0], a)
			}
		}
		ref := f.refs["run/a"][2]
		want, _ := f.b.GetRef(t.Context(), ref)
		for range 2 {
			var gf struct {
				Artifact struct {
					FileInfo []struct{ URL string } `json:"file_info"`
				} `json:"artifact"`
			}
			call(t, "GET", base+"get_file/"+ref.ID.String(), tok, nil, &gf)
			u := gf.Artifact.FileInfo[0].URL
			if !strings.HasPrefix(u, proxy.URL+"/") {
				t.Fatalf("file URL %s is not the public URL %s", u, proxy.URL)
			}
			if st, got, _ := fetch(t, u, nil); st != 200 || !bytes.Equal(got, want) {
				t.Errorf("download through the other server: %d %q", st, got)
			}
		}
		if served[0].Load() == 0 || served[1].Load() == 0 {
			t.Errorf("requests per server %d, %d: the proxy did not alternate", served[0].Load(), served[1].Load())
		}
		// file_transfer: lasting URLs on the authenticated redirect.
		var ft struct {
			Files map[string][]struct {
				URL      string         `json:"url"`
				Auth     string         `json:"auth"`
				FileInfo map[string]any `json:"file_info"`
			} `json:"files"`
		}
		call(t, "POST", base+"file_transfer", tok, map[string]any{"dataset_ids": []string{ref.ID.String()}}, &ft)
		fi := ft.Files[ref.ID.String()]
		if len(fi) != 1 || fi[0].Auth != "gafaelfawr" || fi[0].URL != base+"dataset/"+ref.ID.String()+"/download" {
			t.Fatalf("file_transfer: %+v", ft)
		}
		st, got, _ := fetch(t, fi[0].URL, map[string]string{"Authorization": "Bearer " + tok})
		if st != 200 || !bytes.Equal(got, want) {
			t.Errorf("file_transfer URL with the token: %d %q", st, got)
		}
		if st, _, _ := fetch(t, fi[0].URL, nil); st != http.StatusUnauthorized {
			t.Errorf("file_transfer URL without the token: %d, want 401", st)
		}
	})
}

// PostgreSQL restarted under load: while it is down requests get 503 with
// Retry-After (never a 500 or a wrong answer), and the same server answers
// again once it is back, without a restart of its own.
func TestServe_PostgresRestart(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		if dialect == pgtest.SQLite {
			t.Skip("a PostgreSQL fault")
		}
		f := newFixture(t, dialect)
		url, _ := serve(t, f, server.Options{})
		body := map[string]any{"dataset_type": "dict", "data_id": map[string]any{"instrument": inst, "detector": 3}, "collections": []string{"chain"}, "timespan": nil}
		want := f.refs["run/a"][3].ID.String()
		var stop atomic.Bool
		var ok, unavailable, bad atomic.Int64
		var mu sync.Mutex
		var badMsgs []string
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for !stop.Load() {
					data, _ := json.Marshal(body)
					resp, err := http.Post(url+repoPath+"find_dataset", "application/json", bytes.NewReader(data))
					if err != nil {
						bad.Add(1)
						continue
					}
					msg, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					switch {
					case resp.StatusCode == 200 && bytes.Contains(msg, []byte(want)):
						ok.Add(1)
					case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "":
						unavailable.Add(1)
					default:
						bad.Add(1)
						mu.Lock()
						badMsgs = append(badMsgs, fmt.Sprintf("%d %s", resp.StatusCode, msg))
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(200 * time.Millisecond)
		pgtest.Restart(t, pgtest.Immediate)
		time.Sleep(200 * time.Millisecond)
		before := ok.Load()
		time.Sleep(500 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		t.Logf("during and after the restart: %d answered, %d 503, %d other", ok.Load(), unavailable.Load(), bad.Load())
		if bad.Load() > 0 {
			t.Errorf("%d answers neither right nor 503: %q", bad.Load(), badMsgs[:min(len(badMsgs), 5)])
		}
		if ok.Load() == before {
			t.Error("no answers after PostgreSQL came back")
		}
	})
}

func TestServe_FileByDataIDAndLimits(t *testing.T) {
	f := newFixture(t, pgtest.SQLite)
	url, _ := serve(t, f, server.Options{MaxBodyBytes: 1 << 10})
	var got struct {
		Ref      refOf `json:"dataset_ref"`
		Artifact struct {
			FileInfo []struct{ URL string } `json:"file_info"`
		} `json:"artifact"`
	}
	req := map[string]any{"dataset_type": "dict", "data_id": map[string]any{"detector": 1}, "default_data_id": map[string]any{"instrument": inst}, "collections": []string{"chain"}}
	if st := call(t, "POST", url+repoPath+"get_file_by_data_id", "", req, &got); st != 200 {
		t.Fatalf("get_file_by_data_id: %d", st)
	}
	want := f.refs["run/b"][1] // the chain finds run/b first
	if got.Ref.ID != want.ID.String() || len(got.Artifact.FileInfo) != 1 {
		t.Fatalf("get_file_by_data_id: %+v, want %s", got, want.ID)
	}
	data, _ := f.b.GetRef(t.Context(), want)
	if st, body, _ := fetch(t, got.Artifact.FileInfo[0].URL, nil); st != 200 || !bytes.Equal(body, data) {
		t.Errorf("download: %d %q", st, body)
	}
	var e map[string]string
	req["data_id"] = map[string]any{"detector": 4}
	req["collections"] = []string{"run/b"}
	if st := call(t, "POST", url+repoPath+"get_file_by_data_id", "", req, &e); st != 422 || e["error_type"] != "dataset_not_found" {
		t.Errorf("get_file_by_data_id of nothing: %d %v", st, e)
	}
	if st := call(t, "GET", url+repoPath+"get_file/59467c1b-fa13-4f7a-8ff8-cd83e092e563", "", nil, &e); st != 422 || e["error_type"] != "dataset_not_found" {
		t.Errorf("get_file of an unknown ID: %d %v", st, e)
	}
	if st := call(t, "GET", url+repoPath+"collection_info?name=nosuch", "", nil, &e); st != 422 || e["error_type"] != "missing_collection" {
		t.Errorf("collection_info of nothing: %d %v", st, e)
	}
	big := map[string]any{"search": []string{strings.Repeat("x", 2000)}}
	if st := call(t, "POST", url+repoPath+"query_dataset_types", "", big, nil); st != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", st)
	}
	if st := call(t, "GET", url+repoPath+"dataset/not-a-uuid", "", nil, nil); st != 422 {
		t.Errorf("malformed ID: %d, want 422", st)
	}
}

// Concurrent `token create`s all land in the file.
func TestTokens_ConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, _, err := server.CreateToken(path, fmt.Sprintf("user%d", i), []string{"g"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	toks, err := server.ReadTokens(path)
	if err != nil || len(toks) != 8 {
		t.Fatalf("%d tokens after 8 concurrent creates (%v)", len(toks), err)
	}
	if _, err := os.Stat(path + ".lock"); !os.IsNotExist(err) {
		t.Errorf("lock left behind: %v", err)
	}
}
