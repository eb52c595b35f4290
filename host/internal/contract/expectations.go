package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Table is the batch under validation: named columns and one record per
// row, its values in the columns' order (a short row's missing values are
// null). Values are strings, numbers (float64 or int) or nil for null.
type Table struct {
	Columns []string
	Rows    [][]any
}

// TableOf is the table of rows given as maps by column name.
func TableOf(columns []string, rows []map[string]any) Table {
	t := Table{Columns: columns, Rows: make([][]any, len(rows))}
	for i, r := range rows {
		t.Rows[i] = make([]any, len(columns))
		for j, c := range columns {
			t.Rows[i][j] = r[c]
		}
	}
	return t
}

// index is each column's position.
func (t Table) index() map[string]int {
	ix := make(map[string]int, len(t.Columns))
	for i, c := range t.Columns {
		if _, dup := ix[c]; !dup {
			ix[c] = i
		}
	}
	return ix
}

// record is one row of a table, read by column name (null for a column the
// table lacks).
type record struct {
	vals []any
	ix   map[string]int
}

func (r record) get(col string) any {
	if i, ok := r.ix[col]; ok && i < len(r.vals) {
		return r.vals[i]
	}
	return nil
}

// Suite is an expectation suite.
type Suite struct {
	Name         string
	Expectations []Expectation
	Meta         map[string]any
}

// Expectation is one expectation with its kwargs.
type Expectation struct {
	Type   string         `json:"type"`
	Kwargs map[string]any `json:"kwargs"`
	Meta   map[string]any `json:"meta,omitempty"`

	check checker
	cond  *condition
}

// Table names the table the expectation is evaluated on: meta.table, or
// "" for the suite's main table.
func (e Expectation) Table() string {
	t, _ := e.Meta["table"].(string)
	return t
}

// Warns reports whether a failure only warns (meta.severity "warning")
// rather than quarantining the failing rows (the default).
func (e Expectation) Warns() bool { return e.Meta["severity"] == "warning" }

// String describes the expectation compactly, for quarantine reasons and logs.
func (e Expectation) String() string {
	keys := make([]string, 0, len(e.Kwargs))
	for k := range e.Kwargs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v, _ := json.Marshal(e.Kwargs[k])
		parts[i] = k + "=" + string(v)
	}
	return e.Type + "(" + strings.Join(parts, ", ") + ")"
}

// condition is a GE row_condition of the form col("x")=="v" (the
// great_expectations parser) or x=="v" (pandas), with == or !=.
type condition struct {
	column string
	op     string
	value  any
}

func parseCondition(s string) (*condition, error) {
	m := conditionRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf(`row_condition %q: only col("x")=="v" / x=="v" with == or != is supported`, s)
	}
	c := &condition{column: m[1] + m[2], op: m[3]}
	switch {
	case m[6] != "":
		var f float64
		fmt.Sscan(m[6], &f)
		c.value = f
	case m[4] != "":
		c.value = m[4]
	default:
		c.value = m[5]
	}
	return c, nil
}

func (c *condition) holds(r record) bool {
	eq := equal(r.get(c.column), c.value)
	if c.op == "==" {
		return eq
	}
	return !eq
}

func equal(a, b any) bool {
	fa, oka := number(a)
	fb, okb := number(b)
	if oka && okb {
		return fa == fb
	}
	return a == b
}

var conditionRE = regexp.MustCompile(`^\s*(?:col\(\s*["'](\w+)["']\s*\)|(\w+))\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(-?[0-9]+(?:\.[0-9]+)?))\s*$`)

// checker evaluates an expectation on the rows its condition selects.
type checker interface {
	// columns the expectation reads, which must exist.
	columns() []string
}

// rowChecker judges each row: ok=false is unexpected, missing=true means the
// row has no value to judge (nulls are skipped, as in GE).
type rowChecker interface {
	checker
	row(r record) (ok, missing bool, value any)
}

// tableChecker judges the whole table.
type tableChecker interface {
	checker
	table(t Table, rows []int) (ok bool, observed any)
}

// setChecker judges rows in relation to each other (uniqueness).
type setChecker interface {
	checker
	rows(t Table, rows []int) (unexpected []int, missing int)
}

func (e *Expectation) compile() error {
	if rc, ok := e.Kwargs["row_condition"]; ok && rc != nil && rc != "" {
		s, ok := rc.(string)
		if !ok {
			return errors.New("row_condition must be a string")
		}
		c, err := parseCondition(s)
		if err != nil {
			return err
		}
		e.cond = c
	}
	col := func() (string, error) { return e.str("column") }
	var err error
	switch e.Type {
	case "expect_column_to_exist":
		var c string
		c, err = col()
		e.check = columnExists{c}
	case "expect_table_row_count_to_be_between":
		min, okMin := e.num("min_value")
		max, okMax := e.num("max_value")
		e.check = rowCount{min, okMin, max, okMax}
	case "expect_column_values_to_not_be_null":
		var c string
		c, err = col()
		e.check = notNull{c}
	case "expect_column_values_to_be_between":
		var c string
		c, err = col()
		b := between{column: c}
		b.min, b.hasMin = e.num("min_value")
		b.max, b.hasMax = e.num("max_value")
		b.strictMin, b.strictMax = e.flag("strict_min"), e.flag("strict_max")
		if !b.hasMin && !b.hasMax {
			err = errors.New("needs min_value or max_value")
		}
		e.check = b
	case "expect_column_values_to_be_in_set":
		var c string
		c, err = col()
		set, ok := e.Kwargs["value_set"].([]any)
		if !ok {
			err = errors.Join(err, errors.New("needs value_set, a list"))
		}
		e.check = inSet{c, set}
	case "expect_column_values_to_match_regex":
		var c, pattern string
		c, err = col()
		pattern, err2 := e.str("regex")
		re, err3 := regexp.Compile(pattern)
		err = errors.Join(err, err2, err3)
		e.check = matchRegex{c, re}
	case "expect_column_values_to_be_unique":
		var c string
		c, err = col()
		e.check = unique{[]string{c}}
	case "expect_compound_columns_to_be_unique":
		var cols []string
		cols, err = e.list("column_list")
		e.check = unique{cols}
	case "expect_select_column_values_to_be_unique_within_record":
		var cols []string
		cols, err = e.list("column_list")
		e.check = withinRecord{cols}
	case "expect_column_pair_values_a_to_be_greater_than_b":
		a, errA := e.str("column_A")
		b, errB := e.str("column_B")
		err = errors.Join(errA, errB)
		e.check = pair{a: a, b: b, orEqual: e.flag("or_equal"), op: "greater"}
	case "expect_column_pair_values_to_be_equal":
		a, errA := e.str("column_A")
		b, errB := e.str("column_B")
		err = errors.Join(errA, errB)
		e.check = pair{a: a, b: b, op: "equal"}
	default:
		return fmt.Errorf("unknown expectation type %q (supported: %s)", e.Type, strings.Join(Supported, ", "))
	}
	if m, ok := e.Kwargs["mostly"]; ok {
		f, isNum := number(m)
		if !isNum || f < 0 || f > 1 {
			err = errors.Join(err, fmt.Errorf("mostly must be a fraction in [0, 1], got %v", m))
		}
	}
	return err
}

// Supported lists the expectation types this package evaluates.
var Supported = []string{
	"expect_column_to_exist", "expect_table_row_count_to_be_between",
	"expect_column_values_to_not_be_null", "expect_column_values_to_be_between",
	"expect_column_values_to_be_in_set", "expect_column_values_to_match_regex",
	"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
	"expect_select_column_values_to_be_unique_within_record",
	"expect_column_pair_values_a_to_be_greater_than_b", "expect_column_pair_values_to_be_equal",
}

func (e *Expectation) str(k string) (string, error) {
	s, ok := e.Kwargs[k].(string)
	if !ok || s == "" {
		return "", fmt.Errorf("needs %s, a string", k)
	}
	return s, nil
}

func (e *Expectation) num(k string) (float64, bool) {
	v, ok := e.Kwargs[k]
	if !ok || v == nil {
		return 0, false
	}
	return number(v)
}

func (e *Expectation) flag(k string) bool {
	b, _ := e.Kwargs[k].(bool)
	return b
}

func (e *Expectation) list(k string) ([]string, error) {
	raw, ok := e.Kwargs[k].([]any)
	if !ok || len(raw) == 0 {
		return nil, fmt.Errorf("needs %s, a list of column names", k)
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		s, ok := r.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is not a column name", k, i)
		}
		out[i] = s
	}
	return out, nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func isNull(v any) bool {
	if v == nil {
		return true
	}
	if f, ok := v.(float64); ok && math.IsNaN(f) {
		return true
	}
	return false
}

type columnExists struct{ column string }

func (c columnExists) columns() []string { return nil }
func (c columnExists) table(t Table, _ []int) (bool, any) {
	for _, col := range t.Columns {
		if col == c.column {
			return true, true
		}
	}
	return false, false
}

type rowCount struct {
	min    float64
	hasMin bool
	max    float64
	hasMax bool
}

func (c rowCount) columns() []string { return nil }
func (c rowCount) table(_ Table, rows []int) (bool, any) {
	n := float64(len(rows))
	return (!c.hasMin || n >= c.min) && (!c.hasMax || n <= c.max), len(rows)
}

type notNull struct{ column string }

func (c notNull) columns() []string { return []string{c.column} }
func (c notNull) row(r record) (bool, bool, any) {
	v := r.get(c.column)
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return false, false, v
	}
	return !isNull(v), false, v
}

type between struct {
	column               string
	min, max             float64
	hasMin, hasMax       bool
	strictMin, strictMax bool
}

func (c between) columns() []string { return []string{c.column} }
func (c between) row(r record) (bool, bool, any) {
	v := r.get(c.column)
	if isNull(v) {
		return true, true, nil
	}
	f, ok := number(v)
	if !ok {
		return false, false, v
	}
	if c.hasMin && (f < c.min || (c.strictMin && f == c.min)) {
		return false, false, v
	}
	if c.hasMax && (f > c.max || (c.strictMax && f == c.max)) {
		return false, false, v
	}
	return true, false, v
}

type inSet struct {
	column string
	set    []any
}

func (c inSet) columns() []string { return []string{c.column} }
func (c inSet) row(r record) (bool, bool, any) {
	v := r.get(c.column)
	if isNull(v) {
		return true, true, nil
	}
	for _, s := range c.set {
		if equal(v, s) {
			return true, false, v
		}
	}
	return false, false, v
}

type matchRegex struct {
	column string
	re     *regexp.Regexp
}

func (c matchRegex) columns() []string { return []string{c.column} }
func (c matchRegex) row(r record) (bool, bool, any) {
	v := r.get(c.column)
	if isNull(v) {
		return true, true, nil
	}
	s, ok := v.(string)
	return ok && c.re.MatchString(s), false, v
}

type unique struct{ cols []string }

func (c unique) columns() []string { return c.cols }
func (c unique) rows(t Table, rows []int) ([]int, int) {
	groups := map[string][]int{}
	var order []string
	missing := 0
	ix := t.index()
	for _, i := range rows {
		parts := make([]string, len(c.cols))
		null := false
		for j, col := range c.cols {
			v := (record{t.Rows[i], ix}).get(col)
			null = null || isNull(v)
			parts[j] = fmt.Sprint(v)
		}
		if null {
			missing++
			continue
		}
		k := strings.Join(parts, "\x00")
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var out []int
	for _, k := range order {
		if len(groups[k]) > 1 {
			out = append(out, groups[k]...)
		}
	}
	return out, missing
}

type withinRecord struct{ cols []string }

func (c withinRecord) columns() []string { return c.cols }
func (c withinRecord) row(r record) (bool, bool, any) {
	vals := make([]any, 0, len(c.cols))
	for _, col := range c.cols {
		v := r.get(col)
		for _, w := range vals {
			if !isNull(v) && equal(v, w) {
				return false, false, collect(r, c.cols)
			}
		}
		vals = append(vals, v)
	}
	return true, false, nil
}

type pair struct {
	a, b    string
	orEqual bool
	op      string
}

func (c pair) columns() []string { return []string{c.a, c.b} }
func (c pair) row(r record) (bool, bool, any) {
	va, vb := r.get(c.a), r.get(c.b)
	if isNull(va) || isNull(vb) {
		return true, true, nil
	}
	fa, okA := number(va)
	fb, okB := number(vb)
	var ok bool
	switch {
	case c.op == "equal":
		ok = equal(va, vb)
	case okA && okB:
		ok = fa > fb || (c.orEqual && fa == fb)
	}
	return ok, false, []any{va, vb}
}

func collect(r record, cols []string) []any {
	out := make([]any, len(cols))
	for i, c := range cols {
		out[i] = r.get(c)
	}
	return out
}
