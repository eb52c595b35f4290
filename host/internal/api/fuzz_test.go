package api

import (
	"bytes"
	"testing"

	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
)

// FuzzDecodePrediction: the reflection-free reader of the prediction route
// accepts only what the strict decoder reads the same way, and the strict
// decoder never panics, whatever the body.
func FuzzDecodePrediction(f *testing.F) {
	for _, seed := range []string{
		`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`,
		`{"home_team":"Man City","away_team":"Spurs","competition":"E0","kickoff":"2024-08-17T14:00:00Z"}`,
		`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "odds": {"home": 2.1, "draw": 3.4, "away": 3.6}}`,
		`{"home_team": "K\u00f6ln", "away_team": "Bayern M\u00fcnchen", "competition": "D1"}`,
		`{"home_team": "Arsenal", "home_team": "Chelsea"}`, `{"home_team": "a"} {"x": 1}`, `{"extra": 1}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var quick, strict PredictionRequest
		ok := quickDecodePrediction(data, &quick)
		p := httpx.DecodeFrom(bytes.NewReader(data), &strict)
		if ok && p != nil {
			t.Fatalf("the quick reader took %q, the strict decoder refused it: %+v", data, *p)
		}
		if ok && quick != strict {
			t.Fatalf("%q: quick %+v, strict %+v", data, quick, strict)
		}
	})
}
