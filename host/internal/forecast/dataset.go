package forecast

import (
	"iter"
	"slices"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/replay"
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

// Trainable drops each competition's first season: ratings start from
// nothing there, so those rows would teach the model about cold starts that
// serving never sees.
func (d Dataset) Trainable() []replay.Example {
	return slices.Collect(d.TrainableBefore(time.Time{}))
}

// TrainableBefore yields the trainable examples (see Trainable) that kicked
// off before cutoff (zero: all), without copying them.
func (d Dataset) TrainableBefore(cutoff time.Time) iter.Seq[replay.Example] {
	return func(yield func(replay.Example) bool) {
		trainable := trainableFilter()
		for _, e := range d.Examples {
			if !trainable(e.Match) {
				continue
			}
			if !cutoff.IsZero() && !e.Match.Kickoff.Before(cutoff) {
				return // kick-off order: nothing later is before it
			}
			if !yield(e) {
				return
			}
		}
	}
}

// trainableFilter says, for matches given in kick-off order, which are not
// in their competition's first season (see Trainable).
func trainableFilter() func(soccer.Match) bool {
	first := map[string]string{}
	return func(m soccer.Match) bool {
		if _, ok := first[m.Competition]; !ok {
			first[m.Competition] = m.Season
		}
		return first[m.Competition] != m.Season
	}
}

// TrainableHash fingerprints the trainable examples (replay.Hasher), without a copy of them.
func (d Dataset) TrainableHash() string {
	h := replay.NewHasher()
	for e := range d.TrainableBefore(time.Time{}) {
		h.Add(e)
	}
	return h.Sum()
}

// TrainRequest turns examples into a model plugin's training set: each
// example once with its features, and once more without its pre-match odds
// when it had them, since callers often send none. It returns the request,
// how many examples it holds and their Hash.
func (d Dataset) TrainRequest(examples iter.Seq[replay.Example], params []byte, seed int64) (model.TrainRequest, int, string) {
	req := model.TrainRequest{Columns: d.Schema.Columns, Params: params, Seed: seed}
	h, n := replay.NewHasher(), 0
	for e := range examples {
		n++
		h.Add(e)
		played := playedOf(e.Match)
		req.Rows, req.Outcomes, req.Played = append(req.Rows, e.Values), append(req.Outcomes, e.Match.Result), append(req.Played, played)
		if e.Unpriced != nil {
			req.Rows, req.Outcomes, req.Played = append(req.Rows, e.Unpriced), append(req.Outcomes, e.Match.Result), append(req.Played, played)
		}
	}
	return req, n, h.Sum()
}

// playedOf is what a model is told of a training row's match (model API
// 1.1): its kick-off and full-time score.
func playedOf(m soccer.Match) model.Played {
	return model.Played{Kickoff: m.Kickoff, HomeGoals: m.HomeGoals, AwayGoals: m.AwayGoals}
}
