package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestGet_Component: `butler get REPO raw.<component>` writes the component
// (YAML, or JSON with --format json), never the raw file; components it
// cannot read, or that the storage class lacks, fail with one clear line.
func TestGet_Component(t *testing.T) {
	t.Parallel()
	root, b := repotest.New(t)
	b.Close()
	files := rawtest.Write(t, t.TempDir(), "LATISS", 1, 0)
	run(t, "register-instrument", root, "lsst.obs.lsst.Latiss")
	run(t, "ingest-raws", root, files[0], "--transfer", "symlink")
	rows := jsonRows(t, run(t, "query-datasets", root, "raw", "--collections", "LATISS/raw/all", "--format", "json").Stdout)
	if len(rows) != 1 {
		t.Fatalf("%d raws, want 1", len(rows))
	}
	did := rows[0]["data_id"].(map[string]any)
	get := []string{"get", root, "", "--collections", "LATISS/raw/all", "--data-id", "instrument=LATISS",
		"--data-id", "exposure=" + jsonScalar(did["exposure"]), "--data-id", "detector=" + jsonScalar(did["detector"])}
	with := func(typ string, more ...string) []string {
		args := append([]string(nil), get...)
		args[2] = typ
		return append(args, more...)
	}

	// LATISS: 16 amplifiers of 8×8 pixels in 2 rows of 8.
	if got, want := run(t, with("raw.bbox")...).Stdout, "minimum:\n  x: 0\n  \"y\": 0\nmaximum:\n  x: 63\n  \"y\": 15\n"; got != want {
		t.Errorf("get raw.bbox = %q, want %q", got, want)
	}
	if got, want := run(t, with("raw.dimensions", "--format", "json")...).Stdout, "{\n  \"x\": 64,\n  \"y\": 16\n}\n"; got != want {
		t.Errorf("get raw.dimensions --format json = %q, want %q", got, want)
	}
	var md map[string]any
	out := run(t, with("raw.metadata", "--format", "json")...).Stdout
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		t.Fatalf("get raw.metadata --format json: %v\n%.300s", err, out)
	}
	if md["INSTRUME"] != "LATISS" || md["OBSID"] == nil {
		t.Errorf("metadata INSTRUME = %v, OBSID = %v; want LATISS and an OBSID", md["INSTRUME"], md["OBSID"])
	}
	if yml := run(t, with("raw.metadata")...).Stdout; !strings.HasPrefix(yml, "SIMPLE: true\n") || strings.Contains(yml, "\x00") {
		t.Errorf("get raw.metadata: %.200q, want a YAML mapping", yml)
	}

	for _, tt := range []struct {
		typ  string
		code int
		want []string
	}{
		{"raw.wcs", 1, []string{"component wcs of storage class Exposure is not readable by this butler"}},
		{"raw.nosuch", 1, []string{`no component "nosuch"`, "valid components: apCorrMap, bbox,", "xy0"}},
	} {
		res := repotest.Cmd{Args: with(tt.typ)}.Run(t)
		if res.Code != tt.code || res.Stdout != "" {
			t.Errorf("get %s: exit %d with %d bytes on stdout, want exit %d and none\n%s", tt.typ, res.Code, len(res.Stdout), tt.code, res.Stderr)
			continue
		}
		oneLine(t, res, tt.want...)
	}
	if res := (repotest.Cmd{Args: with("raw.bbox", "--format", "xml")}).Run(t); res.Code != 2 {
		t.Errorf("get --format xml: exit %d, want 2", res.Code)
	}
}
