package api

import (
	"sync"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
)

// waitlist holds the long polls and event streams waiting for jobs to end,
// by cache key, and wakes them when the cache announces their keys.
type waitlist struct {
	once    sync.Once
	mu      sync.Mutex
	waiting map[string]map[*waiter]bool
}

// waiter is one poll's or stream's registration: its channel gets a value
// when one of its keys is announced, and heard lists those keys.
type waiter struct {
	ch    chan struct{}
	mu    sync.Mutex
	heard []string
}

// take returns the keys announced since the last take.
func (w *waiter) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := w.heard
	w.heard = nil
	return keys
}

// listen subscribes to the cache's announcements, once for the server's life
// (the subscription ends with the cache).
func (w *waitlist) listen(c cache.Cache) {
	w.once.Do(func() { c.Subscribe(w.wake) })
}

// add registers a waiter for key: its channel gets a value when key is
// announced; done unregisters it.
func (w *waitlist) add(key string) (woken <-chan struct{}, done func()) {
	wt, done := w.addAll([]string{key})
	return wt.ch, done
}

// addAll registers one waiter for every key in keys; done unregisters it.
func (w *waitlist) addAll(keys []string) (*waiter, func()) {
	wt := &waiter{ch: make(chan struct{}, 1)}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting == nil {
		w.waiting = map[string]map[*waiter]bool{}
	}
	for _, key := range keys {
		if w.waiting[key] == nil {
			w.waiting[key] = map[*waiter]bool{}
		}
		w.waiting[key][wt] = true
	}
	return wt, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, key := range keys {
			delete(w.waiting[key], wt)
			if len(w.waiting[key]) == 0 {
				delete(w.waiting, key)
			}
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
		for wt := range w.waiting[k] {
			wt.mu.Lock()
			wt.heard = append(wt.heard, k)
			wt.mu.Unlock()
			select {
			case wt.ch <- struct{}{}:
			default: // already woken
			}
		}
	}
}
