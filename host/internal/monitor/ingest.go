package monitor

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Ingest-side drift: a source whose data quality changes shows before any
// forecast is scored. Three shares are watched, each latest value against
// its own history:
//
//   - quarantined rows: per source, the share of rows read that its
//     newest run quarantined, against its earlier runs pooled;
//   - missing prices: per competition, the share of finished matches of
//     the newest season without a pre-match price, against earlier seasons;
//   - unknown teams: per competition, the share of the newest season's
//     matches with a team that played no match the season before, against
//     the same share in earlier seasons (promoted clubs make it ordinary;
//     a source renaming a club makes it jump).
//
// A share is flagged when it exceeds its baseline by more than three
// standard errors (two-proportion z > 3) and by at least five points.
type IngestCheck struct {
	// Scope is the source or the competition; Measure what was shared.
	Scope    string  `json:"scope"`
	Measure  string  `json:"measure"`
	Latest   float64 `json:"latest"`
	N        int     `json:"n"`
	Baseline float64 `json:"baseline"`
	BaseN    int     `json:"baseline_n"`
	Z        float64 `json:"z"`
	Flagged  bool    `json:"flagged"`
}

// IngestStore is what the ingest checks read.
type IngestStore interface {
	Runs(ctx context.Context, limit int) ([]store.IngestRun, error)
	Matches(ctx context.Context, q store.MatchQuery) ([]soccer.Match, error)
}

// CheckIngest computes the ingest-side checks from the store.
func CheckIngest(ctx context.Context, st IngestStore) ([]IngestCheck, error) {
	out := []IngestCheck{}
	runs, err := st.Runs(ctx, 200)
	if err != nil {
		return nil, err
	}
	bySource := map[string][]store.IngestRun{} // newest first
	for _, r := range runs {
		if r.Error == "" && r.Read > 0 {
			bySource[r.Source] = append(bySource[r.Source], r)
		}
	}
	for _, src := range slices.Sorted(maps.Keys(bySource)) {
		rs := bySource[src]
		if len(rs) < 2 {
			continue
		}
		var q, n int
		for _, r := range rs[1:] {
			q, n = q+r.Applied.Quarantined, n+r.Read
		}
		out = append(out, check(src, "quarantined rows", rs[0].Applied.Quarantined, rs[0].Read, q, n))
	}
	seasons, err := tallySeasons(ctx, st)
	if err != nil {
		return nil, err
	}
	for _, comp := range slices.Sorted(maps.Keys(seasons)) {
		ss := seasons[comp]
		order := slices.Collect(maps.Keys(ss))
		sort.Slice(order, func(i, j int) bool { return ss[order[i]].first.Before(ss[order[j]].first) })
		if len(order) < 2 {
			continue
		}
		newest := ss[order[len(order)-1]]
		var missBase, nBase int
		for _, s := range order[:len(order)-1] {
			missBase += ss[s].unpriced
			nBase += ss[s].n
		}
		out = append(out, check(comp, "missing prices", newest.unpriced, newest.n, missBase, nBase))
		if len(order) < 3 {
			continue
		}
		var newBase, nNewBase int
		for i := 1; i < len(order)-1; i++ {
			newBase += ss[order[i]].withNewTeam(ss[order[i-1]])
			nNewBase += ss[order[i]].n
		}
		out = append(out, check(comp, "unknown teams", newest.withNewTeam(ss[order[len(order)-2]]), newest.n, newBase, nNewBase))
	}
	return out, nil
}

func check(scope, measure string, k, n, kBase, nBase int) IngestCheck {
	c := IngestCheck{Scope: scope, Measure: measure, N: n, BaseN: nBase}
	if n == 0 || nBase == 0 {
		return c
	}
	c.Latest, c.Baseline = float64(k)/float64(n), float64(kBase)/float64(nBase)
	pooled := float64(k+kBase) / float64(n+nBase)
	if se := math.Sqrt(pooled * (1 - pooled) * (1/float64(n) + 1/float64(nBase))); se > 0 {
		c.Z = (c.Latest - c.Baseline) / se
	}
	c.Flagged = c.Z > 3 && c.Latest-c.Baseline >= 0.05
	return c
}

// season is what the checks need of one competition's season: its
// matches, those without a pre-match price, and who played whom.
type season struct {
	first       time.Time
	n, unpriced int
	pairs       map[[2]string]int
}

// tallyWindow is how much of the store tallySeasons reads at once.
const tallyWindow = 180 * 24 * time.Hour

// tallySeasons reads the finished matches a window at a time (the store
// may hold millions) and keeps only each season's counts.
func tallySeasons(ctx context.Context, st IngestStore) (map[string]map[string]*season, error) {
	out := map[string]map[string]*season{}
	first, err := st.Matches(ctx, store.MatchQuery{Status: soccer.Finished, Limit: 1})
	if err != nil || len(first) == 0 {
		return out, err
	}
	end := time.Now().Add(24 * time.Hour)
	for from := first[0].Kickoff; from.Before(end); from = from.Add(tallyWindow) {
		ms, err := st.Matches(ctx, store.MatchQuery{Status: soccer.Finished, From: from, To: from.Add(tallyWindow)})
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if out[m.Competition] == nil {
				out[m.Competition] = map[string]*season{}
			}
			s := out[m.Competition][m.Season]
			if s == nil {
				s = &season{first: m.Kickoff, pairs: map[[2]string]int{}}
				out[m.Competition][m.Season] = s
			}
			s.n++
			if !slices.ContainsFunc(m.Odds, func(o soccer.Odds) bool { return !o.Closing }) {
				s.unpriced++
			}
			s.pairs[[2]string{m.HomeTeam, m.AwayTeam}]++
		}
	}
	return out, nil
}

// withNewTeam counts the matches of s with a team absent from before.
func (s *season) withNewTeam(before *season) int {
	known := map[string]bool{}
	for p := range before.pairs {
		known[p[0]], known[p[1]] = true, true
	}
	n := 0
	for p, k := range s.pairs {
		if !known[p[0]] || !known[p[1]] {
			n += k
		}
	}
	return n
}

// String is the check on one line.
func (c IngestCheck) String() string {
	flag := ""
	if c.Flagged {
		flag = "  FLAGGED"
	}
	return fmt.Sprintf("%s, %s: %.1f%% of %d (before: %.1f%% of %d, z %.1f)%s", c.Scope, c.Measure, 100*c.Latest, c.N, 100*c.Baseline, c.BaseN, c.Z, flag)
}
