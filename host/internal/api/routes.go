package api

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/api/web"
)

// Handler returns the whole HTTP API.
func (s *Server) Handler() http.Handler {
	if s.Store != nil {
		s.creates = s.newJobGroup()
		s.doubts = &doubtful{store: s.Store, logger: s.Logger}
	}
	page := &web.Data{Predictor: s.Predictor, Store: s.Store, Logger: s.Logger} // a nil Store stays nil
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
		r.With(s.Auth.Require(apikey.ScopePredict)).Post("/predictions", s.predict)
		r.With(s.Auth.Require(apikey.ScopePredict)).Post("/predictions/batch", s.predictBatch)
		r.With(s.Auth.Require(apikey.ScopePredict)).Post("/predictions/async", s.predictAsync)
		r.With(s.Auth.Require(apikey.ScopePredict)).Post("/predictions/async/batch", s.predictAsyncBatch)
		r.With(s.Auth.Require(apikey.ScopePredict)).Get("/jobs/events", s.jobEvents)
		r.With(s.Auth.Require(apikey.ScopePredict)).Get("/jobs/{id}", s.job)
		r.With(s.Auth.Require(apikey.ScopePredict)).Delete("/jobs/{id}", s.cancelJob)
		r.With(s.Auth.Require(apikey.ScopePredict)).Get("/fixtures", s.fixtures)
		r.With(s.Auth.Require(apikey.ScopePredict)).Get("/competitions", page.Competitions)
		r.With(s.Auth.Require(apikey.ScopePredict)).Get("/promotions", page.Promotions)
		r.With(s.Auth.Require(apikey.ScopePredict)).Get("/evaluation", page.Evaluation)
		r.With(s.Auth.Require(apikey.ScopePredict)).Get("/monitoring", s.monitoring)
		r.With(s.Auth.Require(apikey.ScopeAdmin)).Get("/plugins", s.plugins)
	})
	s.inference().Routes(r)
	web.Routes(r)
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
