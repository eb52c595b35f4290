package cli

import (
	"runtime"
	"runtime/debug"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
)

// tuneRuntime sets the Go runtime of a serving process (serve, worker) from
// config unless the environment already says: GOMAXPROCS one less than the
// cores, so the plugin processes every prediction waits on always find a free
// core (on 2 cores this answers more requests, sooner, than letting the host
// take both), and a GOGC that collects less often.
func tuneRuntime(e env, s config.Serve) {
	if e.getenv("GOMAXPROCS") == "" {
		procs := s.Procs
		if procs == 0 {
			procs = max(1, runtime.NumCPU()-1)
		}
		runtime.GOMAXPROCS(procs)
	}
	if e.getenv("GOGC") == "" {
		debug.SetGCPercent(s.GCPercent)
	}
}
