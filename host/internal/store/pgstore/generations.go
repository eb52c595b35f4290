package pgstore

import (
	"context"
	"strconv"

	"github.com/soccerpredict/soccerpredict/host/internal/store/sqlstore"
)

// GenerationChannel is the NOTIFY channel a promotion signals on.
const GenerationChannel = "soccerpredict_generations"

// ListenGenerations delivers a signal whenever a promotion commits, over a
// dedicated LISTEN connection, until ctx ends (end it before Close, which
// waits for the connection). Callers still poll as a fallback: a
// notification is lost while the connection is down.
func (s *Store) ListenGenerations(ctx context.Context) (<-chan struct{}, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+GenerationChannel); err != nil {
		conn.Release()
		return nil, err
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		defer conn.Release()
		for {
			if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
				if ctx.Err() == nil {
					// The connection failed: drop it so the pool does not hand it out again.
					conn.Conn().Close(context.Background())
				}
				return
			}
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out, nil
}

// Promoted notifies the listeners of GenerationChannel, when the
// transaction commits.
func (dialect) Promoted(ctx context.Context, c sqlstore.Conn, generation int64) error {
	_, err := c.Exec(ctx, `SELECT pg_notify($1, $2)`, GenerationChannel, strconv.FormatInt(generation, 10))
	return err
}
