package monitor

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

type ingestFake struct {
	runs    []store.IngestRun
	matches []soccer.Match
}

func (f ingestFake) Runs(context.Context, int) ([]store.IngestRun, error) { return f.runs, nil }

// Matches filters as the stores do: kick-off in [From, To), in kick-off
// order, at most Limit.
func (f ingestFake) Matches(_ context.Context, q store.MatchQuery) ([]soccer.Match, error) {
	var out []soccer.Match
	for _, m := range f.matches {
		if (q.From.IsZero() || !m.Kickoff.Before(q.From)) && (q.To.IsZero() || m.Kickoff.Before(q.To)) {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b soccer.Match) int { return a.Kickoff.Compare(b.Kickoff) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// seasonOf is a 20-team season's 380 matches; priced says how many carry a
// pre-match price, and rename gives one club another name.
func seasonOf(year int, teams []string, priced int) []soccer.Match {
	var out []soccer.Match
	for i, h := range teams {
		for j, a := range teams {
			if i == j {
				continue
			}
			m := soccer.Match{ID: fmt.Sprintf("%d-%s-%s", year, h, a), Competition: "E0", Season: fmt.Sprint(year), HomeTeam: h, AwayTeam: a,
				Kickoff: time.Date(year, 8, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(len(out)) * time.Hour), Status: soccer.Finished, Result: soccer.Draw}
			if len(out) < priced {
				m.Odds = []soccer.Odds{{Bookmaker: "PS", Home: 2, Draw: 3, Away: 4}}
			}
			out = append(out, m)
		}
	}
	return out
}

func TestIngestChecks(t *testing.T) {
	teams := func(prefix string, from, n int) []string {
		var out []string
		for i := from; i < from+n; i++ {
			out = append(out, fmt.Sprintf("%s%02d", prefix, i))
		}
		return out
	}
	// Three promoted clubs a season is ordinary; a source that renames
	// ten clubs and stops sending most prices is not.
	var matches []soccer.Match
	for y := 0; y < 4; y++ {
		matches = append(matches, seasonOf(2019+y, teams("Club", 3*y, 20), 380)...)
	}
	renamed := append(teams("Club", 12, 10), teams("Renamed", 22, 10)...)
	matches = append(matches, seasonOf(2023, renamed, 100)...)
	runs := []store.IngestRun{
		{Source: "fd", Read: 1000, Applied: store.Applied{Quarantined: 80}},
		{Source: "fd", Read: 1000, Applied: store.Applied{Quarantined: 10}},
		{Source: "fd", Read: 1000, Applied: store.Applied{Quarantined: 12}},
		{Source: "of", Read: 500, Applied: store.Applied{Quarantined: 5}},
		{Source: "of", Read: 500, Applied: store.Applied{Quarantined: 6}},
	}
	checks, err := CheckIngest(context.Background(), ingestFake{runs: runs, matches: matches})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]IngestCheck{}
	for _, c := range checks {
		got[c.Scope+"/"+c.Measure] = c
	}
	for key, want := range map[string]bool{"fd/quarantined rows": true, "of/quarantined rows": false, "E0/missing prices": true, "E0/unknown teams": true} {
		c, ok := got[key]
		if !ok || c.Flagged != want {
			t.Errorf("%s: %+v, want flagged %v", key, c, want)
		}
	}
	// The same history with an ordinary newest season flags nothing.
	ordinary := append(matches[:4*380:4*380], seasonOf(2023, teams("Club", 12, 20), 380)...)
	checks, _ = CheckIngest(context.Background(), ingestFake{runs: runs[3:], matches: ordinary})
	for _, c := range checks {
		if c.Flagged {
			t.Errorf("an ordinary season flagged: %s", c)
		}
	}
}
