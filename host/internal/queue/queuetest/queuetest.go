// Package queuetest is the conformance suite every queue.Queue passes: the
// in-process queue and RabbitMQ run the very same checks.
package queuetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/queue"
)

// Run runs the suite; open returns a new, empty queue for each check.
func Run(t *testing.T, open func(t *testing.T) queue.Queue) {
	t.Run("every job is delivered", func(t *testing.T) {
		q := open(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var want []string
		for i := range 20 {
			id := fmt.Sprintf("job-%02d", i)
			want = append(want, id)
			if err := q.Publish(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		got := collect(t, ctx, q, len(want), func(string) error { return nil })
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("delivered %v, want %v", got, want)
		}
	})
	t.Run("a failed job is delivered again", func(t *testing.T) {
		q := open(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := q.Publish(ctx, "flaky"); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		tries := 0
		got := collect(t, ctx, q, 1, func(string) error {
			mu.Lock()
			defer mu.Unlock()
			tries++
			if tries < 3 {
				return fmt.Errorf("transient failure %d", tries)
			}
			return nil
		})
		if len(got) != 1 || tries != 3 {
			t.Fatalf("delivered %v after %d tries, want 3 tries", got, tries)
		}
	})
	t.Run("a job that always fails is dead-lettered to ConsumeDead", func(t *testing.T) {
		deadLettered(t, open(t))
	})
	t.Run("jobs published together are each delivered, and one that fails comes back", func(t *testing.T) {
		q := open(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var want []string
		for i := range 100 {
			want = append(want, fmt.Sprintf("job-%03d", i))
		}
		if err := q.Publish(ctx, want...); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		done := map[string]bool{}
		failures := 0
		cctx, stop := context.WithCancel(ctx)
		defer stop()
		all := make(chan struct{})
		go q.Consume(cctx, func(_ context.Context, id string) error {
			mu.Lock()
			defer mu.Unlock()
			if id == "job-042" && failures < 2 {
				failures++
				return fmt.Errorf("transient failure %d", failures)
			}
			// Delivered again after it succeeded: at least once, as a
			// neighbour of a job that failed may be.
			if !done[id] {
				done[id] = true
				if len(done) == len(want) {
					close(all)
				}
			}
			return nil
		})
		select {
		case <-all:
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("only %d of %d jobs done", len(done), len(want))
		}
		mu.Lock()
		defer mu.Unlock()
		if failures != 2 {
			t.Fatalf("the failing job failed %d times, want 2 then success", failures)
		}
	})
	t.Run("a job that always fails is dead-lettered alone, not with those published beside it", func(t *testing.T) {
		q := open(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ids := []string{"good-1", "good-2", "poison", "good-3"}
		if err := q.Publish(ctx, ids...); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		good := map[string]bool{}
		go q.Consume(ctx, func(_ context.Context, id string) error {
			if id == "poison" {
				return fmt.Errorf("cannot run %s", id)
			}
			mu.Lock()
			good[id] = true
			mu.Unlock()
			return nil
		})
		dead := make(chan string, 8)
		go q.ConsumeDead(ctx, func(_ context.Context, id string) error {
			dead <- id
			return nil
		})
		select {
		case id := <-dead:
			if id != "poison" {
				t.Fatalf("dead-lettered %q, want poison", id)
			}
		case <-ctx.Done():
			t.Fatal("the poison job never reached the dead-letter consumer")
		}
		select {
		case id := <-dead:
			t.Fatalf("%q was dead-lettered beside the poison job", id)
		case <-time.After(500 * time.Millisecond):
		}
		mu.Lock()
		defer mu.Unlock()
		if len(good) != 3 {
			t.Fatalf("the good jobs done: %v, want all three", good)
		}
	})
	t.Run("a worker that stops before acking loses nothing", func(t *testing.T) {
		q := open(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := q.Publish(ctx, "survivor"); err != nil {
			t.Fatal(err)
		}
		first, stop := context.WithCancel(ctx)
		started := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			q.Consume(first, func(hctx context.Context, id string) error {
				close(started)
				<-hctx.Done() // the worker dies mid-job
				return hctx.Err()
			})
		}()
		select {
		case <-started:
		case <-ctx.Done():
			t.Fatal("the job was never delivered")
		}
		stop()
		<-done
		if got := collect(t, ctx, q, 1, func(string) error { return nil }); len(got) != 1 || got[0] != "survivor" {
			t.Fatalf("after the first worker died: %v", got)
		}
	})
}

// deadLettered checks that a job whose every delivery fails reaches ConsumeDead.
func deadLettered(t *testing.T, q queue.Queue) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := q.Publish(ctx, "poison"); err != nil {
		t.Fatal(err)
	}
	var tries sync.Map
	go q.Consume(ctx, func(_ context.Context, id string) error {
		n, _ := tries.LoadOrStore(id, new(int))
		*n.(*int)++
		return fmt.Errorf("cannot run %s", id)
	})
	got := make(chan string, 1)
	go q.ConsumeDead(ctx, func(_ context.Context, id string) error {
		select {
		case got <- id:
		default:
		}
		return nil
	})
	select {
	case id := <-got:
		if id != "poison" {
			t.Fatalf("dead-lettered %q, want poison", id)
		}
	case <-ctx.Done():
		t.Fatal("a job that always fails never reached the dead-letter consumer")
	}
}

// collect consumes until n successful deliveries, returning their IDs.
func collect(t *testing.T, ctx context.Context, q queue.Queue, n int, handle func(string) error) []string {
	t.Helper()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	go func() {
		q.Consume(cctx, func(_ context.Context, id string) error {
			if err := handle(id); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			got = append(got, id)
			if len(got) == n {
				close(done)
			}
			return nil
		})
	}()
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d of %d jobs delivered", len(got), n)
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), got...)
}
