package sphgeom

import (
	"fmt"
	"math/bits"

	"github.com/gobutler/butler/errs"
)

// HtmMaxLevel is the deepest HTM subdivision level sphgeom supports.
const HtmMaxLevel = 24

// Htm is the Hierarchical Triangular Mesh pixelization at one subdivision
// level, numbered exactly as sphgeom numbers it: the root triangles S0..S3 are
// 8..11 and N0..N3 are 12..15, and the children of trixel i are 4i..4i+3. The
// butler's common skypix system is level 7 ("htm7").
type Htm struct {
	level int
}

// NewHtm returns the HTM pixelization at level (0..24).
func NewHtm(level int) (Htm, error) {
	if level < 0 || level > HtmMaxLevel {
		return Htm{}, fmt.Errorf("HTM level %d: %w: must be in [0, %d]", level, errs.ErrInvalid, HtmMaxLevel)
	}
	return Htm{level}, nil
}

func (h Htm) Level() int { return h.level }

// Universe returns every index at this level: [8·4ᴸ, 16·4ᴸ).
func (h Htm) Universe() RangeSet {
	return NewRangeSet(Range{8 << (2 * h.level), 16 << (2 * h.level)})
}

// htmRootVertex gives the vertices of the 8 root triangles (S0..S3, N0..N3).
func htmRootVertex(root uint64) [3]UnitVector3d {
	x, y, z := unitX(), unitY(), unitZ()
	switch root {
	case 0:
		return [3]UnitVector3d{x, z.Neg(), y}
	case 1:
		return [3]UnitVector3d{y, z.Neg(), x.Neg()}
	case 2:
		return [3]UnitVector3d{x.Neg(), z.Neg(), y.Neg()}
	case 3:
		return [3]UnitVector3d{y.Neg(), z.Neg(), x}
	case 4:
		return [3]UnitVector3d{x, z, y.Neg()}
	case 5:
		return [3]UnitVector3d{y.Neg(), z, x.Neg()}
	case 6:
		return [3]UnitVector3d{x.Neg(), z, y}
	}
	return [3]UnitVector3d{y, z, x}
}

// HtmLevel returns the subdivision level of an HTM index, or -1 if i is not one.
func HtmLevel(i uint64) int {
	// An index is 4 bits for the root triangle (8..15) followed by 2 bits per
	// level, so its most significant bit is at an odd position > 1.
	if i == 0 {
		return -1
	}
	j := bits.Len64(i) - 1
	if j&1 == 0 || j == 1 {
		return -1
	}
	return (j - 3) >> 1
}

// HtmString returns the name of an HTM index, such as "N31" for index 61.
func HtmString(i uint64) (string, error) {
	l := HtmLevel(i)
	if l < 0 || l > HtmMaxLevel {
		return "", fmt.Errorf("HTM index %d: %w", i, errs.ErrInvalid)
	}
	buf := make([]byte, l+2)
	for k := l + 1; k >= 1; k-- {
		buf[k] = byte('0' + i&3)
		i >>= 2
	}
	if i&1 == 0 {
		buf[0] = 'S'
	} else {
		buf[0] = 'N'
	}
	return string(buf), nil
}

// Triangle returns the trixel with index i (any level).
func (Htm) Triangle(i uint64) (ConvexPolygon, error) {
	l := HtmLevel(i)
	if l < 0 || l > HtmMaxLevel {
		return ConvexPolygon{}, fmt.Errorf("HTM index %d: %w: not a valid trixel", i, errs.ErrInvalid)
	}
	shift := 2 * l
	v := htmRootVertex((i >> shift) & 7)
	for shift -= 2; shift >= 0; shift -= 2 {
		m12 := unitVector(v[1].v.Add(v[2].v))
		m20 := unitVector(v[2].v.Add(v[0].v))
		m01 := unitVector(v[0].v.Add(v[1].v))
		switch (i >> shift) & 3 {
		case 0:
			v = [3]UnitVector3d{v[0], m01, m20}
		case 1:
			v = [3]UnitVector3d{v[1], m12, m01}
		case 2:
			v = [3]UnitVector3d{v[2], m20, m12}
		case 3:
			v = [3]UnitVector3d{m12, m20, m01}
		}
	}
	return ConvexPolygon{v[:]}, nil
}

// Index returns the index of the trixel containing v. Points on trixel edges go
// to the same trixel as in sphgeom.
func (h Htm) Index(v UnitVector3d) uint64 {
	var r uint64
	x, y, z := v.v.X, v.v.Y, v.v.Z
	if z < 0 {
		switch {
		case y > 0:
			r = map2(x > 0, 0, 1)
		case y == 0:
			r = map2(x >= 0, 0, 2)
		default:
			r = map2(x < 0, 2, 3)
		}
	} else {
		switch {
		case y > 0:
			r = map2(x > 0, 7, 6)
		case y == 0:
			r = map2(x >= 0, 7, 5)
		default:
			r = map2(x < 0, 5, 4)
		}
	}
	t := htmRootVertex(r)
	v0, v1, v2 := t[0], t[1], t[2]
	i := r + 8
	for range h.level {
		m01 := unitVector(v0.v.Add(v1.v))
		m20 := unitVector(v2.v.Add(v0.v))
		i <<= 2
		if orientation(v, m01, m20) >= 0 {
			v1, v2 = m01, m20
			continue
		}
		m12 := unitVector(v1.v.Add(v2.v))
		switch {
		case orientation(v, m12, m01) >= 0:
			v0, v1, v2 = v1, m12, m01
			i++
		case orientation(v, m20, m12) >= 0:
			v0, v1, v2 = v2, m20, m12
			i += 2
		default:
			v0, v1, v2 = m12, m20, m01
			i += 3
		}
	}
	return i
}

func map2(c bool, yes, no uint64) uint64 {
	if c {
		return yes
	}
	return no
}

// Envelope returns the indexes of the trixels that intersect r, possibly with
// some that do not (where relationships are conservative), exactly as sphgeom's
// HtmPixelization::envelope computes them. maxRanges > 0 caps the number of
// ranges by coarsening (adding trixels); 0 means no cap, which is what
// daf_butler uses for the common skypix overlap rows and for query constraints.
func (h Htm) Envelope(r Region, maxRanges int) RangeSet {
	return h.findPixels(r, maxRanges, false)
}

// Interior returns the indexes of trixels entirely inside r (a subset when
// maxRanges > 0 forces coarsening, or where relationships are conservative).
func (h Htm) Interior(r Region, maxRanges int) RangeSet {
	return h.findPixels(r, maxRanges, true)
}

func (h Htm) findPixels(r Region, maxRanges int, interior bool) RangeSet {
	switch r := r.(type) {
	case UnionRegion:
		// Like sphgeom, the union of the operands' sets may exceed maxRanges.
		var s RangeSet
		for _, op := range r.operands {
			s = s.Union(h.findPixels(op, maxRanges, interior))
		}
		return s
	case IntersectionRegion:
		s := h.Universe()
		for _, op := range r.operands {
			s = s.Intersection(h.findPixels(op, maxRanges, interior))
		}
		return s
	case Ellipse:
		r2 := r.BoundingCircle()
		return h.findPixels(r2, maxRanges, interior)
	}
	f := pixelFinder{
		region:   r,
		level:    h.level,
		desired:  h.level,
		interior: interior,
	}
	if maxRanges > 0 {
		f.maxRanges = maxRanges
	}
	for root := range uint64(8) {
		f.visit(htmRootVertex(root), root+8, 0)
	}
	return f.ranges
}

// pixelFinder walks the trixel tree top-down: trixels disjoint from the region
// are dropped, trixels within it are added whole, and the others are
// subdivided down to the target level, where envelopes keep them and interiors
// drop them.
type pixelFinder struct {
	ranges    RangeSet
	region    Region
	level     int // current target level; lowered to honour maxRanges
	desired   int // level of the returned indexes
	maxRanges int // 0: no limit
	interior  bool
}

func (f *pixelFinder) visit(t [3]UnitVector3d, index uint64, level int) {
	if level > f.level {
		return
	}
	rel := relateTrixel(t[:], f.region)
	if rel&Disjoint != 0 {
		return
	}
	if rel&Within != 0 {
		f.insert(index, level)
		return
	}
	if level == f.level {
		if !f.interior {
			f.insert(index, level)
		}
		return
	}
	mid := [3]UnitVector3d{
		unitVector(t[1].v.Add(t[2].v)),
		unitVector(t[2].v.Add(t[0].v)),
		unitVector(t[0].v.Add(t[1].v)),
	}
	index *= 4
	level++
	f.visit([3]UnitVector3d{t[0], mid[2], mid[1]}, index, level)
	f.visit([3]UnitVector3d{t[1], mid[0], mid[2]}, index+1, level)
	f.visit([3]UnitVector3d{t[2], mid[1], mid[0]}, index+2, level)
	f.visit(mid, index+3, level)
}

func (f *pixelFinder) insert(index uint64, level int) {
	shift := uint(2 * (f.desired - level))
	f.ranges.Insert(index<<shift, (index+1)<<shift)
	for f.maxRanges > 0 && f.ranges.Len() > f.maxRanges {
		// Too many ranges: lower the level and coarsen what we have, outwards
		// for envelopes (small gaps fill in), inwards for interiors (small
		// ranges vanish).
		f.level--
		shift += 2
		if f.interior {
			f.ranges = f.ranges.shrunk(shift)
		} else {
			f.ranges = f.ranges.simplified(shift)
		}
	}
}

// relateTrixel relates a trixel (as a polygon) to a region the way sphgeom's
// pixel finder does.
func relateTrixel(t []UnitVector3d, r Region) Relationship {
	switch r := r.(type) {
	case Circle:
		return polyRelateCircle(t, r)
	case Box:
		return polyRelateBox(t, r)
	case ConvexPolygon:
		return polyRelatePoly(t, r.vertices)
	}
	// Not reached: findPixels handles the other types.
	return Intersects
}
