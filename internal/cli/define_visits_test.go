package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

func TestGolden_DefineVisitsHelp(t *testing.T) {
	out := mustMain(t, "define-visits", "--help")
	checkGolden(t, "define_visits/help", []byte(out), true)
}

// TestDefineVisitsCommand runs define-visits on ingested synthetic raws:
// its summary (pinned), a re-run, the JSON summary, the spatial query of
// raws it enables, and its exit codes.
func TestDefineVisitsCommand(t *testing.T) {
	raws := rawtest.Write(t, t.TempDir(), "LSSTCam", 12, 3)
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		root := filepath.Join(t.TempDir(), "repo")
		mustMain(t, append(append([]string{"create"}, repotest.CreateArgs(t, dialect)...), root)...)
		mustMain(t, "register-instrument", root, "lsst.obs.lsst.LsstCam")
		mustMain(t, append([]string{"ingest-raws", "-t", "symlink", root}, raws...)...)

		// Usage and input errors change nothing.
		if _, errOut, code := mainOut(t, "define-visits", root, "LSSTCam", "--prefilter", "--update-records"); code != 2 || !strings.Contains(errOut, "--prefilter") {
			t.Errorf("--prefilter --update-records: exit %d, %q; want 2", code, errOut)
		}
		if _, errOut, code := mainOut(t, "define-visits", root, "lsst.obs.lsst.NoCam"); code != 1 || !strings.Contains(errOut, "not registered") {
			t.Errorf("unknown instrument: exit %d, %q; want 1", code, errOut)
		}
		if _, errOut, code := mainOut(t, "define-visits", root, "LSSTCam", "--where", "exposure.nosuch = 1"); code != 1 || !strings.Contains(errOut, "nosuch") {
			t.Errorf("bad where: exit %d, %q; want 1", code, errOut)
		}
		cfg := filepath.Join(t.TempDir(), "dv.py")
		if err := os.WriteFile(cfg, []byte("config.groupExposures.name = 'one-to-one'\nconfig.nosuch = 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, errOut, code := mainOut(t, "define-visits", root, "LSSTCam", "-C", cfg); code != 1 || !strings.Contains(errOut, "dv.py line 2") {
			t.Errorf("bad config file: exit %d, %q; want 1 naming the line", code, errOut)
		}
		if out := mustMain(t, "query-dimension-records", root, "visit"); !strings.Contains(out, "No results") && strings.Contains(out, "LSSTCam") {
			t.Errorf("visits after failed runs:\n%s", out)
		}

		out := mustMain(t, "define-visits", root, "lsst.obs.lsst.LsstCam")
		checkGolden(t, "define_visits/first_run", []byte(out), dialect == pgtest.SQLite)
		out = mustMain(t, "define-visits", root, "LSSTCam", "-c", "groupExposures.name=one-to-one")
		checkGolden(t, "define_visits/second_run", []byte(out), dialect == pgtest.SQLite)
		var sum map[string]any
		if err := json.Unmarshal([]byte(mustMain(t, "define-visits", root, "LSSTCam", "--format", "json")), &sum); err != nil {
			t.Fatal(err)
		}
		if sum["unchanged"] != sum["visits"] || sum["new"] != 0.0 || sum["algorithm"] != "one-to-one" {
			t.Errorf("JSON summary %v", sum)
		}

		// A point inside one raw's detector region finds that raw.
		var regions []map[string]any
		if err := json.Unmarshal([]byte(mustMain(t, "query-dimension-records", root, "visit_detector_region", "--format", "json")), &regions); err != nil {
			t.Fatal(err)
		}
		var ids []map[string]any
		if err := json.Unmarshal([]byte(mustMain(t, "query-datasets", root, "raw", "--collections", "LSSTCam/raw/all", "--format", "json")), &ids); err != nil {
			t.Fatal(err)
		}
		var target map[string]any
		for _, r := range regions {
			for _, raw := range ids {
				id := raw["data_id"].(map[string]any)
				if id["detector"] == r["detector"] && id["exposure"] == r["visit"] {
					target = r
				}
			}
		}
		if target == nil {
			t.Fatal("no raw has a detector region")
		}
		pos := strings.Fields(target["region"].(map[string]any)["pos"].(string))[1:]
		lon, lat := mean(t, pos[0], pos[2], pos[4], pos[6]), mean(t, pos[1], pos[3], pos[5], pos[7])
		where := "visit_detector_region.region OVERLAPS POINT(" + lon + ", " + lat + ")"
		var found []map[string]any
		if err := json.Unmarshal([]byte(mustMain(t, "query-datasets", root, "raw", "--collections", "LSSTCam/raw/all", "--where", where, "--format", "json")), &found); err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0]["data_id"].(map[string]any)["detector"] != target["detector"] || found[0]["data_id"].(map[string]any)["exposure"] != target["visit"] {
			t.Errorf("%s: %v, want the raw of detector %v, exposure %v", where, found, target["detector"], target["visit"])
		}
	})
}

// mean averages decimal degrees (the corners of a small detector region,
// away from RA 0) and formats the result.
func mean(t *testing.T, vals ...string) string {
	t.Helper()
	var sum float64
	for _, v := range vals {
		var f float64
		if _, err := fmt.Sscan(v, &f); err != nil {
			t.Fatal(err)
		}
		sum += f
	}
	return strconv.FormatFloat(sum/float64(len(vals)), 'f', 8, 64)
}

func TestGolden_UpdateExposuresFromRawsHelp(t *testing.T) {
	out := mustMain(t, "update-exposures-from-raws", "--help")
	checkGolden(t, "update_exposures_from_raws/help", []byte(out), true)
	if _, errOut, code := mainOut(t, "update-exposures-from-raws", t.TempDir(), "LSSTCam"); code != 2 || !strings.Contains(errOut, "--where") {
		t.Errorf("without --where: exit %d, %q; want 2", code, errOut)
	}
}

func TestGolden_UpdateDimensionRegionsHelp(t *testing.T) {
	out := mustMain(t, "update-dimension-regions", "--help")
	checkGolden(t, "update_dimension_regions/help", []byte(out), true)
	if _, errOut, code := mainOut(t, "update-dimension-regions", t.TempDir(), "LSSTCam"); code != 2 || !strings.Contains(errOut, "COLLECTIONS") {
		t.Errorf("without collections: exit %d, %q; want 2", code, errOut)
	}
}
