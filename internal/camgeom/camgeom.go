// Package camgeom holds the nominal camera geometry of the LSST instruments,
// generated once from obs_lsst's policy YAML and embedded as data, and maps
// detector pixels to the sky the way obs_lsst's raw WCS does (boresight,
// rotation, focal-plane-to-field-angle distortion). define-visits uses it to
// compute visit and detector regions without afw.
package camgeom

import (
	"fmt"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/sphgeom"
)

// Pointing is where an exposure looked: the exposure record's tracking_ra,
// tracking_dec and sky_angle, all in degrees.
type Pointing struct {
	RA, Dec, SkyAngle float64
}

// Camera is one instrument's nominal geometry.
type Camera struct {
	Instrument string
	// DefaultPadding is upstream's default padding of each detector's
	// bounding box, in pixels, for this instrument's visit regions.
	DefaultPadding int
}

// Load returns the embedded geometry of an instrument by its registry name
// ("LSSTCam", "LSSTComCam", "LATISS", ...). An instrument without embedded
// geometry gives an error wrapping errs.ErrNotFound.
func Load(instrument string) (*Camera, error) {
	return nil, fmt.Errorf("camera geometry of %q: %w", instrument, errs.ErrNotFound)
}

// Detectors returns the detector IDs of the camera in camera order.
func (c *Camera) Detectors() []int { return nil }

// Corners returns, for every detector of the camera, the sky positions of
// the four corners of its bounding box padded by padding pixels, as seen
// at pointing p. A detector's region is the convex hull of its corners and
// the visit region the convex hull of all of them (sphgeom.NewConvexPolygon).
func (c *Camera) Corners(p Pointing, padding int) (map[int][]sphgeom.UnitVector3d, error) {
	return nil, fmt.Errorf("camera geometry of %q: not implemented", c.Instrument)
}
