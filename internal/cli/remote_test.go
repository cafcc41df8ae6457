package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/testutil/s3test"
)

// served is a repository behind a real `butler serve` on loopback.
type served struct {
	url   string // http://127.0.0.1:PORT/api/butler/repo/main
	token string // of a user of the repository's group
	other string // of a user outside it
}

// serveRepo starts the real binary serving root (with --auth tokens) for
// the rest of the test.
func serveRepo(t *testing.T, root string) served {
	t.Helper()
	dir := t.TempDir()
	repos := filepath.Join(dir, "repositories.yaml")
	if err := os.WriteFile(repos, []byte(fmt.Sprintf("main:\n  config: %s\n  groups: [team]\n", root)), 0o644); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens.yaml")
	tok := strings.TrimSpace(repotest.MustRun(t, "token", "create", "--tokens", tokens, "--user", "alice", "--group", "team").Stdout)
	other := strings.TrimSpace(repotest.MustRun(t, "token", "create", "--tokens", tokens, "--user", "mallory", "--group", "elsewhere").Stdout)
	cmd := exec.Command(repotest.Binary(t), "serve", "--listen", "127.0.0.1:0", "--repositories", repos, "--auth", "tokens", "--tokens", tokens)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	sc := bufio.NewScanner(stderr)
	var base string
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		var l struct{ Msg, URL string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
			base = l.URL
			break
		}
	}
	if base == "" {
		t.Fatalf("butler serve: no 'listening' line:\n%s", strings.Join(lines, "\n"))
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return served{url: strings.TrimRight(base, "/") + "/api/butler/repo/main", token: tok, other: other}
}

// run runs the real binary against the server with the token.
func (s served) run(t *testing.T, token string, args ...string) repotest.Result {
	t.Helper()
	for i, a := range args {
		if a == "R" {
			args[i] = s.url
		}
	}
	return repotest.Cmd{Args: args, Env: []string{"BUTLER_RUBIN_ACCESS_TOKEN=" + token, "ACCESS_TOKEN="}}.Run(t)
}

// remoteGolden are the golden cases of TestGolden_QueryTables that a remote
// repository prints identically (the same golden files).
func remoteGolden() []struct {
	name string
	args []string
} {
	var out []struct {
		name string
		args []string
	}
	for _, tc := range goldenCases {
		switch {
		case tc.name == "query_datasets/show_uri":
			continue // URIs are the server's URLs (checked below)
		default:
			out = append(out, tc)
		}
	}
	return out
}

// The query tables a repository prints through `butler serve` (the real
// binary as server and as client, tokens) are the golden tables it prints
// locally, byte for byte; get and retrieve-artifacts read the same bytes;
// writes, a wrong token and a wrong group are refused clearly.
func TestRemote_GoldenTables(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		root := goldenRepo(t, dialect)
		srv := serveRepo(t, root)
		for _, tc := range remoteGolden() {
			t.Run(tc.name, func(t *testing.T) {
				res := srv.run(t, srv.token, append([]string{}, tc.args...)...)
				if res.Code != 0 {
					t.Fatalf("%s", res)
				}
				checkGolden(t, tc.name, []byte(res.Stdout), false)
			})
		}
		t.Run("where, binds, data IDs, order and limit", func(t *testing.T) {
			for _, args := range [][]string{
				{"query-datasets", "R", "flat", "--collections", "imported_r,imported_g", "--where", "detector IN (2, 3) AND physical_filter = 'Cam1-R1'"},
				{"query-datasets", "R", "bias", "--collections", "chain", "--find-first", "--where", "detector > :d", "--bind", "d=1"},
				{"query-datasets", "R", "bias", "--collections", "imported_g", "--data-id", "detector=3", "--format", "json"},
				{"query-datasets", "R", "*", "--collections", "*", "--format", "csv", "--limit", "3"},
				{"query-data-ids", "R", "visit", "detector", "--where", "detector IN (1..2, 4) OR NOT (visit > 1 AND instrument = 'Cam1')"},
				{"query-data-ids", "R", "detector", "--data-id", "instrument=Cam1", "--where", "detector NOT IN (2) AND -detector < -1"},
				{"query-data-ids", "R", "visit", "--order-by", "-visit", "--limit", "1"},
				{"query-data-ids", "R", "detector", "physical_filter", "--datasets", "flat", "--collections", "imported_r", "--where", "detector % 2 = 0"},
				{"query-dimension-records", "R", "visit", "--where", "physical_filter = :f OR visit.id = 2", "--bind", "f=Cam1-G"},
				{"query-dimension-records", "R", "detector", "--order-by", "-detector", "--limit", "2", "--format", "json"},
				{"query-dimension-records", "R", "physical_filter", "--where", "band = 'r'", "--format", "yaml"},
				// Time and timespan literals (upstream's datetime and timespan column literals).
				{"query-dimension-records", "R", "visit", "--where", "visit.timespan OVERLAPS (T'2021-09-09T03:01:00', NULL)"},
				{"query-data-ids", "R", "visit", "--where", "visit.timespan.begin < T'2021-09-09 03:01:00/tai' AND instrument = 'Cam1'"},
				{"query-data-ids", "R", "visit", "--where", "visit.timespan OVERLAPS (T'2021-09-09T02:00:00', T'2021-09-09T05:00:00')"},
				// Region literals (upstream's region column literal: the client encodes the region).
				{"query-data-ids", "R", "visit", "--where", "visit.region OVERLAPS CIRCLE(0.17, 0.93, 0.05)"},
				{"query-dimension-records", "R", "visit", "--where", "visit.region OVERLAPS BOX(0.2, 0.9, 1, 1) AND instrument = 'Cam1'"},
				{"query-data-ids", "R", "visit", "detector", "--where", "visit_detector_region.region OVERLAPS REGION('CIRCLE 0.17 0.93 0.2')"},
				{"query-data-ids", "R", "visit", "--where", "visit.region OVERLAPS POLYGON(0, 0, 0, 2, 2, 2, 2, 0) OR visit.region OVERLAPS POINT(-0.5, -1)"},
			} {
				local := append([]string{}, args...)
				local[1] = root
				want := repotest.MustRun(t, local...)
				if strings.Count(want.Stdout, "\n") < 3 {
					t.Errorf("butler %s finds nothing locally, which proves nothing:\n%s", strings.Join(local, " "), want.Stdout)
				}
				got := srv.run(t, srv.token, append([]string{}, args...)...)
				if got.Code != 0 || got.Stdout != want.Stdout {
					t.Errorf("butler %s:\nremote %s\nlocal:\n%s", strings.Join(args, " "), got, want.Stdout)
				}
			}
		})
		t.Run("show-uri", func(t *testing.T) {
			res := srv.run(t, srv.token, "query-datasets", "R", "thing", "--collections", "u/me/things", "--show-uri")
			if res.Code != 0 || strings.Count(res.Stdout, srv.url[:strings.Index(srv.url, "/api/")]+"/api/butler/repo/main/dataset/") != 2 || strings.Contains(res.Stdout, root) {
				t.Errorf("want the server's signed URLs, never the repository's paths: %s", res)
			}
		})
		t.Run("get", func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "thing.yaml")
			res := srv.run(t, srv.token, "get", "R", "thing", "--collections", "u/me/things", "--data-id", "instrument=Cam1", "--data-id", "detector=2", "-o", out)
			if got, _ := os.ReadFile(out); res.Code != 0 || string(got) != "detector: 2\n" {
				t.Errorf("get: %s; file %q", res, got)
			}
			res = srv.run(t, srv.token, "get", "R", "thing", "--collections", "u/me/things", "--data-id", "instrument=Cam1", "--data-id", "detector=4")
			if res.Code != 1 || !strings.Contains(res.Stderr, "not found") {
				t.Errorf("get of a missing dataset: %s", res)
			}
		})
		t.Run("retrieve-artifacts", func(t *testing.T) {
			local, remote := t.TempDir(), t.TempDir()
			repotest.MustRun(t, "retrieve-artifacts", root, local, "-d", "thing", "--collections", "u/me/things")
			res := srv.run(t, srv.token, "retrieve-artifacts", "R", remote, "-d", "thing", "--collections", "u/me/things")
			if res.Code != 0 {
				t.Fatal(res)
			}
			one := t.TempDir()
			res = srv.run(t, srv.token, "retrieve-artifacts", "R", one, "-d", "thing", "--collections", "u/me/things", "--order-by", "-detector", "--limit", "-1", "--no-preserve-path")
			if got := treeOf(t, one); res.Code != 0 || !strings.Contains(res.Stderr, "Requested limit of 1 hit") || !strings.HasSuffix(got, ": detector: 2\n") || strings.Count(got, "\n") != 1 {
				t.Errorf("retrieve-artifacts --order-by -detector --limit -1: %s; retrieved %q, want detector 2's file alone", res, got)
			}
			if w, g := treeOf(t, local), treeOf(t, remote); w != g || !strings.Contains(g, "detector: 1") {
				t.Errorf("retrieved through the server:\n%s\nlocally:\n%s", g, w)
			}
		})
		t.Run("transfer-datasets", func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "dest")
			repotest.MustRun(t, "create", dest)
			res := srv.run(t, srv.token, "transfer-datasets", "R", dest, "-d", "thing", "--collections", "u/me/things", "--register-dataset-types")
			if res.Code != 0 || !strings.Contains(res.Stdout, "Number of datasets transferred: 2") {
				t.Fatalf("%s; want 2 datasets", res)
			}
			for _, args := range [][]string{
				{"query-datasets", "R", "thing", "--collections", "u/me/things"},
				{"query-dimension-records", "R", "detector", "--where", "detector IN (1..2)"},
			} {
				want := srv.run(t, srv.token, append([]string{}, args...)...)
				args[1] = dest
				if got := repotest.MustRun(t, args...); got.Stdout != want.Stdout || want.Code != 0 {
					t.Errorf("butler %s after the transfer:\n%s\nthrough the server:\n%s", strings.Join(args, " "), got.Stdout, want)
				}
			}
			out := filepath.Join(t.TempDir(), "thing.yaml")
			repotest.MustRun(t, "get", dest, "thing", "--collections", "u/me/things", "--data-id", "instrument=Cam1", "--data-id", "detector=1", "-o", out)
			if got, _ := os.ReadFile(out); string(got) != "detector: 1\n" {
				t.Errorf("transferred file: %q", got)
			}
			if res := srv.run(t, srv.token, "transfer-datasets", "R", dest, "-d", "thing", "--collections", "u/me/things"); res.Code != 0 || !strings.Contains(res.Stdout, "Already present, skipped: 2") {
				t.Errorf("a second transfer: %s; want both skipped", res)
			}
			if res := srv.run(t, srv.token, "transfer-datasets", "R", dest, "-d", "thing", "--collections", "u/me/things", "-t", "symlink"); res.Code != 1 || !strings.Contains(res.Stderr, "copied") {
				t.Errorf("symlinks to a remote repository: %s; want a refusal", res)
			}
		})
		t.Run("refusals", func(t *testing.T) {
			for _, tc := range []struct {
				token string
				args  []string
				want  []string
			}{
				{srv.token, []string{"register-dataset-type", "R", "x", "StructuredDataDict", "instrument"}, []string{"read-only", "remote repository"}},
				{srv.token, []string{"remove-runs", "R", "imported_g", "--no-confirm"}, []string{"read-only", "remote repository"}},
				{"", []string{"query-collections", "R"}, []string{"BUTLER_RUBIN_ACCESS_TOKEN", srv.url}},
				{"not-a-token", []string{"query-collections", "R"}, []string{"BUTLER_RUBIN_ACCESS_TOKEN"}},
				{srv.other, []string{"query-collections", "R"}, []string{"does not have permission", "group"}},
			} {
				res := srv.run(t, tc.token, append([]string{}, tc.args...)...)
				ok := res.Code == 1
				for _, w := range tc.want {
					ok = ok && strings.Contains(res.Stderr, w)
				}
				if !ok || strings.Contains(res.Stderr, srv.token) || strings.Contains(res.Stderr, "team") {
					t.Errorf("butler %s with token %q: %s; want exit 1 and %q (never the token or the group)", strings.Join(tc.args, " "), tc.token, res, tc.want)
				}
			}
		})
	})
}

// A server that is not there is a clear error naming the URL, at once.
func TestRemote_ServerDown(t *testing.T) {
	url := "http://127.0.0.1:1/api/butler/repo/main"
	start := time.Now()
	res := repotest.Run(t, "query-collections", url)
	if res.Code != 1 || !strings.Contains(res.Stderr, url) || !strings.Contains(res.Stderr, "cannot reach the server") || strings.Contains(res.Stderr, "bug") {
		t.Errorf("%s; want exit 1 naming %s", res, url)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
	if res := repotest.Run(t, "query-collections", "http://example.org/api/butler/repo/main"); res.Code != 1 || !strings.Contains(res.Stderr, "https://") {
		t.Errorf("plain http to a remote host: %s; want a refusal asking for https", res)
	}
}

// An S3 datastore behind the server (PostgreSQL registry): files come back
// as presigned S3 URLs, read by get, retrieve-artifacts and
// transfer-datasets into a local repository.
func TestRemote_S3(t *testing.T) {
	s3 := s3test.Require(t)
	bucket := s3.Bucket(t)
	s3.SetEnv(t)
	pgtest.UseAdminAuth(t)
	seed := filepath.Join(t.TempDir(), "seed.yaml")
	pgSeed, err := os.ReadFile(pgtest.WriteSeed(t, pgtest.Schema(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seed, append(pgSeed, []byte("datastore:\n  root: s3://"+bucket+"/repo\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "repo")
	repotest.MustRun(t, "create", root, "--seed-config", seed, "--override")
	repotest.MustRun(t, "import", root, filepath.Join(corpustest.Dir(t), "daf_butler", "exports"), "--export-file", "base.yaml", "--registry-only")
	src := t.TempDir()
	for _, d := range []string{"1", "2"} {
		if err := os.WriteFile(filepath.Join(src, "thing"+d+".yaml"), []byte("detector: "+d+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	table := filepath.Join(src, "things.csv")
	if err := os.WriteFile(table, []byte("file,detector\nthing2.yaml,2\nthing1.yaml,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repotest.MustRun(t, "register-dataset-type", root, "thing", "StructuredDataDict", "instrument", "detector")
	repotest.MustRun(t, "ingest-files", root, "thing", "u/me/things", table, "--data-id", "instrument=Cam1", "-t", "copy", "--prefix", src)
	srv := serveRepo(t, root)
	for _, args := range [][]string{
		{"query-datasets", "R", "thing", "--collections", "u/me/things"},
		{"query-collections", "R", "-t"},
		{"query-dataset-types", "R", "-v"},
	} {
		local := append([]string{}, args...)
		local[1] = root
		want := repotest.MustRun(t, local...)
		if got := srv.run(t, srv.token, append([]string{}, args...)...); got.Code != 0 || got.Stdout != want.Stdout {
			t.Errorf("butler %s:\nremote %s\nlocal:\n%s", strings.Join(args, " "), got, want.Stdout)
		}
	}
	res := srv.run(t, srv.token, "query-datasets", "R", "thing", "--collections", "u/me/things", "--show-uri")
	if res.Code != 0 || !strings.Contains(res.Stdout, "X-Amz-Signature=") || !strings.Contains(res.Stdout, bucket) {
		t.Errorf("show-uri: %s; want presigned S3 URLs", res)
	}
	out := filepath.Join(t.TempDir(), "thing.yaml")
	if res := srv.run(t, srv.token, "get", "R", "thing", "--collections", "u/me/things", "--data-id", "instrument=Cam1", "--data-id", "detector=1", "-o", out); res.Code != 0 {
		t.Fatal(res)
	}
	if got, _ := os.ReadFile(out); string(got) != "detector: 1\n" {
		t.Errorf("get: %q", got)
	}
	dest := t.TempDir()
	if res := srv.run(t, srv.token, "retrieve-artifacts", "R", dest, "-d", "thing", "--collections", "u/me/things", "--no-preserve-path"); res.Code != 0 {
		t.Fatal(res)
	}
	if got := treeOf(t, dest); strings.Count(got, "detector: ") != 2 {
		t.Errorf("retrieved:\n%s", got)
	}
	local := filepath.Join(t.TempDir(), "local")
	repotest.MustRun(t, "create", local)
	if res := srv.run(t, srv.token, "transfer-datasets", "R", local, "-d", "thing", "--collections", "u/me/things", "--register-dataset-types"); res.Code != 0 || !strings.Contains(res.Stdout, "transferred: 2") {
		t.Fatalf("transfer-datasets from the server: %s", res)
	}
	repotest.MustRun(t, "get", local, "thing", "--collections", "u/me/things", "--data-id", "instrument=Cam1", "--data-id", "detector=2", "-o", out)
	if got, _ := os.ReadFile(out); string(got) != "detector: 2\n" {
		t.Errorf("transferred file: %q", got)
	}
}

// treeOf lists the files under dir with their contents.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s: %s", rel, data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
