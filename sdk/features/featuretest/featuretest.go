// Package featuretest is the conformance suite of feature plugins. Every
// check runs against the implementation directly and through the real gRPC
// shim in-process; both must compute the very same rows.
package featuretest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/internal/shim"
	"github.com/soccerpredict/soccerpredict/sdk/internal/shimtest"
	"github.com/soccerpredict/soccerpredict/sdk/plugin/plugintest"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// Options configure the suite.
type Options struct {
	// Settings are the plugin's settings as in host config: a map or a
	// struct (encoded as JSON, as the host does), or plugin.Settings.
	Settings any
	// History is completed matches in kick-off order; nil means a synthetic
	// league (League(8, 2, 1)).
	History []soccer.Match
}

// ColumnTypes are the feature column types the host understands.
var ColumnTypes = []string{"double", "float", "long", "integer", "boolean"}

// Run runs the conformance suite.
func Run(t *testing.T, factory features.Factory, opts Options) {
	t.Helper()
	if opts.History == nil {
		opts.History = League(8, 2, 1)
	}
	if len(opts.History) < 4 {
		t.Fatalf("featuretest needs at least 4 matches of history, got %d", len(opts.History))
	}
	env := plugintest.Env(t, "under-test", opts.Settings)
	newDirect := func(t *testing.T) features.FeatureSet {
		fs, err := factory(context.Background(), env)
		if err != nil {
			t.Fatalf("factory: %v", err)
		}
		return fs
	}
	newRemote := func(t *testing.T) features.FeatureSet {
		return shimtest.Dispense(t, wire.KindFeatures, shim.FeaturesPlugin("under-test", "0.0.0-test", factory), env.Settings).(features.FeatureSet)
	}
	var answers [][]features.Row
	for _, c := range []struct {
		name string
		make func(*testing.T) features.FeatureSet
	}{{"direct", newDirect}, {"grpc", newRemote}} {
		t.Run(c.name, func(t *testing.T) {
			answers = append(answers, check(t, c.make, opts.History))
		})
	}
	t.Run("grpc equals direct", func(t *testing.T) {
		if len(answers) != 2 {
			t.Skip("an earlier check failed")
		}
		if !reflect.DeepEqual(answers[0], answers[1]) {
			t.Fatalf("the gRPC shim changed the rows: direct and gRPC answers differ")
		}
	})
}

func check(t *testing.T, newSet func(*testing.T) features.FeatureSet, history []soccer.Match) []features.Row {
	ctx := context.Background()
	fs := newSet(t)
	schema, err := fs.Schema(ctx)
	if err != nil {
		t.Fatalf("Schema: %v", err)
	}
	t.Run("schema", func(t *testing.T) {
		if schema.Version == "" || len(schema.Columns) == 0 {
			t.Fatalf("schema needs a version and columns, got %+v", schema)
		}
		seen := map[string]bool{}
		for _, c := range schema.Columns {
			if c.Name == "" || seen[c.Name] {
				t.Errorf("column name %q is empty or repeated", c.Name)
			}
			seen[c.Name] = true
			if !slices.Contains(ColumnTypes, c.Type) {
				t.Errorf("column %q has type %q, want one of %v", c.Name, c.Type, ColumnTypes)
			}
		}
	})
	fixtures := fixturesOf(history[len(history)-4:])
	rows := compute(t, fs, schema, fixtures, "before any Observe")

	half := len(history) / 2
	if err := fs.Observe(ctx, features.ObserveRequest{Matches: history[:half]}); err != nil {
		t.Fatalf("Observe first half: %v", err)
	}
	snap, err := fs.Snapshot(ctx)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if err := fs.Observe(ctx, features.ObserveRequest{Matches: history[half:]}); err != nil {
		t.Fatalf("Observe second half: %v", err)
	}
	rows = compute(t, fs, schema, fixtures, "after history")
	t.Run("compute does not change state", func(t *testing.T) {
		again := compute(t, fs, schema, fixtures, "again")
		if !reflect.DeepEqual(rows, again) {
			t.Fatalf("two Computes of the same fixtures differ")
		}
	})
	t.Run("history changes features", func(t *testing.T) {
		fresh := newSet(t)
		before := compute(t, fresh, schema, fixtures, "fresh")
		if reflect.DeepEqual(before, rows) {
			t.Fatalf("rows after %d observed matches equal the rows of an empty state", len(history))
		}
	})
	t.Run("out of order observe is an error", func(t *testing.T) {
		early := history[0]
		if err := fs.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{early}}); err == nil {
			t.Fatalf("Observe accepted match %s (kick-off %v) after matches up to %v", early.ID, early.Kickoff, history[len(history)-1].Kickoff)
		}
		if got := compute(t, fs, schema, fixtures, "after rejected observe"); !reflect.DeepEqual(got, rows) {
			t.Fatalf("a rejected Observe changed the state")
		}
		// All or nothing: a batch whose first match is fine and whose second
		// is out of order leaves no trace of the first.
		later := history[len(history)-1]
		later.ID, later.Kickoff = later.ID+"-later", later.Kickoff.AddDate(0, 0, 7)
		later.HomeGoals, later.AwayGoals, later.Result = 5, 0, soccer.HomeWin
		if err := fs.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{later, early}}); err == nil {
			t.Fatalf("Observe accepted a batch with match %s out of order", early.ID)
		}
		if got := compute(t, fs, schema, fixtures, "after a rejected batch"); !reflect.DeepEqual(got, rows) {
			t.Fatalf("a rejected Observe batch applied part of itself: Observe must be all or nothing")
		}
	})
	t.Run("snapshot and restore", func(t *testing.T) {
		other := newSet(t)
		if err := other.Restore(ctx, snap); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		if err := other.Observe(ctx, features.ObserveRequest{Matches: history[half:]}); err != nil {
			t.Fatalf("Observe after Restore: %v", err)
		}
		if got := compute(t, other, schema, fixtures, "restored"); !reflect.DeepEqual(got, rows) {
			t.Fatalf("restored state computes different rows than the original")
		}
		if err := other.Restore(ctx, []byte("not a snapshot")); err == nil {
			t.Errorf("Restore accepted garbage")
		}
	})
	return rows
}

func compute(t *testing.T, fs features.FeatureSet, schema features.Schema, fixtures []soccer.Fixture, when string) []features.Row {
	t.Helper()
	resp, err := fs.Compute(context.Background(), features.ComputeRequest{Fixtures: fixtures})
	if err != nil {
		t.Fatalf("Compute %s: %v", when, err)
	}
	if len(resp.Rows) != len(fixtures) {
		t.Fatalf("Compute %s: %d rows for %d fixtures", when, len(resp.Rows), len(fixtures))
	}
	for i, r := range resp.Rows {
		if r.FixtureID != fixtures[i].ID {
			t.Errorf("Compute %s: row %d is for %q, want %q", when, i, r.FixtureID, fixtures[i].ID)
		}
		if len(r.Values) != len(schema.Columns) {
			t.Fatalf("Compute %s: row %d has %d values for %d columns", when, i, len(r.Values), len(schema.Columns))
		}
		for j, v := range r.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("Compute %s: row %d column %s is %v", when, i, schema.Columns[j].Name, v)
			}
		}
	}
	return resp.Rows
}

func fixturesOf(ms []soccer.Match) []soccer.Fixture {
	out := make([]soccer.Fixture, len(ms))
	for i, m := range ms {
		f := m.Fixture()
		f.ID = "next-" + m.ID
		f.Kickoff = m.Kickoff.Add(365 * 24 * time.Hour)
		out[i] = f
	}
	return out
}

// League makes a deterministic synthetic league: teams play a double
// round-robin each season, a round a week, with goals drawn from team
// strengths, pre-match odds from a noisy view of them, and statistics
// (shots, shots on target, corners, fouls, cards, half-time score) that
// agree with the score.
func League(teams, seasons int, seed uint64) []soccer.Match {
	rng := rand.New(rand.NewPCG(seed, 42))
	stats := rand.New(rand.NewPCG(seed, 43)) // its own stream: the scores stay what they were
	strength := make([]float64, teams)
	for i := range strength {
		strength[i] = rng.NormFloat64() * 0.4
	}
	kick := time.Date(2020, 8, 8, 14, 0, 0, 0, time.UTC)
	var out []soccer.Match
	for s := range seasons {
		season := fmt.Sprintf("%02d%02d", 20+s, 21+s)
		for round := 0; round < 2*(teams-1); round++ {
			for k := 0; k < teams/2; k++ {
				h, a := pairing(teams, round%(teams-1), k)
				if round >= teams-1 {
					h, a = a, h
				}
				lh := math.Exp(0.25 + strength[h] - strength[a])
				la := math.Exp(strength[a] - strength[h])
				hg, ag := poisson(rng, lh), poisson(rng, la)
				res := soccer.ResultOf(hg, ag)
				ph := 1 / (1 + math.Exp(-(0.3 + strength[h] - strength[a])))
				out = append(out, soccer.Match{
					ID:          fmt.Sprintf("syn-%s-%d-%d", season, h, a),
					Competition: "SYN", Season: season,
					Kickoff: kick.Add(time.Duration(k) * time.Hour), KickoffTimeKnown: true,
					HomeTeam: fmt.Sprintf("Team %c", 'A'+h), AwayTeam: fmt.Sprintf("Team %c", 'A'+a),
					Status: soccer.Finished, HomeGoals: hg, AwayGoals: ag, Result: res,
					Odds:  []soccer.Odds{{Bookmaker: "SYN", Home: 1.05 / (0.75 * ph), Draw: 1.05 / 0.27, Away: 1.05 / (0.75 * (1 - ph))}},
					Stats: syntheticStats(stats, hg, ag, lh, la),
				})
			}
			kick = kick.Add(7 * 24 * time.Hour)
		}
		kick = kick.Add(60 * 24 * time.Hour)
	}
	return out
}

// syntheticStats are statistics consistent with a score: goals ≤ shots on
// target ≤ shots, half-time goals ≤ goals.
func syntheticStats(rng *rand.Rand, hg, ag int, lh, la float64) soccer.Stats {
	sot := [2]int{hg + poisson(rng, 2.5*lh), ag + poisson(rng, 2.5*la)}
	shots := [2]int{sot[0] + poisson(rng, 7*lh), sot[1] + poisson(rng, 7*la)}
	half := func(g int) int {
		n := 0
		for range g {
			if rng.Float64() < 0.45 {
				n++
			}
		}
		return n
	}
	return soccer.Stats{Shots: soccer.Counted(shots[0], shots[1]), ShotsOnTarget: soccer.Counted(sot[0], sot[1]),
		Corners: soccer.Counted(poisson(rng, 3.5*lh), poisson(rng, 3.5*la)), Fouls: soccer.Counted(poisson(rng, 11), poisson(rng, 11)),
		YellowCards: soccer.Counted(poisson(rng, 1.7), poisson(rng, 1.9)), RedCards: soccer.Counted(poisson(rng, 0.05), poisson(rng, 0.06)),
		HalfTimeGoals: soccer.Counted(half(hg), half(ag))}
}

// pairing is the circle method of round-robin scheduling.
func pairing(n, round, k int) (int, int) {
	if k == 0 {
		return n - 1, round % (n - 1)
	}
	return (round + k) % (n - 1), (round - k + n - 1) % (n - 1)
}

func poisson(rng *rand.Rand, lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
