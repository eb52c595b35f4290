// Package monitor scores the forecasts the host served against the results
// the store holds, and watches them: per model version, competition and
// rolling window, beside the market's de-margined pre-match and closing
// prices of the same matches, with reliability tables, ECE and the
// sequential alarm. Everything is computed from the store (the forecast
// log and the matches), so any replica, the worker or a batch stage gets
// the same numbers, a corrected result re-scores and nothing is counted
// twice.
//
// Start at Compute.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/forecastlog"
	"github.com/soccerpredict/soccerpredict/host/internal/scoring"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Query says what to score: forecasts first made in [From, To) (zero:
// all), of one competition and version when set. Windows are the rolling
// windows, in scored matches (default 50, 200, 1,000).
type Query struct {
	From, To    time.Time
	Competition string
	Version     int
	Windows     []int
	Alarm       Alarm
}

// DefaultWindows are the rolling windows, in scored matches.
var DefaultWindows = []int{50, 200, 1000}

// Scored is one fixture's last forecast by one version before kick-off,
// with its result and scores.
type Scored struct {
	MatchID       string     `json:"match_id"`
	Competition   string     `json:"competition"`
	Season        string     `json:"season"`
	HomeTeam      string     `json:"home_team"`
	AwayTeam      string     `json:"away_team"`
	Kickoff       time.Time  `json:"kickoff"`
	Model         string     `json:"model"`
	Version       int        `json:"version"`
	Generation    int64      `json:"generation"`
	FeatureSchema string     `json:"feature_schema_version"`
	Route         string     `json:"route"`
	ForecastAt    time.Time  `json:"forecast_at"`
	Probabilities [3]float64 `json:"probabilities"`
	Result        string     `json:"result"`
	HomeGoals     int        `json:"home_goals"`
	AwayGoals     int        `json:"away_goals"`
	Scores
	// PreMatch and Closing are the market's de-margined prices of the
	// match as stored (Pinnacle first), and their scores; nil without one.
	PreMatch       *[3]float64 `json:"pre_match,omitempty"`
	PreMatchScores *Scores     `json:"pre_match_scores,omitempty"`
	Closing        *[3]float64 `json:"closing,omitempty"`
	ClosingScores  *Scores     `json:"closing_scores,omitempty"`
}

// Scores are one forecast's (or a mean of several) proper scores.
type Scores struct {
	LogLoss float64 `json:"log_loss"`
	Brier   float64 `json:"brier"`
	RPS     float64 `json:"rps"`
}

// Score scores probabilities (home, draw, away) against a result, with
// the project's own metrics (scoring.Evaluate).
func Score(p [3]float64, r soccer.Result) (Scores, error) {
	s, err := scoring.Evaluate([]soccer.Probabilities{{Home: p[0], Draw: p[1], Away: p[2]}}, []soccer.Result{r})
	if err != nil {
		return Scores{}, err
	}
	return Scores{LogLoss: s.LogLoss, Brier: s.Brier, RPS: s.RPS}, nil
}

// Paired is the mean difference model − market over the same matches,
// with its standard error and a 95% interval; negative is better than
// the market.
type Paired struct {
	N       int     `json:"n"`
	LogLoss float64 `json:"log_loss"`
	SE      float64 `json:"log_loss_se"`
	Low     float64 `json:"log_loss_low"`
	High    float64 `json:"log_loss_high"`
	RPS     float64 `json:"rps"`
	RPSSE   float64 `json:"rps_se"`
}

// Summary aggregates scored matches.
type Summary struct {
	N        int     `json:"n"`
	Mean     Scores  `json:"mean"`
	PreMatch *Paired `json:"vs_pre_match,omitempty"`
	Closing  *Paired `json:"vs_closing,omitempty"`
}

// Window is a summary of a version's last Size scored matches.
type Window struct {
	Size int `json:"size"`
	Summary
}

// Bin is one row of a reliability table of one outcome.
type Bin struct {
	Low           float64 `json:"low"`
	High          float64 `json:"high"`
	Count         int     `json:"count"`
	MeanPredicted float64 `json:"mean_predicted"`
	Observed      float64 `json:"observed"`
}

// Calibration is one outcome's reliability table and ECE.
type Calibration struct {
	Outcome string  `json:"outcome"`
	ECE     float64 `json:"ece"`
	Bins    []Bin   `json:"bins"`
}

// VersionReport is one model version's live record.
type VersionReport struct {
	Model        string        `json:"model"`
	Version      int           `json:"version"`
	Summary                    // every scored match
	Competitions []Competition `json:"competitions"`
	Windows      []Window      `json:"windows"`
	Calibration  []Calibration `json:"calibration"`
	Alarm        AlarmState    `json:"alarm"`
	// Drift compares the version's recent served rows, and its
	// probabilities for them, with its training reference, per regime
	// (requests with a price and without); empty without a reference.
	Drift []RegimeDrift `json:"drift"`
}

// RegimeDrift is one regime's drift: "priced" (the request carried a
// pre-match price) or "unpriced".
type RegimeDrift struct {
	Regime      string      `json:"regime"`
	Features    DriftReport `json:"features"`
	Predictions DriftReport `json:"predictions"`
}

// Competition is a version's summary in one competition.
type Competition struct {
	Competition string `json:"competition"`
	Summary
}

// Report is the monitor's answer.
type Report struct {
	GeneratedAt time.Time `json:"generated_at,omitzero"`
	From        time.Time `json:"from,omitzero"`
	To          time.Time `json:"to,omitzero"`
	// Logged counts forecast-log rows and the forecasts they stand for;
	// Fixtures the distinct fixtures forecast; Awaiting those not played yet.
	LoggedRows      int             `json:"logged_rows"`
	LoggedForecasts int64           `json:"logged_forecasts"`
	Fixtures        int             `json:"fixtures"`
	Awaiting        int             `json:"awaiting_result"`
	Versions        []VersionReport `json:"versions"`
	// Ingest are the ingest-side checks (quarantined rows, missing prices,
	// unknown teams against their history); see CheckIngest.
	Ingest []IngestCheck `json:"ingest,omitempty"`
	// Log is this process's forecast log (serve only): what it wrote and
	// what it dropped because its buffer was full.
	Log *forecastlog.Stats `json:"log,omitempty"`
	// Scored lists every scored forecast (not in JSON answers by default).
	Scored []Scored `json:"scored,omitempty"`
}

// Store is what Compute reads.
type Store interface {
	Scorer
	CountForecasts(ctx context.Context, q store.ForecastQuery) (store.ForecastCounts, error)
	Reference(ctx context.Context, version int) (store.Reference, error)
}

// Scorer is what ScoreForecasts reads.
type Scorer interface {
	LoggedForecasts(ctx context.Context, q store.ForecastQuery) ([]store.LoggedForecast, error)
	Matches(ctx context.Context, q store.MatchQuery) ([]soccer.Match, error)
}

// ScoreForecasts scores the forecasts q selects against the finished
// matches the store holds: for each fixture and version its last forecast
// before kick-off (one made after kick-off is never scored; a match that
// is postponed or not played yet is not scored), by version, then
// kick-off. It reads no feature rows and no drift reference: Compute adds
// those.
func ScoreForecasts(ctx context.Context, st Scorer, q store.ForecastQuery) ([]Scored, error) {
	var scored []Scored
	// Only what can be scored is read in full: forecasts of finished
	// matches made before their kick-off.
	q.Scorable = true
	logged, err := st.LoggedForecasts(ctx, q)
	if err != nil {
		return nil, err
	}
	byID := map[string]soccer.Match{}
	if len(logged) > 0 {
		matches, err := st.Matches(ctx, store.MatchQuery{Competition: q.Competition, Status: soccer.Finished, From: logged[0].FirstAt})
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			byID[m.ID] = m
		}
	}
	// The last forecast of each (version, fixture) before kick-off.
	type pick struct {
		f    store.LoggedForecast
		last time.Time
	}
	type vf struct {
		version int
		match   string
	}
	picked := map[vf]pick{}
	for _, f := range logged {
		m, ok := byID[f.MatchID]
		if !ok || m.Status != soccer.Finished || !f.FirstAt.Before(m.Kickoff) {
			continue
		}
		last := f.LastAt
		if !last.Before(m.Kickoff) {
			last = f.FirstAt // served before and after kick-off: its first time is the one known to be before
		}
		k := vf{f.Version, f.MatchID}
		if p, ok := picked[k]; !ok || last.After(p.last) {
			picked[k] = pick{f, last}
		}
	}
	for _, p := range picked {
		m := byID[p.f.MatchID]
		s, err := Score(p.f.Probabilities, m.Result)
		if err != nil {
			continue // a finished match without a readable result is not scored
		}
		sc := Scored{MatchID: m.ID, Competition: m.Competition, Season: m.Season, HomeTeam: m.HomeTeam, AwayTeam: m.AwayTeam, Kickoff: m.Kickoff,
			Model: p.f.Model, Version: p.f.Version, Generation: p.f.Generation, FeatureSchema: p.f.FeatureSchema, Route: p.f.Route,
			ForecastAt: p.last, Probabilities: p.f.Probabilities, Result: string(m.Result), HomeGoals: m.HomeGoals, AwayGoals: m.AwayGoals, Scores: s}
		if pre, ok := forecastlog.PreMatchPrice(m.Odds); ok {
			ps, _ := Score(pre, m.Result)
			sc.PreMatch, sc.PreMatchScores = &pre, &ps
		}
		if cl, ok := forecastlog.ClosingPrice(m.Odds); ok {
			cs, _ := Score(cl, m.Result)
			sc.Closing, sc.ClosingScores = &cl, &cs
		}
		scored = append(scored, sc)
	}
	sort.Slice(scored, func(i, j int) bool {
		a, b := scored[i], scored[j]
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		if !a.Kickoff.Equal(b.Kickoff) {
			return a.Kickoff.Before(b.Kickoff)
		}
		return a.MatchID < b.MatchID
	})
	return scored, nil
}

// DriftRows is how many of a version's most recent served rows are tested
// against its reference; a regime with fewer than DriftMinRows served rows
// is not tested (a handful of requests says nothing about a distribution).
const (
	DriftRows    = 1000
	DriftMinRows = 30
)

// Compute scores every forecast q selects against the finished matches
// the store holds: for each fixture and version, its last forecast before
// kick-off (a forecast made after kick-off is never scored; a match that
// is postponed, abandoned or not played yet is not scored).
func Compute(ctx context.Context, st Store, q Query) (Report, error) {
	base := store.ForecastQuery{From: q.From, To: q.To, Competition: q.Competition, Version: q.Version}
	counts, err := st.CountForecasts(ctx, base)
	if err != nil {
		return Report{}, err
	}
	rep := Report{GeneratedAt: time.Now().UTC(), From: q.From, To: q.To, LoggedRows: counts.Rows, LoggedForecasts: counts.Forecasts,
		Fixtures: counts.Fixtures, Awaiting: counts.Awaiting, Versions: []VersionReport{}}
	if counts.Rows == 0 {
		return rep, nil
	}
	if rep.Scored, err = ScoreForecasts(ctx, st, base); err != nil {
		return Report{}, err
	}
	windows := q.Windows
	if windows == nil {
		windows = DefaultWindows
	}
	alarm := q.Alarm
	if alarm == (Alarm{}) {
		alarm = DefaultAlarm
	}
	byVersion := map[int][]Scored{}
	models := map[int]string{}
	for _, s := range rep.Scored {
		byVersion[s.Version] = append(byVersion[s.Version], s)
		models[s.Version] = s.Model
	}
	for _, version := range counts.Versions {
		// The version's most recent served rows, with their features, for drift.
		q := base
		q.Version, q.Features, q.Newest, q.Limit = version, true, true, DriftRows
		recent, err := st.LoggedForecasts(ctx, q)
		if err != nil {
			return Report{}, err
		}
		model := models[version]
		if model == "" && len(recent) > 0 {
			model = recent[0].Model
		}
		v := versionReport(model, version, byVersion[version], windows, alarm)
		var rows []store.LoggedForecast
		for _, f := range recent {
			if len(f.Features) > 0 {
				rows = append(rows, f)
			}
		}
		if len(rows) > 0 {
			if err := drift(ctx, st, &v, rows); err != nil {
				return Report{}, err
			}
		}
		rep.Versions = append(rep.Versions, v)
	}
	return rep, nil
}

// drift tests a version's recent served rows and probabilities against
// its reference; a version without one (imported, or trained before
// references were kept) has none.
func drift(ctx context.Context, st Store, v *VersionReport, rows []store.LoggedForecast) error {
	ref, err := st.Reference(ctx, v.Version)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, regime := range []struct {
		name   string
		sample store.ReferenceSample
		priced bool
	}{{"priced", ref.Priced, true}, {"unpriced", ref.Unpriced, false}} {
		var cur, probs [][]float64
		for _, f := range rows {
			if (f.Market != nil) == regime.priced {
				cur, probs = append(cur, f.Features), append(probs, f.Probabilities[:])
			}
		}
		if len(cur) < DriftMinRows || len(regime.sample.Rows) == 0 {
			continue
		}
		refProbs := make([][]float64, len(regime.sample.Probabilities))
		for i := range regime.sample.Probabilities {
			refProbs[i] = regime.sample.Probabilities[i][:]
		}
		v.Drift = append(v.Drift, RegimeDrift{Regime: regime.name, Features: CompareColumns(ref.Columns, regime.sample.Rows, cur),
			Predictions: CompareColumns([]string{"p_home", "p_draw", "p_away"}, refProbs, probs)})
	}
	return nil
}

func versionReport(model string, version int, ss []Scored, windows []int, alarm Alarm) VersionReport {
	v := VersionReport{Model: model, Version: version, Summary: summarise(ss), Competitions: []Competition{}, Windows: []Window{}, Drift: []RegimeDrift{}}
	comps := map[string][]Scored{}
	for _, s := range ss {
		comps[s.Competition] = append(comps[s.Competition], s)
	}
	for _, c := range slices.Sorted(maps.Keys(comps)) {
		v.Competitions = append(v.Competitions, Competition{Competition: c, Summary: summarise(comps[c])})
	}
	for _, w := range windows {
		last := ss[max(0, len(ss)-w):]
		v.Windows = append(v.Windows, Window{Size: w, Summary: summarise(last)})
	}
	v.Calibration = []Calibration{}
	if len(ss) > 0 {
		v.Calibration = calibration(ss, 10)
	}
	var deltas []float64
	var ids []string
	for _, s := range ss {
		if s.PreMatchScores != nil {
			deltas = append(deltas, s.LogLoss-s.PreMatchScores.LogLoss)
			ids = append(ids, s.MatchID)
		}
	}
	v.Alarm = alarm.Run(deltas, ids)
	return v
}

func summarise(ss []Scored) Summary {
	s := Summary{N: len(ss)}
	if len(ss) == 0 {
		return s
	}
	for _, x := range ss {
		s.Mean.LogLoss += x.LogLoss
		s.Mean.Brier += x.Brier
		s.Mean.RPS += x.RPS
	}
	n := float64(len(ss))
	s.Mean.LogLoss, s.Mean.Brier, s.Mean.RPS = s.Mean.LogLoss/n, s.Mean.Brier/n, s.Mean.RPS/n
	s.PreMatch = paired(ss, func(x Scored) *Scores { return x.PreMatchScores })
	s.Closing = paired(ss, func(x Scored) *Scores { return x.ClosingScores })
	return s
}

// paired is the model − market difference over the matches with a price.
func paired(ss []Scored, market func(Scored) *Scores) *Paired {
	var ll, rps []float64
	for _, x := range ss {
		if m := market(x); m != nil {
			ll = append(ll, x.LogLoss-m.LogLoss)
			rps = append(rps, x.RPS-m.RPS)
		}
	}
	if len(ll) < 2 {
		return nil // no standard error from one match
	}
	mean, se := meanSE(ll)
	rmean, rse := meanSE(rps)
	return &Paired{N: len(ll), LogLoss: mean, SE: se, Low: mean - 1.96*se, High: mean + 1.96*se, RPS: rmean, RPSSE: rse}
}

func meanSE(xs []float64) (mean, se float64) {
	n := float64(len(xs))
	for _, x := range xs {
		mean += x
	}
	mean /= n
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / (n - 1) / n)
}

// calibration is each outcome's reliability table (bins equal-width bins;
// empty ones left out) and ECE.
func calibration(ss []Scored, bins int) []Calibration {
	out := make([]Calibration, 3)
	for k, name := range []string{"home", "draw", "away"} {
		acc := make([]Bin, bins)
		for i := range acc {
			acc[i].Low, acc[i].High = float64(i)/float64(bins), float64(i+1)/float64(bins)
		}
		for _, s := range ss {
			p := s.Probabilities[k]
			b := min(int(p*float64(bins)), bins-1)
			acc[b].Count++
			acc[b].MeanPredicted += p
			if outcomeIndex(s.Result) == k {
				acc[b].Observed++
			}
		}
		c := Calibration{Outcome: name, Bins: []Bin{}}
		total := 0
		for _, b := range acc {
			if b.Count == 0 {
				continue
			}
			b.MeanPredicted /= float64(b.Count)
			b.Observed /= float64(b.Count)
			c.ECE += math.Abs(b.Observed-b.MeanPredicted) * float64(b.Count)
			total += b.Count
			c.Bins = append(c.Bins, b)
		}
		if total > 0 {
			c.ECE /= float64(total)
		}
		out[k] = c
	}
	return out
}

func outcomeIndex(r string) int {
	switch soccer.Result(r) {
	case soccer.HomeWin:
		return 0
	case soccer.Draw:
		return 1
	case soccer.AwayWin:
		return 2
	}
	return -1
}

// ParseTime reads a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time;
// "" is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date like 2024-08-16 or a time like 2024-08-16T19:00:00Z", s)
	}
	return t.UTC(), nil
}

// ParseWindows reads rolling windows written "50,200,1000".
func ParseWindows(s string) ([]int, error) {
	var out []int
	for _, w := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 || n > 1_000_000 {
			return nil, fmt.Errorf("%q is not a whole number of matches from 1 to 1,000,000", w)
		}
		out = append(out, n)
	}
	return out, nil
}
