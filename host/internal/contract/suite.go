// Package contract evaluates data contracts written as Great Expectations
// suites (JSON, 1.x form with "name"/"type", or 0.x form with
// "expectation_suite_name"/"expectation_type") against a table of records,
// and reports in GE's validation-result shape plus, for quarantine, which
// rows failed which expectation.
//
// Start with Load and Suite.Validate.
package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// ForTable is the part of the suite evaluated on one table ("" is the main one).
func (s Suite) ForTable(table string) Suite {
	out := Suite{Name: s.Name, Meta: s.Meta}
	if table != "" {
		out.Name += "." + table
	}
	for _, e := range s.Expectations {
		if e.Table() == table {
			out.Expectations = append(out.Expectations, e)
		}
	}
	return out
}

// Tables lists the tables the suite's expectations name besides the main one.
func (s Suite) Tables() []string {
	var out []string
	for _, e := range s.Expectations {
		if t := e.Table(); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

type rawSuite struct {
	Name         string           `json:"name"`
	LegacyName   string           `json:"expectation_suite_name"`
	Expectations []rawExpectation `json:"expectations"`
	Meta         map[string]any   `json:"meta"`
}

type rawExpectation struct {
	Type       string         `json:"type"`
	LegacyType string         `json:"expectation_type"`
	Kwargs     map[string]any `json:"kwargs"`
	Meta       map[string]any `json:"meta"`
}

// Load reads a suite file.
func Load(path string) (Suite, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Suite{}, fmt.Errorf("expectation suite: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return Suite{}, fmt.Errorf("expectation suite %s: %w", path, err)
	}
	if err := s.loadTables(path); err != nil {
		return Suite{}, err
	}
	return s, nil
}

// TablesMeta is the suite meta key naming the suites of further tables:
// {"prices": "prices.json"}, each file relative to the suite's. Great
// Expectations runs one suite on one table, so each table has its own
// suite; Load reads them as one contract, each expectation of a named
// table's suite marked with meta.table. (An expectation may also carry
// meta.table itself, inside the main suite.)
const TablesMeta = "soccerpredict_tables"

func (s *Suite) loadTables(path string) error {
	tables, ok := s.Meta[TablesMeta]
	if !ok {
		return nil
	}
	files, ok := tables.(map[string]any)
	if !ok {
		return fmt.Errorf("expectation suite %s: meta.%s must map each table to its suite's file", path, TablesMeta)
	}
	for _, table := range slices.Sorted(maps.Keys(files)) {
		file, ok := files[table].(string)
		if !ok || table == "" {
			return fmt.Errorf("expectation suite %s: meta.%s[%q] must name a file", path, TablesMeta, table)
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(filepath.Dir(path), file)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("expectation suite %s: the %s table's suite: %w", path, table, err)
		}
		other, err := Parse(b) // its own meta.soccerpredict_tables, if any, is not followed: one level
		if err != nil {
			return fmt.Errorf("expectation suite %s: %w", file, err)
		}
		for _, e := range other.Expectations {
			if t := e.Table(); t != "" && t != table {
				return fmt.Errorf("expectation suite %s: %s names table %q, but the suite is the %s table's", file, e, t, table)
			}
			e.Meta = maps.Clone(e.Meta)
			if e.Meta == nil {
				e.Meta = map[string]any{}
			}
			e.Meta["table"] = table
			s.Expectations = append(s.Expectations, e)
		}
	}
	return nil
}

// Parse reads a suite and checks that every expectation is one this package
// evaluates, with the kwargs it needs.
func Parse(b []byte) (Suite, error) {
	var raw rawSuite
	if err := json.Unmarshal(b, &raw); err != nil {
		return Suite{}, fmt.Errorf("not a JSON expectation suite: %w", err)
	}
	s := Suite{Name: raw.Name, Meta: raw.Meta}
	if s.Name == "" {
		s.Name = raw.LegacyName
	}
	if s.Name == "" {
		return Suite{}, errors.New(`the suite has no "name"`)
	}
	var errs []error
	for i, re := range raw.Expectations {
		e := Expectation{Type: re.Type, Kwargs: re.Kwargs, Meta: re.Meta}
		if e.Type == "" {
			e.Type = re.LegacyType
		}
		if e.Kwargs == nil {
			e.Kwargs = map[string]any{}
		}
		if err := e.compile(); err != nil {
			errs = append(errs, fmt.Errorf("expectations[%d] %s: %w", i, e.Type, err))
			continue
		}
		if sev, ok := e.Meta["severity"]; ok && sev != "warning" && sev != "quarantine" {
			errs = append(errs, fmt.Errorf("expectations[%d] %s: meta.severity %v: want \"quarantine\" (the default) or \"warning\"", i, e.Type, sev))
			continue
		}
		if t, ok := e.Meta["table"]; ok {
			if name, isText := t.(string); !isText || name == "" {
				errs = append(errs, fmt.Errorf("expectations[%d] %s: meta.table %v: want a table name", i, e.Type, t))
				continue
			}
		}
		s.Expectations = append(s.Expectations, e)
	}
	if err := errors.Join(errs...); err != nil {
		return Suite{}, err
	}
	return s, nil
}
