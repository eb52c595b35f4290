package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/pgtest"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), pgtest.Schema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReplicasStartingTogetherMigrateOnce(t *testing.T) {
	dsn := pgtest.Schema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), dsn)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestUnreachableServerIsNamed(t *testing.T) {
	_, err := Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v, want it to name the address", err)
	}
}

func TestPromotionNotifiesListeners(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Open(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ch, err := s.ListenGenerations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := s.RegisterModel(ctx, store.ModelVersion{Name: "m", Artifact: []byte("m")})
	if _, err := s.Promote(ctx, store.Promotion{Alias: store.Champion, Version: v.Version, Action: "bootstrap"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification of the new generation")
	}
	cancel() // releases the listening connection, so Close does not wait for it
	if _, open := <-ch; open {
		t.Fatal("the notification channel stays open after its context ended")
	}
}

// The relay marking pages published and workers starting and finishing
// jobs of the same pages, each with its own order of IDs, never deadlock:
// every statement that changes several jobs locks them in ID order.
func TestJobStatementsDoNotDeadlock(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 400
	all := make([]store.Job, n)
	ids := make([]string, n)
	for i := range all {
		ids[i] = fmt.Sprintf("j%04d", i)
		all[i] = store.Job{ID: ids[i], Request: json.RawMessage(`{}`)}
	}
	if err := s.CreateJobs(ctx, all...); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 40 {
				page := slices.Clone(ids[rng.IntN(n-64):][:64])
				rng.Shuffle(len(page), func(i, j int) { page[i], page[j] = page[j], page[i] })
				var err error
				switch g % 3 {
				case 0:
					if err = s.MarkPublished(ctx, page...); err == nil {
						err = s.ReleaseOutbox(ctx, page...)
					}
				case 1:
					starts := make([]store.JobStart, len(page))
					for i, id := range page {
						starts[i] = store.JobStart{ID: id}
					}
					_, err = s.StartJobs(ctx, starts...)
				case 2:
					ends := make([]store.JobEnd, len(page)/8)
					for i := range ends {
						ends[i] = store.JobEnd{ID: page[i], Result: json.RawMessage(`{}`)}
					}
					_, err = s.FinishJobs(ctx, ends...)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Prices and statistics written as objects, before the compact rows, read back.
func TestObjectsStillRead(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.ObjectsStillRead(t, s, func(id, odds, stats string) error {
		_, err := s.pool.Exec(ctx, `UPDATE matches SET odds = $1, stats = $2 WHERE id = $3`, odds, stats, id)
		return err
	})
}
