package footballdata

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // kick-off times are UK local time; do not depend on the host's zoneinfo

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

var london = mustLoad("Europe/London")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// defaultKickoff is used when a file has no Time column: the traditional
// Saturday 15:00 UK kick-off, flagged as not known.
const defaultKickoffHour = 15

type parsedSeason struct {
	matches []soccer.Match
	rejects []source.Reject
	rows    int // data rows, blank rows excluded
}

// columns the parser needs, with the publisher's historical aliases.
var required = map[string][]string{
	"Div":      {"Div"},
	"Date":     {"Date"},
	"HomeTeam": {"HomeTeam", "HT"},
	"AwayTeam": {"AwayTeam", "AT"},
	"FTHG":     {"FTHG", "HG"},
	"FTAG":     {"FTAG", "AG"},
	"FTR":      {"FTR", "Res"},
}

type layout struct {
	col   map[string]int // canonical name -> index
	time  int            // -1 when absent
	odds  []oddsColumns
	stats []statColumns
	width int
	names []string
}

// statColumns are the publisher's home and away columns of one statistic.
type statColumns struct {
	stat       int // index in soccer.StatNames
	home, away int
}

// statHeaders are the publisher's columns of each of soccer.StatNames.
var statHeaders = [][2]string{{"HS", "AS"}, {"HST", "AST"}, {"HC", "AC"}, {"HF", "AF"}, {"HY", "AY"}, {"HR", "AR"}, {"HTHG", "HTAG"}}

type oddsColumns struct {
	bookmaker string
	closing   bool
	h, d, a   int
}

// parseSeason reads one season file. A file it cannot read at all (no header,
// a required column missing) is an error; a row it cannot read is a Reject
// naming file, line and column, and the other rows are still returned.
func parseSeason(name, season string, data []byte) (parsedSeason, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return parsedSeason{}, fmt.Errorf("footballdata: %s: read header: %w", name, err)
	}
	lay, err := readHeader(name, header)
	if err != nil {
		return parsedSeason{}, err
	}
	var out parsedSeason
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				out.rows++
				out.rejects = append(out.rejects, source.Reject{File: name, Line: pe.Line, Message: pe.Err.Error()})
				if len(out.rejects) > 10000 {
					return parsedSeason{}, fmt.Errorf("footballdata: %s: more than 10000 unreadable rows; is it a CSV file?", name)
				}
				continue
			}
			return parsedSeason{}, fmt.Errorf("footballdata: %s: %w", name, err)
		}
		line, _ := r.FieldPos(0)
		if blank(rec) {
			continue
		}
		out.rows++
		m, rej := lay.match(name, season, line, rec)
		if rej != nil {
			rej.Raw = truncate(strings.Join(rec, ","), 500)
			out.rejects = append(out.rejects, *rej)
			continue
		}
		out.matches = append(out.matches, m)
	}
	return out, nil
}

func readHeader(name string, header []string) (layout, error) {
	lay := layout{col: map[string]int{}, time: -1, width: len(header), names: header}
	index := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := index[h]; dup && h != "" {
			return layout{}, fmt.Errorf("footballdata: %s: header names column %q twice", name, h)
		}
		index[h] = i
	}
	for canonical, aliases := range required {
		found := false
		for _, a := range aliases {
			if i, ok := index[a]; ok {
				lay.col[canonical], found = i, true
				break
			}
		}
		if !found {
			return layout{}, fmt.Errorf("footballdata: %s: header has no %s column (looked for %s)", name, canonical, strings.Join(aliases, " or "))
		}
	}
	if i, ok := index["Time"]; ok {
		lay.time = i
	}
	for k, hs := range statHeaders {
		h, okH := index[hs[0]]
		a, okA := index[hs[1]]
		if okH && okA {
			lay.stats = append(lay.stats, statColumns{stat: k, home: h, away: a})
		}
	}
	// Odds are any X with XH, XD and XA columns; a trailing C marks closing
	// prices (PSCH is Pinnacle closing) when X without the C is a bookmaker
	// too: VCH is VC Bet's pre-match price, VCCH its closing one. Keep the
	// file's order for stable output.
	for _, h := range header {
		if !strings.HasSuffix(h, "H") || len(h) < 2 {
			continue
		}
		prefix := strings.TrimSuffix(h, "H")
		d, okD := index[prefix+"D"]
		a, okA := index[prefix+"A"]
		if !okD || !okA {
			continue
		}
		oc := oddsColumns{bookmaker: prefix, h: index[h], d: d, a: a}
		// A known code (VC) is never read as closing; PSC is when PS is known or quoted.
		if base := strings.TrimSuffix(prefix, "C"); base != prefix && base != "" && !soccer.KnownBookmaker(prefix) &&
			(soccer.KnownBookmaker(base) || hasQuote(index, base)) {
			oc.bookmaker, oc.closing = base, true
		}
		lay.odds = append(lay.odds, oc)
	}
	return lay, nil
}

func (l layout) match(file, season string, line int, rec []string) (soccer.Match, *source.Reject) {
	reject := func(column, format string, args ...any) (soccer.Match, *source.Reject) {
		return soccer.Match{}, &source.Reject{File: file, Line: line, Column: column, Message: fmt.Sprintf(format, args...)}
	}
	if len(rec) != l.width {
		return reject("", "row has %d fields, the header has %d", len(rec), l.width)
	}
	get := func(c string) string { return strings.TrimSpace(rec[l.col[c]]) }

	m := soccer.Match{Competition: get("Div"), Season: season, HomeTeam: get("HomeTeam"), AwayTeam: get("AwayTeam"),
		Origin: fmt.Sprintf("%s:%d", file, line)}
	for _, c := range []string{"Div", "HomeTeam", "AwayTeam"} {
		if get(c) == "" {
			return reject(l.names[l.col[c]], "empty")
		}
	}
	day, err := parseDate(get("Date"))
	if err != nil {
		return reject(l.names[l.col["Date"]], "%v", err)
	}
	m.Kickoff = time.Date(day.Year(), day.Month(), day.Day(), defaultKickoffHour, 0, 0, 0, london).UTC()
	if l.time >= 0 && strings.TrimSpace(rec[l.time]) != "" {
		hm, err := time.Parse("15:04", strings.TrimSpace(rec[l.time]))
		if err != nil {
			return reject(l.names[l.time], "%q is not a time of day like 15:00", rec[l.time])
		}
		m.Kickoff = time.Date(day.Year(), day.Month(), day.Day(), hm.Hour(), hm.Minute(), 0, 0, london).UTC()
		m.KickoffTimeKnown = true
	}
	m.ID = soccer.MatchID(m.Competition, season, m.HomeTeam, m.AwayTeam)

	hg, ag, res := get("FTHG"), get("FTAG"), get("FTR")
	if hg == "" && ag == "" && res == "" {
		m.Status = soccer.Scheduled
	} else {
		m.Status = soccer.Finished
		var err error
		if m.HomeGoals, err = strconv.Atoi(hg); err != nil {
			return reject(l.names[l.col["FTHG"]], "%q is not a whole number of goals", hg)
		}
		if m.AwayGoals, err = strconv.Atoi(ag); err != nil {
			return reject(l.names[l.col["FTAG"]], "%q is not a whole number of goals", ag)
		}
		if res == "" {
			return reject(l.names[l.col["FTR"]], "empty, but the score is %s-%s", hg, ag)
		}
		m.Result = soccer.Result(res)
		// Statistics of a played match: a pair of empty cells is a
		// statistic the publisher does not have; half a pair or a cell that
		// is not a whole number rejects the row, naming the column.
		all := m.Stats.All()
		for _, sc := range l.stats {
			h, a := strings.TrimSpace(rec[sc.home]), strings.TrimSpace(rec[sc.away])
			if h == "" && a == "" {
				continue
			}
			hv, errH := strconv.Atoi(h)
			av, errA := strconv.Atoi(a)
			switch {
			case errH != nil:
				return reject(l.names[sc.home], "%q is not a whole number (%s)", h, strings.ReplaceAll(soccer.StatNames[sc.stat], "_", " "))
			case errA != nil:
				return reject(l.names[sc.away], "%q is not a whole number (%s)", a, strings.ReplaceAll(soccer.StatNames[sc.stat], "_", " "))
			}
			*all[sc.stat] = soccer.Counted(hv, av)
		}
	}
	for _, oc := range l.odds {
		if o, ok := oc.read(rec); ok {
			m.Odds = append(m.Odds, o)
		}
	}
	return m, nil
}

// hasQuote reports whether the header has XH, XD and XA for prefix X.
func hasQuote(index map[string]int, prefix string) bool {
	_, h := index[prefix+"H"]
	_, d := index[prefix+"D"]
	_, a := index[prefix+"A"]
	return h && d && a
}

// read returns the prices of one bookmaker, ok=false when the file has no
// complete quote for it (missing prices are empty cells). A cell that is
// not a number is NaN: one bad price is the host's to drop (its data
// contract drops the quote with a warning), not a reason to lose the
// match's result.
func (oc oddsColumns) read(rec []string) (soccer.Odds, bool) {
	cells := [3]string{strings.TrimSpace(rec[oc.h]), strings.TrimSpace(rec[oc.d]), strings.TrimSpace(rec[oc.a])}
	var v [3]float64
	for i, c := range cells {
		if c == "" {
			return soccer.Odds{}, false
		}
		f, err := strconv.ParseFloat(c, 64)
		if err != nil {
			f = math.NaN()
		}
		v[i] = f
	}
	return soccer.Odds{Bookmaker: oc.bookmaker, Closing: oc.closing, Home: v[0], Draw: v[1], Away: v[2]}, true
}

// parseDate accepts the publisher's dd/mm/yy (older files) and dd/mm/yyyy.
func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{"02/01/2006", "02/01/06"} {
		if len(s) == len(layout) {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date like 17/08/2013 or 17/08/13", s)
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
