package sourcetest_test

import (
	"context"
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
