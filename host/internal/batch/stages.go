// Package batch is `soccerpredict batch <stage>`: the steps of the DVC
// pipeline (dvc.yaml). Every stage but register reads and writes files only,
// never the online store, and the same inputs and params give byte-identical
// outputs: rows are sorted, floats are written exactly, and nothing records
// the wall clock. register publishes a trained model into the registry.
//
// ingest → validate → features → train → evaluate → register
package batch

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/contract"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/ingest"
	"github.com/soccerpredict/soccerpredict/host/internal/mlmodel"
	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// rejectHeader: line is 0 for an input without lines, whose reject says
// where it is in location instead (a JSON path, an API page).
var rejectHeader = []string{"source", "file", "line", "column", "message", "raw", "location"}

// Ingest fetches every source and writes all matches, in kick-off order,
// and the rows the sources could not read.
func Ingest(ctx context.Context, sources []ingest.Source, matchesOut, rejectsOut string) (int, int, error) {
	var all []soccer.Match
	var rejects [][]string
	for _, s := range sources {
		resp, err := source.Collect(ctx, s.Source, s.Request)
		if err != nil {
			return 0, 0, fmt.Errorf("ingest %s: %w", s.Name, err)
		}
		all = append(all, resp.Matches...)
		for _, r := range resp.Rejects {
			rejects = append(rejects, []string{s.Name, r.File, fmt.Sprint(r.Line), r.Column, r.Message, r.Raw, r.Location})
		}
	}
	sortMatches(all)
	if err := WriteMatches(matchesOut, all); err != nil {
		return 0, 0, err
	}
	return len(all), len(rejects), writeCSV(rejectsOut, rejectHeader, rejects)
}

func sortMatches(ms []soccer.Match) {
	slices.SortStableFunc(ms, func(a, b soccer.Match) int {
		if c := a.Kickoff.Compare(b.Kickoff); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

var quarantineHeader = []string{"file", "line", "match_id", "reasons", "raw"}

// ValidationReport is the validate stage's metrics file: counts, and GE's
// validation result for each batch (source file).
type ValidationReport struct {
	Rows        int  `json:"rows"`
	Valid       int  `json:"valid"`
	Quarantined int  `json:"quarantined"`
	Unreadable  int  `json:"unreadable"`
	Success     bool `json:"success"`
	// DroppedQuotes are bookmakers' quotes left out of matches that still
	// passed, because a price failed a warning expectation.
	DroppedQuotes int `json:"dropped_quotes"`
	// DroppedStats are matches that passed without their statistics,
	// which failed a warning expectation.
	DroppedStats int                        `json:"dropped_statistics"`
	Batches      map[string]contract.Result `json:"batches"`
	// Prices are the prices table's results, by batch.
	Prices map[string]contract.Result `json:"prices,omitempty"`
}

// Validate checks each batch (origin file) against the data contract and
// splits the matches: valid ones onward, failing ones and the sources'
// unreadable rows into quarantine, with the reason. Nothing is dropped.
func Validate(suite contract.Suite, matchesIn, rejectsIn, validOut, quarantineOut, reportOut string) (ValidationReport, error) {
	ms, err := ReadMatches(matchesIn)
	if err != nil {
		return ValidationReport{}, err
	}
	rejects, err := readCSV(rejectsIn, rejectHeader)
	if err != nil {
		return ValidationReport{}, err
	}
	batches := map[string][]int{}
	var names []string
	for i, m := range ms {
		name := ingest.FileOf(m.Origin, func(string) bool { return false })
		if _, ok := batches[name]; !ok {
			names = append(names, name)
		}
		batches[name] = append(batches[name], i)
	}
	slices.Sort(names)
	rep := ValidationReport{Rows: len(ms) + len(rejects), Batches: map[string]contract.Result{}, Prices: map[string]contract.Result{}, Success: true}
	failed := map[int][]string{}
	for _, name := range names {
		idx := batches[name]
		part := make([]soccer.Match, len(idx))
		for k, i := range idx {
			part[k] = ms[i]
		}
		c := ingest.Check(suite, part, map[string]any{"batch": name})
		rep.DroppedQuotes += c.DroppedQuotes
		rep.DroppedStats += len(c.DroppedStats)
		if c.Prices != nil {
			delete(c.Prices.Meta, "validation_time")
			rep.Prices[name] = *c.Prices
		}
		delete(c.Result.Meta, "validation_time") // outputs depend on inputs only
		rep.Batches[name] = c.Result
		rep.Success = rep.Success && len(c.Reasons) == 0
		for k, i := range idx {
			ms[i] = c.Matches[k]
			if reasons, bad := c.Reasons[k]; bad {
				failed[i] = reasons
			}
		}
	}
	var valid []soccer.Match
	var quarantine [][]string
	for i, m := range ms {
		if reasons, bad := failed[i]; bad {
			raw, _ := json.Marshal(m)
			quarantine = append(quarantine, []string{m.Origin, "", m.ID, strings.Join(reasons, "; "), string(raw)})
			continue
		}
		valid = append(valid, m)
	}
	for _, r := range rejects {
		where := ""
		if r[6] != "" {
			where = r[6] + ": "
		}
		quarantine = append(quarantine, []string{r[1], r[2], "", "unreadable: " + where + "column " + r[3] + ": " + r[4], r[5]})
	}
	rep.Valid, rep.Quarantined, rep.Unreadable = len(valid), len(quarantine), len(rejects)
	if err := WriteMatches(validOut, valid); err != nil {
		return rep, err
	}
	if err := writeCSV(quarantineOut, quarantineHeader, quarantine); err != nil {
		return rep, err
	}
	return rep, writeJSON(reportOut, rep)
}

// Features replays the valid finished matches through the feature plugin,
// which must start empty, and writes the point-in-time dataset.
func Features(ctx context.Context, fs features.FeatureSet, validIn, featuresOut string, progress func(done, total int)) (forecast.Dataset, error) {
	ms, err := ReadMatches(validIn)
	if err != nil {
		return forecast.Dataset{}, err
	}
	var finished []soccer.Match
	for _, m := range ms {
		if m.Status == soccer.Finished {
			finished = append(finished, m)
		}
	}
	schema, err := fs.Schema(ctx)
	if err != nil {
		return forecast.Dataset{}, err
	}
	examples, err := replay.Replay(ctx, fs, finished, true, progress)
	if err != nil {
		return forecast.Dataset{}, err
	}
	d := forecast.Dataset{Schema: schema, Examples: examples}
	return d, WriteFeatures(featuresOut, d)
}

// RunInfo is what a train or evaluate stage records for experiment tracking.
type RunInfo struct {
	Kind        string             `json:"kind"`
	Params      map[string]any     `json:"params"`
	Metrics     map[string]float64 `json:"metrics"`
	DatasetHash string             `json:"dataset_hash"`
	Plugins     []store.PluginInfo `json:"plugins"`
	GitCommit   string             `json:"git_commit"`
	Extra       map[string]any     `json:"extra,omitempty"`
}

// Train fits the model on the dataset's trainable rows and writes the model
// directory (model.onnx + MLmodel) and the run's metrics. The MLmodel's
// creation time is the newest training match's kick-off, so the directory
// depends on its inputs only.
func Train(ctx context.Context, tr forecast.Trainer, featuresIn, modelDir, metricsOut string, info RunInfo) (store.ModelVersion, error) {
	d, err := ReadFeatures(featuresIn)
	if err != nil {
		return store.ModelVersion{}, err
	}
	examples := d.Trainable()
	mv, err := tr.Train(ctx, d, examples)
	if err != nil {
		return store.ModelVersion{}, err
	}
	created := examples[len(examples)-1].Match.Kickoff
	if err := mlmodel.Write(modelDir, mv.Artifact, mv.Signature, mlmodel.Meta{ModelUUID: sha(mv.Artifact)[:32], Created: created,
		Metadata: map[string]string{"name": mv.Name, "model_plugin": mv.ModelPlugin, "feature_plugin": mv.FeaturePlugin,
			"feature_schema_version": mv.FeatureSchemaVersion, "training_data_hash": mv.TrainingDataHash, "params": string(mv.Params)}}); err != nil {
		return store.ModelVersion{}, err
	}
	info.Kind, info.Params, info.Metrics, info.DatasetHash = "train", tr.Params, mv.Metrics, mv.TrainingDataHash
	info.Extra = map[string]any{"train_matches": len(examples), "name": mv.Name}
	return mv, writeJSON(metricsOut, info)
}

// Evaluate runs the walk-forward evaluation and writes its metrics and plots.
func Evaluate(ctx context.Context, tr forecast.Trainer, competition string, seasons []string, featuresIn, metricsOut, plotsDir string, info RunInfo) (forecast.Evaluation, error) {
	d, err := ReadFeatures(featuresIn)
	if err != nil {
		return forecast.Evaluation{}, err
	}
	ev, err := forecast.Evaluate(ctx, d, tr, tr.Model.(forecast.PredictingTrainer), competition, seasons)
	if err != nil {
		return forecast.Evaluation{}, err
	}
	o := ev.Overall
	info.Kind, info.Params, info.DatasetHash = "evaluate", tr.Params, d.TrainableHash()
	info.Metrics = map[string]float64{"log_loss": o.Model.LogLoss, "brier": o.Model.Brier, "rps": o.Model.RPS, "ece": o.ModelECE,
		"bookmaker_log_loss": o.Bookmaker.LogLoss, "bookmaker_brier": o.Bookmaker.Brier, "bookmaker_rps": o.Bookmaker.RPS, "bookmaker_ece": o.BookmakerECE,
		"n": float64(o.Model.N)}
	info.Extra = map[string]any{"evaluation": ev}
	if err := writeJSON(metricsOut, info); err != nil {
		return ev, err
	}
	return ev, writePlots(plotsDir, ev)
}

// Registry is what Register needs of the store.
type Registry interface {
	RegisterModel(ctx context.Context, v store.ModelVersion) (store.ModelVersion, error)
	RecordExperiment(ctx context.Context, r store.ExperimentRun) error
	Promote(ctx context.Context, p store.Promotion) (store.Generation, error)
	Alias(ctx context.Context, alias string) (store.ModelVersion, error)
}

// Register publishes the model directory into the registry, points the alias
// (by default "candidate") at it, and records the train and evaluate runs.
func Register(ctx context.Context, st Registry, modelDir, trainMetrics, evalMetrics, alias, actor, out string) (store.ModelVersion, error) {
	artifact, sig, meta, err := mlmodel.Read(modelDir)
	if err != nil {
		return store.ModelVersion{}, err
	}
	var runs [2]RunInfo
	for i, p := range []string{trainMetrics, evalMetrics} {
		b, err := os.ReadFile(p)
		if err != nil {
			return store.ModelVersion{}, err
		}
		if err := json.Unmarshal(b, &runs[i]); err != nil {
			return store.ModelVersion{}, fmt.Errorf("%s: %w", p, err)
		}
	}
	params, _ := json.Marshal(runs[0].Params)
	metrics := map[string]float64{}
	for k, v := range runs[0].Metrics {
		metrics[k] = v
	}
	for k, v := range runs[1].Metrics {
		metrics["backtest_"+k] = v
	}
	mv, err := st.RegisterModel(ctx, store.ModelVersion{Name: meta.Metadata["name"], ModelPlugin: meta.Metadata["model_plugin"], Artifact: artifact,
		Signature: sig, FeaturePlugin: meta.Metadata["feature_plugin"], FeatureSchemaVersion: meta.Metadata["feature_schema_version"],
		Params: params, Metrics: metrics, TrainingDataHash: meta.Metadata["training_data_hash"]})
	if err != nil {
		return store.ModelVersion{}, err
	}
	now := time.Now()
	for _, r := range runs {
		p, _ := json.Marshal(r.Params)
		if err := st.RecordExperiment(ctx, store.ExperimentRun{ID: ingest.NewRunID(now) + "-" + r.Kind, Kind: r.Kind, StartedAt: now, FinishedAt: now,
			Params: p, Metrics: r.Metrics, DatasetHash: r.DatasetHash, Plugins: r.Plugins, GitCommit: r.GitCommit, ModelVersion: mv.Version}); err != nil {
			return mv, err
		}
	}
	if _, err := st.Promote(ctx, store.Promotion{Alias: alias, Version: mv.Version, Action: "register", Actor: actor, Reason: "batch register"}); err != nil {
		return mv, err
	}
	// A registry without a champion (a fresh clone's first run) has nothing
	// to weigh the new version against: it serves, audited as a bootstrap,
	// as `models train --if-no-champion` does. Later versions stay
	// candidates until promoted through the gate.
	bootstrap := false
	if _, err := st.Alias(ctx, "champion"); errors.Is(err, store.ErrNotFound) {
		if _, err := st.Promote(ctx, store.Promotion{Alias: "champion", Version: mv.Version, Action: "bootstrap", Actor: actor,
			Reason: "batch register: no champion yet"}); err != nil {
			return mv, err
		}
		bootstrap = true
	} else if err != nil {
		return mv, err
	}
	mv.Artifact = nil
	return mv, writeJSON(out, map[string]any{"version": mv.Version, "alias": alias, "artifact_sha256": mv.ArtifactSHA256, "champion": bootstrap})
}

func sha(b []byte) string {
	return fmt.Sprintf("%x", sha256Sum(b))
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
