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
	root, dataID := latissRaw(t, "symlink")
	get := append([]string{"get", root, "", "--collections", "LATISS/raw/all"}, dataID...)
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

// TestGet_ComponentRemote: components read through `butler serve` are the
// ones read locally, byte for byte (the headers are read in ranges from the
// server's signed file URL), and the refusals say the same.
func TestGet_ComponentRemote(t *testing.T) {
	t.Parallel()
	root, dataID := latissRaw(t, "copy")
	srv := serveRepo(t, root)
	for _, args := range [][]string{
		{"raw.bbox"}, {"raw.dimensions", "--format", "json"}, {"raw.xy0"},
		{"raw.metadata"}, {"raw.metadata", "--format", "json"},
	} {
		get := append(append([]string{"get", "R", args[0], "--collections", "LATISS/raw/all"}, dataID...), args[1:]...)
		local := append([]string{}, get...)
		local[1] = root
		want := run(t, local...)
		got := srv.run(t, srv.token, get...)
		if got.Code != 0 || got.Stdout != want.Stdout || len(want.Stdout) < 10 {
			t.Errorf("get %s through the server: %s\nlocally:\n%.300s", strings.Join(args, " "), got, want.Stdout)
		}
	}
	get := append([]string{"get", "R", "raw.wcs", "--collections", "LATISS/raw/all"}, dataID...)
	if res := srv.run(t, srv.token, get...); res.Code != 1 || !strings.Contains(res.Stderr, "component wcs of storage class Exposure is not readable by this butler") {
		t.Errorf("get raw.wcs through the server: %s", res)
	}
}

// latissRaw makes a repository holding one synthetic LATISS raw, ingested
// with transfer, and returns its root and the raw's data ID as --data-id
// arguments.
func latissRaw(t *testing.T, transfer string) (string, []string) {
	t.Helper()
	root, b := repotest.New(t)
	b.Close()
	files := rawtest.Write(t, t.TempDir(), "LATISS", 1, 0)
	run(t, "register-instrument", root, "lsst.obs.lsst.Latiss")
	run(t, "ingest-raws", root, files[0], "--transfer", transfer)
	rows := jsonRows(t, run(t, "query-datasets", root, "raw", "--collections", "LATISS/raw/all", "--format", "json").Stdout)
	if len(rows) != 1 {
		t.Fatalf("%d raws, want 1", len(rows))
	}
	did := rows[0]["data_id"].(map[string]any)
	return root, []string{"--data-id", "instrument=LATISS",
		"--data-id", "exposure=" + jsonScalar(did["exposure"]), "--data-id", "detector=" + jsonScalar(did["detector"])}
}
