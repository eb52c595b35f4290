package storetest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// checkForecastLog: identical answers are one row with a count and the
// widest times; two writers at once lose and double nothing; queries
// filter; prune removes what was last served before the cut.
func checkForecastLog(t *testing.T, st store.Store) {
	ctx := context.Background()
	t0 := time.Date(2024, 8, 10, 12, 0, 0, 0, time.UTC)
	entry := func(match string, ph float64, at time.Time) store.LoggedForecast {
		return store.LoggedForecast{MatchID: match, Competition: "E0", Season: "2425", HomeTeam: "Arsenal", AwayTeam: "Chelsea",
			Kickoff: t0.Add(72 * time.Hour), Probabilities: [3]float64{ph, 0.25, 0.75 - ph}, Model: "onnx", Version: 3, Generation: 7,
			FeatureSchema: "ratings-4", Route: "sync", KeyID: "k1", Features: []float64{0.5, -1.25, 3}, Count: 1, FirstAt: at, LastAt: at}
	}
	a := entry("e0-2425-arsenal-v-chelsea", 0.5, t0)
	b := entry("e0-2425-liverpool-v-everton", 0.6, t0.Add(time.Hour))
	b.Competition, b.Market, b.Features, b.KeyID, b.Route = "E1", &[3]float64{0.55, 0.25, 0.2}, nil, "", "batch"
	if err := st.LogForecasts(ctx, []store.LoggedForecast{a, b}); err != nil {
		t.Fatal(err)
	}
	// The same answer again, earlier and later: one row, counted three times.
	again := a
	again.Count, again.FirstAt, again.LastAt = 2, t0.Add(-time.Minute), t0.Add(time.Minute)
	if err := st.LogForecasts(ctx, []store.LoggedForecast{again}); err != nil {
		t.Fatal(err)
	}
	got, err := st.LoggedForecasts(ctx, store.ForecastQuery{Features: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d rows logged, want 2 (identical answers merged): %+v", len(got), got)
	}
	wantA := a
	wantA.Count, wantA.FirstAt, wantA.LastAt = 3, t0.Add(-time.Minute), t0.Add(time.Minute)
	wantB := b
	wantB.Features = []float64{}
	if !reflect.DeepEqual(got[0], wantA) || !reflect.DeepEqual(got[1], wantB) {
		t.Fatalf("logged forecasts read back as\n%+v\n%+v\nwant\n%+v\n%+v", got[0], got[1], wantA, wantB)
	}
	if plain, _ := st.LoggedForecasts(ctx, store.ForecastQuery{}); len(plain) != 2 || plain[0].Features != nil {
		t.Fatalf("features read without being asked for: %+v", plain)
	}
	// A different probability is a different answer.
	other := entry(a.MatchID, 0.51, t0.Add(2*time.Hour))
	if err := st.LogForecasts(ctx, []store.LoggedForecast{other}); err != nil {
		t.Fatal(err)
	}
	// Two processes logging the same answers at once.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				c := b
				c.FirstAt, c.LastAt = t0.Add(time.Duration(i)*time.Second), t0.Add(time.Duration(i)*time.Second)
				if err := st.LogForecasts(ctx, []store.LoggedForecast{c}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent logging: %v", err)
	}
	for _, c := range []struct {
		q    store.ForecastQuery
		want int
	}{
		{store.ForecastQuery{}, 3},
		{store.ForecastQuery{Competition: "E1"}, 1},
		{store.ForecastQuery{From: t0.Add(30 * time.Minute)}, 1},
		{store.ForecastQuery{To: t0}, 1},
		{store.ForecastQuery{MatchIDs: []string{a.MatchID}}, 2},
		{store.ForecastQuery{MatchIDs: []string{}}, 0},
		{store.ForecastQuery{Version: 4}, 0},
		{store.ForecastQuery{Limit: 1}, 1},
	} {
		got, err := st.LoggedForecasts(ctx, c.q)
		if err != nil || len(got) != c.want {
			t.Fatalf("LoggedForecasts(%+v): %d rows (%v), want %d", c.q, len(got), err, c.want)
		}
	}
	if newest, _ := st.LoggedForecasts(ctx, store.ForecastQuery{Newest: true, Limit: 1}); len(newest) != 1 || newest[0].Probabilities[0] != 0.51 {
		t.Fatalf("the newest forecast: %+v", newest)
	}
	got, _ = st.LoggedForecasts(ctx, store.ForecastQuery{Competition: "E1"})
	if got[0].Count != 41 || !got[0].FirstAt.Equal(t0) || !got[0].LastAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after two concurrent writers of 20 each: count %d, first %v, last %v; want 41, %v, %v", got[0].Count, got[0].FirstAt, got[0].LastAt, t0, t0.Add(time.Hour))
	}
	// Counts, and what can be scored: a forecast of a finished match made
	// before its kick-off. a's match is finished after t0; b's is not stored.
	played := soccer.Match{ID: a.MatchID, Competition: "E0", Season: "2425", HomeTeam: "Arsenal", AwayTeam: "Chelsea",
		Kickoff: t0.Add(90 * time.Minute), KickoffTimeKnown: true, Status: soccer.Finished, HomeGoals: 1, AwayGoals: 0, Result: soccer.HomeWin}
	if _, err := st.Apply(ctx, store.Batch{RunID: "r1", Source: "synthetic", File: source.File{Name: "E0/2425.csv", SHA256: "x", Rows: 1},
		Matches: []soccer.Match{played}}); err != nil {
		t.Fatal(err)
	}
	c, err := st.CountForecasts(ctx, store.ForecastQuery{})
	if err != nil || c.Rows != 3 || c.Forecasts != 3+41+1 || c.Fixtures != 2 || c.Awaiting != 1 || !reflect.DeepEqual(c.Versions, []int{3}) {
		t.Fatalf("counts %+v (%v), want 3 rows, 45 forecasts, 2 fixtures, 1 awaiting, versions [3]", c, err)
	}
	scorable, err := st.LoggedForecasts(ctx, store.ForecastQuery{Scorable: true})
	if err != nil || len(scorable) != 1 || scorable[0].Probabilities[0] != 0.5 {
		t.Fatalf("scorable: %+v (%v), want a's forecast only (the other of its match came after kick-off)", scorable, err)
	}
	n, err := st.PruneForecasts(ctx, t0.Add(90*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("prune: %d rows (%v), want 2", n, err)
	}
	if got, _ := st.LoggedForecasts(ctx, store.ForecastQuery{}); len(got) != 1 || got[0].Probabilities[0] != 0.51 {
		t.Fatalf("after prune: %+v", got)
	}
}

// checkReferences: a version's reference reads back as kept, a second
// save replaces it, and an unknown version is ErrNotFound.
func checkReferences(t *testing.T, st store.Store) {
	ctx := context.Background()
	if _, err := st.Reference(ctx, 9); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reference of an unknown version: %v, want ErrNotFound", err)
	}
	r := store.Reference{Columns: []string{"a", "b"},
		Priced:   store.ReferenceSample{Rows: [][]float64{{1, 2}, {3.5, -4}}, Probabilities: [][3]float64{{0.5, 0.3, 0.2}, {0.1, 0.2, 0.7}}},
		Unpriced: store.ReferenceSample{Rows: [][]float64{{0, 1}}, Probabilities: [][3]float64{{0.4, 0.3, 0.3}}}}
	if err := st.SaveReference(ctx, 9, r); err != nil {
		t.Fatal(err)
	}
	r.Priced.Rows = r.Priced.Rows[:1]
	r.Priced.Probabilities = r.Priced.Probabilities[:1]
	if err := st.SaveReference(ctx, 9, r); err != nil {
		t.Fatal(err)
	}
	got, err := st.Reference(ctx, 9)
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("reference read back as %+v (%v), want %+v", got, err, r)
	}
}
