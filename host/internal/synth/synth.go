// Package synth writes a synthetic corpus in football-data.co.uk's layout
// (DIV/SEASON.csv), for scale tests: leagues of 20 teams playing a double
// round robin every season (380 matches), goals drawn from Poisson
// distributions of drifting team strengths, and bookmakers' prices from the
// true probabilities with noise and a margin. The Full layout has every
// column of the current files (FullHeader): half-time scores, the referee,
// match statistics, eight bookmakers' pre-match and closing home/draw/away
// prices, over/under 2.5 and Asian handicap prices; the Compact layout only
// Pinnacle pre-match (PS) and closing (PSC), Bet365 and a market average.
// The same layout, size and seed give the same bytes.
package synth

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Seasons is how many seasons each league gets: 1999/00 to 2024/25, so a
// million matches is 101 leagues (997,880 matches).
const Seasons = 26

// MatchesPerSeason is a 20-team double round robin.
const MatchesPerSeason = teams * (teams - 1)

// Plan says how many leagues make a corpus of about n matches (the nearest
// whole number of 9,880-match leagues, at least one).
func Plan(n int) (leagues int) {
	return max(1, (n+MatchesPerSeason*Seasons/2)/(MatchesPerSeason*Seasons))
}

// Write writes Plan(n) leagues, Seasons seasons each, under dir, in layout,
// and returns the number of matches written. progress, when set, is told
// after each file.
func Write(dir string, n int, seed uint64, layout Layout, progress func(done, total int)) (int, error) {
	if layout != Full && layout != Compact {
		return 0, fmt.Errorf("synth: layout %q is not %q or %q", layout, Full, Compact)
	}
	leagues := Plan(n)
	written := 0
	for l := range leagues {
		div := fmt.Sprintf("S%03d", l+1)
		if err := os.MkdirAll(filepath.Join(dir, div), 0o755); err != nil {
			return written, err
		}
		lg := newLeague(div, seed^uint64(l+1)*0x9e3779b97f4a7c15)
		lg.layout = layout
		for s := range Seasons {
			start := 1999 + s
			k, err := lg.writeSeason(filepath.Join(dir, div, fmt.Sprintf("%02d%02d.csv", start%100, (start+1)%100)), start)
			if err != nil {
				return written, err
			}
			written += k
			if progress != nil {
				progress(l*Seasons+s+1, leagues*Seasons)
			}
		}
	}
	return written, nil
}

const compactHeader = "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,B365H,B365D,B365A,PSH,PSD,PSA,AvgH,AvgD,AvgA,PSCH,PSCD,PSCA\r\n"

// FullHeader is the header of football-data.co.uk's 2023/24 files: 106
// columns.
const FullHeader = "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,Referee,HS,AS,HST,AST,HF,AF,HC,AC,HY,AY,HR,AR," +
	"B365H,B365D,B365A,BWH,BWD,BWA,IWH,IWD,IWA,PSH,PSD,PSA,WHH,WHD,WHA,VCH,VCD,VCA,MaxH,MaxD,MaxA,AvgH,AvgD,AvgA," +
	"B365>2.5,B365<2.5,P>2.5,P<2.5,Max>2.5,Max<2.5,Avg>2.5,Avg<2.5,AHh,B365AHH,B365AHA,PAHH,PAHA,MaxAHH,MaxAHA,AvgAHH,AvgAHA," +
	"B365CH,B365CD,B365CA,BWCH,BWCD,BWCA,IWCH,IWCD,IWCA,PSCH,PSCD,PSCA,WHCH,WHCD,WHCA,VCCH,VCCD,VCCA,MaxCH,MaxCD,MaxCA,AvgCH,AvgCD,AvgCA," +
	"B365C>2.5,B365C<2.5,PC>2.5,PC<2.5,MaxC>2.5,MaxC<2.5,AvgC>2.5,AvgC<2.5,AHCh,B365CAHH,B365CAHA,PCAHH,PCAHA,MaxCAHH,MaxCAHA,AvgCAHH,AvgCAHA"

func (lg *league) writeSeason(path string, startYear int) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	if lg.layout == Full {
		w.WriteString(FullHeader + "\r\n")
	} else {
		w.WriteString(compactHeader)
	}
	// Strengths drift between seasons.
	for i := range teams {
		lg.attack[i] = 0.85*lg.attack[i] + 0.1*lg.rng.NormFloat64()
		lg.defence[i] = 0.85*lg.defence[i] + 0.1*lg.rng.NormFloat64()
	}
	// The circle method: 19 rounds, then the same with home and away swapped.
	first := time.Date(startYear, time.August, 10, 15, 0, 0, 0, time.UTC)
	for first.Weekday() != time.Saturday {
		first = first.AddDate(0, 0, 1)
	}
	order := make([]int, teams)
	for i := range order {
		order[i] = i
	}
	n := 0
	for round := range 2 * (teams - 1) {
		day := first.AddDate(0, 0, 7*round)
		if round >= 19 {
			day = day.AddDate(0, 0, 14) // a winter break
		}
		r := round % (teams - 1)
		rot := append([]int{order[0]}, rotate(order[1:], r)...)
		for k := range teams / 2 {
			h, a := rot[k], rot[teams-1-k]
			if (k+r)%2 == 1 {
				h, a = a, h
			}
			if round >= teams-1 {
				h, a = a, h
			}
			lg.match(w, day, h, a)
			n++
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return n, err
	}
	return n, f.Close()
}

func (lg *league) match(w *bufio.Writer, day time.Time, h, a int) {
	lh := math.Exp(0.3 + 0.25 + lg.attack[h] - lg.defence[a])
	la := math.Exp(0.3 + lg.attack[a] - lg.defence[h])
	hg, ag := poisson(lg.rng, lh), poisson(lg.rng, la)
	ph, pd, pa := outcomeProbabilities(lh, la)
	res := string(soccer.ResultOf(hg, ag))
	if lg.layout == Full {
		lg.fullRow(w, day, h, a, lh, la, hg, ag, [3]float64{ph, pd, pa})
		return
	}
	w.WriteString(lg.div)
	w.WriteByte(',')
	w.WriteString(day.Format("02/01/2006"))
	w.WriteString(",15:00,")
	w.WriteString(lg.names[h])
	w.WriteByte(',')
	w.WriteString(lg.names[a])
	fmt.Fprintf(w, ",%d,%d,%s", hg, ag, res)
	// Pre-match prices see the truth through noise; closing prices through less.
	for _, q := range []struct{ noise, margin float64 }{{0.12, 0.06}, {0.07, 0.025}, {0.08, 0.045}, {0.04, 0.025}} {
		h, d, a := quote(lg.rng, ph, pd, pa, q.noise, q.margin)
		w.WriteByte(',')
		w.WriteString(strconv.FormatFloat(h, 'f', 2, 64))
		w.WriteByte(',')
		w.WriteString(strconv.FormatFloat(d, 'f', 2, 64))
		w.WriteByte(',')
		w.WriteString(strconv.FormatFloat(a, 'f', 2, 64))
	}
	w.WriteString("\r\n")
}
