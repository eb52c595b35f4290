package present

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

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
		if got := r.AppendJSON(nil); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("hand-written\n%s\nencoding/json\n%s", got, want.Bytes())
		}
	})
}
