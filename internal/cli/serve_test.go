package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

func TestServe_HelpGolden(t *testing.T) {
	for _, args := range [][]string{{"serve"}, {"token"}, {"token", "create"}, {"token", "list"}, {"token", "revoke"}} {
		out := mustMain(t, append(args, "--help")...)
		checkGolden(t, "help/"+strings.Join(args, "_"), []byte(out), true)
	}
}

func TestToken_CreateListRevoke(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.yaml")
	out, errs, code := mainOut(t, "token", "create", "--tokens", file, "--user", "alice", "--group", "team", "--group", "ops")
	tok := strings.TrimSpace(out)
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(tok, "butler_") || !strings.Contains(errs, "alice") {
		t.Fatalf("token create: exit %d, stdout %q, stderr %q; want the token alone on stdout", code, out, errs)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file: %v %v, want mode 0600", fi, err)
	}
	data, _ := os.ReadFile(file)
	if strings.Contains(string(data), tok) || strings.Contains(string(data), tok[len("butler_"):]) {
		t.Fatal("tokens file holds the token")
	}
	mustMain(t, "token", "create", "--tokens", file, "--user", "bob", "--group", "team")
	list := mustMain(t, "token", "list", "--tokens", file)
	if !strings.Contains(list, "alice") || !strings.Contains(list, "team,ops") || !strings.Contains(list, "bob") || strings.Contains(list, tok) {
		t.Errorf("token list:\n%s", list)
	}
	id := strings.Fields(strings.Split(strings.TrimSpace(list), "\n")[2])[0]
	if out := mustMain(t, "token", "revoke", "--tokens", file, "--id", id); !strings.Contains(out, "Revoked token "+id) {
		t.Errorf("revoke: %q", out)
	}
	if list := mustMain(t, "token", "list", "--tokens", file); strings.Contains(list, id) {
		t.Errorf("revoked token still listed:\n%s", list)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"token", "revoke", "--tokens", file, "--id", id}, 1},
		{[]string{"token", "revoke", "--tokens", file}, 2},
		{[]string{"token", "create", "--tokens", file, "--user", "bad user"}, 1},
		{[]string{"token", "create", "--user", "x"}, 2},
		{[]string{"serve"}, 2},
		{[]string{"serve", "--repositories", file, "--auth", "magic"}, 2},
		{[]string{"serve", "--repositories", file, "--auth", "tokens"}, 2},
	} {
		if _, errs, code := mainOut(t, tc.args...); code != tc.code {
			t.Errorf("butler %s: exit %d (%s), want %d", strings.Join(tc.args, " "), code, errs, tc.code)
		}
	}
}

// A repositories file with a mistake names the file, line and field.
func TestServe_BadRepositoriesFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{"main:\n  config: /x\n", "repositories.yaml:1: repository \"main\": invalid: field groups is missing"},
		{"main:\n  config: /x\n  groups: ['*']\n  colour: red\n", "field colour not found"},
		{"main:\n  groups: ['*']\n", "field config is missing"},
		{"bad label!:\n  config: /x\n  groups: ['*']\n", "repository label \"bad label!\""},
		{"main:\n  config: " + filepath.Join(dir, "nowhere") + "\n  groups: ['*']\n", "repository main:"},
	} {
		path := filepath.Join(dir, "repositories.yaml")
		if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errs, code := mainOut(t, "serve", "--repositories", path, "--auth", "none", "--listen", "127.0.0.1:0")
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("repositories file %q: exit %d, stderr %q; want 1 and %q", tc.body, code, errs, tc.want)
		}
	}
}

// The real binary: serves a repository with tokens, logs JSON without the
// token, and stops cleanly (exit 0) on SIGTERM.
func TestServe_BinarySIGTERM(t *testing.T) {
	root, b := repotest.New(t)
	repotest.AddInstrument(t, b, "Dummy", 2)
	if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	ref, err := b.Put(t.Context(), []byte("a: 1\n"), "dict", dimensions.DataID{"instrument": "Dummy", "detector": 1}, "run")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	repos := filepath.Join(dir, "repositories.yaml")
	if err := os.WriteFile(repos, []byte(fmt.Sprintf("main:\n  config: %s\n  groups: [team]\n", root)), 0o644); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens.yaml")
	tok := strings.TrimSpace(repotest.MustRun(t, "token", "create", "--tokens", tokens, "--user", "alice", "--group", "team").Stdout)

	cmd := exec.Command(repotest.Binary(t), "serve", "--listen", "127.0.0.1:0", "--repositories", repos, "--auth", "tokens", "--tokens", tokens)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	var base string
	var logLines []string
	for sc.Scan() {
		logLines = append(logLines, sc.Text())
		var l struct{ Msg, URL string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
			base = l.URL
			break
		}
	}
	if base == "" {
		t.Fatalf("no 'listening' line:\n%s", strings.Join(logLines, "\n"))
	}
	rest := make(chan []string, 1)
	go func() {
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		rest <- lines
	}()
	req, _ := http.NewRequest("GET", base+"/api/butler/repo/main/v1/dataset/"+ref.ID.String(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), ref.ID.String()) {
		t.Fatalf("GET dataset: %d %s", resp.StatusCode, body)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait() }()
	select {
	case err := <-werr:
		if err != nil {
			t.Errorf("butler serve after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("butler serve did not stop on SIGTERM")
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start))
	all := strings.Join(append(logLines, <-rest...), "\n")
	if strings.Contains(all, tok) || !strings.Contains(all, `"user":"alice"`) || !strings.Contains(all, `"msg":"shutting down"`) {
		t.Errorf("log (token must not appear; user and shutdown must):\n%s", all)
	}
}
