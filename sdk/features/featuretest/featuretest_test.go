package featuretest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/features/featuretest"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// goalDifference is a tiny feature set: each team's running goal difference.
type goalDifference struct {
	State struct {
		GD   map[string]float64
		Last time.Time
	}
}

func newGoalDifference(context.Context, plugin.Env) (features.FeatureSet, error) {
	g := &goalDifference{}
	g.State.GD = map[string]float64{}
	return g, nil
}

func (g *goalDifference) Schema(context.Context) (features.Schema, error) {
	return features.Schema{Version: "gd-1", Columns: []soccer.Column{{Name: "home_gd", Type: "double"}, {Name: "away_gd", Type: "double"}}}, nil
}

func (g *goalDifference) Observe(_ context.Context, req features.ObserveRequest) error {
	last := g.State.Last
	for _, m := range req.Matches {
		if m.Kickoff.Before(last) {
			return fmt.Errorf("match %s at %v is before %v", m.ID, m.Kickoff, last)
		}
		last = m.Kickoff
	}
	for _, m := range req.Matches {
		d := float64(m.HomeGoals - m.AwayGoals)
		g.State.GD[m.HomeTeam] += d
		g.State.GD[m.AwayTeam] -= d
	}
	g.State.Last = last
	return nil
}

func (g *goalDifference) Compute(_ context.Context, req features.ComputeRequest) (features.ComputeResponse, error) {
	var resp features.ComputeResponse
	for _, f := range req.Fixtures {
		resp.Rows = append(resp.Rows, features.Row{FixtureID: f.ID, Values: []float64{g.State.GD[f.HomeTeam], g.State.GD[f.AwayTeam]}})
	}
	return resp, nil
}

func (g *goalDifference) Snapshot(context.Context) ([]byte, error) { return json.Marshal(g.State) }

func (g *goalDifference) Restore(_ context.Context, b []byte) error {
	return json.Unmarshal(b, &g.State)
}

func TestGoalDifferenceConforms(t *testing.T) {
	featuretest.Run(t, newGoalDifference, featuretest.Options{})
}

func TestLeagueIsARoundRobinInKickoffOrder(t *testing.T) {
	ms := featuretest.League(6, 2, 9)
	if len(ms) != 2*6*5 {
		t.Fatalf("got %d matches, want %d", len(ms), 2*6*5)
	}
	pairs := map[string]bool{}
	for i, m := range ms {
		if i > 0 && m.Kickoff.Before(ms[i-1].Kickoff) {
			t.Fatalf("match %d is out of kick-off order", i)
		}
		if m.HomeTeam == m.AwayTeam {
			t.Fatalf("%s plays itself", m.HomeTeam)
		}
		k := m.Season + m.HomeTeam + "|" + m.AwayTeam
		if pairs[k] {
			t.Fatalf("%s plays twice at home", k)
		}
		pairs[k] = true
	}
}
