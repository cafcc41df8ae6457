package camgeom

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/instrument"
	"github.com/gobutler/butler/sphgeom"
)

const deg = math.Pi / 180

func load(t testing.TB, name string) *Camera {
	t.Helper()
	c, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestInstruments(t *testing.T) {
	want := []string{"LATISS", "LSSTCam", "LSSTCam-PhoSim", "LSSTCam-imSim", "LSSTCamSim", "LSSTComCam", "LSSTComCamSim"}
	if got := Instruments(); !slices.Equal(got, want) {
		t.Errorf("Instruments() = %v, want %v", got, want)
	}
	for _, name := range want {
		c := load(t, name)
		if c.Instrument != name {
			t.Errorf("Load(%q).Instrument = %q", name, c.Instrument)
		}
	}
}

// TestDetectorsMatchInstrumentTables checks that ids, names, purposes and
// vendor types agree with internal/instrument's embedded detector tables.
func TestDetectorsMatchInstrumentTables(t *testing.T) {
	for _, in := range instrument.All() {
		t.Run(in.Name, func(t *testing.T) {
			c, err := Load(in.Name)
			if errors.Is(err, errs.ErrNotFound) {
				t.Skipf("no camera geometry for %s", in.Name)
			} else if err != nil {
				t.Fatal(err)
			}
			ids := c.Detectors()
			if len(ids) != len(in.Detectors) {
				t.Fatalf("%d detectors, instrument table has %d", len(ids), len(in.Detectors))
			}
			for i, want := range in.Detectors {
				got, ok := c.Detector(ids[i])
				if !ok {
					t.Fatalf("Detector(%d) not found", ids[i])
				}
				if int64(got.ID) != want.ID || got.Name != want.FullName || got.Purpose != want.Purpose || got.PhysicalType != want.CCDType {
					t.Errorf("detector %d: %d %s %s %s, instrument table %d %s %s %s", i,
						got.ID, got.Name, got.Purpose, got.PhysicalType, want.ID, want.FullName, want.Purpose, want.CCDType)
				}
			}
		})
	}
	// Every instrument with both tables was checked above; the simulated
	// cameras below have no registry tables here, so check them against
	// the reference layout (instruments_and_ingest.md §1.3).
	lsstCam := load(t, "LSSTCam")
	imsim := load(t, "LSSTCam-imSim")
	if ids := imsim.Detectors(); len(ids) != 189 || ids[0] != 0 || ids[188] != 188 {
		t.Errorf("LSSTCam-imSim ids %v..., want 0..188", ids[:3])
	}
	for _, id := range imsim.Detectors() {
		d, _ := imsim.Detector(id)
		l, _ := lsstCam.Detector(id)
		if d.Name != l.Name || d.Purpose != "SCIENCE" || d.PhysicalType != "ITL" {
			t.Errorf("LSSTCam-imSim detector %d: %s %s %s, want %s SCIENCE ITL", id, d.Name, d.Purpose, d.PhysicalType, l.Name)
		}
	}
	phosim := load(t, "LSSTCam-PhoSim")
	if ids := phosim.Detectors(); len(ids) != 201 || ids[len(ids)-1] != 219 {
		t.Errorf("LSSTCam-PhoSim: %d ids up to %d, want 201 up to 219", len(ids), ids[len(ids)-1])
	}
	count := map[string]int{}
	for _, id := range phosim.Detectors() {
		d, _ := phosim.Detector(id)
		count[d.Purpose]++
	}
	if count["SCIENCE"] != 189 || count["GUIDER"] != 8 || count["WAVEFRONT"] != 4 {
		t.Errorf("LSSTCam-PhoSim purposes %v, want 189 SCIENCE, 8 GUIDER, 4 WAVEFRONT", count)
	}
	for id, want := range map[int]string{194: "R00_S12 GUIDER", 197: "R00_S22 WAVEFRONT"} {
		if d, _ := phosim.Detector(id); d.Name+" "+d.Purpose != want {
			t.Errorf("LSSTCam-PhoSim detector %d: %s %s, want %s", id, d.Name, d.Purpose, want)
		}
	}
	if _, ok := lsstCam.Detector(205); ok {
		t.Error("LSSTCam has a detector 205")
	}
}

func TestDefaultPadding(t *testing.T) {
	for _, name := range Instruments() {
		want := 250 // obs_base's default
		if name == "LATISS" {
			want = 4000 // obs_lsst config/latiss/defineVisits.py
		}
		if got := load(t, name).DefaultPadding; got != want {
			t.Errorf("%s default padding %d, want %d", name, got, want)
		}
	}
}

// diameter is the largest angle between two vertices of a polygon, radians.
func diameter(p sphgeom.ConvexPolygon) float64 {
	vs := p.Vertices()
	d := 0.0
	for i := range vs {
		for j := i + 1; j < len(vs); j++ {
			d = max(d, angleBetween(vs[i], vs[j]))
		}
	}
	return d
}

// TestRegionSizes maps every camera at pointings across the sky (poles, RA
// wrap, any rotation) and checks that corners are unit vectors, every
// detector region lies inside the visit region, and region sizes are what
// the cameras' plate scales and layouts give.
func TestRegionSizes(t *testing.T) {
	pointings := []Pointing{
		{0, 0, 0},
		{359.9, -30, 45},
		{104.55, -42.7, 314.98},
		{200, 89.99, 10},
		{17, -90, -120},
		{180, 12, 720},
	}
	tests := []struct {
		name string
		// Bounds, in degrees: the visit region's width along focal-plane x
		// (unpadded) and its diameter (largest vertex separation) without
		// padding and with the default padding; one science detector's
		// diagonal without padding.
		width, bare, padded, detDiag [2]float64
	}{
		// Science rafts span 5 × 127 mm: outer CCD edges at ±316.6 mm, at
		// 20"/mm 3.52° across. The diameter runs corner raft to corner raft
		// (or R01 to R43, imSim has no corner rafts): ~738 mm, 4.1°. A
		// 4072×4000 ITL CCD is 57.1 mm, 0.317° diagonal; 250 px of padding
		// adds 5 mm to each box.
		{"LSSTCam", [2]float64{3.5, 3.54}, [2]float64{4.05, 4.15}, [2]float64{4.1, 4.2}, [2]float64{0.315, 0.32}},
		{"LSSTCamSim", [2]float64{3.5, 3.54}, [2]float64{4.05, 4.15}, [2]float64{4.1, 4.2}, [2]float64{0.315, 0.32}},
		{"LSSTCam-imSim", [2]float64{3.5, 3.54}, [2]float64{4.05, 4.15}, [2]float64{4.1, 4.2}, [2]float64{0.315, 0.32}},
		{"LSSTCam-PhoSim", [2]float64{3.5, 3.54}, [2]float64{4.05, 4.15}, [2]float64{4.1, 4.2}, [2]float64{0.315, 0.32}},
		// One raft: 2 × 42.25 + 40.72 mm = 125.2 mm, 0.70° across, 0.98°
		// diagonal.
		{"LSSTComCam", [2]float64{0.69, 0.71}, [2]float64{0.97, 0.99}, [2]float64{1.0, 1.03}, [2]float64{0.315, 0.32}},
		{"LSSTComCamSim", [2]float64{0.69, 0.71}, [2]float64{0.97, 0.99}, [2]float64{1.0, 1.03}, [2]float64{0.315, 0.32}},
		// One 4072×4000 CCD at 9.57"/mm: 6.5' × 6.4', 9.1' diagonal;
		// 4000 px of padding on each side: 19.3' × 19.1', 27.1' diagonal.
		{"LATISS", [2]float64{6.4 / 60, 6.6 / 60}, [2]float64{9.0 / 60, 9.2 / 60}, [2]float64{26.9 / 60, 27.3 / 60}, [2]float64{9.0 / 60, 9.2 / 60}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := load(t, tc.name)
			visit, _, err := c.Regions(Pointing{RA: 180, Dec: 0, SkyAngle: 0}, 0)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := 360.0, 0.0
			for _, v := range visit.Vertices() {
				l := sphgeom.LonLatOf(v).Lon.Degrees()
				lo, hi = min(lo, l), max(hi, l)
			}
			if w := hi - lo; w < tc.width[0] || w > tc.width[1] {
				t.Errorf("width %.4f°, want %.4f–%.4f", w, tc.width[0], tc.width[1])
			}
			for _, p := range pointings {
				for _, pad := range []int{0, c.DefaultPadding} {
					visit, dets, err := c.Regions(p, pad)
					if err != nil {
						t.Fatalf("%+v padding %d: %v", p, pad, err)
					}
					want := tc.bare
					if pad != 0 {
						want = tc.padded
					}
					if d := diameter(visit) / deg; d < want[0] || d > want[1] {
						t.Errorf("%+v padding %d: visit diameter %.4f°, want %.4f–%.4f", p, pad, d, want[0], want[1])
					}
					// The boresight is inside the visit region (every camera's
					// focal plane covers its center, LATISS's only nearly:
					// 0.5 mm off, so it is in with any padding).
					center := sphgeom.LonLat{Lon: sphgeom.Angle(p.RA * deg), Lat: sphgeom.Angle(p.Dec * deg)}.UnitVector()
					if !visit.Contains(center) {
						t.Errorf("%+v padding %d: visit region does not contain the boresight", p, pad)
					}
					for id, r := range dets {
						for _, v := range r.Vertices() {
							if n := v.Vector().Norm(); math.Abs(n-1) > 1e-15 {
								t.Fatalf("detector %d: corner %v has norm %v", id, v, n)
							}
							if !visit.Contains(v) {
								t.Errorf("%+v: detector %d corner %v outside the visit region", p, id, v)
							}
						}
					}
				}
				corners, err := c.Corners(p, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(corners) != len(c.Detectors()) {
					t.Errorf("%d detectors have corners, camera has %d", len(corners), len(c.Detectors()))
				}
				for _, id := range c.Detectors() {
					d, _ := c.Detector(id)
					cs := corners[id]
					if len(cs) != 4 {
						t.Fatalf("detector %d: %d corners", id, len(cs))
					}
					if d.Purpose != "SCIENCE" {
						continue
					}
					if g := angleBetween(cs[0], cs[2]) / deg; g < tc.detDiag[0] || g > tc.detDiag[1] {
						t.Errorf("%+v detector %d: diagonal %.4f°, want %.4f–%.4f", p, id, g, tc.detDiag[0], tc.detDiag[1])
					}
				}
			}
		})
	}
}

// TestOrientation pins the directions on the sky: at sky_angle 0 focal-plane
// +y points north and +x west (east for LATISS, whose raw WCS is flipped);
// sky_angle turns +y from north through east.
func TestOrientation(t *testing.T) {
	lon := func(v sphgeom.UnitVector3d) float64 { return sphgeom.LonLatOf(v).Lon.Degrees() }
	lat := func(v sphgeom.UnitVector3d) float64 { return sphgeom.LonLatOf(v).Lat.Degrees() }
	tests := []struct {
		name   string
		angle  float64
		dx, dy [2]float64 // sign of (ΔRA, ΔDec) for a step along +x and +y
	}{
		{"LSSTCam", 0, [2]float64{-1, 0}, [2]float64{0, 1}},
		{"LSSTCam", 90, [2]float64{0, 1}, [2]float64{1, 0}},
		{"LSSTCam", 180, [2]float64{1, 0}, [2]float64{0, -1}},
		{"LSSTComCam", 270, [2]float64{0, -1}, [2]float64{-1, 0}},
		{"LATISS", 0, [2]float64{1, 0}, [2]float64{0, 1}},
		{"LATISS", 90, [2]float64{0, -1}, [2]float64{1, 0}},
	}
	for _, tc := range tests {
		c := load(t, tc.name)
		pr, err := c.projection(Pointing{RA: 40, Dec: 0, SkyAngle: tc.angle})
		if err != nil {
			t.Fatal(err)
		}
		o := c.sky(&pr, 0, 0)
		if math.Abs(lon(o)-40) > 1e-12 || math.Abs(lat(o)) > 1e-12 {
			t.Errorf("%s: focal-plane origin at (%v, %v), want the boresight", tc.name, lon(o), lat(o))
		}
		for i, step := range [][2]float64{{10, 0}, {0, 10}} {
			v := c.sky(&pr, step[0], step[1])
			want := tc.dx
			if i == 1 {
				want = tc.dy
			}
			got := [2]float64{lon(v) - 40, lat(v)}
			for k := range 2 {
				s := 0.0
				if math.Abs(got[k]) > 1e-9 {
					s = math.Copysign(1, got[k])
				}
				if s != want[k] {
					t.Errorf("%s sky_angle %v: step %v moves (ΔRA, ΔDec) = %v, want signs %v", tc.name, tc.angle, step, got, want)
					break
				}
			}
		}
	}
	// The plate scale: 10 mm from the center is 10 × plate scale (with
	// LSSTCam's tiny distortion), i.e. about 200".
	c := load(t, "LSSTCam")
	pr, _ := c.projection(Pointing{RA: 40, Dec: 0})
	if d := angleBetween(c.sky(&pr, 0, 0), c.sky(&pr, 10, 0)) / arcsec; math.Abs(d-200.05867) > 0.01 {
		t.Errorf("10 mm is %.5f\", want about 200.05867\"", d)
	}
}

func TestBadInput(t *testing.T) {
	for _, name := range []string{"", "HSC", "lsstcam", "../data/LSSTCam", "LSSTCam.json", "LSST-TS8"} {
		if _, err := Load(name); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Load(%q) = %v, want ErrNotFound", name, err)
		} else if !strings.Contains(err.Error(), "LSSTCam") {
			t.Errorf("Load(%q): %v does not list the known instruments", name, err)
		}
	}
	c := load(t, "LSSTCam")
	tests := []struct {
		p       Pointing
		padding int
		msg     string
	}{
		{Pointing{math.NaN(), 0, 0}, 250, "tracking_ra is NaN"},
		{Pointing{0, math.NaN(), 0}, 250, "tracking_dec is NaN"},
		{Pointing{0, 0, math.Inf(1)}, 250, "sky_angle is +Inf"},
		{Pointing{0, 90.5, 0}, 250, "tracking_dec 90.5 is outside [-90, 90]"},
		{Pointing{0, -91, 0}, 250, "tracking_dec -91 is outside"},
		{Pointing{0, 0, 0}, -1000, "padding -1000 leaves detector 191 (R00_SW0) with an empty box"},
	}
	for _, tc := range tests {
		_, err := c.Corners(tc.p, tc.padding)
		if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "LSSTCam") {
			t.Errorf("Corners(%+v, %d) = %v, want ErrInvalid with %q", tc.p, tc.padding, err, tc.msg)
		}
		if _, _, err := c.Regions(tc.p, tc.padding); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Regions(%+v, %d) = %v, want ErrInvalid", tc.p, tc.padding, err)
		}
	}
	// Negative padding that leaves every box non-empty is allowed, as upstream.
	if _, err := c.Corners(Pointing{}, -999); err != nil {
		t.Errorf("padding -999: %v", err)
	}
}

func TestParseRejectsBadData(t *testing.T) {
	good := `{"instrument":"X","plate_scale":20,"radial_coeffs":[0,1],"default_padding":250,"detectors":[
{"id":0,"name":"A","type":0,"bbox":[0,0,9,9],"pixel_size":[0.01,0.01],"refpos":[4.5,4.5],"offset":[0,0,0]}]}`
	if _, err := parse([]byte(good)); err != nil {
		t.Fatalf("good data: %v", err)
	}
	for name, bad := range map[string]string{
		"c0 != 0":             strings.Replace(good, `[0,1]`, `[1,1]`, 1),
		"parity without flip": strings.Replace(good, `"default_padding"`, `"focal_plane_parity":true,"default_padding"`, 1),
		"bad type":            strings.Replace(good, `"type":0`, `"type":7`, 1),
		"empty bbox":          strings.Replace(good, `[0,0,9,9]`, `[0,0,-1,9]`, 1),
		"no detectors":        good[:strings.Index(good, "[\n")] + "[]}",
		"not json":            "{",
	} {
		if _, err := parse([]byte(bad)); err == nil {
			t.Errorf("%s: parse succeeded", name)
		}
	}
}

// BenchmarkCorners maps all LSSTCam detectors for one pointing and builds
// each detector's region, the work define-visits does per exposure.
func BenchmarkCorners(b *testing.B) {
	c := load(b, "LSSTCam")
	p := Pointing{RA: 104.55, Dec: -42.7, SkyAngle: 314.98}
	n := len(c.Detectors())
	b.ReportAllocs()
	for b.Loop() {
		corners, err := c.Corners(p, c.DefaultPadding)
		if err != nil {
			b.Fatal(err)
		}
		for _, cs := range corners {
			if _, err := sphgeom.NewConvexPolygon(cs); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "regions/s")
}

// BenchmarkLoad parses the embedded LSSTCam geometry (define-visits loads
// it once per run).
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load("LSSTCam"); err != nil {
			b.Fatal(err)
		}
	}
}
