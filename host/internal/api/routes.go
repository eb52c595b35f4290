// Package api is the HTTP surface of `soccerpredict serve`. routes shows all
// of it; respond.go is the one place that writes responses and RFC 9457
// problem details; requests are decoded strictly, naming the offending field.
package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/forecastlog"
	"github.com/soccerpredict/soccerpredict/host/internal/gather"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/telemetry"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
)

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
	Auth *Auth
	// Store and Cache hold async jobs; Kick wakes the relay after a new one.
	Store Store
	Cache cache.Cache
	Kick  func()
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

	creates   *gather.Group[store.Job, struct{}]
	doubts    *doubtful
	waiters   atomic.Int64 // GET /v1/jobs/{id}?wait= waiting now
	grpcCalls *firstCall
}

// Handler returns the whole HTTP API.
func (s *Server) Handler() http.Handler {
	if s.Store != nil {
		s.creates = s.newJobGroup()
		s.doubts = &doubtful{store: s.Store, logger: s.Logger}
	}
	r := chi.NewRouter()
	// No per-request timeout middleware: the server's read and write timeouts
	// bound a connection, each plugin call has its own timeout, and a
	// deadline per request would cost a timer on the hot path.
	r.Use(requestID, traced, middleware.Recoverer, s.measure, s.limit(), middleware.GetHead)
	if s.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", s.Metrics.Handler())
	}
	r.Get("/openapi.json", s.openAPI)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Route("/v1", func(r chi.Router) {
		r.Use(s.jsonBodies)
		r.With(s.require(ScopePredict)).Post("/predictions", s.predict)
		r.With(s.require(ScopePredict)).Post("/predictions/batch", s.predictBatch)
		r.With(s.require(ScopePredict)).Post("/predictions/async", s.predictAsync)
		r.With(s.require(ScopePredict)).Post("/predictions/async/batch", s.predictAsyncBatch)
		r.With(s.require(ScopePredict)).Get("/jobs/{id}", s.job)
		r.With(s.require(ScopePredict)).Delete("/jobs/{id}", s.cancelJob)
		r.With(s.require(ScopePredict)).Get("/fixtures", s.fixtures)
		r.With(s.require(ScopePredict)).Get("/competitions", s.competitions)
		r.With(s.require(ScopePredict)).Get("/promotions", s.promotions)
		r.With(s.require(ScopePredict)).Get("/evaluation", s.evaluation)
		r.With(s.require(ScopePredict)).Get("/monitoring", s.monitoring)
		r.With(s.require(ScopeAdmin)).Get("/plugins", s.plugins)
	})
	s.oipRoutes(r)
	s.webRoutes(r)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusNotFound, "not found", "no route "+r.Method+" "+r.URL.Path, nil)
	})
	mux := r
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if mux.Match(chi.NewRouteContext(), m, r.URL.Path) || m == http.MethodHead && mux.Match(chi.NewRouteContext(), http.MethodGet, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.problem(w, r, http.StatusMethodNotAllowed, "method not allowed", r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allowed, ", "), nil)
	})
	return r
}

// jsonBodies refuses a body declared as anything but JSON with 415 (curl -d
// without -H 'content-type: application/json' declares a form), rather
// than parsing it as JSON anyway; a body with no Content-Type is read as
// JSON.
func (s *Server) jsonBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONType(ct) {
				s.problem(w, r, http.StatusUnsupportedMediaType, "unsupported media type",
					fmt.Sprintf("Content-Type %q: send application/json", truncate(ct, 64)), nil)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// limit bounds each request's body and sheds load beyond MaxInFlight.
func (s *Server) limit() func(http.Handler) http.Handler {
	maxBody := s.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	var slots chan struct{}
	var callers *inFlightCallers
	if s.MaxInFlight > 0 {
		slots = make(chan struct{}, s.MaxInFlight)
		callers = &inFlightCallers{slots: s.MaxInFlight, held: map[string]int{}}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			}
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics", "/v2/health/live", "/v2/health/ready":
				next.ServeHTTP(w, r)
				return
			}
			if slots != nil && !waitingForJob(r) {
				// A caller (an API key, or an address without one) holds at
				// most its share of the slots: neither slow bodies nor a burst
				// of one key — nor of several together — can take the server
				// from the others.
				who := callerOf(r)
				if ok, why := callers.take(who); !ok {
					s.problem(w, r, http.StatusServiceUnavailable, "overloaded", why+"; retry shortly", nil)
					return
				}
				defer callers.give(who)
				select {
				case slots <- struct{}{}:
					defer func() { <-slots }()
				default:
					s.problem(w, r, http.StatusServiceUnavailable, "overloaded",
						fmt.Sprintf("the server is answering %d requests already; retry shortly", cap(slots)), nil)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

var (
	requestPrefix = strconv.FormatInt(time.Now().UnixNano()%(1<<30), 36) + "-"
	requestSeq    atomic.Uint64
)

// requestID gives each request an ID (the caller's X-Request-Id when it sends
// a sane one), found with chi's middleware.GetReqID, as problem details'
// "instance", and echoed in the answer's X-Request-Id.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(middleware.RequestIDHeader)
		if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = requestPrefix + strconv.FormatUint(requestSeq.Add(1), 10)
		}
		w.Header().Set(middleware.RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), middleware.RequestIDKey, id)))
	})
}

// traced gives each request a server span while tracing is on, under the
// caller's W3C traceparent when it sends one, named by the route pattern
// once routing has found it; the request ID is one of its attributes.
func traced(next http.Handler) http.Handler {
	if !tracing.Enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := tracing.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracing.Span(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", r.Method), attribute.String("url.path", truncate(r.URL.Path, 200)),
			attribute.String("http.request.id", middleware.GetReqID(ctx))))
		defer span.End()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		r = r.WithContext(ctx)
		next.ServeHTTP(ww, r)
		route := routeOf(r)
		span.SetName(r.Method + " " + route)
		span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", ww.Status()))
		if ww.Status() >= http.StatusInternalServerError {
			span.SetStatus(otelcodes.Error, http.StatusText(ww.Status()))
		}
	})
}

// measure records each request under its route pattern (never the raw path,
// which would make a metric per team name).
func (s *Server) measure(next http.Handler) http.Handler {
	if s.Metrics == nil && s.AccessLog == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		var who *accessKey
		if s.AccessLog != nil {
			who = &accessKey{}
			r = r.WithContext(context.WithValue(r.Context(), accessKeyCtx{}, who))
		}
		next.ServeHTTP(ww, r)
		took := time.Since(started)
		route := routeOf(r)
		s.Metrics.HTTP(route, r.Method, ww.Status(), took)
		if who != nil {
			// One line a request: never the key itself, only its name and ID.
			s.AccessLog.Info("request", "request_id", middleware.GetReqID(r.Context()), "method", r.Method, "route", route, "path", truncate(r.URL.Path, 200),
				"status", ww.Status(), "bytes", ww.BytesWritten(), "duration_ms", float64(took.Microseconds())/1000, "key", who.name, "key_id", who.id,
				"remote", r.RemoteAddr)
		}
	})
}

// accessKey carries the authenticated key's name out of the auth check to
// the access log line.
type accessKey struct{ name, id string }

type accessKeyCtx struct{}

var (
	routesMu sync.RWMutex
	routes   = map[string]string{} // the joined route patterns -> chi's RoutePattern()
)

// routeOf is the request's route pattern ("/v1/jobs/{id}"), or "unmatched".
// chi builds the pattern anew for every call; the route table is finite, so
// each is built once and found again without allocating.
func routeOf(r *http.Request) string {
	rc := chi.RouteContext(r.Context())
	if rc == nil || len(rc.RoutePatterns) == 0 {
		return "unmatched"
	}
	var buf [256]byte
	key := buf[:0]
	for _, p := range rc.RoutePatterns {
		key = append(key, p...)
	}
	routesMu.RLock()
	route, ok := routes[string(key)]
	routesMu.RUnlock()
	if ok {
		return route
	}
	route = rc.RoutePattern()
	if route == "" {
		route = "unmatched"
	}
	routesMu.Lock()
	if len(routes) < 1000 {
		routes[string(key)] = route
	}
	routesMu.Unlock()
	return route
}

// HTTPServer is the http.Server that serves h within the limits: the one
// `serve` runs, so its timeouts are tested as they are deployed.
func HTTPServer(h http.Handler, l config.HTTPLimits) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: l.MaxHeaderBytes}
}

// Listen listens on addr with at most max connections open at once:
// beyond it, Accept waits (new connections queue in the kernel's backlog)
// until one closes, so no client can take the process's descriptors.
func Listen(addr string, max int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil || max <= 0 {
		return ln, err
	}
	return netutil.LimitListener(ln, max), nil
}

// inFlightCallers shares the in-flight slots among callers. A caller holds
// at most half of them; and the last eighth is kept for callers that hold
// few (fewer than a thirty-second of that eighth, at least one: 8 of the
// default 2,048 slots), so callers filling the rest — one key, or several
// together — always leave room for the others.
type inFlightCallers struct {
	slots int
	mu    sync.Mutex
	held  map[string]int
	total int
}

// take counts a slot for who unless its share is used; it says why not.
func (c *inFlightCallers) take(who string) (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.held[who]
	reserve := c.slots / 8
	switch {
	case h >= max(1, c.slots/2):
		return false, fmt.Sprintf("this caller has %d requests in flight already, half of what the server takes", h)
	case c.total >= c.slots-reserve && h >= max(1, reserve/32):
		return false, fmt.Sprintf("the server is busy, and this caller has %d requests in flight already: the rest is kept for callers with fewer", h)
	}
	c.held[who]++
	c.total++
	return true, ""
}

func (c *inFlightCallers) give(who string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.held[who] <= 1 {
		delete(c.held, who)
		return
	}
	c.held[who]--
}

// callerOf names who sent a request, before its key is checked: the key it
// presents, else its address (without the port).
func callerOf(r *http.Request) string {
	if k := bearer(r); k != "" {
		return "key:" + k
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}
