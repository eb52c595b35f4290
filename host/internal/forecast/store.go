package forecast

import (
	"context"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// History is what building features needs of the match store: the matches
// in kick-off order, and fingerprints that say whether they changed.
type History interface {
	Matches(ctx context.Context, q store.MatchQuery) ([]soccer.Match, error)
	CountMatches(ctx context.Context, q store.MatchQuery) (int, error)
	MatchesVersion(ctx context.Context) (int64, error)
	FinishedDigest(ctx context.Context, cut time.Time) (before, all string, err error)
}

// Snapshots keeps a feature plugin's replayed state between starts.
type Snapshots interface {
	SaveFeatureSnapshot(ctx context.Context, s store.FeatureSnapshot) error
	FeatureSnapshot(ctx context.Context, key string) (store.FeatureSnapshot, error)
}

// Store is what the Predictor needs of the store: the history its
// features replay (kept as a snapshot), and the registry's champion.
type Store interface {
	History
	Snapshots
	CurrentGeneration(ctx context.Context) (store.Generation, error)
	Alias(ctx context.Context, alias string) (store.ModelVersion, error)
	ModelVersion(ctx context.Context, version int) (store.ModelVersion, error)
	Ping(ctx context.Context) error
}
