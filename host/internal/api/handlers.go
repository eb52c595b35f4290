package api

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
	"github.com/soccerpredict/soccerpredict/host/internal/present"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// FixturesResponse is GET /v1/fixtures: upcoming fixtures with forecasts,
// and recent results beside what was forecast before kick-off.
type FixturesResponse struct {
	Competition string                       `json:"competition"`
	Upcoming    []present.PredictionResponse `json:"upcoming"`
	Recent      []present.PredictionResponse `json:"recent"`
	// RecentSource is "served": the forecasts really served before each
	// kick-off (the forecast log); or "replay", when none was logged: the
	// current champion's forecasts from the features each match had
	// before kick-off, which were not served to anyone.
	RecentSource string `json:"recent_source"`
}

// fixtureOf checks a request's fields and resolves it, with its as_of (zero: none).
func (s *Server) fixtureOf(ctx context.Context, req PredictionRequest, field string) (soccer.Fixture, time.Time, []httpx.FieldProblem, error) {
	f, missing, err := s.fixtureOnly(ctx, req, field)
	if len(missing) > 0 || err != nil || req.AsOf == "" {
		return f, time.Time{}, missing, err
	}
	prefix := field
	if prefix != "" {
		prefix += "."
	}
	at, perr := time.Parse(time.RFC3339, req.AsOf)
	if perr != nil {
		return f, time.Time{}, []httpx.FieldProblem{{Field: prefix + "as_of", Message: fmt.Sprintf("%q is not an RFC 3339 time like 2024-08-17T14:00:00Z", req.AsOf)}}, nil
	}
	if at.After(f.Kickoff) {
		return f, time.Time{}, []httpx.FieldProblem{{Field: prefix + "as_of", Message: fmt.Sprintf("%s is after the kick-off %s: a forecast cannot know its own result",
			at.UTC().Format(time.RFC3339), f.Kickoff.Format(time.RFC3339))}}, nil
	}
	return f, at, nil, nil
}

func (s *Server) fixtureOnly(ctx context.Context, req PredictionRequest, field string) (soccer.Fixture, []httpx.FieldProblem, error) {
	prefix := field
	if prefix != "" {
		prefix += "."
	}
	var missing []httpx.FieldProblem
	for _, name := range httpx.Missing(req) {
		missing = append(missing, httpx.FieldProblem{Field: prefix + name, Message: "required"})
	}
	if len(missing) > 0 {
		return soccer.Fixture{}, missing, nil
	}
	fr := forecast.FixtureRequest{HomeTeam: req.HomeTeam, AwayTeam: req.AwayTeam, Competition: req.Competition,
		NoStoredOdds: req.StoredOdds != nil && !*req.StoredOdds}
	if req.Kickoff != "" {
		k, err := time.Parse(time.RFC3339, req.Kickoff)
		if err != nil {
			return soccer.Fixture{}, []httpx.FieldProblem{{Field: prefix + "kickoff", Message: fmt.Sprintf("%q is not an RFC 3339 time like 2024-08-17T14:00:00Z", req.Kickoff)}}, nil
		}
		fr.Kickoff = k
	}
	if req.Odds != nil {
		fr.Odds = &soccer.Odds{Bookmaker: req.Odds.Bookmaker, Home: req.Odds.Home, Draw: req.Odds.Draw, Away: req.Odds.Away}
	}
	f, err := s.Predictor.Fixture(ctx, fr)
	if err != nil && field != "" {
		err = fault.Under(field, fault.Of(err))
	}
	return f, nil, err
}

// requestFixture decodes and resolves a PredictionRequest body, answering
// the problem itself when it cannot (ok false).
func (s *Server) requestFixture(w http.ResponseWriter, r *http.Request) (PredictionRequest, soccer.Fixture, time.Time, bool) {
	var req PredictionRequest
	if p := decodePrediction(r, &req); p != nil {
		s.problem(w, r, p.Status(), "malformed request", p.Message, []httpx.FieldProblem{*p})
		return req, soccer.Fixture{}, time.Time{}, false
	}
	f, asOf, ok := s.resolveFixture(w, r, req)
	return req, f, asOf, ok
}

// withoutMarkets answers a 422 naming the first forecast whose request
// asked for goal markets the serving model does not give (want[i] is
// fixture i's "markets"); it says whether it did.
func (s *Server) withoutMarkets(w http.ResponseWriter, r *http.Request, want []bool, field func(int) string, preds []forecast.Prediction) bool {
	for i, p := range preds {
		if want[i] && p.Markets == nil {
			e := forecast.NoMarkets(p)
			e.Field = field(i)
			s.fail(w, r, e)
			return true
		}
	}
	return false
}

// resolveFixture resolves a decoded request, answering the problem itself
// when it cannot (ok false).
func (s *Server) resolveFixture(w http.ResponseWriter, r *http.Request, req PredictionRequest) (soccer.Fixture, time.Time, bool) {
	f, asOf, missing, err := s.fixtureOf(r.Context(), req, "")
	if len(missing) > 0 {
		s.problem(w, r, http.StatusUnprocessableEntity, "invalid fields", missing[0].Field+": "+missing[0].Message, missing)
		return soccer.Fixture{}, time.Time{}, false
	}
	if err != nil {
		s.fail(w, r, err)
		return soccer.Fixture{}, time.Time{}, false
	}
	return f, asOf, true
}

// resolveBatch checks the size of a batch and resolves its fixtures (with
// their as_of), answering the problem itself when it cannot (ok false): the
// fields missing anywhere, or the first fixture that cannot be forecast.
func (s *Server) resolveBatch(w http.ResponseWriter, r *http.Request, reqs []PredictionRequest) ([]soccer.Fixture, []time.Time, bool) {
	if len(reqs) == 0 || len(reqs) > MaxBatch {
		s.problem(w, r, http.StatusUnprocessableEntity, "invalid batch", fmt.Sprintf("send 1 to %d fixtures", MaxBatch),
			[]httpx.FieldProblem{{Field: "fixtures", Message: fmt.Sprintf("has %d fixtures; send 1 to %d", len(reqs), MaxBatch)}})
		return nil, nil, false
	}
	fixtures := make([]soccer.Fixture, len(reqs))
	asOf := make([]time.Time, len(reqs))
	var problems []httpx.FieldProblem
	for i, fr := range reqs {
		f, at, missing, err := s.fixtureOf(r.Context(), fr, "fixtures["+strconv.Itoa(i)+"]")
		asOf[i] = at
		if len(missing) > 0 {
			problems = append(problems, missing...)
			continue
		}
		if err != nil {
			// The whole batch is refused, naming the first bad fixture.
			s.fail(w, r, err)
			return nil, nil, false
		}
		fixtures[i] = f
	}
	if len(problems) > 0 {
		s.problem(w, r, http.StatusUnprocessableEntity, "invalid fields", problems[0].Field+": "+problems[0].Message, problems)
		return nil, nil, false
	}
	return fixtures, asOf, true
}

// forecasts answers fixtures as of their kick-offs, or as of asOf where set.
func (s *Server) forecasts(ctx context.Context, fixtures []soccer.Fixture, asOf []time.Time) ([]forecast.Prediction, error) {
	for _, t := range asOf {
		if !t.IsZero() {
			return s.Predictor.PredictAsOf(ctx, fixtures, asOf)
		}
	}
	return s.Predictor.Predict(ctx, fixtures)
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	req, f, asOf, ok := s.requestFixture(w, r)
	if !ok {
		return
	}
	preds, err := s.forecasts(apikey.Origin(r.Context(), "sync"), []soccer.Fixture{f}, []time.Time{asOf})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.withoutMarkets(w, r, []bool{req.Markets}, func(int) string { return "markets" }, preds) {
		return
	}
	s.json(w, http.StatusOK, present.Render(preds[0]))
}

func (s *Server) predictBatch(w http.ResponseWriter, r *http.Request) {
	var req BatchRequest
	if p := httpx.Decode(r, &req); p != nil {
		if p.Field != "" {
			p.Field = "fixtures." + p.Field
		}
		s.problem(w, r, p.Status(), "malformed request", p.Message, []httpx.FieldProblem{*p})
		return
	}
	fixtures, asOf, ok := s.resolveBatch(w, r, req.Fixtures)
	if !ok {
		return
	}
	preds, err := s.forecasts(apikey.Origin(r.Context(), "batch"), fixtures, asOf)
	if err != nil {
		s.failIn(w, r, err, func(i int) string { return "fixtures[" + strconv.Itoa(i) + "]" })
		return
	}
	want := make([]bool, len(req.Fixtures))
	for i, fr := range req.Fixtures {
		want[i] = fr.Markets
	}
	if s.withoutMarkets(w, r, want, func(i int) string { return "fixtures[" + strconv.Itoa(i) + "].markets" }, preds) {
		return
	}
	out := struct {
		Predictions []present.PredictionResponse `json:"predictions"`
	}{make([]present.PredictionResponse, len(preds))}
	for i, p := range preds {
		out.Predictions[i] = present.Render(p)
	}
	s.json(w, http.StatusOK, out)
}

func (s *Server) fixtures(w http.ResponseWriter, r *http.Request) {
	comp := r.URL.Query().Get("competition")
	if comp == "" {
		s.problem(w, r, http.StatusUnprocessableEntity, "missing competition", "add ?competition=E0 (one of "+strings.Join(s.Predictor.Competitions(), ", ")+")",
			[]httpx.FieldProblem{{Field: "competition", Message: "required"}})
		return
	}
	limit, ok := httpx.LimitParam(w, r, 10, 100)
	if !ok {
		return
	}
	// Named as predictions accept it: "premier league", "e0".
	comp, err := s.Predictor.Competition(comp)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	upcoming, err := s.Predictor.Upcoming(apikey.Origin(r.Context(), "fixtures"), comp, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := FixturesResponse{Competition: comp, Upcoming: []present.PredictionResponse{}, Recent: []present.PredictionResponse{}, RecentSource: "served"}
	for _, p := range upcoming {
		out.Upcoming = append(out.Upcoming, present.Render(p))
	}
	if out.Recent, err = s.servedRecent(r.Context(), comp, limit); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(out.Recent) == 0 {
		recent, err := s.Predictor.Recent(r.Context(), comp, limit)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out.RecentSource = "replay"
		for _, p := range recent {
			out.Recent = append(out.Recent, present.Render(p))
		}
	}
	s.json(w, http.StatusOK, out)
}

// servedRecent is the competition's last finished matches that were
// forecast before kick-off (first served within the last year), newest first, each with the last forecast
// served (not a shadow's) before it.
func (s *Server) servedRecent(ctx context.Context, comp string, limit int) ([]present.PredictionResponse, error) {
	out := []present.PredictionResponse{}
	if s.Store == nil {
		return out, nil
	}
	// The last year's forecasts: recent results, without reading a
	// backfilled history on every page load.
	scored, err := monitor.ScoreForecasts(ctx, s.Store, store.ForecastQuery{Competition: comp, From: time.Now().AddDate(-1, 0, 0)})
	if err != nil {
		return nil, err
	}
	latest := map[string]monitor.Scored{}
	for _, sc := range scored {
		if sc.Route == "shadow" {
			continue
		}
		if cur, ok := latest[sc.MatchID]; !ok || sc.ForecastAt.After(cur.ForecastAt) {
			latest[sc.MatchID] = sc
		}
	}
	picked := slices.SortedFunc(maps.Values(latest), func(a, b monitor.Scored) int {
		if c := b.Kickoff.Compare(a.Kickoff); c != 0 {
			return c
		}
		return strings.Compare(a.MatchID, b.MatchID)
	})
	for _, sc := range picked[:min(limit, len(picked))] {
		at := sc.ForecastAt
		p := sc.Probabilities
		out = append(out, present.PredictionResponse{
			Fixture:       present.FixtureJSON{ID: sc.MatchID, Competition: sc.Competition, Season: sc.Season, Kickoff: sc.Kickoff, HomeTeam: sc.HomeTeam, AwayTeam: sc.AwayTeam},
			Probabilities: present.ProbabilitiesJSON{Home: p[0], Draw: p[1], Away: p[2]}, Model: present.ModelJSON{Name: sc.Model, Version: sc.Version}, FeatureSchemaVersion: sc.FeatureSchema,
			Generation: sc.Generation, PointInTime: true, Result: &present.ResultJSON{HomeGoals: sc.HomeGoals, AwayGoals: sc.AwayGoals, Result: sc.Result}, ServedAt: &at})
	}
	return out, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.json(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers within a second whatever the plugins do: a probe that hangs
// is worse than one that says "not ready" and names the part.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 900*time.Millisecond)
	defer cancel()
	if err := s.Predictor.Ready(ctx); err != nil {
		s.problem(w, r, http.StatusServiceUnavailable, "not ready", err.Error(), nil)
		return
	}
	champ, gen, _ := s.Predictor.Champion()
	s.json(w, http.StatusOK, map[string]any{"status": "ready", "model": present.ModelJSON{Name: champ.Name, Version: champ.Version}, "generation": gen.ID})
}

// PluginJSON is one plugin process of the server.
type PluginJSON struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Path       string `json:"path"`
	Running    bool   `json:"running"`
	PID        int    `json:"pid,omitempty"`
	Launches   int    `json:"launches"`
	APIVersion string `json:"api_version,omitempty"`
	// Transport is how the plugin's hot calls travel: "fast" (a framed Unix
	// socket) or "grpc"; empty before its first launch.
	Transport string `json:"transport,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

func (s *Server) plugins(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Plugins []PluginJSON `json:"plugins"`
	}{Plugins: []PluginJSON{}}
	if s.Plugins != nil {
		for _, st := range s.Plugins() {
			out.Plugins = append(out.Plugins, PluginJSON{Name: st.Name, Kind: st.Kind, Path: st.Path, Running: st.Running, PID: st.PID,
				Launches: st.Launches, APIVersion: st.Identity.APIVersion, Transport: st.Identity.Transport, LastError: st.LastError})
		}
	}
	s.json(w, http.StatusOK, out)
}
