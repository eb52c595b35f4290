// Package api is the HTTP surface of `soccerpredict serve`. routes shows all
// of it; respond.go is the one place that writes responses and RFC 9457
// problem details; requests are decoded strictly, naming the offending field.
package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/telemetry"
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
	Store store.Store
	Cache cache.Cache
	Kick  func()
}

// Handler returns the whole HTTP API.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer, s.measure, middleware.Timeout(30*time.Second))
	if s.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", s.Metrics.Handler())
	}
	r.Get("/openapi.json", s.openAPI)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Route("/v1", func(r chi.Router) {
		r.With(s.require(ScopePredict)).Post("/predictions", s.predict)
		r.With(s.require(ScopePredict)).Post("/predictions/batch", s.predictBatch)
		r.With(s.require(ScopePredict)).Post("/predictions/async", s.predictAsync)
		r.With(s.require(ScopePredict)).Get("/jobs/{id}", s.job)
		r.With(s.require(ScopePredict)).Get("/fixtures", s.fixtures)
		r.With(s.require(ScopeAdmin)).Get("/plugins", s.plugins)
	})
	s.oipRoutes(r)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusNotFound, "not found", "no route "+r.Method+" "+r.URL.Path, nil)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusMethodNotAllowed, "method not allowed", r.Method+" is not allowed on "+r.URL.Path, nil)
	})
	return r
}

// measure records each request under its route pattern (never the raw path,
// which would make a metric per team name).
func (s *Server) measure(next http.Handler) http.Handler {
	if s.Metrics == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		s.Metrics.HTTP(route, r.Method, ww.Status(), time.Since(started))
	})
}
