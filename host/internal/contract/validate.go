package contract

import (
	"fmt"
	"slices"
	"time"
)

// Result is a validation result in Great Expectations' shape.
type Result struct {
	Success    bool                `json:"success"`
	SuiteName  string              `json:"suite_name"`
	Statistics Statistics          `json:"statistics"`
	Results    []ExpectationResult `json:"results"`
	Meta       map[string]any      `json:"meta"`
}

// Statistics summarise a validation.
type Statistics struct {
	EvaluatedExpectations    int     `json:"evaluated_expectations"`
	SuccessfulExpectations   int     `json:"successful_expectations"`
	UnsuccessfulExpectations int     `json:"unsuccessful_expectations"`
	SuccessPercent           float64 `json:"success_percent"`
}

// ExpectationResult is one expectation's outcome.
type ExpectationResult struct {
	Success           bool           `json:"success"`
	ExpectationConfig map[string]any `json:"expectation_config"`
	Result            map[string]any `json:"result"`
}

// Outcome is a validation: the GE result, and which rows failed what.
type Outcome struct {
	Result Result
	// Failures maps a row index to the quarantining expectations it failed.
	// A failed table-level expectation fails every row.
	Failures map[int][]string
	// Warnings maps a row index to the warning expectations it failed
	// (meta.severity "warning"): reported, never quarantined.
	Warnings map[int][]string
}

// Failed reports whether row i failed a quarantining expectation.
func (o Outcome) Failed(i int) bool { return len(o.Failures[i]) > 0 }

// Quarantines reports whether any row failed a quarantining expectation.
func (o Outcome) Quarantines() bool { return len(o.Failures) > 0 }

const partialLimit = 20

// Validate evaluates every expectation on the table.
func (s Suite) Validate(t Table, meta map[string]any) Outcome {
	out := Outcome{Failures: map[int][]string{}, Warnings: map[int][]string{}}
	res := Result{SuiteName: s.Name, Meta: map[string]any{"validation_time": time.Now().UTC().Format(time.RFC3339)}}
	for k, v := range meta {
		res.Meta[k] = v
	}
	ix := t.index()
	for _, e := range s.Expectations {
		failures := out.Failures
		if e.Warns() {
			failures = out.Warnings
		}
		selected := make([]int, 0, len(t.Rows))
		for i, vals := range t.Rows {
			if e.cond == nil || e.cond.holds(record{vals, ix}) {
				selected = append(selected, i)
			}
		}
		er := ExpectationResult{ExpectationConfig: map[string]any{"type": e.Type, "kwargs": e.Kwargs, "meta": e.Meta}}
		var unexpected []int
		var partial []any
		missing := 0
		var absent []string
		for _, c := range e.check.columns() {
			if !slices.Contains(t.Columns, c) {
				absent = append(absent, c)
			}
		}
		switch c := e.check.(type) {
		case tableChecker:
			ok, observed := c.table(t, selected)
			er.Success = ok
			er.Result = map[string]any{"observed_value": observed}
			if !ok {
				for _, i := range selected {
					failures[i] = append(failures[i], e.String())
				}
			}
		case rowChecker, setChecker:
			if len(absent) > 0 {
				er.Success = false
				er.Result = map[string]any{"error": fmt.Sprintf("column(s) %v not in the table", absent)}
				for _, i := range selected {
					failures[i] = append(failures[i], e.String()+": column missing")
				}
				break
			}
			if rc, ok := c.(rowChecker); ok {
				for _, i := range selected {
					good, miss, v := rc.row(record{t.Rows[i], ix})
					if miss {
						missing++
						continue
					}
					if !good {
						unexpected = append(unexpected, i)
						if len(partial) < partialLimit {
							partial = append(partial, v)
						}
					}
				}
			} else {
				unexpected, missing = c.(setChecker).rows(t, selected)
				for _, i := range unexpected {
					if len(partial) < partialLimit {
						partial = append(partial, collect(record{t.Rows[i], ix}, c.columns()))
					}
				}
			}
			nonMissing := len(selected) - missing
			pct := 0.0
			if nonMissing > 0 {
				pct = 100 * float64(len(unexpected)) / float64(nonMissing)
			}
			mostly := 1.0
			if m, ok := e.Kwargs["mostly"]; ok {
				mostly, _ = number(m)
			}
			er.Success = nonMissing == 0 || 1-float64(len(unexpected))/float64(nonMissing) >= mostly
			if partial == nil {
				partial = []any{}
			}
			er.Result = map[string]any{
				"element_count": len(selected), "missing_count": missing,
				"unexpected_count": len(unexpected), "unexpected_percent": pct,
				"partial_unexpected_list": partial,
			}
			if !er.Success {
				for _, i := range unexpected {
					failures[i] = append(failures[i], e.String())
				}
			}
		}
		res.Results = append(res.Results, er)
		res.Statistics.EvaluatedExpectations++
		if er.Success {
			res.Statistics.SuccessfulExpectations++
		} else {
			res.Statistics.UnsuccessfulExpectations++
		}
	}
	res.Success = res.Statistics.UnsuccessfulExpectations == 0
	if n := res.Statistics.EvaluatedExpectations; n > 0 {
		res.Statistics.SuccessPercent = 100 * float64(res.Statistics.SuccessfulExpectations) / float64(n)
	} else {
		res.Statistics.SuccessPercent = 100
	}
	out.Result = res
	return out
}
