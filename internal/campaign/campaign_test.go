// Package campaign is the start of the fault campaign of issue #15, with
// `butler verify` as the oracle: a writing command is killed (SIGKILL) at
// points spread over its run; the repository must then verify clean, or be
// repaired to clean by `verify --repair --yes` alone, and a rerun of the
// command must complete it exactly (every dataset there once, verify clean).
//
// Variants (SQLite unless said): `ingest-raws` (the real binary) by copy
// into POSIX and S3 and by symlink into POSIX; a loop of Butler.Put in a
// child process on SQLite and PostgreSQL; `prune-datasets --purge`,
// `remove-runs` and `transfer-datasets`. BUTLER_FAULT_POINTS
// sets the kill points per variant (default 6); -short skips it.
package campaign

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/testutil/s3test"
)

func TestMain(m *testing.M) {
	stop := pgtest.Start()
	code := m.Run()
	repotest.RemoveBinary()
	stop()
	os.Exit(code)
}

func points() int {
	if n, err := strconv.Atoi(os.Getenv("BUTLER_FAULT_POINTS")); err == nil && n > 0 {
		return n
	}
	return 6
}

// tally counts what the campaign did.
type tally struct {
	kills, finishedFirst, reruns, problems, repaired, left int
}

func (c tally) String() string {
	return fmt.Sprintf("%d kills landed (%d runs finished before the kill), %d reruns, %d problems found, %d repaired, %d left",
		c.kills, c.finishedFirst, c.reruns, c.problems, c.repaired, c.left)
}

// verifyJSON runs `butler verify REPO --orphans --checksums` and returns the
// problem kinds it printed and its exit status.
func verifyJSON(t *testing.T, root string, extra ...string) ([]string, int) {
	t.Helper()
	res := repotest.Run(t, append([]string{"verify", root, "--orphans", "--checksums", "--format", "json"}, extra...)...)
	var kinds []string
	sc := bufio.NewScanner(strings.NewReader(res.Stdout))
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("verify printed %q: %v", sc.Text(), err)
		}
		if k, ok := obj["kind"].(string); ok {
			kinds = append(kinds, k)
		}
	}
	if res.Code != 0 && res.Code != 1 {
		t.Fatalf("verify %s: %s", root, res)
	}
	return kinds, res.Code
}

// afterKill checks the repository a kill left: clean, or repaired to clean
// by verify --repair --yes alone.
func afterKill(t *testing.T, root string, c *tally) {
	t.Helper()
	kinds, code := verifyJSON(t, root)
	if code == 0 {
		return
	}
	c.problems += len(kinds)
	t.Logf("after the kill: %v", kinds)
	if _, code := verifyJSON(t, root, "--repair", "--yes"); code != 0 {
		t.Errorf("verify --repair --yes did not repair %v", kinds)
	}
	left, _ := verifyJSON(t, root)
	c.left += len(left)
	c.repaired += len(kinds) - len(left)
	if len(left) > 0 {
		t.Errorf("after the repair: %v", left)
	}
}

// killAt starts cmd, kills it after d and reports whether it was still running.
func killAt(t *testing.T, cmd *exec.Cmd, d time.Duration) bool {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s ended before the kill: %v", cmd, err)
		}
		return false
	case <-time.After(d):
	}
	if err := cmd.Process.Signal(os.Kill); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	err := <-done
	var exit *exec.ExitError
	return errors.As(err, &exit) && !exit.Exited() // killed by the signal
}

// TestKill_IngestRaws kills `butler ingest-raws` (copy into POSIX and S3,
// symlink into POSIX; small batches, so commits happen all through the run)
// at spread points.
func TestKill_IngestRaws(t *testing.T) {
	if testing.Short() {
		t.Skip("fault campaign: not with -short")
	}
	bin := repotest.Binary(t)
	src := t.TempDir()
	raws := rawtest.Write(t, src, "LSSTCam", 6, 20)
	for _, v := range []struct{ store, transfer string }{{"posix", "copy"}, {"posix", "symlink"}, {"s3", "copy"}} {
		t.Run(v.store+"/"+v.transfer, func(t *testing.T) { killIngestRaws(t, bin, src, len(raws), v.store, v.transfer) })
	}
}

func killIngestRaws(t *testing.T, bin, src string, raws int, store, transfer string) {
	var create []string
	if store == "s3" {
		srv := s3test.NewServer(t)
		srv.SetEnv(t)
		seed := filepath.Join(t.TempDir(), "seed.yaml")
		if err := os.WriteFile(seed, []byte("datastore:\n  root: s3://"+srv.Bucket(t)+"/repo\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		create = []string{"--seed-config", seed, "--override"}
	}
	newRepo := func() string {
		root := filepath.Join(t.TempDir(), "repo")
		repotest.MustRun(t, append(append([]string{"create"}, create...), root)...)
		repotest.MustRun(t, "register-instrument", root, "lsst.obs.lsst.LsstCam")
		return root
	}
	ingest := func(root string) *exec.Cmd {
		return exec.Command(bin, "ingest-raws", "--transfer", transfer, "--batch-size", "10", root, src)
	}
	count := func(root string) int {
		out := repotest.MustRun(t, "query-datasets", root, "raw", "--collections", "LSSTCam/raw/all", "--format", "csv").Stdout
		return strings.Count(strings.TrimSpace(out), "\n") // rows after the header
	}
	// How long a whole run takes, to spread the kill points over it.
	root := newRepo()
	start := time.Now()
	if out, err := ingest(root).CombinedOutput(); err != nil {
		t.Fatalf("ingest-raws: %v\n%s", err, out)
	}
	whole := time.Since(start)
	if n := count(root); n != raws {
		t.Fatalf("a whole run ingested %d raws, want %d", n, raws)
	}
	var c tally
	n := points()
	for i := range n {
		root := newRepo()
		d := spread(whole, i, n)
		if !killAt(t, ingest(root), d) {
			c.finishedFirst++
		} else {
			c.kills++
		}
		afterKill(t, root, &c)
		if out, err := ingest(root).CombinedOutput(); err != nil {
			t.Errorf("kill at %v: the rerun failed: %v\n%s", d, err, out)
		}
		c.reruns++
		if got := count(root); got != raws {
			t.Errorf("kill at %v: %d raws after the rerun, want %d", d, got, raws)
		}
		if left, _ := verifyJSON(t, root); len(left) > 0 {
			c.left += len(left)
			t.Errorf("kill at %v: after the rerun: %v", d, left)
		}
	}
	t.Logf("ingest-raws --transfer %s into %s, %d raws, whole run %v: %s", transfer, store, raws, whole.Round(time.Millisecond), c)
	if c.kills < n/2 {
		t.Errorf("only %d of %d kills landed while ingest-raws ran", c.kills, n)
	}
}

const loopN = 300

// TestPutLoopChild is the child process of TestKill_PutLoop: it puts
// datasets 0..loopN-1 into the repository named by BUTLER_CAMPAIGN_REPO,
// skipping those already there.
func TestPutLoopChild(t *testing.T) {
	root := os.Getenv("BUTLER_CAMPAIGN_REPO")
	if root == "" {
		t.Skip("the child of TestKill_PutLoop")
	}
	ctx := context.Background()
	b, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range loopN {
		id := dimensions.DataID{"instrument": "Dummy", "detector": i}
		if _, err := b.Find(ctx, "dict", id, []string{"run"}); err == nil {
			continue
		} else if !errors.Is(err, errs.ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := b.Put(ctx, fmt.Appendf(nil, "value: %d\n", i), "dict", id, "run"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKill_PutLoop kills a process putting datasets one by one.
func TestKill_PutLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("fault campaign: not with -short")
	}
	repotest.Binary(t) // verify runs the real binary
	pgtest.ForEachDialect(t, killPutLoop)
}

// putLoopRepo makes a repository on dialect for the put loop.
func putLoopRepo(t *testing.T, dialect string) string {
	t.Helper()
	root, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
	repotest.AddInstrument(t, b, "Dummy", loopN)
	if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RegisterRun(t.Context(), "run", ""); err != nil {
		t.Fatal(err)
	}
	b.Close()
	return root
}

// putLoopCmd is the put loop (TestPutLoopChild) on root.
func putLoopCmd(root string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestPutLoopChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BUTLER_CAMPAIGN_REPO="+root)
	return cmd
}

// putLoopCheck counts the datasets the put loop left, checking their content.
func putLoopCheck(t *testing.T, root string) int {
	t.Helper()
	b := repotest.Open(t, root)
	defer b.Close()
	n := 0
	for ref, err := range b.Query().Collections("run").Datasets(t.Context(), "dict") {
		if err != nil {
			t.Fatal(err)
		}
		data, err := b.GetRef(t.Context(), ref)
		if want := fmt.Sprintf("value: %v\n", ref.DataID["detector"]); err != nil || string(data) != want {
			t.Errorf("dataset %v: %q, %v; want %q", ref.DataID, data, err, want)
		}
		n++
	}
	return n
}

func killPutLoop(t *testing.T, dialect string) {
	newRepo := func() string { return putLoopRepo(t, dialect) }
	loop, check := putLoopCmd, func(root string) int { return putLoopCheck(t, root) }
	root := newRepo()
	start := time.Now()
	if out, err := loop(root).CombinedOutput(); err != nil {
		t.Fatalf("put loop: %v\n%s", err, out)
	}
	whole := time.Since(start)
	if n := check(root); n != loopN {
		t.Fatalf("a whole run put %d datasets, want %d", n, loopN)
	}
	var c tally
	n := points()
	for i := range n {
		root := newRepo()
		d := spread(whole, i, n)
		if !killAt(t, loop(root), d) {
			c.finishedFirst++
		} else {
			c.kills++
		}
		afterKill(t, root, &c)
		if out, err := loop(root).CombinedOutput(); err != nil {
			t.Errorf("kill at %v: the rerun failed: %v\n%s", d, err, out)
		}
		c.reruns++
		if got := check(root); got != loopN {
			t.Errorf("kill at %v: %d datasets after the rerun, want %d", d, got, loopN)
		}
		if left, _ := verifyJSON(t, root); len(left) > 0 {
			c.left += len(left)
			t.Errorf("kill at %v: after the rerun: %v", d, left)
		}
	}
	t.Logf("put loop on %s, %d datasets, whole run %v: %s", dialect, loopN, whole.Round(time.Millisecond), c)
	if c.kills < n/2 {
		t.Errorf("only %d of %d kills landed while the loop ran", c.kills, n)
	}
}

// TestKill_RemoveAndTransfer kills `prune-datasets --purge` and `remove-runs` (the
// registry rows go in one transaction, the files after it) and
// `transfer-datasets` (batches of 30): a rerun of the same command completes
// it, and the runs it does not touch are untouched.
func TestKill_RemoveAndTransfer(t *testing.T) {
	if testing.Short() {
		t.Skip("fault campaign: not with -short")
	}
	bin := repotest.Binary(t)
	count := func(root string) map[string]int { return runCounts(t, root) }
	src := threeRuns(t)
	emptyRepo := func() string {
		root := filepath.Join(t.TempDir(), "dest")
		repotest.MustRun(t, "create", root)
		return root
	}
	all := map[string]int{"r0": perRun, "r1": perRun, "r2": perRun}
	for _, tc := range []struct {
		name  string
		setup func() string
		args  []string // REPO is replaced by the repository setup made
		want  map[string]int
	}{
		{"prune-datasets --purge", func() string { return threeRuns(t) },
			[]string{"prune-datasets", "REPO", "r0", "--purge", "r0", "--no-confirm"}, map[string]int{"r1": perRun, "r2": perRun}},
		{"remove-runs", func() string { return threeRuns(t) },
			[]string{"remove-runs", "REPO", "r0", "r1", "--no-confirm", "--force"}, map[string]int{"r2": perRun}},
		{"transfer-datasets", emptyRepo,
			[]string{"transfer-datasets", src, "REPO", "-d", "dict", "--collections", "r0,r1,r2", "--register-dataset-types", "--transfer", "copy", "--batch-size", "30", "--limit", "0"}, all},
	} {
		newRepo := tc.setup
		t.Run(strings.Fields(tc.name)[0], func(t *testing.T) {
			command := func(root string) *exec.Cmd {
				args := slices.Clone(tc.args)
				args[slices.Index(args, "REPO")] = root
				return exec.Command(bin, args...)
			}
			root := newRepo()
			start := time.Now()
			if out, err := command(root).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tc.name, err, out)
			}
			whole := time.Since(start)
			if got := count(root); !maps.Equal(got, tc.want) {
				t.Fatalf("a whole run left %v, want %v", got, tc.want)
			}
			var c tally
			n := points()
			for i := range n {
				root := newRepo()
				d := spread(whole, i, n)
				if !killAt(t, command(root), d) {
					c.finishedFirst++
				} else {
					c.kills++
				}
				afterKill(t, root, &c)
				if out, err := command(root).CombinedOutput(); err != nil {
					t.Errorf("kill at %v: the rerun failed: %v\n%s", d, err, out)
				}
				c.reruns++
				if got := count(root); !maps.Equal(got, tc.want) {
					t.Errorf("kill at %v: after the rerun %v, want %v", d, got, tc.want)
				}
				if left, _ := verifyJSON(t, root); len(left) > 0 {
					c.left += len(left)
					t.Errorf("kill at %v: after the rerun: %v", d, left)
				}
			}
			t.Logf("%s of %d datasets, whole run %v: %s", tc.name, perRun*len(runs), whole.Round(time.Millisecond), c)
			if c.kills < n/2 {
				t.Errorf("only %d of %d kills landed while the command ran", c.kills, n)
			}
		})
	}
}

const perRun = 100

var runs = []string{"r0", "r1", "r2"}

// threeRuns makes a SQLite repository of perRun "dict" datasets in each of
// runs r0, r1 and r2, ingested by copy.
func threeRuns(t *testing.T) string {
	t.Helper()
	root, b := repotest.New(t)
	defer b.Close()
	repotest.AddInstrument(t, b, "Dummy", perRun)
	if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, run := range runs {
		var files []butler.FileDataset
		for i := range perRun {
			p := filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", run, i))
			if err := os.WriteFile(p, fmt.Appendf(nil, "value: %s %d\n", run, i), 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, butler.FileDataset{Path: p, DataID: dimensions.DataID{"instrument": "Dummy", "detector": i}})
		}
		if _, err := b.Ingest(t.Context(), "dict", run, files, butler.IngestOptions{Transfer: "copy"}); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// runCounts returns the "dict" datasets in each run, checking their content.
func runCounts(t *testing.T, root string) map[string]int {
	t.Helper()
	b := repotest.Open(t, root)
	defer b.Close()
	out := map[string]int{}
	for ref, err := range b.Query().Collections("*").Datasets(t.Context(), "dict") {
		if err != nil {
			t.Fatal(err)
		}
		data, err := b.GetRef(t.Context(), ref)
		if want := fmt.Sprintf("value: %s %v\n", ref.Run, ref.DataID["detector"]); err != nil || string(data) != want {
			t.Errorf("dataset %s %v: %q, %v; want %q", ref.Run, ref.DataID, data, err, want)
		}
		out[ref.Run]++
	}
	return out
}

// spread is kill point i of n over a run that took whole: evenly over its
// first 85%, since a rerun on a warm cache is often faster than the first.
func spread(whole time.Duration, i, n int) time.Duration {
	return time.Duration(float64(whole) * 0.85 * (float64(i) + 0.5) / float64(n))
}
