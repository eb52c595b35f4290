package monitor

import "context"

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
func LiveEvidence(ctx context.Context, st Store, champion, challenger, required int) (Evidence, error) {
	ev := Evidence{Champion: champion, Challenger: challenger, Required: required}
	rep, err := Compute(ctx, st, Query{})
	if err != nil {
		return ev, err
	}
	champ := map[string]Scored{}
	for _, s := range rep.Scored {
		if s.Version == champion {
			champ[s.MatchID] = s
		}
	}
	var pairs []Scored
	for _, s := range rep.Scored {
		c, ok := champ[s.MatchID]
		if s.Version != challenger || !ok {
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
