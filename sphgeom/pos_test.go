package sphgeom

import (
	"errors"
	"math"
	"testing"

	"github.com/gobutler/butler/errs"
)

// TestParsePOS follows sphgeom's tests/test_ivoa.py.
func TestParsePOS(t *testing.T) {
	for _, s := range []string{
		"CIRCLE 12.0 34.0 0.5",
		"RANGE 12.0 12.5 34.0 36.0",
		"POLYGON 12.0 34.0 14.0 35.0 14. 36.0 12.0 35.0",
		"RANGE 0 360.0 -2.0 2.0",
		"RANGE 0 360.0 89.0 +Inf",
		"RANGE -Inf +Inf -Inf +Inf",
		"POLYGON 12 34 14 34 14 36 12 36",
		"RANGE 0 360 89 90",
		"  CIRCLE\t12 34   0.5 ",
	} {
		if _, err := ParsePOS(s); err != nil {
			t.Errorf("ParsePOS(%q): %v", s, err)
		}
	}
	for _, s := range []string{
		"",
		"circle 12 34 0.5",
		"CIRCLE 12 34 1 1",
		"CIRCLE 12 91 1",
		"CIRCLE 12 34 x",
		"CIRCLE 0x1p3 34 1",
		"RANGE 0 360",
		"POLYGON 0 1 2 3",
		"POLYGON 0 1 2 3 4 5 6",
		"POLYGON 0 0 1 0 2 0", // collinear: no polygon
		"CONVEXPOLYGON 0 1 2 3 4 5",
	} {
		if r, err := ParsePOS(s); err == nil || !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("ParsePOS(%q) = %v, %v; want ErrInvalid", s, r, err)
		}
	}

	type point struct {
		lon, lat float64
		in       bool
	}
	tests := []struct {
		pos    string
		points []point
	}{
		{"CIRCLE 12.0 34.0 5", []point{{13, 33, true}, {12, 40, false}}},
		{"RANGE 1 2 5 6", []point{{1.5, 5.4, true}, {4, 10, false}}},
		{"RANGE 1 2 20 +Inf", []point{{1.7, 80, true}, {1.7, 10, false}}},
		{"RANGE 50 +Inf 20 30", []point{{60, 25, true}, {49, 21, false}}},
		{"RANGE -Inf +50 20 30", []point{{40, 25, true}, {60, 21, false}}},
		{"RANGE -Inf +Inf 20 30", []point{{10, 25, true}, {359, 25, true}, {49, 19, false}}},
		{"RANGE 350 10 -1 1", []point{{355, 0, true}, {5, 0, true}, {180, 0, false}}}, // wraps
		{"POLYGON 12.0 34.0 14.0 35.0 14. 36.0 12.0 35.0", []point{{13, 35, true}, {14, 34, false}}},
	}
	for _, tt := range tests {
		r, err := ParsePOS(tt.pos)
		if err != nil {
			t.Fatalf("ParsePOS(%q): %v", tt.pos, err)
		}
		for _, p := range tt.points {
			if got := r.Contains(mustLonLatDeg(t, p.lon, p.lat).UnitVector()); got != p.in {
				t.Errorf("%q contains (%v, %v) = %v, want %v", tt.pos, p.lon, p.lat, got, p.in)
			}
		}
	}
	r, _ := ParsePOS("RANGE -Inf +Inf -Inf +Inf")
	if b, ok := r.(Box); !ok || !b.IsFull() {
		t.Errorf("RANGE of infinities = %v, want the full box", r)
	}
	r, _ = ParsePOS("CIRCLE 12.0 34.0 5")
	if c, ok := r.(Circle); !ok || c.OpeningAngle() != AngleFromDegrees(5) {
		t.Errorf("CIRCLE radius: %v", r)
	}
}

func TestConstructors(t *testing.T) {
	// BOX(ra, dec, width, height) spans the full width and height (daf_butler
	// passes halves to sphgeom's Box(center, halfWidth, halfHeight)).
	b, err := NewBoxDeg(10, 20, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		lon, lat float64
		in       bool
	}{{11.9, 20.9, true}, {8.1, 19.1, true}, {12.1, 20, false}, {10, 21.1, false}} {
		if got := b.Contains(mustLonLatDeg(t, p.lon, p.lat).UnitVector()); got != p.in {
			t.Errorf("BOX(10, 20, 4, 2) contains (%v, %v) = %v", p.lon, p.lat, got)
		}
	}
	wrap, _ := NewBoxDeg(0, 0, 2, 2)
	if !wrap.Contains(mustLonLatDeg(t, 359.5, 0).UnitVector()) {
		t.Error("BOX around ra 0 does not wrap")
	}
	c, err := NewCircleDeg(30, -60, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Contains(mustLonLatDeg(t, 31.9, -60).UnitVector()) || c.Contains(mustLonLatDeg(t, 32.1, -60).UnitVector()) {
		// 2° of RA at dec -60 is 1° of arc.
		t.Error("CIRCLE(30, -60, 1) has the wrong size")
	}
	p, err := NewPolygonDeg(0, 0, 1, 1, 1, 0, 0, 1) // square, vertices out of order
	if err != nil {
		t.Fatal(err)
	}
	if len(p.vertices) != 4 || !p.Contains(mustLonLatDeg(t, 0.5, 0.5).UnitVector()) {
		t.Errorf("POLYGON square = %v", p)
	}
	pt, err := Point(-10, 5)
	if err != nil || !pt.Contains(mustLonLatDeg(t, 350, 5).UnitVector()) || pt.OpeningAngle() != 0 {
		t.Errorf("Point(-10, 5) = %v, %v", pt, err)
	}
	for name, fn := range map[string]func() error{
		"polygon odd":      func() error { _, err := NewPolygonDeg(0, 0, 1, 1, 1); return err },
		"polygon two":      func() error { _, err := NewPolygonDeg(0, 0, 1, 1); return err },
		"polygon lat":      func() error { _, err := NewPolygonDeg(0, 0, 1, 91, 1, 0); return err },
		"circle lat":       func() error { _, err := NewCircleDeg(0, -90.5, 1); return err },
		"circle NaN":       func() error { _, err := NewCircleDeg(0, 0, math.NaN()); return err },
		"box NaN":          func() error { _, err := NewBoxDeg(math.NaN(), 0, 1, 1); return err },
		"point infinite":   func() error { _, err := Point(math.Inf(1), 0); return err },
		"unit zero vector": func() error { _, err := NewUnitVector3d(0, 0, 0); return err },
		"htm level":        func() error { _, err := NewHtm(25); return err },
		"htm trixel":       func() error { _, err := (Htm{}).Triangle(4); return err },
	} {
		if err := fn(); err == nil || !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", name, err)
		}
	}
}
