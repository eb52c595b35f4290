package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

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

// openSQLite opens an embedded store that closes with the test.
func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// createClaimed creates jobs as the API does for its Handoff.
func createClaimed(t *testing.T, st store.Store, h *Handoff, ids ...string) {
	t.Helper()
	if !h.Reserve() {
		t.Fatal("no room in the Handoff")
	}
	page := make([]store.Job, len(ids))
	for i, id := range ids {
		page[i] = store.Job{ID: id, Request: json.RawMessage(`{}`), RelayLease: RelayLease}
	}
	if err := st.CreateJobs(context.Background(), page...); err != nil {
		t.Fatal(err)
	}
	h.Hand(page)
}

// TestHandedJobsArePublishedAndMarkedLater: jobs the API hands over are
// published without an outbox claim; the relay marks them after MarkAfter,
// except those a worker started first, which the start marked.
func TestHandedJobsArePublishedAndMarkedLater(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openSQLite(t)
	q := &countingQueue{times: map[string]int{}}
	h := NewHandoff(4)
	const markAfter = 300 * time.Millisecond
	done := make(chan struct{})
	go func() {
		defer close(done)
		Relay{Store: st, Queue: q, Logger: hclog.NewNullLogger(), Interval: 10 * time.Millisecond, Handoff: h, MarkAfter: markAfter}.Run(ctx)
	}()
	createClaimed(t, st, h, "h1", "h2")
	createClaimed(t, st, h, "h3")
	published := func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.times["h1"] == 1 && q.times["h2"] == 1 && q.times["h3"] == 1
	}
	for deadline := time.Now().Add(10 * time.Second); !published(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("handed jobs not published: %v", q.times)
		}
	}
	// Not yet marked (the mark waits), and no other relay can claim them.
	if j, _ := st.Job(ctx, "h1"); j.Published {
		t.Fatal("h1 was marked at once; the relay should wait for a worker's start")
	}
	if out, _ := st.Outbox(ctx, 10, RelayLease); len(out) != 0 {
		t.Fatalf("another relay claimed handed jobs: %v", out)
	}
	if ok, err := st.StartJob(ctx, "h2"); !ok || err != nil {
		t.Fatalf("start h2: %v %v", ok, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		h1, _ := st.Job(ctx, "h1")
		h3, _ := st.Job(ctx, "h3")
		if h1.Published && h3.Published {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("handed jobs never marked published")
		}
	}
	if j, _ := st.Job(ctx, "h2"); !j.Published || j.Status != store.JobRunning {
		t.Fatalf("h2 after its start: %+v", j)
	}
	cancel()
	<-done
	for id, n := range q.times {
		if n != 1 {
			t.Fatalf("job %s published %d times", id, n)
		}
	}
}

// stuckQueue is a broker that takes no message until its caller gives up.
type stuckQueue struct {
	countingQueue
	entered chan struct{}
}

func (q *stuckQueue) Publish(ctx context.Context, ids ...string) error {
	q.entered <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// TestAStoppedRelayGivesHandedJobsBack: a relay stopping while its broker
// hangs gives the page it was publishing and the page still waiting in the
// Handoff back to the outbox, so another replica's relay claims them at
// once, not after the lease.
func TestAStoppedRelayGivesHandedJobsBack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openSQLite(t)
	q := &stuckQueue{entered: make(chan struct{}, 4)}
	h := NewHandoff(4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Relay{Store: st, Queue: q, Logger: hclog.NewNullLogger(), Interval: time.Hour, Handoff: h, Concurrency: 1}.Run(ctx)
	}()
	createClaimed(t, st, h, "s1", "s2")
	<-q.entered // the first page is being published
	createClaimed(t, st, h, "s3")
	cancel()
	<-done
	out, err := st.Outbox(context.Background(), 10, RelayLease)
	var got []string
	for _, j := range out {
		got = append(got, j.ID)
	}
	if err != nil || len(got) != 3 {
		t.Fatalf("outbox after the relay stopped: %v, %v; want s1, s2 and s3 back", got, err)
	}
}

// TestAHandedPageThatFailsGoesBackToTheOutbox: the broker refuses a handed
// page; the relay's next drain claims and publishes it.
func TestAHandedPageThatFailsGoesBackToTheOutbox(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openSQLite(t)
	q := &failOnce{countingQueue: countingQueue{times: map[string]int{}}}
	h := NewHandoff(1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Relay{Store: st, Queue: q, Logger: hclog.NewNullLogger(), Interval: 10 * time.Millisecond, Handoff: h, Concurrency: 1}.Run(ctx)
	}()
	createClaimed(t, st, h, "f1", "f2")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		f1, _ := st.Job(ctx, "f1")
		f2, _ := st.Job(ctx, "f2")
		if f1.Published && f2.Published {
			break // published by a drain, which marks at once
		}
		if time.Now().After(deadline) {
			t.Fatalf("a refused handed page was not published again: %v", q.times)
		}
	}
	cancel()
	<-done
	if q.times["f1"] != 1 || q.times["f2"] != 1 {
		t.Fatalf("published %v; want each once after the refusal", q.times)
	}
}

// TestHandoffRoom: Reserve fails when the Handoff is full, and room comes
// back as the relay takes pages or a reservation is cancelled.
func TestHandoffRoom(t *testing.T) {
	h := NewHandoff(2)
	if !h.Reserve() || !h.Reserve() {
		t.Fatal("no room in an empty Handoff of 2")
	}
	if h.Reserve() {
		t.Fatal("a third reservation in a Handoff of 2")
	}
	h.Cancel()
	if !h.Reserve() {
		t.Fatal("no room after a cancelled reservation")
	}
	h.Hand([]store.Job{{ID: "a"}})
	if _, ok := h.take(context.Background()); !ok || !h.Reserve() {
		t.Fatal("no room after the relay took a page")
	}
}

// TestAClosedHandoff: once the relay stops, the Handoff refuses new
// reservations, and close waits for one made just before (its INSERT
// under way) so that page goes back to the outbox too, not out of reach
// until the lease passes.
func TestAClosedHandoff(t *testing.T) {
	h := NewHandoff(2)
	if !h.Reserve() {
		t.Fatal("no room in an empty Handoff")
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		h.Hand([]store.Job{{ID: "late"}})
	}()
	if ids := h.close(10 * time.Second); len(ids) != 1 || ids[0] != "late" {
		t.Fatalf("close gave back %v; want the page handed within its reservation", ids)
	}
	if h.Reserve() {
		t.Fatal("a closed Handoff took a reservation")
	}
}
