package batch

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
)

// writePlots writes the evaluation's plots as CSV (for `dvc plots`) and PNG
// (for people): a reliability diagram of model and bookmaker, and RPS by
// season for the model, the bookmaker's closing line and base rates.
func writePlots(dir string, ev forecast.Evaluation) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var rel [][]string
	for _, b := range ev.Overall.Reliability {
		rel = append(rel, []string{b.Source, fmt.Sprint(b.Bin), num(b.MeanPredicted), num(b.Observed), fmt.Sprint(b.Count)})
	}
	if err := writeCSV(filepath.Join(dir, "reliability.csv"), []string{"source", "bin", "mean_predicted", "observed", "count"}, rel); err != nil {
		return err
	}
	var rps [][]string
	for _, s := range append(append([]forecast.SeasonEvaluation{}, ev.Seasons...), ev.Overall) {
		rps = append(rps, []string{s.Season, "model", num(s.Model.RPS)}, []string{s.Season, "bookmaker_closing", num(s.Bookmaker.RPS)},
			[]string{s.Season, "base_rates", num(s.BaseRates.RPS)})
	}
	if err := writeCSV(filepath.Join(dir, "rps_by_season.csv"), []string{"season", "source", "rps"}, rps); err != nil {
		return err
	}
	if err := reliabilityPNG(filepath.Join(dir, "reliability.png"), ev); err != nil {
		return err
	}
	return rpsPNG(filepath.Join(dir, "rps_by_season.png"), ev)
}

var (
	modelColour = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	bookColour  = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	baseColour  = color.RGBA{R: 150, G: 150, B: 150, A: 255}
)

func reliabilityPNG(path string, ev forecast.Evaluation) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Reliability, %s walk-forward (%d matches)", ev.Competition, ev.Overall.Model.N)
	p.X.Label.Text = "forecast probability"
	p.Y.Label.Text = "observed frequency"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	diag, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	diag.Color, diag.Dashes = baseColour, []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(diag)
	for _, src := range []struct {
		name   string
		colour color.Color
		label  string
	}{{"model", modelColour, "model"}, {"bookmaker", bookColour, "Pinnacle closing"}} {
		var xys plotter.XYs
		for _, b := range ev.Overall.Reliability {
			if b.Source == src.name {
				xys = append(xys, plotter.XY{X: b.MeanPredicted, Y: b.Observed})
			}
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		line.Color, points.Color, points.Shape = src.colour, src.colour, draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add(src.label, line, points)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(6*vg.Inch, 6*vg.Inch, path)
}

func rpsPNG(path string, ev forecast.Evaluation) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Ranked probability score by season, %s (lower is better)", ev.Competition)
	p.Y.Label.Text = "RPS"
	rows := append(append([]forecast.SeasonEvaluation{}, ev.Seasons...), ev.Overall)
	names := make([]string, len(rows))
	var model, book, base plotter.Values
	for i, s := range rows {
		names[i] = s.Season
		model, book, base = append(model, s.Model.RPS), append(book, s.Bookmaker.RPS), append(base, s.BaseRates.RPS)
	}
	w := vg.Points(24)
	for i, b := range []struct {
		vals   plotter.Values
		colour color.Color
		label  string
	}{{model, modelColour, "model"}, {book, bookColour, "Pinnacle closing"}, {base, baseColour, "last season's base rates"}} {
		bars, err := plotter.NewBarChart(b.vals, w)
		if err != nil {
			return err
		}
		bars.Color, bars.LineStyle.Width, bars.Offset = b.colour, 0, vg.Length(i-1)*w
		p.Add(bars)
		p.Legend.Add(b.label, bars)
	}
	p.NominalX(names...)
	top := 0.0
	for _, v := range append(append(append(plotter.Values{}, model...), book...), base...) {
		top = max(top, v)
	}
	p.Y.Min, p.Y.Max = 0.15, top+0.015
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// WriteReportPlots writes an evaluation report's plots as PNG beside prefix
// (prefix-calibration.png, prefix-gap.png): each outcome's calibration
// error for the model with and without odds and the closing price, pooled,
// and per league the no-odds forecasts' log-loss behind the closing price
// with a 95% interval.
func WriteReportPlots(prefix string, r forecast.Report) error {
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		return err
	}
	if err := calibrationPNG(prefix+"-calibration.png", r.Pooled); err != nil {
		return err
	}
	return gapPNG(prefix+"-gap.png", r)
}

func calibrationPNG(path string, s forecast.SeasonEvaluation) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Calibration, pooled walk-forward (%d matches)", s.Model.N)
	p.Y.Label.Text = "mean forecast − observed frequency (percentage points)"
	w := vg.Points(22)
	lo, hi := 0.0, 0.0
	for i, src := range []struct {
		key, label string
		colour     color.Color
	}{{"model_without_odds", "model without odds", baseColour}, {"model", "model with odds", modelColour}, {"bookmaker_closing", "Pinnacle closing", bookColour}} {
		var vals plotter.Values
		for _, c := range s.Calibration[src.key] {
			vals = append(vals, 100*c.Error)
			lo, hi = min(lo, 100*c.Error), max(hi, 100*c.Error)
		}
		if len(vals) != 3 {
			return fmt.Errorf("plot: no calibration of %s", src.key)
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color, bars.LineStyle.Width, bars.Offset = src.colour, 0, vg.Length(i-1)*w
		p.Add(bars)
		p.Legend.Add(src.label, bars)
	}
	p.NominalX("home", "draw", "away")
	p.Add(plotter.NewGrid())
	pad := max(0.2, (hi-lo)*0.6) // room for the legend above the bars
	p.Y.Min, p.Y.Max = lo-0.1, hi+pad
	p.Legend.Top = true
	return p.Save(6*vg.Inch, 4.5*vg.Inch, path)
}

// errorBars are bars' 95% intervals (±1.96 standard errors).
type errorBars struct {
	plotter.XYs
	plotter.YErrors
}

func gapPNG(path string, r forecast.Report) error {
	p := plot.New()
	p.Title.Text = "Log-loss without odds − Pinnacle closing (95% interval; 0 is the closing price)"
	p.Y.Label.Text = "log-loss difference per match"
	rows := append([]forecast.Evaluation{}, r.Leagues...)
	rows = append(rows, forecast.Evaluation{Competition: "pooled", Overall: r.Pooled})
	names := make([]string, len(rows))
	var vals plotter.Values
	var eb errorBars
	for i, l := range rows {
		d := l.Overall.WithoutOddsVsClosing.LogLoss
		names[i], vals = l.Competition, append(vals, d.Mean)
		eb.XYs = append(eb.XYs, plotter.XY{X: float64(i), Y: d.Mean})
		eb.YErrors = append(eb.YErrors, struct{ Low, High float64 }{1.96 * d.StdErr, 1.96 * d.StdErr})
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(26))
	if err != nil {
		return err
	}
	bars.Color, bars.LineStyle.Width = baseColour, 0
	yerr, err := plotter.NewYErrorBars(eb)
	if err != nil {
		return err
	}
	p.Add(bars, yerr, plotter.NewGrid())
	p.NominalX(names...)
	return p.Save(6*vg.Inch, 4.5*vg.Inch, path)
}
