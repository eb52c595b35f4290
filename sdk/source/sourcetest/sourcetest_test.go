package sourcetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/features/featuretest"
	"github.com/soccerpredict/soccerpredict/sdk/handshake"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/source/sourcetest"
)

// league is the smallest honest source: a fixed synthetic history.
type league struct{ matches []soccer.Match }

func (l league) Describe(context.Context) (source.Description, error) {
	return source.Description{Name: "synthetic", Version: "1.0.0", Competitions: []string{"SYN"}}, nil
}

func (l league) Fetch(ctx context.Context, req source.FetchRequest) (source.FetchResponse, error) {
	if err := ctx.Err(); err != nil {
		return source.FetchResponse{}, err
	}
	return source.FetchResponse{Matches: l.matches, Files: []source.File{{Name: "memory", Rows: len(l.matches)}}}, nil
}

func TestSyntheticSourceConforms(t *testing.T) {
	factory := func(handshake.Settings) (source.Source, error) {
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
