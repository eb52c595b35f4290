package forecast

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/scoring"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// PredictingTrainer is a model plugin that can both train and predict.
type PredictingTrainer interface {
	model.Model
	model.Trainer
}

// SeasonEvaluation scores one held-out season.
type SeasonEvaluation struct {
	Season    string        `json:"season"`
	TrainRows int           `json:"train_matches"`
	Model     scoring.Score `json:"model"`
	// ModelWithoutOdds scores the same model on the same matches when the
	// caller sends no pre-match odds (features computed without them).
	ModelWithoutOdds scoring.Score `json:"model_without_odds"`
	Bookmaker        scoring.Score `json:"bookmaker_closing"`
	// Prematch is Pinnacle's pre-match price, de-margined: the price the
	// model may see as a feature. A model given it should not do worse.
	Prematch  scoring.Score `json:"pinnacle_prematch"`
	BaseRates scoring.Score `json:"previous_season_base_rates"`
	// VsPrematch is the model's per-match log-loss and RPS minus the
	// pre-match price's, with 95% bootstrap intervals: below zero is better.
	VsPrematch Difference `json:"model_minus_prematch"`
	// VsClosing and WithoutOddsVsClosing are the model's, with and without
	// the pre-match odds, against the closing price: how far each is from
	// the best price there is.
	VsClosing            Difference `json:"model_minus_closing"`
	WithoutOddsVsClosing Difference `json:"without_odds_minus_closing"`
	// Calibration is each outcome's mean forecast against its frequency,
	// for the model with and without odds and the closing price.
	Calibration  map[string][]scoring.Calibration `json:"calibration"`
	ModelECE     float64                          `json:"model_ece"`
	BookmakerECE float64                          `json:"bookmaker_ece"`
	// Reliability is the model's and the bookmaker's calibration table.
	Reliability []scoring.Bin `json:"reliability,omitempty"`
	// Goals scores a goals model's markets (absent for a model without
	// them): over 2.5 goals and both teams to score, beside the shares of
	// the previous season as base rates.
	Goals *GoalScores `json:"goals,omitempty"`
}

// GoalScores are a goals model's yes/no markets scored on the test matches.
type GoalScores struct {
	Matches       int         `json:"matches"`
	Over25        BinaryScore `json:"over_2_5"`
	Over25Base    BinaryScore `json:"over_2_5_base_rate"`
	BothScore     BinaryScore `json:"both_teams_score"`
	BothScoreBase BinaryScore `json:"both_teams_score_base_rate"`
	// Over25VsBase and BothScoreVsBase are the model's per-match log-loss
	// minus the base rate's: below zero the model is better.
	Over25VsBase    scoring.Interval `json:"over_2_5_minus_base_rate"`
	BothScoreVsBase scoring.Interval `json:"both_teams_score_minus_base_rate"`
	// Calibration is each market's mean forecast against its frequency.
	Calibration []scoring.Calibration `json:"calibration"`
}

// BinaryScore is the mean log-loss and Brier score of yes/no forecasts.
type BinaryScore struct {
	LogLoss float64 `json:"log_loss"`
	Brier   float64 `json:"brier"`
}

// Difference is a paired comparison of two forecasters on the same matches.
type Difference struct {
	LogLoss scoring.Interval `json:"log_loss"`
	RPS     scoring.Interval `json:"rps"`
}

// Evaluation is a walk-forward evaluation over the test seasons of one competition.
type Evaluation struct {
	Competition string             `json:"competition"`
	Seasons     []SeasonEvaluation `json:"seasons"`
	Overall     SeasonEvaluation   `json:"overall"`

	scored scored
}

// Report is the evaluation of several competitions, each on its own test
// seasons, and all their matches pooled.
type Report struct {
	Leagues []Evaluation     `json:"leagues"`
	Pooled  SeasonEvaluation `json:"pooled"`
}

// League names a competition and its test seasons.
type League struct {
	Competition string
	TestSeasons []string
}

// scored are the forecasts of a set of test matches, with the references.
type scored struct {
	model, bare, book, pre, base []soccer.Probabilities
	results                      []soccer.Result
	matches                      []soccer.Match
	// markets are the model's goal markets (nil entries: none), and
	// goalBase the previous season's over-2.5 and both-score shares.
	markets  []*soccer.GoalMarkets
	goalBase [][2]float64
}

func (s *scored) add(o scored) {
	s.model, s.bare, s.book = append(s.model, o.model...), append(s.bare, o.bare...), append(s.book, o.book...)
	s.pre, s.base, s.results = append(s.pre, o.pre...), append(s.base, o.base...), append(s.results, o.results...)
	s.matches, s.markets, s.goalBase = append(s.matches, o.matches...), append(s.markets, o.markets...), append(s.goalBase, o.goalBase...)
}

// WriteForecasts writes every test match's forecasts as CSV, a row a match
// in the report's order: the model with and without the pre-match odds,
// the pre-match and closing prices and the base rates, each home, draw and
// away, beside the result.
func (r Report) WriteForecasts(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := []string{"competition", "season", "match_id", "kickoff", "home_team", "away_team", "result"}
	for _, f := range []string{"model", "without_odds", "prematch", "closing", "base_rates"} {
		header = append(header, f+"_home", f+"_draw", f+"_away")
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	for _, l := range r.Leagues {
		s := l.scored
		for i, m := range s.matches {
			row := []string{m.Competition, m.Season, m.ID, m.Kickoff.Format(time.RFC3339), m.HomeTeam, m.AwayTeam, string(s.results[i])}
			for _, p := range []soccer.Probabilities{s.model[i], s.bare[i], s.pre[i], s.book[i], s.base[i]} {
				row = append(row, num(p.Home), num(p.Draw), num(p.Away))
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// past is what a walk-forward evaluation reads of the replayed past: a
// Dataset in memory, or a spool (EvaluateFromStore).
type past interface {
	// season is the competition's season's examples, in kick-off order.
	season(competition, season string) []replay.Example
	// baseRates are previousBaseRates.
	baseRates(competition, season string) (soccer.Probabilities, error)
	// goalRates are resultCounts.goalRates.
	goalRates(competition, season string) [2]float64
	// trainBefore trains on every trainable example before cutoff.
	trainBefore(ctx context.Context, t Trainer, cutoff time.Time) (store.ModelVersion, error)
}

func (d Dataset) season(competition, season string) []replay.Example {
	var out []replay.Example
	for _, e := range d.Examples {
		if e.Match.Competition == competition && e.Match.Season == season {
			out = append(out, e)
		}
	}
	return out
}

func (d Dataset) baseRates(competition, season string) (soccer.Probabilities, error) {
	return previousBaseRates(d, competition, season)
}

func (d Dataset) trainBefore(ctx context.Context, t Trainer, cutoff time.Time) (store.ModelVersion, error) {
	return t.TrainSeq(ctx, d, d.TrainableBefore(cutoff))
}

// EvaluateLeagues evaluates each league in turn and pools their matches.
func EvaluateLeagues(ctx context.Context, d Dataset, t Trainer, m model.Model, leagues []League, progress func(League, string)) (Report, error) {
	return evaluateLeagues(ctx, d, t, m, leagues, progress)
}

func evaluateLeagues(ctx context.Context, d past, t Trainer, m model.Model, leagues []League, progress func(League, string)) (Report, error) {
	var r Report
	var all scored
	for _, l := range leagues {
		ev, err := evaluate(ctx, d, t, m, l.Competition, l.TestSeasons, func(season string) {
			if progress != nil {
				progress(l, season)
			}
		})
		if err != nil {
			return Report{}, err
		}
		all.add(ev.scored)
		r.Leagues = append(r.Leagues, ev)
	}
	pooled, err := score("pooled", 0, all)
	if err != nil {
		return Report{}, err
	}
	r.Pooled = pooled
	return r, nil
}

// Evaluate trains, for each test season in order, on every trainable example
// that kicked off before the season's first match, and scores the season's
// matches that have Pinnacle's closing and pre-match prices: the model, the
// de-margined closing and pre-match prices and the previous season's base
// rates, on the very same matches.
func Evaluate(ctx context.Context, d Dataset, t Trainer, m model.Model, competition string, testSeasons []string) (Evaluation, error) {
	return evaluate(ctx, d, t, m, competition, testSeasons, nil)
}

func evaluate(ctx context.Context, d past, t Trainer, m model.Model, competition string, testSeasons []string, progress func(string)) (Evaluation, error) {
	ev := Evaluation{Competition: competition}
	for _, season := range testSeasons {
		if progress != nil {
			progress(season)
		}
		var test []replay.Example
		for _, e := range d.season(competition, season) {
			_, closing := e.Match.OddsOf(ClosingBookmaker, true)
			_, pre := e.Match.OddsOf(ClosingBookmaker, false)
			if closing && pre {
				test = append(test, e)
			}
		}
		if len(test) == 0 {
			return Evaluation{}, fmt.Errorf("evaluate: no %s %s matches with %s closing and pre-match odds in the store", competition, season, ClosingBookmaker)
		}
		cutoff := test[0].Match.Kickoff
		base, err := d.baseRates(competition, season)
		if err != nil {
			return Evaluation{}, err
		}
		mv, err := d.trainBefore(ctx, t, cutoff)
		if err != nil {
			return Evaluation{}, fmt.Errorf("evaluate %s %s: %w", competition, season, err)
		}
		if err := m.Load(ctx, model.LoadRequest{Artifact: mv.Artifact, Signature: mv.Signature}); err != nil {
			return Evaluation{}, fmt.Errorf("evaluate %s %s: %w", competition, season, err)
		}
		rows := make([][]float64, len(test))
		bare := make([][]float64, len(test))
		sc := scored{results: make([]soccer.Result, len(test)), book: make([]soccer.Probabilities, len(test)),
			pre: make([]soccer.Probabilities, len(test)), base: make([]soccer.Probabilities, len(test)), matches: make([]soccer.Match, len(test))}
		for i, e := range test {
			rows[i], sc.results[i], sc.base[i], bare[i], sc.matches[i] = e.Values, e.Match.Result, base, e.Unpriced, e.Match
			if bare[i] == nil {
				bare[i] = e.Values
			}
			closing, _ := e.Match.OddsOf(ClosingBookmaker, true)
			pre, _ := e.Match.OddsOf(ClosingBookmaker, false)
			if sc.book[i], err = closing.Implied(); err != nil {
				return Evaluation{}, fmt.Errorf("evaluate: match %s: %w", e.Match.ID, err)
			}
			if sc.pre[i], err = pre.Implied(); err != nil {
				return Evaluation{}, fmt.Errorf("evaluate: match %s: %w", e.Match.ID, err)
			}
		}
		pred, err := m.Predict(ctx, model.PredictRequest{Rows: rows})
		if err != nil {
			return Evaluation{}, fmt.Errorf("evaluate %s %s: %w", competition, season, err)
		}
		predBare, err := m.Predict(ctx, model.PredictRequest{Rows: bare})
		if err != nil {
			return Evaluation{}, fmt.Errorf("evaluate %s %s: %w", competition, season, err)
		}
		for i := range test {
			if err := errors.Join(pred.Probabilities[i].Validate(), predBare.Probabilities[i].Validate()); err != nil {
				return Evaluation{}, fmt.Errorf("evaluate: model forecast for %s: %w", test[i].Match.ID, err)
			}
		}
		sc.model, sc.bare = pred.Probabilities, predBare.Probabilities
		sc.markets, sc.goalBase = make([]*soccer.GoalMarkets, len(test)), make([][2]float64, len(test))
		goalBase := d.goalRates(competition, season)
		for i := range test {
			if pred.Markets != nil {
				if err := pred.Markets[i].Validate(); err != nil {
					return Evaluation{}, fmt.Errorf("evaluate: model goal markets for %s: %w", test[i].Match.ID, err)
				}
				sc.markets[i] = &pred.Markets[i]
			}
			sc.goalBase[i] = goalBase
		}
		se, err := score(season, int(mv.Metrics["train_matches"]), sc)
		if err != nil {
			return Evaluation{}, err
		}
		ev.Seasons = append(ev.Seasons, se)
		ev.scored.add(sc)
	}
	overall, err := score("overall", 0, ev.scored)
	if err != nil {
		return Evaluation{}, err
	}
	ev.Overall = overall
	return ev, nil
}

// bootstrapResamples and bootstrapSeed make the intervals repeatable.
const (
	bootstrapResamples = 2000
	bootstrapSeed      = 20261202
)

func score(season string, trainRows int, s scored) (SeasonEvaluation, error) {
	se := SeasonEvaluation{Season: season, TrainRows: trainRows}
	var err error
	if se.Model, err = scoring.Evaluate(s.model, s.results); err != nil {
		return se, err
	}
	if se.ModelWithoutOdds, err = scoring.Evaluate(s.bare, s.results); err != nil {
		return se, err
	}
	if se.Bookmaker, err = scoring.Evaluate(s.book, s.results); err != nil {
		return se, err
	}
	if se.Prematch, err = scoring.Evaluate(s.pre, s.results); err != nil {
		return se, err
	}
	if se.BaseRates, err = scoring.Evaluate(s.base, s.results); err != nil {
		return se, err
	}
	for _, d := range []struct {
		to       *Difference
		one, two []soccer.Probabilities
	}{{&se.VsPrematch, s.model, s.pre}, {&se.VsClosing, s.model, s.book}, {&se.WithoutOddsVsClosing, s.bare, s.book}} {
		if *d.to, err = difference(d.one, d.two, s.results); err != nil {
			return se, err
		}
	}
	se.Calibration = map[string][]scoring.Calibration{}
	for name, ps := range map[string][]soccer.Probabilities{"model": s.model, "model_without_odds": s.bare, "bookmaker_closing": s.book} {
		if se.Calibration[name], err = scoring.Calibrate(ps, s.results); err != nil {
			return se, err
		}
	}
	if se.ModelECE, err = scoring.ECE(s.model, s.results, 10); err != nil {
		return se, err
	}
	if se.BookmakerECE, err = scoring.ECE(s.book, s.results, 10); err != nil {
		return se, err
	}
	mr, _ := scoring.Reliability(s.model, s.results, 10)
	br, _ := scoring.Reliability(s.book, s.results, 10)
	for i := range mr {
		mr[i].Source = "model"
	}
	for i := range br {
		br[i].Source = "bookmaker"
	}
	se.Reliability = append(mr, br...)
	se.Goals = scoreGoals(s)
	return se, nil
}

// scoreGoals scores the goal markets when the model gave every match's.
func scoreGoals(s scored) *GoalScores {
	if len(s.markets) == 0 || slices.Contains(s.markets, nil) {
		return nil
	}
	g := &GoalScores{Matches: len(s.markets)}
	llOver, llOverBase, llBoth, llBothBase := make([]float64, len(s.markets)), make([]float64, len(s.markets)), make([]float64, len(s.markets)), make([]float64, len(s.markets))
	pOver, pBoth, wasOver, wasBoth := make([]float64, len(s.markets)), make([]float64, len(s.markets)), make([]bool, len(s.markets)), make([]bool, len(s.markets))
	for i, mk := range s.markets {
		m := s.matches[i]
		over, both := m.HomeGoals+m.AwayGoals > 2, m.HomeGoals > 0 && m.AwayGoals > 0
		pOver[i], pBoth[i], wasOver[i], wasBoth[i] = mk.Over25, mk.BothScore, over, both
		llOver[i], llOverBase[i] = binaryLogLoss(mk.Over25, over), binaryLogLoss(s.goalBase[i][0], over)
		llBoth[i], llBothBase[i] = binaryLogLoss(mk.BothScore, both), binaryLogLoss(s.goalBase[i][1], both)
		g.Over25.Brier += brier(mk.Over25, over)
		g.Over25Base.Brier += brier(s.goalBase[i][0], over)
		g.BothScore.Brier += brier(mk.BothScore, both)
		g.BothScoreBase.Brier += brier(s.goalBase[i][1], both)
	}
	n := float64(len(s.markets))
	for _, b := range []*BinaryScore{&g.Over25, &g.Over25Base, &g.BothScore, &g.BothScoreBase} {
		b.Brier /= n
	}
	g.Over25.LogLoss, g.Over25Base.LogLoss, g.BothScore.LogLoss, g.BothScoreBase.LogLoss = mean(llOver), mean(llOverBase), mean(llBoth), mean(llBothBase)
	diff := func(a, b []float64) []float64 {
		out := make([]float64, len(a))
		for i := range a {
			out[i] = a[i] - b[i]
		}
		return out
	}
	g.Over25VsBase = scoring.Bootstrap(diff(llOver, llOverBase), bootstrapResamples, bootstrapSeed)
	g.BothScoreVsBase = scoring.Bootstrap(diff(llBoth, llBothBase), bootstrapResamples, bootstrapSeed)
	g.Calibration = []scoring.Calibration{scoring.CalibrateBinary("over_2_5", pOver, wasOver), scoring.CalibrateBinary("both_teams_score", pBoth, wasBoth)}
	return g
}

// binaryLogLoss is −log of the probability given to what happened (clipped
// at 1e-15, as for home/draw/away).
func binaryLogLoss(p float64, yes bool) float64 {
	if !yes {
		p = 1 - p
	}
	return -math.Log(max(p, 1e-15))
}

func brier(p float64, yes bool) float64 {
	y := 0.0
	if yes {
		y = 1
	}
	return (p - y) * (p - y)
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// difference is the paired per-match difference of two forecasters' scores.
func difference(one, two []soccer.Probabilities, results []soccer.Result) (Difference, error) {
	ll1, rps1, err := scoring.PerMatch(one, results)
	if err != nil {
		return Difference{}, err
	}
	ll2, rps2, err := scoring.PerMatch(two, results)
	if err != nil {
		return Difference{}, err
	}
	for i := range ll1 {
		ll1[i] -= ll2[i]
		rps1[i] -= rps2[i]
	}
	return Difference{LogLoss: scoring.Bootstrap(ll1, bootstrapResamples, bootstrapSeed), RPS: scoring.Bootstrap(rps1, bootstrapResamples, bootstrapSeed)}, nil
}

// previousBaseRates are the H/D/A frequencies of the competition's season
// before season in the data.
func previousBaseRates(d Dataset, competition, season string) (soccer.Probabilities, error) {
	return d.counts().baseRates(competition, season)
}

func (d Dataset) counts() resultCounts {
	counts := resultCounts{}
	for _, e := range d.Examples {
		counts.add(e.Match)
	}
	return counts
}

func (d Dataset) goalRates(competition, season string) [2]float64 {
	return d.counts().goalRates(competition, season)
}

// resultCounts are each competition's seasons' home wins, draws and away
// wins, then matches with over 2.5 goals and with both teams scoring.
type resultCounts map[string]map[string]*[5]float64

func (rc resultCounts) add(m soccer.Match) {
	seasons := rc[m.Competition]
	if seasons == nil {
		seasons = map[string]*[5]float64{}
		rc[m.Competition] = seasons
	}
	c := seasons[m.Season]
	if c == nil {
		c = &[5]float64{}
		seasons[m.Season] = c
	}
	if m.HomeGoals+m.AwayGoals > 2 {
		c[3]++
	}
	if m.HomeGoals > 0 && m.AwayGoals > 0 {
		c[4]++
	}
	switch m.Result {
	case soccer.HomeWin:
		c[0]++
	case soccer.Draw:
		c[1]++
	case soccer.AwayWin:
		c[2]++
	}
}

// baseRates are the results of the competition's previous season; for a
// competition's first season, those of every other competition's latest
// season before it (season codes sort in time order: "1819" < "2324").
func (rc resultCounts) baseRates(competition, season string) (soccer.Probabilities, error) {
	c, err := rc.previous(competition, season)
	return shares([3]float64(c[:3])), err
}

// goalRates are the previous season's shares of matches with over 2.5
// goals and with both teams scoring, chosen as baseRates chooses.
func (rc resultCounts) goalRates(competition, season string) [2]float64 {
	c, err := rc.previous(competition, season)
	n := c[0] + c[1] + c[2]
	if err != nil || n == 0 {
		return [2]float64{0.5, 0.5}
	}
	return [2]float64{c[3] / n, c[4] / n}
}

// previous are the counts baseRates reads.
func (rc resultCounts) previous(competition, season string) ([5]float64, error) {
	seasons := slices.Sorted(maps.Keys(rc[competition]))
	if i := slices.Index(seasons, season); i > 0 {
		return *rc[competition][seasons[i-1]], nil
	}
	var pooled [5]float64
	for other, ss := range rc {
		if other == competition {
			continue
		}
		var last string
		for s := range ss {
			if s < season && s > last {
				last = s
			}
		}
		if last != "" {
			for k := range pooled {
				pooled[k] += ss[last][k]
			}
		}
	}
	if pooled[0]+pooled[1]+pooled[2] == 0 {
		return pooled, fmt.Errorf("evaluate: no season before %s %s, of it or any other competition, for base rates", competition, season)
	}
	return pooled, nil
}

// shares are home wins, draws and away wins as shares of the matches.
func shares(c [3]float64) soccer.Probabilities {
	n := c[0] + c[1] + c[2]
	return soccer.Probabilities{Home: c[0] / n, Draw: c[1] / n, Away: c[2] / n}
}
