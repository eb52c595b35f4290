package ingest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// The shipped suites are what Great Expectations runs: one suite on one
// table (its pandas engine has no notion of a second table), every column
// an expectation names is a column of that table, and every row_condition
// is written for the pandas engine (condition_parser "pandas", the syntax
// DataFrame.query reads). GE itself cannot be installed here; this checks
// the three ways the previous suite failed when GE 1.2 ran it.
func TestShippedSuitesAreWhatGreatExpectationsRuns(t *testing.T) {
	dir := filepath.Dir(testbin.Expectations())
	pandas := regexp.MustCompile(`^(\w+)\s*(==|!=)\s*("[^"]*"|'[^']*'|-?[0-9.]+)$`)
	for file, columns := range map[string][]string{"matches.json": Columns, "prices.json": PriceColumns} {
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		var suite struct {
			Name         string `json:"name"`
			Expectations []struct {
				Type   string         `json:"type"`
				Kwargs map[string]any `json:"kwargs"`
				Meta   map[string]any `json:"meta"`
			} `json:"expectations"`
		}
		if err := json.Unmarshal(raw, &suite); err != nil || suite.Name == "" || len(suite.Expectations) == 0 {
			t.Fatalf("%s: %v (name %q, %d expectations)", file, err, suite.Name, len(suite.Expectations))
		}
		for i, e := range suite.Expectations {
			if _, other := e.Meta["table"]; other {
				t.Errorf("%s #%d %s names another table (%v): GE runs a suite on one table", file, i, e.Type, e.Meta["table"])
			}
			var named []string
			for _, k := range []string{"column", "column_A", "column_B"} {
				if c, ok := e.Kwargs[k].(string); ok {
					named = append(named, c)
				}
			}
			if list, ok := e.Kwargs["column_list"].([]any); ok {
				for _, c := range list {
					named = append(named, c.(string))
				}
			}
			if cond, ok := e.Kwargs["row_condition"].(string); ok {
				m := pandas.FindStringSubmatch(cond)
				if e.Kwargs["condition_parser"] != "pandas" || m == nil {
					t.Errorf("%s #%d %s: row_condition %q with condition_parser %v; the pandas engine needs parser \"pandas\" and DataFrame.query syntax",
						file, i, e.Type, cond, e.Kwargs["condition_parser"])
				} else {
					named = append(named, m[1])
				}
			}
			for _, c := range named {
				if !slices.Contains(columns, c) {
					t.Errorf("%s #%d %s names column %q, which its table does not have", file, i, e.Type, c)
				}
			}
		}
	}
	// And the host reads the two as one contract, the prices table's part from its own file.
	s, err := LoadSuite(testbin.Expectations())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.ForTable("prices").Expectations); got != 2 {
		t.Fatalf("the prices table has %d expectations, want the 2 of prices.json", got)
	}
}
