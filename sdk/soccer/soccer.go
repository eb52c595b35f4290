// Package soccer holds the domain values every plugin kind shares: matches,
// fixtures, odds, feature columns and outcome probabilities.
package soccer

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Status says whether a match has been played.
type Status string

const (
	// Scheduled is an upcoming fixture without a result.
	Scheduled Status = "scheduled"
	// Finished is a completed match with a full-time score.
	Finished Status = "finished"
)

// Result is the full-time outcome, ordered H < D < A everywhere in SoccerPredict.
type Result string

const (
	HomeWin Result = "H"
	Draw    Result = "D"
	AwayWin Result = "A"
)

// Odds are one bookmaker's decimal 1X2 prices. Closing prices are the last
// before kick-off: use them to score forecasts, never as features.
type Odds struct {
	Bookmaker string
	Closing   bool
	Home      float64
	Draw      float64
	Away      float64
}

// bookmakers names the bookmaker codes football-data.co.uk uses.
var bookmakers = map[string]string{"B365": "Bet365", "BW": "Bet&Win", "IW": "Interwetten", "PS": "Pinnacle", "WH": "William Hill",
	"VC": "BetVictor", "BF": "Betfair", "BFE": "Betfair Exchange", "1XB": "1xBet", "LB": "Ladbrokes", "SJ": "Stan James",
	"GB": "Gamebookers", "BS": "Blue Square", "SB": "Sportingbet", "SO": "Sporting Odds", "Max": "the best market price",
	"Avg": "the market average", "BMGM": "BetMGM", "BV": "BetVictor", "CL": "Coral"}

// KnownBookmaker reports whether code is one of football-data.co.uk's
// bookmaker codes (VC is VC Bet, not a closing price of a bookmaker V).
func KnownBookmaker(code string) bool {
	_, ok := bookmakers[code]
	return ok
}

// BookmakerName is how people know a bookmaker code ("PS": "Pinnacle");
// the code itself when it is not one of football-data.co.uk's.
func BookmakerName(code string) string {
	if n, ok := bookmakers[code]; ok {
		return n
	}
	return code
}

// String names the prices for people: "Pinnacle's closing odds".
func (o Odds) String() string {
	kind := "pre-match odds"
	if o.Closing {
		kind = "closing odds"
	}
	if o.Bookmaker == "" {
		return "the " + kind
	}
	name := BookmakerName(o.Bookmaker)
	if name == o.Bookmaker {
		return o.Bookmaker + "'s " + kind
	}
	return name + "'s " + kind + " (" + o.Bookmaker + ")"
}

// Implied returns the de-margined probabilities p_i = (1/o_i) / Σ_j (1/o_j).
func (o Odds) Implied() (Probabilities, error) {
	for i, v := range []float64{o.Home, o.Draw, o.Away} {
		side := [3]string{"home", "draw", "away"}[i]
		if v == 0 {
			// Zero is what a price left out decodes to: say it is missing.
			return Probabilities{}, fmt.Errorf("%s: the %s price is missing (give home, draw and away, each a decimal price above 1)", o, side)
		}
		if !(v > 1) || math.IsInf(v, 0) {
			return Probabilities{}, fmt.Errorf("%s: the %s price %v is not a decimal price above 1", o, side, v)
		}
	}
	h, d, a := 1/o.Home, 1/o.Draw, 1/o.Away
	s := h + d + a
	return Probabilities{Home: h / s, Draw: d / s, Away: a / s}, nil
}

// Match is one match of a competition: a result once Finished, a fixture before.
type Match struct {
	// ID is stable: the same match has the same ID on every fetch, even when
	// the publisher revises its date or score.
	ID          string
	Competition string
	Season      string
	// Kickoff is in UTC. KickoffTimeKnown is false when the source gave only a date.
	Kickoff          time.Time
	KickoffTimeKnown bool
	HomeTeam         string
	AwayTeam         string
	Status           Status
	HomeGoals        int
	AwayGoals        int
	Result           Result
	Odds             []Odds
	// Stats are the match's statistics, as far as the source has them
	// (only ever of a finished match). They reach feature plugins through
	// Observe, after the match, never through a Fixture.
	Stats Stats `json:",omitzero"`
	// Origin says where the match came from, for example "E0/2324.csv:12".
	Origin string
}

// Count is a statistic of each side of a match; Known is false when the
// source does not have it (a zero Count is unknown, not nil-nil).
type Count struct {
	Home  int
	Away  int
	Known bool
}

// Counted is a known statistic.
func Counted(home, away int) Count { return Count{Home: home, Away: away, Known: true} }

// Stats are a match's statistics. Every field is optional: a source fills
// what it has. Since source API 1.2 and features API 1.1; plugins built
// against earlier versions neither send nor receive them.
type Stats struct {
	Shots         Count `json:",omitzero"`
	ShotsOnTarget Count `json:",omitzero"`
	Corners       Count `json:",omitzero"`
	Fouls         Count `json:",omitzero"`
	YellowCards   Count `json:",omitzero"`
	RedCards      Count `json:",omitzero"`
	// HalfTimeGoals is the score at half time.
	HalfTimeGoals Count `json:",omitzero"`
}

// StatNames are the statistics in the order Stats.All gives them, as the
// data contract and the store name them.
var StatNames = []string{"shots", "shots_on_target", "corners", "fouls", "yellow_cards", "red_cards", "half_time_goals"}

// All are pointers to the statistics in StatNames order.
func (s *Stats) All() []*Count {
	return []*Count{&s.Shots, &s.ShotsOnTarget, &s.Corners, &s.Fouls, &s.YellowCards, &s.RedCards, &s.HalfTimeGoals}
}

// Fixture returns the match as a fixture to forecast. Only pre-match odds
// come along: closing prices are not known before kick-off, so they can never
// leak into features this way.
func (m Match) Fixture() Fixture {
	f := Fixture{ID: m.ID, Competition: m.Competition, Season: m.Season, Kickoff: m.Kickoff,
		HomeTeam: m.HomeTeam, AwayTeam: m.AwayTeam}
	for _, o := range m.Odds {
		if !o.Closing {
			f.Odds = append(f.Odds, o)
		}
	}
	return f
}

// OddsOf returns the bookmaker's pre-match or closing odds, if the match has them.
func (m Match) OddsOf(bookmaker string, closing bool) (Odds, bool) {
	for _, o := range m.Odds {
		if o.Bookmaker == bookmaker && o.Closing == closing {
			return o, true
		}
	}
	return Odds{}, false
}

// Fixture is a match to forecast.
type Fixture struct {
	ID          string
	Competition string
	Season      string
	Kickoff     time.Time
	HomeTeam    string
	AwayTeam    string
	// Odds are pre-match prices known before kick-off (never closing prices).
	Odds []Odds
}

// OddsOf returns the bookmaker's pre-match odds, if the fixture has them.
func (f Fixture) OddsOf(bookmaker string) (Odds, bool) {
	for _, o := range f.Odds {
		if o.Bookmaker == bookmaker && !o.Closing {
			return o, true
		}
	}
	return Odds{}, false
}

// Column is a named, typed column of a feature row or of a model signature.
// Types use MLflow's column type names ("double", "long", "boolean", ...).
type Column struct {
	Name string
	Type string
}

// Probabilities are a forecast of home win, draw and away win.
type Probabilities struct {
	Home float64
	Draw float64
	Away float64
}

// SumTolerance is how far from 1 a forecast's probabilities may sum.
const SumTolerance = 1e-6

// ErrInvalidProbabilities is wrapped by Validate's errors.
var ErrInvalidProbabilities = errors.New("invalid probabilities")

// Validate checks that every probability is finite and in [0, 1] and that
// they sum to 1 within SumTolerance.
func (p Probabilities) Validate() error {
	for _, v := range []float64{p.Home, p.Draw, p.Away} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1 {
			return fmt.Errorf("%w: %v is not a probability (home=%v draw=%v away=%v)", ErrInvalidProbabilities, v, p.Home, p.Draw, p.Away)
		}
	}
	if s := p.Home + p.Draw + p.Away; math.Abs(s-1) > SumTolerance {
		return fmt.Errorf("%w: home=%v draw=%v away=%v sum to %v, not 1", ErrInvalidProbabilities, p.Home, p.Draw, p.Away, s)
	}
	return nil
}

// GoalMarkets is a goals model's forecast of a fixture beyond home/draw/away
// (model API 1.1): the expected goals, over 2.5 goals, both teams to score
// and the likeliest full-time scores.
type GoalMarkets struct {
	ExpectedHomeGoals float64
	ExpectedAwayGoals float64
	// Over25 is P(three goals or more); under 2.5 is 1 − Over25.
	Over25 float64
	// BothScore is P(each team scores at least once).
	BothScore float64
	// Scorelines are the likeliest full-time scores, likeliest first.
	Scorelines []Scoreline
}

// Scoreline is one full-time score and its probability.
type Scoreline struct {
	Home, Away  int
	Probability float64
}

// Validate says what is wrong with a goals forecast: a probability outside
// [0, 1], negative or non-finite expected goals, scorelines out of order or
// adding up to more than 1.
func (m GoalMarkets) Validate() error {
	for _, c := range []struct {
		name string
		v    float64
	}{{"over 2.5", m.Over25}, {"both teams score", m.BothScore}} {
		if math.IsNaN(c.v) || c.v < 0 || c.v > 1 {
			return fmt.Errorf("%w: %s %v is not a probability", ErrInvalidProbabilities, c.name, c.v)
		}
	}
	for _, g := range []float64{m.ExpectedHomeGoals, m.ExpectedAwayGoals} {
		if math.IsNaN(g) || math.IsInf(g, 0) || g < 0 {
			return fmt.Errorf("%w: expected goals %v", ErrInvalidProbabilities, g)
		}
	}
	sum := 0.0
	for i, sl := range m.Scorelines {
		if sl.Home < 0 || sl.Away < 0 || math.IsNaN(sl.Probability) || sl.Probability < 0 || sl.Probability > 1 {
			return fmt.Errorf("%w: scoreline %d-%d with probability %v", ErrInvalidProbabilities, sl.Home, sl.Away, sl.Probability)
		}
		if i > 0 && sl.Probability > m.Scorelines[i-1].Probability {
			return fmt.Errorf("%w: scorelines are not likeliest first (%d-%d after %d-%d)", ErrInvalidProbabilities, sl.Home, sl.Away, m.Scorelines[i-1].Home, m.Scorelines[i-1].Away)
		}
		sum += sl.Probability
	}
	if sum > 1+SumTolerance {
		return fmt.Errorf("%w: scorelines add up to %v", ErrInvalidProbabilities, sum)
	}
	return nil
}

// ResultOf is the result of a final score.
func ResultOf(homeGoals, awayGoals int) Result {
	switch {
	case homeGoals > awayGoals:
		return HomeWin
	case homeGoals < awayGoals:
		return AwayWin
	}
	return Draw
}

// NewMatch returns a scheduled match with its stable ID (MatchID) and the kick-off
// in UTC; kickoffTimeKnown says whether the time of day is real (some
// sources give only a date).
func NewMatch(competition, season string, kickoff time.Time, kickoffTimeKnown bool, homeTeam, awayTeam string) Match {
	return Match{ID: MatchID(competition, season, homeTeam, awayTeam), Competition: competition, Season: season,
		Kickoff: kickoff.UTC(), KickoffTimeKnown: kickoffTimeKnown, HomeTeam: homeTeam, AwayTeam: awayTeam, Status: Scheduled}
}

// Played returns m finished with a final score, its result set to match.
func (m Match) Played(homeGoals, awayGoals int) Match {
	m.Status, m.HomeGoals, m.AwayGoals, m.Result = Finished, homeGoals, awayGoals, ResultOf(homeGoals, awayGoals)
	return m
}

// MatchID is a stable match ID from what identifies a league match: a pairing
// plays once at home per league season, so competition, season and teams
// name it even when the publisher later corrects its date or score, and two
// sources using the same team names give the same ID. Parts are lower-cased
// and reduced to letters, digits and single dashes, e.g.
// MatchID("E0", "2324", "Man United", "Nott'm Forest") is
// "e0-2324-man-united-v-nottm-forest".
func MatchID(competition, season, homeTeam, awayTeam string) string {
	return Slug(competition) + "-" + Slug(season) + "-" + Slug(homeTeam) + "-v-" + Slug(awayTeam)
}

// Slug lower-cases s and keeps ASCII letters and digits, joining the runs
// between them with single dashes; apostrophes and dots are dropped ("St.
// Pauli" is "st-pauli", "Nott'm Forest" is "nottm-forest").
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '\'' || r == '.':
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
