package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

func runMatches(e env, args []string) error {
	fs, c := newFlags(e, "matches")
	var q store.MatchQuery
	fs.StringVar(&q.Competition, "competition", "", "competition code, e.g. E0")
	fs.StringVar(&q.Season, "season", "", "season code, e.g. 2324")
	fs.IntVar(&q.Limit, "limit", 20, "at most this many (0: all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	if q.Competition != "" {
		q.Competition = forecast.CompetitionCode(q.Competition) // "e0", "premier league" → E0
	}
	ms, err := st.Matches(e.ctx, q)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		// Say so, rather than print an empty table.
		what := "the store has no matches"
		if q.Competition != "" || q.Season != "" {
			what += fmt.Sprintf(" for competition %q season %q", q.Competition, q.Season)
		}
		fmt.Fprintf(e.stderr, "%s (soccerpredict ingest loads them; ingest history shows what was loaded)\n", what)
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KICKOFF (UTC)\tID\tHOME\tAWAY\tSCORE\tPINNACLE PRE-MATCH H/D/A\tPRICES")
	for _, m := range ms {
		score := "-"
		if m.Status == soccer.Finished {
			score = fmt.Sprintf("%d-%d %s", m.HomeGoals, m.AwayGoals, m.Result)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Kickoff.Format("2006-01-02 15:04"), m.ID, m.HomeTeam, m.AwayTeam, score,
			pinnacle(m.Odds), prices(m.Odds))
	}
	return w.Flush()
}

func runQuarantine(e env, args []string) error {
	fs, c := newFlags(e, "quarantine")
	var q store.QuarantineQuery
	fs.StringVar(&q.Source, "source", "", "only rows from this source")
	fs.StringVar(&q.RunID, "run", "", "only rows seen in this ingest run")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.Quarantined(e.ctx, q)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SOURCE\tWHERE\tMATCH\tREASONS\tFIRST RUN\tLAST RUN")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s:%d\t%s\t%s\t%s\t%s\n", r.Source, r.File, r.Line, orDash(r.MatchID), strings.Join(r.Reasons, "; "), r.FirstRun, r.LastRun)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%d quarantined rows\n", len(rows))
	return err
}

func runRuns(e env, args []string) error {
	fs, c := newFlags(e, "ingest history")
	limit := fs.Int("limit", 20, "at most this many")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Runs(e.ctx, *limit)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "RUN\tSOURCE\tFILES\tREAD\tLOADED\tUPDATED\tUNCHANGED\tQUARANTINED\tERROR")
	for _, r := range runs {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Source, r.Files, r.Read, r.Applied.Loaded, r.Applied.Updated,
			r.Applied.Unchanged, r.Applied.Quarantined, orDash(r.Error))
	}
	return w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// pinnacle shows Pinnacle's pre-match prices, the ones a forecast may use.
func pinnacle(odds []soccer.Odds) string {
	for _, o := range odds {
		if o.Bookmaker == forecast.ClosingBookmaker && !o.Closing {
			return fmt.Sprintf("%.2f %.2f %.2f", o.Home, o.Draw, o.Away)
		}
	}
	return "-"
}

// prices counts the match's odds: bookmakers pre-match, and closing.
func prices(odds []soccer.Odds) string {
	var pre, closing int
	for _, o := range odds {
		if o.Closing {
			closing++
		} else {
			pre++
		}
	}
	if pre+closing == 0 {
		return "-"
	}
	return fmt.Sprintf("%d pre-match, %d closing", pre, closing)
}
