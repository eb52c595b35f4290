package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/soccerpredict/soccerpredict/host/internal/api"
	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/cache/memcache"
	"github.com/soccerpredict/soccerpredict/host/internal/cache/rediscache"
	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/queue"
	"github.com/soccerpredict/soccerpredict/host/internal/queue/memqueue"
	"github.com/soccerpredict/soccerpredict/host/internal/queue/rabbitqueue"
)

func openQueue(cfg config.Config) queue.Queue {
	if cfg.Queue.Driver == "rabbitmq" {
		return rabbitqueue.New(cfg.Queue.URL, cfg.Queue.Name, cfg.Queue.Prefetch)
	}
	return memqueue.New(10000)
}

func openCache(cfg config.Config) cache.Cache {
	if cfg.Cache.Driver == "redis" {
		return rediscache.New(cfg.Cache.Addr, cfg.Cache.Prefix)
	}
	return memcache.New(100000)
}

func worker(parts predictionParts, pred *forecast.Predictor, c cache.Cache) *jobs.Worker {
	return &jobs.Worker{Store: parts.store, Predictor: pred, Cache: c, Logger: parts.log.Named("worker"),
		Render: func(p forecast.Prediction) any { return api.Render(p) }}
}

// runWorker consumes async jobs from RabbitMQ: it predicts through the same
// plugins and generations as serve, and acknowledges a job only once its
// result is in the store.
func runWorker(e env, args []string) error {
	fs, c := newFlags(e, "worker")
	if err := parse(fs, args); err != nil {
		return err
	}
	parts, err := assemble(e, c)
	if err != nil {
		return err
	}
	defer parts.Close()
	tuneRuntime(e, parts.cfg.Serve)
	if parts.cfg.Queue.Driver != "rabbitmq" {
		return errors.New("worker needs queue.driver rabbitmq; with the in-process queue, serve runs the worker itself")
	}
	q := openQueue(parts.cfg)
	defer q.Close()
	ch := openCache(parts.cfg)
	defer ch.Close()
	pred := forecast.NewPredictor(parts.store, parts.host, parts.features, parts.cfg.Model.Plugin, parts.log)
	pred.Batch(forecast.Batching{MaxBatch: parts.cfg.Serve.Batching.MaxBatch, Concurrency: parts.cfg.Serve.Batching.Concurrency})
	pred.CacheEntries(parts.cfg.Serve.CacheEntries)
	if err := pred.Start(e.ctx); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(e.ctx)
	defer stop()
	go pred.Watch(ctx, parts.cfg.Serve.GenerationPoll)
	champ, gen, _ := pred.Champion()
	fmt.Fprintf(e.stdout, "worker consuming %s with %s v%d (generation %d)\n", parts.cfg.Queue.Name, champ.Name, champ.Version, gen.ID)
	err = q.Consume(ctx, worker(parts, pred, ch).Handle)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
