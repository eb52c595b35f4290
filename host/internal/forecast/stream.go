package forecast

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// finished matches).
func StreamReplay(ctx context.Context, st History, fs features.FeatureSet, from time.Time, unpriced bool, progress func(done, total int),
	each func(replay.Example) error) (int, error) {
	total, err := st.CountMatches(ctx, store.MatchQuery{Status: soccer.Finished, From: from})
	if err != nil {
		return 0, err
	}
	// The store is read one window ahead: the next window's matches are
	// read and decoded while this one's are replayed through the plugin.
	ctx, cancel := context.WithCancel(ctx)
	windows := make(chan window, 1)
	go readWindows(ctx, st, from, windows)
	defer func() { // stop the reader, and wait until it has
		cancel()
		for range windows {
		}
	}()
	done := 0
	for w := range windows {
		if w.err != nil {
			return done, w.err
		}
		examples, err := replay.Replay(ctx, fs, w.matches, unpriced, nil)
		if err != nil {
			return done, err
		}
		for _, e := range examples {
			if err := each(e); err != nil {
				return done, err
			}
		}
		done += len(w.matches)
		if progress != nil {
			progress(min(done, total), max(total, done))
		}
	}
	return done, ctx.Err()
}

// window is one read of StreamReplay's: a window's finished matches, or the
// error that ended the reading.
type window struct {
	matches []soccer.Match
	err     error
}

// readWindows sends the finished matches from from on, a window of kick-off
// time at a time, and closes out when they are all sent, after an error, or
// when ctx ends.
func readWindows(ctx context.Context, st History, from time.Time, out chan<- window) {
	defer close(out)
	send := func(w window) bool {
		select {
		case out <- w:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		// The next window starts at the day of the next finished match, so
		// gaps in the calendar (summers, missing seasons) cost one query.
		next, err := st.Matches(ctx, store.MatchQuery{Status: soccer.Finished, From: from, Limit: 1})
		if err != nil {
			send(window{err: err})
			return
		}
		if len(next) == 0 {
			return
		}
		from = dayOf(next[0].Kickoff)
		to := from.Add(replayWindow)
		matches, err := st.Matches(ctx, store.MatchQuery{Status: soccer.Finished, From: from, To: to})
		if !send(window{matches: matches, err: err}) || err != nil {
			return
		}
		from = to
	}
}

// Streamed is what TrainFromStore made: the version to register, and what
// the replay left for serving to start from.
type Streamed struct {
	Version store.ModelVersion
	// Matches are the matches trained on (each competition's first season
	// is left out, see Dataset.Trainable).
	Matches int
	// Reference and UnpricedReference are copies of the last
	// ReferenceRows training rows of each regime, in kick-off order: rows
	// of matches with a pre-match price, and rows as a caller who sends
	// none gets them. The drift monitor's reference for this version.
	Reference, UnpricedReference [][]float64
	replayed
}

// ReferenceRows is how many of the most recent training rows are kept as
// a version's drift reference.
const ReferenceRows = 5000

// replayed is what a full replay of the store leaves for serving: the
// schema, the matches version and history digest read before it, and the
// meta built as it went.
type replayed struct {
	schema  features.Schema
	version int64
	meta    startMeta
}

// startReplay reads what a full replay's snapshot is keyed and checked by,
// before the replay: the schema, the matches version (-1 when it cannot be
// read) and the digest of every finished match (meta.HistoryDigest).
func startReplay(ctx context.Context, st History, fs features.FeatureSet) (replayed, error) {
	schema, err := fs.Schema(ctx)
	if err != nil {
		return replayed{}, fmt.Errorf("feature schema: %w", err)
	}
	r := replayed{schema: schema, version: -1}
	if v, err := st.MatchesVersion(ctx); err == nil {
		r.version = v
	}
	if _, r.meta.HistoryDigest, err = st.FinishedDigest(ctx, time.Time{}); err != nil {
		return replayed{}, err
	}
	return r, nil
}

// done records the meta the replay built, keeping the digest read before it.
func (r *replayed) done(b *metaBuilder) {
	digest := r.meta.HistoryDigest
	r.meta = b.done()
	r.meta.HistoryDigest = digest
}

// KeepServingSnapshot keeps the state the replay left in the feature plugin
// as the snapshot serving starts from, so the first serve after it does not
// replay again. It is a no-op when the matches version is unknown; failing
// is a warning.
func (r replayed) KeepServingSnapshot(ctx context.Context, st Snapshots, plugin *pluginhost.Plugin, fs features.FeatureSet, logger hclog.Logger) {
	key, ok := snapshotKey(plugin, r.schema, DefaultRecent)
	if !ok || r.version < 0 {
		return
	}
	state, err := fs.Snapshot(ctx)
	if err != nil {
		logger.Warn("cannot keep the feature snapshot for serving", "error", err)
		return
	}
	keepSnapshot(ctx, st, logger, key, r.version, startState{state: state, meta: r.meta})
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
func (t Trainer) TrainFromStore(ctx context.Context, st History, fs features.FeatureSet, rt RowsTrainer, progress func(done, total int)) (Streamed, error) {
	params, err := t.params()
	if err != nil {
		return Streamed{}, err
	}
	r, err := startReplay(ctx, st, fs)
	if err != nil {
		return Streamed{}, err
	}
	out := Streamed{replayed: r}
	meta := newMetaBuilder(DefaultRecent)
	hash := replay.NewHasher()
	trainable := trainableFilter() // each competition's first season is left out
	var priced, unpriced lastRows
	rows := func(yield func([]float64, soccer.Result, *model.Played) bool) error {
		n, err := StreamReplay(ctx, st, fs, time.Time{}, true, progress, func(e replay.Example) error {
			meta.add(e)
			if !trainable(e.Match) {
				return nil
			}
			out.Matches++
			hash.Add(e)
			if e.Unpriced != nil {
				priced.keep(e.Values)
				unpriced.keep(e.Unpriced)
			} else {
				unpriced.keep(e.Values)
			}
			played := playedOf(e.Match)
			if !yield(e.Values, e.Match.Result, &played) || e.Unpriced != nil && !yield(e.Unpriced, e.Match.Result, &played) {
				return errStopped
			}
			return nil
		})
		switch {
		case err == errStopped:
			return nil // the plugin stopped reading: its answer says why
		case err == nil && n == 0:
			return errNoMatches
		}
		return err
	}
	resp, err := rt.TrainRows(ctx, model.TrainRequest{Columns: r.schema.Columns, Params: params, Seed: t.Seed}, rows)
	if errors.Is(err, errNoMatches) {
		return Streamed{}, errNoMatches
	}
	if err != nil {
		return Streamed{}, fmt.Errorf("train: %w", err)
	}
	if out.Matches == 0 {
		return Streamed{}, fmt.Errorf("train: no examples: every finished match is in its competition's first season")
	}
	mv, err := t.version(resp, r.schema, out.Matches, params, hash.Sum())
	if err != nil {
		return Streamed{}, err
	}
	out.Version = mv
	out.Reference, out.UnpricedReference = priced.rows(), unpriced.rows()
	out.done(meta)
	return out, nil
}

var (
	errStopped   = errors.New("the model plugin stopped reading rows")
	errNoMatches = errors.New("the store has no finished matches: run `soccerpredict ingest` first")
)

// lastRows keeps copies of the last ReferenceRows rows it is given.
type lastRows struct {
	ring [][]float64
	next int
}

func (l *lastRows) keep(row []float64) {
	if len(l.ring) < ReferenceRows {
		l.ring = append(l.ring, slices.Clone(row))
		return
	}
	copy(l.ring[l.next], row)
	l.next = (l.next + 1) % ReferenceRows
}

// rows are the kept rows, oldest first.
func (l *lastRows) rows() [][]float64 {
	return append(l.ring[l.next:], l.ring[:l.next]...)
}

// BuildDataset replays every finished match in the store through fs, which
// must start empty. The store is read a window at a time (StreamReplay):
// what is held is the examples, not the matches as well. (An evaluation at
// scale spools them instead: SpoolFromStore.)
func BuildDataset(ctx context.Context, st History, fs features.FeatureSet, progress func(done, total int)) (Dataset, error) {
	schema, err := fs.Schema(ctx)
	if err != nil {
		return Dataset{}, fmt.Errorf("feature schema: %w", err)
	}
	version, err := st.MatchesVersion(ctx)
	if err != nil {
		version = -1
	}
	total, err := st.CountMatches(ctx, store.MatchQuery{Status: soccer.Finished})
	if err != nil {
		return Dataset{}, err
	}
	examples := make([]replay.Example, 0, total)
	n, err := StreamReplay(ctx, st, fs, time.Time{}, true, progress, func(e replay.Example) error {
		examples = append(examples, e)
		return nil
	})
	if err != nil {
		return Dataset{}, err
	}
	if n == 0 {
		return Dataset{}, errNoMatches
	}
	return Dataset{Schema: schema, Examples: examples, MatchesVersion: version}, nil
}
