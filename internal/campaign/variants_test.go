package campaign

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/testutil/s3test"
)

// variant is one command of the kill campaign.
type variant struct {
	name    string
	cheap   bool                            // SQLite and POSIX: more default points
	newRepo func(t *testing.T) string       // the starting repository, copied for each run (see cloneRepo)
	srv     *s3test.Server                  // the S3 server of its datastore, if any
	command func(root string) *exec.Cmd     // the command killed, then rerun
	check   func(t *testing.T, root string) // the complete run's outcome
	rerun   func(t *testing.T, root string) // nil: command(root) must exit 0
}

// kill runs v's campaign: points() kills spread over a whole run, each
// followed by verify (and repair), a rerun and the check.
func (v variant) kill(t *testing.T) tally {
	t.Helper()
	// A whole run, timed twice (the first on a cold cache is slower),
	// to spread the kill points over it.
	var ph phases
	tmpl := ph.time("template", func() string { return v.newRepo(t) })
	fresh := func() string { return cloneRepo(t, tmpl, v.srv) }
	var whole time.Duration
	ph.time("timing", func() string {
		for i := range 2 {
			root := fresh()
			start := time.Now()
			if out, err := v.command(root).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", v.name, err, out)
			}
			if d := time.Since(start); i == 0 || d < whole {
				whole = d
			}
			if i == 0 {
				v.check(t, root)
			}
		}
		return ""
	})
	var c tally
	n := points(v.cheap)
	for i := range n {
		root := ph.time("repo", fresh)
		d := spread(whole, i, n)
		ph.time("kill", func() string {
			if !killAt(t, v.command(root), d) {
				c.finishedFirst++
			} else {
				c.kills++
			}
			return ""
		})
		ph.time("verify", func() string { afterKill(t, root, &c); return "" })
		ph.time("rerun", func() string {
			if v.rerun != nil {
				v.rerun(t, root)
			} else if out, err := v.command(root).CombinedOutput(); err != nil {
				t.Errorf("kill at %v: the rerun failed: %v\n%s", d, err, out)
			}
			return ""
		})
		c.reruns++
		ph.time("check", func() string { v.check(t, root); return "" })
		ph.time("verify", func() string {
			if left, _ := verifyJSON(t, root); len(left) > 0 {
				c.left += len(left)
				t.Errorf("kill at %v: after the rerun: %v", d, left)
			}
			return ""
		})
	}
	t.Logf("PHASES %s: %s", v.name, &ph)
	t.Logf("TALLY %s, whole run %v: %s", v.name, whole.Round(time.Millisecond), c)
	if c.kills < n/2 {
		t.Errorf("only %d of %d kills landed while %s ran", c.kills, n, v.name)
	}
	return c
}

// seedFor writes a seed config for a new repository with its registry on
// dialect (a fresh schema) and, when srv is not nil, its datastore in a fresh
// bucket of srv, and returns the `butler create` options using it.
func seedFor(t *testing.T, dialect string, srv *s3test.Server) []string {
	t.Helper()
	var body string
	if dialect == pgtest.Postgres {
		pgtest.UseAdminAuth(t)
		b, err := os.ReadFile(pgtest.WriteSeed(t, pgtest.Schema(t)))
		if err != nil {
			t.Fatal(err)
		}
		body = string(b)
	}
	if srv != nil {
		body += "datastore:\n  root: s3://" + srv.Bucket(t) + "/repo\n"
	}
	if body == "" {
		return nil
	}
	seed := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(seed, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--seed-config", seed, "--override"}
}

// s3Server starts an S3 server for t when s3 is set, with the environment
// pointing at it.
func s3Server(t *testing.T, s3 bool) *s3test.Server {
	t.Helper()
	if !s3 {
		return nil
	}
	srv := s3test.NewServer(t)
	srv.SetEnv(t)
	return srv
}

// TestKill_IngestRawsPostgres kills `butler ingest-raws --transfer copy` on a
// PostgreSQL registry, with a POSIX and an S3 datastore.
func TestKill_IngestRawsPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("fault campaign: not with -short")
	}
	pgtest.Admin(t)
	bin := repotest.Binary(t)
	src := t.TempDir()
	raws := rawtest.Write(t, src, "LSSTCam", 6, 20)
	for _, s3 := range []bool{false, true} {
		name := map[bool]string{false: "posix", true: "s3"}[s3]
		t.Run(name, func(t *testing.T) {
			srv := s3Server(t, s3)
			v := variant{
				name: "ingest-raws --transfer copy into PostgreSQL+" + name,
				newRepo: func(t *testing.T) string {
					root := filepath.Join(t.TempDir(), "repo")
					mustCLI(t, append(append([]string{"create"}, templateSeed(t, pgtest.Postgres, srv)...), root)...)
					mustCLI(t, "register-instrument", root, "lsst.obs.lsst.LsstCam")
					return root
				},
				srv: srv,
				command: func(root string) *exec.Cmd {
					return exec.Command(bin, "ingest-raws", "--transfer", "copy", "--batch-size", "10", root, src)
				},
				check: func(t *testing.T, root string) {
					checkRaws(t, root, len(raws))
				},
			}
			v.kill(t)
		})
	}
}

// exportDir writes an export directory (export.yaml and the files, copied)
// of threeRuns' 300 datasets.
func exportDir(t *testing.T) string {
	t.Helper()
	src := threeRuns(t)
	dir := filepath.Join(t.TempDir(), "export")
	repotest.MustRun(t, "export", src, dir, "-d", "dict", "--collections", "r0,r1,r2", "--transfer", "copy")
	return dir
}

// TestKill_Import kills `butler import` of an export directory (files copied)
// on SQLite and PostgreSQL: a rerun imports what is missing and skips what is
// there.
func TestKill_Import(t *testing.T) {
	if testing.Short() {
		t.Skip("fault campaign: not with -short")
	}
	bin := repotest.Binary(t)
	dir := exportDir(t)
	all := map[string]int{"r0": perRun, "r1": perRun, "r2": perRun}
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		v := variant{
			name:    "import (copy) on " + dialect,
			cheap:   dialect == pgtest.SQLite,
			newRepo: emptyRepo(dialect),
			command: func(root string) *exec.Cmd {
				return exec.Command(bin, "import", root, dir, "--transfer", "copy")
			},
			check: func(t *testing.T, root string) {
				if got := runCounts(t, root); !maps.Equal(got, all) {
					t.Errorf("datasets by run %v, want %v", got, all)
				}
			},
		}
		v.kill(t)
	})
}

// zipOf writes a zip (retrieve-artifacts --zip) of threeRuns' 300 datasets.
func zipOf(t *testing.T) string {
	t.Helper()
	src := threeRuns(t)
	dir := t.TempDir()
	repotest.MustRun(t, "retrieve-artifacts", src, dir, "-d", "dict", "--collections", "r0,r1,r2", "--zip")
	zips, _ := filepath.Glob(filepath.Join(dir, "*.zip"))
	if len(zips) != 1 {
		t.Fatalf("retrieve-artifacts --zip wrote %v", zips)
	}
	return zips[0]
}

// ingestZipRerun reruns `butler ingest-zip` after a kill. As upstream's
// command, it exits 1 with a conflict when the killed run had committed
// (every dataset of the zip is stored); the rerun a user has then is
// upstream's Butler.ingest_zip(skip_existing=True), our SkipExisting, a no-op.
func ingestZipRerun(bin, zip string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) {
		t.Helper()
		out, err := exec.Command(bin, "ingest-zip", root, zip, "--transfer-dimensions").CombinedOutput()
		if err == nil {
			return
		}
		if !strings.Contains(string(out), "already stored") {
			t.Errorf("the rerun failed: %v\n%s", err, out)
			return
		}
		b := repotest.Open(t, root)
		res, err := b.IngestZip(t.Context(), zip, butler.IngestZipOptions{TransferDimensions: true, SkipExisting: true})
		b.Close()
		if err != nil || res.Skipped != perRun*len(runs) {
			t.Errorf("the rerun with SkipExisting: %+v, %v; want %d skipped", res, err, perRun*len(runs))
		}
	}
}

// TestKill_IngestZip kills `butler ingest-zip --transfer-dimensions` (copy)
// on SQLite and PostgreSQL.
func TestKill_IngestZip(t *testing.T) {
	if testing.Short() {
		t.Skip("fault campaign: not with -short")
	}
	bin := repotest.Binary(t)
	zip := zipOf(t)
	all := map[string]int{"r0": perRun, "r1": perRun, "r2": perRun}
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		v := variant{
			name:    "ingest-zip (copy) on " + dialect,
			cheap:   dialect == pgtest.SQLite,
			newRepo: emptyRepo(dialect),
			command: func(root string) *exec.Cmd {
				return exec.Command(bin, "ingest-zip", root, zip, "--transfer-dimensions", "--transfer", "copy")
			},
			check: func(t *testing.T, root string) {
				if got := runCounts(t, root); !maps.Equal(got, all) {
					t.Errorf("datasets by run %v, want %v", got, all)
				}
			},
			rerun: ingestZipRerun(bin, zip),
		}
		v.kill(t)
	})
}

// TestIngestZip_Rerun is the rerun of an ingest-zip whose run committed
// (killed before it could report): as upstream's `butler ingest-zip`, the
// command exits 1 naming an already-stored dataset and changes nothing; with
// SkipExisting (upstream's skip_existing=True) it is a no-op. Both dialects.
func TestIngestZip_Rerun(t *testing.T) {
	zip := zipOf(t)
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		root := filepath.Join(t.TempDir(), "repo")
		repotest.MustRun(t, append(append([]string{"create"}, seedFor(t, dialect, nil)...), root)...)
		repotest.MustRun(t, "ingest-zip", root, zip, "--transfer-dimensions")
		res := repotest.Run(t, "ingest-zip", root, zip, "--transfer-dimensions")
		if res.Code != 1 || !strings.Contains(res.Stderr, "300 of its datasets are already stored") {
			t.Errorf("second ingest-zip: %s; want exit 1 and the datasets already stored", res)
		}
		ingestZipRerun(repotest.Binary(t), zip)(t, root)
		want := map[string]int{"r0": perRun, "r1": perRun, "r2": perRun}
		if got := runCounts(t, root); !maps.Equal(got, want) {
			t.Errorf("datasets by run %v, want %v", got, want)
		}
		if left, code := verifyJSON(t, root); code != 0 {
			t.Errorf("verify: %v", left)
		}
	})
}

// phases sums the time the campaign spends in each phase of its kill points.
type phases struct {
	names []string
	d     map[string]time.Duration
}

func (p *phases) time(name string, fn func() string) string {
	p.init()
	if _, ok := p.d[name]; !ok {
		p.names = append(p.names, name)
	}
	start := time.Now()
	out := fn()
	p.d[name] += time.Since(start)
	return out
}

func (p *phases) init() {
	if p.d == nil {
		p.d = map[string]time.Duration{}
	}
}

func (p *phases) String() string {
	var parts []string
	for _, n := range p.names {
		parts = append(parts, fmt.Sprintf("%s %v", n, p.d[n].Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// emptyRepo makes a new empty repository of the dialect (the variants'
// starting point when the command itself brings everything).
func emptyRepo(dialect string) func(t *testing.T) string {
	return func(t *testing.T) string {
		root := filepath.Join(t.TempDir(), "repo")
		mustCLI(t, append(append([]string{"create"}, templateSeed(t, dialect, nil)...), root)...)
		return root
	}
}
