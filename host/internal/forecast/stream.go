package forecast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// replayWindow is how much kick-off time one read of the store covers when
// history is replayed as a stream: a few thousand matches at a million.
var replayWindow = 28 * 24 * time.Hour

// StreamReplay replays the finished matches in the store that kick off at
// or after from (zero: every one) through fs, which must start empty (or,
// with from, hold the state of every match before it), reading the store a
// window of kick-off dates at a time (windows start at UTC midnight, so a
// match day is never split), and hands each example to each in kick-off
// order. Only one window of matches and examples is held, never the
// history. progress, when set, hears matches done of the total counted at
// the start. It returns the matches replayed (0 for a store without
// finished matches) and the store's FinishedDigest of every finished match
// read before the replay: a snapshot of the replay's result covers at most
// that history, so a later start that finds the same digest up to the
// snapshot's last day can catch up from there.
func StreamReplay(ctx context.Context, st store.Store, fs features.FeatureSet, from time.Time, unpriced bool, progress func(done, total int),
	each func(replay.Example) error) (int, string, error) {
	digest, err := st.FinishedDigest(ctx, time.Time{})
	if err != nil {
		return 0, "", err
	}
	n, err := streamReplay(ctx, st, fs, from, unpriced, progress, each)
	return n, digest, err
}

func streamReplay(ctx context.Context, st store.Store, fs features.FeatureSet, from time.Time, unpriced bool, progress func(done, total int),
	each func(replay.Example) error) (int, error) {
	total, err := st.CountMatches(ctx, store.MatchQuery{Status: soccer.Finished, From: from})
	if err != nil {
		return 0, err
	}
	done := 0
	for {
		// The next window starts at the day of the next finished match, so
		// gaps in the calendar (summers, missing seasons) cost one query.
		next, err := st.Matches(ctx, store.MatchQuery{Status: soccer.Finished, From: from, Limit: 1})
		if err != nil {
			return done, err
		}
		if len(next) == 0 {
			break
		}
		from = dayOf(next[0].Kickoff)
		to := from.Add(replayWindow)
		matches, err := st.Matches(ctx, store.MatchQuery{Status: soccer.Finished, From: from, To: to})
		if err != nil {
			return done, err
		}
		examples, err := replay.Replay(ctx, fs, matches, unpriced, nil)
		if err != nil {
			return done, err
		}
		for _, e := range examples {
			if err := each(e); err != nil {
				return done, err
			}
		}
		done += len(matches)
		if progress != nil {
			progress(min(done, total), max(total, done))
		}
		from = to
	}
	return done, nil
}

// Streamed is what TrainFromStore made: the version to register, and what
// the replay left for serving to start from.
type Streamed struct {
	Version store.ModelVersion
	// Matches are the matches trained on (each competition's first season
	// is left out, see Dataset.Trainable).
	Matches int
	schema  features.Schema
	version int64
	meta    startMeta
}

// RowsTrainer trains from rows made while they are sent
// (pluginhost.ModelOf's TrainRows).
type RowsTrainer interface {
	TrainRows(ctx context.Context, req model.TrainRequest, rows wire.Rows) (model.TrainResponse, error)
}

// TrainFromStore is Train on every trainable match in the store, with the
// replay streamed into the model plugin as it goes: the host holds one
// window of matches and one chunk of rows, never the training set. fs must
// start empty; the replay leaves it at the present (KeepServingSnapshot
// keeps that for serving).
func (t Trainer) TrainFromStore(ctx context.Context, st store.Store, fs features.FeatureSet, rt RowsTrainer, progress func(done, total int)) (Streamed, error) {
	schema, err := fs.Schema(ctx)
	if err != nil {
		return Streamed{}, fmt.Errorf("feature schema: %w", err)
	}
	params, err := t.params()
	if err != nil {
		return Streamed{}, err
	}
	out := Streamed{schema: schema, version: -1}
	if v, err := st.MatchesVersion(ctx); err == nil {
		out.version = v
	}
	meta := newMetaBuilder(DefaultRecent)
	hash := replay.NewHasher()
	trainable := trainableFilter() // each competition's first season is left out
	var history string             // the store's digest before the replay
	rows := func(yield func([]float64, soccer.Result) bool) error {
		n, digest, err := StreamReplay(ctx, st, fs, time.Time{}, true, progress, func(e replay.Example) error {
			meta.add(e)
			if !trainable(e.Match) {
				return nil
			}
			out.Matches++
			hash.Add(e)
			if !yield(e.Values, e.Match.Result) || e.Unpriced != nil && !yield(e.Unpriced, e.Match.Result) {
				return errStopped
			}
			return nil
		})
		history = digest
		switch {
		case err == errStopped:
			return nil // the plugin stopped reading: its answer says why
		case err == nil && n == 0:
			return errNoMatches
		}
		return err
	}
	resp, err := rt.TrainRows(ctx, model.TrainRequest{Columns: schema.Columns, Params: params, Seed: t.Seed}, rows)
	if errors.Is(err, errNoMatches) {
		return Streamed{}, errNoMatches
	}
	if err != nil {
		return Streamed{}, fmt.Errorf("train: %w", err)
	}
	if out.Matches == 0 {
		return Streamed{}, fmt.Errorf("train: no examples: every finished match is in its competition's first season")
	}
	mv, err := t.version(resp, schema, out.Matches, params, hash.Sum())
	if err != nil {
		return Streamed{}, err
	}
	out.Version, out.meta = mv, meta.done()
	out.meta.HistoryDigest = history
	return out, nil
}

var (
	errStopped   = errors.New("the model plugin stopped reading rows")
	errNoMatches = errors.New("the store has no finished matches: run `soccerpredict ingest` first")
)

// KeepServingSnapshot keeps the state the training replay left in the
// feature plugin as the snapshot serving starts from (see the function of
// the same name).
func (s Streamed) KeepServingSnapshot(ctx context.Context, st store.Store, plugin *pluginhost.Plugin, fs features.FeatureSet, logger hclog.Logger) {
	keepServingSnapshot(ctx, st, plugin, fs, s.schema, s.version, func() startMeta { return s.meta }, logger)
}

func (t Trainer) params() ([]byte, error) {
	if t.Params == nil {
		return []byte("{}"), nil
	}
	params, err := json.Marshal(t.Params)
	if err != nil {
		return nil, fmt.Errorf("train params: %w", err)
	}
	return params, nil
}
