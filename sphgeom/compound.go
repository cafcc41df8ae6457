package sphgeom

import (
	"encoding/binary"
	"slices"
	"strings"
)

// UnionRegion is the union of its operands. With no operands it is empty. The
// registry meets unions when a query aggregates regions: the database
// concatenates their base64 encodings with ':' (see DecodeBase64).
type UnionRegion struct {
	operands []Region
}

// IntersectionRegion is the intersection of its operands. With no operands it
// is the whole sphere.
type IntersectionRegion struct {
	operands []Region
}

// NewUnionRegion returns the union of the regions; nested unions are flattened
// into their operands, as sphgeom does.
func NewUnionRegion(regions ...Region) UnionRegion {
	var ops []Region
	for _, r := range regions {
		if u, ok := r.(UnionRegion); ok {
			ops = append(ops, u.operands...)
		} else {
			ops = append(ops, r)
		}
	}
	return UnionRegion{ops}
}

// NewIntersectionRegion returns the intersection of the regions; nested
// intersections are flattened.
func NewIntersectionRegion(regions ...Region) IntersectionRegion {
	var ops []Region
	for _, r := range regions {
		if x, ok := r.(IntersectionRegion); ok {
			ops = append(ops, x.operands...)
		} else {
			ops = append(ops, r)
		}
	}
	return IntersectionRegion{ops}
}

// Operands returns a copy of the operands.
func (u UnionRegion) Operands() []Region        { return slices.Clone(u.operands) }
func (x IntersectionRegion) Operands() []Region { return slices.Clone(x.operands) }

func (u UnionRegion) IsEmpty() bool {
	for _, r := range u.operands {
		if !r.IsEmpty() {
			return false
		}
	}
	return true
}

// IsEmpty is true only when emptiness is evident: all operands empty, or two of
// them disjoint. Otherwise it may report false for an empty intersection.
func (x IntersectionRegion) IsEmpty() bool {
	if len(x.operands) == 0 {
		return false
	}
	allEmpty := true
	for _, r := range x.operands {
		allEmpty = allEmpty && r.IsEmpty()
	}
	if allEmpty {
		return true
	}
	for i, a := range x.operands {
		for _, b := range x.operands[i+1:] {
			if overlaps(a, b) == TriFalse {
				return true
			}
		}
	}
	return false
}

func (u UnionRegion) Contains(v UnitVector3d) bool {
	for _, r := range u.operands {
		if r.Contains(v) {
			return true
		}
	}
	return false
}

func (x IntersectionRegion) Contains(v UnitVector3d) bool {
	for _, r := range x.operands {
		if !r.Contains(v) {
			return false
		}
	}
	return true
}

func (u UnionRegion) BoundingBox() Box {
	if len(u.operands) == 0 {
		return EmptyBox()
	}
	b := u.operands[0].BoundingBox()
	for _, r := range u.operands[1:] {
		b = b.expandedTo(r.BoundingBox())
	}
	return b
}

func (u UnionRegion) BoundingCircle() Circle {
	if len(u.operands) == 0 {
		return EmptyCircle()
	}
	c := u.operands[0].BoundingCircle()
	for _, r := range u.operands[1:] {
		c = c.expandedTo(r.BoundingCircle())
	}
	return c
}

func (x IntersectionRegion) BoundingBox() Box {
	if len(x.operands) == 0 {
		return FullBox()
	}
	b := x.operands[0].BoundingBox()
	for _, r := range x.operands[1:] {
		b = b.clippedTo(r.BoundingBox())
	}
	return b
}

func (x IntersectionRegion) BoundingCircle() Circle {
	if len(x.operands) == 0 {
		return FullCircle()
	}
	c := x.operands[0].BoundingCircle()
	for _, r := range x.operands[1:] {
		c = c.clippedTo(r.BoundingCircle())
	}
	return c
}

// relateTo is sphgeom's UnionRegion::relate: disjoint if every operand is,
// within if every operand is, contains if any operand does.
func (u UnionRegion) relateTo(r Region) Relationship {
	if len(u.operands) == 0 {
		return Disjoint
	}
	result := Disjoint | Within
	for _, op := range u.operands {
		rel := relate(op, r)
		if rel&Disjoint == 0 {
			result &^= Disjoint
		}
		if rel&Within == 0 {
			result &^= Within
		}
		if rel&Contains != 0 {
			result |= Contains
		}
		if result == Contains {
			break
		}
	}
	return result
}

// relateTo is sphgeom's IntersectionRegion::relate: contains if every operand
// does, disjoint or within if any operand is.
func (x IntersectionRegion) relateTo(r Region) Relationship {
	result := Contains
	for _, op := range x.operands {
		rel := relate(op, r)
		if rel&Contains == 0 {
			result &^= Contains
		}
		if rel&Disjoint != 0 {
			result |= Disjoint
		}
		if rel&Within != 0 {
			result |= Within
		}
		if result == Disjoint|Within {
			break
		}
	}
	return result
}

func (u UnionRegion) overlapsWith(r Region) TriState {
	maybe := false
	for _, op := range u.operands {
		switch overlaps(op, r) {
		case TriTrue:
			return TriTrue
		case TriUnknown:
			maybe = true
		}
	}
	if maybe {
		return TriUnknown
	}
	return TriFalse
}

func (x IntersectionRegion) overlapsWith(r Region) TriState {
	if len(x.operands) == 0 {
		// The whole sphere overlaps anything but an empty region.
		return triState(!r.IsEmpty())
	}
	for _, op := range x.operands {
		if overlaps(op, r) == TriFalse {
			return TriFalse
		}
	}
	// Not disjoint, but the intersection itself may still miss r.
	return TriUnknown
}

func (u UnionRegion) Relate(r Region) Relationship          { return relate(u, r) }
func (u UnionRegion) OverlapState(r Region) TriState        { return overlaps(u, r) }
func (u UnionRegion) Overlaps(r Region) bool                { return overlaps(u, r) != TriFalse }
func (x IntersectionRegion) Relate(r Region) Relationship   { return relate(x, r) }
func (x IntersectionRegion) OverlapState(r Region) TriState { return overlaps(x, r) }
func (x IntersectionRegion) Overlaps(r Region) bool         { return overlaps(x, r) != TriFalse }

func (u UnionRegion) Encode() []byte        { return encodeCompound('u', u.operands) }
func (x IntersectionRegion) Encode() []byte { return encodeCompound('i', x.operands) }

func (UnionRegion) region()        {}
func (IntersectionRegion) region() {}

func (u UnionRegion) String() string { return "UnionRegion(" + joinRegions(u.operands) + ")" }
func (x IntersectionRegion) String() string {
	return "IntersectionRegion(" + joinRegions(x.operands) + ")"
}

func joinRegions(rs []Region) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// encodeCompound writes the type code, then for each operand its encoded
// length as a little-endian uint64 followed by its encoding.
func encodeCompound(code byte, operands []Region) []byte {
	buf := []byte{code}
	for _, r := range operands {
		e := r.Encode()
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(e)))
		buf = append(buf, e...)
	}
	return buf
}
