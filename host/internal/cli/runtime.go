package cli

import (
	"runtime"
	"runtime/debug"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
)

// tuneRuntime sets the GOMAXPROCS of a serving process (serve, worker) from
// config unless the environment already says: one less than the CPUs the
// process may use (Go's own default, which follows a container's CPU
// limit), so the plugin processes every prediction waits on always find a
// free CPU (on 2 CPUs this answers more requests, sooner, than letting the
// host take both).
func tuneRuntime(e env, s config.Serve) {
	if e.getenv("GOMAXPROCS") == "" {
		procs := s.Procs
		if procs == 0 {
			procs = max(1, runtime.GOMAXPROCS(0)-1)
		}
		runtime.GOMAXPROCS(procs)
	}
}

// tuneGC sets the host's GOGC from config (serve.gc_percent) in every
// command, unless the environment already says: the host's live heap is
// small (a window of matches, a chunk of rows, the serving state), so
// collecting less often buys CPU for a few tens of MB. At a million matches
// it took ingest from 66-72 s to 54-60 s.
func tuneGC(e env, s config.Serve) {
	if e.getenv("GOGC") == "" {
		debug.SetGCPercent(s.GCPercent)
	}
}

// batchProcs gives the plugins of a batch command (ingest, models train,
// evaluate, the batch stages: a few long calls, not many small ones) Go's
// own GOMAXPROCS where config sets none, so a trainer's sharded fit runs on
// every CPU instead of one. serve and worker keep the plugins' default of
// 1, the fastest answer to one small call (config.Plugin.Procs).
func batchProcs(cfg *config.Config) {
	for name, p := range cfg.Plugins {
		if p.Procs == nil {
			goDefault := 0
			p.Procs = &goDefault
			cfg.Plugins[name] = p
		}
	}
}
