// Package web is the web page: the static shell, and the JSON routes only
// its views read (competitions, promotions, the evaluation).
package web

import (
	"context"
	"embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/present"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// The web page: a static shell (index.html, app.js, style.css, embedded
// in the binary, no CDN) whose script reads the same /v1 JSON any caller
// uses, with the API key the person enters once and the browser keeps for
// the tab's session. The shell itself holds no data, so it needs no key.
//
//go:embed index.html app.js style.css
var webFiles embed.FS

// webPolicy lets the page load nothing but its own files and talk to
// nothing but this server.
const webPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Routes adds the page's files: /, /app.js and /style.css.
func Routes(r chi.Router) {
	files := http.FileServerFS(webFiles)
	page := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", webPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}
	r.Get("/", page)
	r.Get("/app.js", page)
	r.Get("/style.css", page)
}

// Data answers the JSON the page's views read.
type Data struct {
	Predictor *forecast.Predictor
	// Store holds the registry's audit log and the tracked runs (nil: the
	// server runs without a store).
	Store interface {
		Audit(ctx context.Context, limit int) ([]store.AuditEntry, error)
		Experiments(ctx context.Context, limit int) ([]store.ExperimentRun, error)
	}
	Logger hclog.Logger
}

func (s *Data) json(w http.ResponseWriter, status int, v any) { httpx.JSON(w, status, v, s.Logger) }

func (s *Data) problem(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	httpx.WriteProblem(w, r, status, title, detail, nil)
}

// CompetitionJSON is one competition the server forecasts.
type CompetitionJSON struct {
	Code  string   `json:"code"`
	Name  string   `json:"name"`
	Teams []string `json:"teams"`
}

// Competitions answers the competitions the server forecasts, with their teams.
func (s *Data) Competitions(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Competitions []CompetitionJSON `json:"competitions"`
	}{Competitions: []CompetitionJSON{}}
	for _, c := range s.Predictor.CompetitionList() {
		out.Competitions = append(out.Competitions, CompetitionJSON{Code: c.Code, Name: c.Name, Teams: c.Teams})
	}
	s.json(w, http.StatusOK, out)
}

// PromotionJSON is one alias change of the registry's audit log.
type PromotionJSON struct {
	At          time.Time       `json:"at"`
	Action      string          `json:"action"`
	Actor       string          `json:"actor"`
	Alias       string          `json:"alias"`
	FromVersion int             `json:"from_version,omitempty"`
	ToVersion   int             `json:"to_version"`
	Generation  int64           `json:"generation,omitempty"`
	Forced      bool            `json:"forced,omitempty"`
	Reason      string          `json:"reason,omitempty"`
	Details     json.RawMessage `json:"details,omitempty"`
}

// Promotions answers what serves now and how it got there: the champion
// this server answers with, its generation, and the audit log, newest first.
func (s *Data) Promotions(w http.ResponseWriter, r *http.Request) {
	limit, ok := httpx.LimitParam(w, r, 20, 200)
	if !ok {
		return
	}
	if s.Store == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "no registry", "this server was started without a store")
		return
	}
	audit, err := s.Store.Audit(r.Context(), limit)
	if err != nil {
		httpx.Fail(w, r, err, nil, s.Logger)
		return
	}
	champ, gen, _ := s.Predictor.Champion()
	out := struct {
		Champion   present.ModelJSON `json:"champion"`
		Generation int64             `json:"generation"`
		Since      time.Time         `json:"since"`
		Promotions []PromotionJSON   `json:"promotions"`
	}{Champion: present.ModelJSON{Name: champ.Name, Version: champ.Version}, Generation: gen.ID, Since: gen.CreatedAt, Promotions: []PromotionJSON{}}
	for _, a := range audit {
		p := PromotionJSON{At: a.At, Action: a.Action, Actor: a.Actor, Alias: a.Alias, FromVersion: a.FromVersion, ToVersion: a.ToVersion,
			Generation: a.Generation, Forced: a.Forced, Reason: a.Reason}
		if len(a.Details) > 0 && string(a.Details) != "null" && json.Valid(a.Details) {
			p.Details = a.Details
		}
		out.Promotions = append(out.Promotions, p)
	}
	s.json(w, http.StatusOK, out)
}

// Evaluation answers the newest tracked evaluate run: its walk-forward
// scores per season and overall, with the reliability table.
func (s *Data) Evaluation(w http.ResponseWriter, r *http.Request) {
	if s.Store == nil {
		s.problem(w, r, http.StatusServiceUnavailable, "no registry", "this server was started without a store")
		return
	}
	runs, err := s.Store.Experiments(r.Context(), 200)
	if err != nil {
		httpx.Fail(w, r, err, nil, s.Logger)
		return
	}
	for _, run := range runs {
		if run.Kind != "evaluate" || len(run.Report) == 0 || !json.Valid(run.Report) {
			continue
		}
		s.json(w, http.StatusOK, struct {
			Run        string          `json:"run"`
			FinishedAt time.Time       `json:"finished_at"`
			Params     json.RawMessage `json:"params,omitempty"`
			Evaluation json.RawMessage `json:"evaluation"`
		}{run.ID, run.FinishedAt, run.Params, run.Report})
		return
	}
	s.problem(w, r, http.StatusNotFound, "no evaluation", "no evaluate run is recorded yet: run `soccerpredict evaluate`")
}
