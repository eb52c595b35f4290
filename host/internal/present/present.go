// Package present is a forecast as its callers read it: the JSON shape of
// a prediction (with the market's view of it beside the model's), shared as
// equals by the HTTP API, the asynchronous jobs and the offline batch.
package present

import (
	"strconv"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// PredictionResponse is one forecast.
type PredictionResponse struct {
	Fixture              FixtureJSON       `json:"fixture"`
	Probabilities        ProbabilitiesJSON `json:"probabilities"`
	Model                ModelJSON         `json:"model"`
	FeatureSchemaVersion string            `json:"feature_schema_version"`
	// Generation is the serving generation the forecast came from.
	Generation  int64       `json:"generation"`
	PointInTime bool        `json:"point_in_time,omitempty"`
	Result      *ResultJSON `json:"result,omitempty"`
	// Market compares the forecast with the odds the request gave (absent without odds).
	Market *MarketJSON `json:"market,omitempty"`
	// ServedAt is when a recent result's forecast was served (the last one
	// before kick-off, from the forecast log).
	ServedAt *time.Time `json:"served_at,omitempty"`
	// Markets is a goals model's forecast of the goals; absent when the
	// serving model forecasts home/draw/away only.
	Markets *MarketsJSON `json:"markets,omitempty"`
}

// MarketsJSON is what a goals model says beyond home/draw/away, all from
// one forecast of the score.
type MarketsJSON struct {
	ExpectedGoals  ExpectedGoalsJSON `json:"expected_goals"`
	Over25         float64           `json:"over_2_5"`
	Under25        float64           `json:"under_2_5"`
	BothTeamsScore float64           `json:"both_teams_score"`
	// Scorelines are the likeliest full-time scores, likeliest first.
	Scorelines []ScorelineJSON `json:"scorelines"`
}

// ExpectedGoalsJSON are the expected goals of each side.
type ExpectedGoalsJSON struct {
	Home float64 `json:"home"`
	Away float64 `json:"away"`
}

// ScorelineJSON is one full-time score ("2-1", home goals first) and its probability.
type ScorelineJSON struct {
	Score       string  `json:"score"`
	Home        int     `json:"home"`
	Away        int     `json:"away"`
	Probability float64 `json:"probability"`
}

func marketsJSON(m *soccer.GoalMarkets) *MarketsJSON {
	if m == nil {
		return nil
	}
	out := &MarketsJSON{ExpectedGoals: ExpectedGoalsJSON{m.ExpectedHomeGoals, m.ExpectedAwayGoals}, Over25: m.Over25, Under25: 1 - m.Over25,
		BothTeamsScore: m.BothScore, Scorelines: make([]ScorelineJSON, len(m.Scorelines))}
	for i, s := range m.Scorelines {
		out.Scorelines[i] = ScorelineJSON{Score: strconv.Itoa(s.Home) + "-" + strconv.Itoa(s.Away), Home: s.Home, Away: s.Away, Probability: s.Probability}
	}
	return out
}

// MarketJSON is the market's view of a fixture, from the request's odds or
// the store's pre-match prices.
type MarketJSON struct {
	Bookmaker string `json:"bookmaker,omitempty"`
	// Source is where the prices came from: "request" (the caller's) or
	// "stored" (the store's pre-match prices for a scheduled fixture,
	// used when the request had none).
	Source string `json:"source"`
	// Probabilities are the odds' implied probabilities with the
	// bookmaker's margin taken out proportionally: (1/o) / Σ 1/o.
	Probabilities ProbabilitiesJSON `json:"probabilities"`
	// Overround is the bookmaker's margin, Σ 1/o − 1.
	Overround float64 `json:"overround"`
	// Edge is the model's probability minus the market's, per outcome:
	// positive where the model rates an outcome higher than the price does.
	Edge ProbabilitiesJSON `json:"edge"`
}

// FixtureJSON identifies the forecast fixture.
type FixtureJSON struct {
	ID          string    `json:"id"`
	Competition string    `json:"competition"`
	Season      string    `json:"season"`
	Kickoff     time.Time `json:"kickoff"`
	HomeTeam    string    `json:"home_team"`
	AwayTeam    string    `json:"away_team"`
}

// ProbabilitiesJSON are home, draw and away; they sum to 1.
type ProbabilitiesJSON struct {
	Home float64 `json:"home"`
	Draw float64 `json:"draw"`
	Away float64 `json:"away"`
}

// ModelJSON names the model that made a forecast.
type ModelJSON struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// ResultJSON is the outcome of a past match.
type ResultJSON struct {
	HomeGoals int    `json:"home_goals"`
	AwayGoals int    `json:"away_goals"`
	Result    string `json:"result"`
}

// Render is a forecast as callers read it: the REST answer, an async job's
// result, a row of the offline batch's output.
func Render(p forecast.Prediction) PredictionResponse {
	out := PredictionResponse{
		Fixture: FixtureJSON{ID: p.Fixture.ID, Competition: p.Fixture.Competition, Season: p.Fixture.Season,
			Kickoff: p.Fixture.Kickoff, HomeTeam: p.Fixture.HomeTeam, AwayTeam: p.Fixture.AwayTeam},
		Probabilities:        ProbabilitiesJSON{p.Probabilities.Home, p.Probabilities.Draw, p.Probabilities.Away},
		Model:                ModelJSON{p.Model, p.ModelVersion},
		FeatureSchemaVersion: p.FeatureSchemaVersion,
		Generation:           p.Generation,
		PointInTime:          p.PointInTime,
		Markets:              marketsJSON(p.Markets),
	}
	if p.Match != nil && p.Match.Status == soccer.Finished {
		out.Result = &ResultJSON{p.Match.HomeGoals, p.Match.AwayGoals, string(p.Match.Result)}
	}
	out.Market = market(p)
	return out
}

// market compares the forecast with the first price its fixture has: the
// price with the bookmaker's margin taken out, the margin, and the edge.
func market(p forecast.Prediction) *MarketJSON {
	if len(p.Fixture.Odds) == 0 {
		return nil
	}
	o := p.Fixture.Odds[0]
	m, err := o.Implied()
	if err != nil {
		return nil
	}
	return &MarketJSON{Bookmaker: o.Bookmaker, Source: forecast.MarketSource(p.Fixture), Probabilities: ProbabilitiesJSON{m.Home, m.Draw, m.Away},
		Overround: 1/o.Home + 1/o.Draw + 1/o.Away - 1,
		Edge:      ProbabilitiesJSON{p.Probabilities.Home - m.Home, p.Probabilities.Draw - m.Draw, p.Probabilities.Away - m.Away}}
}
