package ratings

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/features/featuretest"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/plugin/plugintest"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

func TestConformance(t *testing.T) {
	featuretest.Run(t, New, featuretest.Options{})
	featuretest.Run(t, New, featuretest.Options{History: featuretest.League(20, 3, 11)})
}

func newRatings(t *testing.T) *Ratings {
	t.Helper()
	fs, err := New(context.Background(), env(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	return fs.(*Ratings)
}

var day = time.Date(2023, 8, 12, 14, 0, 0, 0, time.UTC)

func match(id, home, away string, hg, ag int, at time.Time, odds ...soccer.Odds) soccer.Match {
	res := soccer.Draw
	if hg > ag {
		res = soccer.HomeWin
	} else if hg < ag {
		res = soccer.AwayWin
	}
	return soccer.Match{ID: id, Competition: "E0", Season: "2324", Kickoff: at, HomeTeam: home, AwayTeam: away,
		Status: soccer.Finished, HomeGoals: hg, AwayGoals: ag, Result: res, Odds: odds}
}

func value(t *testing.T, r *Ratings, f soccer.Fixture, col string) float64 {
	t.Helper()
	resp, err := r.Compute(context.Background(), features.ComputeRequest{Fixtures: []soccer.Fixture{f}})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range Columns {
		if c == col {
			return resp.Rows[0].Values[i]
		}
	}
	t.Fatalf("no column %s", col)
	return 0
}

func TestEloIsZeroSumAndRewardsTheWinner(t *testing.T) {
	r := newRatings(t)
	if err := r.Observe(context.Background(), features.ObserveRequest{Matches: []soccer.Match{match("m1", "Arsenal", "Chelsea", 3, 0, day)}}); err != nil {
		t.Fatal(err)
	}
	a, c := r.st.Teams["Arsenal"].Elo, r.st.Teams["Chelsea"].Elo
	if math.Abs(a+c-2*initialElo) > 1e-9 || a <= initialElo {
		t.Fatalf("Elo after a 3-0 home win: %v and %v", a, c)
	}
	// A 3-goal margin moves ratings 14/8 times as far as a 1-goal one.
	r2 := newRatings(t)
	r2.Observe(context.Background(), features.ObserveRequest{Matches: []soccer.Match{match("m1", "Arsenal", "Chelsea", 1, 0, day)}})
	if got := (a - initialElo) / (r2.st.Teams["Arsenal"].Elo - initialElo); math.Abs(got-14.0/8) > 1e-9 {
		t.Fatalf("margin multiplier %v, want 1.75", got)
	}
}

func TestMarketFeaturesUsePreMatchOddsOnly(t *testing.T) {
	r := newRatings(t)
	m := match("m1", "Arsenal", "Chelsea", 1, 0, day,
		soccer.Odds{Bookmaker: "PS", Closing: true, Home: 1.5, Draw: 4, Away: 7},
		soccer.Odds{Bookmaker: "B365", Home: 2, Draw: 3.5, Away: 4})
	f := m.Fixture()
	if got := value(t, r, f, "market_available"); got != 1 {
		t.Fatalf("market_available = %v", got)
	}
	want, _ := soccer.Odds{Home: 2, Draw: 3.5, Away: 4}.Implied()
	if got := value(t, r, f, "market_home"); math.Abs(got-want.Home) > 1e-12 {
		t.Fatalf("market_home = %v, want B365's %v (the closing Pinnacle price must not be used)", got, want.Home)
	}
	f.Odds = nil
	if got := value(t, r, f, "market_available"); got != 0 {
		t.Fatalf("market_available without odds = %v", got)
	}
	// Each regime has its own columns: without a price every market and
	// p_ column is zero, "unpriced" is 1 and the ratings carry the row; with
	// one, the reverse.
	row, _ := r.Compute(context.Background(), features.ComputeRequest{Fixtures: []soccer.Fixture{f}})
	priced, _ := r.Compute(context.Background(), features.ComputeRequest{Fixtures: []soccer.Fixture{m.Fixture()}})
	for j, c := range Columns {
		bare, withPrice := row.Rows[0].Values[j], priced.Rows[0].Values[j]
		switch {
		case c == "unpriced" && (bare != 1 || withPrice != 0):
			t.Fatalf("unpriced = %v without a price, %v with one", bare, withPrice)
		case (strings.HasPrefix(c, "market_") || strings.HasPrefix(c, "p_")) && bare != 0:
			t.Fatalf("%s = %v without a price, want 0", c, bare)
		case slices.Contains(ratingColumns, c) && withPrice != 0:
			t.Fatalf("%s = %v with a price, want 0 (its p_ copy carries it)", c, withPrice)
		}
	}
	if h := value(t, r, f, "elo_expected_home"); h <= 0.5 {
		t.Fatalf("elo_expected_home without odds = %v, want Elo's forecast favouring the home side of equal teams", h)
	}
}

// Each team's draw propensity follows its draws; a newcomer starts at its
// competition's draw rate.
func TestDrawPropensity(t *testing.T) {
	r := newRatings(t)
	ctx := context.Background()
	if err := r.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{match("m1", "A", "B", 1, 1, day), match("m2", "C", "D", 2, 0, day)}}); err != nil {
		t.Fatal(err)
	}
	if a, c := r.st.Teams["A"].Draws, r.st.Teams["C"].Draws; a <= c || a <= 0.26 || c >= 0.26 {
		t.Fatalf("draw propensity after a draw %v, after a win %v", a, c)
	}
	f := match("m3", "A", "C", 0, 0, day.Add(72*time.Hour)).Fixture()
	if h, a := value(t, r, f, "home_draw_rate"), value(t, r, f, "away_draw_rate"); h != r.st.Teams["A"].Draws || a != r.st.Teams["C"].Draws {
		t.Fatalf("draw rates %v %v", h, a)
	}
}

func TestOutOfOrderAndUnfinishedAreRefused(t *testing.T) {
	r := newRatings(t)
	ctx := context.Background()
	if err := r.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{match("m2", "A", "B", 1, 0, day.Add(time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	err := r.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{match("m1", "C", "D", 1, 0, day)}})
	if err == nil || !strings.Contains(err.Error(), "m1") || !strings.Contains(err.Error(), "kick-off order") {
		t.Fatalf("err = %v", err)
	}
	fixture := match("m3", "A", "B", 0, 0, day.Add(48*time.Hour))
	fixture.Status = soccer.Scheduled
	if err := r.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{fixture}}); err == nil {
		t.Fatal("a scheduled match was observed")
	}
	if _, ok := r.st.Teams["C"]; ok {
		t.Fatal("a refused observe changed the state")
	}
}

// Compute applies the new-season regression Observe would, without changing state.
func TestSeasonRegressionIsTheSameInComputeAndObserve(t *testing.T) {
	r := newRatings(t)
	ctx := context.Background()
	r.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{match("m1", "A", "B", 4, 0, day)}})
	next := match("m2", "A", "B", 0, 0, day.AddDate(0, 3, 0))
	next.Season = "2425"
	before := value(t, r, next.Fixture(), "elo_diff")
	want := ((r.st.Teams["A"].Elo + 0.2*(initialElo-r.st.Teams["A"].Elo)) + 60 - (r.st.Teams["B"].Elo + 0.2*(initialElo-r.st.Teams["B"].Elo))) / 100
	if math.Abs(before-want) > 1e-12 {
		t.Fatalf("elo_diff for the new season = %v, want %v", before, want)
	}
	if r.st.Teams["A"].Season != "2324" {
		t.Fatal("Compute changed the state")
	}
}

func TestRestDaysAndForm(t *testing.T) {
	r := newRatings(t)
	ctx := context.Background()
	r.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{
		match("m1", "A", "B", 2, 0, day), match("m2", "C", "A", 1, 1, day.AddDate(0, 0, 4)),
	}})
	f := soccer.Fixture{ID: "f", Competition: "E0", Season: "2324", Kickoff: day.AddDate(0, 0, 7), HomeTeam: "A", AwayTeam: "Z"}
	if got := value(t, r, f, "home_rest_days"); got != 3 {
		t.Fatalf("home_rest_days = %v, want 3", got)
	}
	if got := value(t, r, f, "away_rest_days"); got != defaultRestDays {
		t.Fatalf("away_rest_days of an unknown team = %v", got)
	}
	if got := value(t, r, f, "home_form_points"); got != 2 {
		t.Fatalf("home_form_points = %v, want (3+1)/2", got)
	}
	if got := value(t, r, f, "home_form_goal_diff"); got != 1 {
		t.Fatalf("home_form_goal_diff = %v, want (2+0)/2", got)
	}
}

func TestBadSettingsAndSnapshots(t *testing.T) {
	if _, err := New(context.Background(), env(t, map[string]any{"elo_k": -1})); err == nil {
		t.Fatal("negative elo_k accepted")
	}
	r := newRatings(t)
	if err := r.Restore(context.Background(), []byte(`{"version": 2, "teams": {}, "competitions": {}}`)); err == nil {
		t.Fatal("a snapshot of another version was restored")
	}
}

// env is the plugin.Env the host would give for these settings.
func env(t testing.TB, settings any) plugin.Env { return plugintest.Env(t, "ratings", settings) }
