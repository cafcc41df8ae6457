// Package campaign is the fault campaign of issue #15, with `butler verify`
// as the oracle: after each fault the repository must verify clean, or be
// repaired to clean by `verify --repair --yes` alone, and a rerun of the
// interrupted command must complete it exactly (every dataset there once,
// verify clean).
//
// Kill -9 at points spread over a whole run (variant.kill): `ingest-raws`
// by copy and symlink into SQLite+POSIX, by copy into SQLite+S3,
// PostgreSQL+POSIX and PostgreSQL+S3; a loop of Butler.Put in a child
// process on SQLite and PostgreSQL; `prune-datasets --purge`, `remove-runs`
// and `transfer-datasets`; `import` (copy) and `ingest-zip` (copy) on
// SQLite and PostgreSQL. BUTLER_FAULT_POINTS sets the kill points per
// variant (default 10 on SQLite+POSIX, 5 with PostgreSQL or S3, so 110 in
// all); -short skips the campaign. Each variant makes its starting
// repository once and copies it for every run (cloneRepo), and verify runs
// in this process, so that a kill point costs little more than the killed
// run and its rerun.
//
// Other faults: the faulty storage backend failing each call kind once
// during put, ingest, import, purge and remove-runs (TestFaultyStorage);
// the PostgreSQL server restarted mid-run (TestPostgresRestart); a full
// disk (TestDiskFull on a tmpfs, TestDiskFull_ENOSPC); 2 and 8 concurrent
// writer processes (TestConcurrentWriters). Each logs a line starting
// "TALLY" with its counts (go test -v ./internal/campaign | grep TALLY).
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
)

func TestMain(m *testing.M) {
	stop := pgtest.Start()
	code := m.Run()
	repotest.RemoveBinary()
	stop()
	os.Exit(code)
}

// points is the number of kill points of a variant: BUTLER_FAULT_POINTS when
// set, else 10 for a cheap variant (SQLite and POSIX) and 5 for one on
// PostgreSQL or S3: 110 over the 14 variants, which keeps `go test
// ./internal/campaign` near two minutes on a 2-core machine.
func points(cheap bool) int {
	if n, err := strconv.Atoi(os.Getenv("BUTLER_FAULT_POINTS")); err == nil && n > 0 {
		return n
	}
	if cheap {
		return 10
	}
	return 5
}

// tally counts what the campaign did.
type tally struct {
	kills, finishedFirst, reruns, problems, repaired, left int
}

func (c tally) String() string {
	return fmt.Sprintf("%d kills landed (%d runs finished before the kill), %d reruns, %d problems found, %d repaired, %d left",
		c.kills, c.finishedFirst, c.reruns, c.problems, c.repaired, c.left)
}

// verifyJSON runs `butler verify REPO --orphans --checksums` (in this process) and returns the
// problem kinds it printed and its exit status.
func verifyJSON(t *testing.T, root string, extra ...string) ([]string, int) {
	t.Helper()
	args := append([]string{"verify", root, "--orphans", "--checksums", "--format", "json"}, extra...)
	stdout, stderr, code := runCLI(t, args...)
	var kinds []string
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("verify printed %q: %v", sc.Text(), err)
		}
		if k, ok := obj["kind"].(string); ok {
			kinds = append(kinds, k)
		}
	}
	if code != 0 && code != 1 {
		t.Fatalf("butler %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return kinds, code
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
	srv := s3Server(t, store == "s3") // a fresh bucket for each repository
	v := variant{
		name:  fmt.Sprintf("ingest-raws --transfer %s into SQLite+%s, %d raws", transfer, store, raws),
		cheap: store == "posix",
		newRepo: func(t *testing.T) string {
			root := filepath.Join(t.TempDir(), "repo")
			mustCLI(t, append(append([]string{"create"}, templateSeed(t, pgtest.SQLite, srv)...), root)...)
			mustCLI(t, "register-instrument", root, "lsst.obs.lsst.LsstCam")
			return root
		},
		srv: srv,
		command: func(root string) *exec.Cmd {
			return exec.Command(bin, "ingest-raws", "--transfer", transfer, "--batch-size", "10", root, src)
		},
		check: func(t *testing.T, root string) { checkRaws(t, root, raws) },
	}
	v.kill(t)
}

// checkRaws checks that root has raws raws in LSSTCam/raw/all.
func checkRaws(t *testing.T, root string, raws int) {
	t.Helper()
	out := mustCLI(t, "query-datasets", root, "raw", "--collections", "LSSTCam/raw/all", "--format", "csv")
	if n := strings.Count(strings.TrimSpace(out), "\n"); n != raws { // rows after the header
		t.Errorf("%d raws, want %d", n, raws)
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

// putLoopRepo makes a repository for the put loop, created with the
// `butler create` options createArgs (seedFor, templateSeed).
func putLoopRepo(t *testing.T, createArgs []string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	mustCLI(t, append(append([]string{"create"}, createArgs...), root)...)
	b := repotest.Open(t, root)
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
	v := variant{
		name:    fmt.Sprintf("put loop of %d datasets on %s", loopN, dialect),
		cheap:   dialect == pgtest.SQLite,
		newRepo: func(t *testing.T) string { return putLoopRepo(t, templateSeed(t, dialect, nil)) },
		command: putLoopCmd,
		check: func(t *testing.T, root string) {
			if n := putLoopCheck(t, root); n != loopN {
				t.Errorf("%d datasets, want %d", n, loopN)
			}
		},
	}
	v.kill(t)
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
		t.Run(strings.Fields(tc.name)[0], func(t *testing.T) {
			v := variant{
				name:    fmt.Sprintf("%s of %d datasets", tc.name, perRun*len(runs)),
				cheap:   true,
				newRepo: func(*testing.T) string { return tc.setup() },
				command: func(root string) *exec.Cmd {
					args := slices.Clone(tc.args)
					args[slices.Index(args, "REPO")] = root
					return exec.Command(bin, args...)
				},
				check: func(t *testing.T, root string) {
					if got := count(root); !maps.Equal(got, tc.want) {
						t.Errorf("datasets by run %v, want %v", got, tc.want)
					}
				},
			}
			v.kill(t)
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
