package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// Handoff carries the jobs an API process creates to its own Relay, so
// that the relay publishes them without claiming them from the outbox
// first: they are created claimed (store.Job.RelayLease = RelayLease). It
// holds a bounded number of pages; an API that finds no room creates its
// jobs unclaimed and kicks the relay, which claims them from the outbox as
// before. Jobs left in it when the relay stops are given back to the
// outbox, so another replica publishes them without waiting out the lease.
type Handoff struct {
	pages   chan []store.Job
	held    atomic.Int64 // reserved pages, sent or not, the relay has not taken
	stopped atomic.Bool
}

// NewHandoff makes a Handoff of up to pages pages.
func NewHandoff(pages int) *Handoff {
	return &Handoff{pages: make(chan []store.Job, max(pages, 1))}
}

// Reserve makes room for one page, to be handed with Hand or given back
// with Cancel; false when the relay is that far behind, or has stopped.
func (h *Handoff) Reserve() bool {
	if h.stopped.Load() {
		return false
	}
	if h.held.Add(1) > int64(cap(h.pages)) || h.stopped.Load() {
		h.held.Add(-1)
		return false
	}
	return true
}

// Cancel gives back a reservation that will not be handed.
func (h *Handoff) Cancel() { h.held.Add(-1) }

// Hand passes jobs created claimed to the relay, within a reservation. It
// never blocks.
func (h *Handoff) Hand(page []store.Job) { h.pages <- page }

// take is the relay's side: the next page, or false once ctx ends.
func (h *Handoff) take(ctx context.Context) ([]store.Job, bool) {
	select {
	case page := <-h.pages:
		h.held.Add(-1)
		return page, true
	case <-ctx.Done():
		return nil, false
	}
}

// close, once the relay stops, refuses new reservations and returns the
// IDs of every page handed but not taken, waiting up to wait for the
// reservations already made (an INSERT under way) to be handed or
// cancelled. (Reserve counts itself before it looks at stopped, and close
// sets stopped before it looks at the count, so no reservation slips
// between them.)
func (h *Handoff) close(wait time.Duration) []string {
	h.stopped.Store(true)
	deadline := time.Now().Add(wait)
	var ids []string
	for {
		for drained := false; !drained; {
			select {
			case page := <-h.pages:
				h.held.Add(-1)
				for _, j := range page {
					ids = append(ids, j.ID)
				}
			default:
				drained = true
			}
		}
		if h.held.Load() <= 0 || time.Now().After(deadline) {
			return ids
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// MarkAfter is how long a relay waits before it marks a published job in
// the store, when no worker has started it yet: a worker's start marks it
// too (and takes it out of the outbox), so a job that starts within this
// time costs no statement of its own. It is well within RelayLease, which
// keeps the job from other relays until it is marked.
const MarkAfter = RelayLease / 4

// unmarked are published jobs the relay has yet to mark, oldest first.
type unmarked struct {
	mu    sync.Mutex
	pages []markPage
}

type markPage struct {
	ids []string
	at  time.Time
}

func (u *unmarked) add(ids []string, at time.Time) {
	u.mu.Lock()
	u.pages = append(u.pages, markPage{ids, at})
	u.mu.Unlock()
}

// due takes the IDs published before cutoff (all of them with a zero
// cutoff), up to limit of them, or one page if that is larger.
func (u *unmarked) due(cutoff time.Time, limit int) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var ids []string
	n := 0
	for n < len(u.pages) && (cutoff.IsZero() || u.pages[n].at.Before(cutoff)) {
		if len(ids) > 0 && len(ids)+len(u.pages[n].ids) > limit {
			break
		}
		ids = append(ids, u.pages[n].ids...)
		n++
	}
	u.pages = u.pages[n:]
	return ids
}

// putBack returns IDs whose mark failed, due at once, to be tried first
// next time.
func (u *unmarked) putBack(ids []string) {
	u.mu.Lock()
	u.pages = append([]markPage{{ids: ids}}, u.pages...)
	u.mu.Unlock()
}
