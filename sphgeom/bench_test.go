package sphgeom

import (
	"fmt"
	"testing"
)

func BenchmarkHtmIndex(b *testing.B) {
	for _, level := range []int{7, 20} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			h := mustHtm(b, level)
			points := make([]UnitVector3d, 1024)
			for i := range points {
				points[i] = fromLonLat(float64(i)*0.0061, float64(i%181-90)*0.0174)
			}
			var sink uint64
			i := 0
			for b.Loop() {
				sink += h.Index(points[i%len(points)])
				i++
			}
			if sink == 0 {
				b.Fatal("no indexes")
			}
		})
	}
}

// BenchmarkHtmEnvelope times what inserting a detector or visit record costs:
// the htm7 envelope of its region.
func BenchmarkHtmEnvelope(b *testing.B) {
	h := mustHtm(b, 7)
	for _, size := range []float64{0.2, 3.5} { // a detector; a whole LSSTCam visit
		b.Run(fmt.Sprintf("polygon=%gdeg", size), func(b *testing.B) {
			p := detectorPolygon(b, 53.1, -28.1, size, 20)
			var pixels uint64
			for b.Loop() {
				pixels += h.Envelope(p, 0).Cardinality()
			}
			if pixels == 0 {
				b.Fatal("empty envelope")
			}
		})
	}
	b.Run("circle=1deg", func(b *testing.B) {
		c := NewCircle(fromLonLat(1, -0.5), Angle(1*radPerDeg))
		for b.Loop() {
			if h.Envelope(c, 0).IsEmpty() {
				b.Fatal("empty envelope")
			}
		}
	})
}

// BenchmarkOverlaps times the refinement test applied to each candidate row of
// a spatial join.
func BenchmarkOverlaps(b *testing.B) {
	a := detectorPolygon(b, 150, 2, 0.2, 0)
	pairs := []struct {
		name string
		r    Region
		want bool
	}{
		{"polygon/overlapping", detectorPolygon(b, 150.1, 2.1, 0.2, 10), true},
		{"polygon/disjoint", detectorPolygon(b, 150.3, 2, 0.2, 10), false},
		{"polygon/patch-sized", detectorPolygon(b, 150.05, 2.05, 0.4, 0), true},
		{"circle", NewCircle(fromLonLat(150*radPerDeg, 2*radPerDeg), 0.001), true},
		{"point", Circle{fromLonLat(150*radPerDeg, 2*radPerDeg), 0, 0}, true},
	}
	for _, p := range pairs {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				if a.Overlaps(p.r) != p.want {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}

func BenchmarkDecodeBase64(b *testing.B) {
	s := EncodeBase64(detectorPolygon(b, 150, 2, 0.2, 0))
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := DecodeBase64(s); err != nil {
			b.Fatal(err)
		}
	}
}
