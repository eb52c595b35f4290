package batch

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/present"
	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// matchHeader are the columns of a matches CSV.
var matchHeader = []string{"id", "competition", "season", "kickoff", "kickoff_time_known", "home_team", "away_team",
	"status", "home_goals", "away_goals", "result", "odds", "origin", "stats"}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// writeCSV writes rows atomically: a reader never sees half a file.
func writeCSV(path string, header []string, rows [][]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write(header)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeJSON writes v as indented JSON atomically.
func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readCSV(path string, want []string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: empty, not even a header", path)
	}
	for i, c := range want {
		if i >= len(rows[0]) || rows[0][i] != c {
			return nil, fmt.Errorf("%s: column %d is %q, want %q", path, i+1, at(rows[0], i), c)
		}
	}
	return rows[1:], nil
}

func at(row []string, i int) string {
	if i < len(row) {
		return row[i]
	}
	return ""
}

func matchRow(m soccer.Match) []string {
	odds, _ := json.Marshal(finiteOdds(m.Odds))
	hg, ag := "", ""
	if m.Status == soccer.Finished {
		hg, ag = strconv.Itoa(m.HomeGoals), strconv.Itoa(m.AwayGoals)
	}
	return []string{m.ID, m.Competition, m.Season, m.Kickoff.UTC().Format(time.RFC3339), strconv.FormatBool(m.KickoffTimeKnown),
		m.HomeTeam, m.AwayTeam, string(m.Status), hg, ag, string(m.Result), string(odds), m.Origin, string(store.StatsJSON(m.Stats))}
}

// WriteMatches writes matches to a CSV file.
func WriteMatches(path string, ms []soccer.Match) error {
	rows := make([][]string, len(ms))
	for i, m := range ms {
		rows[i] = matchRow(m)
	}
	return writeCSV(path, matchHeader, rows)
}

// ReadMatches reads a matches CSV, naming the line of any bad value.
func ReadMatches(path string) ([]soccer.Match, error) {
	rows, err := readCSV(path, matchHeader)
	if err != nil {
		return nil, err
	}
	out := make([]soccer.Match, len(rows))
	for i, r := range rows {
		bad := func(col string, err error) error { return fmt.Errorf("%s:%d: column %s: %w", path, i+2, col, err) }
		if len(r) != len(matchHeader) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", path, i+2, len(r), len(matchHeader))
		}
		m := soccer.Match{ID: r[0], Competition: r[1], Season: r[2], HomeTeam: r[5], AwayTeam: r[6], Status: soccer.Status(r[7]),
			Result: soccer.Result(r[10]), Origin: r[12]}
		if m.Kickoff, err = time.Parse(time.RFC3339, r[3]); err != nil {
			return nil, bad("kickoff", err)
		}
		m.Kickoff = m.Kickoff.UTC()
		m.KickoffTimeKnown = r[4] == "true"
		if m.Status == soccer.Finished {
			if m.HomeGoals, err = strconv.Atoi(r[8]); err != nil {
				return nil, bad("home_goals", err)
			}
			if m.AwayGoals, err = strconv.Atoi(r[9]); err != nil {
				return nil, bad("away_goals", err)
			}
		}
		if err := json.Unmarshal([]byte(r[11]), &m.Odds); err != nil {
			return nil, bad("odds", err)
		}
		if err := json.Unmarshal([]byte(r[13]), &m.Stats); err != nil {
			return nil, bad("stats", err)
		}
		out[i] = m
	}
	return out, nil
}

// featureLead are the columns of a features CSV before the feature values.
var featureLead = []string{"match_id", "competition", "season", "kickoff", "home_team", "away_team", "result", "variant",
	"closing_home", "closing_draw", "closing_away", "prematch_home", "prematch_draw", "prematch_away"}

// WriteFeatures writes a replayed dataset: one "priced" row per match and an
// "unpriced" row (its features without pre-match odds) where it had odds.
func WriteFeatures(path string, d forecast.Dataset) error {
	header := append(append([]string{}, featureLead...), d.Schema.Names()...)
	var rows [][]string
	for _, e := range d.Examples {
		m := e.Match
		ch, cd, ca := "", "", ""
		if o, ok := m.OddsOf(forecast.ClosingBookmaker, true); ok {
			ch, cd, ca = num(o.Home), num(o.Draw), num(o.Away)
		}
		ph, pd, pa := "", "", ""
		if o, ok := m.OddsOf(forecast.ClosingBookmaker, false); ok {
			ph, pd, pa = num(o.Home), num(o.Draw), num(o.Away)
		}
		lead := []string{m.ID, m.Competition, m.Season, m.Kickoff.UTC().Format(time.RFC3339), m.HomeTeam, m.AwayTeam, string(m.Result)}
		for _, v := range []struct {
			name   string
			values []float64
		}{{"priced", e.Values}, {"unpriced", e.Unpriced}} {
			if v.values == nil {
				continue
			}
			row := append(append(append([]string{}, lead...), v.name, ch, cd, ca, ph, pd, pa), make([]string, len(v.values))...)
			for j, x := range v.values {
				row[len(featureLead)+j] = num(x)
			}
			rows = append(rows, row)
		}
	}
	if err := writeCSV(path, header, rows); err != nil {
		return err
	}
	return writeJSON(schemaPath(path), d.Schema)
}

func schemaPath(featuresPath string) string {
	return featuresPath[:len(featuresPath)-len(filepath.Ext(featuresPath))] + ".schema.json"
}

// ReadFeatures reads a dataset written by WriteFeatures.
func ReadFeatures(path string) (forecast.Dataset, error) {
	var d forecast.Dataset
	b, err := os.ReadFile(schemaPath(path))
	if err != nil {
		return d, fmt.Errorf("feature schema: %w", err)
	}
	if err := json.Unmarshal(b, &d.Schema); err != nil {
		return d, fmt.Errorf("feature schema %s: %w", schemaPath(path), err)
	}
	header := append(append([]string{}, featureLead...), d.Schema.Names()...)
	rows, err := readCSV(path, header)
	if err != nil {
		return d, err
	}
	index := map[string]int{}
	for i, r := range rows {
		if len(r) != len(header) {
			return d, fmt.Errorf("%s:%d: %d fields, want %d", path, i+2, len(r), len(header))
		}
		values := make([]float64, len(d.Schema.Columns))
		for j := range values {
			if values[j], err = strconv.ParseFloat(r[len(featureLead)+j], 64); err != nil {
				return d, fmt.Errorf("%s:%d: column %s: %w", path, i+2, header[len(featureLead)+j], err)
			}
		}
		if r[7] == "unpriced" {
			k, ok := index[r[0]]
			if !ok {
				return d, fmt.Errorf("%s:%d: unpriced row for %s before its priced row", path, i+2, r[0])
			}
			d.Examples[k].Unpriced = values
			continue
		}
		kick, err := time.Parse(time.RFC3339, r[3])
		if err != nil {
			return d, fmt.Errorf("%s:%d: column kickoff: %w", path, i+2, err)
		}
		m := soccer.Match{ID: r[0], Competition: r[1], Season: r[2], Kickoff: kick.UTC(), HomeTeam: r[4], AwayTeam: r[5],
			Status: soccer.Finished, Result: soccer.Result(r[6])}
		for _, q := range []struct {
			at      int
			closing bool
		}{{8, true}, {11, false}} {
			if r[q.at] == "" {
				continue
			}
			o := soccer.Odds{Bookmaker: forecast.ClosingBookmaker, Closing: q.closing}
			o.Home, _ = strconv.ParseFloat(r[q.at], 64)
			o.Draw, _ = strconv.ParseFloat(r[q.at+1], 64)
			o.Away, _ = strconv.ParseFloat(r[q.at+2], 64)
			m.Odds = append(m.Odds, o)
		}
		index[m.ID] = len(d.Examples)
		d.Examples = append(d.Examples, replay.Example{Match: m, Values: values})
	}
	return d, nil
}

// forecastHeader are the columns of `batch predict`'s CSV; the market
// columns are empty for a fixture without odds.
var forecastHeader = []string{"id", "competition", "season", "kickoff", "home_team", "away_team", "p_home", "p_draw", "p_away",
	"model", "model_version", "generation", "feature_schema_version", "bookmaker", "market_home", "market_draw", "market_away",
	"overround", "edge_home", "edge_draw", "edge_away"}

// WriteForecasts writes forecasts as CSV, atomically, in kick-off order.
func WriteForecasts(path string, ps []present.PredictionResponse) error {
	rows := make([][]string, 0, len(ps))
	for _, p := range ps {
		f, pr := p.Fixture, p.Probabilities
		row := []string{f.ID, f.Competition, f.Season, f.Kickoff.UTC().Format(time.RFC3339), f.HomeTeam, f.AwayTeam,
			num(pr.Home), num(pr.Draw), num(pr.Away), p.Model.Name, strconv.Itoa(p.Model.Version), strconv.FormatInt(p.Generation, 10),
			p.FeatureSchemaVersion}
		if m := p.Market; m != nil {
			row = append(row, m.Bookmaker, num(m.Probabilities.Home), num(m.Probabilities.Draw), num(m.Probabilities.Away),
				num(m.Overround), num(m.Edge.Home), num(m.Edge.Draw), num(m.Edge.Away))
		} else {
			row = append(row, "", "", "", "", "", "", "", "")
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b []string) int { return strings.Compare(a[3]+a[0], b[3]+b[0]) })
	return writeCSV(path, forecastHeader, rows)
}

// finiteOdds is odds as JSON can hold them: a price the source could not
// read (NaN) is written as 0, which the data contract's prices table
// then drops with a warning like any price not above 1.
func finiteOdds(odds []soccer.Odds) []soccer.Odds {
	out := slices.Clone(odds)
	for i := range out {
		for _, p := range []*float64{&out[i].Home, &out[i].Draw, &out[i].Away} {
			if math.IsNaN(*p) || math.IsInf(*p, 0) {
				*p = 0
			}
		}
	}
	return out
}
