package ingest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// BenchmarkIngestShipped ingests the 25 shipped files (9,548 matches) through
// the real plugin process into an empty store, and then again (all unchanged).
func BenchmarkIngestShipped(b *testing.B) {
	for name, open := range map[string]func(testing.TB) store.Store{"sqlite": sqlite, "postgres": postgres} {
		b.Run(name, func(b *testing.B) {
			src, _ := footballdata(b, map[string]any{"dir": testbin.Data()})
			for b.Loop() {
				b.StopTimer()
				s := open(b)
				r := runner(b, s)
				b.StartTimer()
				if _, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src}); err != nil {
					b.Fatal(err)
				}
				if _, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckFullLayout runs the data contract (prices, then matches)
// on one season of matches as football-data.co.uk's full layout gives them:
// eight bookmakers' pre-match and closing prices and the statistics.
func BenchmarkCheckFullLayout(b *testing.B) {
	suite, err := LoadSuite(testbin.Expectations())
	if err != nil {
		b.Fatal(err)
	}
	ms := make([]soccer.Match, 380)
	for i := range ms {
		m := soccer.Match{ID: fmt.Sprintf("s001-2324-home-%d-v-away-%d", i%20, i/20), Competition: "S001", Season: "2324",
			Kickoff: time.Date(2023, 8, 12, 15, 0, 0, 0, time.UTC).AddDate(0, 0, i/10), KickoffTimeKnown: true,
			HomeTeam: fmt.Sprintf("Home %d", i%20), AwayTeam: fmt.Sprintf("Away %d", i/20), Status: soccer.Finished,
			HomeGoals: 2, AwayGoals: 1, Result: soccer.HomeWin, Origin: fmt.Sprintf("S001/2324.csv:%d", i+2)}
		for _, bk := range []string{"B365", "BW", "IW", "PS", "WH", "VC", "Max", "Avg"} {
			for _, closing := range []bool{false, true} {
				m.Odds = append(m.Odds, soccer.Odds{Bookmaker: bk, Closing: closing, Home: 2.1, Draw: 3.4, Away: 3.6})
			}
		}
		m.Stats.Shots = soccer.Counted(14, 9)
		m.Stats.ShotsOnTarget = soccer.Counted(5, 3)
		ms[i] = m
	}
	b.ReportAllocs()
	for b.Loop() {
		c := Check(suite, ms, nil)
		if len(c.Reasons) > 0 || c.DroppedQuotes > 0 {
			b.Fatalf("%d quarantined, %d quotes dropped", len(c.Reasons), c.DroppedQuotes)
		}
	}
}
