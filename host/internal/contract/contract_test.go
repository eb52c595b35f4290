package contract

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

func shippedSuite(t *testing.T) Suite {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	s, err := Load(filepath.Join(filepath.Dir(file), "..", "..", "..", "configs", "expectations", "matches.json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func row(id, home, away, status string, hg, ag any, result any, minOdds any, stats ...any) map[string]any {
	r := map[string]any{"match_id": id, "competition": "E0", "season": "2324", "kickoff": "2023-08-11T19:00:00Z",
		"home_team": home, "away_team": away, "status": status, "home_goals": hg, "away_goals": ag, "result": result,
		"min_odds": minOdds, "odds_count": 1}
	for _, c := range statColumns {
		r[c] = nil
	}
	for i := 0; i+1 < len(stats); i += 2 {
		r[stats[i].(string)] = stats[i+1]
	}
	return r
}

// statColumns are the statistics' columns, null when a source lacks them.
var statColumns = func() []string {
	var out []string
	for _, s := range soccer.StatNames {
		out = append(out, "home_"+s, "away_"+s)
	}
	return out
}()

var columns = append([]string{"match_id", "competition", "season", "kickoff", "home_team", "away_team", "status", "home_goals", "away_goals", "result", "min_odds", "odds_count"}, statColumns...)

func TestShippedContract(t *testing.T) {
	s := shippedSuite(t)
	tbl := TableOf(columns, []map[string]any{
		row("a", "Burnley", "Man City", "finished", 0, 3, "A", 1.33), // 0 fine
		row("b", "Arsenal", "Arsenal", "finished", 2, 1, "H", 1.2),   // 1 plays itself
		row("c", "Everton", "Fulham", "finished", 0, 1, "H", 2.0),    // 2 result disagrees with goals
		row("d", "Luton", "Brighton", "finished", -1, 1, "A", 2.0),   // 3 negative goals
		row("e", "Wolves", "Spurs", "finished", 1, 1, "D", 0.95),     // 4 odds below 1: the prices table's to judge
		row("e", "Chelsea", "Liverpool", "finished", 1, 1, "D", nil), // 5 duplicate id (with 4)
		row("g", "Leeds", "Hull", "scheduled", nil, nil, nil, nil),   // 6 fine fixture
		row("h", "Leeds", "Hull", "finished", nil, nil, nil, 2.0),    // 7 finished without score
		row("i", "Palace", "Forest", "finished", 2, 2, "X", 2.0),     // 8 result not H/D/A
		row("j", "Burnley", "Man City", "finished", 0, 3, "A", 1.33, "home_shots", 6, "away_shots", 17, "home_shots_on_target", 1,
			"away_shots_on_target", 8, "home_half_time_goals", 0, "away_half_time_goals", 2, "home_red_cards", 1, "away_red_cards", 0), // 9 fine, with statistics
		row("k", "Spurs", "Leeds", "finished", 2, 0, "H", 1.5, "home_shots", 4, "home_shots_on_target", 9), // 10 more on target than shots
		row("l", "Hull", "Derby", "finished", 1, 0, "H", 1.5, "away_corners", -2),                          // 11 negative count
		row("m", "Stoke", "Wigan", "finished", 1, 0, "H", 1.5, "home_half_time_goals", 2),                  // 12 more goals at half time than at full time
	})
	out := s.ForTable("").Validate(tbl, map[string]any{"batch": "test"})
	if out.Result.Success {
		t.Fatal("a table with bad rows passed")
	}
	want := map[int][]string{
		1: {"expect_select_column_values_to_be_unique_within_record"},
		2: {"expect_column_pair_values_a_to_be_greater_than_b"},
		3: {"expect_column_values_to_be_between(column=\"home_goals\""},
		4: {"expect_column_values_to_be_unique"},
		5: {"expect_column_values_to_be_unique"},
		7: {"expect_column_values_to_not_be_null(column=\"home_goals\"", "column=\"result\""},
		8: {"expect_column_values_to_be_in_set(column=\"result\""},
	}
	// Statistics that contradict each other are warnings: the match loads
	// without them (ingest.Check), its result is not lost.
	warned := map[int]string{
		10: "expect_column_pair_values_a_to_be_greater_than_b(column_A=\"home_shots\", column_B=\"home_shots_on_target\"",
		11: "expect_column_values_to_be_between(column=\"away_corners\"",
		12: "expect_column_pair_values_a_to_be_greater_than_b(column_A=\"home_goals\", column_B=\"home_half_time_goals\"",
	}
	for i := range tbl.Rows {
		if got := strings.Join(out.Warnings[i], " | "); !strings.Contains(got, warned[i]) || (warned[i] == "") != (got == "") {
			t.Errorf("row %d warnings %q, want %q", i, got, warned[i])
		}
	}
	for i := range tbl.Rows {
		got := strings.Join(out.Failures[i], " | ")
		if len(want[i]) == 0 && got != "" {
			t.Errorf("row %d failed %s, want no failure", i, got)
		}
		for _, w := range want[i] {
			if !strings.Contains(got, w) {
				t.Errorf("row %d failures %q lack %q", i, got, w)
			}
		}
	}
	// GE's result shape.
	b, _ := json.Marshal(out.Result)
	var generic map[string]any
	json.Unmarshal(b, &generic)
	for _, k := range []string{"success", "suite_name", "statistics", "results", "meta"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("result lacks %q", k)
		}
	}
	r0 := generic["results"].([]any)[1].(map[string]any)
	for _, k := range []string{"element_count", "missing_count", "unexpected_count", "unexpected_percent", "partial_unexpected_list"} {
		if _, ok := r0["result"].(map[string]any)[k]; !ok {
			t.Errorf("expectation result lacks %q", k)
		}
	}
	st := out.Result.Statistics
	if st.EvaluatedExpectations != len(s.ForTable("").Expectations) || st.SuccessfulExpectations+st.UnsuccessfulExpectations != st.EvaluatedExpectations {
		t.Errorf("statistics %+v", st)
	}
}

// The prices table: an unreadable price (null) and one not above 1 warn;
// they never quarantine, and the matches table has no say over prices.
func TestShippedContractWarnsOnBadPrices(t *testing.T) {
	s := shippedSuite(t)
	if tables := s.Tables(); len(tables) != 1 || tables[0] != "prices" {
		t.Fatalf("tables %v", tables)
	}
	prices := s.ForTable("prices")
	if len(prices.Expectations) != 2 || len(s.ForTable("").Expectations)+2 != len(s.Expectations) {
		t.Fatalf("prices expectations %d of %d", len(prices.Expectations), len(s.Expectations))
	}
	price := func(p any) map[string]any {
		return map[string]any{"match_id": "a", "bookmaker": "PS", "closing": false, "outcome": "home", "price": p}
	}
	out := prices.Validate(TableOf([]string{"match_id", "bookmaker", "closing", "outcome", "price"},
		[]map[string]any{price(2.1), price(0.95), price(nil), price(1001.0), price(1.01)}), nil)
	if out.Quarantines() || out.Result.Success {
		t.Fatalf("bad prices quarantined %v, or passed", out.Failures)
	}
	for i, bad := range []bool{false, true, true, true, false} {
		if got := len(out.Warnings[i]) > 0; got != bad {
			t.Errorf("price row %d: warnings %v", i, out.Warnings[i])
		}
	}
}

func TestMostlyToleratesAFraction(t *testing.T) {
	s, err := Parse([]byte(`{"expectation_suite_name": "legacy", "expectations": [
		{"expectation_type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0, "mostly": 0.5}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out := s.Validate(TableOf([]string{"x"}, []map[string]any{{"x": 1.0}, {"x": -1.0}, {"x": 2.0}, {"x": nil}}), nil)
	if !out.Result.Success || len(out.Failures) != 0 {
		t.Fatalf("1 of 3 non-null rows out of range should pass with mostly=0.5: %+v", out.Result.Results)
	}
	r := out.Result.Results[0].Result
	if r["missing_count"] != 1 || r["unexpected_count"] != 1 || r["element_count"] != 4 {
		t.Fatalf("result %+v", r)
	}
}

func TestTableLevelFailureFailsEveryRow(t *testing.T) {
	s, _ := Parse([]byte(`{"name": "t", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "kickoff"}}]}`))
	out := s.Validate(TableOf([]string{"x"}, []map[string]any{{"x": 1}, {"x": 2}}), nil)
	if out.Result.Success || !out.Failed(0) || !out.Failed(1) {
		t.Fatalf("a missing column must fail the batch: %+v", out)
	}
}

func TestBadSuitesAreRefusedWithTheirProblem(t *testing.T) {
	for body, want := range map[string]string{
		`{"name": "x", "expectations": [{"type": "expect_column_values_to_be_magic", "kwargs": {"column": "a"}}]}`:                                   "unknown expectation type",
		`{"name": "x", "expectations": [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "a"}}]}`:                                 "min_value or max_value",
		`{"name": "x", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "a > 3"}}]}`:      "row_condition",
		`{"name": "x", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "mostly": 2}}]}`:                   "mostly",
		`{"name": "x", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": {"severity": "fatal"}}]}`: "meta.severity",
		`{"name": "x", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": {"table": 3}}]}`:          "meta.table",
		`{"expectations": []}`: "name",
		`{"name": `:            "not a JSON",
	} {
		_, err := Parse([]byte(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("suite %s: err = %v, want %q", body, err, want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.json")); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
