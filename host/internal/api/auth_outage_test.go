package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// outageKeys is the key store, refusing (down) or never answering (hung)
// when told to, counting its lookups.
type outageKeys struct {
	store.Keys
	down, hung atomic.Bool
	lookups    atomic.Int64
}

func (k *outageKeys) KeyByHash(ctx context.Context, hash string) (store.APIKey, error) {
	k.lookups.Add(1)
	switch {
	case k.hung.Load():
		<-ctx.Done()
		return store.APIKey{}, ctx.Err()
	case k.down.Load():
		return store.APIKey{}, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return k.Keys.KeyByHash(ctx, hash)
}

// With keys required, synchronous predictions keep answering through a
// store that refuses or hangs: a key verified before is accepted (within
// auth.stale_for), a hung lookup costs its timeout, not seconds; unknown
// keys are remembered (no query each), malformed ones never reach the
// store, and a revocation holds once the store answers again.
func TestKeysSurviveAStoreOutage(t *testing.T) {
	w := setup(t)
	keys := &outageKeys{Keys: w.store}
	srv := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(),
		Auth: &apikey.Auth{Required: true, Keys: keys, CacheFor: 50 * time.Millisecond, LookupTimeout: 100 * time.Millisecond, StaleFor: time.Hour}}).Handler())
	defer srv.Close()
	secret, id := storedKey(t, "outage", 100000, apikey.ScopePredict)
	predict := func(key string) (int, time.Duration) {
		start := time.Now()
		code, _ := testbin.Send(t, "POST", srv.URL+"/v1/predictions", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`, "Authorization", "Bearer "+key)
		return code, time.Since(start)
	}
	if code, _ := predict(secret); code != 200 {
		t.Fatalf("with the store up: %d", code)
	}
	time.Sleep(60 * time.Millisecond) // the cached check expires
	keys.down.Store(true)
	if code, _ := predict(secret); code != 200 {
		t.Fatalf("a verified key while the store refuses: %d, want 200", code)
	}
	keys.down.Store(false)
	keys.hung.Store(true)
	time.Sleep(60 * time.Millisecond)
	for range 5 {
		if code, took := predict(secret); code != 200 || took > time.Second {
			t.Fatalf("a verified key while the store hangs: %d in %v, want 200 within the lookup timeout", code, took)
		}
	}
	// A key never verified cannot be accepted while the store is away.
	other, _ := storedKey(t, "never-seen", 100, apikey.ScopePredict)
	if code, took := predict(other); code != 503 || took > time.Second {
		t.Fatalf("an unverified key while the store hangs: %d in %v, want 503 quickly", code, took)
	}
	keys.hung.Store(false)

	// Unknown keys: one query for many requests; malformed ones: none.
	made, _, _ := apikey.NewKey("made-up", []string{apikey.ScopePredict}, 10)
	before := keys.lookups.Load()
	for range 20 {
		if code, _ := predict(made); code != 401 {
			t.Fatalf("an unknown key: %d", code)
		}
	}
	for range 20 {
		if code, _ := predict("not-a-key"); code != 401 {
			t.Fatalf("a malformed key: %d", code)
		}
	}
	if n := keys.lookups.Load() - before; n != 1 {
		t.Fatalf("40 requests with unknown and malformed keys made %d store lookups, want 1", n)
	}

	// A revocation takes effect within auth.cache_for of the store answering.
	if err := w.store.RevokeKey(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if code, _ := predict(secret); code != 401 {
		t.Fatalf("a revoked key once the store answers: %d, want 401", code)
	}
}
