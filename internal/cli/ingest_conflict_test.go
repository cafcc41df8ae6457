package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestIngestRaws_SameDataIDTwice: the same raw under two names fails its
// exposure with an ingest conflict naming both files, exit status 3; the
// other exposure is ingested and the files/s figure counts it only.
func TestIngestRaws_SameDataIDTwice(t *testing.T) {
	t.Parallel()
	root, b := repotest.New(t)
	b.Close()
	dir := t.TempDir()
	files := rawtest.Write(t, dir, "LATISS", 2, 0) // one detector: one file per exposure
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	dup := filepath.Join(filepath.Dir(files[0]), "renamed-"+filepath.Base(files[0]))
	if err := os.WriteFile(dup, data, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "register-instrument", root, "lsst.obs.lsst.Latiss")
	res := repotest.Cmd{Args: []string{"ingest-raws", root, dir, files[1], "--transfer", "symlink"}}.Run(t)
	if res.Code != 3 {
		t.Fatalf("ingest-raws with a duplicate: exit %d, want 3\n%s", res.Code, res)
	}
	for _, f := range []string{files[0], dup} {
		if !strings.Contains(res.Stderr, "failed: "+f+": ingest conflict in exposure") {
			t.Errorf("stderr does not list %s as an ingest conflict:\n%s", f, res.Stderr)
		}
	}
	if strings.Count(res.Stderr, files[0]) != 3 || strings.Count(res.Stderr, dup) != 3 { // each failure names both
		t.Errorf("the failures do not each name both files:\n%s", res.Stderr)
	}
	m := regexp.MustCompile(`^Ingested 1, skipped 0, failed 2 file\(s\) of 1 exposure\(s\) in ([0-9.]+)s \(([0-9]+) files/s\)\.\n$`).FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("summary = %q, want 1 ingested (files[1] given twice counts once), 2 failed", res.Stdout)
	}
	if rows := datasetRows(t, root, "raw", "--collections", "LATISS/raw/all"); len(rows) != 1 {
		t.Errorf("raws after ingest: %v, want the other exposure's one", rows)
	}
}
