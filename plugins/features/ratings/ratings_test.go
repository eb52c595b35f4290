package ratings

import (
	"context"
	"fmt"
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

// A team's price rating follows what the prices of its past matches said of
// it (closing before pre-match), never the fixture's own price; a match
// without a price leaves it as it was.
func TestPriceRatingsFollowPastPrices(t *testing.T) {
	r := newRatings(t)
	ctx := context.Background()
	strong := []soccer.Odds{{Bookmaker: "PS", Closing: true, Home: 1.25, Draw: 6, Away: 12}, {Bookmaker: "PS", Home: 3, Draw: 3, Away: 3}}
	var ms []soccer.Match
	for i := range 80 {
		// Arsenal lose every match but the prices keep rating them far above Chelsea.
		ms = append(ms, match(fmt.Sprint("m", i), "Arsenal", "Chelsea", 0, 1, day.Add(time.Duration(i)*72*time.Hour), strong...))
	}
	if err := r.Observe(ctx, features.ObserveRequest{Matches: ms}); err != nil {
		t.Fatal(err)
	}
	f := match("next", "Arsenal", "Chelsea", 0, 0, day.Add(200*72*time.Hour)).Fixture()
	want, _ := strong[0].Implied()
	ph, pa := value(t, r, f, "price_log_home_draw"), value(t, r, f, "price_log_away_draw")
	if math.Abs(ph-math.Log(want.Home/want.Draw)) > 0.2 || math.Abs(pa-math.Log(want.Away/want.Draw)) > 0.5 {
		t.Fatalf("price log-odds %v %v after eighty matches priced %+v, want near %v %v", ph, pa, want,
			math.Log(want.Home/want.Draw), math.Log(want.Away/want.Draw))
	}
	if value(t, r, f, "elo_diff") >= 0 {
		t.Fatal("Elo should follow the results, not the prices")
	}
	// The fixture's own price changes the market columns only.
	before := value(t, r, f, "price_rating_diff")
	f.Odds = []soccer.Odds{{Bookmaker: "PS", Home: 9, Draw: 5, Away: 1.3}}
	if got := value(t, r, f, "p_price_rating_diff"); got != before {
		t.Fatalf("price rating with the fixture's own price %v, without %v", got, before)
	}
	if err := r.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{match("np", "Arsenal", "Chelsea", 0, 5, day.Add(201*72*time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	if got := value(t, r, match("n2", "Arsenal", "Chelsea", 0, 0, day.Add(202*72*time.Hour)).Fixture(), "price_rating_diff"); got != before {
		t.Fatalf("a match without a price moved the price rating from %v to %v", before, got)
	}
}

// GAP ratings follow shots on target and shots, at home and (by φ) away;
// a match without statistics leaves them as they were.
func TestGAPRatingsFollowShots(t *testing.T) {
	r := newRatings(t)
	ctx := context.Background()
	f := match("f", "Arsenal", "Chelsea", 0, 0, day.Add(100*72*time.Hour)).Fixture()
	if err := r.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{match("m0", "Arsenal", "Chelsea", 0, 0, day)}}); err != nil {
		t.Fatal(err)
	}
	sotBefore, shotsBefore := value(t, r, f, "home_expected_shots_on_target"), value(t, r, f, "home_expected_shots")
	awayBefore := value(t, r, f, "away_expected_shots_on_target")
	var ms []soccer.Match
	for i := range 10 {
		m := match(fmt.Sprint("m", i+1), "Arsenal", "Chelsea", 2, 0, day.Add(time.Duration(i+1)*72*time.Hour))
		m.Stats = soccer.Stats{Shots: soccer.Counted(25, 5), ShotsOnTarget: soccer.Counted(12, 1)}
		ms = append(ms, m)
	}
	if err := r.Observe(ctx, features.ObserveRequest{Matches: ms}); err != nil {
		t.Fatal(err)
	}
	sot, shots, away := value(t, r, f, "home_expected_shots_on_target"), value(t, r, f, "home_expected_shots"), value(t, r, f, "away_expected_shots_on_target")
	if !(sot > sotBefore+4 && sot < 12) || !(shots > shotsBefore+6 && shots < 25) || !(away < awayBefore-1.5 && away > 1) {
		t.Fatalf("after ten 12-1 (25-5) matches: home on target %v (was %v), shots %v (was %v), away on target %v (was %v)",
			sot, sotBefore, shots, shotsBefore, away, awayBefore)
	}
	// φ: Arsenal's away attack rose too, by less.
	if g := r.st.Teams["Arsenal"].Shots[0]; !(g.AwayAttack > initialShotsAway[0] && g.AwayAttack-initialShotsAway[0] < g.HomeAttack-initialShotsHome[0]) {
		t.Fatalf("Arsenal's shots-on-target ratings %+v", g)
	}
	if err := r.Observe(ctx, features.ObserveRequest{Matches: []soccer.Match{match("m99", "Arsenal", "Chelsea", 5, 0, day.Add(50*72*time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	if got := value(t, r, f, "home_expected_shots_on_target"); got != sot {
		t.Fatalf("a match without statistics moved the rating from %v to %v", sot, got)
	}
}

// The draw in the prices: even teams draw more than teams far apart (the
// competition's curve), and a team whose prices keep making draws likelier
// gets a higher draw offset.
func TestPriceDrawCurve(t *testing.T) {
	r := newRatings(t)
	ctx := context.Background()
	var ms []soccer.Match
	at := day
	for i := range 60 {
		at = at.Add(72 * time.Hour)
		// A and B are even and drawish; C beats D by far.
		ms = append(ms, match(fmt.Sprint("e", i), "A", "B", 1, 1, at, soccer.Odds{Bookmaker: "PS", Closing: true, Home: 2.9, Draw: 2.9, Away: 3.3}),
			match(fmt.Sprint("f", i), "C", "D", 3, 0, at.Add(time.Hour), soccer.Odds{Bookmaker: "PS", Closing: true, Home: 1.2, Draw: 7.5, Away: 15}))
	}
	if err := r.Observe(ctx, features.ObserveRequest{Matches: ms}); err != nil {
		t.Fatal(err)
	}
	even := value(t, r, match("x", "A", "B", 0, 0, at.Add(72*time.Hour)).Fixture(), "price_draw_rate")
	far := value(t, r, match("y", "C", "D", 0, 0, at.Add(72*time.Hour)).Fixture(), "price_draw_rate")
	if !(even > 0.3 && far < 0.15) {
		t.Fatalf("draw probability from past prices: %v for even teams (priced ~0.33), %v for far apart ones (~0.13)", even, far)
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
	if err := r.Restore(context.Background(), []byte(`{"version": 1, "teams": {}, "competitions": {}}`)); err == nil {
		t.Fatal("a snapshot of another version was restored")
	}
}

// env is the plugin.Env the host would give for these settings.
func env(t testing.TB, settings any) plugin.Env { return plugintest.Env(t, "ratings", settings) }
