package api

import (
	"sync"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
)

// waitlist wakes the long polls waiting for a job when the cache announces
// its view (an ended job).
type waitlist struct {
	once    sync.Once
	mu      sync.Mutex
	waiting map[string]map[chan struct{}]bool
}

// listen subscribes to the cache's announcements, once for the server's life
// (the subscription ends with the cache).
func (w *waitlist) listen(c cache.Cache) {
	w.once.Do(func() { c.Subscribe(w.wake) })
}

// add registers a waiter for key: its channel gets a value when key is
// announced; done unregisters it.
func (w *waitlist) add(key string) (woken <-chan struct{}, done func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting == nil {
		w.waiting = map[string]map[chan struct{}]bool{}
	}
	if w.waiting[key] == nil {
		w.waiting[key] = map[chan struct{}]bool{}
	}
	w.waiting[key][ch] = true
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.waiting[key], ch)
		if len(w.waiting[key]) == 0 {
			delete(w.waiting, key)
		}
	}
}

// has reports whether a poll waits for key.
func (w *waitlist) has(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiting[key]) > 0
}

func (w *waitlist) wake(keys []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range keys {
		for ch := range w.waiting[k] {
			select {
			case ch <- struct{}{}:
			default: // already woken
			}
		}
	}
}
