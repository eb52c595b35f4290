package loadtest

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// WriteLatencyPlot draws open-loop results as latency (p50, p99, p99.9, on
// a log scale) against the offered rate, one point per rate, to a PNG at
// path: the curve bends up where the server stops keeping up. (Every
// request due is answered in the end, so past that point the rate offered
// is not the rate served: the latency says by how much it falls behind.)
func WriteLatencyPlot(path, title string, rs []OpenResult) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "offered: due per second"
	p.Y.Label.Text = "latency from when due (ms, log scale)"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	// Bottom right, inside the axes: the curves rise to the top right.
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(10), vg.Points(40)
	for i, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p99", 0.99}, {"p99.9", 0.999}} {
		var pts plotter.XYs
		for _, r := range rs {
			if r.Completed == 0 {
				continue
			}
			ms := math.Max(float64(r.Percentile(q.q).Microseconds())/1000, 0.01) // a log scale has no 0
			pts = append(pts, plotter.XY{X: float64(r.Rate), Y: ms})
		}
		if len(pts) == 0 {
			return fmt.Errorf("nothing completed to plot")
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		c := []color.RGBA{{R: 31, G: 119, B: 180, A: 255}, {R: 255, G: 127, B: 14, A: 255}, {R: 214, G: 39, B: 40, A: 255}}[i]
		line.Color, points.Color, points.Shape = c, c, draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add(q.name, line, points)
	}
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}
