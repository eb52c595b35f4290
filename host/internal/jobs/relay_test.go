package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/pgtest"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/store/pgstore"
	"github.com/soccerpredict/soccerpredict/host/internal/store/sqlitestore"
)

// countingQueue counts how often each job ID is published.
type countingQueue struct {
	mu    sync.Mutex
	times map[string]int
}

func (q *countingQueue) Publish(_ context.Context, ids ...string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range ids {
		q.times[id]++
	}
	return nil
}
func (q *countingQueue) Consume(context.Context, func(context.Context, string) error) error {
	return nil
}
func (q *countingQueue) ConsumeDead(context.Context, func(context.Context, string) error) error {
	return nil
}
func (q *countingQueue) Close() error { return nil }

// TestReplicasRelayEachJobOnce: two serve replicas' relays draining one
// outbox at once hand every job to the queue once. They used to read the
// same page and both publish it, so two workers started the same job
// (attempts 2, one run wasted; seen as "18 jobs started twice" in a fault
// run with two serve processes).
func TestReplicasRelayEachJobOnce(t *testing.T) {
	ctx := context.Background()
	stores := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			s, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) store.Store {
			s, err := pgstore.Open(ctx, pgtest.Schema(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			q := &countingQueue{times: map[string]int{}}
			const n = 2000
			for i := 0; i < n; i += 100 {
				var batch []store.Job
				for k := i; k < i+100; k++ {
					batch = append(batch, store.Job{ID: fmt.Sprintf("job-%05d", k), Request: json.RawMessage(`{}`)})
				}
				if err := st.CreateJobs(ctx, batch...); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := Relay{Store: st, Queue: q, Logger: hclog.NewNullLogger()}
					if _, err := r.Drain(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if len(q.times) != n {
				t.Fatalf("%d of %d jobs published", len(q.times), n)
			}
			for id, k := range q.times {
				if k != 1 {
					t.Fatalf("job %s published %d times by two relays; want once", id, k)
				}
			}
		})
	}
}

// failOnce fails its first publish (a broker that is down).
type failOnce struct {
	countingQueue
	failed bool
}

func (q *failOnce) Publish(ctx context.Context, ids ...string) error {
	if !q.failed {
		q.failed = true
		return fmt.Errorf("broker down")
	}
	return q.countingQueue.Publish(ctx, ids...)
}

// TestAFailedPublishIsRetriedAtOnce: a page whose publish failed is given
// back, so the next drain publishes it without waiting out the lease.
func TestAFailedPublishIsRetriedAtOnce(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.CreateJobs(ctx, store.Job{ID: "a", Request: json.RawMessage(`{}`)}, store.Job{ID: "b", Request: json.RawMessage(`{}`)})
	q := &failOnce{countingQueue: countingQueue{times: map[string]int{}}}
	r := Relay{Store: st, Queue: q, Logger: hclog.NewNullLogger(), Concurrency: 1}
	if _, err := r.Drain(ctx); err == nil {
		t.Fatal("the broker was down, and Drain said nothing")
	}
	if n, err := r.Drain(ctx); err != nil || n != 2 || q.times["a"] != 1 || q.times["b"] != 1 {
		t.Fatalf("drain after the broker came back: %d, %v, %v; want both jobs published once", n, err, q.times)
	}
}
