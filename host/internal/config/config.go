// Package config reads the host's configuration once, in layers (built-in
// defaults, then YAML files, then SOCCERPREDICT_ environment variables, then
// --set flags), into one typed, validated Config that is passed by value.
package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
)

// EnvPrefix starts every environment variable the host reads. A double
// underscore separates levels: SOCCERPREDICT_STORE__DSN sets store.dsn.
const EnvPrefix = "SOCCERPREDICT_"

// Config is the whole host configuration.
type Config struct {
	// DataDir holds the embedded store, validation results and artifacts.
	DataDir string `koanf:"data_dir"`
	Log     Log    `koanf:"log"`
	Store   Store  `koanf:"store"`
	// Plugins are the plugin binaries the host may launch, by name.
	Plugins map[string]Plugin `koanf:"plugins"`
	// Sources say which source plugins ingestion runs, and what they fetch.
	Sources []Source `koanf:"sources"`
	Ingest  Ingest   `koanf:"ingest"`
	// Features and Model choose the plugins that make predictions.
	Features Features `koanf:"features"`
	Model    Model    `koanf:"model"`
	Serve    Serve    `koanf:"serve"`
	Evaluate Evaluate `koanf:"evaluate"`
	// Promotion gates `models promote`; its backtest runs on the evaluate seasons.
	Promotion Promotion `koanf:"promotion"`
	Auth      Auth      `koanf:"auth"`
	Queue     Queue     `koanf:"queue"`
	Cache     Cache     `koanf:"cache"`
	Webhooks  Webhooks  `koanf:"webhooks"`
	Monitor   Monitor   `koanf:"monitor"`
	// Tracing exports OpenTelemetry traces over OTLP/gRPC; off unless
	// tracing.endpoint is set.
	Tracing tracing.Config `koanf:"tracing"`
}

// Monitor is live quality: the forecast log, and how it is scored.
type Monitor struct {
	// Log records every forecast served (serve, worker, batch predict);
	// off, nothing is recorded and nothing can be scored.
	Log bool `koanf:"log"`
	// Buffer bounds the forecasts held in memory waiting to be written;
	// when it is full the overflow is counted (metric and monitor report)
	// and not kept. Batch bounds one write; Interval is the longest a
	// forecast waits for its write.
	Buffer   int           `koanf:"buffer"`
	Batch    int           `koanf:"batch"`
	Interval time.Duration `koanf:"interval"`
	// Retention is how long a logged forecast is kept after it was last
	// served; 0 keeps every one.
	Retention time.Duration `koanf:"retention"`
	// Refresh is how often serve recomputes the monitor's figures for
	// /metrics and the alarm.
	Refresh time.Duration `koanf:"refresh"`
	// AlarmWebhook, when set, is posted a signed event (the webhooks.secret
	// signs it, as it signs job callbacks) when a version's live-quality
	// alarm is raised.
	AlarmWebhook string `koanf:"alarm_webhook"`
	// Shadow serves the version the challenger alias names in shadow:
	// computed off the request path for every forecast the champion
	// computes, logged under its own version and scored beside it.
	Shadow bool `koanf:"shadow"`
}

// Webhooks post a finished job to the callback_url its caller gave.
type Webhooks struct {
	// AllowedHosts are the hosts a callback_url may name: "hooks.example.com"
	// (that host, any port), "hooks.example.com:8443" (that port only) or
	// "*.example.com" (any subdomain). Empty turns callbacks off: a job that
	// asks for one is refused with 400.
	AllowedHosts []string `koanf:"allowed_hosts"`
	// Secret keys the HMAC-SHA256 signature of every delivery; required
	// when AllowedHosts is set (give it in SOCCERPREDICT_WEBHOOKS__SECRET).
	Secret string `koanf:"secret"`
	// MaxAttempts bounds the deliveries of one result; Backoff is the wait
	// before the second, doubled for each one after, up to MaxBackoff.
	MaxAttempts int           `koanf:"max_attempts"`
	Backoff     time.Duration `koanf:"backoff"`
	MaxBackoff  time.Duration `koanf:"max_backoff"`
	// Timeout bounds one delivery; Concurrency bounds deliveries in flight,
	// so a slow receiver holds one slot and never the others.
	Timeout     time.Duration `koanf:"timeout"`
	Concurrency int           `koanf:"concurrency"`
	// PollInterval is how often serve looks for callbacks that are due.
	PollInterval time.Duration `koanf:"poll_interval"`
}

// Queue carries async prediction jobs to workers.
type Queue struct {
	// Driver is "memory" (serve runs the worker itself; the embedded default)
	// or "rabbitmq" (separate `soccerpredict worker` processes).
	Driver string `koanf:"driver"`
	URL    string `koanf:"url"`
	Name   string `koanf:"name"`
	// Prefetch is how many jobs a RabbitMQ worker works at once (default
	// 512). Jobs published together share messages of up to 16, and a
	// worker holds up to max(4, 2 × Prefetch / 16) messages, so that the
	// next jobs are at hand as the current ones end. A job's time in a
	// worker is mostly waiting on round trips (its start and end
	// statements, the cache, the plugins), so a worker's rate is about
	// Prefetch over that time. With two workers on 2 CPUs a 20,000-job
	// burst left a third of the CPUs idle at 128 once each job cost three
	// statements instead of five; 512 took 4,479–6,890 jobs/s against
	// 3,872–6,102 at 128, run alternately (2026-12-07).
	Prefetch int `koanf:"prefetch"`
	// MaxJobAge fails a job still queued or running this long after its last
	// change (serve sweeps every minute, or every half of it when shorter):
	// it bounds how long a worker waits for a model that does not come back.
	MaxJobAge time.Duration `koanf:"max_job_age"`
	// IdempotencyWindow is how long an Idempotency-Key stays bound to its job.
	IdempotencyWindow time.Duration `koanf:"idempotency_window"`
	// RelayInterval is how often serve retries handing outbox jobs to the queue.
	RelayInterval time.Duration `koanf:"relay_interval"`
	// SubmitTimeout bounds recording a submission in the store: a store that
	// does not answer within it makes the submission a 503 with Retry-After
	// (nothing queued), not a request that hangs as long as the store does.
	SubmitTimeout time.Duration `koanf:"submit_timeout"`
}

// Cache holds finished job results for polling.
type Cache struct {
	// Driver is "memory" (the embedded default) or "redis".
	Driver string `koanf:"driver"`
	Addr   string `koanf:"addr"`
	Prefix string `koanf:"prefix"`
}

// Auth configures API keys on the HTTP API.
type Auth struct {
	// Required turns key checks on (production); the embedded default is open.
	Required bool `koanf:"required"`
	// CacheFor is how long a checked key is trusted; a revocation takes effect within it.
	CacheFor time.Duration `koanf:"cache_for"`
	// LookupTimeout bounds one key lookup in the store; StaleFor is how
	// long a key verified before stays accepted while the store cannot
	// answer (a revocation made meanwhile takes effect within CacheFor of
	// the store answering again).
	LookupTimeout time.Duration `koanf:"lookup_timeout"`
	StaleFor      time.Duration `koanf:"stale_for"`
}

// Features selects the feature plugin.
type Features struct {
	Plugin string `koanf:"plugin"`
}

// Model selects the model plugin and how it trains.
type Model struct {
	Plugin string `koanf:"plugin"`
	// Params are the model plugin's training hyper-parameters. After Load
	// they also hold FeatureParams' entry for the selected feature plugin.
	Params map[string]any `koanf:"params"`
	// FeatureParams are hyper-parameters that apply only with one feature
	// plugin, by its name: those naming its columns (offsets, penalty
	// groups). Load merges the selected plugin's under Params (a key set
	// in both keeps Params' value), so swapping the feature plugin is the
	// one line features.plugin, and another plugin's columns never reach
	// the trainer.
	FeatureParams map[string]map[string]any `koanf:"feature_params"`
	Seed          int64                     `koanf:"seed"`
}

// Serve configures the HTTP API.
type Serve struct {
	Addr string `koanf:"addr"`
	// AccessLog logs one line per HTTP request (request ID, route, status,
	// duration, the API key's name); on in configs/production.yaml.
	AccessLog bool `koanf:"access_log"`
	// GRPCAddr is where the Open Inference Protocol's gRPC service listens
	// ("" leaves it off; the shipped configs use :8081).
	GRPCAddr string `koanf:"grpc_addr"`
	// GenerationPoll is how often serve checks for a new generation (PostgreSQL also notifies at once).
	GenerationPoll time.Duration `koanf:"generation_poll"`
	// Batching coalesces concurrent predictions into shared plugin calls
	// (serve and worker alike).
	Batching Batching `koanf:"batching"`
	// Procs is the host's GOMAXPROCS in serve and worker (0: one less than Go's
	// default, which follows a container's CPU limit, at least 1, leaving a CPU
	// to the plugin processes the host waits on; GOMAXPROCS in the environment
	// wins).
	Procs int `koanf:"procs"`
	// Limits bound what one client can hold or send.
	Limits HTTPLimits `koanf:"limits"`
	// CacheEntries bounds each generation's in-process prediction cache (0: off).
	CacheEntries int `koanf:"cache_entries"`
	// GCPercent is the host's GOGC in every command, serve, worker, ingest
	// and training alike (GOGC in the environment wins): the host's heap is
	// small, so collecting less often buys CPU for a few tens of MB. Under
	// the batch commands, source and feature plugins get it too (see
	// Plugin.GCPercent).
	GCPercent int `koanf:"gc_percent"`
}

// HTTPLimits are the HTTP server's bounds. A connection that sends its
// headers or body too slowly, or idles between requests, is closed; a body
// over MaxBodyBytes is a 413; beyond MaxInFlight requests at once, new ones
// are shed with 503 and Retry-After instead of queueing without bound.
type HTTPLimits struct {
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	WriteTimeout      time.Duration `koanf:"write_timeout"`
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
	MaxHeaderBytes    int           `koanf:"max_header_bytes"`
	MaxBodyBytes      int64         `koanf:"max_body_bytes"`
	MaxInFlight       int           `koanf:"max_in_flight"`
	// MaxConnections bounds the open connections of each listener (HTTP,
	// and the OIP gRPC service): beyond it new ones wait in the kernel's
	// backlog, so idle or slow clients can exhaust neither the process's
	// file descriptors nor the other listener.
	MaxConnections int `koanf:"max_connections"`
}

// Batching bounds how concurrent predictions share plugin calls: a request
// never waits for company; requests queue only while Concurrency batches are
// in flight, and the next batch takes an even share of the load (what is
// queued and in flight, over Concurrency), at most MaxBatch of them.
type Batching struct {
	MaxBatch    int `koanf:"max_batch"`
	Concurrency int `koanf:"concurrency"`
}

// Promotion is the gate a challenger must pass to become champion.
type Promotion struct {
	MinRPSGain     float64 `koanf:"min_rps_gain"`
	MinLogLossGain float64 `koanf:"min_log_loss_gain"`
	MaxECEIncrease float64 `koanf:"max_ece_increase"`
	// LiveMinMatches, when above 0, also requires live evidence: the
	// challenger scored (in shadow) on at least this many of the same
	// matches as the champion, with the upper end of the 95% interval of
	// its paired log-loss difference below zero.
	LiveMinMatches int `koanf:"live_min_matches"`
}

// Evaluate configures the walk-forward evaluation.
type Evaluate struct {
	// Competition and TestSeasons are the backtest `models promote` gates on
	// (and `evaluate` without leagues).
	Competition string   `koanf:"competition"`
	TestSeasons []string `koanf:"test_seasons"`
	// Leagues, when set, are what `evaluate` reports: each competition on
	// its own test seasons, and all their matches pooled.
	Leagues []League `koanf:"leagues"`
}

// League is one competition's test seasons.
type League struct {
	Competition string   `koanf:"competition"`
	TestSeasons []string `koanf:"test_seasons"`
}

// Log configures go-hclog.
type Log struct {
	Level string `koanf:"level"`
	// Format is "json", "text" or "auto" (JSON unless stderr is a terminal).
	Format string `koanf:"format"`
}

// Store selects the match store.
type Store struct {
	// Driver is "sqlite" (embedded default) or "postgres".
	Driver string `koanf:"driver"`
	// DSN is a file path for sqlite (default {data_dir}/soccerpredict.db) or a
	// PostgreSQL connection URL.
	DSN string `koanf:"dsn"`
}

// Plugin is one plugin binary.
type Plugin struct {
	// Kind is "source", "features" or "model".
	Kind string `koanf:"kind"`
	Path string `koanf:"path"`
	// SHA256 pins the binary's digest. SHA256File instead names a file in
	// sha256sum's format holding it (what `make build` writes beside each
	// plugin); one of the two is required, and SHA256 wins when both are set
	// (so production can pin a digest over a shared config file).
	SHA256     string `koanf:"sha256"`
	SHA256File string `koanf:"sha256_file"`
	// Timeout bounds each call on a request's path (describe, schema,
	// compute, predict; default 5s): a plugin that lets it pass is killed and
	// relaunched, and the request is a 503. LongTimeout bounds the calls that
	// carry history or train (fetch, observe, snapshot, restore, load, train;
	// default 10m). StartTimeout bounds launch and handshake (default 20s).
	Timeout      time.Duration `koanf:"timeout"`
	LongTimeout  time.Duration `koanf:"long_timeout"`
	StartTimeout time.Duration `koanf:"start_timeout"`
	// Procs is the plugin process's GOMAXPROCS. Unset, it is 1 under serve
	// and worker (a plugin serves one batch at a time, and a single-threaded
	// Go runtime answers a local call without waking a second thread) and
	// Go's default under the batch commands (ingest, models train, evaluate,
	// batch …), where a trainer's fit uses every CPU. 0 leaves Go's default.
	Procs *int `koanf:"procs"`
	// GCPercent is the plugin process's GOGC. Unset, it is Go's default,
	// except under the batch commands, where a source or feature plugin —
	// a small live heap streaming a million matches through — gets the
	// host's serve.gc_percent. A model plugin keeps Go's default there: a
	// trainer holds its training set.
	GCPercent *int `koanf:"gc_percent"`
	// GODebug is added to the plugin process's GODEBUG (after any the
	// environment lets through). Unset, it is schedtrace=2147483647 under serve
	// and worker (Go's system monitor stays out of its idle sleep, so the
	// first system call after each wait does not wake it: see
	// docs/benchmarks.md) and nothing under the batch commands; "" adds
	// nothing.
	GODebug *string `koanf:"godebug"`
	// Config is handed to the plugin as its own settings.
	Config map[string]any `koanf:"config"`
	// Env names more of the host's environment variables the plugin
	// process gets (e.g. HTTPS_PROXY). A plugin starts with a minimal
	// environment (pluginhost.BaseEnv), never the host's secrets.
	Env []string `koanf:"env"`
}

// Source is one source plugin run by ingestion.
type Source struct {
	Plugin       string   `koanf:"plugin"`
	Competitions []string `koanf:"competitions"`
	Seasons      []string `koanf:"seasons"`
}

// Ingest configures ingestion.
type Ingest struct {
	// Expectations is the data contract, a Great Expectations suite (JSON).
	Expectations string `koanf:"expectations"`
	// Schedule are cron expressions (minute hour day-of-month month
	// day-of-week, or @daily, @every 6h) on which `ingest --schedule` runs,
	// for a single-binary deployment; the Helm chart uses CronJobs instead.
	Schedule []string `koanf:"schedule"`
	// Timezone the schedule is read in (an IANA name; default UTC).
	Timezone string `koanf:"timezone"`
}

// CronParser reads ingest.schedule: five fields or a descriptor.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// notKeys are SOCCERPREDICT_ variables that are not config keys: the config
// files, the audit actor, the CLI's API key, the commit recorded with runs, the test database.
var notKeys = []string{"config", "actor", "api_key", "git_commit", "test_postgres", "test_rabbitmq", "test_redis"}

// Defaults are the embedded defaults: everything local, nothing to install.
func Defaults() map[string]any {
	return map[string]any{
		"data_dir":                         "var",
		"log.level":                        "info",
		"log.format":                       "auto",
		"store.driver":                     "sqlite",
		"ingest.expectations":              "configs/expectations/matches.json",
		"serve.addr":                       ":8080",
		"queue.driver":                     "memory",
		"queue.url":                        "amqp://guest:guest@127.0.0.1:5672/",
		"queue.name":                       "soccerpredict.jobs",
		"queue.prefetch":                   512,
		"queue.relay_interval":             "500ms",
		"queue.idempotency_window":         "24h",
		"queue.submit_timeout":             "2s",
		"queue.max_job_age":                "15m",
		"webhooks.max_attempts":            8,
		"webhooks.backoff":                 "2s",
		"webhooks.max_backoff":             "10m",
		"webhooks.timeout":                 "5s",
		"webhooks.concurrency":             16,
		"webhooks.poll_interval":           "500ms",
		"monitor.log":                      true,
		"tracing.sample_ratio":             1.0,
		"monitor.buffer":                   65536,
		"monitor.batch":                    16384,
		"monitor.interval":                 "1s",
		"monitor.retention":                "8760h",
		"monitor.refresh":                  "1m",
		"monitor.shadow":                   true,
		"promotion.live_min_matches":       0,
		"cache.driver":                     "memory",
		"cache.addr":                       "127.0.0.1:6379",
		"cache.prefix":                     "soccerpredict:",
		"auth.required":                    false,
		"auth.cache_for":                   "10s",
		"auth.lookup_timeout":              "300ms",
		"auth.stale_for":                   "1h",
		"serve.generation_poll":            "1s",
		"serve.batching.max_batch":         128,
		"serve.batching.concurrency":       2,
		"serve.procs":                      0,
		"serve.access_log":                 false,
		"serve.gc_percent":                 400,
		"serve.cache_entries":              50000,
		"serve.limits.read_header_timeout": "5s",
		"serve.limits.read_timeout":        "15s",
		"serve.limits.write_timeout":       "30s",
		"serve.limits.idle_timeout":        "60s",
		"serve.limits.max_header_bytes":    16384,
		"serve.limits.max_body_bytes":      1048576,
		"serve.limits.max_in_flight":       2048,
		"serve.limits.max_connections":     4096,
		"promotion.min_rps_gain":           0.0005,
		"promotion.min_log_loss_gain":      0.001,
		"promotion.max_ece_increase":       0.01,
		"evaluate.competition":             "E0",
		"evaluate.test_seasons":            []string{"2223", "2324"},
	}
}

func (c *Config) applyDefaults() {
	if fp := c.Model.FeatureParams[c.Features.Plugin]; len(fp) > 0 {
		merged := maps.Clone(fp)
		maps.Copy(merged, c.Model.Params)
		c.Model.Params = merged
	}
	if c.Store.Driver == "sqlite" && c.Store.DSN == "" {
		c.Store.DSN = c.DataDir + "/soccerpredict.db"
	}
	for name, p := range c.Plugins {
		if p.Timeout == 0 {
			p.Timeout = 5 * time.Second
		}
		if p.LongTimeout == 0 {
			p.LongTimeout = 10 * time.Minute
		}
		if p.StartTimeout == 0 {
			p.StartTimeout = 20 * time.Second
		}
		c.Plugins[name] = p
	}
}

// Kinds are the plugin kinds the host knows.
var Kinds = []string{"source", "features", "model"}

// Validate reports every problem at once, each naming its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		bad("data_dir: must be set")
	}
	if err := c.Tracing.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains([]string{"trace", "debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level: %q is not one of trace, debug, info, warn, error", c.Log.Level)
	}
	if !slices.Contains([]string{"auto", "json", "text"}, c.Log.Format) {
		bad("log.format: %q is not one of auto, json, text", c.Log.Format)
	}
	for i, l := range c.Evaluate.Leagues {
		if l.Competition == "" || len(l.TestSeasons) == 0 {
			bad("evaluate.leagues[%d]: needs competition and test_seasons", i)
		}
	}
	for i, spec := range c.Ingest.Schedule {
		if _, err := CronParser.Parse(spec); err != nil {
			bad("ingest.schedule[%d]: %q is not a cron expression (minute hour day-of-month month day-of-week, e.g. \"0 6 * * *\", or @daily, @every 6h): %v", i, spec, err)
		}
	}
	if c.Ingest.Timezone != "" {
		if _, err := time.LoadLocation(c.Ingest.Timezone); err != nil {
			bad("ingest.timezone: %q is not a time zone name such as Europe/London", c.Ingest.Timezone)
		}
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Store.DSN == "" {
			bad("store.dsn: required for the postgres driver (e.g. postgres://user@host:5432/db)")
		}
	default:
		bad("store.driver: %q is not sqlite or postgres", c.Store.Driver)
	}
	for name, p := range c.Plugins {
		if !slices.Contains(Kinds, p.Kind) {
			bad("plugins.%s.kind: %q is not one of %s", name, p.Kind, strings.Join(Kinds, ", "))
		}
		if p.Path == "" {
			bad("plugins.%s.path: must name the plugin binary", name)
		}
		if p.SHA256 == "" && p.SHA256File == "" {
			bad("plugins.%s: set sha256 (or sha256_file), so the host can verify the binary", name)
		}
		if p.SHA256 != "" && !isHexDigest(p.SHA256) {
			bad("plugins.%s.sha256: %q is not 64 hex digits", name, p.SHA256)
		}
		if p.Procs != nil && (*p.Procs < 0 || *p.Procs > 1024) {
			bad("plugins.%s.procs: %d is not from 0 (Go's default) to 1024", name, *p.Procs)
		}
		if p.GCPercent != nil && (*p.GCPercent < 10 || *p.GCPercent > 10000) {
			bad("plugins.%s.gc_percent: %d is not from 10 to 10000", name, *p.GCPercent)
		}
		if p.Timeout < 0 || p.LongTimeout < 0 || p.StartTimeout < 0 {
			bad("plugins.%s: timeouts must be positive", name)
		}
	}
	for i, s := range c.Sources {
		p, ok := c.Plugins[s.Plugin]
		switch {
		case !ok:
			bad("sources[%d].plugin: %q is not a configured plugin", i, s.Plugin)
		case p.Kind != "source":
			bad("sources[%d].plugin: %q is a %s plugin, not a source", i, s.Plugin, p.Kind)
		}
	}
	if !slices.Contains([]string{"memory", "rabbitmq"}, c.Queue.Driver) {
		bad("queue.driver: %q is not memory or rabbitmq", c.Queue.Driver)
	}
	if c.Queue.MaxJobAge < 10*time.Second {
		bad("queue.max_job_age: %v is shorter than 10s", c.Queue.MaxJobAge)
	}
	if c.Queue.SubmitTimeout <= 0 {
		bad("queue.submit_timeout: %v is not a positive duration", c.Queue.SubmitTimeout)
	}
	if c.Queue.RelayInterval <= 0 {
		bad("queue.relay_interval: %v is not a positive duration", c.Queue.RelayInterval)
	}
	if w := c.Webhooks; len(w.AllowedHosts) > 0 && len(w.Secret) < 16 {
		bad("webhooks.secret: at least 16 characters are needed to sign deliveries to webhooks.allowed_hosts (set SOCCERPREDICT_WEBHOOKS__SECRET)")
	}
	for i, h := range c.Webhooks.AllowedHosts {
		if msg := badHostPattern(h); msg != "" {
			bad("webhooks.allowed_hosts[%d]: %q %s", i, h, msg)
		}
	}
	if w := c.Webhooks; w.MaxAttempts < 1 || w.MaxAttempts > 100 || w.Concurrency < 1 || w.Concurrency > 1024 {
		bad("webhooks: max_attempts must be from 1 to 100 and concurrency from 1 to 1024")
	}
	if w := c.Webhooks; w.Backoff <= 0 || w.MaxBackoff < w.Backoff || w.Timeout <= 0 || w.PollInterval <= 0 {
		bad("webhooks: backoff, timeout and poll_interval must be positive durations, and max_backoff at least backoff")
	}
	if a := c.Auth; a.LookupTimeout <= 0 || a.StaleFor < 0 || a.CacheFor <= 0 {
		bad("auth: cache_for and lookup_timeout must be positive durations and stale_for not negative")
	}
	if m := c.Monitor; m.Buffer < 1 || m.Batch < 1 || m.Batch > m.Buffer {
		bad("monitor: buffer must be at least 1 and batch from 1 to buffer (buffer %d, batch %d)", m.Buffer, m.Batch)
	}
	if m := c.Monitor; m.AlarmWebhook != "" && len(c.Webhooks.Secret) < 16 {
		bad("monitor.alarm_webhook: alarm events are signed with webhooks.secret; set one of at least 16 characters (SOCCERPREDICT_WEBHOOKS__SECRET)")
	}
	if m := c.Monitor; m.AlarmWebhook != "" && !strings.HasPrefix(m.AlarmWebhook, "https://") && !strings.HasPrefix(m.AlarmWebhook, "http://") {
		bad("monitor.alarm_webhook: %q is not an http(s) URL", m.AlarmWebhook)
	}
	if c.Promotion.LiveMinMatches < 0 {
		bad("promotion.live_min_matches: %d is negative", c.Promotion.LiveMinMatches)
	}
	if m := c.Monitor; m.Interval <= 0 || m.Refresh <= 0 || m.Retention < 0 {
		bad("monitor: interval and refresh must be positive durations and retention not negative")
	}
	if !slices.Contains([]string{"memory", "redis"}, c.Cache.Driver) {
		bad("cache.driver: %q is not memory or redis", c.Cache.Driver)
	}
	if c.Serve.Batching.MaxBatch < 1 || c.Serve.Batching.MaxBatch > 10000 {
		bad("serve.batching.max_batch: %d is not from 1 to 10000", c.Serve.Batching.MaxBatch)
	}
	if c.Serve.Batching.Concurrency < 1 || c.Serve.Batching.Concurrency > 64 {
		bad("serve.batching.concurrency: %d is not from 1 to 64", c.Serve.Batching.Concurrency)
	}
	if c.Serve.Procs < 0 || c.Serve.Procs > 1024 {
		bad("serve.procs: %d is not from 0 (automatic) to 1024", c.Serve.Procs)
	}
	if l := c.Serve.Limits; l.ReadHeaderTimeout <= 0 || l.ReadTimeout <= 0 || l.WriteTimeout <= 0 || l.IdleTimeout <= 0 {
		bad("serve.limits: read_header_timeout, read_timeout, write_timeout and idle_timeout must be positive durations")
	}
	if l := c.Serve.Limits; l.MaxHeaderBytes < 1024 || l.MaxBodyBytes < 1024 || l.MaxInFlight < 1 {
		bad("serve.limits: max_header_bytes and max_body_bytes must be at least 1024, max_in_flight at least 1")
	}
	if c.Serve.Limits.MaxConnections < 1 {
		bad("serve.limits.max_connections: %d is not a positive number of connections", c.Serve.Limits.MaxConnections)
	}
	if c.Serve.CacheEntries < 0 || c.Serve.CacheEntries > 10_000_000 {
		bad("serve.cache_entries: %d is not from 0 (no cache) to 10000000", c.Serve.CacheEntries)
	}
	if c.Serve.GCPercent < 10 || c.Serve.GCPercent > 10000 {
		bad("serve.gc_percent: %d is not from 10 to 10000", c.Serve.GCPercent)
	}
	if c.Serve.GenerationPoll <= 0 {
		bad("serve.generation_poll: %v is not a positive duration", c.Serve.GenerationPoll)
	}
	if c.Promotion.MinRPSGain < 0 || c.Promotion.MinLogLossGain < 0 || c.Promotion.MaxECEIncrease < 0 {
		bad("promotion: margins must not be negative")
	}
	for name := range c.Model.FeatureParams {
		if p, ok := c.Plugins[name]; !ok || p.Kind != "features" {
			bad("model.feature_params.%s: %q is not a configured features plugin", name, name)
		}
	}
	for _, sel := range []struct{ key, name, kind string }{{"features.plugin", c.Features.Plugin, "features"}, {"model.plugin", c.Model.Plugin, "model"}} {
		if sel.name == "" {
			continue
		}
		if p, ok := c.Plugins[sel.name]; !ok {
			bad("%s: %q is not a configured plugin", sel.key, sel.name)
		} else if p.Kind != sel.kind {
			bad("%s: %q is a %s plugin, not a %s plugin", sel.key, sel.name, p.Kind, sel.kind)
		}
	}
	return errors.Join(errs...)
}

// badHostPattern says what is wrong with an allowed-host pattern ("" if nothing).
func badHostPattern(h string) string {
	name := strings.TrimPrefix(h, "*.")
	if host, port, ok := strings.Cut(name, ":"); ok {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil || port == "" {
			return "has a port that is not a number from 0 to 65535"
		}
		name = host
	}
	if name == "" || strings.ContainsAny(name, "/*@ ?#[]") || name != strings.ToLower(name) {
		return "is not a lowercase host name, *.domain or host:port"
	}
	return ""
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// Files returns the config files named by SOCCERPREDICT_CONFIG (comma-separated).
func Files(getenv func(string) string) []string {
	v := getenv(EnvPrefix + "CONFIG")
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// Exists reports whether a file exists; used to pick up configs/local.yaml.
func Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
