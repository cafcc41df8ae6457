package sphgeom

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/gobutler/butler/errs"
)

// sphgeom's encodings: one type code byte, then little-endian IEEE doubles
// (compound regions: length-prefixed operand encodings).
//
//	'p' ConvexPolygon  x, y, z of each vertex (at least 3)      1 + 24n bytes
//	'c' Circle         center x, y, z, squared chord length,
//	                   opening angle                             41 bytes
//	'b' Box            lon a, lon b, lat a, lat b (radians)      33 bytes
//	'e' Ellipse        S (3x3, row-major), a, b, γ, |tan a|,
//	                   |tan b|                                   113 bytes
//	'u' UnionRegion    for each operand: uint64 length, bytes
//	'i' IntersectionRegion  same as 'u'
const (
	circleSize  = 41
	boxSize     = 33
	ellipseSize = 113
)

func encodeFloats(code byte, fs ...float64) []byte {
	buf := make([]byte, 1, 1+8*len(fs))
	buf[0] = code
	for _, f := range fs {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(f))
	}
	return buf
}

func decodeFloats(b []byte) []float64 {
	fs := make([]float64, len(b)/8)
	for i := range fs {
		fs[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return fs
}

// Decode parses sphgeom's binary encoding of a region. It accepts exactly what
// sphgeom's Region::decode accepts, except that it also rejects non-finite
// polygon vertices, circle centers and ellipse matrices, which no real region has.
func Decode(b []byte) (Region, error) {
	r, err := decode(b, 0)
	if err != nil {
		return nil, fmt.Errorf("decode region: %w: %w", errs.ErrInvalid, err)
	}
	return r, nil
}

// maxDepth bounds the nesting of compound regions, so hostile input cannot
// exhaust the stack; sphgeom flattens nested unions anyway.
const maxDepth = 64

func decode(b []byte, depth int) (Region, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty byte string")
	}
	switch b[0] {
	case 'p':
		if len(b) < 1+24*3 || (len(b)-1)%24 != 0 {
			return nil, fmt.Errorf("%d bytes is not an encoded ConvexPolygon (1 + 24 per vertex, at least 3 vertices)", len(b))
		}
		fs := decodeFloats(b[1:])
		verts := make([]UnitVector3d, len(fs)/3)
		for i := range verts {
			verts[i] = unitFromNormalized(fs[3*i], fs[3*i+1], fs[3*i+2])
			if !finite3(verts[i].v) {
				return nil, fmt.Errorf("ConvexPolygon vertex %d is not finite", i)
			}
		}
		return ConvexPolygon{verts}, nil
	case 'c':
		if len(b) != circleSize {
			return nil, fmt.Errorf("%d bytes is not an encoded Circle (%d)", len(b), circleSize)
		}
		fs := decodeFloats(b[1:])
		c := Circle{unitFromNormalized(fs[0], fs[1], fs[2]), fs[3], fs[4]}
		if !finite3(c.center.v) {
			return nil, fmt.Errorf("circle center is not finite")
		}
		return c, nil
	case 'b':
		if len(b) != boxSize {
			return nil, fmt.Errorf("%d bytes is not an encoded Box (%d)", len(b), boxSize)
		}
		fs := decodeFloats(b[1:])
		lon, err := newLonInterval(fs[0], fs[1])
		if err != nil {
			return nil, err
		}
		return newBox(lon, latInterval{fs[2], fs[3]}), nil
	case 'e':
		if len(b) != ellipseSize {
			return nil, fmt.Errorf("%d bytes is not an encoded Ellipse (%d)", len(b), ellipseSize)
		}
		fs := decodeFloats(b[1:])
		e := Ellipse{
			s:     [3]Vector3d{{fs[0], fs[1], fs[2]}, {fs[3], fs[4], fs[5]}, {fs[6], fs[7], fs[8]}},
			a:     fs[9],
			b:     fs[10],
			gamma: fs[11],
			tana:  fs[12],
			tanb:  fs[13],
		}
		for _, row := range e.s {
			if !finite3(row) {
				return nil, fmt.Errorf("ellipse matrix is not finite")
			}
		}
		return e, nil
	case 'u', 'i':
		if depth >= maxDepth {
			return nil, fmt.Errorf("compound regions nested deeper than %d", maxDepth)
		}
		var ops []Region
		for rest := b[1:]; len(rest) > 0; {
			if len(rest) < 8 {
				return nil, fmt.Errorf("encoded compound region is truncated")
			}
			n := binary.LittleEndian.Uint64(rest)
			rest = rest[8:]
			if n > uint64(len(rest)) {
				return nil, fmt.Errorf("encoded compound region is truncated")
			}
			op, err := decode(rest[:n], depth+1)
			if err != nil {
				return nil, err
			}
			ops = append(ops, op)
			rest = rest[n:]
		}
		if b[0] == 'u' {
			return NewUnionRegion(ops...), nil
		}
		return NewIntersectionRegion(ops...), nil
	}
	return nil, fmt.Errorf("unknown region type code 0x%02x", b[0])
}

// DecodeBase64 decodes a region stored the way daf_butler stores regions in
// the database: base64 of the encoding. Several base64 strings joined by ':'
// (what a query's union aggregate of regions produces) decode to a UnionRegion
// of them, and the empty string to an empty UnionRegion, as in sphgeom's
// Region::decodeBase64.
func DecodeBase64(s string) (Region, error) {
	if s == "" {
		return UnionRegion{}, nil
	}
	parts := strings.Split(s, ":")
	regions := make([]Region, len(parts))
	for i, p := range parts {
		r, err := decodeBase64One(p)
		if err != nil {
			return nil, err
		}
		regions[i] = r
	}
	if len(regions) == 1 {
		return regions[0], nil
	}
	return NewUnionRegion(regions...), nil
}

func decodeBase64One(s string) (Region, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// Tolerate missing padding.
		var err2 error
		if b, err2 = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err2 != nil {
			return nil, fmt.Errorf("decode region from base64: %w: %w", errs.ErrInvalid, err)
		}
	}
	return Decode(b)
}

// EncodeBase64 returns the base64 text daf_butler stores in region columns.
func EncodeBase64(r Region) string { return base64.StdEncoding.EncodeToString(r.Encode()) }

// DecodeOverlapsBase64 evaluates an encoded overlap expression, as daf_butler
// builds in SQL for spatial joins it cannot finish in the database: pairs of
// base64 regions joined by '&', and pairs joined by '|' meaning OR. The empty
// string is false (an OR of nothing). Like sphgeom, evaluation stops at the
// first pair that certainly overlaps.
func DecodeOverlapsBase64(s string) (TriState, error) {
	result := TriFalse
	if s == "" {
		return result, nil
	}
	for term := range strings.SplitSeq(s, "|") {
		left, right, ok := strings.Cut(term, "&")
		if !ok {
			return TriUnknown, fmt.Errorf("decode overlap expression: %w: no '&' in term %q", errs.ErrInvalid, term)
		}
		a, err := decodeBase64One(left)
		if err != nil {
			return TriUnknown, err
		}
		b, err := decodeBase64One(right)
		if err != nil {
			return TriUnknown, err
		}
		switch overlaps(a, b) {
		case TriTrue:
			return TriTrue, nil
		case TriUnknown:
			result = TriUnknown
		}
	}
	return result, nil
}
