package monitor

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	modelColour   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	preColour     = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	closeColour   = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	neutralColour = color.RGBA{R: 150, G: 150, B: 150, A: 255}
)

// WritePlots writes the report's plots as PNG into dir, one set per
// version: rolling log-loss beside the market's (live_scores_vN.png), the
// reliability diagram per outcome (reliability_vN.png) and, when the
// report has drift, drift per feature per regime (drift_vN_priced.png,
// drift_vN_unpriced.png). It returns the
// files written.
func WritePlots(dir string, rep Report, window int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, v := range rep.Versions {
		var ss []Scored
		for _, s := range rep.Scored {
			if s.Version == v.Version {
				ss = append(ss, s)
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("live_scores_v%d.png", v.Version))
		if err := rollingPNG(path, v, ss, window); err != nil {
			return files, err
		}
		files = append(files, path)
		path = filepath.Join(dir, fmt.Sprintf("reliability_v%d.png", v.Version))
		if err := reliabilityPNG(path, v); err != nil {
			return files, err
		}
		files = append(files, path)
		for _, d := range v.Drift {
			path = filepath.Join(dir, fmt.Sprintf("drift_v%d_%s.png", v.Version, d.Regime))
			if err := driftPNG(path, v, d); err != nil {
				return files, err
			}
			files = append(files, path)
		}
	}
	return files, nil
}

func rollingPNG(path string, v VersionReport, ss []Scored, window int) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s v%d live: log-loss over the last %d scored matches", v.Model, v.Version, window)
	p.X.Label.Text = "scored matches (kick-off order)"
	p.Y.Label.Text = "mean log-loss"
	for _, src := range []struct {
		label  string
		colour color.Color
		score  func(Scored) (float64, bool)
	}{
		{"model", modelColour, func(s Scored) (float64, bool) { return s.LogLoss, true }},
		{"pre-match price", preColour, func(s Scored) (float64, bool) {
			if s.PreMatchScores == nil {
				return 0, false
			}
			return s.PreMatchScores.LogLoss, true
		}},
		{"closing price", closeColour, func(s Scored) (float64, bool) {
			if s.ClosingScores == nil {
				return 0, false
			}
			return s.ClosingScores.LogLoss, true
		}},
	} {
		var xys plotter.XYs
		var vals []float64
		sum := 0.0
		for i, s := range ss {
			x, ok := src.score(s)
			if !ok {
				continue
			}
			vals = append(vals, x)
			sum += x
			if len(vals) > window {
				sum -= vals[len(vals)-window-1]
			}
			n := min(len(vals), window)
			xys = append(xys, plotter.XY{X: float64(i + 1), Y: sum / float64(n)})
		}
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		line.Color = src.colour
		p.Add(line)
		p.Legend.Add(src.label, line)
	}
	p.Legend.Top = true
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}

func reliabilityPNG(path string, v VersionReport) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s v%d live reliability (%d matches)", v.Model, v.Version, v.N)
	p.X.Label.Text = "forecast probability"
	p.Y.Label.Text = "observed frequency"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	diag, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	diag.Color, diag.Dashes = neutralColour, []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(diag)
	for i, c := range v.Calibration {
		var xys plotter.XYs
		for _, b := range c.Bins {
			xys = append(xys, plotter.XY{X: b.MeanPredicted, Y: b.Observed})
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		colour := []color.Color{modelColour, preColour, closeColour}[i]
		line.Color, points.Color, points.Shape = colour, colour, draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add(fmt.Sprintf("%s (ECE %.3f)", c.Outcome, c.ECE), line, points)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(6*vg.Inch, 6*vg.Inch, path)
}

func driftPNG(path string, v VersionReport, d RegimeDrift) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s v%d feature drift, %s requests (normalised Wasserstein; dashed: threshold)", v.Model, v.Version, d.Regime)
	p.X.Min = 0
	var vals plotter.Values
	var names []string
	for _, f := range d.Features.Features {
		vals = append(vals, f.Wasserstein)
		names = append(names, f.Feature)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(10))
	if err != nil {
		return err
	}
	bars.Color, bars.LineStyle.Width, bars.Horizontal = modelColour, 0, true
	p.Add(bars)
	p.NominalY(names...)
	thr, _ := plotter.NewLine(plotter.XYs{{X: WassersteinThreshold, Y: -0.5}, {X: WassersteinThreshold, Y: float64(len(names)) - 0.5}})
	thr.Color, thr.Dashes = preColour, []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(thr)
	return p.Save(7*vg.Inch, vg.Length(max(4, len(names)/4+1))*vg.Inch, path)
}
