// Package ratings is a feature plugin: an online state machine of team
// ratings over completed matches, the features the football forecasting
// literature supports:
//
//   - Elo ratings with home advantage and a goal-margin multiplier (the World
//     Football Elo form), regressed toward the mean between seasons;
//   - goals-based attack and defence strengths, exponentially weighted, and
//     the expected goals they imply against the opponent;
//   - recent form: points and goal difference over the last N matches;
//   - rest days since each team's previous match;
//   - the de-margined market probabilities from pre-match (never closing)
//     odds, also as log-odds against the draw, with an indicator; when
//     absent, Elo's forecast stands in.
//
// Start with New (settings), Schema (the columns) and Observe/Compute.
package ratings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// SchemaVersion changes whenever the meaning or order of the columns does.
const SchemaVersion = "ratings-4"

// ratingColumns are the columns from the ratings themselves (not the market).
var ratingColumns = []string{
	"elo_diff", "elo_expected_home",
	"home_attack", "home_defence", "away_attack", "away_defence",
	"home_expected_goals", "away_expected_goals",
	"home_form_points", "away_form_points", "home_form_goal_diff", "away_form_goal_diff",
	"home_rest_days", "away_rest_days",
	"competition_draw_rate", "home_draw_rate", "away_draw_rate",
}

// Columns are the features, in row order: the rating columns (zero when the
// fixture has a price), the market (zero when it has none), "unpriced" (1
// when it has none), then "p_" copies of the rating columns that are
// non-zero only when it has one. A row is thus in one of two regimes, each
// with its own columns: a linear model is two models, one correcting the
// market and one on the ratings alone, each regularised on its own.
var Columns = func() []string {
	out := append(slices.Clone(ratingColumns), "market_home", "market_draw", "market_away", "market_available",
		"market_log_home_draw", "market_log_away_draw", "unpriced")
	for _, c := range ratingColumns {
		out = append(out, "p_"+c)
	}
	return out
}()

// Settings are the plugin's `config` block in host configuration.
type Settings struct {
	EloK             float64 `json:"elo_k"`              // update size (default 20)
	EloHomeAdvantage float64 `json:"elo_home_advantage"` // Elo points (default 60)
	// EloSeasonRegression pulls ratings this fraction of the way back to
	// the mean at a team's first match of a new season (default 0.2).
	EloSeasonRegression float64 `json:"elo_season_regression"`
	// StrengthHalfLife is the half-life, in matches, of attack/defence (default 10).
	StrengthHalfLife float64 `json:"strength_half_life"`
	FormMatches      int     `json:"form_matches"` // default 5
	// Bookmakers are tried in order for pre-match market probabilities.
	Bookmakers []string `json:"bookmakers"`
}

const (
	initialElo      = 1500.0
	initialGoals    = 1.35
	maxRestDays     = 21.0
	defaultRestDays = 7.0
	baseRateAlpha   = 0.005
)

// Ratings is the feature set.
type Ratings struct {
	s     Settings
	alpha float64

	mu sync.RWMutex
	st state
}

type state struct {
	Version int                  `json:"version"`
	Last    time.Time            `json:"last"`
	Teams   map[string]*team     `json:"teams"`
	Comps   map[string]*compStat `json:"competitions"`
}

type team struct {
	Competition string  `json:"competition"`
	Season      string  `json:"season"`
	Elo         float64 `json:"elo"`
	Attack      float64 `json:"attack"`
	Defence     float64 `json:"defence"`
	// Draws is the exponentially weighted share of its matches drawn.
	Draws  float64   `json:"draws"`
	Recent []outcome `json:"recent"`
	Last   time.Time `json:"last"`
}

type outcome struct {
	Points   int `json:"points"`
	GoalDiff int `json:"goal_diff"`
}

type compStat struct {
	Home, Draw, Away float64 // running base rates
	Goals            float64 // running goals per team per match
}

// New builds the feature set from its settings.
func New(_ context.Context, env plugin.Env) (features.FeatureSet, error) {
	s := Settings{EloK: 20, EloHomeAdvantage: 60, EloSeasonRegression: 0.2, StrengthHalfLife: 10, FormMatches: 5,
		Bookmakers: []string{"PS", "Avg", "B365", "BW", "IW", "WH", "VC", "BbAv", "Max"}}
	if err := env.Settings.Decode(&s); err != nil {
		return nil, err
	}
	switch {
	case s.EloK <= 0 || s.StrengthHalfLife <= 0 || s.FormMatches <= 0:
		return nil, errors.New("ratings: elo_k, strength_half_life and form_matches must be positive")
	case s.EloSeasonRegression < 0 || s.EloSeasonRegression > 1:
		return nil, errors.New("ratings: elo_season_regression must be in [0, 1]")
	case len(s.Bookmakers) == 0:
		return nil, errors.New("ratings: bookmakers must name at least one bookmaker")
	}
	return &Ratings{s: s, alpha: 1 - math.Pow(0.5, 1/s.StrengthHalfLife), st: newState()}, nil
}

func newState() state {
	return state{Version: 1, Teams: map[string]*team{}, Comps: map[string]*compStat{}}
}

// Schema implements features.FeatureSet.
func (r *Ratings) Schema(context.Context) (features.Schema, error) {
	cols := make([]soccer.Column, len(Columns))
	for i, c := range Columns {
		cols[i] = soccer.Column{Name: c, Type: "double"}
	}
	return features.Schema{Version: SchemaVersion, Columns: cols}, nil
}

// Observe implements features.FeatureSet. The whole request is checked
// before any of it is applied, so a rejected request changes nothing.
func (r *Ratings) Observe(ctx context.Context, req features.ObserveRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := r.st.Last
	for _, m := range req.Matches {
		switch {
		case m.Kickoff.Before(last):
			return fmt.Errorf("ratings: match %s kicks off at %s, before %s already observed: observe in kick-off order",
				m.ID, m.Kickoff.Format(time.RFC3339), last.Format(time.RFC3339))
		case m.Status != soccer.Finished:
			return fmt.Errorf("ratings: match %s is %s, only finished matches can be observed", m.ID, m.Status)
		case m.HomeTeam == "" || m.AwayTeam == "" || m.HomeTeam == m.AwayTeam:
			return fmt.Errorf("ratings: match %s has teams %q and %q", m.ID, m.HomeTeam, m.AwayTeam)
		}
		last = m.Kickoff
	}
	for _, m := range req.Matches {
		r.observe(m)
	}
	r.st.Last = last
	return ctx.Err()
}

func (r *Ratings) observe(m soccer.Match) {
	comp := r.comp(m.Competition)
	h, a := r.teamFor(m.HomeTeam, m), r.teamFor(m.AwayTeam, m)
	for _, t := range []*team{h, a} {
		t.Elo = r.eloFor(t, m.Season)
		t.Season, t.Competition = m.Season, m.Competition
	}

	// Elo with the goal-margin multiplier.
	exp := expected(h.Elo + r.s.EloHomeAdvantage - a.Elo)
	score := map[soccer.Result]float64{soccer.HomeWin: 1, soccer.Draw: 0.5, soccer.AwayWin: 0}[m.Result]
	delta := r.s.EloK * marginMultiplier(m.HomeGoals-m.AwayGoals) * (score - exp)
	h.Elo += delta
	a.Elo -= delta

	// Exponentially weighted goals for and against.
	hg, ag := float64(m.HomeGoals), float64(m.AwayGoals)
	h.Attack += r.alpha * (hg - h.Attack)
	h.Defence += r.alpha * (ag - h.Defence)
	a.Attack += r.alpha * (ag - a.Attack)
	a.Defence += r.alpha * (hg - a.Defence)
	drawn := 0.0
	if m.Result == soccer.Draw {
		drawn = 1
	}
	h.Draws += r.alpha * (drawn - h.Draws)
	a.Draws += r.alpha * (drawn - a.Draws)

	hp, ap := points(m.Result)
	h.Recent = lastN(append(h.Recent, outcome{hp, m.HomeGoals - m.AwayGoals}), r.s.FormMatches)
	a.Recent = lastN(append(a.Recent, outcome{ap, m.AwayGoals - m.HomeGoals}), r.s.FormMatches)
	h.Last, a.Last = m.Kickoff, m.Kickoff

	y := [3]float64{}
	y[map[soccer.Result]int{soccer.HomeWin: 0, soccer.Draw: 1, soccer.AwayWin: 2}[m.Result]] = 1
	comp.Home += baseRateAlpha * (y[0] - comp.Home)
	comp.Draw += baseRateAlpha * (y[1] - comp.Draw)
	comp.Away += baseRateAlpha * (y[2] - comp.Away)
	comp.Goals += baseRateAlpha * ((hg+ag)/2 - comp.Goals)
}

func (r *Ratings) comp(code string) *compStat {
	c, ok := r.st.Comps[code]
	if !ok {
		c = &compStat{Home: 0.45, Draw: 0.26, Away: 0.29, Goals: initialGoals}
		r.st.Comps[code] = c
	}
	return c
}

// teamFor returns a team's state, creating a newcomer: a team joining a
// competition with history starts below its average, as promoted teams do.
func (r *Ratings) teamFor(name string, m soccer.Match) *team {
	if t, ok := r.st.Teams[name]; ok {
		return t
	}
	t := r.newcomer(m.Competition)
	r.st.Teams[name] = &t
	return &t
}

func (r *Ratings) newcomer(competition string) team {
	elo := initialElo
	var sum float64
	n := 0
	names := make([]string, 0, len(r.st.Teams))
	for name := range r.st.Teams {
		names = append(names, name)
	}
	sort.Strings(names) // fixed summation order: features are bit-for-bit reproducible
	for _, name := range names {
		if t := r.st.Teams[name]; t.Competition == competition {
			sum += t.Elo
			n++
		}
	}
	if n >= 10 {
		elo = sum/float64(n) - 80
	}
	goals, draws := initialGoals, 0.26
	if c, ok := r.st.Comps[competition]; ok {
		goals, draws = c.Goals, c.Draw
	}
	return team{Competition: competition, Elo: elo, Attack: goals, Defence: goals, Draws: draws}
}

// eloFor is the team's rating for a match in season: regressed toward the
// mean at the first match of a new season. Compute uses it without changing
// the state, so features match what Observe will do.
func (r *Ratings) eloFor(t *team, season string) float64 {
	if t.Season != "" && t.Season != season {
		return t.Elo + r.s.EloSeasonRegression*(initialElo-t.Elo)
	}
	return t.Elo
}

// Compute implements features.FeatureSet; it does not change the state.
func (r *Ratings) Compute(ctx context.Context, req features.ComputeRequest) (features.ComputeResponse, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	resp := features.ComputeResponse{Rows: make([]features.Row, len(req.Fixtures))}
	for i, f := range req.Fixtures {
		if f.HomeTeam == "" || f.AwayTeam == "" || f.HomeTeam == f.AwayTeam {
			return features.ComputeResponse{}, fmt.Errorf("ratings: fixture %s has teams %q and %q", f.ID, f.HomeTeam, f.AwayTeam)
		}
		resp.Rows[i] = features.Row{FixtureID: f.ID, Values: r.row(f)}
	}
	return resp, ctx.Err()
}

func (r *Ratings) row(f soccer.Fixture) []float64 {
	h, okH := r.st.Teams[f.HomeTeam]
	if !okH {
		t := r.newcomer(f.Competition)
		h = &t
	}
	a, okA := r.st.Teams[f.AwayTeam]
	if !okA {
		t := r.newcomer(f.Competition)
		a = &t
	}
	diff := r.eloFor(h, f.Season) + r.s.EloHomeAdvantage - r.eloFor(a, f.Season)
	comp := compStat{Home: 0.45, Draw: 0.26, Away: 0.29, Goals: initialGoals}
	if c, ok := r.st.Comps[f.Competition]; ok {
		comp = *c
	}
	avg := math.Max(comp.Goals, 0.1)
	hf, hgd := form(h.Recent, comp)
	af, agd := form(a.Recent, comp)
	var mh, md, ma, avail float64
	for _, bm := range r.s.Bookmakers {
		if o, ok := f.OddsOf(bm); ok {
			if p, err := o.Implied(); err == nil {
				mh, md, ma, avail = p.Home, p.Draw, p.Away, 1
				break
			}
		}
	}
	v := []float64{
		diff / 100, expected(diff),
		h.Attack, h.Defence, a.Attack, a.Defence,
		h.Attack * a.Defence / avg, a.Attack * h.Defence / avg,
		hf, af, hgd, agd,
		rest(h, f.Kickoff), rest(a, f.Kickoff),
		comp.Draw, h.Draws, a.Draws,
		mh, md, ma, avail,
		// The market as de-margined log-odds against the draw: a multinomial
		// logistic model reproduces the price exactly with weight 1 on
		// these, so it starts from the market and learns only corrections.
		logRatio(mh, md), logRatio(ma, md), 1 - avail,
	}
	for j := range ratingColumns {
		v = append(v, v[j]*avail)
		v[j] *= 1 - avail
	}
	return v
}

// logRatio is log(p/q), 0 when there is no price (both 0).
func logRatio(p, q float64) float64 {
	if q == 0 {
		return 0
	}
	return math.Log(p / q)
}

func form(recent []outcome, c compStat) (float64, float64) {
	if len(recent) == 0 {
		return 3*c.Home*0.5 + 3*c.Away*0.5 + c.Draw, 0 // an average team's points per match
	}
	var p, gd float64
	for _, o := range recent {
		p += float64(o.Points)
		gd += float64(o.GoalDiff)
	}
	n := float64(len(recent))
	return p / n, gd / n
}

func rest(t *team, kickoff time.Time) float64 {
	if t.Last.IsZero() {
		return defaultRestDays
	}
	d := kickoff.Sub(t.Last).Hours() / 24
	return math.Max(0, math.Min(d, maxRestDays))
}

func expected(diff float64) float64 { return 1 / (1 + math.Pow(10, -diff/400)) }

// marginMultiplier is World Football Elo's goal-margin index.
func marginMultiplier(gd int) float64 {
	n := math.Abs(float64(gd))
	switch {
	case n <= 1:
		return 1
	case n == 2:
		return 1.5
	}
	return (11 + n) / 8
}

func points(r soccer.Result) (int, int) {
	switch r {
	case soccer.HomeWin:
		return 3, 0
	case soccer.AwayWin:
		return 0, 3
	}
	return 1, 1
}

func lastN(os []outcome, n int) []outcome {
	if len(os) > n {
		return slices.Clone(os[len(os)-n:])
	}
	return os
}

// Snapshot implements features.FeatureSet.
func (r *Ratings) Snapshot(context.Context) ([]byte, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return json.Marshal(r.st)
}

// Restore implements features.FeatureSet.
func (r *Ratings) Restore(_ context.Context, b []byte) error {
	st := newState()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("ratings: not a ratings snapshot: %w", err)
	}
	if st.Version != 1 || st.Teams == nil || st.Comps == nil {
		return fmt.Errorf("ratings: snapshot version %d is not one this plugin reads (1)", st.Version)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st = st
	return nil
}
