package sphgeom

import "errors"

// The hull construction follows sphgeom's ConvexPolygon(points) step by step:
// the vertex order it produces is part of the region encoding, so a polygon
// built here from the same points encodes to the same bytes.

var (
	errAntipodal = errors.New("the convex hull of the points is the whole sphere (antipodal points)")
	errTooFew    = errors.New("fewer than 3 distinct, non-coplanar points")
)

// convexHull rearranges points in place into the hull's vertices, in
// counter-clockwise order, and returns that prefix.
func convexHull(points []UnitVector3d) ([]UnitVector3d, error) {
	next, err := findTriangle(points)
	if err != nil {
		return nil, err
	}
	hullEnd := 3
	for ; next < len(points); next++ {
		v := points[next]
		// Walk the hull edges (i, j) and find where the orientation of j with
		// respect to v turns counter-clockwise (toCCW) and where it stops being
		// counter-clockwise (fromCCW). v replaces the vertices in between.
		toCCW, fromCCW := hullEnd, hullEnd
		firstCCW := orientation(v, points[hullEnd-1], points[0]) > 0
		prevCCW := firstCCW
		i := 0
		for j := 1; j < hullEnd; j++ {
			if orientation(v, points[i], points[j]) > 0 {
				if !prevCCW {
					toCCW = i
					prevCCW = true
				}
			} else if prevCCW {
				fromCCW = j
				prevCCW = false
			}
			i = j
		}
		if firstCCW {
			if !prevCCW {
				toCCW = i
			}
		} else if prevCCW {
			fromCCW = 0
		}
		if toCCW == hullEnd {
			if firstCCW {
				continue // v is inside the hull
			}
			return nil, errAntipodal // -v is inside the hull
		}
		switch {
		case toCCW < fromCCW:
			if toCCW != 0 {
				fromCCW = copy(points, points[toCCW:fromCCW])
			}
			points[fromCCW] = v
			hullEnd = fromCCW + 1
		case toCCW > fromCCW:
			points[fromCCW] = v
			fromCCW++
			if toCCW != fromCCW {
				hullEnd = fromCCW + copy(points[fromCCW:], points[toCCW:hullEnd])
			}
		default:
			if fromCCW == 0 {
				points[hullEnd] = v
			} else {
				copy(points[fromCCW+1:hullEnd+1], points[fromCCW:hullEnd])
				points[fromCCW] = v
			}
			hullEnd++
		}
	}
	return points[:hullEnd:hullEnd], nil
}

// findPlane moves a point distinct from points[0] to points[1] and returns the
// index of the first point not yet looked at.
func findPlane(points []UnitVector3d) (int, error) {
	if len(points) == 0 {
		return 0, errTooFew
	}
	v0 := points[0]
	v := 1
	for ; v < len(points); v++ {
		if v0.v == points[v].v.Neg() {
			return 0, errAntipodal
		}
		if v0.v != points[v].v {
			break
		}
	}
	if v >= len(points) {
		return 0, errTooFew
	}
	points[1] = points[v]
	return v + 1, nil
}

// findTriangle arranges points[0:3] into a counter-clockwise triangle and
// returns the index of the first point not yet looked at.
func findTriangle(points []UnitVector3d) (int, error) {
	v, err := findPlane(points)
	if err != nil {
		return 0, err
	}
	n := unitVector(points[0].robustCross(points[1]))
	for ; v < len(points); v++ {
		p := points[v]
		ccw := orientation(points[0], points[1], p)
		if ccw > 0 {
			break
		} else if ccw < 0 {
			points[0], points[1] = points[1], points[0]
			break
		}
		// p, points[0] and points[1] are coplanar.
		v0, v1 := points[0], points[1]
		if p.v == v0.v || p.v == v1.v {
			continue
		}
		if p.v == v0.v.Neg() || p.v == v1.v.Neg() {
			return 0, errAntipodal
		}
		// Drop p if it is inside the arc (v0, v1); else replace the end point it
		// lies beyond.
		v0v := orientation(n, v0, p)
		vv1 := orientation(n, p, v1)
		if v0v == vv1 {
			continue
		}
		v0v1 := orientation(n, v0, v1)
		if v0v1 == -vv1 {
			points[1] = p
			continue
		}
		if -v0v == v0v1 {
			points[0] = p
			continue
		}
		// The points span more than half a great circle.
		return 0, errAntipodal
	}
	if v >= len(points) {
		return 0, errTooFew
	}
	points[2] = points[v]
	return v + 1, nil
}
