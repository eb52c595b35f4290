package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"time"
)

// ForecastLog keeps the forecasts the host served, so they can be scored
// when the results arrive. Identical answers — the same fixture, model
// version, probabilities, price given, route and key — are one row with a
// count and the first and last times they were served.
type ForecastLog interface {
	// LogForecasts adds entries in one statement. An entry whose Key is
	// stored already adds its Count to the row's and widens its first and
	// last times, so two processes logging the same answer at once lose
	// and double nothing. Entries of one call have distinct keys.
	LogForecasts(ctx context.Context, entries []LoggedForecast) error
	// LoggedForecasts lists entries first served in [From, To), oldest
	// first (newest last served first with Newest).
	LoggedForecasts(ctx context.Context, q ForecastQuery) ([]LoggedForecast, error)
	// CountForecasts counts what LoggedForecasts would list (Limit aside).
	CountForecasts(ctx context.Context, q ForecastQuery) (ForecastCounts, error)
	// PruneForecasts deletes entries last served before t and returns how many.
	PruneForecasts(ctx context.Context, before time.Time) (int, error)
}

// ForecastQuery filters the forecast log; zero fields match everything.
type ForecastQuery struct {
	From, To    time.Time
	Competition string
	Version     int
	MatchIDs    []string
	// Scorable keeps only forecasts of matches the store has finished,
	// first served before the match's kick-off: what can be scored.
	Scorable bool
	// Features reads each entry's feature row (left nil otherwise: the
	// rows are the bulk of the log, and only drift needs them).
	Features bool
	// Newest lists the most recently served first.
	Newest bool
	Limit  int
}

// ForecastCounts sums a part of the log.
type ForecastCounts struct {
	Rows      int   // log rows
	Forecasts int64 // forecasts they stand for
	Fixtures  int   // distinct fixtures
	// Awaiting are the fixtures whose match the store does not have finished.
	Awaiting int
	// Versions are the model versions with logged forecasts, ascending.
	Versions []int
}

// LoggedForecast is one served forecast (or several identical ones).
type LoggedForecast struct {
	// MatchID is the fixture's canonical match ID (competition, season and
	// teams), the one its result is stored under.
	MatchID     string
	Competition string
	Season      string
	HomeTeam    string
	AwayTeam    string
	// Kickoff is the kick-off the caller asked about (now, when none was
	// given); of identical answers, the first one's.
	Kickoff       time.Time
	Probabilities [3]float64
	Model         string
	Version       int
	Generation    int64
	FeatureSchema string
	// Market is the de-margined price the request carried; nil without one.
	Market *[3]float64
	// Route is where it was served: "sync", "batch", "async", "oip-rest",
	// "oip-grpc", "batch-predict", "backfill", "shadow".
	Route string
	// KeyID is the API key's ID (never the key); "" without authentication.
	KeyID string
	// Features is the feature row the model was given, in the schema's
	// order, for drift; empty when it was not kept.
	Features []float64
	Count    int64
	FirstAt  time.Time
	LastAt   time.Time
}

// Key is the entry's identity: what makes two answers the same answer.
// The match (its ID: competition, season, teams), not the kick-off time a
// caller wrote: the same answer about the same match asked with another
// kick-off minute is the same answer, kept once with the first kick-off
// asked. The match's stored kick-off is what scoring compares with.
func (f LoggedForecast) Key() string {
	h := sha256.New()
	str := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	num := func(v float64) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	str(f.MatchID)
	str(f.Model)
	num(float64(f.Version))
	num(float64(f.Generation))
	for _, p := range f.Probabilities {
		num(p)
	}
	if f.Market != nil {
		for _, p := range f.Market {
			num(p)
		}
	}
	str(f.Route)
	str(f.KeyID)
	return hex.EncodeToString(h.Sum(nil)[:16])
}
