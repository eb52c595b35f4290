package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

func runModelsChallenge(e env, args []string) error {
	fs, c := newFlags(e, "models challenge")
	version := fs.Int("version", 0, "the version to challenge the champion (default: the candidate)")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	if *version == 0 {
		cand, err := st.Alias(e.ctx, "candidate")
		if err != nil {
			return fmt.Errorf("no --version and %w", err)
		}
		*version = cand.Version
	}
	if _, err := st.Promote(e.ctx, store.Promotion{Alias: "challenger", Version: *version, Action: "challenge", Actor: actor(e)}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "challenger -> v%d; `soccerpredict models promote` backtests it against the champion\n", *version)
	return err
}

func runModelsPromote(e env, args []string) error {
	fs, c := newFlags(e, "models promote")
	force := fs.Bool("force", false, "promote even if the backtest says no (needs --reason; audited)")
	reason := fs.String("reason", "", "why; required with --force, recorded in the audit log")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *force && strings.TrimSpace(*reason) == "" {
		return fmt.Errorf("%w: --force needs --reason \"...\" (it is recorded in the audit log)", errUsage)
	}
	parts, err := assemble(e, c)
	if err != nil {
		return err
	}
	defer parts.Close()
	champ, err := parts.store.Alias(e.ctx, store.Champion)
	if err != nil {
		return fmt.Errorf("promote: %w (train one with `models train --alias champion`)", err)
	}
	chall, err := parts.store.Alias(e.ctx, "challenger")
	if err != nil {
		return fmt.Errorf("promote: %w (name one with `models challenge`)", err)
	}
	if chall.Version == champ.Version {
		return fmt.Errorf("promote: the challenger v%d already is the champion", chall.Version)
	}
	gate := forecast.Gate{Competition: parts.cfg.Evaluate.Competition, Seasons: parts.cfg.Evaluate.TestSeasons,
		MinRPSGain: parts.cfg.Promotion.MinRPSGain, MinLogLossGain: parts.cfg.Promotion.MinLogLossGain, MaxECEIncrease: parts.cfg.Promotion.MaxECEIncrease}
	sp, err := parts.spool(e, func(m soccer.Match) bool {
		return m.Competition == gate.Competition && slices.Contains(gate.Seasons, m.Season)
	})
	if err != nil {
		return err
	}
	defer sp.Close()
	bt, err := sp.RunBacktest(e.ctx, pluginhost.ModelOf(parts.model), parts.cfg.Model.Plugin, champ, chall, gate)
	if err != nil {
		return err
	}
	printBacktest(e.stdout, champ, chall, gate, bt)
	live, err := monitor.LiveEvidence(e.ctx, parts.store, champ.Version, chall.Version, parts.cfg.Promotion.LiveMinMatches)
	if err != nil {
		return err
	}
	printLiveEvidence(e.stdout, live)
	if !bt.Passed && !*force {
		return fmt.Errorf("refused: challenger v%d does not beat champion v%d: %s", chall.Version, champ.Version, strings.Join(bt.Reasons, "; "))
	}
	if !live.Passed && !*force {
		return fmt.Errorf("refused: challenger v%d has not shown on live matches that it beats champion v%d (promotion.live_min_matches %d: %s)",
			chall.Version, champ.Version, live.Required, liveShortfall(live))
	}
	passed := bt.Passed && live.Passed
	why := *reason
	if why == "" {
		why = "backtest passed"
	}
	g, err := parts.store.Promote(e.ctx, store.Promotion{Alias: store.Champion, Version: chall.Version, Action: "promote", Actor: actor(e),
		Forced: *force && !passed, Reason: why, PluginDigest: digest(parts.model), Details: map[string]any{"backtest": bt, "gate": gate, "live": live}})
	if err != nil {
		return err
	}
	verb := "promoted"
	if *force && !passed {
		verb = "FORCED"
	}
	_, err = fmt.Fprintf(e.stdout, "%s: champion -> v%d (generation %d); running servers switch without restart\n", verb, chall.Version, g.ID)
	return err
}

func printBacktest(w io.Writer, champ, chall store.ModelVersion, gate forecast.Gate, bt forecast.Backtest) {
	fmt.Fprintf(w, "walk-forward backtest on %s %s (same %d matches; gate: RPS −%.4f, log-loss −%.4f, ECE +%.4f at most)\n",
		gate.Competition, strings.Join(gate.Seasons, ", "), bt.Champion.Model.N, gate.MinRPSGain, gate.MinLogLossGain, gate.MaxECEIncrease)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tversion\tlog-loss\tBrier\tRPS\tECE\t")
	for _, r := range []struct {
		role string
		v    store.ModelVersion
		s    forecast.SeasonEvaluation
	}{{"champion", champ, bt.Champion}, {"challenger", chall, bt.Challenger}} {
		fmt.Fprintf(tw, "%s\tv%d %s\t%.4f\t%.4f\t%.4f\t%.4f\t\n", r.role, r.v.Version, r.v.Name, r.s.Model.LogLoss, r.s.Model.Brier, r.s.Model.RPS, r.s.ModelECE)
	}
	tw.Flush()
	for _, r := range bt.Reasons {
		fmt.Fprintln(w, "  -", r)
	}
}

func runModelsRollback(e env, args []string) error {
	fs, c := newFlags(e, "models rollback")
	reason := fs.String("reason", "rollback", "why, recorded in the audit log")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	hist, err := st.GenerationHistory(e.ctx, 1000)
	if err != nil {
		return err
	}
	prev, err := forecast.PreviousChampion(hist)
	if err != nil {
		return err
	}
	digest := ""
	for _, g := range hist {
		if g.Version == prev {
			digest = g.PluginDigest
			break
		}
	}
	g, err := st.Promote(e.ctx, store.Promotion{Alias: store.Champion, Version: prev, Action: "rollback", Actor: actor(e), Reason: *reason,
		PluginDigest: digest})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "rolled back: champion v%d -> v%d (generation %d)\n", hist[0].Version, prev, g.ID)
	return err
}

func runModelsAudit(e env, args []string) error {
	fs, c := newFlags(e, "models audit")
	limit := fs.Int("limit", 20, "at most this many entries")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	entries, err := st.Audit(e.ctx, *limit)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "AT\tACTION\tACTOR\tALIAS\tFROM\tTO\tGENERATION\tFORCED\tREASON")
	for _, a := range entries {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\tv%d\t%s\t%v\t%s\n", a.At.Format(time.DateTime), a.Action, a.Actor, a.Alias, vOrDash(a.FromVersion),
			a.ToVersion, genOrDash(a.Generation), a.Forced, a.Reason)
	}
	return w.Flush()
}

func vOrDash(v int) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("v%d", v)
}

func genOrDash(g int64) string {
	if g == 0 {
		return "-"
	}
	return fmt.Sprint(g)
}

func runRunsList(e env, args []string) error {
	fs, c := newFlags(e, "runs list")
	limit := fs.Int("limit", 20, "at most this many")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Experiments(e.ctx, *limit)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	// A train run's log-loss is in-sample; only an evaluate run has
	// out-of-sample scores. Neither is shown as the other.
	fmt.Fprintln(w, "RUN\tKIND\tSTARTED\tMODEL\tMATCHES\tLOG-LOSS\tRPS\tDATASET\tCOMMIT\tPARAMS")
	for _, r := range runs {
		ll, rps, n := metric(r.Metrics, "log_loss", "%.4f"), metric(r.Metrics, "rps", "%.4f"), metric(r.Metrics, "n", "%.0f")
		if r.Kind == "train" {
			ll, n = metric(r.Metrics, "train_log_loss", "%.4f in-sample"), metric(r.Metrics, "train_matches", "%.0f")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.12s\t%.10s\t%s\n", r.ID, r.Kind, r.StartedAt.Format(time.DateTime), vOrDash(r.ModelVersion),
			n, ll, rps, r.DatasetHash, r.GitCommit, canonical(r.Params))
	}
	return w.Flush()
}

// canonical renders JSON with sorted keys and no spaces, whatever the store
// did to it (PostgreSQL's jsonb reorders keys), so equal params look equal.
func canonical(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func runRunsCompare(e env, args []string) error {
	fs, c := newFlags(e, "runs compare")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("%w: name two runs", errUsage)
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	var runs [2]store.ExperimentRun
	for i, id := range fs.Args() {
		if runs[i], err = st.Experiment(e.ctx, id); err != nil {
			return err
		}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	a, b := runs[0], runs[1]
	fmt.Fprintf(w, "\t%s\t%s\t\n", a.ID, b.ID)
	row := func(name, x, y string) {
		mark := ""
		if x != y {
			mark = "*"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", name, x, y, mark)
	}
	row("kind", a.Kind, b.Kind)
	row("model version", vOrDash(a.ModelVersion), vOrDash(b.ModelVersion))
	row("params", canonical(a.Params), canonical(b.Params))
	row("dataset", a.DatasetHash, b.DatasetHash)
	row("git commit", a.GitCommit, b.GitCommit)
	for i := range max(len(a.Plugins), len(b.Plugins)) {
		var x, y string
		if i < len(a.Plugins) {
			x = fmt.Sprintf("%s %s %.12s", a.Plugins[i].Name, a.Plugins[i].Version, a.Plugins[i].SHA256)
		}
		if i < len(b.Plugins) {
			y = fmt.Sprintf("%s %s %.12s", b.Plugins[i].Name, b.Plugins[i].Version, b.Plugins[i].SHA256)
		}
		row("plugin", x, y)
	}
	keys := map[string]bool{}
	for k := range a.Metrics {
		keys[k] = true
	}
	for k := range b.Metrics {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		row(k, metric(a.Metrics, k, "%.4f"), metric(b.Metrics, k, "%.4f"))
	}
	return w.Flush()
}

// printLiveEvidence shows the challenger's live record beside the backtest.
func printLiveEvidence(w io.Writer, ev monitor.Evidence) {
	req := "not required (promotion.live_min_matches 0)"
	if ev.Required > 0 {
		req = fmt.Sprintf("required: at least %d matches and the interval's upper end below 0", ev.Required)
	}
	if ev.Paired == nil {
		fmt.Fprintf(w, "live evidence (shadow): no matches scored for both v%d and v%d yet; %s\n", ev.Challenger, ev.Champion, req)
		return
	}
	p := ev.Paired
	fmt.Fprintf(w, "live evidence (shadow): v%d − v%d Δ log-loss %+.4f ± %.4f [%+.4f, %+.4f], Δ RPS %+.4f over %d matches; %s\n",
		ev.Challenger, ev.Champion, p.LogLoss, p.SE, p.Low, p.High, p.RPS, p.N, req)
}

func liveShortfall(ev monitor.Evidence) string {
	switch {
	case ev.Paired == nil:
		return "no match scored for both yet; serve it in shadow (models shadow) and wait for results"
	case ev.Paired.N < ev.Required:
		return fmt.Sprintf("%d of %d matches scored for both", ev.Paired.N, ev.Required)
	}
	return fmt.Sprintf("the 95%% interval of its log-loss difference reaches %+.4f, not below 0", ev.Paired.High)
}

// runModelsShadow names a version the challenger, which serve computes in
// shadow (monitor.shadow) on live forecasts and the monitor scores.
func runModelsShadow(e env, args []string) error {
	fs, c := newFlags(e, "models shadow")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: models shadow needs one VERSION (soccerpredict models list shows them)", errUsage)
	}
	version, err := strconv.Atoi(fs.Arg(0))
	if err != nil || version < 1 {
		return fmt.Errorf("%w: models shadow: %q is not a model version (a whole number from 1)", errUsage, fs.Arg(0))
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.ModelVersion(e.ctx, version); err != nil {
		return fmt.Errorf("%w: models shadow: v%d: %v (soccerpredict models list shows the registered versions)", errUsage, version, err)
	}
	if champ, err := st.Alias(e.ctx, store.Champion); err == nil && champ.Version == version {
		return fmt.Errorf("%w: models shadow: v%d is the champion; shadow another version", errUsage, version)
	}
	if _, err := st.Promote(e.ctx, store.Promotion{Alias: "challenger", Version: version, Action: "shadow", Actor: actor(e), Reason: "models shadow"}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "challenger -> v%d: serve computes it in shadow on every live forecast and logs it under its own version; "+
		"`soccerpredict monitor` scores it beside the champion as results arrive, and `models promote` weighs that live evidence\n", version)
	return err
}
