package forecastlog

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// memLog is a store.ForecastLog in memory that can be made to refuse writes.
type memLog struct {
	mu   sync.Mutex
	rows map[string]store.LoggedForecast
	down bool
	// slow, when set, is closed by the first write, which then commits
	// and waits: an answer that arrives after a shutdown began.
	slow chan struct{}
}

func (m *memLog) LogForecasts(ctx context.Context, entries []store.LoggedForecast) (err error) {
	if m.slow != nil {
		defer func() {
			close(m.slow)
			m.slow = nil
			select { // the reply is late: a cancelled ctx loses it, the rows stay written
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errors.New("connection refused")
	}
	if m.rows == nil {
		m.rows = map[string]store.LoggedForecast{}
	}
	for _, e := range entries {
		r, ok := m.rows[e.Key()]
		if ok {
			e.Count += r.Count
		}
		m.rows[e.Key()] = e
	}
	return nil
}
func (m *memLog) LoggedForecasts(context.Context, store.ForecastQuery) ([]store.LoggedForecast, error) {
	return nil, nil
}
func (m *memLog) CountForecasts(context.Context, store.ForecastQuery) (store.ForecastCounts, error) {
	return store.ForecastCounts{}, nil
}
func (m *memLog) PruneForecasts(context.Context, time.Time) (int, error) { return 0, nil }

func (m *memLog) total() (rows int, count int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.rows {
		count += r.Count
	}
	return len(m.rows), count
}

func pred(home string, ph float64) forecast.Prediction {
	return forecast.Prediction{Fixture: soccer.Fixture{Competition: "E0", Season: "2425", HomeTeam: home, AwayTeam: "Chelsea",
		Kickoff: time.Date(2024, 9, 1, 15, 0, 0, 0, time.UTC), Odds: []soccer.Odds{{Bookmaker: "PS", Home: 2, Draw: 3.5, Away: 4}}},
		Probabilities: soccer.Probabilities{Home: ph, Draw: 0.3, Away: 0.7 - ph}, Model: "onnx", ModelVersion: 2, Generation: 3, FeatureSchemaVersion: "ratings-4"}
}

// Identical answers become one row with their count; the entry names the
// canonical match and carries the request's de-margined price.
func TestIdenticalAnswersAreOneRow(t *testing.T) {
	st := &memLog{}
	l := New(st, Options{Buffer: 100000, Batch: 500})
	for i := 0; i < 3000; i++ {
		l.Record(forecast.Origin{Route: "sync", KeyID: "k"}, []forecast.Prediction{pred("Arsenal", 0.4), pred("Everton", 0.2+float64(i%2)/10)})
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, count := st.total()
	if rows != 3 || count != 6000 {
		t.Fatalf("%d rows counting %d forecasts, want 3 rows counting 6000", rows, count)
	}
	e := Entry(pred("Arsenal", 0.4), forecast.Origin{Route: "sync"}, time.Now())
	if e.MatchID != "e0-2425-arsenal-v-chelsea" || e.Market == nil || e.Market[0] < 0.482 || e.Market[0] > 0.483 {
		t.Fatalf("entry: match %s, market %v", e.MatchID, e.Market)
	}
	if s := l.Stats(); s.Recorded != 6000 || s.Written != 6000 || s.Dropped != 0 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A store that is down loses nothing that fits in the buffer, counts what
// does not, and the log catches up when it answers; Record never blocks.
func TestAStoreOutageIsCountedAndCaughtUp(t *testing.T) {
	st := &memLog{down: true}
	l := New(st, Options{Buffer: 1000, Batch: 100, Interval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	start := time.Now()
	for i := 0; i < 1500; i++ {
		l.Record(forecast.Origin{Route: "sync"}, []forecast.Prediction{pred("Arsenal", float64(i)/10000)})
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("1,500 records took %v with the store down", took)
	}
	s := l.Stats()
	if s.Dropped != 500 || s.Pending != 1000 {
		t.Fatalf("with the store down: %+v, want 500 dropped and 1000 pending", s)
	}
	st.mu.Lock()
	st.down = false
	st.mu.Unlock()
	for end := time.Now().Add(10 * time.Second); l.Stats().Pending > 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if rows, count := st.total(); rows != 1000 || count != 1000 {
		t.Fatalf("after the outage: %d rows, %d forecasts; want the 1000 that fitted", rows, count)
	}
	if s := l.Stats(); s.LastError != "" || s.Written != 1000 || s.Dropped != 500 {
		t.Fatalf("stats after catching up: %+v", s)
	}
}

// A shutdown while a write is in flight neither aborts it nor writes it
// again: every forecast is counted once.
func TestShutdownDuringAWriteCountsOnce(t *testing.T) {
	st := &memLog{slow: make(chan struct{})}
	slow := st.slow
	l := New(st, Options{Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	l.Record(forecast.Origin{Route: "sync"}, []forecast.Prediction{pred("Arsenal", 0.5), pred("Spurs", 0.4)})
	<-slow // committed, answer pending
	cancel()
	<-done
	if rows, count := st.total(); rows != 2 || count != 2 {
		t.Fatalf("%d rows counting %d forecasts, want 2 and 2", rows, count)
	}
}
