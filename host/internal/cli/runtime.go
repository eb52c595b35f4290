package cli

import (
	"runtime"
	"strings"

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

// ServingGODebug says whether a command should be started again with
// GODEBUG set to godebug before it does anything: serve and worker, whose
// processes wait between small calls, run with KeepSysmonAwake, unless
// GODEBUG already names schedtrace (GODEBUG=schedtrace=0 keeps Go's
// default). A runtime setting is read once, as the process starts, so main
// re-executes itself with it.
func ServingGODebug(args, environ []string) (godebug string, restart bool) {
	if len(args) == 0 || (args[0] != "serve" && args[0] != "worker") {
		return "", false
	}
	current := env{environ: environ}.getenv("GODEBUG")
	for _, kv := range strings.Split(current, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "schedtrace=") {
			return "", false
		}
	}
	if current == "" {
		return KeepSysmonAwake, true
	}
	return current + "," + KeepSysmonAwake, true
}
