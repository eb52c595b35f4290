package api

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
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
		p := decodeFrom(bytes.NewReader(data), &strict)
		if ok && p != nil {
			t.Fatalf("the quick reader took %q, the strict decoder refused it: %+v", data, *p)
		}
		if ok && quick != strict {
			t.Fatalf("%q: quick %+v, strict %+v", data, quick, strict)
		}
	})
}

// FuzzPredictionJSON: the hand-written response encoder writes exactly what
// encoding/json writes, for any strings and numbers.
func FuzzPredictionJSON(f *testing.F) {
	f.Add("request-e0-Arsenal-v-Chelsea-20240817T1400", "Arsenal", "Chelsea <&>", "E0", "2324", 0.5, 0.25, 0.25, int64(3), true)
	f.Add("x\u2028y\x00\xff", "K\u00f6ln", "\"q\"\\", "D1", "", 1e-7, 1e21, 0.0, int64(-1), false)
	f.Fuzz(func(t *testing.T, id, home, away, comp, season string, h, d, a float64, gen int64, past bool) {
		for _, v := range []float64{h, d, a} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return // never in a response: the host validates every forecast
			}
		}
		r := PredictionResponse{
			Fixture:       FixtureJSON{ID: id, Competition: comp, Season: season, Kickoff: time.Date(2024, 8, 17, 14, 0, 0, 0, time.UTC), HomeTeam: home, AwayTeam: away},
			Probabilities: ProbabilitiesJSON{h, d, a}, Model: ModelJSON{Name: home, Version: int(gen % 1000)},
			FeatureSchemaVersion: season, Generation: gen, PointInTime: past,
		}
		if past {
			r.Result = &ResultJSON{HomeGoals: 2, AwayGoals: 1, Result: away}
		}
		if gen%2 == 0 && !math.IsInf(h-d, 0) && !math.IsInf(d-a, 0) && !math.IsInf(a-h, 0) {
			r.Market = &MarketJSON{Bookmaker: comp, Probabilities: ProbabilitiesJSON{d, a, h}, Overround: h - d, Edge: ProbabilitiesJSON{h - d, d - a, a - h}}
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(r); err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("hand-written\n%s\nencoding/json\n%s", got, want.Bytes())
		}
	})
}

// FuzzOIPRequest: any infer body, JSON or JSON followed by binary tensors,
// decodes to an error or to tensors whose values match their shapes'
// claims no more than the body holds, never a panic.
func FuzzOIPRequest(f *testing.F) {
	f.Add([]byte(oipRows(2)), -1)
	f.Add([]byte(`{"inputs": [{"name": "home_team", "shape": [1, 1], "datatype": "BYTES", "data": [["Arsenal"]]}]}`), -1)
	f.Add([]byte(`{"inputs": [{"name": "home_team", "shape": [-1], "datatype": "BYTES", "data": [1, null, {}]}]}`), -1)
	bin := `{"inputs": [{"name": "home_team", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 11}}]}`
	f.Add(append([]byte(bin), 7, 0, 0, 0, 'A', 'r', 's', 'e', 'n', 'a', 'l'), len(bin))
	f.Add([]byte(`{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]}`+"\x00\x00\x80?\x00\x00\x00@"), 96)
	f.Fuzz(func(t *testing.T, data []byte, headerLen int) {
		r := httptest.NewRequest("POST", "/v2/models/soccerpredict/infer", bytes.NewReader(data))
		if headerLen >= 0 {
			r.Header.Set(binaryHeader, strconv.Itoa(headerLen))
		}
		req, _, err := decodeREST(r, data)
		if err != nil {
			return
		}
		for _, in := range req.Inputs {
			if len(in.Strings)+len(in.Numbers) > len(data) {
				t.Fatalf("input %q: %d values from a %d-byte body", in.Name, len(in.Strings)+len(in.Numbers), len(data))
			}
		}
	})
}
