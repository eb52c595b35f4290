// Command soccerload is the HTTP load harness (`make bench-http`): it starts
// `soccerpredict serve` and a bare Go ceiling server, each its own process,
// drives both from this process at several client counts and prints
// throughput, latency, server CPU and memory, and each row's share of the
// ceiling. `soccerload ceiling --addr A` is the ceiling server itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/soccerpredict/soccerpredict/host/cmd/soccerload/internal/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "soccerload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "async" {
		return runAsync(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "scale" {
		fs := flag.NewFlagSet("scale", flag.ContinueOnError)
		fs.SetOutput(stderr)
		host := fs.String("host", "bin/soccerpredict", "the soccerpredict binary")
		sizes := fs.String("sizes", "10000,100000,1000000", "corpus sizes (matches), comma-separated")
		dir := fs.String("dir", "var/scale", "scratch directory for corpora and stores")
		cfg := fs.String("config", "configs/local.yaml", "the base configuration")
		stages := fs.String("stages", "", `only these stages, comma-separated (ingest,train,serve ready,evaluate; empty: all)`)
		layout := fs.String("layout", "full", "the corpus's columns: full (every column of football-data.co.uk's current files) or compact")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		var only []string
		if *stages != "" {
			for _, s := range strings.Split(*stages, ",") {
				only = append(only, strings.TrimSpace(s))
			}
		}
		var ns []int
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				return fmt.Errorf("-sizes: %q is not a number of matches", s)
			}
			ns = append(ns, n)
		}
		rows, err := loadtest.Scale(ctx, loadtest.ScaleOptions{Host: *host, Sizes: ns, Dir: *dir, Config: *cfg, Log: stderr, Stages: only,
			Layout: *layout})
		loadtest.PrintScale(stdout, rows)
		return err
	}
	if len(args) > 0 && args[0] == "faults" {
		return runFaults(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "open" {
		return runOpen(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "ceiling" {
		fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
		addr := fs.String("addr", "127.0.0.1:8090", "listen address")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return loadtest.ServeCeiling(*addr)
	}
	fs := flag.NewFlagSet("soccerload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: soccerload [flags] [-- serve flags...]\n\nflags:")
		fs.PrintDefaults()
	}
	host := fs.String("host", "bin/soccerpredict", "the soccerpredict binary to serve")
	clients := fs.String("clients", "1,16,64", "client counts, comma-separated")
	duration := fs.Duration("duration", 10*time.Second, "measured time per row, split over its rounds")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured time before each row's every round")
	rounds := fs.Int("rounds", 3, "rounds per client count: every target in turn, then again (a drifting machine slows them alike)")
	var env multi
	fs.Var(&env, "env", "KEY=VALUE added to the server's environment (repeatable)")
	procs := fs.Int("client-procs", 1, "GOMAXPROCS of this load-generating process (1 leaves the most CPU to the servers, as wrk's one thread does)")
	comps := fs.String("competitions", "E0,E1,D1,SP1,I1", "competitions whose recent team pairs make the fixtures")
	var compare multi
	fs.Var(&compare, "compare", `NAME=ARGS: also measure a serve with these extra arguments, in the same run (repeatable), e.g. -compare "log off=--set monitor.log=false"`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *rounds < 1 || *rounds > 100 {
		return fmt.Errorf("-rounds: %d is not from 1 to 100", *rounds)
	}
	o := loadtest.Options{Host: *host, Args: fs.Args(), Env: env, Self: self, Duration: *duration, Warmup: *warmup, Rounds: *rounds,
		Competitions: strings.Split(*comps, ",")}
	for _, c := range compare {
		name, args, ok := strings.Cut(c, "=")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(args) == "" {
			return fmt.Errorf("-compare: %q is not NAME=ARGS", c)
		}
		o.Variants = append(o.Variants, loadtest.Variant{Name: strings.TrimSpace(name), Args: strings.Fields(args)})
	}
	for _, c := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 512 {
			return fmt.Errorf("-clients: %q is not a number from 1 to 512", c)
		}
		o.Clients = append(o.Clients, n)
	}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Progress = stderr
	}
	rows, err := loadtest.Run(ctx, o, stdout)
	if len(rows) > 0 {
		fmt.Fprintln(stdout)
		loadtest.Table(stdout, rows)
	}
	return err
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// runFaults is `soccerload faults` (`make faults`): the fault suite.
func runFaults(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin", "directory with soccerpredict and the plugin binaries")
	data := fs.String("data", "data/football-data", "football-data directory to ingest")
	expect := fs.String("expectations", "configs/expectations/matches.json", "data contract")
	ort := fs.String("ort", "onnxruntime/libonnxruntime.so.1", "ONNX Runtime library")
	pg := os.Getenv("SOCCERPREDICT_TEST_POSTGRES")
	if pg == "" {
		pg = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	postgres := fs.String("postgres", pg, "PostgreSQL for the connection-cut scenario (empty: skip it)")
	amqp := os.Getenv("SOCCERPREDICT_TEST_RABBITMQ")
	if amqp == "" {
		amqp = "amqp://guest:guest@127.0.0.1:5672/"
	}
	amqpURL := fs.String("amqp", amqp, "RabbitMQ for the cluster scenarios (empty: skip them)")
	only := fs.String("only", "", "run only the scenarios whose name contains this")
	verbose := fs.Bool("v", false, "show the processes' logs")
	soak := fs.Duration("soak", 2*time.Minute, "how long each sustained-load scenario runs (sync, and the cluster's mixed soak)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	o := loadtest.FaultOptions{Bin: abs(*bin), Data: abs(*data), Expect: abs(*expect), ORT: abs(*ort), Postgres: *postgres, AMQP: *amqpURL,
		Soak: *soak, Progress: stderr, Only: *only}
	if *verbose {
		o.Verbose = stderr
	}
	results, err := loadtest.RunFaults(ctx, o, stdout)
	if len(results) > 0 {
		fmt.Fprintln(stdout)
		loadtest.FaultTable(stdout, results)
	}
	return err
}

// runAsync is `soccerload async` (`make bench-async`): a burst of async jobs.
func runAsync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("async", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "bin/soccerpredict", "the soccerpredict binary")
	jobs := fs.Int("jobs", 20000, "jobs in the burst")
	clients := fs.Int("clients", 64, "concurrent submitters and pollers")
	workers := fs.Int("workers", 0, "soccerpredict worker processes beside serve (queue.driver rabbitmq)")
	batch := fs.Int("batch", 1, "fixtures per submission: 1 posts /v1/predictions/async, more /v1/predictions/async/batch")
	longPoll := fs.Bool("long-poll", false, "wait for each job with GET /v1/jobs/{id}?wait= instead of polling round after round")
	stream := fs.Bool("stream", false, "wait for each submission's jobs on one event stream, GET /v1/jobs/events (with -batch: one stream per batch)")
	follow := fs.Bool("follow", false, "wait for the jobs while they are submitted, as a client listening for results: the jobs submitted so far, up to 100, on one event stream (GET /v1/jobs/events), by -clients/16 followers")
	rates := fs.String("rates", "", "open loop instead of a burst: jobs due at these rates per second, comma-separated (each POSTed on its own, then long-polled)")
	duration := fs.Duration("duration", 10*time.Second, "open loop: measured time per rate")
	warmup := fs.Duration("warmup", 2*time.Second, "open loop: unmeasured time before each rate")
	plotPath := fs.String("plot", "", "open loop: write the latency-versus-throughput plot (PNG) here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *batch < 1 || *batch > 1000 {
		return fmt.Errorf("-batch: %d is not from 1 to 1,000", *batch)
	}
	o := loadtest.AsyncOptions{Host: *host, Args: fs.Args(), Workers: *workers, Jobs: *jobs, Clients: *clients, Batch: *batch, LongPoll: *longPoll, Stream: *stream, Follow: *follow}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Progress = stderr
	}
	if *rates != "" {
		rs, err := parseRates(*rates)
		if err != nil {
			return err
		}
		results, err := loadtest.RunAsyncOpen(ctx, o, rs, *warmup, *duration, stdout)
		return openReport(stdout, results, err, *plotPath, "async submit→done, open loop")
	}
	res, err := loadtest.RunAsync(ctx, o, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Report())
	return nil
}

// parseRates reads -rates: request rates per second, comma-separated.
func parseRates(s string) ([]int, error) {
	var rs []int
	for _, r := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 1 || n > 1_000_000 {
			return nil, fmt.Errorf("-rates: %q is not a rate from 1 to 1,000,000 a second", r)
		}
		rs = append(rs, n)
	}
	return rs, nil
}

// openReport prints open-loop results as a table and, with plotPath, plots them.
func openReport(stdout io.Writer, results []loadtest.OpenResult, err error, plotPath, title string) error {
	if len(results) > 0 {
		fmt.Fprintln(stdout)
		loadtest.OpenTable(stdout, results)
		if plotPath != "" {
			if perr := loadtest.WriteLatencyPlot(plotPath, title, results); perr != nil {
				return errors.Join(err, perr)
			}
			fmt.Fprintf(stdout, "\nplot: %s\n", plotPath)
		}
	}
	return err
}

// runOpen is `soccerload open`: open-loop load at fixed rates, latency from
// each request's due time (what a closed loop hides at saturation).
func runOpen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("open", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: soccerload open [flags] [-- serve flags...]\n\nrequests at fixed rates whatever the answers; latency from when each was due\n\nflags:")
		fs.PrintDefaults()
	}
	host := fs.String("host", "bin/soccerpredict", "the soccerpredict binary to serve")
	rates := fs.String("rates", "1000,2000,4000,8000", "request rates per second, comma-separated")
	conns := fs.Int("conns", 256, "keep-alive connections the requests share (a request waits for a free one, and that wait counts)")
	duration := fs.Duration("duration", 10*time.Second, "measured time per rate")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured time before each rate")
	procs := fs.Int("client-procs", 1, "GOMAXPROCS of this load-generating process")
	comps := fs.String("competitions", "E0,E1,D1,SP1,I1", "competitions whose recent team pairs make the fixtures")
	plotPath := fs.String("plot", "", "write the latency-versus-throughput plot (PNG) here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	rs, err := parseRates(*rates)
	if err != nil {
		return err
	}
	if *conns < 1 || *conns > 4096 {
		return fmt.Errorf("-conns: %d is not from 1 to 4,096", *conns)
	}
	o := loadtest.Options{Host: *host, Args: fs.Args(), Duration: *duration, Warmup: *warmup, Competitions: strings.Split(*comps, ",")}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Progress = stderr
	}
	results, err := loadtest.RunOpen(ctx, o, rs, *conns, stdout)
	return openReport(stdout, results, err, *plotPath, "synchronous predictions, open loop (uncached)")
}
