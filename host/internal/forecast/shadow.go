package forecast

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
)

// A shadow is a registered version (the challenger alias) served beside
// the champion without answering anyone: every forecast the champion
// computes hands its feature row to a bounded queue, and one goroutine
// runs the queued rows through the shadow's own model process in batches
// and logs the answers under the shadow's version, route "shadow". The
// caller never waits for it; when the queue is full the row is shed and
// counted, so under load the shadow loses work before anyone else does.
// Answers from the champion's cache carry no row and are not shadowed:
// the shadow saw the same fixture when the champion first computed it; nor
// is a fixture whose feature row the shadow was handed already (the same
// row, the same answer).
type shadowState struct {
	mu      sync.RWMutex
	gen     *generation
	queue   chan shadowItem
	shed    atomic.Int64
	written atomic.Int64

	// seen holds the fixtures and feature rows the shadow was handed
	// lately: the same row gives the shadow the same answer, which the
	// log would only count again, so it is not computed twice.
	seenMu sync.Mutex
	seen   map[shadowKey]struct{}
	seed   maphash.Seed
}

type shadowKey struct {
	competition, season, home, away string
	features                        uint64
}

// shadowSeen bounds the shadow's memory of rows it was handed; it forgets
// all of them when full (a row seen again then is computed again).
const shadowSeen = 1 << 16

type shadowItem struct {
	origin Origin
	pred   Prediction
}

// ShadowQueue bounds the forecasts waiting for the shadow.
const ShadowQueue = 4096

// ShadowStats are the shadow's counts.
type ShadowStats struct {
	Version  int   // 0: no shadow
	Computed int64 // forecasts the shadow made and logged
	Shed     int64 // forecasts not shadowed because its queue was full
}

// stats are the shadow version and its counts.
func (s *shadowState) stats() ShadowStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := ShadowStats{Computed: s.written.Load(), Shed: s.shed.Load()}
	if s.gen != nil {
		st.Version = s.gen.champion.Version
	}
	return st
}

// offer queues the computed forecasts of preds for the shadow; it never
// blocks.
func (s *shadowState) offer(o Origin, preds []Prediction) {
	s.mu.RLock()
	g := s.gen
	s.mu.RUnlock()
	if g == nil {
		return
	}
	for _, pr := range preds {
		if pr.Features == nil || pr.ModelVersion == g.champion.Version || s.handed(pr) {
			continue
		}
		select {
		case s.queue <- shadowItem{origin: o, pred: pr}:
		default:
			s.shed.Add(1)
		}
	}
}

// handed reports whether the shadow was handed this fixture with this
// feature row already, and remembers it if not.
func (s *shadowState) handed(pr Prediction) bool {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var b [8]byte
	for _, v := range pr.Features {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	f := pr.Fixture
	k := shadowKey{f.Competition, f.Season, f.HomeTeam, f.AwayTeam, h.Sum64()}
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	if _, ok := s.seen[k]; ok {
		return true
	}
	if s.seen == nil || len(s.seen) >= shadowSeen {
		s.seen = make(map[shadowKey]struct{}, 1024)
	}
	s.seen[k] = struct{}{}
	return false
}
