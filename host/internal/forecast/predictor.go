package forecast

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// misbehaved is what a caller reads when a plugin answered something
// invalid (the plugin's answer is in the log, never served).
func misbehaved(cause error) error {
	return fault.Wrap(fault.Misbehaved, cause, "the model produced an invalid forecast; it was not served")
}

// NoMarkets is the error of a request for goal markets that pred's model
// does not give.
func NoMarkets(pred Prediction) *fault.Error {
	return &fault.Error{Kind: fault.Unprocessable, Title: "markets not available", Field: "markets",
		Message: fmt.Sprintf("the serving model %s v%d forecasts home/draw/away only; goal markets need a goals model (model.plugin: goals)", pred.Model, pred.ModelVersion)}
}

// Prediction is a forecast for one fixture and what made it.
type Prediction struct {
	Fixture              soccer.Fixture
	Probabilities        soccer.Probabilities
	Model                string
	ModelVersion         int
	FeatureSchemaVersion string
	// Generation is the serving generation the forecast came from.
	Generation int64
	// PointInTime is true for a past match forecast from the features it had
	// before kick-off.
	PointInTime bool
	Match       *soccer.Match
	// Features is the feature row the model was given; nil for an answer
	// from the cache.
	Features []float64
	// Markets are a goals model's forecast of the goals (over/under 2.5,
	// both teams to score, the likeliest scores); nil from a model that
	// forecasts home/draw/away only.
	Markets *soccer.GoalMarkets
}

// generation is one champion being served: its own model plugin process,
// its own coalescer and its own cache. Requests hold mu for reading; retiring
// takes it for writing, so a retired generation's process ends only after its
// last request, and no batch ever mixes two generations.
type generation struct {
	gen      store.Generation
	champion store.ModelVersion
	model    *pluginhost.Plugin
	batches  *coalescer

	mu      sync.RWMutex
	retired bool

	cacheMu sync.Mutex
	cache   map[cacheKey]soccer.Probabilities
	// markets holds the cached forecasts' goal markets, apart from cache so
	// that the cache of a model without them holds no pointers.
	markets      map[cacheKey]soccer.GoalMarkets
	cacheEntries int
	// hasMarkets says the champion gave goal markets when it was warmed,
	// naming scorelines likeliest scores.
	hasMarkets bool
	scorelines int
	seed       maphash.Seed
}

// DefaultCacheEntries bounds a generation's prediction cache unless
// CacheEntries says otherwise.
const DefaultCacheEntries = 50000

// Predictor serves the champion through the feature plugin and, per
// generation, an instance of the model plugin. Watch follows promotions.
type Predictor struct {
	store       Store
	host        *pluginhost.Host
	features    *pluginhost.Plugin
	modelPlugin string
	logger      hclog.Logger
	// recent is how many past matches per competition keep their
	// point-in-time features for GET /v1/fixtures.
	recent int

	mu       sync.RWMutex
	schema   features.Schema
	snapshot []byte
	teams    map[string][]string // competition -> sorted team names
	past     map[string][]replay.Example
	warmRow  []float64
	// spans are the stored seasons' dates per competition; history answers
	// fixtures on or before lastDay, the day of the last stored result.
	spans   map[string][]seasonSpan
	history *history
	lastDay time.Time

	current atomic.Pointer[generation]
	// stored are the scheduled fixtures with prices (refreshStoredPrices).
	stored atomic.Pointer[storedPrices]
	failed int64 // a generation that failed to load; not retried until a newer one

	batching     Batching
	cacheEntries int
	metrics      Metrics
	recorder     Recorder
	shadow       shadowState
	// pinned, when set, is the model version served instead of the champion.
	pinned int
}

// Pin serves version instead of the current generation's champion (no
// promotion moves it; Watch must not run). Set it before Start.
func (p *Predictor) Pin(version int) { p.pinned = version }

// Metrics is told what the predictor serves.
type Metrics interface {
	Predictions(computed, cached int)
	Generation(id int64)
	// Batch is told each coalesced batch's size and how long each of its
	// fixtures queued before the batch started.
	Batch(size int, waited []time.Duration)
}

type noMetrics struct{}

func (noMetrics) Predictions(int, int)       {}
func (noMetrics) Generation(int64)           {}
func (noMetrics) Batch(int, []time.Duration) {}

// Batch sets how concurrent predictions are coalesced; set it before Start.
func (p *Predictor) Batch(b Batching) { p.batching = b }

// CacheEntries bounds each generation's prediction cache; 0 turns it off.
// Set it before Start.
func (p *Predictor) CacheEntries(n int) { p.cacheEntries = n }

// Observe sends the predictor's counts to m; set it before Start.
func (p *Predictor) Observe(m Metrics) { p.metrics = m }

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
	key, version, keep := p.snapshotKey(ctx, schema)
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

func (p *Predictor) retire(g *generation) {
	g.mu.Lock() // waits for the generation's in-flight requests
	g.retired = true
	g.mu.Unlock()
	p.host.Retire(g.model)
}

// acquire returns the current generation, read-locked; call release after.
func (p *Predictor) acquire() (*generation, error) {
	for {
		g := p.current.Load()
		if g == nil {
			return nil, fault.New(fault.Unavailable, "no model is loaded yet")
		}
		g.mu.RLock()
		if !g.retired {
			return g, nil
		}
		g.mu.RUnlock() // switched meanwhile: take the new one
	}
}

// Champion is the version serving now (without its artifact) and its generation.
func (p *Predictor) Champion() (store.ModelVersion, store.Generation, bool) {
	g := p.current.Load()
	if g == nil {
		return store.ModelVersion{}, store.Generation{}, false
	}
	c := g.champion
	c.Artifact = nil
	return c, g.gen, true
}

// Markets says whether the serving champion forecasts goal markets (as
// its warm-up forecast showed), and how many likeliest scores they name.
func (p *Predictor) Markets() (bool, int) {
	g := p.current.Load()
	if g == nil {
		return false, 0
	}
	return g.hasMarkets, g.scorelines
}

// Competitions lists the competitions with known teams.
func (p *Predictor) Competitions() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []string
	for c := range p.teams {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Competition is a competition the predictor knows, with its teams.
type Competition struct {
	Code  string
	Name  string // the name people know it by ("Premier League"); the code when none is known
	Teams []string
}

// CompetitionList lists the competitions with known teams, in code order.
func (p *Predictor) CompetitionList() []Competition {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]Competition, 0, len(p.teams))
	for code, teams := range p.teams {
		name := aliasTable().titles[code]
		if name == "" {
			name = code
		}
		out = append(out, Competition{Code: code, Name: name, Teams: slices.Clone(teams)})
	}
	slices.SortFunc(out, func(a, b Competition) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// FixtureRequest is what a caller asks to forecast.
type FixtureRequest struct {
	HomeTeam    string
	AwayTeam    string
	Competition string
	Kickoff     time.Time // zero: now
	Odds        *soccer.Odds
	// NoStoredOdds forecasts a fixture without odds as such even when the
	// store has it scheduled with pre-match prices (by default they are used).
	NoStoredOdds bool
}

// requestPrefix starts the ID of a fixture made from a request; a fixture
// the store has keeps the store's match ID.
const requestPrefix = "request-"

// MarketSource says where a fixture's prices came from: "request" (the
// caller's), "stored" (the store's pre-match prices of a scheduled fixture,
// used when the caller gave none) or "" when it has none.
func MarketSource(f soccer.Fixture) string {
	switch {
	case len(f.Odds) == 0:
		return ""
	case strings.HasPrefix(f.ID, requestPrefix):
		return "request"
	}
	return "stored"
}

// storedPrices are the store's scheduled fixtures with pre-match prices, by
// match ID, as of a matches version.
type storedPrices struct {
	version int64
	byID    map[string]soccer.Fixture
}

// storedWindow is how far back a scheduled fixture still counts: one kicked
// off an hour ago whose result is not in yet is still asked about.
const storedWindow = 7 * 24 * time.Hour

// storedSlack is how far a request's kick-off may be from a stored
// fixture's for it to be that fixture.
const storedSlack = 36 * time.Hour

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

// benchmarkFirst puts the benchmark bookmaker's quote first: it is the one
// the answer shows.
func benchmarkFirst(odds []soccer.Odds) {
	slices.SortStableFunc(odds, func(a, b soccer.Odds) int {
		switch isA, isB := a.Bookmaker == ClosingBookmaker, b.Bookmaker == ClosingBookmaker; {
		case isA == isB:
			return 0
		case isA:
			return -1
		}
		return 1
	})
}

// Fixture resolves a request into a fixture, naming unknown teams. A
// request without odds for a fixture the store has with pre-match prices
// (scheduled, or played on a day the history covers) gets them.
func (p *Predictor) Fixture(ctx context.Context, req FixtureRequest) (soccer.Fixture, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, f := range []struct{ name, value string }{{"competition", req.Competition}, {"home_team", req.HomeTeam}, {"away_team", req.AwayTeam}} {
		if err := checkName(f.name, f.value); err != nil {
			return soccer.Fixture{}, err
		}
	}
	if req.Odds != nil {
		if err := checkName("odds.bookmaker", req.Odds.Bookmaker); err != nil {
			return soccer.Fixture{}, err
		}
	}
	// Names as people write them: any case, competition names as well as
	// codes, team aliases; the fixture carries the canonical names.
	comp, err := p.competition(req.Competition)
	if err != nil {
		return soccer.Fixture{}, err
	}
	known := p.teams[comp]
	teams := [2]string{req.HomeTeam, req.AwayTeam}
	for i, side := range []struct{ field, team string }{{"home_team", req.HomeTeam}, {"away_team", req.AwayTeam}} {
		t, ok := resolveTeam(comp, side.team, known)
		if !ok {
			return soccer.Fixture{}, &fault.Error{Kind: fault.Unprocessable, Title: "unknown team", Field: side.field,
				Message: fmt.Sprintf("unknown team %q in %s", side.team, comp), Suggestions: suggest(comp, side.team, known, 3)}
		}
		teams[i] = t
	}
	req.Competition, req.HomeTeam, req.AwayTeam = comp, teams[0], teams[1]
	if req.HomeTeam == req.AwayTeam {
		return soccer.Fixture{}, fault.Field(fault.Unprocessable, "away_team", "%q cannot play itself", req.AwayTeam)
	}
	kickoff := req.Kickoff
	if kickoff.IsZero() {
		kickoff = time.Now().UTC().Truncate(time.Minute)
	}
	// Before the competition's first stored season there is nothing to
	// forecast from: say so rather than label it with a later season.
	if spans := p.spans[req.Competition]; len(spans) > 0 && seasonYear(kickoff) < seasonYear(spans[0].first) && len(spans[0].season) == 4 {
		return soccer.Fixture{}, fault.Field(fault.Unprocessable, "kickoff", "%s is before %s's first stored season (%s, from %s): there is no history to forecast it from",
			kickoff.UTC().Format(time.RFC3339), req.Competition, spans[0].season, spans[0].first.UTC().Format("2006-01-02"))
	}
	f := soccer.Fixture{Competition: req.Competition, Season: seasonOn(p.spans[req.Competition], kickoff), Kickoff: kickoff.UTC(),
		HomeTeam: req.HomeTeam, AwayTeam: req.AwayTeam}
	f.ID = requestPrefix + strings.ToLower(f.Competition) + "-" + f.HomeTeam + "-v-" + f.AwayTeam + "-" + f.Kickoff.Format("20060102T1504")
	if req.Odds == nil && !req.NoStoredOdds {
		// A fixture the store has scheduled with prices is forecast with
		// them (at its stored kick-off when the caller gave none).
		if sp := p.stored.Load(); sp != nil && len(sp.byID) > 0 {
			if sf, ok := sp.byID[soccer.MatchID(f.Competition, f.Season, f.HomeTeam, f.AwayTeam)]; ok &&
				(req.Kickoff.IsZero() || req.Kickoff.Sub(sf.Kickoff).Abs() <= storedSlack) {
				sf.Odds = slices.Clone(sf.Odds)
				return sf, nil
			}
		}
		// So is a match already played, with the prices published before it.
		if p.history != nil && !req.Kickoff.IsZero() && historical(kickoff, p.lastDay) {
			m, ok, err := p.history.find(ctx, soccer.MatchID(f.Competition, f.Season, f.HomeTeam, f.AwayTeam), kickoff)
			if err != nil {
				// The store could not be read: retry shortly, not a bad fixture.
				return soccer.Fixture{}, fault.Wrap(fault.Unavailable, err, "the store could not be read; retry shortly")
			}
			if sf := m.Fixture(); ok && len(sf.Odds) > 0 {
				benchmarkFirst(sf.Odds)
				return sf, nil
			}
		}
	}
	if req.Odds != nil {
		o := *req.Odds
		if o.Bookmaker == "" {
			o.Bookmaker = ClosingBookmaker // a price without a bookmaker is taken as the benchmark's
		} else if code, ok := resolveBookmaker(o.Bookmaker); ok {
			o.Bookmaker = code
		} else {
			return soccer.Fixture{}, fault.Field(fault.Unprocessable, "odds.bookmaker", "unknown bookmaker %q (known: %s; or leave it out for Pinnacle's)",
				o.Bookmaker, strings.Join(knownBookmakers(), ", "))
		}
		if _, err := o.Implied(); err != nil {
			return soccer.Fixture{}, fault.Field(fault.Unprocessable, "odds", "%v", err)
		}
		o.Closing = false
		f.Odds = []soccer.Odds{o}
	}
	return f, nil
}

// Competition is the canonical code of a competition as people write it
// (any case, its name as well as its code), as predictions resolve it; an
// unknown one is a fault.Unprocessable error naming the known codes.
func (p *Predictor) Competition(name string) (string, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.competition(name)
}

// competition is Competition with p.mu held.
func (p *Predictor) competition(name string) (string, error) {
	if _, exact := p.teams[name]; exact {
		return name, nil
	}
	codes := make([]string, 0, len(p.teams))
	for c := range p.teams {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	comp, ok := resolveCompetition(name, func(c string) bool { _, k := p.teams[c]; return k }, codes)
	if !ok {
		return "", fault.Field(fault.Unprocessable, "competition", "unknown competition %q (known: %s)", name, strings.Join(codes, ", "))
	}
	return comp, nil
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

// Ready reports whether the predictor can serve: champion loaded, both
// plugins answering (relaunching them if needed) and the store reachable.
func (p *Predictor) Ready(ctx context.Context) error {
	g, err := p.acquire()
	if err != nil {
		return err
	}
	defer g.mu.RUnlock()
	if _, err := pluginhost.FeaturesOf(p.features).Schema(ctx); err != nil {
		return fmt.Errorf("feature plugin: %w", err)
	}
	if _, err := pluginhost.ModelOf(g.model).Describe(ctx); err != nil {
		return fmt.Errorf("model plugin: %w", err)
	}
	return p.store.Ping(ctx)
}
