package forecast

import (
	"context"
	"encoding/json"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
)

// servingSnapshotKey is snapshotKey; it also reads the store's matches version, before anything is
// replayed (so a write during the replay makes the snapshot stale, never
// wrong); keep is false when either cannot be had.
func (p *Predictor) servingSnapshotKey(ctx context.Context, schema features.Schema) (string, int64, bool) {
	key, ok := snapshotKey(p.features, schema, p.recent)
	if !ok {
		return "", 0, false
	}
	version, err := p.store.MatchesVersion(ctx)
	if err != nil {
		p.logger.Warn("cannot read the matches version; replaying without a snapshot", "error", err)
		return "", 0, false
	}
	return key, version, true
}

// replayState replays every finished match through a fresh feature
// process, a window of the store at a time (the history is never held).
func (p *Predictor) replayState(ctx context.Context, fs features.FeatureSet) (startState, error) {
	_, digest, err := p.store.FinishedDigest(ctx, time.Time{})
	if err != nil {
		return startState{}, err
	}
	return p.replayFrom(ctx, fs, newMetaBuilder(p.recent), time.Time{}, digest)
}

// replayFrom replays the finished matches from a day on (zero: all) into
// fs and meta, and returns the state they leave; digest is the store's
// digest of every finished match, read before.
func (p *Predictor) replayFrom(ctx context.Context, fs features.FeatureSet, meta *metaBuilder, from time.Time, digest string) (startState, error) {
	_, err := StreamReplay(ctx, p.store, fs, from, false, nil, func(e replay.Example) error {
		meta.add(e)
		return nil
	})
	if err != nil {
		return startState{}, err
	}
	snap, err := fs.Snapshot(ctx)
	if err != nil {
		return startState{}, err
	}
	m := meta.done()
	m.HistoryDigest = digest
	return startState{state: snap, meta: m}, nil
}

// catchUp restores a stale snapshot and replays only the matches after its
// last day, when nothing up to that day changed since it was taken (the
// store's digest of those matches is the snapshot's): the usual case after
// an ingest of new results. ok is false when it cannot (fs is then as it
// was given: empty, unless restoring failed, which err says).
func (p *Predictor) catchUp(ctx context.Context, fs features.FeatureSet, snap store.FeatureSnapshot) (startState, int, bool, error) {
	var meta startMeta
	if err := json.Unmarshal(snap.Meta, &meta); err != nil || meta.HistoryDigest == "" || meta.LastDay.IsZero() {
		return startState{}, 0, false, nil
	}
	from := meta.LastDay.Add(24 * time.Hour)
	before, all, err := p.store.FinishedDigest(ctx, from) // one read: the check, and the next snapshot's digest
	if err != nil || before != meta.HistoryDigest {
		return startState{}, 0, false, nil
	}
	st, err := restoreState(ctx, fs, snap)
	if err != nil {
		return startState{}, 0, false, err
	}
	caught, err := p.replayFrom(ctx, fs, resumeMetaBuilder(st.meta, p.recent), from, all)
	if err != nil {
		return startState{}, 0, false, err
	}
	return caught, caught.meta.Matches - meta.Matches, true, nil
}
