package sphgeom

import (
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
)

// Range is the half-open interval of pixel indexes [Begin, End).
type Range struct {
	Begin, End uint64
}

// RangeSet is a set of pixel indexes kept as sorted, disjoint, non-adjacent
// ranges (sphgeom's RangeSet, without its wrap-around at 2⁶⁴, which pixel
// indexes never reach). The zero value is the empty set.
type RangeSet struct {
	ranges []Range
}

// NewRangeSet returns the set holding the given ranges (in any order,
// overlapping or not); empty ranges are ignored.
func NewRangeSet(ranges ...Range) RangeSet {
	var s RangeSet
	for _, r := range ranges {
		s.Insert(r.Begin, r.End)
	}
	return s
}

// Len returns the number of ranges.
func (s RangeSet) Len() int { return len(s.ranges) }

// IsEmpty reports whether the set has no indexes.
func (s RangeSet) IsEmpty() bool { return len(s.ranges) == 0 }

// Ranges returns a copy of the ranges, in increasing order.
func (s RangeSet) Ranges() []Range { return slices.Clone(s.ranges) }

// Cardinality returns the number of indexes in the set.
func (s RangeSet) Cardinality() uint64 {
	var n uint64
	for _, r := range s.ranges {
		n += r.End - r.Begin
	}
	return n
}

// All yields every index in the set, in increasing order. This is how daf_butler
// fills <element>_skypix_overlap: one row per index of the envelope.
func (s RangeSet) All() iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		for _, r := range s.ranges {
			for i := r.Begin; i < r.End; i++ {
				if !yield(i) {
					return
				}
			}
		}
	}
}

// Contains reports whether i is in the set.
func (s RangeSet) Contains(i uint64) bool {
	k := sort.Search(len(s.ranges), func(k int) bool { return s.ranges[k].End > i })
	return k < len(s.ranges) && s.ranges[k].Begin <= i
}

// ContainsSet reports whether every index of o is in s.
func (s RangeSet) ContainsSet(o RangeSet) bool { return o.Difference(s).IsEmpty() }

// Insert adds [begin, end). Appending at the end, the common case when
// pixelizing, takes constant time.
func (s *RangeSet) Insert(begin, end uint64) {
	if begin >= end {
		return
	}
	n := len(s.ranges)
	if n == 0 || begin > s.ranges[n-1].End {
		s.ranges = append(s.ranges, Range{begin, end})
		return
	}
	if begin >= s.ranges[n-1].Begin {
		s.ranges[n-1].End = max(s.ranges[n-1].End, end)
		return
	}
	// General case: merge with every range that overlaps or touches [begin, end).
	lo := sort.Search(n, func(k int) bool { return s.ranges[k].End >= begin })
	hi := sort.Search(n, func(k int) bool { return s.ranges[k].Begin > end })
	if lo < hi {
		begin = min(begin, s.ranges[lo].Begin)
		end = max(end, s.ranges[hi-1].End)
	}
	s.ranges = slices.Replace(s.ranges, lo, hi, Range{begin, end})
}

// Union returns the indexes in s or o.
func (s RangeSet) Union(o RangeSet) RangeSet {
	r := RangeSet{slices.Clone(s.ranges)}
	for _, x := range o.ranges {
		r.Insert(x.Begin, x.End)
	}
	return r
}

// Intersection returns the indexes in both s and o.
func (s RangeSet) Intersection(o RangeSet) RangeSet {
	var r RangeSet
	i, j := 0, 0
	for i < len(s.ranges) && j < len(o.ranges) {
		a, b := s.ranges[i], o.ranges[j]
		if lo, hi := max(a.Begin, b.Begin), min(a.End, b.End); lo < hi {
			r.ranges = append(r.ranges, Range{lo, hi})
		}
		if a.End < b.End {
			i++
		} else {
			j++
		}
	}
	return r
}

// Difference returns the indexes in s and not in o.
func (s RangeSet) Difference(o RangeSet) RangeSet {
	var r RangeSet
	j := 0
	for _, a := range s.ranges {
		begin := a.Begin
		for j < len(o.ranges) && o.ranges[j].End <= begin {
			j++
		}
		for k := j; k < len(o.ranges) && o.ranges[k].Begin < a.End; k++ {
			if o.ranges[k].Begin > begin {
				r.ranges = append(r.ranges, Range{begin, o.ranges[k].Begin})
			}
			begin = max(begin, o.ranges[k].End)
		}
		if begin < a.End {
			r.ranges = append(r.ranges, Range{begin, a.End})
		}
	}
	return r
}

// Equal reports whether the sets hold the same indexes.
func (s RangeSet) Equal(o RangeSet) bool { return slices.Equal(s.ranges, o.ranges) }

// simplified coarsens the set: range beginnings are rounded down and ends up to
// multiples of 2ⁿ (sphgeom's RangeSet::simplify). The result is a superset.
func (s RangeSet) simplified(n uint) RangeSet {
	if len(s.ranges) == 0 || n == 0 {
		return s
	}
	if n >= 63 {
		// Indexes stay far below 2⁶³; this is "everything".
		return RangeSet{[]Range{{0, 1 << 63}}}
	}
	m := uint64(1)<<n - 1
	var r RangeSet
	for _, x := range s.ranges {
		r.Insert(x.Begin&^m, (x.End+m)&^m)
	}
	return r
}

// shrunk rounds range beginnings up and ends down to multiples of 2ⁿ, dropping
// ranges that vanish: the result is a subset. It is what sphgeom's
// complement-simplify-complement does for interiors.
func (s RangeSet) shrunk(n uint) RangeSet {
	if n >= 63 {
		return RangeSet{}
	}
	m := uint64(1)<<n - 1
	var r RangeSet
	for _, x := range s.ranges {
		if b, e := (x.Begin+m)&^m, x.End&^m; b < e {
			r.ranges = append(r.ranges, Range{b, e})
		}
	}
	return r
}

func (s RangeSet) String() string {
	parts := make([]string, len(s.ranges))
	for i, r := range s.ranges {
		parts[i] = fmt.Sprintf("[%d, %d)", r.Begin, r.End)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
