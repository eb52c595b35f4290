package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/schollz/progressbar/v3"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/ingest"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
	"github.com/soccerpredict/soccerpredict/sdk/model"
)

// predictionParts are what training, evaluation and serving assemble.
type predictionParts struct {
	cfg      config.Config
	log      hclog.Logger
	store    store.Store
	host     *pluginhost.Host
	features *pluginhost.Plugin
	model    *pluginhost.Plugin
	// stopTracing flushes the process's spans.
	stopTracing func(context.Context) error
}

func (p predictionParts) Close() {
	p.host.Close()
	p.store.Close()
	if err := p.stopTracing(context.Background()); err != nil {
		p.log.Warn("tracing: spans not flushed", "error", err)
	}
}

func assemble(e env, c *common) (predictionParts, error) {
	cfg, err := c.load(e)
	if err != nil {
		return predictionParts{}, err
	}
	if cfg.Features.Plugin == "" || cfg.Model.Plugin == "" {
		return predictionParts{}, errors.New("set features.plugin and model.plugin in config to the feature and model plugins to use")
	}
	log := logger(e, cfg)
	// Tracing first: the store and the plugins are instrumented as they open.
	stopTracing, err := tracing.Start(e.ctx, cfg.Tracing, c.name, Version)
	if err != nil {
		return predictionParts{}, err
	}
	st, err := openStore(e.ctx, cfg)
	if err != nil {
		stopTracing(e.ctx)
		return predictionParts{}, err
	}
	host, err := pluginhost.New(cfg.Plugins, log)
	if err != nil {
		st.Close()
		stopTracing(e.ctx)
		return predictionParts{}, err
	}
	fp, _ := host.Plugin(cfg.Features.Plugin)
	mp, _ := host.Plugin(cfg.Model.Plugin)
	return predictionParts{cfg: cfg, log: log, store: st, host: host, features: fp, model: mp, stopTracing: stopTracing}, nil
}

// replayProgress is a progress bar on a terminal (nil otherwise) for a
// replay counting what.
func replayProgress(e env, what string) func(done, total int) {
	if !isTerminal(e.stderr) {
		return nil
	}
	var pb *progressbar.ProgressBar
	return func(done, total int) {
		if pb == nil {
			pb = progressbar.NewOptions(total, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("matches"),
				progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100e6))
		}
		pb.ChangeMax(total)
		pb.Set(done)
		if done == total {
			pb.Finish()
		}
	}
}

// actor names who made a change, for the audit log: $SOCCERPREDICT_ACTOR, else the OS user.
func actor(e env) string {
	if a := e.getenv("SOCCERPREDICT_ACTOR"); a != "" {
		return a
	}
	if u := e.getenv("USER"); u != "" {
		return u
	}
	// No $USER (a container, cron, systemd): the account the process runs as.
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// digest is the plugin binary's SHA-256 ("" when it cannot be read).
func digest(p *pluginhost.Plugin) string {
	d, err := p.Verify()
	if err != nil {
		return ""
	}
	return hex.EncodeToString(d)
}

// keepReference stores a new version's drift reference: its most recent
// training rows of each regime and its own forecasts of them. A failure is
// a warning: the version is registered and serves; only its drift cannot
// be measured.
func keepReference(e env, parts predictionParts, mv store.ModelVersion, priced, unpriced [][]float64) {
	if len(priced)+len(unpriced) == 0 {
		return
	}
	m := pluginhost.ModelOf(parts.model)
	ref := store.Reference{Priced: store.ReferenceSample{Rows: priced}, Unpriced: store.ReferenceSample{Rows: unpriced}}
	for _, c := range mv.Signature.Inputs {
		ref.Columns = append(ref.Columns, c.Name)
	}
	err := m.Load(e.ctx, model.LoadRequest{Artifact: mv.Artifact, Signature: mv.Signature})
	for _, s := range []*store.ReferenceSample{&ref.Priced, &ref.Unpriced} {
		for start := 0; err == nil && start < len(s.Rows); start += 2000 {
			var resp model.PredictResponse
			resp, err = m.Predict(e.ctx, model.PredictRequest{Rows: s.Rows[start:min(start+2000, len(s.Rows))]})
			for _, p := range resp.Probabilities {
				s.Probabilities = append(s.Probabilities, [3]float64{p.Home, p.Draw, p.Away})
			}
		}
	}
	if err == nil {
		err = parts.store.SaveReference(e.ctx, mv.Version, ref)
	}
	if err != nil {
		parts.log.Warn("cannot keep the version's drift reference; its drift will not be measured", "version", mv.Version, "error", err)
	}
}

// recordExperiment tracks a train or evaluate run; report, when not nil, is
// kept as the run's whole result (an evaluation, which the web page draws).
func recordExperiment(e env, parts predictionParts, kind string, params any, metrics map[string]float64, datasetHash string, version int, started time.Time, report any) {
	b, _ := json.Marshal(params)
	run := store.ExperimentRun{ID: ingest.NewRunID(started), Kind: kind, StartedAt: started, FinishedAt: time.Now(), Params: b,
		Metrics: metrics, DatasetHash: datasetHash, Plugins: pluginInfos(e, parts.features, parts.model), GitCommit: gitCommit(e), ModelVersion: version}
	if report != nil {
		run.Report, _ = json.Marshal(report)
	}
	if err := parts.store.RecordExperiment(e.ctx, run); err != nil {
		parts.log.Error("cannot record the run", "error", err)
		return
	}
	fmt.Fprintf(e.stdout, "recorded run %s (`soccerpredict runs list`)\n", run.ID)
}

// metric formats a run's metric, or "-" when the run has none.
func metric(m map[string]float64, key, format string) string {
	if v, ok := m[key]; ok {
		return fmt.Sprintf(format, v)
	}
	return "-"
}

// gitCommit is the commit of the working tree, for experiment records.
func gitCommit(e env) string {
	if c := e.getenv("SOCCERPREDICT_GIT_COMMIT"); c != "" {
		return c
	}
	out, err := exec.CommandContext(e.ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// pluginInfos describes the plugins a run used.
func pluginInfos(e env, ps ...*pluginhost.Plugin) []store.PluginInfo {
	var out []store.PluginInfo
	for _, p := range ps {
		st := p.Status()
		version := st.Identity.APIVersion
		out = append(out, store.PluginInfo{Name: p.Name, Kind: p.Kind(), Version: version, SHA256: digest(p)})
	}
	return out
}
