package forecast

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/handshake"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Errors a caller maps to responses.
var (
	// ErrBadFixture: the request names something that does not exist.
	ErrBadFixture = errors.New("bad fixture")
	// ErrUnavailable: a plugin process is down or restarting; retry shortly.
	ErrUnavailable = errors.New("prediction temporarily unavailable")
	// ErrMisbehaved: a plugin answered something invalid; never passed on.
	ErrMisbehaved = errors.New("a plugin answered an invalid result")
	// ErrNotReady: no champion is loaded.
	ErrNotReady = errors.New("not ready")
)

// UnknownTeamError names a team the store has never seen, with the closest known names.
type UnknownTeamError struct {
	Field       string
	Team        string
	Competition string
	Suggestions []string
}

func (e *UnknownTeamError) Error() string {
	msg := fmt.Sprintf("%s: unknown team %q in %s", e.Field, e.Team, e.Competition)
	if len(e.Suggestions) > 0 {
		msg += "; did you mean " + strings.Join(quote(e.Suggestions), ", ") + "?"
	}
	return msg
}

func (e *UnknownTeamError) Unwrap() error { return ErrBadFixture }

func quote(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// Prediction is a forecast for one fixture and what made it.
type Prediction struct {
	Fixture              soccer.Fixture
	Probabilities        soccer.Probabilities
	Model                string
	ModelVersion         int
	FeatureSchemaVersion string
	// PointInTime is true for a past match forecast from the features it had
	// before kick-off.
	PointInTime bool
	Match       *soccer.Match
}

// Predictor serves the champion model through the feature and model plugins.
type Predictor struct {
	store    store.Store
	features *pluginhost.Plugin
	model    *pluginhost.Plugin
	logger   hclog.Logger
	// Recent is how many past matches per competition keep their
	// point-in-time features for GET /v1/fixtures.
	recent int

	mu       sync.RWMutex
	schema   features.Schema
	champion store.ModelVersion
	snapshot []byte
	teams    map[string][]string // competition -> sorted team names
	seasons  map[string]string   // competition -> latest season
	past     map[string][]replay.Example
	loaded   bool
}

// NewPredictor wires a predictor to its plugins. Start loads it.
func NewPredictor(st store.Store, featurePlugin, modelPlugin *pluginhost.Plugin, logger hclog.Logger) *Predictor {
	p := &Predictor{store: st, features: featurePlugin, model: modelPlugin, logger: logger, recent: 40}
	// A relaunched plugin process starts empty: give it back its state.
	featurePlugin.OnLaunch(func(ctx context.Context, client any) error {
		p.mu.RLock()
		snap := p.snapshot
		p.mu.RUnlock()
		if snap == nil {
			return nil
		}
		return client.(features.FeatureSet).Restore(ctx, snap)
	})
	modelPlugin.OnLaunch(func(ctx context.Context, client any) error {
		p.mu.RLock()
		champ, loaded := p.champion, p.loaded
		p.mu.RUnlock()
		if !loaded {
			return nil
		}
		return client.(model.Model).Load(ctx, model.LoadRequest{Artifact: champ.Artifact, Signature: champ.Signature})
	})
	return p
}

// Start loads the champion, refusing one whose signature does not equal the
// feature schema, and replays history so the features stand at the present.
func (p *Predictor) Start(ctx context.Context) error {
	fs, m := pluginhost.FeaturesOf(p.features), pluginhost.ModelOf(p.model)
	// Replay needs an empty feature state: start from a fresh process.
	p.features.Kill()
	champ, err := p.store.Alias(ctx, "champion")
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: no champion model; train one with `soccerpredict models train --alias champion`", ErrNotReady)
	}
	if err != nil {
		return err
	}
	schema, err := fs.Schema(ctx)
	if err != nil {
		return err
	}
	if err := champ.Signature.CheckInputs(schema.Columns); err != nil {
		return fmt.Errorf("refusing champion %s v%d: %w", champ.Name, champ.Version, err)
	}
	if champ.FeatureSchemaVersion != schema.Version {
		return fmt.Errorf("refusing champion %s v%d: trained on feature schema %s, the feature plugin serves %s",
			champ.Name, champ.Version, champ.FeatureSchemaVersion, schema.Version)
	}
	if err := m.Load(ctx, model.LoadRequest{Artifact: champ.Artifact, Signature: champ.Signature}); err != nil {
		return fmt.Errorf("load champion %s v%d: %w", champ.Name, champ.Version, err)
	}
	matches, err := p.store.Matches(ctx, store.MatchQuery{Status: soccer.Finished})
	if err != nil {
		return err
	}
	started := time.Now()
	examples, err := replay.Replay(ctx, fs, matches, nil)
	if err != nil {
		return err
	}
	snap, err := fs.Snapshot(ctx)
	if err != nil {
		return err
	}
	teams, seasons, past := map[string][]string{}, map[string]string{}, map[string][]replay.Example{}
	for _, e := range examples {
		c := e.Match.Competition
		for _, t := range []string{e.Match.HomeTeam, e.Match.AwayTeam} {
			if !slices.Contains(teams[c], t) {
				teams[c] = append(teams[c], t)
			}
		}
		if e.Match.Season > seasons[c] {
			seasons[c] = e.Match.Season
		}
		past[c] = append(past[c], e)
		if len(past[c]) > 2*p.recent {
			past[c] = slices.Clone(past[c][len(past[c])-p.recent:])
		}
	}
	for c := range teams {
		sort.Strings(teams[c])
		if len(past[c]) > p.recent {
			past[c] = past[c][len(past[c])-p.recent:]
		}
	}
	p.mu.Lock()
	p.schema, p.champion, p.snapshot, p.teams, p.seasons, p.past, p.loaded = schema, champ, snap, teams, seasons, past, true
	p.mu.Unlock()
	p.logger.Info("champion loaded", "model", champ.Name, "version", champ.Version, "schema", schema.Version,
		"matches_replayed", len(examples), "replay", time.Since(started).Round(time.Millisecond))
	return nil
}

// Champion is the loaded model version (without its artifact).
func (p *Predictor) Champion() (store.ModelVersion, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	c := p.champion
	c.Artifact = nil
	return c, p.loaded
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

// FixtureRequest is what a caller asks to forecast.
type FixtureRequest struct {
	HomeTeam    string
	AwayTeam    string
	Competition string
	Kickoff     time.Time // zero: now
	Odds        *soccer.Odds
	Field       string // where the request came from, for error messages ("fixtures[2]")
}

// Fixture resolves a request into a fixture, naming unknown teams.
func (p *Predictor) Fixture(req FixtureRequest) (soccer.Fixture, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	prefix := req.Field
	if prefix != "" {
		prefix += "."
	}
	known, ok := p.teams[req.Competition]
	if !ok {
		comps := make([]string, 0, len(p.teams))
		for c := range p.teams {
			comps = append(comps, c)
		}
		sort.Strings(comps)
		return soccer.Fixture{}, fmt.Errorf("%w: %scompetition: unknown competition %q (known: %s)", ErrBadFixture, prefix, req.Competition, strings.Join(comps, ", "))
	}
	for _, side := range []struct{ field, team string }{{"home_team", req.HomeTeam}, {"away_team", req.AwayTeam}} {
		if !slices.Contains(known, side.team) {
			return soccer.Fixture{}, &UnknownTeamError{Field: prefix + side.field, Team: side.team, Competition: req.Competition, Suggestions: Closest(side.team, known, 3)}
		}
	}
	if req.HomeTeam == req.AwayTeam {
		return soccer.Fixture{}, fmt.Errorf("%w: %saway_team: %q cannot play itself", ErrBadFixture, prefix, req.AwayTeam)
	}
	kickoff := req.Kickoff
	if kickoff.IsZero() {
		kickoff = time.Now().UTC().Truncate(time.Minute)
	}
	f := soccer.Fixture{Competition: req.Competition, Season: p.seasons[req.Competition], Kickoff: kickoff.UTC(),
		HomeTeam: req.HomeTeam, AwayTeam: req.AwayTeam}
	f.ID = fmt.Sprintf("request-%s-%s-v-%s-%s", strings.ToLower(f.Competition), f.HomeTeam, f.AwayTeam, f.Kickoff.Format("20060102T1504"))
	if req.Odds != nil {
		o := *req.Odds
		if o.Bookmaker == "" {
			o.Bookmaker = "PS"
		}
		if _, err := o.Implied(); err != nil {
			return soccer.Fixture{}, fmt.Errorf("%w: %sodds: %v", ErrBadFixture, prefix, err)
		}
		o.Closing = false
		f.Odds = []soccer.Odds{o}
	}
	return f, nil
}

// Predict forecasts fixtures from the present feature state.
func (p *Predictor) Predict(ctx context.Context, fixtures []soccer.Fixture) ([]Prediction, error) {
	p.mu.RLock()
	schema, champ, loaded := p.schema, p.champion, p.loaded
	p.mu.RUnlock()
	if !loaded {
		return nil, ErrNotReady
	}
	resp, err := pluginhost.FeaturesOf(p.features).Compute(ctx, features.ComputeRequest{Fixtures: fixtures})
	if err != nil {
		return nil, p.pluginError("feature", err)
	}
	if err := replay.CheckRows(schema, fixtures, resp.Rows); err != nil {
		p.logger.Error("feature plugin answered invalid rows; not serving them", "error", err)
		return nil, fmt.Errorf("%w: %v", ErrMisbehaved, err)
	}
	rows := make([][]float64, len(resp.Rows))
	for i, r := range resp.Rows {
		rows[i] = r.Values
	}
	return p.predictRows(ctx, champ, schema, fixtures, rows)
}

func (p *Predictor) predictRows(ctx context.Context, champ store.ModelVersion, schema features.Schema, fixtures []soccer.Fixture, rows [][]float64) ([]Prediction, error) {
	pred, err := pluginhost.ModelOf(p.model).Predict(ctx, model.PredictRequest{Rows: rows})
	if err != nil {
		return nil, p.pluginError("model", err)
	}
	out := make([]Prediction, len(fixtures))
	for i, f := range fixtures {
		if i >= len(pred.Probabilities) {
			return nil, fmt.Errorf("%w: %d forecasts for %d fixtures", ErrMisbehaved, len(pred.Probabilities), len(fixtures))
		}
		pr := pred.Probabilities[i]
		if err := pr.Validate(); err != nil {
			p.logger.Error("model plugin answered invalid probabilities; not serving them",
				"model", champ.Name, "version", champ.Version, "fixture", f.ID, "error", err)
			return nil, fmt.Errorf("%w: model %s v%d: %v", ErrMisbehaved, champ.Name, champ.Version, err)
		}
		out[i] = Prediction{Fixture: f, Probabilities: pr, Model: champ.Name, ModelVersion: champ.Version, FeatureSchemaVersion: schema.Version}
	}
	return out, nil
}

func (p *Predictor) pluginError(kind string, err error) error {
	if handshake.IsUnavailable(err) || errors.Is(err, pluginhost.ErrLaunch) {
		p.logger.Warn(kind+" plugin unavailable", "error", err)
		return fmt.Errorf("%w: %s plugin: %v", ErrUnavailable, kind, err)
	}
	return fmt.Errorf("%s plugin: %w", kind, err)
}

// Recent forecasts the competition's last matches from the features they had
// before kick-off, newest first.
func (p *Predictor) Recent(ctx context.Context, competition string, limit int) ([]Prediction, error) {
	p.mu.RLock()
	past, ok := p.past[competition]
	schema, champ := p.schema, p.champion
	p.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: competition: unknown competition %q (known: %s)", ErrBadFixture, competition, strings.Join(p.Competitions(), ", "))
	}
	if limit > 0 && len(past) > limit {
		past = past[len(past)-limit:]
	}
	fixtures := make([]soccer.Fixture, len(past))
	rows := make([][]float64, len(past))
	for i, e := range past {
		fixtures[i], rows[i] = e.Match.Fixture(), e.Values
	}
	out, err := p.predictRows(ctx, champ, schema, fixtures, rows)
	if err != nil {
		return nil, err
	}
	for i := range out {
		m := past[i].Match
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
	if _, loaded := p.Champion(); !loaded {
		return ErrNotReady
	}
	if _, err := pluginhost.FeaturesOf(p.features).Schema(ctx); err != nil {
		return fmt.Errorf("feature plugin: %w", err)
	}
	if _, err := pluginhost.ModelOf(p.model).Describe(ctx); err != nil {
		return fmt.Errorf("model plugin: %w", err)
	}
	return p.store.Ping(ctx)
}

// Closest returns up to n known names nearest to name (case-insensitive edit
// distance, ties alphabetical), for "did you mean".
func Closest(name string, known []string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	cs := make([]cand, len(known))
	for i, k := range known {
		q, c := strings.ToLower(name), strings.ToLower(k)
		d := distance(q, c)
		switch {
		case strings.Contains(c, q) || strings.Contains(q, c):
			d = min(d, 1)
		case subsequence(q, c): // abbreviations: "man utd" in "man united"
			d--
		}
		cs[i] = cand{k, d}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for _, c := range cs[:min(n, len(cs))] {
		out = append(out, c.name)
	}
	return out
}

func subsequence(q, s string) bool {
	i := 0
	for _, r := range s {
		if i < len(q) && rune(q[i]) == r {
			i++
		}
	}
	return i == len(q)
}

func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
