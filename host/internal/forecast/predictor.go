package forecast

import (
	"context"
	"fmt"
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
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

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

// Batch sets how concurrent predictions are coalesced; set it before Start.
func (p *Predictor) Batch(b Batching) { p.batching = b }

// CacheEntries bounds each generation's prediction cache; 0 turns it off.
// Set it before Start.
func (p *Predictor) CacheEntries(n int) { p.cacheEntries = n }

// Observe sends the predictor's counts to m; set it before Start.
func (p *Predictor) Observe(m Metrics) { p.metrics = m }

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

// Shadow reports the shadow version and its counts.
func (p *Predictor) Shadow() ShadowStats { return p.shadow.stats() }

// Record sends every forecast the predictor serves to r; set it before Start.
func (p *Predictor) Record(r Recorder) { p.recorder = r }

func (p *Predictor) record(ctx context.Context, preds []Prediction) {
	if p.recorder != nil && len(preds) > 0 {
		o := OriginOf(ctx)
		p.recorder.Record(o, preds)
		p.shadow.offer(o, preds)
	}
}
