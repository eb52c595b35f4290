package monitor

import (
	"context"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// Evidence is a challenger's live record against the champion on the same
// matches: the paired difference challenger − champion (negative: the
// challenger is better), from each version's last forecast before kick-off.
type Evidence struct {
	Champion   int     `json:"champion"`
	Challenger int     `json:"challenger"`
	Paired     *Paired `json:"paired,omitempty"` // nil under two common matches
	// Required is the gate's minimum of common matches (0: not required);
	// Passed says whether the evidence meets it: enough matches and the
	// upper end of the 95% interval below zero.
	Required int  `json:"required"`
	Passed   bool `json:"passed"`
}

// LiveEvidence pairs the two versions' scored forecasts by match.
func LiveEvidence(ctx context.Context, st Scorer, champion, challenger, required int) (Evidence, error) {
	ev := Evidence{Champion: champion, Challenger: challenger, Required: required}
	champ := map[string]Scored{}
	scored := map[int][]Scored{}
	for _, v := range []int{champion, challenger} {
		ss, err := ScoreForecasts(ctx, st, store.ForecastQuery{Version: v})
		if err != nil {
			return ev, err
		}
		scored[v] = ss
	}
	for _, s := range scored[champion] {
		champ[s.MatchID] = s
	}
	var pairs []Scored
	for _, s := range scored[challenger] {
		c, ok := champ[s.MatchID]
		if !ok {
			continue
		}
		// The challenger's scores, with the champion's as its "market".
		cs := c.Scores
		s.PreMatchScores = &cs
		pairs = append(pairs, s)
	}
	ev.Paired = paired(pairs, func(x Scored) *Scores { return x.PreMatchScores })
	ev.Passed = required == 0 || ev.Paired != nil && ev.Paired.N >= required && ev.Paired.High < 0
	return ev, nil
}
