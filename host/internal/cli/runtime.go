package cli

import (
	"runtime"

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
