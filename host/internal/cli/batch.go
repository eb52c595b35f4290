package cli

import (
	"errors"
	"flag"
	"fmt"

	"github.com/soccerpredict/soccerpredict/host/internal/batch"
	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/ingest"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/present"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// batchFlags parses a stage's flags; every named file flag is required.
func batchFlags(e env, stage string, args []string, files map[string]*string) (*common, error) {
	fs, c := newFlags(e, "batch "+stage)
	for name, p := range files {
		fs.StringVar(p, name, "", name+" path")
	}
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	var missing []string
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := files[f.Name]; ok && f.Value.String() == "" {
			missing = append(missing, "--"+f.Name)
		}
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: batch %s needs %v", errUsage, stage, missing)
	}
	return c, nil
}

// batchHost loads config and the plugin host; batch stages never open the store.
func batchHost(e env, c *common) (config.Config, *pluginhost.Host, error) {
	cfg, err := c.load(e)
	if err != nil {
		return config.Config{}, nil, err
	}
	host, err := pluginhost.New(cfg.Plugins, logger(e, cfg))
	return cfg, host, err
}

func batchIngest(e env, args []string) error {
	var out, rejects string
	c, err := batchFlags(e, "ingest", args, map[string]*string{"out": &out, "rejects": &rejects})
	if err != nil {
		return err
	}
	cfg, host, err := batchHost(e, c)
	if err != nil {
		return err
	}
	defer host.Close()
	if len(cfg.Sources) == 0 {
		return errors.New("no sources configured")
	}
	var sources []ingest.Source
	for _, s := range cfg.Sources {
		p, err := host.Plugin(s.Plugin)
		if err != nil {
			return err
		}
		sources = append(sources, ingest.Source{Name: s.Plugin, Source: pluginhost.SourceOf(p), Request: source.FetchRequest{Competitions: s.Competitions, Seasons: s.Seasons}})
	}
	n, r, err := batch.Ingest(e.ctx, sources, out, rejects)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%d matches to %s, %d unreadable rows to %s\n", n, out, r, rejects)
	return err
}

func batchValidate(e env, args []string) error {
	var in, rejects, out, quarantine, report string
	c, err := batchFlags(e, "validate", args, map[string]*string{"in": &in, "rejects": &rejects, "out": &out, "quarantine": &quarantine, "report": &report})
	if err != nil {
		return err
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	suite, err := ingest.LoadSuite(cfg.Ingest.Expectations)
	if err != nil {
		return err
	}
	rep, err := batch.Validate(suite, in, rejects, out, quarantine, report)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%d rows: %d valid, %d quarantined (%d unreadable) to %s\n", rep.Rows, rep.Valid, rep.Quarantined, rep.Unreadable, quarantine)
	return err
}

func batchFeatures(e env, args []string) error {
	var in, out string
	c, err := batchFlags(e, "features", args, map[string]*string{"in": &in, "out": &out})
	if err != nil {
		return err
	}
	cfg, host, err := batchHost(e, c)
	if err != nil {
		return err
	}
	defer host.Close()
	p, err := host.Plugin(cfg.Features.Plugin)
	if err != nil {
		return fmt.Errorf("features.plugin: %w", err)
	}
	d, err := batch.Features(e.ctx, pluginhost.FeaturesOf(p), in, out, nil)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%d matches replayed, features (schema %s) to %s\n", len(d.Examples), d.Schema.Version, out)
	return err
}

func stageTrainer(e env, c *common) (config.Config, *pluginhost.Host, forecast.Trainer, batch.RunInfo, error) {
	cfg, host, err := batchHost(e, c)
	if err != nil {
		return cfg, nil, forecast.Trainer{}, batch.RunInfo{}, err
	}
	mp, err := host.Plugin(cfg.Model.Plugin)
	if err != nil {
		host.Close()
		return cfg, nil, forecast.Trainer{}, batch.RunInfo{}, fmt.Errorf("model.plugin: %w", err)
	}
	tr := forecast.Trainer{Model: pluginhost.ModelOf(mp), ModelPlugin: cfg.Model.Plugin, FeaturePlugin: cfg.Features.Plugin, Params: cfg.Model.Params, Seed: cfg.Model.Seed}
	info := batch.RunInfo{GitCommit: gitCommit(e)}
	for _, name := range []string{cfg.Features.Plugin, cfg.Model.Plugin} {
		if p, err := host.Plugin(name); err == nil {
			info.Plugins = append(info.Plugins, pluginInfos(e, p)...)
		}
	}
	return cfg, host, tr, info, nil
}

func batchTrain(e env, args []string) error {
	var in, modelDir, metrics string
	c, err := batchFlags(e, "train", args, map[string]*string{"in": &in, "model": &modelDir, "metrics": &metrics})
	if err != nil {
		return err
	}
	_, host, tr, info, err := stageTrainer(e, c)
	if err != nil {
		return err
	}
	defer host.Close()
	mv, err := batch.Train(e.ctx, tr, in, modelDir, metrics, info)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "trained %s (train log-loss %.4f) to %s\n", mv.Name, mv.Metrics["train_log_loss"], modelDir)
	return err
}

func batchEvaluate(e env, args []string) error {
	var in, metrics, plots string
	c, err := batchFlags(e, "evaluate", args, map[string]*string{"in": &in, "metrics": &metrics, "plots": &plots})
	if err != nil {
		return err
	}
	cfg, host, tr, info, err := stageTrainer(e, c)
	if err != nil {
		return err
	}
	defer host.Close()
	ev, err := batch.Evaluate(e.ctx, tr, cfg.Evaluate.Competition, cfg.Evaluate.TestSeasons, in, metrics, plots, info)
	if err != nil {
		return err
	}
	o := ev.Overall
	_, err = fmt.Fprintf(e.stdout, "%s %v: model log-loss %.4f RPS %.4f ECE %.4f; Pinnacle closing %.4f / %.4f; metrics to %s, plots to %s\n",
		ev.Competition, cfg.Evaluate.TestSeasons, o.Model.LogLoss, o.Model.RPS, o.ModelECE, o.Bookmaker.LogLoss, o.Bookmaker.RPS, metrics, plots)
	return err
}

func batchRegister(e env, args []string) error {
	var modelDir, trainMetrics, evalMetrics, out string
	fsArgs := map[string]*string{"model": &modelDir, "train-metrics": &trainMetrics, "evaluate-metrics": &evalMetrics, "out": &out}
	c, err := batchFlags(e, "register", args, fsArgs)
	if err != nil {
		return err
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	mv, err := batch.Register(e.ctx, st, modelDir, trainMetrics, evalMetrics, "candidate", actor(e), out)
	if err != nil {
		return err
	}
	if champ, err := st.Alias(e.ctx, "champion"); err == nil && champ.Version == mv.Version {
		_, err = fmt.Fprintf(e.stdout, "registered %s v%d as candidate and, as the registry had no champion, as champion (audited as bootstrap)\n", mv.Name, mv.Version)
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "registered %s v%d as candidate; `soccerpredict models challenge` then `models promote` to serve it\n", mv.Name, mv.Version)
	return err
}

// batchPredict forecasts every scheduled fixture in the store (kick-off not
// more than three hours ago) with the serving champion, and writes them as
// CSV with the model version and generation on every row, and the market's
// de-margined probabilities and the edge where the fixture has odds.
func batchPredict(e env, args []string) error {
	var out string
	fs, c := newFlags(e, "batch predict")
	fs.StringVar(&out, "out", "", "the forecasts CSV to write")
	comp := fs.String("competition", "", "only this competition (default: all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if out == "" {
		return fmt.Errorf("%w: batch predict needs --out", errUsage)
	}
	parts, err := assemble(e, c)
	if err != nil {
		return err
	}
	defer parts.Close()
	pred := forecast.NewPredictor(parts.store, parts.host, parts.features, parts.cfg.Model.Plugin, parts.log)
	flog := openForecastLog(parts, nil)
	if flog != nil {
		pred.Record(flog)
	}
	if err := pred.Start(e.ctx); err != nil {
		return err
	}
	ctx := forecast.WithOrigin(e.ctx, forecast.Origin{Route: "batch-predict"})
	comps := pred.Competitions()
	if *comp != "" {
		comps = []string{*comp}
	}
	var rows []present.PredictionResponse
	for _, code := range comps {
		ps, err := pred.Upcoming(ctx, code, 0)
		if err != nil {
			return err
		}
		for _, p := range ps {
			rows = append(rows, present.Render(p))
		}
	}
	if err := batch.WriteForecasts(out, rows); err != nil {
		return err
	}
	if flog != nil {
		// The forecasts are made; a log that cannot be written says so and fails nothing.
		if err := flog.Flush(e.ctx); err != nil {
			fmt.Fprintf(e.stderr, "warning: %d forecasts not written to the forecast log: %v\n", flog.Stats().Pending, err)
		}
	}
	champ, gen, _ := pred.Champion()
	if len(rows) == 0 {
		// Not an error (a pipeline step between rounds has nothing to do), but
		// said plainly: an empty CSV alone looks like a fault.
		which := "any competition"
		if *comp != "" {
			which = *comp
		}
		_, err = fmt.Fprintf(e.stdout, "no upcoming fixtures: the store has no scheduled match of %s, so %s holds only its header.\n"+
			"Fixtures are the rows of a season file without a result (football-data.co.uk publishes the next round in the current season's file);\n"+
			"ingest one that has them, or forecast any match with POST /v1/predictions.\n", which, out)
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%d upcoming fixtures forecast by %s v%d (generation %d) to %s\n", len(rows), champ.Name, champ.Version, gen.ID, out)
	return err
}
