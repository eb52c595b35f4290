package contract

import (
	"os"
	"testing"
)

// FuzzParse: an expectation suite of any bytes is a suite or an error, never a panic.
func FuzzParse(f *testing.F) {
	b, err := os.ReadFile("../../../configs/expectations/matches.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"expectation_suite_name": "x", "expectations": [{"expectation_type": "expect_column_values_to_be_between", "kwargs": {"column": "home_goals", "min_value": 0}}]}`))
	f.Add([]byte(`{"name": "x", "expectations": [{"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "result", "value_set": null, "mostly": 2}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse(data)
	})
}
