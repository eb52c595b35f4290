package forecast

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// fakeRun answers each fixture with a prediction naming it (or an error for a
// fixture whose home team is "bad"), recording batch sizes and concurrency.
type fakeRun struct {
	delay    time.Duration
	inFlight atomic.Int32
	maxIn    atomic.Int32
	mu       sync.Mutex
	sizes    []int
}

func (f *fakeRun) run(_ context.Context, fixtures []soccer.Fixture) []outcome {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxIn.Load()
		if n <= m || f.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.sizes = append(f.sizes, len(fixtures))
	f.mu.Unlock()
	time.Sleep(f.delay)
	out := make([]outcome, len(fixtures))
	for i, fx := range fixtures {
		if fx.HomeTeam == "bad" {
			out[i].err = fault.New(fault.Unprocessable, "%s refused", fx.ID)
			continue
		}
		out[i].pred = Prediction{Fixture: fx}
	}
	return out
}

func fixture(id string) soccer.Fixture { return soccer.Fixture{ID: id, HomeTeam: "A", AwayTeam: "B"} }

// Many concurrent callers: each gets exactly its own fixtures back, in order;
// batches hold several callers' fixtures; no more than Concurrency batches
// run at once and none exceeds MaxBatch; one refused fixture fails only its
// own caller.
func TestCoalescerGivesEachCallerItsOwnAnswers(t *testing.T) {
	f := &fakeRun{delay: 300 * time.Microsecond}
	c := newCoalescer(Batching{MaxBatch: 16, Concurrency: 2}, f.run, nil)
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for caller := range 48 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 40 {
				k := 1 + n%3 // callers of one, two and three fixtures
				fixtures := make([]soccer.Fixture, k)
				for i := range fixtures {
					fixtures[i] = fixture(fmt.Sprintf("c%d-n%d-%d", caller, n, i))
				}
				bad := caller%5 == 0 && n%4 == 0
				if bad {
					fixtures[k-1].HomeTeam = "bad"
				}
				out, err := c.do(context.Background(), fixtures)
				if err != nil {
					t.Error(err)
					wrong.Add(1)
					return
				}
				for i, o := range out {
					switch {
					case bad && i == k-1:
						if !errors.Is(o.err, fault.Unprocessable) {
							t.Errorf("caller %d: refused fixture answered %+v", caller, o)
							wrong.Add(1)
						}
					case o.err != nil || o.pred.Fixture.ID != fixtures[i].ID:
						t.Errorf("caller %d fixture %d: got %q (%v), want %q", caller, i, o.pred.Fixture.ID, o.err, fixtures[i].ID)
						wrong.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	if wrong.Load() > 0 {
		t.FailNow()
	}
	if m := f.maxIn.Load(); m > 2 {
		t.Fatalf("%d batches ran at once, want at most 2", m)
	}
	largest, total := 0, 0
	for _, s := range f.sizes {
		largest, total = max(largest, s), total+s
	}
	if largest > 16 {
		t.Fatalf("a batch of %d fixtures, want at most 16", largest)
	}
	if largest < 4 || len(f.sizes) >= total {
		t.Fatalf("batches never coalesced: %d batches for %d fixtures, largest %d", len(f.sizes), total, largest)
	}
	t.Logf("%d fixtures in %d batches (mean %.1f, largest %d)", total, len(f.sizes), float64(total)/float64(len(f.sizes)), largest)
}

// A caller alone runs its batch at once, alone: no waiting for company.
func TestCoalescerAloneRunsAtOnce(t *testing.T) {
	f := &fakeRun{}
	var waits []time.Duration
	c := newCoalescer(Batching{}, f.run, func(_ int, w []time.Duration) { waits = append(waits, w...) })
	for n := range 5 {
		if _, err := c.do(context.Background(), []soccer.Fixture{fixture(fmt.Sprint(n))}); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range f.sizes {
		if s != 1 {
			t.Fatalf("batch %d had %d fixtures, want 1", i, s)
		}
	}
	for _, w := range waits {
		if w > 50*time.Millisecond {
			t.Fatalf("a lone fixture queued %v", w)
		}
	}
}

// A call larger than MaxBatch is split, and its answers come back in order.
func TestCoalescerSplitsLargeCalls(t *testing.T) {
	f := &fakeRun{}
	c := newCoalescer(Batching{MaxBatch: 7, Concurrency: 1}, f.run, nil)
	fixtures := make([]soccer.Fixture, 50)
	for i := range fixtures {
		fixtures[i] = fixture(fmt.Sprint(i))
	}
	out, err := c.do(context.Background(), fixtures)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o.pred.Fixture.ID != fmt.Sprint(i) {
			t.Fatalf("answer %d is for %q", i, o.pred.Fixture.ID)
		}
	}
	if len(f.sizes) != 8 || f.sizes[0] != 7 || f.sizes[7] != 1 {
		t.Fatalf("batch sizes %v, want seven of 7 and one of 1", f.sizes)
	}
}

// A batch takes its even share of what is queued and in flight, so two
// slots carry two halves of the load (one in each plugin), never more than
// MaxBatch, and a lone fixture goes at once.
func TestCoalescerBatchesTakeAnEvenShare(t *testing.T) {
	c := newCoalescer(Batching{MaxBatch: 40, Concurrency: 2}, (&fakeRun{}).run, nil)
	queue := func(n int) {
		c.pending = c.pending[:0]
		for range n {
			c.pending = append(c.pending, queued{})
		}
	}
	for _, tc := range []struct{ queued, inflight, want int }{
		{1, 0, 1},    // one caller: at once
		{64, 0, 32},  // 64 callers arrive together: half now, half in the other slot
		{32, 32, 32}, // the other slot, while the first half is in flight
		{10, 50, 10}, // fewer queued than the share: all of them
		{90, 0, 40},  // MaxBatch bounds the share
		{3, 0, 2},
	} {
		queue(tc.queued)
		c.inflight = tc.inflight
		if got := len(c.take()); got != tc.want {
			t.Errorf("%d queued, %d in flight: a batch of %d, want %d", tc.queued, tc.inflight, got, tc.want)
		}
		if c.inflight != tc.inflight+tc.want || len(c.pending) != tc.queued-tc.want {
			t.Errorf("after taking %d: %d in flight, %d queued", tc.want, c.inflight, len(c.pending))
		}
	}
}

// A caller that gives up while queued leaves with its context's error; its
// fixtures are never computed, and everyone else is still answered.
func TestCoalescerCallerThatGivesUp(t *testing.T) {
	release := make(chan struct{})
	var ran sync.Map
	run := func(ctx context.Context, fixtures []soccer.Fixture) []outcome {
		for _, f := range fixtures {
			ran.Store(f.ID, true)
		}
		<-release
		return (&fakeRun{}).run(ctx, fixtures)
	}
	c := newCoalescer(Batching{MaxBatch: 4, Concurrency: 1}, run, nil)
	first := make(chan error, 1)
	go func() { _, err := c.do(context.Background(), []soccer.Fixture{fixture("first")}); first <- err }()
	for {
		if _, ok := ran.Load("first"); ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// The only slot is busy: these queue.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	later := make(chan error, 1)
	go func() { _, err := c.do(context.Background(), []soccer.Fixture{fixture("later")}); later <- err }()
	if _, err := c.do(ctx, []soccer.Fixture{fixture("impatient")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("impatient caller: %v, want its deadline", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-later; err != nil {
		t.Fatal(err)
	}
	if _, ok := ran.Load("impatient"); ok {
		t.Fatal("the fixture of a caller that gave up was computed")
	}
}
