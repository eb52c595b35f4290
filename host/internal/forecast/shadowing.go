package forecast

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// WatchShadow serves the version the challenger alias names in shadow
// until ctx ends, following the alias every poll: a new challenger is
// loaded (its signature checked against the feature schema) and the old
// one retired; no challenger, or one that is the champion, is no shadow.
func (p *Predictor) WatchShadow(ctx context.Context, poll time.Duration) {
	s := &p.shadow
	s.mu.Lock()
	if s.queue == nil {
		s.queue = make(chan shadowItem, ShadowQueue)
		s.seed = maphash.MakeSeed()
	}
	s.mu.Unlock()
	go p.runShadow(ctx)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	failed := 0
	for {
		failed = p.followShadow(ctx, failed)
		select {
		case <-ctx.Done():
			p.setShadow(nil)
			return
		case <-tick.C:
		}
	}
}

// followShadow loads the challenger if it changed; failed is the version
// that failed to load last (not retried until the alias moves).
func (p *Predictor) followShadow(ctx context.Context, failed int) int {
	want := 0
	if ch, err := p.store.Alias(ctx, "challenger"); err == nil {
		want = ch.Version
	} else if !errors.Is(err, store.ErrNotFound) {
		return failed // the store is away: keep what is served
	}
	if champ, _, ok := p.Champion(); ok && champ.Version == want {
		want = 0
	}
	if cur := p.Shadow().Version; want == cur || want == failed && want != 0 {
		return failed
	}
	if want == 0 {
		p.setShadow(nil)
		return 0
	}
	g, err := p.loadAs(ctx, store.Generation{Alias: "challenger", Version: want, CacheNamespace: store.CacheNamespace(-1, want)}, fmt.Sprintf("shadow-v%d", want))
	if err != nil {
		p.logger.Error("cannot serve the challenger in shadow", "version", want, "error", err)
		p.setShadow(nil)
		return want
	}
	p.setShadow(g)
	p.logger.Info("serving the challenger in shadow", "model", g.champion.Name, "version", want)
	return 0
}

func (p *Predictor) setShadow(g *generation) {
	s := &p.shadow
	s.mu.Lock()
	old := s.gen
	s.gen = g
	s.mu.Unlock()
	if old != nil {
		go p.retire(old)
	}
}

// runShadow works the shadow queue: up to 256 rows a model call.
func (p *Predictor) runShadow(ctx context.Context) {
	s := &p.shadow
	for {
		var batch []shadowItem
		select {
		case <-ctx.Done():
			return
		case it := <-s.queue:
			batch = append(batch, it)
		}
	fill:
		for len(batch) < 256 {
			select {
			case it := <-s.queue:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		p.shadowBatch(ctx, batch)
	}
}

func (p *Predictor) shadowBatch(ctx context.Context, batch []shadowItem) {
	s := &p.shadow
	s.mu.RLock()
	g := s.gen
	s.mu.RUnlock()
	if g == nil || p.recorder == nil {
		return
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.retired {
		return
	}
	rows := make([][]float64, len(batch))
	for i, it := range batch {
		rows[i] = it.pred.Features
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	resp, err := pluginhost.ModelOf(g.model).Predict(cctx, model.PredictRequest{Rows: rows})
	cancel()
	if err != nil || len(resp.Probabilities) != len(rows) {
		s.shed.Add(int64(len(batch)))
		if err != nil && ctx.Err() == nil {
			p.logger.Warn("shadow model call failed; those forecasts are not shadowed", "version", g.champion.Version, "error", err)
		}
		return
	}
	for i, it := range batch {
		pr := resp.Probabilities[i]
		if pr.Validate() != nil {
			s.shed.Add(1)
			continue
		}
		out := it.pred
		out.Probabilities = soccer.Probabilities{Home: pr.Home, Draw: pr.Draw, Away: pr.Away}
		out.Model, out.ModelVersion, out.Generation = g.champion.Name, g.champion.Version, 0
		o := it.origin
		o.Route = "shadow"
		p.recorder.Record(o, []Prediction{out})
		s.written.Add(1)
	}
}
