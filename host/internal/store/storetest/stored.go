package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features/featuretest"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// ObjectsStillRead checks that a match whose prices and statistics a store
// holds as the JSON objects stores wrote before the compact rows reads back
// the same. rewrite sets a match's odds and stats columns to the given
// text, in the store's own SQL.
func ObjectsStillRead(t *testing.T, s store.Store, rewrite func(id, odds, stats string) error) {
	t.Helper()
	ctx := context.Background()
	m := featuretest.League(4, 1, 1)[0]
	m.Odds = []soccer.Odds{{Bookmaker: "B365", Home: 1.83, Draw: 3.89, Away: 4.05}, {Bookmaker: "PS", Closing: true, Home: 1.8, Draw: 4, Away: 4.2}}
	m.Stats = soccer.Stats{Shots: soccer.Counted(24, 11), Fouls: soccer.Count{Home: 1}}
	if _, err := s.Apply(ctx, store.Batch{RunID: "r1", Source: "synthetic", File: source.File{Name: "SYN/objects.csv"}, Matches: []soccer.Match{m}}); err != nil {
		t.Fatal(err)
	}
	odds, _ := json.Marshal(m.Odds)
	stats, _ := json.Marshal(m.Stats)
	if err := rewrite(m.ID, string(odds), string(stats)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Matches(ctx, store.MatchQuery{})
	if err != nil || len(got) != 1 {
		t.Fatalf("%d matches, %v", len(got), err)
	}
	if !reflect.DeepEqual(got[0].Odds, m.Odds) || got[0].Stats != m.Stats {
		t.Fatalf("objects read back as %+v, %+v; want %+v, %+v", got[0].Odds, got[0].Stats, m.Odds, m.Stats)
	}
}
