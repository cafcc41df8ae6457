// Package camgeom holds the nominal camera geometry of the LSST instruments,
// generated once from obs_lsst's policy YAML and embedded as data, and maps
// detector pixels to the sky the way obs_lsst's raw WCS does (boresight,
// rotation, focal-plane-to-field-angle distortion). define-visits uses it to
// compute visit and detector regions without afw.
//
// The mapping is obs_base's "single-raw-wcs" visit-region algorithm
// (_ComputeVisitRegionsFromSingleRawWcsTask in obs_base defineVisits.py) with
// the nominal camera (obs_lsst's Instrument.getCamera):
//
//   - each detector's integer bounding box is dilated by the padding and
//     turned into a floating-point box (half a pixel beyond the outer pixel
//     centers), whose four corners are taken in lsst.geom's Box2D.getCorners
//     order: (minX, minY), (maxX, minY), (maxX, maxY), (minX, maxY);
//   - PIXELS → FOCAL_PLANE is the detector Orientation's affine transform
//     (afw cameraGeom Orientation::makePixelFpTransform):
//     fp = offset + R(yaw, pitch, roll) · (pixelSize ∘ (pixel − refpos));
//   - FOCAL_PLANE → FIELD_ANGLE is the camera's radial polynomial
//     (afw makeRadialTransform) with coefficients scaled by the plate scale,
//     followed by an x flip when the camera has focalPlaneParity
//     (afw Camera::Builder::finish);
//   - FIELD_ANGLE → sky is afw's makeSkyWcs(pixelsToFieldAngle, sky_angle,
//     flipX, boresight, "TAN"): the CD-like matrix of makeCdMatrix(1°,
//     sky_angle, flipX) turns field angle into intermediate world coordinates,
//     deprojected gnomonically at the boresight (tracking_ra, tracking_dec).
//     flipX is the raw formatter's wcsFlipX unless the camera's
//     focalPlaneParity already holds the flip (obs_base
//     createInitialSkyWcsFromBoresight).
//
// Upstream builds the WCS for the camera's first detector and maps every
// other detector through the focal plane; the composition is the same for
// every detector, so the choice does not change the result.
package camgeom

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/sphgeom"
)

// To regenerate data/ from an obs_lsst checkout or bare git directory:
//
//	OBS_LSST=/path/to/obs_lsst go generate ./internal/camgeom
//
//go:generate go run ./gen -obs-lsst $OBS_LSST -out data

//go:embed data/*.json
var dataFS embed.FS

// Pointing is where an exposure looked: the exposure record's tracking_ra,
// tracking_dec and sky_angle, all in degrees.
type Pointing struct {
	RA, Dec, SkyAngle float64
}

// Detector purposes, as afw cameraGeom's DetectorType names them (and as the
// detector dimension's purpose column holds them).
var purposes = []string{"SCIENCE", "FOCUS", "GUIDER", "WAVEFRONT"}

// Detector is one detector of a camera's nominal geometry.
type Detector struct {
	ID int
	// Name is the full name ("R22_S11").
	Name string
	// Purpose is SCIENCE, FOCUS, GUIDER or WAVEFRONT.
	Purpose string
	// PhysicalType is the vendor geometry (ITL, E2V, ITL_G, ITL_WF).
	PhysicalType string
	// BBox is the pixel bounding box: minimum x, minimum y, maximum x,
	// maximum y, all inclusive (lsst.geom.Box2I).
	BBox [4]int

	// PIXELS → FOCAL_PLANE (mm): fp = a·pixel + b, a row-major.
	a [4]float64
	b [2]float64
}

// Camera is one instrument's nominal geometry.
type Camera struct {
	Instrument string
	// DefaultPadding is upstream's default padding of each detector's
	// bounding box, in pixels, for this instrument's visit regions.
	DefaultPadding int

	detectors []Detector // by increasing ID
	// radial[i] maps focal-plane radius (mm) to field angle (radians):
	// field angle = Σ radial[i] · r^i.
	radial []float64
	// parity flips field-angle x (the camera's focalPlaneParity).
	parity bool
	// flipX is makeSkyWcs's flipX: the formatter's wcsFlipX unless parity
	// already provides the flip.
	flipX bool
}

// File is the embedded data format, one JSON document per camera: what
// ./gen writes (Encode) and Load reads.
type File struct {
	Instrument string `json:"instrument"`
	Source     string `json:"source"`
	// PlateScale is in arcseconds per mm; RadialCoeffs are the FieldAngle
	// coefficients as in obs_lsst's cameraTransforms.yaml (times the plate
	// scale in radians they map focal-plane radius in mm to field angle).
	PlateScale       float64        `json:"plate_scale"`
	RadialCoeffs     []float64      `json:"radial_coeffs"`
	FocalPlaneParity bool           `json:"focal_plane_parity"`
	WcsFlipX         bool           `json:"wcs_flip_x"`
	DefaultPadding   int            `json:"default_padding"`
	Detectors        []FileDetector `json:"detectors"`
}

// FileDetector is one detector of a File.
type FileDetector struct {
	ID           int        `json:"id"`
	Name         string     `json:"name"`
	Type         int        `json:"type"`
	PhysicalType string     `json:"physical_type"`
	BBox         [4]int     `json:"bbox"`
	PixelSize    [2]float64 `json:"pixel_size"`
	RefPos       [2]float64 `json:"refpos"`
	Offset       [3]float64 `json:"offset"`
	Yaw          float64    `json:"yaw"`
	Pitch        float64    `json:"pitch"`
	Roll         float64    `json:"roll"`
}

// Encode writes f as JSON with one detector per line, so diffs of
// regenerated data stay readable.
func (f *File) Encode() ([]byte, error) {
	head := *f
	head.Detectors = nil
	hb, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	// The head ends in "detectors":null}; the list is written in its place.
	buf.Write(bytes.TrimSuffix(hb, []byte(`null}`)))
	buf.WriteString("[\n")
	for i, d := range f.Detectors {
		db, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("detector %s: %w", d.Name, err)
		}
		buf.Write(db)
		if i < len(f.Detectors)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]}\n")
	return buf.Bytes(), nil
}

// Instruments returns the names of the instruments with embedded geometry,
// sorted.
func Instruments() []string {
	entries, err := dataFS.ReadDir("data")
	if err != nil {
		panic(fmt.Sprintf("camgeom: embedded data: %v", err))
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Load returns the embedded geometry of an instrument by its registry name
// ("LSSTCam", "LSSTComCam", "LATISS", ...). An instrument without embedded
// geometry gives an error wrapping errs.ErrNotFound.
func Load(instrument string) (*Camera, error) {
	if instrument == "" || strings.ContainsAny(instrument, "/\\.") {
		return nil, fmt.Errorf("camera geometry of %q: %w (known: %s)", instrument, errs.ErrNotFound, strings.Join(Instruments(), ", "))
	}
	name := path.Join("data", instrument+".json")
	b, err := dataFS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("camera geometry of %q: %w (known: %s)", instrument, errs.ErrNotFound, strings.Join(Instruments(), ", "))
	}
	c, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("camera geometry of %q: embedded %s: %w", instrument, name, err)
	}
	if c.Instrument != instrument {
		return nil, fmt.Errorf("camera geometry of %q: embedded %s describes %q", instrument, name, c.Instrument)
	}
	return c, nil
}

func parse(b []byte) (*Camera, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	rc := f.RadialCoeffs
	if len(rc) < 2 || rc[0] != 0 || rc[1] == 0 || !(f.PlateScale > 0) {
		return nil, fmt.Errorf("radial coefficients %v with plate scale %v: need c0 = 0, c1 != 0, plate scale > 0", rc, f.PlateScale)
	}
	if f.FocalPlaneParity && !f.WcsFlipX {
		return nil, fmt.Errorf("focal-plane parity without the raw formatter's wcsFlipX")
	}
	c := &Camera{
		Instrument:     f.Instrument,
		DefaultPadding: f.DefaultPadding,
		parity:         f.FocalPlaneParity,
		flipX:          f.WcsFlipX && !f.FocalPlaneParity,
		radial:         make([]float64, len(rc)),
		detectors:      make([]Detector, len(f.Detectors)),
	}
	// yamlCamera: coefficients times the plate scale in radians per mm
	// (lsst.geom arcseconds = π/180/3600).
	scale := f.PlateScale * (math.Pi / 180 / 3600)
	for i, v := range rc {
		c.radial[i] = v * scale
	}
	for i, fd := range f.Detectors {
		if i > 0 && fd.ID <= f.Detectors[i-1].ID {
			return nil, fmt.Errorf("detector %d (%s) out of id order", fd.ID, fd.Name)
		}
		if fd.Type < 0 || fd.Type >= len(purposes) {
			return nil, fmt.Errorf("detector %d (%s): type %d", fd.ID, fd.Name, fd.Type)
		}
		if fd.BBox[2] < fd.BBox[0] || fd.BBox[3] < fd.BBox[1] {
			return nil, fmt.Errorf("detector %d (%s): empty bbox %v", fd.ID, fd.Name, fd.BBox)
		}
		d := Detector{ID: fd.ID, Name: fd.Name, Purpose: purposes[fd.Type], PhysicalType: fd.PhysicalType, BBox: fd.BBox}
		// afw Orientation: Tait-Bryan Z1Y2X3 rotation, its 2x2 part.
		const deg = math.Pi / 180
		sy, cy := math.Sincos(fd.Yaw * deg)
		sp, cp := math.Sincos(fd.Pitch * deg)
		sr, cr := math.Sincos(fd.Roll * deg)
		r := [4]float64{cy * cp, cy*sp*sr - cr*sy, cp * sy, cy*cr + sy*sp*sr}
		px, py := fd.PixelSize[0], fd.PixelSize[1]
		d.a = [4]float64{r[0] * px, r[1] * py, r[2] * px, r[3] * py}
		rx, ry := px*fd.RefPos[0], py*fd.RefPos[1]
		d.b = [2]float64{fd.Offset[0] - (r[0]*rx + r[1]*ry), fd.Offset[1] - (r[2]*rx + r[3]*ry)}
		for _, v := range append(d.a[:], d.b[:]...) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("detector %d (%s): geometry is not finite", fd.ID, fd.Name)
			}
		}
		c.detectors[i] = d
	}
	if len(c.detectors) == 0 {
		return nil, fmt.Errorf("no detectors")
	}
	return c, nil
}

// Detectors returns the detector IDs of the camera in camera order
// (increasing ID, the order upstream iterates a camera in).
func (c *Camera) Detectors() []int {
	ids := make([]int, len(c.detectors))
	for i, d := range c.detectors {
		ids[i] = d.ID
	}
	return ids
}

// Detector returns a detector by ID.
func (c *Camera) Detector(id int) (Detector, bool) {
	i, ok := slices.BinarySearchFunc(c.detectors, id, func(d Detector, id int) int { return d.ID - id })
	if !ok {
		return Detector{}, false
	}
	return c.detectors[i], true
}

// projection is the part of the pixel-to-sky mapping fixed by a pointing:
// field angle → intermediate world coordinates (radians) → sky.
type projection struct {
	cd      [4]float64 // makeCdMatrix(1 rad, sky_angle, flipX), row-major
	c, e, n [3]float64 // boresight, east and north unit vectors there
}

func (c *Camera) projection(p Pointing) (projection, error) {
	for _, f := range []struct {
		name string
		v    float64
	}{{"tracking_ra", p.RA}, {"tracking_dec", p.Dec}, {"sky_angle", p.SkyAngle}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return projection{}, fmt.Errorf("%s pointing: %w: %s is %v, want a finite angle in degrees", c.Instrument, errs.ErrInvalid, f.name, f.v)
		}
	}
	if p.Dec < -90 || p.Dec > 90 {
		return projection{}, fmt.Errorf("%s pointing: %w: tracking_dec %v is outside [-90, 90] degrees", c.Instrument, errs.ErrInvalid, p.Dec)
	}
	const deg = math.Pi / 180
	var pr projection
	so, co := math.Sincos(p.SkyAngle * deg)
	xm := -1.0
	if c.flipX {
		xm = 1
	}
	pr.cd = [4]float64{co * xm, so, -so * xm, co}
	sa, ca := math.Sincos(p.RA * deg)
	sd, cdec := math.Sincos(p.Dec * deg)
	pr.c = [3]float64{cdec * ca, cdec * sa, sd}
	pr.e = [3]float64{-sa, ca, 0}
	pr.n = [3]float64{-sd * ca, -sd * sa, cdec}
	return pr, nil
}

// sky maps a focal-plane position (mm) to the sky.
func (c *Camera) sky(pr *projection, x, y float64) sphgeom.UnitVector3d {
	// FOCAL_PLANE → FIELD_ANGLE: radial polynomial about the origin.
	r := math.Hypot(x, y)
	var k float64 // field-angle radius / focal-plane radius
	if r == 0 {
		k = c.radial[1]
	} else {
		rn, sum := r, 0.0
		for _, ci := range c.radial[1:] {
			sum += ci * rn
			rn *= r
		}
		k = sum / r
	}
	fx, fy := k*x, k*y
	if c.parity {
		fx = -fx
	}
	// FIELD_ANGLE → IWC → sky (gnomonic at the boresight).
	xi := pr.cd[0]*fx + pr.cd[1]*fy
	eta := pr.cd[2]*fx + pr.cd[3]*fy
	v, err := sphgeom.NewUnitVector3d(
		pr.c[0]+xi*pr.e[0]+eta*pr.n[0],
		pr.c[1]+xi*pr.e[1]+eta*pr.n[1],
		pr.c[2]+xi*pr.e[2]+eta*pr.n[2],
	)
	if err != nil {
		// Unreachable for finite input: the boresight term has unit length
		// and is orthogonal to the others.
		panic(err)
	}
	return v
}

// corners appends the sky positions of the padded bounding-box corners of d.
func (c *Camera) corners(dst []sphgeom.UnitVector3d, pr *projection, d *Detector, padding int) []sphgeom.UnitVector3d {
	// Box2D(Box2I.dilatedBy(padding)): half a pixel beyond the outer pixels.
	x0 := float64(d.BBox[0]-padding) - 0.5
	y0 := float64(d.BBox[1]-padding) - 0.5
	x1 := float64(d.BBox[2]+padding) + 0.5
	y1 := float64(d.BBox[3]+padding) + 0.5
	for _, px := range [4][2]float64{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}} {
		fx := d.a[0]*px[0] + d.a[1]*px[1] + d.b[0]
		fy := d.a[2]*px[0] + d.a[3]*px[1] + d.b[1]
		dst = append(dst, c.sky(pr, fx, fy))
	}
	return dst
}

func (c *Camera) checkPadding(padding int) error {
	for _, d := range c.detectors {
		if d.BBox[2]-d.BBox[0]+1+2*padding <= 0 || d.BBox[3]-d.BBox[1]+1+2*padding <= 0 {
			return fmt.Errorf("%s: %w: padding %d leaves detector %d (%s) with an empty box", c.Instrument, errs.ErrInvalid, padding, d.ID, d.Name)
		}
	}
	return nil
}

// Corners returns, for every detector of the camera, the sky positions of
// the four corners of its bounding box padded by padding pixels, as seen
// at pointing p. A detector's region is the convex hull of its corners and
// the visit region the convex hull of all of them (sphgeom.NewConvexPolygon).
// Each detector's corners are in lsst.geom Box2D.getCorners order; to build
// hulls with upstream's vertex order (and so its exact encoding), pass them
// in that order and, for the visit, detector by detector in Detectors order
// (Regions does both).
func (c *Camera) Corners(p Pointing, padding int) (map[int][]sphgeom.UnitVector3d, error) {
	pr, err := c.projection(p)
	if err != nil {
		return nil, err
	}
	if err := c.checkPadding(padding); err != nil {
		return nil, err
	}
	all := make([]sphgeom.UnitVector3d, 0, 4*len(c.detectors))
	out := make(map[int][]sphgeom.UnitVector3d, len(c.detectors))
	for i := range c.detectors {
		d := &c.detectors[i]
		start := len(all)
		all = c.corners(all, &pr, d, padding)
		out[d.ID] = all[start:len(all):len(all)]
	}
	return out, nil
}

// Regions returns the visit region and the per-detector regions of one
// exposure at pointing p, built as upstream builds them (with
// mergeExposures false): each detector's region is the convex hull of its
// padded corners, the visit region the convex hull of all detectors'
// corners in camera order.
func (c *Camera) Regions(p Pointing, padding int) (sphgeom.ConvexPolygon, map[int]sphgeom.ConvexPolygon, error) {
	corners, err := c.Corners(p, padding)
	if err != nil {
		return sphgeom.ConvexPolygon{}, nil, err
	}
	all := make([]sphgeom.UnitVector3d, 0, 4*len(c.detectors))
	dets := make(map[int]sphgeom.ConvexPolygon, len(c.detectors))
	for _, d := range c.detectors {
		poly, err := sphgeom.NewConvexPolygon(corners[d.ID])
		if err != nil {
			return sphgeom.ConvexPolygon{}, nil, fmt.Errorf("%s detector %d (%s) region: %w", c.Instrument, d.ID, d.Name, err)
		}
		dets[d.ID] = poly
		all = append(all, corners[d.ID]...)
	}
	visit, err := sphgeom.NewConvexPolygon(all)
	if err != nil {
		return sphgeom.ConvexPolygon{}, nil, fmt.Errorf("%s visit region: %w", c.Instrument, err)
	}
	return visit, dets, nil
}
