package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/forecastlog"
	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/telemetry"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// runMonitor prints how the served forecasts did against the results:
// per model version, competition and rolling window, beside the market,
// with calibration, the sequential alarm and drift; --plots writes PNGs
// and --json the whole report.
func runMonitor(e env, args []string) error { return monitorCommand(e, "monitor", args) }

// batchMonitor is the DVC stage: the monitor's report as metrics JSON and
// plots, without the clock in it (the metrics change with the store).
func batchMonitor(e env, args []string) error { return monitorCommand(e, "batch monitor", args) }

func monitorCommand(e env, name string, args []string) error {
	fs, c := newFlags(e, name)
	q, plots, jsonOut, err := monitorFlags(fs, args)
	if err != nil {
		return err
	}
	stage := name == "batch monitor"
	if stage && (*jsonOut == "" || *plots == "") {
		return fmt.Errorf("%w: batch monitor needs --json FILE and --plots DIR", errUsage)
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := monitor.Compute(e.ctx, st, q)
	if err == nil {
		rep.Ingest, err = monitor.CheckIngest(e.ctx, st)
	}
	if err != nil {
		return err
	}
	if stage {
		rep.GeneratedAt = time.Time{}
	} else {
		writeMonitorReport(e.stdout, rep)
	}
	return writeMonitorOutputs(e, rep, plots, jsonOut, q)
}

// monitorFlags declares and parses the flags monitor and batch monitor share.
func monitorFlags(fs *flag.FlagSet, args []string) (q monitor.Query, plots, jsonOut *string, err error) {
	from := fs.String("from", "", "score forecasts first served on or after this date (YYYY-MM-DD or RFC 3339)")
	to := fs.String("to", "", "and before this date")
	comp := fs.String("competition", "", "only this competition")
	version := fs.Int("version", 0, "only this model version")
	windows := fs.String("windows", "50,200,1000", "rolling windows, in scored matches, comma-separated")
	plots = fs.String("plots", "", "write PNG plots (rolling scores beside the market, reliability, drift) into this directory")
	jsonOut = fs.String("json", "", "write the report as JSON to this file")
	if err := parse(fs, args); err != nil {
		return q, nil, nil, err
	}
	q = monitor.Query{Competition: *comp, Version: *version}
	if q.From, err = parseDay("--from", *from); err != nil {
		return q, nil, nil, err
	}
	if q.To, err = parseDay("--to", *to); err != nil {
		return q, nil, nil, err
	}
	if *version < 0 {
		return q, nil, nil, fmt.Errorf("%w: --version %d is not a model version", errUsage, *version)
	}
	if q.Windows, err = monitor.ParseWindows(*windows); err != nil {
		return q, nil, nil, fmt.Errorf("%w: --windows: %v", errUsage, err)
	}
	return q, plots, jsonOut, nil
}

// parseDay is monitor.ParseTime with the flag's name in its error.
func parseDay(flagName, s string) (time.Time, error) {
	t, err := monitor.ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %v", errUsage, flagName, err)
	}
	return t, nil
}

func writeMonitorOutputs(e env, rep monitor.Report, plots, jsonOut *string, q monitor.Query) error {
	if *plots != "" {
		window := 50
		if len(q.Windows) > 0 {
			window = q.Windows[0]
		}
		files, err := monitor.WritePlots(*plots, rep, window)
		if err != nil {
			return err
		}
		for _, f := range files {
			fmt.Fprintf(e.stdout, "wrote %s\n", f)
		}
	}
	if *jsonOut != "" {
		rep.Scored = nil
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if dir := filepath.Dir(*jsonOut); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", *jsonOut)
	}
	return nil
}

// writeMonitorReport is the monitor's terminal report.
func writeMonitorReport(w io.Writer, rep monitor.Report) {
	fmt.Fprintf(w, "forecast log: %d rows standing for %d forecasts of %d fixtures; %d fixtures await a result\n",
		rep.LoggedRows, rep.LoggedForecasts, rep.Fixtures, rep.Awaiting)
	if rep.Log != nil {
		fmt.Fprintf(w, "this process's log: %d written, %d dropped (buffer full), %d pending\n", rep.Log.Written, rep.Log.Dropped, rep.Log.Pending)
	}
	flagged := 0
	for _, c := range rep.Ingest {
		if c.Flagged {
			flagged++
			fmt.Fprintf(w, "ingest: %s\n", c)
		}
	}
	if len(rep.Ingest) > 0 && flagged == 0 {
		fmt.Fprintf(w, "ingest: %d checks (quarantined rows per source; missing prices and unknown teams per competition), none flagged\n", len(rep.Ingest))
	}
	if len(rep.Versions) == 0 {
		fmt.Fprintln(w, "nothing served yet: no forecast in the log")
		return
	}
	for _, v := range rep.Versions {
		fmt.Fprintf(w, "\n%s v%d: %d scored matches\n", v.Model, v.Version, v.N)
		if v.N > 0 {
			fmt.Fprintf(w, "  log-loss %.4f  Brier %.4f  RPS %.4f\n", v.Mean.LogLoss, v.Mean.Brier, v.Mean.RPS)
			fmt.Fprintf(w, "  vs pre-match price: %s\n", pairedText(v.PreMatch))
			fmt.Fprintf(w, "  vs closing price:   %s\n", pairedText(v.Closing))
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "  \tmatches\tlog-loss\tRPS\tΔ log-loss vs pre-match\t")
			for _, win := range v.Windows {
				fmt.Fprintf(tw, "  last %d\t%d\t%.4f\t%.4f\t%s\t\n", win.Size, win.N, win.Mean.LogLoss, win.Mean.RPS, deltaText(win.PreMatch))
			}
			for _, c := range v.Competitions {
				fmt.Fprintf(tw, "  %s\t%d\t%.4f\t%.4f\t%s\t\n", c.Competition, c.N, c.Mean.LogLoss, c.Mean.RPS, deltaText(c.PreMatch))
			}
			tw.Flush()
			var eces []string
			for _, c := range v.Calibration {
				eces = append(eces, fmt.Sprintf("%s %.3f", c.Outcome, c.ECE))
			}
			fmt.Fprintf(w, "  calibration (ECE, 10 bins): %s\n", strings.Join(eces, ", "))
		}
		a := v.Alarm
		switch {
		case a.Raised:
			fmt.Fprintf(w, "  ALARM: worse than the pre-match price since match %d (%s); z = %.2f > %.1f, mean Δ log-loss %+.4f over %d matches\n",
				a.RaisedAt, a.RaisedMatch, a.Z, a.Threshold, a.MeanDelta, a.Matches)
		case a.Matches > 0:
			fmt.Fprintf(w, "  alarm: quiet (z = %.2f after %d matches with a pre-match price; raises above %.1f)\n", a.Z, a.Matches, a.Threshold)
		default:
			fmt.Fprintln(w, "  alarm: no scored match with a pre-match price yet")
		}
		if len(v.Drift) == 0 {
			fmt.Fprintln(w, "  drift: no reference kept with this version, or nothing served with features yet")
		}
		for _, rd := range v.Drift {
			d := rd.Features
			fmt.Fprintf(w, "  drift, %s requests: %d of %d features drifted over the last %d served rows (reference %d rows); dataset drift: %s; probabilities drifted: %d of 3\n",
				rd.Regime, d.Drifted, len(d.Features), d.CurrentRows, d.ReferenceRows, yesNo(d.DatasetDrift), rd.Predictions.Drifted)
			for _, f := range d.Features {
				if f.Drifted {
					fmt.Fprintf(w, "    %s: %s (Wasserstein %.3f, KS p %.3g, PSI %.3f)\n", f.Feature, f.Method, f.Wasserstein, f.KSPValue, f.PSI)
				}
			}
		}
	}
}

func pairedText(p *monitor.Paired) string {
	if p == nil {
		return "no match with a stored price"
	}
	return fmt.Sprintf("Δ log-loss %+.4f ± %.4f [%+.4f, %+.4f], Δ RPS %+.4f ± %.4f over %d matches",
		p.LogLoss, p.SE, p.Low, p.High, p.RPS, p.RPSSE, p.N)
}

func deltaText(p *monitor.Paired) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%+.4f ± %.4f", p.LogLoss, p.SE)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// runMonitorBackfill forecasts every finished match from --from on as of
// its kick-off and logs it as if it had been served then (route
// "backfill"), so a new deployment starts with a history to score.
func runMonitorBackfill(e env, args []string) error {
	fs, c := newFlags(e, "monitor backfill")
	from := fs.String("from", "", "the first kick-off date to backfill (YYYY-MM-DD); required")
	version := fs.Int("version", 0, "the model version to forecast with (default: the champion)")
	noOdds := fs.Bool("without-odds", false, "forecast as a caller who sends no price would be answered (default: with the stored pre-match price)")
	if err := parse(fs, args); err != nil {
		return err
	}
	start, err := parseDay("--from", *from)
	switch {
	case err != nil:
		return err
	case start.IsZero():
		return fmt.Errorf("%w: monitor backfill needs --from DATE", errUsage)
	case start.After(time.Now()):
		return fmt.Errorf("%w: --from %s is in the future; backfill forecasts matches already played", errUsage, *from)
	case *version < 0:
		return fmt.Errorf("%w: --version %d is not a model version", errUsage, *version)
	}
	parts, err := assemble(e, c)
	if err != nil {
		return err
	}
	defer parts.Close()
	if *version > 0 {
		if _, err := parts.store.ModelVersion(e.ctx, *version); err != nil {
			return fmt.Errorf("%w: --version %d: %v (soccerpredict models list shows the registered versions)", errUsage, *version, err)
		}
	}
	matches, err := parts.store.Matches(e.ctx, store.MatchQuery{Status: soccer.Finished, From: start, To: time.Now()})
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		fmt.Fprintf(e.stdout, "no finished match kicked off since %s; nothing to backfill\n", start.Format(time.DateOnly))
		return nil
	}
	pred := forecast.NewPredictor(parts.store, parts.host, parts.features, parts.cfg.Model.Plugin, parts.log)
	pred.CacheEntries(0)
	if *version > 0 {
		pred.Pin(*version)
	}
	if err := pred.Start(e.ctx); err != nil {
		return err
	}
	champ, _, _ := pred.Champion()
	progress := replayProgress(e, "backfilling")
	var entries []store.LoggedForecast
	written := 0
	for i := 0; i < len(matches); i += 500 {
		chunk := matches[i:min(i+500, len(matches))]
		fixtures := make([]soccer.Fixture, len(chunk))
		for j, m := range chunk {
			fixtures[j] = m.Fixture()
			if *noOdds {
				fixtures[j].Odds = nil
			}
		}
		preds, err := pred.Predict(e.ctx, fixtures)
		if err != nil {
			return fmt.Errorf("backfill: %w", err)
		}
		for j, p := range preds {
			// Made just before kick-off, from the features as they stood then.
			entries = append(entries, forecastlog.Entry(p, forecast.Origin{Route: "backfill"}, chunk[j].Kickoff.Add(-time.Minute)))
		}
		if err := parts.store.LogForecasts(e.ctx, entries); err != nil {
			return fmt.Errorf("backfill: %d of %d forecasts logged: %w", written, len(matches), err)
		}
		written += len(entries)
		entries = entries[:0]
		if progress != nil {
			progress(written, len(matches))
		}
	}
	inSample := 0
	for _, m := range matches {
		if m.Kickoff.Before(champ.CreatedAt) {
			inSample++
		}
	}
	fmt.Fprintf(e.stdout, "backfilled %d forecasts by %s v%d of matches from %s to %s\n", written, champ.Name, champ.Version,
		matches[0].Kickoff.Format(time.DateOnly), matches[len(matches)-1].Kickoff.Format(time.DateOnly))
	if inSample > 0 {
		fmt.Fprintf(e.stdout, "note: %d of them kicked off before v%d was trained, so its training saw their results: their scores are in-sample\n", inSample, champ.Version)
	}
	return nil
}

func runMetrics(e env, args []string) error {
	fs, _ := newFlags(e, "metrics")
	if err := parse(fs, args); err != nil {
		return err
	}
	series, err := telemetry.Series()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, s := range series {
		kind := s[1]
		if kind == "" {
			kind = "vector"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s[0], kind, s[2])
	}
	return tw.Flush()
}

// ingestChecks gives the ingest-side checks, recomputed only when the
// store's matches or runs changed (they read every finished match).
func ingestChecks(st store.Store) func(context.Context) ([]monitor.IngestCheck, error) {
	var (
		mu     sync.Mutex
		key    string
		checks []monitor.IngestCheck
	)
	return func(ctx context.Context) ([]monitor.IngestCheck, error) {
		v, err := st.MatchesVersion(ctx)
		if err != nil {
			return nil, err
		}
		runs, err := st.Runs(ctx, 1)
		if err != nil {
			return nil, err
		}
		k := fmt.Sprint(v)
		if len(runs) > 0 {
			k += runs[0].ID + runs[0].FinishedAt.String()
		}
		mu.Lock()
		defer mu.Unlock()
		if k != key || checks == nil {
			if checks, err = monitor.CheckIngest(ctx, st); err != nil {
				return nil, err
			}
			key = k
		}
		return checks, nil
	}
}
