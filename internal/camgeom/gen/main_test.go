package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A small obs_lsst-like policy: one CCD template reached through anchors
// and merge keys, a raft template of two slots, a plain raft, a raft turned
// by 90° whose first CCD has geometryWithinRaft and whose file name is an
// alias (R00W, named R00 in detector names, as generateCamera does) and a
// raft listed without a file.
var synthetic = map[string]string{
	"policy/cameraHeader.yaml": `name : "Test"
CCD_X : &CCD_X
    detectorType : 0
    refpos : [99.5, 49.5]
    offset : [.nan, .nan]
    bbox : [[0, 0], [199, 99]]
    pixelSize : [0.01, 0.02]
    transformDict : {nativeSys : 'Pixels', transforms : None}
    transposeDetector : false
    pitch : 0.0
    yaw : 0.0
    roll : 0.0
RAFT_X:
  ccds :
    S00: &S00_X
      << : *CCD_X
      id : 0
      offset : [-1.0, -2.0]
    S01: &S01_X
      << : *S00_X
      id : 1
      offset : [1.0, 2.0]
`,
	"policy/cameraTransforms.yaml": `plateScale : 20.0
transforms :
  nativeSys : FocalPlane
  FieldAngle :
    transformType : radial
    coeffs : [0.0, 1.0, 0.0, -1e-9]
`,
	"policy/rafts.yaml": `rafts :
  R11 :
    offset : [10.1234567, 0.0]
    id0 : 0
  R00W :
    offset : [-100.0, -100.0]
    id0 : 4
    yaw : 90.
  R99 :
    offset : [0, 0]
    id0 : 50
`,
	"policy/lsstCam/R11.yaml": `R11 :
  detectorType : X
  ccdSerials :
    S01 : B
    S00 : A
`,
	"policy/test/name.yaml": "name: Test\n",
	"policy/test/R00W.yaml": `R00W :
  detectorType : X
  ccdSerials :
    S00 : C
    S01 : D
  geometryWithinRaft :
    S00 : {offset : [0.5, 0.0, 1.5], yaw : 1.0}
  sensorTypes :
    S01 : 3
`,
	"python/lsst/obs/lsst/rawFormatter.py": `class TestRawFormatter(FitsRawFormatterBase):
    translatorClass = X

class FlippedRawFormatter(TestRawFormatter):
    wcsFlipX = True


class ChildRawFormatter(FlippedRawFormatter):
    pass
`,
	"config/test/defineVisits.py": "# comment about padding\nconfig.computeVisitRegions.active.padding = 1234\n",
}

func TestBuild(t *testing.T) {
	src, err := openSource(writeTree(t, synthetic), "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	cam, err := build(src, "Test", "test")
	if err != nil {
		t.Fatal(err)
	}
	if cam.PlateScale != 20 || len(cam.RadialCoeffs) != 4 || cam.RadialCoeffs[3] != -1e-9 || cam.FocalPlaneParity {
		t.Errorf("camera transforms: %+v", cam)
	}
	type want struct {
		id         int
		name       string
		typ        int
		offset     [3]float64
		yaw        float64
		refX, pixY float64
	}
	wants := []want{
		// %g keeps 6 significant digits of 10.1234567 - 1.
		{0, "R11_S00", 0, [3]float64{9.12346, -2, 0}, 0, 99.5, 0.02},
		{1, "R11_S01", 0, [3]float64{11.1235, 2, 0}, 0, 99.5, 0.02},
		// Raft yaw 90° turns (-1 + 0.5, -2) into (2, -0.5); the CCD's own
		// yaw becomes 1 + 90 because it has geometryWithinRaft.
		{4, "R00_S00", 0, [3]float64{-98, -100.5, 1.5}, 91, 99.5, 0.02},
		// No geometryWithinRaft: offset turned, yaw left at the template's.
		{5, "R00_S01", 3, [3]float64{-102, -99, 0}, 0, 99.5, 0.02},
	}
	if len(cam.Detectors) != len(wants) {
		t.Fatalf("%d detectors, want %d: %+v", len(cam.Detectors), len(wants), cam.Detectors)
	}
	for i, w := range wants {
		d := cam.Detectors[i]
		if d.ID != w.id || d.Name != w.name || d.Type != w.typ || d.Offset != w.offset || d.Yaw != w.yaw ||
			d.RefPos[0] != w.refX || d.PixelSize[1] != w.pixY || d.BBox != [4]int{0, 0, 199, 99} || d.PhysicalType != "X" {
			t.Errorf("detector %d: %+v, want %+v", i, d, w)
		}
	}

	flips, err := formatterFlips(src)
	if err != nil {
		t.Fatal(err)
	}
	if flips["TestRawFormatter"] || !flips["FlippedRawFormatter"] || !flips["ChildRawFormatter"] {
		t.Errorf("wcsFlipX: %v", flips)
	}
	if p, err := padding(src, "test"); err != nil || p != 1234 {
		t.Errorf("padding = %d, %v; want 1234", p, err)
	}
	if p, err := padding(src, "other"); err != nil || p != 250 {
		t.Errorf("default padding = %d, %v; want 250", p, err)
	}

	b, err := cam.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != len(wants)+2 {
		t.Errorf("encoding has %d lines, want one per detector plus 2:\n%s", n, b)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name, file, old, new, msg string
	}{
		{"name mismatch", "policy/test/name.yaml", "Test", "Other", `camera name "Other"`},
		{"duplicate id", "policy/rafts.yaml", "id0 : 4", "id0 : 1", "detector id 1 of R00_S00 already used by R11_S01"},
		{"unknown slot", "policy/lsstCam/R11.yaml", "S01 : B", "S02 : B", "CCD S02 is not in RAFT_X"},
		{"bad coeffs", "policy/cameraTransforms.yaml", "[0.0, 1.0,", "[1.0, 1.0,", "need c0 = 0"},
		{"transposed", "policy/cameraHeader.yaml", "transposeDetector : false", "transposeDetector : true", "transposeDetector"},
		{"affine", "policy/cameraTransforms.yaml", "radial", "affine", "is not radial"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range synthetic {
				files[k] = v
			}
			if !strings.Contains(files[tc.file], tc.old) {
				t.Fatalf("%s has no %q", tc.file, tc.old)
			}
			files[tc.file] = strings.Replace(files[tc.file], tc.old, tc.new, 1)
			src, err := openSource(writeTree(t, files), "HEAD")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := build(src, "Test", "test"); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("build: %v, want an error with %q", err, tc.msg)
			}
		})
	}
	src, err := openSource(writeTree(t, map[string]string{
		"policy/x": "", "config/test/defineVisits.py": "config.computeVisitRegions.active.padding = 2 * 3\n",
	}), "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := padding(src, "test"); err == nil || !strings.Contains(err.Error(), "defineVisits.py:1") {
		t.Errorf("padding: %v, want an error naming the line", err)
	}
}

// TestDataIsCurrent regenerates the embedded data from the obs_lsst named
// by $OBS_LSST (a checkout or a bare git directory) and compares. It skips
// without one.
func TestDataIsCurrent(t *testing.T) {
	obs := os.Getenv("OBS_LSST")
	if obs == "" {
		t.Skip("set OBS_LSST to an obs_lsst checkout or git directory to check the embedded data")
	}
	out := t.TempDir()
	if err := run(obs, "HEAD", out); err != nil {
		t.Fatal(err)
	}
	for _, c := range cameras {
		name := c.instrument + ".json"
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(filepath.Join("..", "data", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, have) {
			t.Errorf("data/%s is not what %s generates; run go generate ./internal/camgeom", name, obs)
		}
	}
}
