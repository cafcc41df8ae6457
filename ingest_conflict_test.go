package butler_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/ingest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// rawsByExposure lists the ingested raws as "exposure/detector", sorted.
func rawsByExposure(t *testing.T, b *butler.Butler) []string {
	t.Helper()
	var out []string
	if _, err := b.DatasetType(t.Context(), "raw"); err != nil {
		return nil
	}
	for _, r := range queryRefs(t, b, butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"LSSTCam/raw/all"}}) {
		out = append(out, fmt.Sprintf("%v/%v", r.DataID["exposure"], r.DataID["detector"]))
	}
	slices.Sort(out)
	return out
}

// TestRaws_SameDataIDTwice: the same raw under two names in one ingest fails
// its exposure with an ingest conflict naming both files, as obs_base's
// RawIngestTask does, while other exposures are ingested; the same path
// given twice is one file.
func TestRaws_SameDataIDTwice(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		if _, err := ingest.RegisterInstrument(ctx, b, "lsst.obs.lsst.LsstCam", false); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		files := rawtest.Write(t, dir, "LSSTCam", 2, 2) // exposure A: files[0:2], B: files[2:4]
		data, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		dup := filepath.Join(filepath.Dir(files[0]), "copy-of-"+filepath.Base(files[0]))
		if err := os.WriteFile(dup, data, 0o644); err != nil {
			t.Fatal(err)
		}

		// The same path given twice (and once more spelt differently) counts once.
		again := filepath.Join(filepath.Dir(files[2]), ".") + string(filepath.Separator) + "." + string(filepath.Separator) + filepath.Base(files[2])
		res, err := ingest.Raws(ctx, b, []string{files[2], files[2], again}, ingest.Options{Transfer: "symlink"})
		if err != nil || res.Ingested != 1 || res.Skipped != 0 || len(res.Failures) != 0 {
			t.Fatalf("Raws(same path thrice) = ingested %d, skipped %d, failures %v, %v; want 1, 0, none", res.Ingested, res.Skipped, res.Failures, err)
		}
		expB, _, _ := strings.Cut(rawsByExposure(t, b)[0], "/")

		res, err = ingest.Raws(ctx, b, []string{dir}, ingest.Options{Transfer: "symlink", Processes: 2})
		if err != nil {
			t.Fatal(err)
		}
		if res.Ingested != 1 || res.Skipped != 1 || len(res.Failures) != 3 {
			t.Fatalf("Raws(dir with a duplicate) = ingested %d, skipped %d, failures %v; want 1, 1 and exposure A's 3 files", res.Ingested, res.Skipped, res.Failures)
		}
		var failed []string
		for _, f := range res.Failures {
			failed = append(failed, f.Path)
			msg := f.Err.Error()
			if !errors.Is(f.Err, errs.ErrConflict) || !strings.Contains(msg, "ingest conflict") ||
				!strings.Contains(msg, files[0]) || !strings.Contains(msg, dup) {
				t.Errorf("failure of %s = %v, want an ingest conflict naming %s and %s", f.Path, f.Err, files[0], dup)
			}
		}
		if want := []string{dup, files[0], files[1]}; !slices.Equal(failed, slices.Sorted(slices.Values(want))) {
			t.Errorf("failed files = %v, want exposure A's %v", failed, want)
		}
		got := rawsByExposure(t, b)
		if len(got) != 2 || !strings.HasPrefix(got[0], expB+"/") || !strings.HasPrefix(got[1], expB+"/") {
			t.Errorf("raws = %v, want exposure B's two only", got)
		}
		if fps := res.FilesPerSecond(); fps*res.Elapsed.Seconds() > 2.001 {
			t.Errorf("files/s %.1f × %.3fs counts more than the 2 files ingested or skipped", fps, res.Elapsed.Seconds())
		}
		repotest.CheckConsistent(t, b)

		// The duplicate in a later batch than its original: the original stays,
		// the later file fails naming both.
		res, err = ingest.Raws(ctx, b, []string{files[0], files[1], dup}, ingest.Options{Transfer: "symlink", BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		if res.Ingested != 2 || len(res.Failures) != 1 || res.Failures[0].Path != dup ||
			!strings.Contains(res.Failures[0].Err.Error(), files[0]) || !errors.Is(res.Failures[0].Err, errs.ErrConflict) {
			t.Errorf("Raws(duplicate in a later batch) = ingested %d, failures %v; want 2 and %s naming %s", res.Ingested, res.Failures, dup, files[0])
		}
		if got := rawsByExposure(t, b); len(got) != 4 {
			t.Errorf("raws = %v, want all four data IDs", got)
		}
	})
}
