// Command soccerpredict is the SoccerPredict host: it loads source, feature
// and model plugins chosen by configuration and runs as ingestion job, API
// server or batch step. `soccerpredict help` lists the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // ingest.timezone works in an image without /usr/share/zoneinfo

	"github.com/soccerpredict/soccerpredict/host/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
