package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/net/netutil"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
)

var (
	routesMu sync.RWMutex
	routes   = map[string]string{} // the joined route patterns -> chi's RoutePattern()
)

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

// requestID gives each request an ID (the caller's X-Request-Id when it sends
// a sane one), found with chi's middleware.GetReqID, as problem details'
// "instance", and echoed in the answer's X-Request-Id.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := httpx.RequestID(r.Header.Get(middleware.RequestIDHeader))
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
		var who *apikey.Who
		if s.AccessLog != nil {
			var ctx context.Context
			ctx, who = apikey.Listening(r.Context())
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(ww, r)
		took := time.Since(started)
		route := routeOf(r)
		s.Metrics.HTTP(route, r.Method, ww.Status(), took)
		if who != nil {
			// One line a request: never the key itself, only its name and ID.
			s.AccessLog.Info("request", "request_id", middleware.GetReqID(r.Context()), "method", r.Method, "route", route, "path", truncate(r.URL.Path, 200),
				"status", ww.Status(), "bytes", ww.BytesWritten(), "duration_ms", float64(took.Microseconds())/1000, "key", who.Name, "key_id", who.ID,
				"remote", r.RemoteAddr)
		}
	})
}

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
	if k := apikey.Bearer(r); k != "" {
		return "key:" + k
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}
