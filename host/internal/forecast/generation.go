package forecast

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"sync"

	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// cacheKey identifies what a forecast depends on besides the generation: a
// 128-bit hash of the fixture's competition, season, teams, kick-off and odds.
// It holds no pointers, so a full cache costs the garbage collector nothing.
type cacheKey [2]uint64

func (g *generation) key(f soccer.Fixture) cacheKey {
	var k cacheKey
	for i := range k {
		var h maphash.Hash
		h.SetSeed(g.seed)
		h.WriteByte(byte(i))
		for _, s := range []string{f.Competition, f.Season, f.HomeTeam, f.AwayTeam} {
			h.WriteString(s)
			h.WriteByte(0)
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(f.Kickoff.Unix()))
		h.Write(b[:])
		for _, o := range f.Odds {
			h.WriteString(o.Bookmaker)
			h.WriteByte(0)
			for _, v := range []float64{o.Home, o.Draw, o.Away} {
				binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
				h.Write(b[:])
			}
			if o.Closing {
				h.WriteByte(1)
			}
		}
		k[i] = h.Sum64()
	}
	return k
}

// cached is a fixture's cached forecast, with its goal markets when the
// model gave them.
func (g *generation) cached(f soccer.Fixture) (soccer.Probabilities, *soccer.GoalMarkets, bool) {
	if g.cacheEntries == 0 {
		return soccer.Probabilities{}, nil, false
	}
	k := g.key(f)
	g.cacheMu.Lock()
	defer g.cacheMu.Unlock()
	pr, ok := g.cache[k]
	if !ok || g.markets == nil {
		return pr, nil, ok
	}
	if mk, has := g.markets[k]; has {
		return pr, &mk, true
	}
	return pr, nil, true
}

func (g *generation) store(f soccer.Fixture, pr soccer.Probabilities, mk *soccer.GoalMarkets) {
	if g.cacheEntries == 0 {
		return
	}
	k := g.key(f)
	g.cacheMu.Lock()
	defer g.cacheMu.Unlock()
	if len(g.cache) >= g.cacheEntries {
		clear(g.cache)
		clear(g.markets)
	}
	g.cache[k] = pr
	if mk != nil {
		if g.markets == nil {
			g.markets = map[cacheKey]soccer.GoalMarkets{}
		}
		g.markets[k] = *mk
	}
}

func (g *generation) prediction(f soccer.Fixture, pr soccer.Probabilities, mk *soccer.GoalMarkets, schemaVersion string) Prediction {
	return Prediction{Fixture: f, Probabilities: pr, Markets: mk, Model: g.champion.Name, ModelVersion: g.champion.Version,
		FeatureSchemaVersion: schemaVersion, Generation: g.gen.ID}
}

// generation is one champion being served: its own model plugin process,
// its own coalescer and its own cache. Requests hold mu for reading; retiring
// takes it for writing, so a retired generation's process ends only after its
// last request, and no batch ever mixes two generations.
type generation struct {
	gen      store.Generation
	champion store.ModelVersion
	model    *pluginhost.Plugin
	batches  *coalescer

	mu      sync.RWMutex
	retired bool

	cacheMu sync.Mutex
	cache   map[cacheKey]soccer.Probabilities
	// markets holds the cached forecasts' goal markets, apart from cache so
	// that the cache of a model without them holds no pointers.
	markets      map[cacheKey]soccer.GoalMarkets
	cacheEntries int
	// hasMarkets says the champion gave goal markets when it was warmed,
	// naming scorelines likeliest scores.
	hasMarkets bool
	scorelines int
	seed       maphash.Seed
}
