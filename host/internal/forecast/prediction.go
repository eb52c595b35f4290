package forecast

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/fault"
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

// Metrics is told what the predictor serves.
type Metrics interface {
	Predictions(computed, cached int)
	Generation(id int64)
	// Batch is told each coalesced batch's size and how long each of its
	// fixtures queued before the batch started.
	Batch(size int, waited []time.Duration)
}

type noMetrics struct{}

func (noMetrics) Predictions(int, int) {}

func (noMetrics) Generation(int64) {}

func (noMetrics) Batch(int, []time.Duration) {}

// DefaultCacheEntries bounds a generation's prediction cache unless
// CacheEntries says otherwise.
const DefaultCacheEntries = 50000

// Competition is a competition the predictor knows, with its teams.
type Competition struct {
	Code  string
	Name  string // the name people know it by ("Premier League"); the code when none is known
	Teams []string
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

// ClosingBookmaker is the benchmark bookmaker (Pinnacle: PSH/PSD/PSA pre-match,
// PSCH/PSCD/PSCA closing): its prices are preferred wherever one bookmaker's
// are shown or compared, and a price given without a bookmaker is taken as its.
const ClosingBookmaker = "PS"
