package forecast

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
)

// DefaultRecent is how many past matches per competition serving keeps
// with their forecasts, for the recent results it shows.
const DefaultRecent = 40

// startState is what serving needs from the history: the feature plugin's
// state and what the host derives from the replay.
type startState struct {
	state []byte
	meta  startMeta
}

// startMeta is kept as JSON beside the plugin's state in a feature snapshot.
type startMeta struct {
	Matches int                         `json:"matches"`
	Teams   map[string][]string         `json:"teams"`
	Past    map[string][]replay.Example `json:"past"`
	Warm    []float64                   `json:"warm"`
	Spans   map[string][]spanMeta       `json:"spans"`
	LastDay time.Time                   `json:"last_day"`
	// HistoryDigest is the store's FinishedDigest before the replay: a
	// start that finds it unchanged up to LastDay catches up from there.
	HistoryDigest string `json:"history_digest,omitempty"`
}

type spanMeta struct {
	Season string    `json:"season"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
}

func (st startState) spans() map[string][]seasonSpan {
	out := map[string][]seasonSpan{}
	for c, ss := range st.meta.Spans {
		for _, s := range ss {
			out[c] = append(out[c], seasonSpan{season: s.Season, first: s.First, last: s.Last})
		}
	}
	return out
}

// snapshotKey names the snapshot of this feature plugin, binary, settings
// and schema; ok is false when the plugin cannot be fingerprinted.
func snapshotKey(plugin *pluginhost.Plugin, schema features.Schema, recent int) (string, bool) {
	fp, err := plugin.Fingerprint()
	if err != nil {
		return "", false
	}
	h := sha256.Sum256([]byte(fp + "\x00" + schema.Version + "\x00" + fmt.Sprint(recent)))
	return plugin.Name + "/" + hex.EncodeToString(h[:8]), true
}

// metaBuilder derives what serving keeps from a replay, one example at a
// time in kick-off order: it holds the teams, the recent examples of each
// competition and its seasons' spans, never the history.
type metaBuilder struct {
	meta   startMeta
	recent int
	spans  map[string][]seasonSpan
}

func newMetaBuilder(recent int) *metaBuilder {
	return &metaBuilder{recent: recent, spans: map[string][]seasonSpan{},
		meta: startMeta{Teams: map[string][]string{}, Past: map[string][]replay.Example{}, Spans: map[string][]spanMeta{}}}
}

// resumeMetaBuilder continues a snapshot's meta with the matches after it.
func resumeMetaBuilder(meta startMeta, recent int) *metaBuilder {
	b := newMetaBuilder(recent)
	b.meta.Matches, b.meta.Warm, b.meta.LastDay = meta.Matches, meta.Warm, meta.LastDay
	for c, ts := range meta.Teams {
		b.meta.Teams[c] = slices.Clone(ts)
	}
	for c, past := range meta.Past {
		b.meta.Past[c] = slices.Clone(past)
	}
	for c, ss := range meta.Spans {
		for _, s := range ss {
			b.spans[c] = append(b.spans[c], seasonSpan{season: s.Season, first: s.First, last: s.Last})
		}
	}
	return b
}

func (b *metaBuilder) add(e replay.Example) {
	meta := &b.meta
	meta.Matches++
	c := e.Match.Competition
	for _, t := range []string{e.Match.HomeTeam, e.Match.AwayTeam} {
		if !slices.Contains(meta.Teams[c], t) {
			meta.Teams[c] = append(meta.Teams[c], t)
		}
	}
	e.Unpriced = nil // serving shows past forecasts as priced
	meta.Past[c] = append(meta.Past[c], e)
	if len(meta.Past[c]) > 2*b.recent {
		meta.Past[c] = slices.Clone(meta.Past[c][len(meta.Past[c])-b.recent:])
	}
	meta.Warm = e.Values
	meta.LastDay = dayOf(e.Match.Kickoff)
	addSpan(b.spans, e.Match)
}

func (b *metaBuilder) done() startMeta {
	meta := b.meta
	for c := range meta.Teams {
		sort.Strings(meta.Teams[c])
		if len(meta.Past[c]) > b.recent {
			meta.Past[c] = meta.Past[c][len(meta.Past[c])-b.recent:]
		}
	}
	for c, ss := range sortSpans(b.spans) {
		for _, s := range ss {
			meta.Spans[c] = append(meta.Spans[c], spanMeta{Season: s.season, First: s.first, Last: s.last})
		}
	}
	return meta
}

// keepSnapshot saves a replay's result; failing to is a warning, not an
// error: the next start replays again.
func keepSnapshot(ctx context.Context, st Snapshots, logger hclog.Logger, key string, version int64, s startState) {
	meta, err := json.Marshal(s.meta)
	if err == nil {
		err = st.SaveFeatureSnapshot(ctx, store.FeatureSnapshot{Key: key, MatchesVersion: version, State: s.state, Meta: meta, CreatedAt: time.Now()})
	}
	if err != nil {
		logger.Warn("cannot keep the feature snapshot; the next start replays again", "error", err)
	}
}

// restoreState gives a fresh feature process a kept snapshot.
func restoreState(ctx context.Context, fs features.FeatureSet, snap store.FeatureSnapshot) (startState, error) {
	var meta startMeta
	if err := json.Unmarshal(snap.Meta, &meta); err != nil {
		return startState{}, fmt.Errorf("snapshot %s: %w", snap.Key, err)
	}
	if err := fs.Restore(ctx, snap.State); err != nil {
		return startState{}, fmt.Errorf("snapshot %s: restore: %w", snap.Key, err)
	}
	return startState{state: snap.State, meta: meta}, nil
}
