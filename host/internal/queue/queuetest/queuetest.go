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
