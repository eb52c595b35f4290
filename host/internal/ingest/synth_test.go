package ingest

import (
	"context"
	"testing"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/synth"
)

// The scale benchmark's corpus in football-data.co.uk's full layout (106
// columns) goes through the real source plugin and the data contract
// whole: every match loads, none is quarantined, and each carries its
// statistics and every bookmaker's pre-match and closing prices.
func TestSyntheticFullLayoutIngests(t *testing.T) {
	dir := t.TempDir()
	n, err := synth.Write(dir, synth.MatchesPerSeason*synth.Seasons, 3, synth.Full, nil)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := footballdata(t, map[string]any{"dir": dir})
	s := sqlite(t)
	res, err := runner(t, s).Run(context.Background(), Source{Name: "footballdata", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != n || res.Applied != (store.Applied{Loaded: n}) {
		t.Fatalf("ingest: %+v, want %d loaded and nothing quarantined", res, n)
	}
	ms, err := s.Matches(context.Background(), store.MatchQuery{Season: "2324", Limit: 50})
	if err != nil || len(ms) != 50 {
		t.Fatalf("%d matches, %v", len(ms), err)
	}
	for _, m := range ms {
		pre, closing := 0, 0
		for _, o := range m.Odds {
			if o.Closing {
				closing++
			} else {
				pre++
			}
		}
		if pre < 8 || closing < 8 || !m.Stats.Shots.Known || !m.Stats.HalfTimeGoals.Known {
			t.Fatalf("%s: %d pre-match and %d closing prices, statistics %+v", m.ID, pre, closing, m.Stats)
		}
	}
}
