package memqueue

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/queue"
	"github.com/soccerpredict/soccerpredict/host/internal/queue/queuetest"
)

func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queue.Queue { return New(100) })
}

func TestAJobFailingEveryTimeIsDeadLettered(t *testing.T) {
	q := New(10)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q.Publish(ctx, "poison")
	var tries atomic.Int32
	go q.Consume(ctx, func(context.Context, string) error { tries.Add(1); return errors.New("always fails") })
	for len(q.Dead()) == 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if d := q.Dead(); len(d) != 1 || d[0] != "poison" || tries.Load() != queue.MaxDeliveries {
		t.Fatalf("dead %v after %d tries, want poison after %d", d, tries.Load(), queue.MaxDeliveries)
	}
}
