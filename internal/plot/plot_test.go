package plot

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

func TestWritePNG(t *testing.T) {
	panels := []Panel{{
		Title: "one exposure", XLabel: "datasets", YLabel: "ms",
		Series: []Series{
			{Name: "flat", Points: []Point{{1e3, 5}, {1e4, 5.5}, {1e5, 6}, {1e6, 6}, {1e7, 7}}},
			{Name: "linear", Points: []Point{{1e3, 1}, {1e4, 10}, {1e5, 100}, {1e6, 1000}, {1e7, 10000}}},
		},
	}, {Title: "second", XLabel: "datasets", YLabel: "ms", Series: []Series{{Name: "one", Points: []Point{{10, 0.5}}}}}}
	var buf bytes.Buffer
	if err := WritePNG(&buf, panels); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if w := img.Bounds().Dx(); w != 2*panelW {
		t.Errorf("width %d, want %d (two panels)", w, 2*panelW)
	}
	// The line of the first series is drawn in its colour somewhere.
	want := palette[0]
	found := false
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y && !found; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(bl>>8) == want.B {
				found = true
				break
			}
		}
	}
	if !found {
		t.Error("the first series' colour is nowhere in the image")
	}
}

func TestWritePNG_BadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		panels []Panel
		want   string
	}{
		{"no panels", nil, "nothing to draw"},
		{"zero on a log axis", []Panel{{Title: "p", Series: []Series{{Points: []Point{{0, 1}}}}}}, `panel "p": x: value 0`},
		{"no points", []Panel{{Title: "p"}}, "no points"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WritePNG(&bytes.Buffer{}, tc.panels)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDecadeLabel(t *testing.T) {
	for e, want := range map[float64]string{0: "1", 2: "100", 3: "1k", 4: "10k", 6: "1M", 7: "10M", -1: "0.1", -2: "0.01"} {
		if got := decadeLabel(e); got != want {
			t.Errorf("decadeLabel(%v) = %q, want %q", e, got, want)
		}
	}
}
