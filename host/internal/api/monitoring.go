package api

import (
	"net/http"
	"strconv"

	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
)

// monitoring answers GET /v1/monitoring: how the served forecasts did
// against the results and the market, per model version, competition and
// rolling window, with calibration, the sequential alarm and drift. With
// no parameters it is the report serve refreshes every monitor.refresh;
// from, to, competition, version and windows compute one on demand.
func (s *Server) monitoring(w http.ResponseWriter, r *http.Request) {
	if s.Store == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "no store", "this server was started without a store", nil)
		return
	}
	v := r.URL.Query()
	var q monitor.Query
	var bad []httpx.FieldProblem
	var err error
	if q.From, err = monitor.ParseTime(v.Get("from")); err != nil {
		bad = append(bad, httpx.FieldProblem{Field: "from", Message: err.Error()})
	}
	if q.To, err = monitor.ParseTime(v.Get("to")); err != nil {
		bad = append(bad, httpx.FieldProblem{Field: "to", Message: err.Error()})
	}
	q.Competition = v.Get("competition")
	if x := v.Get("version"); x != "" {
		if q.Version, err = strconv.Atoi(x); err != nil || q.Version < 1 {
			bad = append(bad, httpx.FieldProblem{Field: "version", Message: strconv.Quote(x) + " is not a model version (a whole number from 1)"})
		}
	}
	if x := v.Get("windows"); x != "" {
		if q.Windows, err = monitor.ParseWindows(x); err != nil {
			bad = append(bad, httpx.FieldProblem{Field: "windows", Message: err.Error()})
		}
	}
	if len(bad) > 0 {
		s.problem(w, r, http.StatusUnprocessableEntity, "invalid query", bad[0].Field+": "+bad[0].Message, bad)
		return
	}
	var rep monitor.Report
	fresh := true
	if len(v) == 0 && s.Monitoring != nil {
		if last, ok, _ := s.Monitoring.Last(); ok {
			rep, fresh = last, false
		}
	}
	if fresh {
		if rep, err = monitor.Compute(r.Context(), s.Store, q); err == nil {
			rep.Ingest, err = monitor.CheckIngest(r.Context(), s.Store)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rep.Scored = nil
	}
	if s.ForecastLog != nil {
		st := s.ForecastLog.Stats()
		rep.Log = &st
	}
	s.json(w, http.StatusOK, rep)
}
