package monitor

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

type fakeStore struct {
	logged  []store.LoggedForecast
	matches []soccer.Match
	ref     *store.Reference
}

func (f *fakeStore) LoggedForecasts(ctx context.Context, q store.ForecastQuery) ([]store.LoggedForecast, error) {
	finished := map[string]soccer.Match{}
	for _, m := range f.matches {
		if m.Status == soccer.Finished {
			finished[m.ID] = m
		}
	}
	var out []store.LoggedForecast
	for _, l := range f.logged {
		m, ok := finished[l.MatchID]
		if q.Version != 0 && l.Version != q.Version || q.Scorable && (!ok || !m.Kickoff.After(l.FirstAt)) {
			continue
		}
		if !q.Features {
			l.Features = nil
		}
		out = append(out, l)
	}
	if q.Newest {
		slices.Reverse(out)
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func (f *fakeStore) CountForecasts(ctx context.Context, q store.ForecastQuery) (store.ForecastCounts, error) {
	var c store.ForecastCounts
	fixtures, versions := map[string]bool{}, map[int]bool{}
	status := map[string]soccer.Status{}
	for _, m := range f.matches {
		status[m.ID] = m.Status
	}
	for _, l := range f.logged {
		c.Rows++
		c.Forecasts += l.Count
		if !fixtures[l.MatchID] && status[l.MatchID] != soccer.Finished {
			c.Awaiting++
		}
		fixtures[l.MatchID], versions[l.Version] = true, true
	}
	c.Fixtures = len(fixtures)
	c.Versions = slices.Sorted(maps.Keys(versions))
	return c, nil
}

func (f *fakeStore) Reference(ctx context.Context, version int) (store.Reference, error) {
	if f.ref == nil {
		return store.Reference{}, store.ErrNotFound
	}
	return *f.ref, nil
}
func (f *fakeStore) Matches(ctx context.Context, q store.MatchQuery) ([]soccer.Match, error) {
	return f.matches, nil
}

func TestScoresByHand(t *testing.T) {
	s, err := Score([3]float64{0.5, 0.3, 0.2}, soccer.Draw)
	if err != nil {
		t.Fatal(err)
	}
	// log-loss −ln 0.3; Brier 0.25+0.49+0.04; RPS ½(0.5² + 0.2²)
	if math.Abs(s.LogLoss+math.Log(0.3)) > 1e-12 || math.Abs(s.Brier-0.78) > 1e-12 || math.Abs(s.RPS-0.145) > 1e-12 {
		t.Fatalf("scores %+v", s)
	}
}

// Each fixture counts once per version, with its last forecast before
// kick-off; a forecast after kick-off, a postponed match and a match not
// played yet are not scored; a corrected result re-scores.
func TestWhatIsScored(t *testing.T) {
	ko := time.Date(2024, 9, 1, 15, 0, 0, 0, time.UTC)
	played := soccer.Match{ID: "e0-2425-a-v-b", Competition: "E0", HomeTeam: "A", AwayTeam: "B", Kickoff: ko, Status: soccer.Finished,
		HomeGoals: 2, AwayGoals: 0, Result: soccer.HomeWin,
		Odds: []soccer.Odds{{Bookmaker: "PS", Home: 2, Draw: 3.4, Away: 4.2}, {Bookmaker: "PS", Closing: true, Home: 1.9, Draw: 3.5, Away: 4.6}}}
	played2 := played
	played2.ID, played2.HomeTeam = "e0-2425-g-v-b", "G"
	postponed := soccer.Match{ID: "e0-2425-c-v-d", Competition: "E0", HomeTeam: "C", AwayTeam: "D", Kickoff: ko, Status: soccer.Scheduled} // postponed: no result, kick-off passed
	later := soccer.Match{ID: "e0-2425-e-v-f", Competition: "E0", HomeTeam: "E", AwayTeam: "F", Kickoff: ko.Add(7 * 24 * time.Hour), Status: soccer.Scheduled}
	f := func(id string, ph float64, first, last time.Time, version int) store.LoggedForecast {
		return store.LoggedForecast{MatchID: id, Competition: "E0", Probabilities: [3]float64{ph, 0.3, 0.7 - ph}, Model: "onnx", Version: version,
			Route: "sync", Count: 1, FirstAt: first, LastAt: last}
	}
	st := &fakeStore{
		logged: []store.LoggedForecast{
			f(played.ID, 0.40, ko.Add(-48*time.Hour), ko.Add(-47*time.Hour), 1),
			f(played.ID, 0.50, ko.Add(-2*time.Hour), ko.Add(-time.Hour), 1), // the last before kick-off
			f(played.ID, 0.60, ko.Add(time.Hour), ko.Add(time.Hour), 1),     // after kick-off
			f(played.ID, 0.45, ko.Add(-3*time.Hour), ko.Add(-3*time.Hour), 2),
			f(postponed.ID, 0.5, ko.Add(-time.Hour), ko.Add(-time.Hour), 1),
			f(later.ID, 0.5, ko.Add(-time.Hour), ko.Add(-time.Hour), 1),
			f(played2.ID, 0.5, ko.Add(-time.Hour), ko.Add(-time.Hour), 1),
		},
		matches: []soccer.Match{played, postponed, later, played2},
	}
	rep, err := Compute(context.Background(), st, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Scored) != 3 || len(rep.Versions) != 2 || rep.Fixtures != 4 || rep.Awaiting != 2 {
		t.Fatalf("scored %d, versions %d, fixtures %d, awaiting %d; want 3, 2, 4, 2", len(rep.Scored), len(rep.Versions), rep.Fixtures, rep.Awaiting)
	}
	v1 := rep.Versions[0]
	if v1.Version != 1 || v1.N != 2 || math.Abs(v1.Mean.LogLoss+math.Log(0.5)) > 1e-12 {
		t.Fatalf("version 1: %+v, want two matches scored from their 0.50 forecasts", v1.Summary)
	}
	pre := (1 / 2.0) / (1/2.0 + 1/3.4 + 1/4.2)
	if v1.PreMatch == nil || math.Abs(v1.PreMatch.LogLoss-(-math.Log(0.5)+math.Log(pre))) > 1e-12 || v1.Closing == nil {
		t.Fatalf("version 1 against the market: %+v", v1.PreMatch)
	}
	if v2 := rep.Versions[1]; v2.N != 1 || v2.PreMatch != nil {
		t.Fatalf("version 2: %+v, want one match and no paired difference (no standard error from one match)", v2.Summary)
	}
	// The publisher corrects the score: the same forecasts re-score.
	st.matches[0].HomeGoals, st.matches[0].Result = 0, soccer.Draw
	rep, _ = Compute(context.Background(), st, Query{})
	if got := rep.Versions[0].Mean.LogLoss; math.Abs(got-(-math.Log(0.3)-math.Log(0.5))/2) > 1e-12 {
		t.Fatalf("after a corrected result: log-loss %v, want −ln 0.3", got)
	}
}

// Served rows are compared with the reference of the regime they were
// served in: requests with a price against priced training rows, those
// without against unpriced ones; a regime with too few rows is not tested.
func TestDriftPerRegime(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sample := func(n int, mean float64) store.ReferenceSample {
		var s store.ReferenceSample
		for range n {
			s.Rows = append(s.Rows, []float64{mean + r.NormFloat64(), r.NormFloat64()})
			s.Probabilities = append(s.Probabilities, [3]float64{0.45, 0.27, 0.28})
		}
		return s
	}
	// Priced training rows centre on 5, unpriced on 0.
	st := &fakeStore{ref: &store.Reference{Columns: []string{"market", "rating"}, Priced: sample(2000, 5), Unpriced: sample(2000, 0)}}
	at := time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)
	for i := range 2000 {
		// Served rows are rows of their regime's distribution (every other
		// reference row: the same distribution, without sampling noise
		// making a test of Evidently's 0.1 threshold flaky).
		ref := st.ref.Unpriced.Rows
		if i%2 == 0 {
			ref = st.ref.Priced.Rows
		}
		f := store.LoggedForecast{MatchID: fmt.Sprint(i), Version: 1, Model: "m", Probabilities: [3]float64{0.45, 0.27, 0.28},
			Count: 1, FirstAt: at, LastAt: at, Features: ref[(i/2*2)%len(ref)]}
		if i%2 == 0 {
			f.Market = &[3]float64{0.5, 0.25, 0.25}
		}
		st.logged = append(st.logged, f)
	}
	rep, err := Compute(context.Background(), st, Query{})
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Versions[0].Drift
	if len(d) != 2 || d[0].Regime != "priced" || d[1].Regime != "unpriced" || d[0].Features.Drifted != 0 || d[1].Features.Drifted != 0 {
		t.Fatalf("drift per regime: %+v", d)
	}
	if d[0].Features.CurrentRows != 500 || d[1].Features.CurrentRows != 500 {
		t.Fatalf("the last %d served rows split by regime: %d and %d", DriftRows, d[0].Features.CurrentRows, d[1].Features.CurrentRows)
	}
	// Priced requests judged against the unpriced reference would drift.
	var served []float64
	for _, f := range st.logged[1000:] {
		if f.Market != nil {
			served = append(served, f.Features[0])
		}
	}
	var unpricedRef []float64
	for _, row := range st.ref.Unpriced.Rows {
		unpricedRef = append(unpricedRef, row[0])
	}
	if !Compare("market", unpricedRef, served).Drifted {
		t.Fatal("priced requests against unpriced training rows: no drift")
	}
	st.logged = st.logged[:40] // 20 a regime: too few to test
	rep, _ = Compute(context.Background(), st, Query{})
	if len(rep.Versions[0].Drift) != 0 {
		t.Fatalf("drift from 20 rows a regime: %+v", rep.Versions[0].Drift)
	}
}
