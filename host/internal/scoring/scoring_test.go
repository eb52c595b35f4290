package scoring

import (
	"math"
	"testing"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

func TestScoresByHand(t *testing.T) {
	ps := []soccer.Probabilities{{Home: 0.5, Draw: 0.3, Away: 0.2}, {Home: 0.2, Draw: 0.3, Away: 0.5}}
	rs := []soccer.Result{soccer.HomeWin, soccer.HomeWin}
	s, err := Evaluate(ps, rs)
	if err != nil {
		t.Fatal(err)
	}
	wantLL := (-math.Log(0.5) - math.Log(0.2)) / 2
	wantBrier := ((0.25 + 0.09 + 0.04) + (0.64 + 0.09 + 0.25)) / 2
	wantRPS := (0.5*(0.25+0.04) + 0.5*(0.64+0.25)) / 2
	for name, c := range map[string][2]float64{"log-loss": {s.LogLoss, wantLL}, "Brier": {s.Brier, wantBrier}, "RPS": {s.RPS, wantRPS}} {
		if math.Abs(c[0]-c[1]) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
	if _, err := Evaluate(ps, []soccer.Result{"X", "H"}); err == nil {
		t.Error("result X accepted")
	}
}

func TestPerfectCalibration(t *testing.T) {
	var ps []soccer.Probabilities
	var rs []soccer.Result
	for i := range 10 {
		ps = append(ps, soccer.Probabilities{Home: 0.5, Draw: 0.3, Away: 0.2})
		rs = append(rs, []soccer.Result{"H", "H", "H", "H", "H", "D", "D", "D", "A", "A"}[i])
	}
	if e, _ := ECE(ps, rs, 10); math.Abs(e) > 1e-12 {
		t.Fatalf("ECE of calibrated forecasts = %v", e)
	}
}
