// Command soccerpredict is the SoccerPredict host: it loads source, feature
// and model plugins chosen by configuration and runs as ingestion job, API
// server or batch step. `soccerpredict help` lists the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	_ "time/tzdata" // ingest.timezone works in an image without /usr/share/zoneinfo

	"github.com/soccerpredict/soccerpredict/host/internal/cli"
)

func main() {
	if godebug, restart := cli.ServingGODebug(os.Args[1:], os.Environ()); restart {
		reexec(godebug)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// reexec starts this program again in this process with GODEBUG set to
// godebug (see cli.ServingGODebug); it returns only if it cannot, and the
// command then runs with the runtime as it is.
func reexec(godebug string) {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	environ := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GODEBUG=") })
	syscall.Exec(exe, os.Args, append(environ, "GODEBUG="+godebug))
}
