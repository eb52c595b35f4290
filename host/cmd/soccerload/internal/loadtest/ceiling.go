package loadtest

import (
	"encoding/json"
	"net"
	"net/http"
	"time"
)

// ceilingRequest and ceilingResponse have the shape of POST /v1/predictions'
// request and response, so the ceiling server reads and writes as many bytes
// as the real one.
type ceilingRequest struct {
	HomeTeam    string `json:"home_team"`
	AwayTeam    string `json:"away_team"`
	Competition string `json:"competition"`
	Kickoff     string `json:"kickoff,omitempty"`
}

type ceilingResponse struct {
	Fixture struct {
		ID          string    `json:"id"`
		Competition string    `json:"competition"`
		Season      string    `json:"season"`
		Kickoff     time.Time `json:"kickoff"`
		HomeTeam    string    `json:"home_team"`
		AwayTeam    string    `json:"away_team"`
	} `json:"fixture"`
	Probabilities struct {
		Home float64 `json:"home"`
		Draw float64 `json:"draw"`
		Away float64 `json:"away"`
	} `json:"probabilities"`
	Model struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
	} `json:"model"`
	FeatureSchemaVersion string `json:"feature_schema_version"`
	Generation           int64  `json:"generation"`
}

// CeilingHandler decodes the prediction request and encodes a response of
// the same shape with fixed numbers: what any Go HTTP server pays per request
// with nothing behind it, the most the host could reach on this machine.
func CeilingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req ceilingRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var resp ceilingResponse
		resp.Fixture.ID = "request-" + req.Competition + "-" + req.HomeTeam + "-v-" + req.AwayTeam
		resp.Fixture.Competition, resp.Fixture.Season = req.Competition, "2324"
		resp.Fixture.Kickoff, _ = time.Parse(time.RFC3339, req.Kickoff)
		resp.Fixture.HomeTeam, resp.Fixture.AwayTeam = req.HomeTeam, req.AwayTeam
		resp.Probabilities.Home, resp.Probabilities.Draw, resp.Probabilities.Away = 0.4637113371029479, 0.2634961853468812, 0.2727924775501709
		resp.Model.Name, resp.Model.Version = "onnx-logreg", 1
		resp.FeatureSchemaVersion, resp.Generation = "ratings-5", 1
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
}

// ServeCeiling serves CeilingHandler on addr until the process ends.
func ServeCeiling(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return (&http.Server{Handler: CeilingHandler(), ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}
