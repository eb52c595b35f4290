package shim

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
)

// Lazy holds a plugin implementation that exists only once the host has
// configured the plugin with its settings.
type Lazy[T any] struct {
	Kind    string
	Factory func(context.Context, plugin.Env) (T, error)

	mu   sync.RWMutex
	impl T
	ok   bool
}

// Get returns the configured implementation, or FailedPrecondition.
func (l *Lazy[T]) Get() (T, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if !l.ok {
		var zero T
		return zero, status.Error(codes.FailedPrecondition, "plugin is not configured: the host must call Configure first")
	}
	return l.impl, nil
}

// Set installs an implementation directly (in-process use and tests).
func (l *Lazy[T]) Set(impl T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.impl, l.ok = impl, true
}
