package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreate_SeedRootWarning: a seed's datastore.root without --override is
// replaced by the repository root, as upstream does, with a warning that
// names --override; with --override it is kept and nothing is said.
func TestCreate_SeedRootWarning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	elsewhere := filepath.Join(dir, "elsewhere")
	seed := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seed, []byte("datastore:\n  root: "+elsewhere+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "repo")
	res := run(t, "create", repo, "--seed-config", seed)
	if strings.Count(res.Stderr, "level=WARN") != 1 || !strings.Contains(res.Stderr, elsewhere) || !strings.Contains(res.Stderr, "pass --override to keep it") {
		t.Errorf("create with a seed root: stderr %q, want one warning naming %s and --override", res.Stderr, elsewhere)
	}
	cfg, err := os.ReadFile(filepath.Join(repo, "butler.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "root: <butlerRoot>") {
		t.Errorf("butler.yaml does not use the repository root:\n%s", cfg)
	}

	res = run(t, "create", filepath.Join(dir, "repo2"), "--seed-config", seed, "--override")
	if strings.Contains(res.Stderr, "WARN") {
		t.Errorf("create --override: stderr %q, want no warning", res.Stderr)
	}
}
