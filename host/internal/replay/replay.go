// Package replay builds point-in-time features by replaying history through a
// feature plugin: for each match day, Compute the day's fixtures, then Observe
// their results. Training (Dataset) and serving (Warm) drive the plugin through
// the very same sequence, so a feature row for a past match is exactly what
// serving would have computed before it kicked off: no leakage, no skew.
package replay

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Days splits finished matches, which must be in kick-off order, into match
// days (UTC calendar dates).
func Days(matches []soccer.Match) ([][]soccer.Match, error) {
	var days [][]soccer.Match
	start := 0
	for i, m := range matches {
		if m.Status != soccer.Finished {
			return nil, fmt.Errorf("replay: match %s is %s; only finished matches are replayed", m.ID, m.Status)
		}
		if i > 0 && m.Kickoff.Before(matches[i-1].Kickoff) {
			return nil, fmt.Errorf("replay: match %s is out of kick-off order", m.ID)
		}
		if i > 0 && day(m.Kickoff) != day(matches[i-1].Kickoff) {
			days = append(days, matches[start:i:i])
			start = i
		}
	}
	if len(matches) > 0 {
		days = append(days, matches[start:len(matches):len(matches)])
	}
	// The days are windows on matches, not copies: at a million matches a
	// copy is a quarter of a gigabyte. Full slice expressions keep an append
	// to one day from writing into the next.
	return days, nil
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// Warm observes matches day by day, exactly as Replay does, leaving the
// feature state where serving needs it.
func Warm(ctx context.Context, fs features.FeatureSet, matches []soccer.Match) error {
	days, err := Days(matches)
	if err != nil {
		return err
	}
	for _, d := range days {
		if err := fs.Observe(ctx, features.ObserveRequest{Matches: d}); err != nil {
			return fmt.Errorf("replay: observe %s: %w", day(d[0].Kickoff), err)
		}
	}
	return nil
}

// Example is one replayed match: its point-in-time features and its outcome.
type Example struct {
	Match  soccer.Match
	Values []float64
	// Unpriced are the features the same fixture gets without its pre-match
	// odds, as a caller who sends none would; nil when it had none anyway.
	// Training on both teaches a model the requests it will really see.
	Unpriced []float64
}

// Replay runs history through a fresh feature set and returns one example per
// match, in kick-off order. The feature set must start empty. With unpriced,
// each priced fixture is also computed without its odds (for training);
// serving does not need that.
func Replay(ctx context.Context, fs features.FeatureSet, matches []soccer.Match, unpriced bool, progress func(done, total int)) ([]Example, error) {
	schema, err := fs.Schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("replay: schema: %w", err)
	}
	days, err := Days(matches)
	if err != nil {
		return nil, err
	}
	out := make([]Example, 0, len(matches))
	for i, d := range days {
		fixtures := make([]soccer.Fixture, len(d), 2*len(d))
		for j, m := range d {
			fixtures[j] = m.Fixture()
		}
		// The same fixtures without their odds ride in the same call (Compute
		// changes no state): one round trip a match day, not two.
		if unpriced {
			for _, f := range fixtures[:len(d)] {
				if len(f.Odds) > 0 {
					f.Odds = nil
					fixtures = append(fixtures, f)
				}
			}
		}
		resp, err := fs.Compute(ctx, features.ComputeRequest{Fixtures: fixtures})
		if err != nil {
			return nil, fmt.Errorf("replay: compute %s: %w", day(d[0].Kickoff), err)
		}
		if err := CheckRows(schema, fixtures, resp.Rows); err != nil {
			return nil, fmt.Errorf("replay: %s: %w", day(d[0].Kickoff), err)
		}
		bare := map[string][]float64{}
		for _, r := range resp.Rows[len(d):] {
			bare[r.FixtureID] = r.Values
		}
		for j, m := range d {
			out = append(out, Example{Match: m, Values: resp.Rows[j].Values, Unpriced: bare[m.ID]})
		}
		if err := fs.Observe(ctx, features.ObserveRequest{Matches: d}); err != nil {
			return nil, fmt.Errorf("replay: observe %s: %w", day(d[0].Kickoff), err)
		}
		if progress != nil {
			progress(i+1, len(days))
		}
	}
	return out, nil
}

// CheckRows verifies what a feature plugin answered: one finite row per
// fixture, in order, of the schema's width. A plugin that lies is caught here.
func CheckRows(schema features.Schema, fixtures []soccer.Fixture, rows []features.Row) error {
	if len(rows) != len(fixtures) {
		return fmt.Errorf("feature plugin returned %d rows for %d fixtures", len(rows), len(fixtures))
	}
	for i, r := range rows {
		if r.FixtureID != fixtures[i].ID {
			return fmt.Errorf("feature plugin returned row %d for %q, want %q", i, r.FixtureID, fixtures[i].ID)
		}
		if len(r.Values) != len(schema.Columns) {
			return fmt.Errorf("feature plugin returned %d values for %s, the schema has %d columns", len(r.Values), r.FixtureID, len(schema.Columns))
		}
		for j, v := range r.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("feature plugin returned %v for %s column %s", v, r.FixtureID, schema.Columns[j].Name)
			}
		}
	}
	return nil
}

// Hasher fingerprints a set of examples (features and outcomes), one at a
// time: the training data hash recorded with a model.
type Hasher struct {
	h hash.Hash
	b [8]byte
}

// NewHasher starts a Hasher.
func NewHasher() *Hasher { return &Hasher{h: sha256.New()} }

// Add hashes the next example.
func (h *Hasher) Add(e Example) {
	h.h.Write([]byte(e.Match.ID))
	h.h.Write([]byte(e.Match.Result))
	for _, vs := range [][]float64{e.Values, e.Unpriced} {
		for _, v := range vs {
			binary.LittleEndian.PutUint64(h.b[:], math.Float64bits(v))
			h.h.Write(h.b[:])
		}
	}
}

// Sum is the hash of the examples added so far.
func (h *Hasher) Sum() string { return hex.EncodeToString(h.h.Sum(nil)) }
