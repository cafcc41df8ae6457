package sphgeom

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
)

// newEllipseCircle builds the ellipse equal to a circle the way sphgeom's
// Ellipse(center, center, alpha) does, to have real ellipse encodings to test.
func newEllipseCircle(center UnitVector3d, alpha float64) Ellipse {
	b0 := orthogonalTo(center.v)
	b1 := unitVector(center.v.Cross(b0.v))
	a := alpha - 0.5*pi
	tan := math.Abs(math.Tan(a))
	return Ellipse{s: [3]Vector3d{b0.v, b1.v, center.v}, a: a, b: a, tana: tan, tanb: tan}
}

// sampleRegions has one region of every kind, for round trips and fuzz seeds.
func sampleRegions(t testing.TB) map[string]Region {
	t.Helper()
	poly := detectorPolygon(t, 321, -0.4, 0.2, 30)
	circle := NewCircle(fromLonLat(1, 0.5), 0.01)
	box := mustBoxDeg(t, 350, -5, 10, 5)
	return map[string]Region{
		"polygon":        poly,
		"circle":         circle,
		"empty circle":   EmptyCircle(),
		"full circle":    FullCircle(),
		"point":          Circle{fromLonLat(2, -1), 0, 0},
		"box":            box,
		"empty box":      EmptyBox(),
		"full box":       FullBox(),
		"ellipse":        newEllipseCircle(fromLonLat(3, 0.2), 0.05),
		"union":          NewUnionRegion(poly, circle, box),
		"intersection":   NewIntersectionRegion(poly, circle),
		"empty union":    NewUnionRegion(),
		"full sphere":    NewIntersectionRegion(),
		"union of inter": NewUnionRegion(NewIntersectionRegion(poly, box), circle),
	}
}

func TestEncodeDecode_RoundTrip(t *testing.T) {
	for name, r := range sampleRegions(t) {
		t.Run(name, func(t *testing.T) {
			enc := r.Encode()
			got, err := Decode(enc)
			if err != nil {
				t.Fatalf("Decode(%x): %v", enc, err)
			}
			if !bytes.Equal(got.Encode(), enc) {
				t.Errorf("re-encoding differs:\n got %x\nwant %x", got.Encode(), enc)
			}
			if got.String() != r.String() {
				t.Errorf("decoded %v, want %v", got, r)
			}
			b64, err := DecodeBase64(EncodeBase64(r))
			if err != nil || !bytes.Equal(b64.Encode(), enc) {
				t.Errorf("base64 round trip: %v", err)
			}
		})
	}
}

// TestEncode_Layout pins the byte layouts found in sphgeom's src/*.cc.
func TestEncode_Layout(t *testing.T) {
	f64 := func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }
	c := NewCircle(unitZ(), 1)
	enc := c.Encode()
	if len(enc) != 41 || enc[0] != 'c' || f64(enc[17:]) != 1 || f64(enc[25:]) != squaredChordLengthFor(1) || f64(enc[33:]) != 1 {
		t.Errorf("circle encoding %x", enc)
	}
	b := mustBoxRad(t, 0.5, -0.25, 1.5, 0.25)
	enc = b.Encode()
	if len(enc) != 33 || enc[0] != 'b' || f64(enc[1:]) != 0.5 || f64(enc[9:]) != 1.5 || f64(enc[17:]) != -0.25 || f64(enc[25:]) != 0.25 {
		t.Errorf("box encoding %x", enc)
	}
	// An empty box stores C++'s quiet NaN for its longitudes and [1, 0] latitudes.
	want := "62000000000000f87f000000000000f87f000000000000f03f0000000000000000"
	if got := hexOf(EmptyBox().Encode()); got != want {
		t.Errorf("empty box encoding %s, want %s", got, want)
	}
	tri := mustHull(t, unitX(), unitY(), unitZ())
	want = "70" + "000000000000f03f" + strings.Repeat("0", 32) +
		strings.Repeat("0", 16) + "000000000000f03f" + strings.Repeat("0", 16) +
		strings.Repeat("0", 32) + "000000000000f03f"
	if got := hexOf(tri.Encode()); got != want {
		t.Errorf("triangle encoding %s, want %s", got, want)
	}
	if n := len(newEllipseCircle(unitX(), 0.1).Encode()); n != 113 {
		t.Errorf("ellipse encoding has %d bytes, want 113", n)
	}
	u := NewUnionRegion(c, b).Encode()
	if u[0] != 'u' || binary.LittleEndian.Uint64(u[1:]) != 41 || u[9] != 'c' || binary.LittleEndian.Uint64(u[50:]) != 33 || u[58] != 'b' || len(u) != 1+8+41+8+33 {
		t.Errorf("union encoding %x", u)
	}
	if x := NewIntersectionRegion().Encode(); !bytes.Equal(x, []byte{'i'}) {
		t.Errorf("empty intersection encoding %x", x)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestDecode_Errors(t *testing.T) {
	poly := detectorPolygon(t, 10, 10, 0.2, 0).Encode()
	circle := NewCircle(unitX(), 0.1).Encode()
	nanVertex := append([]byte{}, poly...)
	binary.LittleEndian.PutUint64(nanVertex[1:], math.Float64bits(math.NaN()))
	badBox := encodeFloats('b', 7, 1, 0, 0.1) // lon 7 > 2π with a > b
	lenPrefix := func(n uint64, rest []byte) []byte {
		return append(binary.LittleEndian.AppendUint64([]byte{'u'}, n), rest...)
	}
	deep := []byte{'c'}
	for range maxDepth + 1 {
		deep = append(binary.LittleEndian.AppendUint64([]byte{'u'}, uint64(len(deep))), deep...)
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown type", []byte("x123")},
		{"polygon with 2 vertices", poly[:1+48]},
		{"polygon ragged", poly[:len(poly)-1]},
		{"polygon NaN vertex", nanVertex},
		{"circle short", circle[:40]},
		{"circle long", append(append([]byte{}, circle...), 0)},
		{"box short", encodeFloats('b', 0, 1, 0)},
		{"box bad longitudes", badBox},
		{"ellipse short", encodeFloats('e', 1, 2, 3)},
		{"union truncated length", []byte{'u', 1, 2, 3}},
		{"union length too large", lenPrefix(1000, circle)},
		{"union bad operand", lenPrefix(3, []byte("zzz"))},
		{"union huge length", lenPrefix(math.MaxUint64, circle)},
		{"nested too deep", deep},
	}
	for _, tt := range tests {
		r, err := Decode(tt.in)
		if err == nil {
			t.Errorf("%s: Decode = %v, want error", tt.name, r)
			continue
		}
		if !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%s: error %v is not ErrInvalid", tt.name, err)
		}
	}
}

func TestDecodeBase64(t *testing.T) {
	c := NewCircle(fromLonLat(0.7, 0.7), 0.02)
	b := mustBoxDeg(t, 10, 10, 20, 20)
	joined := EncodeBase64(c) + ":" + EncodeBase64(b)
	r, err := DecodeBase64(joined)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := r.(UnionRegion)
	if !ok || len(u.operands) != 2 || u.String() != NewUnionRegion(c, b).String() {
		t.Errorf("DecodeBase64(%q) = %v", joined, r)
	}
	if r, err := DecodeBase64(""); err != nil || !r.IsEmpty() {
		t.Errorf(`DecodeBase64("") = %v, %v; want empty union`, r, err)
	}
	unpadded := strings.TrimRight(EncodeBase64(b), "=")
	if r, err := DecodeBase64(unpadded); err != nil || r.String() != b.String() {
		t.Errorf("unpadded base64: %v, %v", r, err)
	}
	for _, bad := range []string{"!!!", EncodeBase64(c) + ":", "AAAA"} {
		if r, err := DecodeBase64(bad); err == nil || !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("DecodeBase64(%q) = %v, %v; want ErrInvalid", bad, r, err)
		}
	}
}

// TestDecodeOverlapsBase64 follows sphgeom's tests/test_CompoundRegion.py.
func TestDecodeOverlapsBase64(t *testing.T) {
	inCircle := mustLonLatDeg(t, 44, 45)
	circle := NewCircle(inCircle.UnitVector(), AngleFromDegrees(1))
	box := mustBoxDeg(t, 44.5, 43.5, 47.5, 46.5)
	faraway := NewCircle(mustLonLatDeg(t, 45, 48).UnitVector(), AngleFromDegrees(0.1))
	inter := NewIntersectionRegion(circle, box)
	expr := func(pairs ...[2]Region) string {
		var terms []string
		for _, p := range pairs {
			terms = append(terms, base64.StdEncoding.EncodeToString(p[0].Encode())+"&"+base64.StdEncoding.EncodeToString(p[1].Encode()))
		}
		return strings.Join(terms, "|")
	}
	tests := []struct {
		name  string
		pairs [][2]Region
		want  TriState
	}{
		{"nothing", nil, TriFalse},
		{"box circle", [][2]Region{{box, circle}}, TriTrue},
		{"box faraway", [][2]Region{{box, faraway}}, TriFalse},
		{"circle faraway", [][2]Region{{circle, faraway}}, TriFalse},
		{"intersection box", [][2]Region{{inter, box}}, TriUnknown},
		{"true or false", [][2]Region{{box, circle}, {box, faraway}}, TriTrue},
		{"false or false", [][2]Region{{faraway, circle}, {box, faraway}}, TriFalse},
		{"unknown or false", [][2]Region{{inter, box}, {circle, faraway}}, TriUnknown},
		{"unknown or true", [][2]Region{{inter, box}, {circle, box}}, TriTrue},
		{"true or unknown", [][2]Region{{circle, box}, {inter, box}}, TriTrue},
	}
	for _, tt := range tests {
		got, err := DecodeOverlapsBase64(expr(tt.pairs...))
		if err != nil || got != tt.want {
			t.Errorf("%s: = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	// A single region is not an expression.
	if _, err := DecodeOverlapsBase64(EncodeBase64(box)); err == nil {
		t.Error("DecodeOverlapsBase64 of a single region succeeded")
	}
}

// FuzzDecode: no input makes Decode or the methods of what it returns panic,
// and what decodes re-encodes stably.
func FuzzDecode(f *testing.F) {
	for _, r := range sampleRegions(f) {
		f.Add(r.Encode())
	}
	f.Add([]byte{})
	f.Add([]byte("u"))
	f.Add(encodeFloats('b', 7, 1, 0, 0.1))
	f.Add(encodeFloats('c', 1e300, 1e300, 0, 4, 3))
	h := mustHtm(f, 3)
	probe := NewCircle(fromLonLat(1, 0.5), 0.3)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if r != nil {
				t.Fatalf("Decode returned %v with error %v", r, err)
			}
			return
		}
		enc := r.Encode()
		r2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode of %x: %v", enc, err)
		}
		if enc2 := r2.Encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%x\n%x", enc, enc2)
		}
		_ = r.String()
		_ = r.IsEmpty()
		_ = r.Contains(unitX())
		_ = r.Relate(r)
		_ = r.Relate(probe)
		_ = r.OverlapState(probe)
		_ = r.BoundingBox()
		_ = r.BoundingCircle()
		_ = h.Envelope(r, 8)
		_ = h.Interior(r, 8)
	})
}
