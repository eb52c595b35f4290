package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/api"
	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
)

func runServe(e env, args []string) error {
	fs, c := newFlags(e, "serve")
	addr := fs.String("addr", "", "listen address (default serve.addr, :8080)")
	grpcAddr := fs.String("grpc-addr", "", "listen address of the Open Inference Protocol's gRPC service (default serve.grpc_addr; \"off\" disables it)")
	pprofAddr := fs.String("pprof", "", "serve Go's net/http/pprof profiles on this address (e.g. 127.0.0.1:6060); off by default")
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
	if *addr == "" {
		*addr = parts.cfg.Serve.Addr
	}
	if *pprofAddr != "" {
		stop, err := servePprof(*pprofAddr, parts.log)
		if err != nil {
			return err
		}
		defer stop()
	}
	started := time.Now()
	pred, metrics, flog, err := startPredictor(e, parts)
	if err != nil {
		return err
	}
	// Follow promotions; stopped before the store closes (LISTEN holds a connection).
	watchCtx, stopWatch := context.WithCancel(e.ctx)
	var background sync.WaitGroup
	// failed carries the first error of a loop that should run until
	// shutdown (a queue consumer that gave up): serve stops with it, so
	// the process's exit status says so rather than serving half a host.
	failed := make(chan error, 1)
	run := func(f func()) {
		background.Add(1)
		go func() { defer background.Done(); f() }()
	}
	runErr := func(what string, f func() error) {
		run(func() {
			if err := f(); err != nil && !errors.Is(err, context.Canceled) && watchCtx.Err() == nil {
				select {
				case failed <- fmt.Errorf("%s: %w", what, err):
				default:
				}
			}
		})
	}
	run(func() { pred.Watch(watchCtx, parts.cfg.Serve.GenerationPoll) })
	if flog != nil {
		run(func() { flog.Run(watchCtx) })
	}
	// Live quality: the report recomputed from the store for /metrics,
	// GET /v1/monitoring and the alarm.
	watcher := &monitor.Watcher{Store: parts.store, Every: parts.cfg.Monitor.Refresh, Logger: parts.log.Named("monitor"), Observe: metrics.MonitorReport,
		Ingest: ingestChecks(parts.store)}
	if url := parts.cfg.Monitor.AlarmWebhook; url != "" {
		hook := monitor.AlarmHook{URL: url, Secret: []byte(parts.cfg.Webhooks.Secret), Timeout: parts.cfg.Webhooks.Timeout, Logger: parts.log.Named("monitor")}
		watcher.Notify = func(ctx context.Context, ev monitor.AlarmEvent) { go hook.Send(ctx, ev) }
	}
	run(func() { watcher.Run(watchCtx) })
	if flog != nil && parts.cfg.Monitor.Shadow {
		run(func() { pred.WatchShadow(watchCtx, parts.cfg.Serve.GenerationPoll) })
		metrics.Shadow(func() (int, int64, int64) { s := pred.Shadow(); return s.Version, s.Computed, s.Shed })
	}

	// Async jobs: the relay hands the store's outbox to the queue, retrying while
	// the broker is down; with the in-process queue this process also works them.
	q := openQueue(parts.cfg)
	jobCache := openCache(parts.cfg)
	// Stop the background work and wait for it before anything it uses closes.
	defer func() {
		stopWatch()
		background.Wait()
		q.Close()
		jobCache.Close()
	}()
	kick := make(chan struct{}, 1)
	// Up to 1,024 pages handed and not yet published (~100,000 jobs through
	// the batch route); beyond, new jobs wait in the outbox.
	handoff := jobs.NewHandoff(1024)
	run(func() {
		jobs.Relay{Store: parts.store, Queue: q, Logger: parts.log.Named("relay"), Interval: parts.cfg.Queue.RelayInterval, Kick: kick,
			Handoff: handoff}.Run(watchCtx)
	})
	if parts.cfg.Queue.Driver == "memory" {
		runErr("job queue consumer", func() error { return q.Consume(watchCtx, worker(parts, pred, jobCache, metrics).Handle) })
	}
	// Jobs whose deliveries are spent end as failed, with a reason for the
	// client; so do jobs stuck beyond queue.max_job_age.
	reaper := jobs.Reaper{Store: parts.store, Cache: jobCache, Logger: parts.log.Named("reaper")}
	runErr("dead-letter consumer", func() error { return q.ConsumeDead(watchCtx, reaper.Handle) })
	run(func() {
		reaper.Sweep(watchCtx, parts.cfg.Queue.MaxJobAge, min(time.Minute, parts.cfg.Queue.MaxJobAge/2))
	})
	// Webhooks: ended jobs that named a callback_url are posted to it.
	var callbacks *jobs.CallbackPolicy
	if wh := parts.cfg.Webhooks; len(wh.AllowedHosts) > 0 {
		callbacks = &jobs.CallbackPolicy{AllowedHosts: wh.AllowedHosts}
		run(func() {
			jobs.Notifier{Store: parts.store, Cache: jobCache, Logger: parts.log.Named("webhooks"), Policy: callbacks, Secret: []byte(wh.Secret),
				MaxAttempts: wh.MaxAttempts, Backoff: wh.Backoff, MaxBackoff: wh.MaxBackoff, Timeout: wh.Timeout, Concurrency: wh.Concurrency,
				PollInterval: wh.PollInterval, UserAgent: "soccerpredict/" + Version}.Run(watchCtx)
		})
	}
	ln, err := api.Listen(*addr, parts.cfg.Serve.Limits.MaxConnections)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	lim := parts.cfg.Serve.Limits
	apiServer := &api.Server{Predictor: pred, Logger: parts.log, Plugins: parts.host.Statuses, Version: Version, Metrics: metrics,
		Auth: &apikey.Auth{Required: parts.cfg.Auth.Required, Keys: parts.store, CacheFor: parts.cfg.Auth.CacheFor,
			LookupTimeout: parts.cfg.Auth.LookupTimeout, StaleFor: parts.cfg.Auth.StaleFor, Logger: parts.log.Named("auth")},
		Store: parts.store, Cache: jobCache, Handoff: handoff, Kick: func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		}, MaxBodyBytes: lim.MaxBodyBytes, MaxInFlight: lim.MaxInFlight, IdempotencyWindow: parts.cfg.Queue.IdempotencyWindow,
		SubmitTimeout: parts.cfg.Queue.SubmitTimeout, Callbacks: callbacks, Monitoring: watcher, ForecastLog: flog}
	if parts.cfg.Serve.AccessLog {
		apiServer.AccessLog = parts.log.Named("access")
	}
	srv := api.HTTPServer(apiServer.Handler(), lim)
	if *grpcAddr == "" {
		*grpcAddr = parts.cfg.Serve.GRPCAddr
	}
	var grpcLn net.Listener
	if *grpcAddr != "" && *grpcAddr != "off" {
		if grpcLn, err = api.Listen(*grpcAddr, parts.cfg.Serve.Limits.MaxConnections); err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (serve.grpc_addr): %w", *grpcAddr, err)
		}
		gs, stopHealth := apiServer.GRPCServer(lim)
		defer stopHealth()
		go gs.Serve(apiServer.GRPCListener(grpcLn))
		defer func() {
			// Drain calls in flight; a health Watch stream never ends by itself.
			done := make(chan struct{})
			go func() { gs.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				gs.Stop()
			}
		}()
	}
	champ, gen, _ := pred.Champion()
	port := ln.Addr().(*net.TCPAddr).Port
	fmt.Fprintf(e.stdout, "serving %s v%d (generation %d) on %s (ready in %s)\n", champ.Name, champ.Version, gen.ID, ln.Addr(), time.Since(started).Round(time.Millisecond))
	if grpcLn != nil {
		fmt.Fprintf(e.stdout, "Open Inference Protocol gRPC on %s\n", grpcLn.Addr())
	}
	fmt.Fprint(e.stdout, "\ntry:\n")
	fmt.Fprintf(e.stdout, "  curl -s localhost:%d/v1/predictions -H 'content-type: application/json' \\\n    -d '{\"home_team\": \"Arsenal\", \"away_team\": \"Chelsea\", \"competition\": \"E0\"}'\n", port)
	fmt.Fprintf(e.stdout, "  curl -s 'localhost:%d/v1/fixtures?competition=E0&limit=3'\n", port)
	fmt.Fprintf(e.stdout, "  ./bin/soccerpredict plugins list --server http://localhost:%d    # the plugin processes\n", port)
	fmt.Fprintf(e.stdout, "  open http://localhost:%d/ in a browser    # the web page\n", port)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case err := <-failed:
		parts.log.Error("a background loop failed; stopping", "error", err)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		return err
	case <-e.ctx.Done():
	}
	parts.log.Info("shutting down: draining requests")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
