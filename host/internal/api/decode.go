package api

import (
	"bytes"
	"net/http"
	"unicode/utf8"

	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
)

// decodePrediction reads a PredictionRequest body: the everyday shape
// without reflection, anything else through decode's strict rules.
func decodePrediction(r *http.Request, req *PredictionRequest) *httpx.FieldProblem {
	data, done, err := httpx.ReadBody(r)
	defer done()
	if p := httpx.TooLarge(err); p != nil {
		return p
	}
	if err != nil {
		return &httpx.FieldProblem{Field: "", Message: "cannot read the body: " + err.Error()}
	}
	if quickDecodePrediction(data, req) {
		return nil
	}
	*req = PredictionRequest{}
	return httpx.DecodeFrom(bytes.NewReader(data), req)
}

// The prediction routes answer tens of thousands of requests a second, where
// encoding/json's reflection is a tenth of the CPU. This file reads the
// common shape of a PredictionRequest without reflection (present writes the
// answer). Anything the fast reader does not fully understand goes to the
// strict decoder, so errors and edge cases stay exactly those of
// encoding/json.

// quickDecodePrediction reads a PredictionRequest of the everyday shape: one
// flat object whose keys are home_team, away_team, competition and kickoff,
// each once, with plain string values (no escapes, no control characters).
// It answers ok false for anything else (odds, escapes, numbers, unknown or
// repeated keys, malformed input), and the caller then decodes strictly.
func quickDecodePrediction(data []byte, req *PredictionRequest) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i++
	var seen [4]bool
	for n := 0; ; n++ {
		i = skipSpace(data, i)
		if i < len(data) && data[i] == '}' && n == 0 {
			i++
			break
		}
		key, j, ok := plainString(data, i)
		if !ok {
			return false
		}
		i = skipSpace(data, j)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		value, j, ok := plainString(data, skipSpace(data, i+1))
		if !ok {
			return false
		}
		var slot int
		switch string(key) {
		case "home_team":
			slot, req.HomeTeam = 0, string(value)
		case "away_team":
			slot, req.AwayTeam = 1, string(value)
		case "competition":
			slot, req.Competition = 2, string(value)
		case "kickoff":
			slot, req.Kickoff = 3, string(value)
		default:
			return false
		}
		if seen[slot] {
			return false
		}
		seen[slot] = true
		i = skipSpace(data, j)
		if i < len(data) && data[i] == ',' {
			i++
			continue
		}
		if i < len(data) && data[i] == '}' {
			i++
			break
		}
		return false
	}
	return skipSpace(data, i) == len(data)
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at data[i] that has no escapes, control
// characters or non-ASCII bytes (those go to the strict decoder, which knows
// how encoding/json treats them).
func plainString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, 0, false
		}
	}
	return nil, 0, false
}
