package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/cache/memcache"
	"github.com/soccerpredict/soccerpredict/host/internal/cache/rediscache"
	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/forecastlog"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/queue"
	"github.com/soccerpredict/soccerpredict/host/internal/queue/memqueue"
	"github.com/soccerpredict/soccerpredict/host/internal/queue/rabbitqueue"
	"github.com/soccerpredict/soccerpredict/host/internal/telemetry"
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

func worker(parts predictionParts, pred *forecast.Predictor, c cache.Cache, m *telemetry.Metrics) *jobs.Worker {
	return &jobs.Worker{Store: parts.store, Predictor: pred, Cache: c, Logger: parts.log.Named("worker"), Metrics: m}
}

// workerProbes serves a worker's /healthz, /readyz (not ready while it
// waits for a dependency, naming it, or while the predictor is not ready)
// and /metrics on addr until ctx ends; done is closed once the server has
// stopped.
func workerProbes(ctx context.Context, addr string, w *jobs.Worker, pred *forecast.Predictor, m *telemetry.Metrics) (at net.Addr, done <-chan struct{}, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s (worker --addr): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, r *http.Request) { fmt.Fprintln(rw, `{"status":"ok"}`) })
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		if dep, reason := w.Waiting(); dep != "" {
			rw.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(rw).Encode(map[string]string{"status": "waiting", "dependency": dep, "error": reason.Error()})
			return
		}
		rctx, cancel := context.WithTimeout(r.Context(), 900*time.Millisecond)
		defer cancel()
		if err := pred.Ready(rctx); err != nil {
			rw.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(rw).Encode(map[string]string{"status": "not ready", "error": err.Error()})
			return
		}
		json.NewEncoder(rw).Encode(map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	stopped := make(chan struct{})
	go func() { srv.Serve(ln); close(stopped) }()
	go func() { <-ctx.Done(); srv.Close() }()
	return ln.Addr(), stopped, nil
}

// runWorker consumes async jobs from RabbitMQ: it predicts through the same
// plugins and generations as serve, and acknowledges a job only once its
// result is in the store.
func runWorker(e env, args []string) error {
	fs, c := newFlags(e, "worker")
	addr := fs.String("addr", "", "serve /healthz, /readyz and /metrics on this address (e.g. :9090); off by default")
	if err := parse(fs, args); err != nil {
		return err
	}
	c.serving = true // its plugins keep the latency default of one thread
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
	pred, metrics, flog, err := startPredictor(e, parts)
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(e.ctx)
	defer stop()
	watched := make(chan struct{})
	go func() { pred.Watch(ctx, parts.cfg.Serve.GenerationPoll); close(watched) }()
	defer func() { stop(); <-watched }() // joined: nothing of it outlives the worker
	if flog != nil {
		logged := make(chan struct{})
		go func() { flog.Run(ctx); close(logged) }()
		defer func() { stop(); <-logged }() // written before the store closes
	}
	w := worker(parts, pred, ch, metrics)
	if *addr != "" {
		at, probed, err := workerProbes(ctx, *addr, w, pred, metrics)
		if err != nil {
			return err
		}
		defer func() { stop(); <-probed }() // the probes stop with the worker
		fmt.Fprintf(e.stdout, "worker probes and metrics on %s\n", at)
	}
	champ, gen, _ := pred.Champion()
	fmt.Fprintf(e.stdout, "worker consuming %s with %s v%d (generation %d)\n", parts.cfg.Queue.Name, champ.Name, champ.Version, gen.ID)
	err = q.Consume(ctx, w.Handle)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// startPredictor assembles and starts what serve and worker predict with,
// alike: the predictor with its metrics, batching, cache and forecast log
// (nil when monitor.log is off; the caller runs it).
func startPredictor(e env, parts predictionParts) (*forecast.Predictor, *telemetry.Metrics, *forecastlog.Log, error) {
	metrics := telemetry.New()
	metrics.Build(Version, commit())
	parts.host.Observe(metrics)
	pred := forecast.NewPredictor(parts.store, parts.host, parts.features, parts.cfg.Model.Plugin, parts.log)
	pred.Observe(metrics)
	flog := openForecastLog(parts, metrics)
	if flog != nil {
		pred.Record(flog)
	}
	pred.Batch(forecast.Batching{MaxBatch: parts.cfg.Serve.Batching.MaxBatch, Concurrency: parts.cfg.Serve.Batching.Concurrency})
	pred.CacheEntries(parts.cfg.Serve.CacheEntries)
	if err := pred.Start(e.ctx); err != nil {
		return nil, nil, nil, err
	}
	return pred, metrics, flog, nil
}

// openForecastLog is the forecast log monitor.* configures, writing to the
// store; nil when monitor.log is off. Run it (or Flush it) to write.
func openForecastLog(parts predictionParts, m *telemetry.Metrics) *forecastlog.Log {
	mc := parts.cfg.Monitor
	if !mc.Log {
		return nil
	}
	o := forecastlog.Options{Buffer: mc.Buffer, Batch: mc.Batch, Interval: mc.Interval, Retention: mc.Retention, Logger: parts.log.Named("forecast-log")}
	if m != nil {
		o.Metrics = m
	}
	return forecastlog.New(parts.store, o)
}
