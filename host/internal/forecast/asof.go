package forecast

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// history answers fixtures that kick off on or before the last match day
// in the store from the features as they stood before that day: the state
// the point-in-time replay (training, evaluation) gave the matches of that
// day. It drives its own instance of the feature plugin forward through
// history with replay.Warm, keeping a snapshot every checkpointEvery
// matches, so a request for an earlier day restores the nearest snapshot
// before it and replays at most that many matches.
type history struct {
	plugin *pluginhost.Plugin
	load   func(context.Context) ([]soccer.Match, error)
	// matches are every finished match, in kick-off order, read from the
	// store on the first request about the past (a server nobody asks
	// about the past never holds them). Written once, under loadMu.
	matches []soccer.Match
	loadMu  sync.Mutex

	mu          sync.Mutex
	pos         int // matches[:pos] are observed in the plugin's state
	checkpoints []checkpoint
	fresh       atomic.Bool // the process (re)started empty
}

type checkpoint struct {
	pos   int
	state []byte
}

const checkpointEvery = 500

func newHistory(host *pluginhost.Host, featurePlugin string, load func(context.Context) ([]soccer.Match, error)) (*history, error) {
	inst, err := host.Spawn(featurePlugin, "history")
	if err != nil {
		return nil, err
	}
	h := &history{plugin: inst, load: load}
	inst.OnLaunch(func(context.Context, any) error { h.fresh.Store(true); return nil })
	return h, nil
}

// before is how many matches were played on days before t's (UTC) day.
func (h *history) before(t time.Time) int {
	day := dayOf(t)
	return sort.Search(len(h.matches), func(i int) bool { return !dayOf(h.matches[i].Kickoff).Before(day) })
}

// dayOf is the start of t's UTC day: the replay's unit of time.
func dayOf(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// historical reports whether t falls on or before lastDay (the day of the
// last stored result), where the history answers; never when there is none.
func historical(t, lastDay time.Time) bool { return !lastDay.IsZero() && !dayOf(t).After(lastDay) }

// loaded returns the finished matches, reading them on first use. Only
// loadMu guards the read, so looking a match up (find) never waits for a
// replay holding mu.
func (h *history) loaded(ctx context.Context) ([]soccer.Match, error) {
	h.loadMu.Lock()
	defer h.loadMu.Unlock()
	if h.matches == nil {
		ms, err := h.load(ctx)
		if err != nil {
			return nil, err
		}
		h.matches = ms
	}
	return h.matches, nil
}

// find is the stored finished match with id that kicked off within a day
// and a half of kickoff.
func (h *history) find(ctx context.Context, id string, kickoff time.Time) (soccer.Match, bool, error) {
	ms, err := h.loaded(ctx)
	if err != nil {
		return soccer.Match{}, false, err
	}
	from := kickoff.Add(-storedSlack)
	for i := sort.Search(len(ms), func(i int) bool { return !ms[i].Kickoff.Before(from) }); i < len(ms) && !ms[i].Kickoff.After(kickoff.Add(storedSlack)); i++ {
		if ms[i].ID == id {
			return ms[i], true, nil
		}
	}
	return soccer.Match{}, false, nil
}

// compute returns the feature rows of fixtures from the state before at's
// day (the fixtures' own kick-off day, or an earlier as_of).
func (h *history) compute(ctx context.Context, at time.Time, fixtures []soccer.Fixture) ([]features.Row, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.loaded(ctx); err != nil {
		return nil, err
	}
	fs := pluginhost.FeaturesOf(h.plugin)
	if _, err := fs.Schema(ctx); err != nil { // launches the process if it is not running
		return nil, err
	}
	if h.fresh.Swap(false) {
		h.pos = 0
	}
	target := h.before(at)
	if target < h.pos {
		i := sort.Search(len(h.checkpoints), func(i int) bool { return h.checkpoints[i].pos > target }) - 1
		if i < 0 {
			h.plugin.Kill() // no snapshot early enough: start from an empty state
			if _, err := fs.Schema(ctx); err != nil {
				return nil, err
			}
			h.fresh.Store(false)
			h.pos = 0
		} else {
			if err := fs.Restore(ctx, h.checkpoints[i].state); err != nil {
				return nil, err
			}
			h.pos = h.checkpoints[i].pos
		}
	}
	for h.pos < target {
		next := min(target, (h.pos/checkpointEvery+1)*checkpointEvery)
		// Whole days only: a checkpoint never splits a match day.
		for next < target && next > 0 && sameDay(h.matches[next-1].Kickoff, h.matches[next].Kickoff) {
			next++
		}
		if err := replay.Warm(ctx, fs, h.matches[h.pos:next]); err != nil {
			h.pos = len(h.matches) + 1 // unknown state: the next call starts again
			h.checkpoints = nil
			return nil, err
		}
		h.pos = next
		// Keep a snapshot about every checkpointEvery matches (in order).
		if n := len(h.checkpoints); n == 0 && next >= checkpointEvery/2 || n > 0 && next-h.checkpoints[n-1].pos >= checkpointEvery/2 {
			state, err := fs.Snapshot(ctx)
			if err != nil {
				return nil, err
			}
			h.checkpoints = append(h.checkpoints, checkpoint{next, state})
		}
	}
	resp, err := fs.Compute(ctx, features.ComputeRequest{Fixtures: fixtures})
	if err != nil {
		return nil, err
	}
	if len(resp.Rows) != len(fixtures) {
		return nil, misbehaved(fmt.Errorf("feature plugin returned %d rows for %d fixtures", len(resp.Rows), len(fixtures)))
	}
	return resp.Rows, nil
}

func sameDay(a, b time.Time) bool { return dayOf(a).Equal(dayOf(b)) }

// seasonSpan is when a competition's season was played, in the store.
type seasonSpan struct {
	season      string
	first, last time.Time
}

// seasonOn names the season a kick-off belongs to: the stored season it
// falls within, else the next stored season of the competition that starts
// after it; after the last stored season, the football season of the date
// (August to July) when that is later than the last stored one.
func seasonOn(spans []seasonSpan, kickoff time.Time) string {
	for _, s := range spans {
		if !kickoff.Before(s.first) && !kickoff.After(s.last) {
			return s.season
		}
	}
	for _, s := range spans {
		if kickoff.Before(s.first) {
			return s.season
		}
	}
	if len(spans) == 0 {
		return calendarSeason(kickoff)
	}
	last := spans[len(spans)-1]
	if cal := calendarSeason(kickoff); len(cal) == len(last.season) && seasonYear(kickoff) > seasonYear(last.last) {
		return cal // a later season, named as the stored ones are
	}
	return last.season
}

// seasonYear is the year an August-to-July season starts in: 2024 for
// 2024-08-17 and for 2025-03-01. Seasons compare by it, not by their
// two-digit names, which wrap at each century.
func seasonYear(t time.Time) int {
	y := t.UTC().Year()
	if t.UTC().Month() < time.July {
		y--
	}
	return y
}

// calendarSeason is the August-to-July season of a day, as football-data
// names them: 2024-08-17 is in 2425.
func calendarSeason(t time.Time) string {
	y := seasonYear(t)
	return fmt.Sprintf("%02d%02d", y%100, (y+1)%100)
}

// addSpan widens m's season's span to take in its kick-off.
func addSpan(out map[string][]seasonSpan, m soccer.Match) {
	spans := out[m.Competition]
	i := slices.IndexFunc(spans, func(s seasonSpan) bool { return s.season == m.Season })
	if i < 0 {
		out[m.Competition] = append(spans, seasonSpan{season: m.Season, first: m.Kickoff, last: m.Kickoff})
		return
	}
	if m.Kickoff.Before(spans[i].first) {
		spans[i].first = m.Kickoff
	}
	if m.Kickoff.After(spans[i].last) {
		spans[i].last = m.Kickoff
	}
}

// sortSpans orders each competition's seasons by their first kick-off.
func sortSpans(out map[string][]seasonSpan) map[string][]seasonSpan {
	for c := range out {
		slices.SortFunc(out[c], func(a, b seasonSpan) int { return a.first.Compare(b.first) })
	}
	return out
}
