package sourcetest_test

import (
	"context"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/features/featuretest"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/source/sourcetest"
)

// league is the smallest honest source: a fixed synthetic history.
type league struct{ matches []soccer.Match }

func (l league) Describe(context.Context) (source.Description, error) {
	return source.Description{Name: "synthetic", Version: "1.0.0", Competitions: []string{"SYN"}}, nil
}

func (l league) Fetch(ctx context.Context, req source.FetchRequest, out source.Sink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, m := range l.matches {
		out.Match(m)
	}
	out.File(source.File{Name: "memory", SHA256: strings.Repeat("0", 64), Rows: len(l.matches)})
	return nil
}

func TestSyntheticSourceConforms(t *testing.T) {
	factory := func(context.Context, plugin.Env) (source.Source, error) {
		return league{matches: featuretest.League(6, 1, 3)}, nil
	}
	sourcetest.Run(t, factory, sourcetest.Options{MinMatches: 30})
}

// The synthetic league the suites use is in UTC, as sourcetest requires of every source.
func TestLeagueKickoffsAreUTC(t *testing.T) {
	m := featuretest.League(4, 1, 1)[0]
	if m.Kickoff.Location() != time.UTC {
		t.Fatalf("synthetic kick-off %v is not UTC", m.Kickoff)
	}
}

// withPrice is the synthetic league with one price of its first match set.
func withPrice(p float64) source.Factory {
	return func(context.Context, plugin.Env) (source.Source, error) {
		ms := featuretest.League(6, 1, 3)
		ms[0].Odds = []soccer.Odds{{Bookmaker: "B365", Home: 2.1, Draw: p, Away: 3.9}}
		return league{matches: ms}, nil
	}
}

// An unreadable price is NaN, as the source contract says: the suite
// accepts it, and two fetches with it do not "differ".
func TestAnUnreadablePriceIsNaN(t *testing.T) {
	sourcetest.Run(t, withPrice(math.NaN()), sourcetest.Options{MinMatches: 30})
}

// The other way: a price that is neither a price nor NaN fails the suite,
// naming it. (The suite runs in a child test process, whose failure is
// what this checks.)
func TestAnInfinitePriceFailsTheSuite(t *testing.T) {
	if os.Getenv("SOURCETEST_INFINITE_PRICE") == "1" {
		sourcetest.Run(t, withPrice(math.Inf(1)), sourcetest.Options{MinMatches: 30})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAnInfinitePriceFailsTheSuite$")
	cmd.Env = append(os.Environ(), "SOURCETEST_INFINITE_PRICE=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bookmaker B365 has price +Inf") {
		t.Fatalf("the suite on a source with an infinite price: %v\n%s", err, out)
	}
}
