package gather

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestEachCallerGetsItsOwnResult(t *testing.T) {
	var batches, largest, running atomic.Int64
	release := make(chan struct{})
	g := &Group[int, string]{Max: 16, Concurrency: 2, Run: func(_ context.Context, items []int) ([]string, []error) {
		batches.Add(1)
		running.Add(int64(len(items)))
		if n := int64(len(items)); n > largest.Load() {
			largest.Store(n)
		}
		<-release
		res, errs := make([]string, len(items)), make([]error, len(items))
		for i, it := range items {
			if it%7 == 0 {
				errs[i] = fmt.Errorf("item %d refused", it)
				continue
			}
			res[i] = fmt.Sprint(it * 2)
		}
		return res, errs
	}}
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := 1; i <= 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := g.Do(context.Background(), i)
			switch {
			case i%7 == 0 && (err == nil || err.Error() != fmt.Sprintf("item %d refused", i)):
				bad.Add(1)
			case i%7 != 0 && (err != nil || r != fmt.Sprint(i*2)):
				bad.Add(1)
			}
		}()
	}
	// Two batches hold the slots; let every other call queue before they
	// end (a call still starting when they end would run alone, and how
	// many do depends on the scheduler, not on the Group).
	for queued := 0; queued+int(running.Load()) < 200; {
		g.mu.Lock()
		queued = len(g.queue)
		g.mu.Unlock()
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d callers got another's result", bad.Load())
	}
	if largest.Load() > 16 {
		t.Fatalf("a batch of %d items, above Max", largest.Load())
	}
	if batches.Load() > 16 { // the two first ones, then 13 of Max 16; 200 if nothing were gathered
		t.Fatalf("200 concurrent calls ran %d batches: too little was gathered", batches.Load())
	}
	t.Logf("200 calls in %d batches", batches.Load())
}

func TestConcurrencyIsBounded(t *testing.T) {
	var now, peak atomic.Int64
	g := &Group[int, int]{Max: 2, Concurrency: 3, Run: func(_ context.Context, items []int) ([]int, []error) {
		n := now.Add(1)
		defer now.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		return items, make([]error, len(items))
	}}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() { defer wg.Done(); g.Do(context.Background(), i) }()
	}
	wg.Wait()
	if peak.Load() > 3 {
		t.Fatalf("%d batches at once, above Concurrency 3", peak.Load())
	}
	if g.running != 0 || len(g.queue) != 0 {
		t.Fatalf("left running %d, queued %d", g.running, len(g.queue))
	}
}

func TestALoneCallRunsAtOnce(t *testing.T) {
	g := &Group[int, int]{Run: func(_ context.Context, items []int) ([]int, []error) {
		return []int{len(items)}, []error{nil}
	}}
	if n, err := g.Do(context.Background(), 1); n != 1 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
}

func TestABrokenBatchFailsItsItemsOnly(t *testing.T) {
	g := &Group[int, int]{Run: func(_ context.Context, items []int) ([]int, []error) {
		if items[0] == 0 {
			panic("boom")
		}
		return nil, nil // the wrong length
	}}
	for _, it := range []int{0, 1} {
		var be *BatchError
		if _, err := g.Do(context.Background(), it); !errors.As(err, &be) {
			t.Fatalf("item %d: %v", it, err)
		}
	}
	// The group still works afterwards.
	g.Run = func(_ context.Context, items []int) ([]int, []error) { return items, make([]error, len(items)) }
	if n, err := g.Do(context.Background(), 5); n != 5 || err != nil {
		t.Fatalf("after failures: %d %v", n, err)
	}
}

func TestACancelledCallerDoesNotCancelTheBatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g := &Group[int, error]{Run: func(ctx context.Context, items []int) ([]error, []error) {
		return []error{ctx.Err()}, []error{nil}
	}}
	if got, _ := g.Do(ctx, 1); got != nil {
		t.Fatalf("the batch saw %v", got)
	}
}
