package api

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// doubtful holds the IDs of submissions whose write failed — which may
// have committed all the same — and cancels each once the store answers,
// so a job whose client was told "nothing was queued" does not run. It
// holds at most maxDoubts IDs (the oldest go first) and works while it has
// any, one cancel at a time, retrying with a growing delay while the store
// is down.
type doubtful struct {
	store interface {
		CancelJob(ctx context.Context, id string) (bool, error)
	}
	logger hclog.Logger
	mu     sync.Mutex
	ids    []string
	busy   bool
}

const maxDoubts = 100_000

func (d *doubtful) add(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.ids) >= maxDoubts {
		d.logger.Warn("too many submissions of unknown outcome; the oldest is no longer checked", "job", d.ids[0])
		d.ids = d.ids[1:]
	}
	d.ids = append(d.ids, id)
	if !d.busy {
		d.busy = true
		go d.work()
	}
}

func (d *doubtful) work() {
	delay := 100 * time.Millisecond
	cancelled := 0
	for {
		d.mu.Lock()
		if len(d.ids) == 0 {
			d.busy = false
			d.mu.Unlock()
			if cancelled > 0 {
				d.logger.Warn("cancelled jobs recorded although their submission failed (the store's answer was lost)", "jobs", cancelled)
			}
			return
		}
		id := d.ids[0]
		d.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok, err := d.store.CancelJob(ctx, id)
		cancel()
		if err != nil {
			time.Sleep(delay)
			delay = min(2*delay, 2*time.Second)
			continue
		}
		delay = 100 * time.Millisecond
		if ok {
			cancelled++
		}
		d.mu.Lock()
		if len(d.ids) > 0 && d.ids[0] == id {
			d.ids = d.ids[1:]
		}
		d.mu.Unlock()
	}
}
