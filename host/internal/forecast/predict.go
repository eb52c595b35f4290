package forecast

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// Predict forecasts fixtures from the present feature state, and fixtures
// that kick off on or before the day of the last stored result from the
// state before their day (point in time, as the replay gave that day's
// matches). Fixtures not in the generation's cache join the coalescer, so
// concurrent callers share plugin calls; the first fixture that cannot be
// forecast fails the call.
func (p *Predictor) Predict(ctx context.Context, fixtures []soccer.Fixture) ([]Prediction, error) {
	g, err := p.acquire()
	if err != nil {
		return nil, err
	}
	defer g.mu.RUnlock()
	out, err := p.predictWith(ctx, g, fixtures)
	if err == nil {
		p.record(ctx, out)
	}
	return out, err
}

func (p *Predictor) predictWith(ctx context.Context, g *generation, fixtures []soccer.Fixture) ([]Prediction, error) {
	p.mu.RLock()
	schemaVersion, lastDay := p.schema.Version, p.lastDay
	p.mu.RUnlock()
	out := make([]Prediction, len(fixtures))
	var todo, past []soccer.Fixture
	var todoIdx, pastIdx []int
	for i, f := range fixtures {
		if pr, mk, ok := g.cached(f); ok {
			out[i] = g.prediction(f, pr, mk, schemaVersion)
			out[i].PointInTime = historical(f.Kickoff, lastDay)
			continue
		}
		if historical(f.Kickoff, lastDay) {
			past, pastIdx = append(past, f), append(pastIdx, i)
			continue
		}
		todo, todoIdx = append(todo, f), append(todoIdx, i)
	}
	if len(past) > 0 {
		res, err := p.predictPast(ctx, g, past, nil)
		if err != nil {
			return nil, fault.Reindex(err, pastIdx)
		}
		for j, r := range res {
			out[pastIdx[j]] = r
		}
	}
	if len(todo) == 0 {
		p.metrics.Predictions(len(past), len(fixtures)-len(past))
		return out, nil
	}
	res, err := g.batches.do(ctx, todo)
	if err != nil {
		return nil, err
	}
	for j, r := range res {
		if r.err != nil {
			return nil, fault.In(todoIdx[j], r.err)
		}
		out[todoIdx[j]] = r.pred
	}
	p.metrics.Predictions(len(todo)+len(past), len(fixtures)-len(todo)-len(past))
	return out, nil
}

// PredictAsOf forecasts fixtures from the features as they stood before
// the day of asOf[i] (a zero time: the fixture's own kick-off, as Predict
// does). Forecasts as of an earlier day than the kick-off are not cached.
func (p *Predictor) PredictAsOf(ctx context.Context, fixtures []soccer.Fixture, asOf []time.Time) ([]Prediction, error) {
	if len(asOf) != len(fixtures) {
		return nil, fmt.Errorf("forecast: %d as-of times for %d fixtures", len(asOf), len(fixtures))
	}
	p.mu.RLock()
	lastDay := p.lastDay
	p.mu.RUnlock()
	var plain, dated []soccer.Fixture
	var plainIdx, datedIdx []int
	var cuts []time.Time
	for i, f := range fixtures {
		if asOf[i].IsZero() || !historical(asOf[i], lastDay) {
			plain, plainIdx = append(plain, f), append(plainIdx, i) // the present state is the state as of then
			continue
		}
		dated, datedIdx, cuts = append(dated, f), append(datedIdx, i), append(cuts, asOf[i])
	}
	// One generation answers the whole call.
	g, err := p.acquire()
	if err != nil {
		return nil, err
	}
	defer g.mu.RUnlock()
	out := make([]Prediction, len(fixtures))
	if len(plain) > 0 {
		res, err := p.predictWith(ctx, g, plain)
		if err != nil {
			return nil, fault.Reindex(err, plainIdx)
		}
		for j, r := range res {
			out[plainIdx[j]] = r
		}
	}
	if len(dated) > 0 {
		res, err := p.predictPast(ctx, g, dated, cuts)
		if err != nil {
			return nil, fault.Reindex(err, datedIdx)
		}
		for j, r := range res {
			out[datedIdx[j]] = r
		}
		p.metrics.Predictions(len(dated), 0)
	}
	p.record(ctx, out)
	return out, nil
}

// predictPast forecasts past fixtures day by day through the history's
// feature state: as of each fixture's kick-off (cuts nil; cached like any
// other forecast) or as of cuts[i] (not cached).
func (p *Predictor) predictPast(ctx context.Context, g *generation, fixtures []soccer.Fixture, cuts []time.Time) ([]Prediction, error) {
	p.mu.RLock()
	schema, hist := p.schema, p.history
	p.mu.RUnlock()
	at := func(i int) time.Time {
		if cuts != nil {
			return cuts[i]
		}
		return fixtures[i].Kickoff
	}
	order := make([]int, len(fixtures))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return at(a).Compare(at(b)) })
	out := make([]Prediction, len(fixtures))
	for start := 0; start < len(order); {
		end := start + 1
		for end < len(order) && sameDay(at(order[start]), at(order[end])) {
			end++
		}
		day := make([]soccer.Fixture, 0, end-start)
		for _, i := range order[start:end] {
			day = append(day, fixtures[i])
		}
		rows, err := hist.compute(ctx, at(order[start]), day)
		if err != nil {
			return nil, p.pluginError("feature", err)
		}
		if err := replay.CheckRows(schema, day, rows); err != nil {
			return nil, misbehaved(err)
		}
		values := make([][]float64, len(rows))
		for k, r := range rows {
			values[k] = r.Values
		}
		res, err := p.modelRows(ctx, g, schema, day, values)
		if err != nil {
			return nil, err
		}
		for k, r := range res {
			if r.err != nil {
				return nil, fault.In(order[start+k], r.err)
			}
			i := order[start+k]
			out[i] = r.pred
			out[i].PointInTime = true
			if cuts == nil {
				g.store(fixtures[i], r.pred.Probabilities, r.pred.Markets)
			}
		}
		start = end
	}
	return out, nil
}

// computeBatch runs one coalesced batch through the feature plugin and the
// generation's model plugin. A plugin that is down fails the whole batch (each
// caller sees fault.Unavailable); any other refusal is retried fixture by fixture,
// so one fixture a plugin rejects fails only its own caller. A row or forecast
// that is invalid fails only its fixture.
//
// ctx is never cancelled — the batch belongs to every caller in it, and the
// plugin's own timeout bounds it — and carries the batch's span.
func (p *Predictor) computeBatch(ctx context.Context, g *generation, fixtures []soccer.Fixture) []outcome {
	out := make([]outcome, len(fixtures))
	fail := func(err error) []outcome {
		for i := range out {
			out[i].err = err
		}
		return out
	}
	one := func(err error) []outcome {
		if len(fixtures) == 1 || errors.Is(err, fault.Unavailable) {
			return fail(err)
		}
		for i, f := range fixtures {
			out[i] = p.computeBatch(ctx, g, []soccer.Fixture{f})[0]
		}
		return out
	}
	p.mu.RLock()
	schema := p.schema
	p.mu.RUnlock()
	resp, err := pluginhost.FeaturesOf(p.features).Compute(ctx, features.ComputeRequest{Fixtures: fixtures})
	if err != nil {
		return one(p.pluginError("feature", err))
	}
	if len(resp.Rows) != len(fixtures) {
		p.logger.Error("feature plugin answered the wrong number of rows; not serving them", "rows", len(resp.Rows), "fixtures", len(fixtures))
		return fail(misbehaved(fmt.Errorf("feature plugin returned %d rows for %d fixtures", len(resp.Rows), len(fixtures))))
	}
	var (
		rows   [][]float64
		rowFor []int // index in fixtures of each row sent to the model
	)
	for i, r := range resp.Rows {
		if err := replay.CheckRows(schema, fixtures[i:i+1], resp.Rows[i:i+1]); err != nil {
			p.logger.Error("feature plugin answered an invalid row; not serving it", "error", err)
			out[i].err = misbehaved(err)
			continue
		}
		rows, rowFor = append(rows, r.Values), append(rowFor, i)
	}
	if len(rows) == 0 {
		return out
	}
	sent := make([]soccer.Fixture, len(rowFor))
	for j, i := range rowFor {
		sent[j] = fixtures[i]
	}
	preds, err := p.modelRows(ctx, g, schema, sent, rows)
	if err != nil {
		if len(rows) < len(fixtures) {
			for _, i := range rowFor {
				out[i].err = err
			}
			return out
		}
		return one(err)
	}
	for j, r := range preds {
		i := rowFor[j]
		out[i] = r
		if r.err == nil {
			g.store(fixtures[i], r.pred.Probabilities, r.pred.Markets)
		}
	}
	return out
}

// modelRows forecasts feature rows with the generation's model. A failed call
// is the error; a forecast that is not a valid distribution fails only its row.
func (p *Predictor) modelRows(ctx context.Context, g *generation, schema features.Schema, fixtures []soccer.Fixture, rows [][]float64) ([]outcome, error) {
	champ := g.champion
	pred, err := pluginhost.ModelOf(g.model).Predict(ctx, model.PredictRequest{Rows: rows})
	if err != nil {
		return nil, p.pluginError("model", err)
	}
	if len(pred.Probabilities) != len(fixtures) {
		p.logger.Error("model plugin answered the wrong number of forecasts; not serving them", "forecasts", len(pred.Probabilities), "rows", len(fixtures))
		return nil, misbehaved(fmt.Errorf("%d forecasts for %d fixtures", len(pred.Probabilities), len(fixtures)))
	}
	out := make([]outcome, len(fixtures))
	for i, f := range fixtures {
		pr := pred.Probabilities[i]
		if err := pr.Validate(); err != nil {
			p.logger.Error("model plugin answered invalid probabilities; not serving them",
				"model", champ.Name, "version", champ.Version, "fixture", f.ID, "error", err)
			out[i].err = misbehaved(fmt.Errorf("model %s v%d: %w", champ.Name, champ.Version, err))
			continue
		}
		var mk *soccer.GoalMarkets
		if pred.Markets != nil {
			if err := pred.Markets[i].Validate(); err != nil {
				p.logger.Error("model plugin answered invalid goal markets; not serving them",
					"model", champ.Name, "version", champ.Version, "fixture", f.ID, "error", err)
				out[i].err = misbehaved(fmt.Errorf("model %s v%d: %w", champ.Name, champ.Version, err))
				continue
			}
			mk = &pred.Markets[i]
		}
		out[i].pred = g.prediction(f, pr, mk, schema.Version)
		out[i].pred.Features = rows[i]
	}
	return out, nil
}

func (p *Predictor) pluginError(kind string, err error) error {
	// Batches run under a context nobody cancels, so a Canceled call means the
	// plugin's connection was closed under it: another call found the process
	// dead and dropped it. That is the plugin being down, not a failure.
	if wire.IsUnavailable(err) || errors.Is(err, context.Canceled) || errors.Is(err, pluginhost.ErrLaunch) ||
		errors.Is(err, pluginhost.ErrUnresponsive) || errors.Is(err, pluginhost.ErrClosed) {
		p.logger.Warn(kind+" plugin unavailable", "error", err)
		return fault.Wrap(fault.Unavailable, err, "the %s plugin is restarting; retry shortly", kind)
	}
	return fault.FromPlugin(kind, fmt.Errorf("%s plugin: %w", kind, err))
}

// RowsResult is the answer to PredictRows: one distribution per row, and
// the model that made them.
type RowsResult struct {
	Probabilities []soccer.Probabilities
	// Markets are a goals model's, one per row (nil entries from a model without them).
	Markets      []*soccer.GoalMarkets
	Model        string
	ModelVersion int
	Generation   int64
}

// FeatureColumns returns the feature columns the serving model reads, in order.
func (p *Predictor) FeatureColumns() features.Schema {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.schema
}

// PredictRows forecasts feature rows a caller computed itself (in the
// schema's column order) with the serving generation's model, skipping the
// feature plugin: for callers that, like a Triton serving the exported ONNX
// model, bring their own features. Rows of the wrong width or with values
// that are not finite are fault.Invalid.
func (p *Predictor) PredictRows(ctx context.Context, rows [][]float64) (RowsResult, error) {
	g, err := p.acquire()
	if err != nil {
		return RowsResult{}, err
	}
	defer g.mu.RUnlock()
	schema := p.FeatureColumns()
	for i, r := range rows {
		if len(r) != len(schema.Columns) {
			return RowsResult{}, fault.New(fault.Invalid, "row %d has %d values; the model reads %d features (%s)", i, len(r), len(schema.Columns), schema.Version)
		}
		for j, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return RowsResult{}, fault.New(fault.Invalid, "row %d, feature %s: %v is not a finite number", i, schema.Columns[j].Name, v)
			}
		}
	}
	fixtures := make([]soccer.Fixture, len(rows)) // only their count matters to modelRows
	res, err := p.modelRows(ctx, g, schema, fixtures, rows)
	if err != nil {
		return RowsResult{}, err
	}
	out := RowsResult{Model: g.champion.Name, ModelVersion: g.champion.Version, Generation: g.gen.ID}
	for _, r := range res {
		if r.err != nil {
			return RowsResult{}, r.err
		}
		out.Probabilities, out.Markets = append(out.Probabilities, r.pred.Probabilities), append(out.Markets, r.pred.Markets)
	}
	return out, nil
}
