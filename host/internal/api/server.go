// Package api is the HTTP surface of `soccerpredict serve`: the v1 REST
// API (predictions, async jobs, fixtures, monitoring, plugins, OpenAPI),
// with the Open Inference Protocol (package oip) and the web page (package
// web) mounted beside it. routes.go shows every route; server.go is the
// Server; middleware.go bounds and measures each request; requests are
// decoded strictly (decode.go), naming the offending field, and answered
// through package httpx.
package api

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/api/oip"
	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/forecastlog"
	"github.com/soccerpredict/soccerpredict/host/internal/gather"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/telemetry"
)

// StatusClientClosed is recorded for a request whose caller hung up before
// its answer was ready (nginx's 499): neither a success nor the server's fault.
const StatusClientClosed = fault.StatusClientClosed

// DefaultMaxBody bounds a request body unless the server says otherwise.
const DefaultMaxBody = httpx.DefaultMaxBody

// MaxBatch is the most fixtures one request may ask for.
const MaxBatch = httpx.MaxBatch

func (s *Server) json(w http.ResponseWriter, status int, v any) { httpx.JSON(w, status, v, s.Logger) }

func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, title, detail string, fields []httpx.FieldProblem) {
	httpx.WriteProblem(w, r, status, title, detail, fields)
}

// fail answers err as its problem (httpx.Fail).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpx.Fail(w, r, err, nil, s.Logger)
}

// failIn is fail for a request of several fixtures: field(i) is where
// fixture i is in the request ("fixtures[2]").
func (s *Server) failIn(w http.ResponseWriter, r *http.Request, err error, field func(int) string) {
	httpx.Fail(w, r, err, field, s.Logger)
}

// Server serves predictions.
type Server struct {
	Predictor *forecast.Predictor
	Logger    hclog.Logger
	// Plugins reports the plugin processes of this server (GET /v1/plugins).
	Plugins func() []pluginhost.Status
	// Version is the host's version, reported by GET /v2.
	Version string
	// Metrics, when set, records every request and is served at /metrics.
	Metrics *telemetry.Metrics
	// Auth, when required, guards predictions (scope predict) and plugin
	// details (scope admin) with API keys and per-key rate limits.
	Auth *apikey.Auth
	// Store and Cache hold async jobs. Handoff, when set, carries the jobs
	// this server creates to its relay (created claimed for it); Kick wakes
	// the relay to take new jobs from the outbox instead (keyed ones, or
	// when the Handoff is full).
	Store   Store
	Cache   cache.Cache
	Handoff *jobs.Handoff
	Kick    func()
	// MaxBodyBytes bounds a request body (413 beyond it; default 1 MiB).
	// MaxInFlight bounds the requests served at once; beyond it requests are
	// shed with 503 and Retry-After (default unbounded). Health, readiness
	// and metrics are never shed.
	MaxBodyBytes int64
	MaxInFlight  int
	// SubmitTimeout bounds recording an async submission (2 s when zero).
	SubmitTimeout time.Duration
	// IdempotencyWindow is how long an Idempotency-Key of async submissions
	// stays bound to its job (default 24 h).
	IdempotencyWindow time.Duration
	// AccessLog, when set, gets one line per request: request ID, method,
	// route, status, bytes, duration and the API key's name (never the key).
	AccessLog hclog.Logger
	// Callbacks says which callback_url hosts async jobs may name (nil:
	// webhooks are off and a job asking for one is a 400).
	Callbacks *jobs.CallbackPolicy
	// Monitoring is the refreshed live-quality report (GET /v1/monitoring
	// without parameters); ForecastLog this process's forecast log, whose
	// counts the report carries.
	Monitoring  *monitor.Watcher
	ForecastLog *forecastlog.Log

	creates *gather.Group[store.Job, struct{}]
	doubts  *doubtful
	waiters atomic.Int64 // GET /v1/jobs/{id}?wait= waiting now
	heard   waitlist     // and what wakes them
	oipOnce sync.Once
	oip     *oip.Server
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
