package jobs

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/cache/memcache"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// LookupMany reads what the cache holds in one round trip and the rest
// from the store: a cached view keeps its owner, a cached entry of another
// job is not taken for this one, and a job in neither is left out.
func TestLookupManyReadsTheCacheThenTheStore(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	if err := st.CreateJobs(ctx,
		store.Job{ID: "a1", Request: json.RawMessage(`{}`), Owner: "k1"},
		store.Job{ID: "b2", Request: json.RawMessage(`{}`), Owner: "k2"},
		store.Job{ID: "c3", Request: json.RawMessage(`{}`), Owner: "k3"}); err != nil {
		t.Fatal(err)
	}
	c := memcache.New(100)
	a, err := st.Job(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	a.Status = store.JobSucceeded // as the cache holds it: newer than the store's row
	CacheJobs(ctx, c, hclog.NewNullLogger(), a)
	// c3's key holds b2's view: not c3's, so c3 is read from the store.
	b, _ := st.Job(ctx, "b2")
	wrong, _ := json.Marshal(cached{View: ViewOf(b), Owner: b.Owner})
	if err := c.Set(ctx, CacheKey("c3"), wrong, time.Minute); err != nil {
		t.Fatal(err)
	}

	views, err := LookupMany(ctx, st, c, "a1", "b2", "c3", "nope")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]View{}
	for _, v := range views {
		got[v.JobID] = v
	}
	if len(views) != 3 || len(got) != 3 {
		t.Fatalf("views %+v, want a1, b2 and c3 once each", views)
	}
	if got["a1"].Status != store.JobSucceeded || got["a1"].Owner != "k1" {
		t.Errorf("a1 = %+v, want the cached succeeded view with owner k1", got["a1"])
	}
	if got["b2"].Status != store.JobQueued || got["b2"].Owner != "k2" {
		t.Errorf("b2 = %+v, want the store's queued view with owner k2", got["b2"])
	}
	if got["c3"].Owner != "k3" {
		t.Errorf("c3 = %+v, want its own view from the store", got["c3"])
	}

	// Without a cache, and with one that fails, the store answers alone.
	for name, c := range map[string]cache.Cache{"no cache": nil, "a failing cache": failingCache{c}} {
		views, err := LookupMany(ctx, st, c, "a1", "b2")
		if err != nil || len(views) != 2 {
			t.Errorf("%s: %+v, %v", name, views, err)
		}
		for _, v := range views {
			if v.Status != store.JobQueued {
				t.Errorf("%s: %s is %s, want the store's queued", name, v.JobID, v.Status)
			}
		}
	}
}

type failingCache struct{ cache.Cache }

func (failingCache) GetMany(context.Context, ...string) ([][]byte, error) {
	return nil, cache.ErrSkipped
}
