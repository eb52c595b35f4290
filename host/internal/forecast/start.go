package forecast

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// NewPredictor wires a predictor to the feature plugin and the name of the
// model plugin it spawns per generation. Start loads it.
func NewPredictor(st Store, host *pluginhost.Host, featurePlugin *pluginhost.Plugin, modelPlugin string, logger hclog.Logger) *Predictor {
	p := &Predictor{store: st, host: host, features: featurePlugin, modelPlugin: modelPlugin, logger: logger, recent: DefaultRecent, metrics: noMetrics{}, cacheEntries: DefaultCacheEntries}
	// A relaunched feature process starts empty: give it back its state.
	featurePlugin.OnLaunch(func(ctx context.Context, client any) error {
		p.mu.RLock()
		snap := p.snapshot
		p.mu.RUnlock()
		if snap == nil {
			return nil
		}
		return client.(features.FeatureSet).Restore(ctx, snap)
	})
	return p
}

// Start brings the features to the present, then loads the current
// generation's champion, refusing one whose signature does not equal the
// feature schema. The features come from the snapshot the store keeps when
// no match has changed since it was taken (by this feature plugin, with
// these settings); otherwise every finished match is replayed and the
// result kept as the next snapshot, so the replicas and restarts after it
// start without replaying.
func (p *Predictor) Start(ctx context.Context) error {
	fs := pluginhost.FeaturesOf(p.features)
	// Replay and Restore need an empty feature state: start from a fresh process.
	p.features.Kill()
	schema, err := fs.Schema(ctx)
	if err != nil {
		return err
	}
	started := time.Now()
	key, version, keep := p.servingSnapshotKey(ctx, schema)
	var st startState
	restored, caughtUp := false, -1
	if keep {
		snap, err := p.store.FeatureSnapshot(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = nil // none kept yet: replay and keep one
		case err != nil:
		case snap.MatchesVersion == version:
			if st, err = restoreState(ctx, fs, snap); err == nil {
				restored = true
			}
		default:
			var ok bool
			var n int
			if st, n, ok, err = p.catchUp(ctx, fs, snap); ok {
				restored, caughtUp = true, n
				keepSnapshot(ctx, p.store, p.logger, key, version, st)
			}
		}
		if err != nil {
			p.logger.Warn("feature snapshot unusable; replaying instead", "error", err)
			p.features.Kill()
		}
	}
	if !restored {
		if st, err = p.replayState(ctx, fs); err != nil {
			return err
		}
		if keep {
			keepSnapshot(ctx, p.store, p.logger, key, version, st)
		}
	}
	// The history reads the finished matches again when first asked about
	// the past: the store holds them until then, not this process.
	hist, err := newHistory(p.host, p.features.Name, func(ctx context.Context) ([]soccer.Match, error) {
		return p.store.Matches(ctx, store.MatchQuery{Status: soccer.Finished})
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.schema, p.snapshot, p.teams, p.past, p.warmRow = schema, st.state, st.meta.Teams, st.meta.Past, st.meta.Warm
	p.spans, p.history, p.lastDay = st.spans(), hist, st.meta.LastDay
	p.mu.Unlock()
	if err := p.refreshStoredPrices(ctx); err != nil {
		return err
	}
	how := "replayed"
	switch {
	case caughtUp >= 0:
		how = fmt.Sprintf("restored from snapshot and caught up on %d matches", caughtUp)
		if caughtUp == 1 {
			how = "restored from snapshot and caught up on 1 match"
		}
	case restored:
		how = "restored from snapshot"
	}
	p.logger.Info("features "+how, "schema", schema.Version, "matches", st.meta.Matches, "took", time.Since(started).Round(time.Millisecond))

	if p.pinned > 0 {
		g, err := p.load(ctx, store.Generation{Alias: "pinned", Version: p.pinned, CacheNamespace: store.CacheNamespace(-1, p.pinned)})
		if err != nil {
			return err
		}
		p.current.Store(g)
		return nil
	}
	gen, err := p.store.CurrentGeneration(ctx)
	if errors.Is(err, store.ErrNotFound) {
		// A champion set before generations existed: serve it as generation 0.
		champ, aerr := p.store.Alias(ctx, store.Champion)
		if errors.Is(aerr, store.ErrNotFound) {
			return fault.New(fault.Unavailable, "no champion model; train one with `soccerpredict models train --alias champion`")
		}
		if aerr != nil {
			return aerr
		}
		gen, err = store.Generation{Alias: store.Champion, Version: champ.Version, CacheNamespace: store.CacheNamespace(0, champ.Version)}, nil
	}
	if err != nil {
		return err
	}
	g, err := p.load(ctx, gen)
	if err != nil {
		return err
	}
	p.current.Store(g)
	p.metrics.Generation(gen.ID)
	return nil
}

// load prepares a generation: checks its champion against the feature
// schema, launches a model process for it, loads the model and warms it with
// one prediction. Nothing serves from it until the caller switches to it.
func (p *Predictor) load(ctx context.Context, gen store.Generation) (*generation, error) {
	return p.loadAs(ctx, gen, fmt.Sprintf("g%d", gen.ID))
}

// loadAs is load with the model process named instance.
func (p *Predictor) loadAs(ctx context.Context, gen store.Generation, instance string) (*generation, error) {
	champ, err := p.store.ModelVersion(ctx, gen.Version)
	if err != nil {
		return nil, err
	}
	p.mu.RLock()
	schema, warm := p.schema, p.warmRow
	p.mu.RUnlock()
	if err := champ.Signature.CheckInputs(schema.Columns); err != nil {
		return nil, fmt.Errorf("refusing champion %s v%d: %w", champ.Name, champ.Version, err)
	}
	if champ.FeatureSchemaVersion != schema.Version {
		return nil, fmt.Errorf("refusing champion %s v%d: trained on feature schema %s, the feature plugin serves %s",
			champ.Name, champ.Version, champ.FeatureSchemaVersion, schema.Version)
	}
	inst, err := p.host.Spawn(p.modelPlugin, instance)
	if err != nil {
		return nil, err
	}
	// A relaunched model process gets this generation's model back.
	inst.OnLaunch(func(ctx context.Context, client any) error {
		return client.(model.Model).Load(ctx, model.LoadRequest{Artifact: champ.Artifact, Signature: champ.Signature})
	})
	g := &generation{gen: gen, champion: champ, model: inst, cache: map[cacheKey]soccer.Probabilities{}, cacheEntries: p.cacheEntries, seed: maphash.MakeSeed()}
	g.batches = newCoalescer(p.batching, func(ctx context.Context, fixtures []soccer.Fixture) []outcome {
		return p.computeBatch(ctx, g, fixtures)
	}, p.metrics.Batch)
	if warm != nil {
		resp, err := pluginhost.ModelOf(inst).Predict(ctx, model.PredictRequest{Rows: [][]float64{warm}})
		if err == nil && len(resp.Probabilities) == 1 {
			err = resp.Probabilities[0].Validate()
		}
		if err != nil {
			p.host.Retire(inst)
			return nil, fmt.Errorf("warm champion %s v%d: %w", champ.Name, champ.Version, err)
		}
		if len(resp.Markets) == 1 {
			g.scorelines = len(resp.Markets[0].Scorelines)
			g.hasMarkets = true
		}
	}
	p.logger.Info("generation loaded", "generation", gen.ID, "model", champ.Name, "version", champ.Version)
	return g, nil
}

// Watch follows promotions until ctx ends: on a new generation it loads and
// warms it, switches atomically, and retires the old one once its in-flight
// requests are done. PostgreSQL notifies at once; every store is also polled.
func (p *Predictor) Watch(ctx context.Context, poll time.Duration) {
	var notify <-chan struct{}
	if l, ok := p.store.(interface {
		ListenGenerations(context.Context) (<-chan struct{}, error)
	}); ok {
		if ch, err := l.ListenGenerations(ctx); err == nil {
			notify = ch
		} else {
			p.logger.Warn("cannot LISTEN for generations; polling only", "error", err)
		}
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-notify:
			if !ok {
				notify = nil // the listener died; polling carries on
			}
		case <-tick.C:
		}
		if err := p.Refresh(ctx); err != nil && ctx.Err() == nil {
			p.logger.Error("cannot switch generation; still serving the current one", "error", err)
		}
	}
}

// Refresh switches to the store's current generation if it is newer, and
// reloads the scheduled fixtures' prices if the matches have changed.
func (p *Predictor) Refresh(ctx context.Context) error {
	if err := p.refreshStoredPrices(ctx); err != nil && ctx.Err() == nil {
		p.logger.Warn("cannot reload the scheduled fixtures' prices; using the last ones", "error", err)
	}
	gen, err := p.store.CurrentGeneration(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	cur := p.current.Load()
	if cur != nil && gen.ID == cur.gen.ID || gen.ID == atomic.LoadInt64(&p.failed) {
		return nil
	}
	g, err := p.load(ctx, gen)
	if err != nil {
		atomic.StoreInt64(&p.failed, gen.ID)
		return fmt.Errorf("generation %d: %w", gen.ID, err)
	}
	old := p.current.Swap(g)
	p.metrics.Generation(gen.ID)
	p.logger.Info("switched generation", "generation", gen.ID, "model", g.champion.Name, "version", g.champion.Version)
	if old != nil {
		go p.retire(old)
	}
	return nil
}

// refreshStoredPrices reloads the scheduled fixtures with prices when the
// store's matches have changed since the last load.
func (p *Predictor) refreshStoredPrices(ctx context.Context) error {
	version, err := p.store.MatchesVersion(ctx)
	if err != nil {
		return err
	}
	if cur := p.stored.Load(); cur != nil && cur.version == version {
		return nil
	}
	ms, err := p.store.Matches(ctx, store.MatchQuery{Status: soccer.Scheduled, From: time.Now().Add(-storedWindow)})
	if err != nil {
		return err
	}
	next := &storedPrices{version: version, byID: map[string]soccer.Fixture{}}
	for _, m := range ms {
		f := m.Fixture()
		if len(f.Odds) == 0 {
			continue
		}
		benchmarkFirst(f.Odds)
		next.byID[m.ID] = f
	}
	p.stored.Store(next)
	return nil
}

// Recent forecasts the competition's last matches from the features they had
// before kick-off, newest first.
func (p *Predictor) Recent(ctx context.Context, competition string, limit int) ([]Prediction, error) {
	g, err := p.acquire()
	if err != nil {
		return nil, err
	}
	defer g.mu.RUnlock()
	p.mu.RLock()
	past, ok := p.past[competition]
	schema := p.schema
	p.mu.RUnlock()
	if !ok {
		return nil, fault.Field(fault.Unprocessable, "competition", "unknown competition %q (known: %s)", competition, strings.Join(p.Competitions(), ", "))
	}
	if limit > 0 && len(past) > limit {
		past = past[len(past)-limit:]
	}
	fixtures := make([]soccer.Fixture, len(past))
	rows := make([][]float64, len(past))
	for i, e := range past {
		fixtures[i], rows[i] = e.Match.Fixture(), e.Values
	}
	res, err := p.modelRows(ctx, g, schema, fixtures, rows)
	if err != nil {
		return nil, err
	}
	out := make([]Prediction, len(res))
	for i, r := range res {
		if r.err != nil {
			return nil, r.err
		}
		m := past[i].Match
		out[i] = r.pred
		out[i].PointInTime, out[i].Match = true, &m
	}
	slices.Reverse(out)
	return out, nil
}

// Upcoming forecasts the competition's scheduled fixtures in the store.
func (p *Predictor) Upcoming(ctx context.Context, competition string, limit int) ([]Prediction, error) {
	ms, err := p.store.Matches(ctx, store.MatchQuery{Competition: competition, Status: soccer.Scheduled, From: time.Now().Add(-3 * time.Hour), Limit: limit})
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, nil
	}
	fixtures := make([]soccer.Fixture, len(ms))
	for i, m := range ms {
		fixtures[i] = m.Fixture()
	}
	return p.Predict(ctx, fixtures)
}
