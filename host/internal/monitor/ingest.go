package monitor

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"

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
	matches, err := st.Matches(ctx, store.MatchQuery{Status: soccer.Finished})
	if err != nil {
		return nil, err
	}
	seasons := map[string]map[string][]soccer.Match{} // competition → season → matches
	for _, m := range matches {
		if seasons[m.Competition] == nil {
			seasons[m.Competition] = map[string][]soccer.Match{}
		}
		seasons[m.Competition][m.Season] = append(seasons[m.Competition][m.Season], m)
	}
	for _, comp := range slices.Sorted(maps.Keys(seasons)) {
		ss := seasons[comp]
		order := slices.Collect(maps.Keys(ss))
		sort.Slice(order, func(i, j int) bool { return ss[order[i]][0].Kickoff.Before(ss[order[j]][0].Kickoff) })
		if len(order) < 2 {
			continue
		}
		newest := order[len(order)-1]
		var missBase, nBase int
		for _, s := range order[:len(order)-1] {
			missBase += unpriced(ss[s])
			nBase += len(ss[s])
		}
		out = append(out, check(comp, "missing prices", unpriced(ss[newest]), len(ss[newest]), missBase, nBase))
		if len(order) < 3 {
			continue
		}
		var newBase, nNewBase int
		for i := 1; i < len(order)-1; i++ {
			newBase += withNewTeam(ss[order[i-1]], ss[order[i]])
			nNewBase += len(ss[order[i]])
		}
		out = append(out, check(comp, "unknown teams", withNewTeam(ss[order[len(order)-2]], ss[newest]), len(ss[newest]), newBase, nNewBase))
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

func unpriced(ms []soccer.Match) int {
	n := 0
	for _, m := range ms {
		if !slices.ContainsFunc(m.Odds, func(o soccer.Odds) bool { return !o.Closing }) {
			n++
		}
	}
	return n
}

// withNewTeam counts the matches of season with a team absent from before.
func withNewTeam(before, season []soccer.Match) int {
	known := map[string]bool{}
	for _, m := range before {
		known[m.HomeTeam], known[m.AwayTeam] = true, true
	}
	n := 0
	for _, m := range season {
		if !known[m.HomeTeam] || !known[m.AwayTeam] {
			n++
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
