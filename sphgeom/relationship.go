package sphgeom

import "strings"

// Relationship is sphgeom's set of spatial relationships between regions A and B
// (the result of A.Relate(B)). A set bit is a proven fact; a clear bit means the
// relationship may or may not hold, because some tests are conservative.
type Relationship uint8

const (
	// Intersects (no bits) says nothing is proven.
	Intersects Relationship = 0
	// Disjoint: A and B have no point in common.
	Disjoint Relationship = 1
	// Contains: A contains every point of B.
	Contains Relationship = 2
	// Within: B contains every point of A.
	Within Relationship = 4
)

// Invert turns the relationship of A to B into that of B to A.
func (r Relationship) Invert() Relationship {
	return r&Disjoint | (r&Contains)<<1 | (r&Within)>>1
}

func (r Relationship) String() string {
	if r == Intersects {
		return "INTERSECTS"
	}
	var parts []string
	for _, b := range []struct {
		bit  Relationship
		name string
	}{{Disjoint, "DISJOINT"}, {Contains, "CONTAINS"}, {Within, "WITHIN"}} {
		if r&b.bit != 0 {
			parts = append(parts, b.name)
		}
	}
	return strings.Join(parts, "|")
}

// TriState is an answer that may be unknown, like sphgeom's TriState.
type TriState int8

const (
	TriUnknown TriState = iota
	TriFalse
	TriTrue
)

func triState(b bool) TriState {
	if b {
		return TriTrue
	}
	return TriFalse
}

func (t TriState) String() string {
	switch t {
	case TriTrue:
		return "true"
	case TriFalse:
		return "false"
	}
	return "unknown"
}

// relationshipToOverlaps is sphgeom's default conversion from a (possibly
// conservative) relationship to an overlap answer.
func relationshipToOverlaps(r Relationship) TriState {
	if r&Disjoint != 0 {
		return TriFalse
	}
	if r&(Within|Contains) != 0 {
		return TriTrue
	}
	return TriUnknown
}
