package ingest_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/progress"
	"github.com/google/go-cmp/cmp"
)

// corpus raw files used by several tests, relative to raws/.
const (
	rawDet029 = "lsstCam/raw/2019-03-19/3019031900001/3019031900001-R10-S02-det029.fits"
	rawDet097 = "lsstCam/raw/2019-03-19/3019031900001/3019031900001-R22-S21-det097.fits"
	rawDet035 = "lsstCam/raw/2019-03-22/3019032200002/3019032200002-R10-S22-det035.fits"
	rawDet098 = "lsstCam/raw/2021-12-12/30211212000310/30211212000310-R22-S22-det098.fits"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// With FailFast, batches before the bad file's stay committed and nothing of
// the bad file's batch is. One reader keeps the files in directory order.
func TestRaws_FailFastBatchBoundary(t *testing.T) {
	raws := filepath.Join(corpusRoot(t), "raws")
	dir := t.TempDir()
	copyFile(t, filepath.Join(raws, rawDet029), filepath.Join(dir, "a-det029.fits"))
	copyFile(t, filepath.Join(raws, rawDet097), filepath.Join(dir, "b-det097.fits"))
	if err := os.WriteFile(filepath.Join(dir, "c-bad.fits"), []byte("not FITS"), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(raws, rawDet035), filepath.Join(dir, "d-det035.fits"))
	b := newRepo(t)
	registerAll(t, b)
	_, err := ingest.Raws(context.Background(), b, []string{dir}, ingest.Options{Transfer: "copy", Processes: 1, BatchSize: 2, FailFast: true})
	if err == nil || !strings.Contains(err.Error(), "c-bad.fits") {
		t.Fatalf("Raws(FailFast) = %v, want an error naming c-bad.fits", err)
	}
	var got []string
	for _, r := range rawRefs(t, b) {
		got = append(got, fmt.Sprint(r.DataID["detector"]))
	}
	sort.Strings(got)
	if d := cmp.Diff([]string{"29", "97"}, got); d != "" {
		t.Errorf("detectors ingested (-want +got): first batch committed, second not:\n%s", d)
	}
	if _, ok := records(t, b, "exposure")[dimensions.DataID{"instrument": "LSSTCam", "exposure": int64(3019032200002)}.String()]; ok {
		t.Errorf("the exposure of the failed batch's good file was committed")
	}
	checkEveryDatasetHasItsFile(t, b)
}

// A failing dataset ingest fails its exposure's files only: upstream ingests
// one exposure per transaction, and a failure in one does not roll back or
// block the others (reference instruments_and_ingest.md §2.11, gotcha 10).
func TestRaws_ConflictScopedToExposure(t *testing.T) {
	raws := filepath.Join(corpusRoot(t), "raws")
	ctx := context.Background()
	b := newRepo(t)
	registerAll(t, b)
	if _, err := ingest.Raws(ctx, b, []string{filepath.Join(raws, rawDet029)}, ingest.Options{Transfer: "symlink"}); err != nil {
		t.Fatal(err)
	}
	all := []string{rawDet029, rawDet097, rawDet035, rawDet098}
	var locs []string
	for _, r := range all {
		locs = append(locs, filepath.Join(raws, r))
	}
	res, err := ingest.Raws(ctx, b, locs, ingest.Options{Transfer: "symlink", NoSkipExisting: true})
	if err != nil {
		t.Fatalf("Raws(NoSkipExisting): %v", err)
	}
	failed := map[string]bool{}
	for _, f := range res.Failures {
		failed[filepath.Base(f.Path)] = true
	}
	if !failed[filepath.Base(rawDet029)] {
		t.Errorf("the already-ingested det029 did not fail with NoSkipExisting: failures %v", res.Failures)
	}
	// det035 and det098 belong to other exposures and must be ingested.
	for _, r := range []string{rawDet035, rawDet098} {
		if failed[filepath.Base(r)] {
			t.Errorf("BUG: %s (another exposure) failed because det029 already existed: %v", filepath.Base(r), failureOf(res, r))
		}
	}
	if res.Ingested < 2 {
		t.Errorf("Raws(NoSkipExisting): ingested %d, want at least det035 and det098", res.Ingested)
	}
	checkEveryDatasetHasItsFile(t, b)
}

func failureOf(res ingest.Result, rel string) error {
	for _, f := range res.Failures {
		if strings.HasSuffix(f.Path, filepath.FromSlash(rel)) {
			return f.Err
		}
	}
	return nil
}

// A stored exposure record that differs from the header's is a conflict for
// that exposure's files; UpdateRecords overwrites it.
func TestRaws_ExposureRecordConflict(t *testing.T) {
	raws := filepath.Join(corpusRoot(t), "raws")
	ctx := context.Background()
	b := newRepo(t)
	registerAll(t, b)
	if _, err := ingest.Raws(ctx, b, []string{filepath.Join(raws, rawDet029)}, ingest.Options{Transfer: "symlink"}); err != nil {
		t.Fatal(err)
	}
	key := dimensions.DataID{"instrument": "LSSTCam", "exposure": int64(3019031900001)}.String()
	orig := records(t, b, "exposure")[key]
	changed := dimensions.Record{Element: orig.Element, Values: map[string]any{}}
	for k, v := range orig.Values {
		changed.Values[k] = v
	}
	changed.Values["science_program"] = "edited"
	if err := b.InsertRecords(ctx, "exposure", []dimensions.Record{changed}, butler.InsertReplace); err != nil {
		t.Fatal(err)
	}
	det097 := filepath.Join(raws, rawDet097)
	det035 := filepath.Join(raws, rawDet035)
	res, err := ingest.Raws(ctx, b, []string{det097, det035}, ingest.Options{Transfer: "symlink"})
	if err != nil {
		t.Fatalf("Raws: %v", err)
	}
	if len(res.Failures) != 1 || res.Failures[0].Path != det097 || !errors.Is(res.Failures[0].Err, errs.ErrConflict) {
		t.Errorf("Raws over a changed exposure record: failures %v, want det097 with errs.ErrConflict", res.Failures)
	} else if msg := res.Failures[0].Err.Error(); !strings.Contains(msg, "use --update-records to overwrite") || strings.Contains(msg, "--update ") {
		t.Errorf("record conflict message %q, want it to name ingest-raws' --update-records (it has no --update)", msg)
	}
	if res.Ingested != 1 {
		t.Errorf("Raws: ingested %d, want 1 (det035, another exposure)", res.Ingested)
	}
	if got := records(t, b, "exposure")[key].Values["science_program"]; got != "edited" {
		t.Errorf("conflicting ingest overwrote the exposure record: science_program %v", got)
	}

	res, err = ingest.Raws(ctx, b, []string{det097}, ingest.Options{Transfer: "symlink", UpdateRecords: true})
	if err != nil || len(res.Failures) != 0 || res.Ingested != 1 {
		t.Fatalf("Raws(UpdateRecords): ingested %d, failures %v, err %v; want 1, none, nil", res.Ingested, res.Failures, err)
	}
	if got, want := records(t, b, "exposure")[key].Values["science_program"], orig.Values["science_program"]; got != want {
		t.Errorf("UpdateRecords left science_program = %v, want the header's %v", got, want)
	}
}

// The output run changes the run and so the deterministic IDs; direct
// transfer records the source file's absolute URI.
func TestRaws_OutputRunAndDirect(t *testing.T) {
	raws := filepath.Join(corpusRoot(t), "raws")
	ctx := context.Background()
	b := newRepo(t)
	registerAll(t, b)
	src := filepath.Join(raws, rawDet035)
	const run = "u/someone/raws"
	res, err := ingest.Raws(ctx, b, []string{src}, ingest.Options{Transfer: "direct", Run: run})
	if err != nil || res.Ingested != 1 {
		t.Fatalf("Raws(direct, run %s): ingested %d, %v", run, res.Ingested, err)
	}
	id := rawUUID(run, "LSSTCam", 3019032200002, 35)
	refs := rawRefs(t, b)
	ref, ok := refs[id]
	if !ok || ref.Run != run {
		t.Fatalf("raw in %s: want ID %s, have %v", run, id, refs)
	}
	uris, err := b.URIs(ctx, []dataset.ID{id})
	if err != nil {
		t.Fatal(err)
	}
	if got := repoPath(t, b, uris[id]); got != src {
		t.Errorf("direct ingest stored %s, want the source %s", got, src)
	}
	if files := repoFiles(t, b.Root); len(files) != 0 {
		t.Errorf("direct ingest wrote into the repository: %v", files)
	}
}

// killEnv makes the test binary run ingestChild instead of the tests.
const killEnv = "BUTLER_INGEST_KILL_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(killEnv); spec != "" {
		os.Exit(ingestChild(spec))
	}
	os.Exit(m.Run())
}

// ingestChild ingests SRC into REPO (spec "REPO\tSRC") and prints "done N"
// after every batch, so that the parent can kill it part way.
func ingestChild(spec string) int {
	repo, src, _ := strings.Cut(spec, "\t")
	ctx := context.Background()
	b, err := butler.Open(ctx, repo, butler.OpenOptions{Writeable: true})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	_, err = ingest.Raws(ctx, b, []string{src}, ingest.Options{Transfer: "symlink", Processes: 2, BatchSize: 10, Progress: printer{}})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("finished")
	return 0
}

type printer struct{}

func (printer) Task(string, int64) progress.Task { return &printTask{} }

type printTask struct{ progress.Counter }

func (p *printTask) Add(n int64) {
	p.Counter.Add(n)
	done, _, _ := p.Counter.Value()
	fmt.Println("done", done)
}

// A kill -9 part way through an ingest leaves no dataset without its file,
// and running the ingest again completes it.
func TestRaws_KillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	src := t.TempDir()
	total := len(rawtest.Write(t, src, rawtest.LSSTCam, 100, 6))
	for _, killAt := range []int{10, 200} {
		t.Run("after "+strconv.Itoa(killAt), func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			if _, err := butler.Create(ctx, root, butler.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			func() {
				b, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true})
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				registerAll(t, b)
			}()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), killEnv+"="+root+"\t"+src)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			killed := false
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				line := sc.Text()
				if n, ok := strings.CutPrefix(line, "done "); ok {
					if v, _ := strconv.Atoi(n); v >= killAt && !killed {
						cmd.Process.Kill() // SIGKILL: no deferred cleanup runs
						killed = true
					}
				} else if strings.HasPrefix(line, "error") {
					t.Errorf("child: %s", line)
				}
			}
			cmd.Wait()
			if !killed {
				t.Fatalf("the child finished before %d files were done", killAt)
			}

			b, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true})
			if err != nil {
				t.Fatalf("open after kill -9: %v", err)
			}
			defer b.Close()
			n := checkEveryDatasetHasItsFile(t, b)
			t.Logf("killed after %d reported: %d of %d raws in the repository", killAt, n, total)
			if n >= total {
				t.Errorf("the kill came too late: all %d raws are in", total)
			}
			start := time.Now()
			res, err := ingest.Raws(ctx, b, []string{src}, ingest.Options{Transfer: "symlink", Processes: 2})
			if err != nil || len(res.Failures) != 0 {
				t.Fatalf("re-run after kill -9: %v, failures %v", err, res.Failures)
			}
			if res.Ingested+res.Skipped != total {
				t.Errorf("re-run: ingested %d + skipped %d, want %d (%s)", res.Ingested, res.Skipped, total, time.Since(start))
			}
			if got := checkEveryDatasetHasItsFile(t, b); got != total {
				t.Errorf("after the re-run: %d raws, want %d", got, total)
			}
		})
	}
}

// Every transfer mode leaves the raw readable in the repository with the same
// bytes; move removes the source, the others keep it.
func TestRaws_TransferModes(t *testing.T) {
	raws := filepath.Join(corpusRoot(t), "raws")
	orig, err := os.ReadFile(filepath.Join(raws, rawDet035))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"auto", "link", "symlink", "hardlink", "copy", "move", "relsymlink", "direct"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			// A private copy: move must never touch the corpus.
			src := filepath.Join(t.TempDir(), "det035.fits")
			copyFile(t, filepath.Join(raws, rawDet035), src)
			b := newRepo(t)
			registerAll(t, b)
			res, err := ingest.Raws(ctx, b, []string{src}, ingest.Options{Transfer: mode})
			if err != nil || res.Ingested != 1 {
				t.Fatalf("Raws(%s): ingested %d, failures %v, %v", mode, res.Ingested, res.Failures, err)
			}
			refs := rawRefs(t, b)
			for _, ref := range refs {
				data, err := b.GetRef(ctx, ref)
				if err != nil {
					t.Fatalf("GetRef after %s: %v", mode, err)
				}
				if string(data) != string(orig) {
					t.Errorf("after %s the stored raw has %d bytes that differ from the source's %d", mode, len(data), len(orig))
				}
			}
			_, statErr := os.Stat(src)
			if mode == "move" && statErr == nil {
				t.Errorf("move left the source in place")
			}
			if mode != "move" && statErr != nil {
				t.Errorf("%s removed the source: %v", mode, statErr)
			}
			if got := checkEveryDatasetHasItsFile(t, b); got != 1 {
				t.Errorf("%d raws, want 1", got)
			}
		})
	}
}
