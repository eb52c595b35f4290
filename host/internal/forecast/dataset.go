package forecast

import (
	"context"
	"fmt"

	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Dataset is replayed history: point-in-time features for every finished
// match, in kick-off order.
type Dataset struct {
	Schema   features.Schema
	Examples []replay.Example
	// MatchesVersion is the store's matches version read before the
	// matches were (-1 when it could not be read).
	MatchesVersion int64
}

// BuildDataset replays every finished match in the store through fs, which
// must start empty.
func BuildDataset(ctx context.Context, st store.Store, fs features.FeatureSet, progress func(done, total int)) (Dataset, error) {
	schema, err := fs.Schema(ctx)
	if err != nil {
		return Dataset{}, fmt.Errorf("feature schema: %w", err)
	}
	version, err := st.MatchesVersion(ctx)
	if err != nil {
		version = -1
	}
	matches, err := st.Matches(ctx, store.MatchQuery{Status: soccer.Finished})
	if err != nil {
		return Dataset{}, err
	}
	if len(matches) == 0 {
		return Dataset{}, fmt.Errorf("the store has no finished matches: run `soccerpredict ingest` first")
	}
	examples, err := replay.Replay(ctx, fs, matches, true, progress)
	if err != nil {
		return Dataset{}, err
	}
	return Dataset{Schema: schema, Examples: examples, MatchesVersion: version}, nil
}

// Trainable drops each competition's first season: ratings start from
// nothing there, so those rows would teach the model about cold starts that
// serving never sees.
func (d Dataset) Trainable() []replay.Example {
	first := map[string]string{}
	for _, e := range d.Examples {
		if _, ok := first[e.Match.Competition]; !ok {
			first[e.Match.Competition] = e.Match.Season
		}
	}
	var out []replay.Example
	for _, e := range d.Examples {
		if first[e.Match.Competition] != e.Match.Season {
			out = append(out, e)
		}
	}
	return out
}

// TrainRequest turns examples into a model plugin's training set: each
// example once with its features, and once more without its pre-match odds
// when it had them, since callers often send none.
func (d Dataset) TrainRequest(examples []replay.Example, params []byte, seed int64) model.TrainRequest {
	req := model.TrainRequest{Columns: d.Schema.Columns, Params: params, Seed: seed}
	for _, e := range examples {
		req.Rows, req.Outcomes = append(req.Rows, e.Values), append(req.Outcomes, e.Match.Result)
		if e.Unpriced != nil {
			req.Rows, req.Outcomes = append(req.Rows, e.Unpriced), append(req.Outcomes, e.Match.Result)
		}
	}
	return req
}
