package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/batch"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/mlmodel"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/scoring"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

func (p predictionParts) trainer() forecast.Trainer {
	return forecast.Trainer{Model: pluginhost.ModelOf(p.model), ModelPlugin: p.cfg.Model.Plugin, FeaturePlugin: p.cfg.Features.Plugin,
		Params: p.cfg.Model.Params, Seed: p.cfg.Model.Seed}
}

// spool replays the store into a spool under data_dir for a walk-forward
// (evaluate, the promotion backtest): the test matches in memory, the
// training rows on disk. The replay leaves the features at the present, and
// serving starts from there.
func (p predictionParts) spool(e env, test func(soccer.Match) bool) (*forecast.Spool, error) {
	fs := pluginhost.FeaturesOf(p.features)
	sp, err := forecast.SpoolFromStore(e.ctx, p.store, fs, pluginhost.ModelOf(p.model), filepath.Join(p.cfg.DataDir, "spool"), test,
		replayProgress(e, "replaying matches"))
	if err == nil {
		sp.KeepServingSnapshot(e.ctx, p.store, p.features, fs, p.log)
	}
	return sp, err
}

func runModelsTrain(e env, args []string) error {
	fs, c := newFlags(e, "models train")
	alias := fs.String("alias", "", "point this alias (e.g. champion) at the new version")
	ifNone := fs.Bool("if-no-champion", false, "do nothing when a champion exists (what `make run` uses)")
	out := fs.String("out", "", "also write the model directory (model.onnx and MLmodel) here")
	if err := parse(fs, args); err != nil {
		return err
	}
	parts, err := assemble(e, c)
	if err != nil {
		return err
	}
	defer parts.Close()
	if *ifNone {
		usable, why, err := usableChampion(e, parts)
		if err != nil {
			return err
		}
		if usable {
			fmt.Fprintf(e.stdout, "%s; not training\n", why)
			return nil
		}
		fmt.Fprintf(e.stdout, "%s; training one\n", why)
		*alias = "champion"
	} else if err := gateChampion(e, parts, *alias, "train a candidate (soccerpredict models train)"); err != nil {
		return err
	}
	started := time.Now()
	// The replay streams into the model plugin as it goes: the host holds a
	// window of matches and a chunk of rows, not the training set.
	feats := pluginhost.FeaturesOf(parts.features)
	trained, err := parts.trainer().TrainFromStore(e.ctx, parts.store, feats, pluginhost.ModelOf(parts.model), replayProgress(e, "replaying and training"))
	if err != nil {
		return err
	}
	// The replay left the features at the present: serving starts from there.
	trained.KeepServingSnapshot(e.ctx, parts.store, parts.features, feats, parts.log)
	mv, err := parts.store.RegisterModel(e.ctx, trained.Version)
	if err != nil {
		return err
	}
	keepReference(e, parts, mv, trained.Reference, trained.UnpricedReference)
	fmt.Fprintf(e.stdout, "registered %s v%d: trained on %d matches (%s), feature schema %s, artifact sha256 %s\n",
		mv.Name, mv.Version, trained.Matches, rowsNote(mv.Metrics), mv.FeatureSchemaVersion, mv.ArtifactSHA256[:16])
	if *out != "" {
		if err := exportModel(mv, *out); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s/{model.onnx,MLmodel}\n", *out)
	}
	recordExperiment(e, parts, "train", parts.cfg.Model.Params, mv.Metrics, mv.TrainingDataHash, mv.Version, started, nil)
	if *alias == "" {
		*alias = "candidate"
	}
	action := "register"
	if *alias == store.Champion {
		action = "bootstrap"
	}
	g, err := parts.store.Promote(e.ctx, store.Promotion{Alias: *alias, Version: mv.Version, Action: action, Actor: actor(e),
		Reason: "models train", PluginDigest: digest(parts.model)})
	if err != nil {
		return err
	}
	if g.ID > 0 {
		fmt.Fprintf(e.stdout, "%s -> v%d (generation %d)\n", *alias, mv.Version, g.ID)
	} else {
		fmt.Fprintf(e.stdout, "%s -> v%d\n", *alias, mv.Version)
	}
	return nil
}

// usableChampion reports whether the champion exists and fits the feature
// plugin configured now.
// gateChampion refuses to point the champion alias at a new version while
// a champion that can serve exists: that would move it around the
// promotion gate. Only a first champion, or one the feature plugin can no
// longer serve, is set by train or import; how names the way instead.
func gateChampion(e env, parts predictionParts, alias, how string) error {
	if alias != store.Champion {
		return nil
	}
	usable, why, err := usableChampion(e, parts)
	if err != nil || !usable {
		return err
	}
	return fmt.Errorf("%w: %s; --alias champion would replace it without the promotion gate: %s, then soccerpredict models challenge "+
		"and soccerpredict models promote (or models promote --force --reason TEXT, audited as forced)", errUsage, why, how)
}

func usableChampion(e env, parts predictionParts) (bool, string, error) {
	champ, err := parts.store.Alias(e.ctx, "champion")
	if errors.Is(err, store.ErrNotFound) {
		return false, "no champion", nil
	}
	if err != nil {
		return false, "", err
	}
	schema, err := pluginhost.FeaturesOf(parts.features).Schema(e.ctx)
	if err != nil {
		return false, "", err
	}
	if err := champ.Signature.CheckInputs(schema.Columns); err != nil || champ.FeatureSchemaVersion != schema.Version {
		return false, fmt.Sprintf("champion %s v%d was trained on feature schema %s, the feature plugin now serves %s",
			champ.Name, champ.Version, champ.FeatureSchemaVersion, schema.Version), nil
	}
	return true, fmt.Sprintf("champion %s v%d fits feature schema %s", champ.Name, champ.Version, schema.Version), nil
}

func exportModel(mv store.ModelVersion, dir string) error {
	if _, _, err := mlmodel.GraphIO(mv.Artifact); err != nil {
		return fmt.Errorf("%s v%d (model plugin %s) is not an ONNX model, and an export is MLflow's ONNX flavor: %w", mv.Name, mv.Version, mv.ModelPlugin, err)
	}
	return mlmodel.Write(dir, mv.Artifact, mv.Signature, mlmodel.Meta{ModelUUID: mv.ArtifactSHA256[:32], Created: mv.CreatedAt,
		Metadata: map[string]string{"name": mv.Name, "version": fmt.Sprint(mv.Version), "model_plugin": mv.ModelPlugin,
			"feature_plugin": mv.FeaturePlugin, "feature_schema_version": mv.FeatureSchemaVersion, "training_data_hash": mv.TrainingDataHash}})
}

func runModelsExport(e env, args []string) error {
	fs, c := newFlags(e, "models export")
	version := fs.Int("version", 0, "model version (default: the champion)")
	out := fs.String("out", "", "directory to write model.onnx and MLmodel into")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: --out is required", errUsage)
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	var mv store.ModelVersion
	if *version == 0 {
		mv, err = st.Alias(e.ctx, "champion")
	} else {
		mv, err = st.ModelVersion(e.ctx, *version)
	}
	if err != nil {
		return err
	}
	if err := exportModel(mv, *out); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "wrote %s v%d to %s/{model.onnx,MLmodel}\n", mv.Name, mv.Version, *out)
	return err
}

func runModelsList(e env, args []string) error {
	fs, c := newFlags(e, "models list")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	versions, err := st.ModelVersions(e.ctx)
	if err != nil {
		return err
	}
	aliases := map[int][]string{}
	for _, a := range []string{store.Champion, "challenger", "candidate"} {
		if v, err := st.Alias(e.ctx, a); err == nil {
			aliases[v.Version] = append(aliases[v.Version], a)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tNAME\tFEATURES\tMATCHES\tTRAIN LOG-LOSS (in-sample)\tCREATED\tALIASES")
	for _, v := range versions {
		fmt.Fprintf(w, "%d\t%s\t%s/%s\t%s\t%.4f\t%s\t%s\n", v.Version, v.Name, v.FeaturePlugin, v.FeatureSchemaVersion,
			metric(v.Metrics, "train_matches", "%.0f"), v.Metrics["train_log_loss"], v.CreatedAt.Format("2006-01-02 15:04"), orDash(strings.Join(aliases[v.Version], ", ")))
	}
	return w.Flush()
}

func runEvaluate(e env, args []string) error {
	fs, c := newFlags(e, "evaluate")
	out := fs.String("out", "", "also write the evaluation as JSON to this file, and beside it (FILE without .json, then -forecasts.csv, -calibration.png, -gap.png) every test match's forecasts as CSV and its plots")
	forecasts := fs.String("forecasts", "", "write every test match's forecasts as CSV to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *forecasts == "" && *out != "" {
		*forecasts = strings.TrimSuffix(*out, ".json") + "-forecasts.csv"
	}
	parts, err := assemble(e, c)
	if err != nil {
		return err
	}
	defer parts.Close()
	started := time.Now()
	leagues := []forecast.League{{Competition: parts.cfg.Evaluate.Competition, TestSeasons: parts.cfg.Evaluate.TestSeasons}}
	if ls := parts.cfg.Evaluate.Leagues; len(ls) > 0 {
		leagues = leagues[:0]
		for _, l := range ls {
			leagues = append(leagues, forecast.League{Competition: l.Competition, TestSeasons: l.TestSeasons})
		}
	}
	sp, err := parts.spool(e, func(m soccer.Match) bool {
		return slices.ContainsFunc(leagues, func(l forecast.League) bool {
			return l.Competition == m.Competition && slices.Contains(l.TestSeasons, m.Season)
		})
	})
	if err != nil {
		return err
	}
	defer sp.Close()
	total := 0
	for _, l := range leagues {
		total += len(l.TestSeasons)
	}
	var pb *bar
	if isTerminal(e.stderr) {
		pb = &bar{w: e.stderr}
		pb.Start(total, "walk-forward")
	}
	ev, err := sp.EvaluateLeagues(e.ctx, parts.trainer(), pluginhost.ModelOf(parts.model), leagues, func(l forecast.League, season string) {
		if pb != nil {
			pb.b.Describe("train and score " + l.Competition + " " + season)
			pb.Add(1)
		}
	})
	if pb != nil {
		pb.Finish()
	}
	if err != nil {
		return err
	}
	for i, l := range ev.Leagues {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		printEvaluation(e.stdout, parts, l)
	}
	if len(ev.Leagues) > 1 {
		fmt.Fprintln(e.stdout)
		printPooled(e.stdout, ev)
	}
	fmt.Fprintln(e.stdout)
	printCalibration(e.stdout, ev)
	printGoals(e.stdout, ev)
	o := ev.Pooled
	recordExperiment(e, parts, "evaluate", parts.cfg.Model.Params, map[string]float64{"log_loss": o.Model.LogLoss, "brier": o.Model.Brier,
		"rps": o.Model.RPS, "ece": o.ModelECE, "bookmaker_log_loss": o.Bookmaker.LogLoss, "bookmaker_rps": o.Bookmaker.RPS,
		"prematch_log_loss": o.Prematch.LogLoss, "prematch_rps": o.Prematch.RPS, "n": float64(o.Model.N)},
		sp.TrainableHash(), 0, started, ev)
	if *forecasts != "" {
		var buf bytes.Buffer
		if err := ev.WriteForecasts(&buf); err != nil {
			return err
		}
		if err := writeFile(*forecasts, buf.Bytes()); err != nil {
			return err
		}
	}
	if *out != "" {
		b, _ := json.MarshalIndent(ev, "", "  ")
		if err := writeFile(*out, append(b, '\n')); err != nil {
			return err
		}
		return batch.WriteReportPlots(strings.TrimSuffix(*out, ".json"), ev)
	}
	return nil
}

// writeFile writes b to path, making its directory.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// printCalibration is each outcome's mean forecast minus its frequency, in
// percentage points with its z-score, per league and pooled.
func printCalibration(w io.Writer, r forecast.Report) {
	fmt.Fprintln(w, "calibration: mean forecast − observed frequency, percentage points (z); above 0 over-predicted, |z| > 2 more than chance")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	sources := []struct{ key, name string }{{"model_without_odds", "without odds"}, {"model", "model"}, {"bookmaker_closing", "closing"}}
	fmt.Fprint(tw, "league\t")
	for _, src := range sources {
		fmt.Fprintf(tw, "%s home\tdraw\taway\t", src.name)
	}
	fmt.Fprintln(tw)
	line := func(name string, s forecast.SeasonEvaluation) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, src := range sources {
			for _, c := range s.Calibration[src.key] {
				fmt.Fprintf(tw, "%+.1f (%+.1f)\t", 100*c.Error, c.Z)
			}
		}
		fmt.Fprintln(tw)
	}
	for _, l := range r.Leagues {
		line(l.Competition, l.Overall)
	}
	if len(r.Leagues) > 1 {
		line("pooled", r.Pooled)
	}
	tw.Flush()
}

// printGoals scores a goals model's over 2.5 and both-teams-score
// forecasts against the previous season's shares, per league and pooled;
// nothing for a model without goal markets.
func printGoals(w io.Writer, r forecast.Report) {
	if r.Pooled.Goals == nil {
		return
	}
	fmt.Fprintln(w, "\ngoal markets: the model's log-loss and Brier beside the previous season's share (base); model − base per match, mean ± standard error;\ncalibration: mean forecast − observed frequency, percentage points (z)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "league\tn\tover 2.5 LL\tBrier\tbase LL\tBrier\tmodel − base LL\tcalibration (z)\tboth score LL\tBrier\tbase LL\tBrier\tmodel − base LL\tcalibration (z)\t")
	line := func(name string, g *forecast.GoalScores) {
		if g == nil {
			return
		}
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%+.4f ± %.4f\t%+.1f (%+.1f)\t%.4f\t%.4f\t%.4f\t%.4f\t%+.4f ± %.4f\t%+.1f (%+.1f)\t\n", name, g.Matches,
			g.Over25.LogLoss, g.Over25.Brier, g.Over25Base.LogLoss, g.Over25Base.Brier, g.Over25VsBase.Mean, g.Over25VsBase.StdErr,
			100*g.Calibration[0].Error, g.Calibration[0].Z,
			g.BothScore.LogLoss, g.BothScore.Brier, g.BothScoreBase.LogLoss, g.BothScoreBase.Brier, g.BothScoreVsBase.Mean, g.BothScoreVsBase.StdErr,
			100*g.Calibration[1].Error, g.Calibration[1].Z)
	}
	for _, l := range r.Leagues {
		line(l.Competition, l.Overall.Goals)
	}
	if len(r.Leagues) > 1 {
		line("pooled", r.Pooled.Goals)
	}
	tw.Flush()
}

func printEvaluation(w io.Writer, p predictionParts, ev forecast.Evaluation) {
	params, _ := json.Marshal(p.cfg.Model.Params)
	fmt.Fprintf(w, "walk-forward evaluation on %s: for each test season, train on everything before its first match\n", ev.Competition)
	fmt.Fprintf(w, "model: %s %s, features: %s\n\n", p.cfg.Model.Plugin, params, p.cfg.Features.Plugin)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "season\tn\ttrain matches\tmodel LL\tBrier\tRPS\tECE\twithout odds LL\tRPS\tPinnacle pre-match LL\tRPS\tmodel − pre-match LL [95%]\tPinnacle closing LL\tRPS\tbase rates LL\tRPS\t")
	rows := append(append([]forecast.SeasonEvaluation{}, ev.Seasons...), ev.Overall)
	for _, s := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t\n", s.Season, s.Model.N, trainMatches(s),
			s.Model.LogLoss, s.Model.Brier, s.Model.RPS, s.ModelECE, s.ModelWithoutOdds.LogLoss, s.ModelWithoutOdds.RPS,
			s.Prematch.LogLoss, s.Prematch.RPS, s.VsPrematch.LogLoss, s.Bookmaker.LogLoss, s.Bookmaker.RPS, s.BaseRates.LogLoss, s.BaseRates.RPS)
	}
	tw.Flush()
}

// printPooled is one line per league and the pooled matches: the model
// beside the price it may see, the closing line and base rates.
func printPooled(w io.Writer, r forecast.Report) {
	fmt.Fprintln(w, "every league, and pooled (differences are per match: mean ± standard error; below 0 the first is better)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "league\tseasons\tn\tmodel LL\tRPS\twithout odds LL\tRPS\tpre-match LL\tRPS\tclosing LL\tRPS\tbase LL\tmodel − pre-match LL\tRPS\twithout odds − closing LL\tRPS\t")
	pm := func(iv scoring.Interval) string { return fmt.Sprintf("%+.4f ± %.4f", iv.Mean, iv.StdErr) }
	line := func(name, seasons string, s forecast.SeasonEvaluation) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%s\t%s\t%s\t%s\t\n", name, seasons, s.Model.N, s.Model.LogLoss, s.Model.RPS,
			s.ModelWithoutOdds.LogLoss, s.ModelWithoutOdds.RPS, s.Prematch.LogLoss, s.Prematch.RPS, s.Bookmaker.LogLoss, s.Bookmaker.RPS, s.BaseRates.LogLoss,
			pm(s.VsPrematch.LogLoss), pm(s.VsPrematch.RPS), pm(s.WithoutOddsVsClosing.LogLoss), pm(s.WithoutOddsVsClosing.RPS))
	}
	for _, l := range r.Leagues {
		var seasons []string
		for _, s := range l.Seasons {
			seasons = append(seasons, s.Season)
		}
		line(l.Competition, strings.Join(seasons, " "), l.Overall)
	}
	line("pooled", "", r.Pooled)
	tw.Flush()
}

// rowsNote says how the plugin's training rows relate to the matches.
func rowsNote(m map[string]float64) string {
	rows, ok := m["train_rows"]
	if !ok || rows == m["train_matches"] {
		return "one training row each"
	}
	return fmt.Sprintf("%.0f training rows: each match with pre-match odds is taught with and without them", rows)
}

// trainMatches is a season's training-set size; the overall and pooled rows
// have none (each season trains on its own past).
func trainMatches(s forecast.SeasonEvaluation) string {
	if s.TrainRows == 0 {
		return "-"
	}
	return fmt.Sprint(s.TrainRows)
}
