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
//   - GAP ratings (Wheatcroft) from shots and shots on target: what each
//     team makes and allows at home and away, and the shots they imply for
//     the fixture;
//   - price ratings: each team's strength and draw propensity as the
//     prices of its past matches put them, and the 1X2 probabilities they
//     imply for the fixture (known before it, so not its own price);
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
const SchemaVersion = "ratings-5"

// stateVersion is the snapshot format's version (2 added the price
// ratings, 3 the GAP ratings).
const stateVersion = 3

// ratingColumns are the columns from the ratings themselves (not the market).
var ratingColumns = []string{
	"elo_diff", "elo_expected_home",
	"home_attack", "home_defence", "away_attack", "away_defence",
	"home_expected_goals", "away_expected_goals",
	"home_form_points", "away_form_points", "home_form_goal_diff", "away_form_goal_diff",
	"home_rest_days", "away_rest_days",
	"competition_draw_rate", "home_draw_rate", "away_draw_rate",
	"price_rating_diff", "price_draw_rate", "price_log_home_draw", "price_log_away_draw",
	"home_expected_shots_on_target", "away_expected_shots_on_target", "home_expected_shots", "away_expected_shots",
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
	// PriceRatingRate is how far a team's price rating moves toward what the
	// prices of its latest match said (default 0.2).
	PriceRatingRate float64 `json:"price_rating_rate"`
	// PriceDrawRate is how far a team's draw offset in the prices moves
	// toward its latest match's (default 0.05).
	PriceDrawRate float64 `json:"price_draw_rate"`
	// ShotRate is the GAP ratings' learning rate λ: the share of a
	// match's error in shots (on target) a team's rating takes (default 0.2).
	ShotRate float64 `json:"shot_rate"`
	// ShotVenueWeight is φ: how much a match at one venue moves the
	// team's ratings for the other (default 0.5).
	ShotVenueWeight float64 `json:"shot_venue_weight"`
}

const (
	initialElo      = 1500.0
	initialGoals    = 1.35
	maxRestDays     = 21.0
	defaultRestDays = 7.0
	baseRateAlpha   = 0.005
	// newcomerPrice is how far below its competition's average a team new
	// to it starts, in price-rating units (promoted teams start weaker).
	newcomerPrice = 0.3
	// initialPriceHome is log(0.45/0.29), the usual home advantage.
	initialPriceHome = 0.44
	// priceCurveRate is how fast a competition's draw curve follows its prices.
	priceCurveRate = 0.01
)

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

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
	// Price is the team's strength as the prices of its past matches put
	// it, in units of log(p_home/p_away); PriceDraw how much likelier a
	// draw those prices made its matches than the competition's curve
	// says, in log-odds. Prices of a match are known before it kicks off,
	// so they say nothing of the fixture to forecast, only of the teams' past.
	Price     float64 `json:"price"`
	PriceDraw float64 `json:"price_draw"`
	// Shots are GAP ratings (Wheatcroft): for shots on target and shots,
	// what the team makes and allows at home and away.
	Shots [numShotStats]gap `json:"shots"`
}

// gap are one statistic's ratings of a team: attacking and defensive, at
// home and away.
type gap struct {
	HomeAttack  float64 `json:"home_attack"`
	HomeDefence float64 `json:"home_defence"`
	AwayAttack  float64 `json:"away_attack"`
	AwayDefence float64 `json:"away_defence"`
}

// numShotStats are the statistics with GAP ratings: shots on target, shots.
const numShotStats = 2

func shotStats(s soccer.Stats) [numShotStats]soccer.Count {
	return [numShotStats]soccer.Count{s.ShotsOnTarget, s.Shots}
}

type outcome struct {
	Points   int `json:"points"`
	GoalDiff int `json:"goal_diff"`
}

type compStat struct {
	Home, Draw, Away float64 // running base rates
	Goals            float64 // running goals per team per match
	// PriceHome is the home advantage in the prices, as log(p_home/p_away).
	PriceHome float64
	// PriceDrawBase − PriceDrawCurve × supremacy² is the draw's log-odds
	// in the competition's prices for teams that far apart.
	PriceDrawBase, PriceDrawCurve float64
	// PriceMatches counts the competition's matches with a price.
	PriceMatches float64
	// ShotsHome and ShotsAway are running means of each shot statistic per
	// side: where a newcomer's ratings start.
	ShotsHome, ShotsAway [numShotStats]float64
}

// initialShotsHome and initialShotsAway are typical shots on target and
// shots per match of a home and an away side.
var initialShotsHome, initialShotsAway = [numShotStats]float64{4.8, 13.5}, [numShotStats]float64{3.9, 11}

// New builds the feature set from its settings.
func New(_ context.Context, env plugin.Env) (features.FeatureSet, error) {
	s := Settings{EloK: 20, EloHomeAdvantage: 60, EloSeasonRegression: 0.2, StrengthHalfLife: 10, FormMatches: 5, PriceRatingRate: 0.2, PriceDrawRate: 0.05, ShotRate: 0.2, ShotVenueWeight: 0.5,
		Bookmakers: []string{"PS", "Avg", "B365", "BW", "IW", "WH", "VC", "BbAv", "Max"}}
	if err := env.Settings.Decode(&s); err != nil {
		return nil, err
	}
	switch {
	case s.EloK <= 0 || s.StrengthHalfLife <= 0 || s.FormMatches <= 0:
		return nil, errors.New("ratings: elo_k, strength_half_life and form_matches must be positive")
	case s.EloSeasonRegression < 0 || s.EloSeasonRegression > 1:
		return nil, errors.New("ratings: elo_season_regression must be in [0, 1]")
	case !(s.PriceRatingRate > 0 && s.PriceRatingRate <= 1) || !(s.PriceDrawRate > 0 && s.PriceDrawRate <= 1):
		return nil, errors.New("ratings: price_rating_rate and price_draw_rate must be in (0, 1]")
	case !(s.ShotRate > 0 && s.ShotRate <= 1) || !(s.ShotVenueWeight >= 0 && s.ShotVenueWeight <= 1):
		return nil, errors.New("ratings: shot_rate must be in (0, 1] and shot_venue_weight in [0, 1]")
	case len(s.Bookmakers) == 0:
		return nil, errors.New("ratings: bookmakers must name at least one bookmaker")
	}
	return &Ratings{s: s, alpha: 1 - math.Pow(0.5, 1/s.StrengthHalfLife), st: newState()}, nil
}

func newState() state {
	return state{Version: stateVersion, Teams: map[string]*team{}, Comps: map[string]*compStat{}}
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

	if p, ok := r.price(m); ok {
		ph, pd, pa := math.Max(p.Home, 1e-6), math.Min(math.Max(p.Draw, 1e-6), 1-1e-6), math.Max(p.Away, 1e-6)
		sup := h.Price - a.Price + comp.PriceHome
		err := math.Log(ph/pa) - sup
		h.Price += r.s.PriceRatingRate * err / 2
		a.Price -= r.s.PriceRatingRate * err / 2
		// A competition's own figures start as running means over its
		// first priced matches, then follow it slowly: a new league's home
		// advantage and draws are its own within weeks.
		comp.PriceMatches++
		homeRate, curveRate := math.Max(baseRateAlpha, 1/(comp.PriceMatches+20)), math.Max(priceCurveRate, 1/(comp.PriceMatches+20))
		comp.PriceHome += homeRate * err
		// The draw's log-odds in the prices: the competition's curve in
		// the supremacy (even teams draw more) plus the teams' offsets.
		curve := comp.PriceDrawBase - comp.PriceDrawCurve*sup*sup
		drawErr := logit(pd) - curve - (h.PriceDraw+a.PriceDraw)/2
		h.PriceDraw += r.s.PriceDrawRate * drawErr
		a.PriceDraw += r.s.PriceDrawRate * drawErr
		rest := logit(pd) - curve - (h.PriceDraw+a.PriceDraw)/2
		comp.PriceDrawBase += curveRate * rest
		comp.PriceDrawCurve = math.Max(0, comp.PriceDrawCurve-curveRate*rest*sup*sup)
	}

	sh := shotStats(m.Stats)
	for k, c := range sh {
		if !c.Known {
			continue
		}
		hr, ar := &h.Shots[k], &a.Shots[k]
		eh := float64(c.Home) - (hr.HomeAttack+ar.AwayDefence)/2
		ea := float64(c.Away) - (ar.AwayAttack+hr.HomeDefence)/2
		l, phi := r.s.ShotRate, r.s.ShotVenueWeight
		hr.HomeAttack += l * eh
		ar.AwayDefence += l * eh
		ar.AwayAttack += l * ea
		hr.HomeDefence += l * ea
		hr.AwayAttack += l * phi * eh
		ar.HomeDefence += l * phi * eh
		ar.HomeAttack += l * phi * ea
		hr.AwayDefence += l * phi * ea
		comp.ShotsHome[k] += baseRateAlpha * (float64(c.Home) - comp.ShotsHome[k])
		comp.ShotsAway[k] += baseRateAlpha * (float64(c.Away) - comp.ShotsAway[k])
	}

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

// fixturePrice is the fixture's pre-match price: the first of the
// bookmakers it has, else any bookmaker's (a caller's price is used
// whoever quoted it).
func (r *Ratings) fixturePrice(f soccer.Fixture) (soccer.Probabilities, bool) {
	for _, bm := range r.s.Bookmakers {
		if o, ok := f.OddsOf(bm); ok {
			if p, err := o.Implied(); err == nil {
				return p, true
			}
		}
	}
	for _, o := range f.Odds {
		if p, err := o.Implied(); err == nil && !o.Closing {
			return p, true
		}
	}
	return soccer.Probabilities{}, false
}

// price is what the match's prices said before it kicked off: the first of
// the bookmakers with a closing price, else with a pre-match one.
func (r *Ratings) price(m soccer.Match) (soccer.Probabilities, bool) {
	for _, closing := range []bool{true, false} {
		for _, bm := range r.s.Bookmakers {
			if o, ok := m.OddsOf(bm, closing); ok {
				if p, err := o.Implied(); err == nil {
					return p, true
				}
			}
		}
	}
	return soccer.Probabilities{}, false
}

func newCompStat() *compStat {
	return &compStat{Home: 0.45, Draw: 0.26, Away: 0.29, Goals: initialGoals, PriceHome: initialPriceHome,
		PriceDrawBase: logit(0.27), PriceDrawCurve: 0.25,
		ShotsHome: initialShotsHome, ShotsAway: initialShotsAway}
}

func (r *Ratings) comp(code string) *compStat {
	c, ok := r.st.Comps[code]
	if !ok {
		c = newCompStat()
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
	elo, price := initialElo, 0.0
	var eloSum, priceSum float64
	n := 0
	names := make([]string, 0, len(r.st.Teams))
	for name := range r.st.Teams {
		names = append(names, name)
	}
	sort.Strings(names) // fixed summation order: features are bit-for-bit reproducible
	for _, name := range names {
		if t := r.st.Teams[name]; t.Competition == competition {
			eloSum += t.Elo
			priceSum += t.Price
			n++
		}
	}
	if n >= 10 {
		elo = eloSum/float64(n) - 80
		price = priceSum/float64(n) - newcomerPrice
	}
	c := newCompStat()
	if have, ok := r.st.Comps[competition]; ok {
		c = have
	}
	t := team{Competition: competition, Elo: elo, Attack: c.Goals, Defence: c.Goals, Draws: c.Draw, Price: price}
	for k := range t.Shots {
		t.Shots[k] = gap{HomeAttack: c.ShotsHome[k], AwayDefence: c.ShotsHome[k], AwayAttack: c.ShotsAway[k], HomeDefence: c.ShotsAway[k]}
	}
	return t
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
	comp := *newCompStat()
	if c, ok := r.st.Comps[f.Competition]; ok {
		comp = *c
	}
	avg := math.Max(comp.Goals, 0.1)
	hf, hgd := form(h.Recent, comp)
	af, agd := form(a.Recent, comp)
	// The prices the teams' past matches imply for this one.
	sup := h.Price - a.Price + comp.PriceHome
	pd := 1 / (1 + math.Exp(-(comp.PriceDrawBase - comp.PriceDrawCurve*sup*sup + (h.PriceDraw+a.PriceDraw)/2)))
	ph := (1 - pd) / (1 + math.Exp(-sup))
	pa := 1 - pd - ph
	var mh, md, ma, avail float64
	if p, ok := r.fixturePrice(f); ok {
		mh, md, ma, avail = p.Home, p.Draw, p.Away, 1
	}
	v := []float64{
		diff / 100, expected(diff),
		h.Attack, h.Defence, a.Attack, a.Defence,
		h.Attack * a.Defence / avg, a.Attack * h.Defence / avg,
		hf, af, hgd, agd,
		rest(h, f.Kickoff), rest(a, f.Kickoff),
		comp.Draw, h.Draws, a.Draws,
		sup, pd, logRatio(ph, pd), logRatio(pa, pd),
		(h.Shots[0].HomeAttack + a.Shots[0].AwayDefence) / 2, (a.Shots[0].AwayAttack + h.Shots[0].HomeDefence) / 2,
		(h.Shots[1].HomeAttack + a.Shots[1].AwayDefence) / 2, (a.Shots[1].AwayAttack + h.Shots[1].HomeDefence) / 2,
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
	if st.Version != stateVersion || st.Teams == nil || st.Comps == nil {
		return fmt.Errorf("ratings: snapshot version %d is not one this plugin reads (%d)", st.Version, stateVersion)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st = st
	return nil
}
