// Package forecastlog records the forecasts the host serves, off the
// request path: Record appends to a bounded buffer and returns; Run writes
// the buffer to the store in batches (COPY on PostgreSQL), merging
// identical answers into one row with a count. A full buffer drops the
// overflow and counts it; a store that is down keeps the batch it holds,
// counts what overflows meanwhile, and catches up when it answers. No
// request ever waits for or fails on the log.
package forecastlog

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Options size the log; zero values take the defaults.
type Options struct {
	Buffer    int           // forecasts held in memory (65,536)
	Batch     int           // forecasts merged into one write (16,384)
	Interval  time.Duration // the longest a forecast waits for its write (1 s): identical answers within it are one upsert
	Retention time.Duration // forecasts last served longer ago are pruned hourly; 0 keeps all
	Metrics   Metrics
	Logger    hclog.Logger
}

// Metrics is told what the log wrote and dropped.
type Metrics interface {
	ForecastLog(written, dropped int64, pending int)
}

// FeatureRows bounds the buffered forecasts that keep their feature row
// (the others are logged without it): drift needs a version's most recent
// thousand, not every one.
const FeatureRows = 2048

// Stats are the log's counts since it started.
type Stats struct {
	Recorded int64 `json:"recorded"` // forecasts handed to the log
	Written  int64 `json:"written"`  // forecasts in the store
	Dropped  int64 `json:"dropped"`  // forecasts lost to a full buffer
	Pending  int   `json:"pending"`  // forecasts waiting for their write
	// LastError is the store's last refusal, "" once a write succeeds again.
	LastError string `json:"last_error,omitempty"`
}

// Log is the forecast log. Use it by pointer; Record is safe from any goroutine.
type Log struct {
	st   store.ForecastLog
	opts Options

	mu      sync.Mutex
	buf     []entry
	rows    int // buffered entries that keep their feature row
	stats   Stats
	wake    chan struct{}
	flushed chan struct{} // closed and replaced after every write attempt
}

type entry struct {
	pred   forecast.Prediction
	origin forecast.Origin
	at     time.Time
}

// New makes a log writing to st.
func New(st store.ForecastLog, o Options) *Log {
	if o.Buffer <= 0 {
		o.Buffer = 65536
	}
	if o.Batch <= 0 {
		o.Batch = 16384
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return &Log{st: st, opts: o, wake: make(chan struct{}, 1), flushed: make(chan struct{})}
}

var _ forecast.Recorder = (*Log)(nil)

// Record implements forecast.Recorder: it never blocks on the store.
func (l *Log) Record(o forecast.Origin, preds []forecast.Prediction) {
	at := o.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	l.mu.Lock()
	room := l.opts.Buffer - len(l.buf)
	n := min(room, len(preds))
	for _, p := range preds[:max(n, 0)] {
		// Drift reads a version's last thousand rows: a buffer's worth of
		// feature rows is plenty, and holding every one costs memory.
		if p.Features != nil {
			if l.rows >= FeatureRows {
				p.Features = nil
			} else {
				l.rows++
			}
		}
		l.buf = append(l.buf, entry{pred: p, origin: o, at: at})
	}
	l.stats.Recorded += int64(len(preds))
	if n < len(preds) {
		l.stats.Dropped += int64(len(preds) - max(n, 0))
	}
	full := len(l.buf) >= l.opts.Batch
	l.mu.Unlock()
	if full {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Stats returns the log's counts.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Pending = len(l.buf)
	return s
}

// Run writes the buffer until ctx ends, then writes what is left (for at
// most five seconds).
func (l *Log) Run(ctx context.Context) {
	tick := time.NewTicker(l.opts.Interval)
	defer tick.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	l.prune(ctx)
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			for l.Stats().Pending > 0 && l.writeOnce(fctx) == nil {
			}
			cancel()
			return
		case <-tick.C:
		case <-l.wake:
		case <-prune.C:
			l.prune(ctx)
		}
		if backoff > 0 {
			select {
			case <-ctx.Done():
				continue
			case <-time.After(backoff):
			}
		}
		for {
			err := l.writeOnce(ctx)
			if err != nil {
				backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
				break
			}
			backoff = 0
			if l.Stats().Pending < l.opts.Batch {
				break
			}
		}
	}
}

// Flush writes everything recorded so far, or returns the store's error.
func (l *Log) Flush(ctx context.Context) error {
	for l.Stats().Pending > 0 {
		if err := l.writeOnce(ctx); err != nil {
			return err
		}
	}
	return nil
}

// writeOnce writes up to one batch from the head of the buffer; the
// entries leave the buffer only once the store has them.
func (l *Log) writeOnce(ctx context.Context) error {
	l.mu.Lock()
	n := min(len(l.buf), l.opts.Batch)
	batch := append([]entry(nil), l.buf[:n]...)
	l.mu.Unlock()
	if n == 0 {
		return nil
	}
	rows := merge(batch)
	// A write once begun is not cancelled with ctx (a shutdown): one
	// aborted after the store committed it would be written again from the
	// buffer, and counted twice.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	err := l.st.LogForecasts(wctx, rows)
	cancel()
	l.mu.Lock()
	if err != nil {
		first := l.stats.LastError == ""
		l.stats.LastError = err.Error()
		l.mu.Unlock()
		if first {
			l.opts.Logger.Warn("cannot write the forecast log; holding what fits in the buffer and counting the rest", "error", err, "pending", n)
		}
		l.report()
		return err
	}
	if l.stats.LastError != "" {
		l.opts.Logger.Info("forecast log written again", "pending", len(l.buf))
	}
	l.buf = append(l.buf[:0], l.buf[n:]...)
	l.rows = 0
	for _, e := range l.buf {
		if e.pred.Features != nil {
			l.rows++
		}
	}
	l.stats.Written += int64(n)
	l.stats.LastError = ""
	l.mu.Unlock()
	l.report()
	return nil
}

func (l *Log) report() {
	if l.opts.Metrics != nil {
		s := l.Stats()
		l.opts.Metrics.ForecastLog(s.Written, s.Dropped, s.Pending)
	}
}

func (l *Log) prune(ctx context.Context) {
	if l.opts.Retention <= 0 {
		return
	}
	n, err := l.st.PruneForecasts(ctx, time.Now().Add(-l.opts.Retention))
	switch {
	case err != nil:
		l.opts.Logger.Warn("prune the forecast log", "error", err)
	case n > 0:
		l.opts.Logger.Info("forecast log pruned", "forecasts", n, "retention", l.opts.Retention)
	}
}

// answer is what makes two buffered forecasts the same log row (the
// fields of LoggedForecast.Key), compared as a Go value: cheaper than the
// row's canonical match ID and digest, which are made once per distinct
// answer.
type answer struct {
	competition, season, home, away, model, route, keyID string
	version                                              int
	generation                                           int64
	probabilities                                        soccer.Probabilities
	priced                                               bool
	market                                               soccer.Odds
}

func answerOf(e entry) answer {
	f := e.pred.Fixture
	a := answer{competition: f.Competition, season: f.Season, home: f.HomeTeam, away: f.AwayTeam, model: e.pred.Model, route: e.origin.Route,
		keyID: e.origin.KeyID, version: e.pred.ModelVersion, generation: e.pred.Generation, probabilities: e.pred.Probabilities}
	for _, o := range f.Odds {
		if !o.Closing {
			a.priced, a.market = true, o
			break
		}
	}
	return a
}

// merge turns buffered forecasts into log rows, identical answers counted
// once with their first and last times.
func merge(batch []entry) []store.LoggedForecast {
	byAnswer := make(map[answer]int, len(batch))
	byKey := make(map[string]int, len(batch))
	out := make([]store.LoggedForecast, 0, len(batch))
	for _, e := range batch {
		a := answerOf(e)
		i, seen := byAnswer[a]
		if !seen {
			f := Entry(e.pred, e.origin, e.at)
			k := f.Key()
			if i, seen = byKey[k]; !seen {
				byKey[k], byAnswer[a] = len(out), len(out)
				out = append(out, f)
				continue
			}
			byAnswer[a] = i // another spelling of an answer already kept
		}
		out[i].Count++
		if e.at.Before(out[i].FirstAt) {
			out[i].FirstAt = e.at
		}
		if e.at.After(out[i].LastAt) {
			out[i].LastAt = e.at
		}
	}
	return out
}

// Entry is the log row of one forecast served at at.
func Entry(p forecast.Prediction, o forecast.Origin, at time.Time) store.LoggedForecast {
	f := p.Fixture
	e := store.LoggedForecast{MatchID: soccer.MatchID(f.Competition, f.Season, f.HomeTeam, f.AwayTeam), Competition: f.Competition,
		Season: f.Season, HomeTeam: f.HomeTeam, AwayTeam: f.AwayTeam, Kickoff: f.Kickoff.UTC().Truncate(time.Second),
		Probabilities: [3]float64{p.Probabilities.Home, p.Probabilities.Draw, p.Probabilities.Away},
		Model:         p.Model, Version: p.ModelVersion, Generation: p.Generation, FeatureSchema: p.FeatureSchemaVersion,
		Route: o.Route, KeyID: o.KeyID, Features: p.Features, Count: 1, FirstAt: at.UTC(), LastAt: at.UTC()}
	if m, ok := PreMatchPrice(f.Odds); ok {
		e.Market = &m
	}
	return e
}

// PreMatchPrice is the de-margined pre-match price among odds (the first
// bookmaker quoting one; Pinnacle first when it does), or false.
func PreMatchPrice(odds []soccer.Odds) ([3]float64, bool) {
	return price(odds, false)
}

// ClosingPrice is PreMatchPrice of the closing odds.
func ClosingPrice(odds []soccer.Odds) ([3]float64, bool) {
	return price(odds, true)
}

func price(odds []soccer.Odds, closing bool) ([3]float64, bool) {
	var best *soccer.Odds
	for i := range odds {
		o := &odds[i]
		if o.Closing != closing {
			continue
		}
		if best == nil || (o.Bookmaker == forecast.ClosingBookmaker && best.Bookmaker != forecast.ClosingBookmaker) {
			best = o
		}
	}
	if best == nil {
		return [3]float64{}, false
	}
	p, err := best.Implied()
	if err != nil {
		return [3]float64{}, false
	}
	return [3]float64{p.Home, p.Draw, p.Away}, true
}
