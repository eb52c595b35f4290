package pgstore

import (
	"context"
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
