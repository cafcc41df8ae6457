// Package plot draws small log-log line charts as PNG: benchmark times
// against repository size, so the shape of a cost curve (flat, linear) is
// visible at a glance. It needs no fonts or libraries beyond the standard
// library and x/image's built-in bitmap face.
package plot

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Point is one measurement: Y at size X. Both must be positive (log axes).
type Point struct{ X, Y float64 }

// Series is one labelled line.
type Series struct {
	Name   string
	Points []Point
}

// Panel is one chart: its title, axis labels and lines.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
}

const (
	panelW, panelH = 560, 420
	marginL        = 64
	marginR        = 16
	marginT        = 28
	marginB        = 44
	legendLine     = 15
)

// palette: distinguishable on white, in a fixed order so the same query
// gets the same colour in every panel.
var palette = [...]color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

// WritePNG draws the panels side by side and encodes them to w.
func WritePNG(w io.Writer, panels []Panel) error {
	if len(panels) == 0 {
		return errors.New("plot: nothing to draw")
	}
	maxSeries := 0
	for _, p := range panels {
		maxSeries = max(maxSeries, len(p.Series))
	}
	legendH := maxSeries*legendLine + 8
	img := image.NewRGBA(image.Rect(0, 0, panelW*len(panels), panelH+legendH))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for i, p := range panels {
		if err := drawPanel(img, image.Pt(i*panelW, 0), p); err != nil {
			return fmt.Errorf("plot: panel %q: %w", p.Title, err)
		}
		for j, s := range p.Series {
			y := panelH + 4 + j*legendLine
			c := palette[j%len(palette)]
			x0 := i*panelW + marginL
			hline(img, x0, x0+24, y+6, c)
			hline(img, x0, x0+24, y+7, c)
			label(img, x0+30, y+11, s.Name, color.Black)
		}
	}
	return png.Encode(w, img)
}

// axis is a log10 range rounded out to whole decades.
type axis struct{ lo, hi float64 } // exponents

func decades(vals []float64) (axis, error) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !(v > 0) || math.IsInf(v, 0) {
			return axis{}, fmt.Errorf("value %v: a log axis needs positive finite values", v)
		}
		lo, hi = min(lo, math.Log10(v)), max(hi, math.Log10(v))
	}
	if math.IsInf(lo, 1) {
		return axis{}, errors.New("no points")
	}
	a := axis{math.Floor(lo), math.Ceil(hi)}
	if a.hi == a.lo {
		a.hi++
	}
	return a, nil
}

func (a axis) frac(v float64) float64 { return (math.Log10(v) - a.lo) / (a.hi - a.lo) }

func drawPanel(img *image.RGBA, o image.Point, p Panel) error {
	var xs, ys []float64
	for _, s := range p.Series {
		for _, pt := range s.Points {
			xs, ys = append(xs, pt.X), append(ys, pt.Y)
		}
	}
	ax, err := decades(xs)
	if err != nil {
		return fmt.Errorf("x: %w", err)
	}
	ay, err := decades(ys)
	if err != nil {
		return fmt.Errorf("y: %w", err)
	}
	left, right := o.X+marginL, o.X+panelW-marginR
	top, bottom := o.Y+marginT, o.Y+panelH-marginB
	px := func(v float64) int { return left + int(math.Round(ax.frac(v)*float64(right-left))) }
	py := func(v float64) int { return bottom - int(math.Round(ay.frac(v)*float64(bottom-top))) }
	grid := color.RGBA{225, 225, 225, 255}
	for e := ax.lo; e <= ax.hi; e++ {
		x := px(math.Pow(10, e))
		vline(img, x, top, bottom, grid)
		s := decadeLabel(e)
		label(img, x-textWidth(s)/2, bottom+16, s, color.Black)
	}
	for e := ay.lo; e <= ay.hi; e++ {
		y := py(math.Pow(10, e))
		hline(img, left, right, y, grid)
		s := decadeLabel(e)
		label(img, left-6-textWidth(s), y+4, s, color.Black)
	}
	hline(img, left, right, bottom, color.Black)
	vline(img, left, top, bottom, color.Black)
	label(img, o.X+(panelW-textWidth(p.Title))/2, o.Y+18, p.Title, color.Black)
	label(img, left+(right-left-textWidth(p.XLabel))/2, bottom+34, p.XLabel, color.Black)
	label(img, o.X+4, top-8, p.YLabel, color.Black)
	for j, s := range p.Series {
		c := palette[j%len(palette)]
		for k, pt := range s.Points {
			x, y := px(pt.X), py(pt.Y)
			square(img, x, y, 3, c)
			if k > 0 {
				prev := s.Points[k-1]
				line(img, px(prev.X), py(prev.Y), x, y, c)
			}
		}
	}
	return nil
}

// decadeLabel writes 10^e compactly: 1, 10, 100, 1k … 10M, 0.1, 0.01.
func decadeLabel(e float64) string {
	n := int(e)
	switch {
	case n >= 9:
		return strconv.Itoa(int(math.Pow(10, float64(n-9)))) + "G"
	case n >= 6:
		return strconv.Itoa(int(math.Pow(10, float64(n-6)))) + "M"
	case n >= 3:
		return strconv.Itoa(int(math.Pow(10, float64(n-3)))) + "k"
	case n >= 0:
		return strconv.Itoa(int(math.Pow(10, float64(n))))
	default:
		return strconv.FormatFloat(math.Pow(10, float64(n)), 'f', -n, 64)
	}
}

func textWidth(s string) int { return font.MeasureString(basicfont.Face7x13, s).Round() }

func label(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}

func square(img *image.RGBA, x, y, r int, c color.Color) {
	for dy := -r; dy <= r; dy++ {
		hline(img, x-r, x+r, y+dy, c)
	}
}

// line draws a two-pixel-thick segment (Bresenham, doubled vertically).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int { return max(v, -v) }

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
