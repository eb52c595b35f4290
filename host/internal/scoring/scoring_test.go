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

// Calibrate by hand: two matches forecast 0.6/0.2/0.2, one home win and one
// draw. Home is forecast 60% and happened 50%: over-predicted by 10 points,
// z = (1.2 − 1)/sqrt(2·0.6·0.4).
func TestCalibrateByHand(t *testing.T) {
	p := soccer.Probabilities{Home: 0.6, Draw: 0.2, Away: 0.2}
	cs, err := Calibrate([]soccer.Probabilities{p, p}, []soccer.Result{soccer.HomeWin, soccer.Draw})
	if err != nil {
		t.Fatal(err)
	}
	home, draw, away := cs[0], cs[1], cs[2]
	if home.Outcome != "home" || math.Abs(home.Error-0.1) > 1e-12 || math.Abs(home.Z-0.2/math.Sqrt(0.48)) > 1e-12 {
		t.Fatalf("home %+v", home)
	}
	if math.Abs(draw.Error+0.3) > 1e-12 || draw.Z >= 0 || math.Abs(away.Error-0.2) > 1e-12 || away.Observed != 0 {
		t.Fatalf("draw %+v away %+v", draw, away)
	}
	if _, err := Calibrate(nil, nil); err == nil {
		t.Fatal("no forecasts calibrated")
	}
	iv := Bootstrap([]float64{1, 2, 3, 4}, 100, 1)
	if math.Abs(iv.StdErr-math.Sqrt(5.0/3/4)) > 1e-12 {
		t.Fatalf("standard error %v", iv.StdErr)
	}
}
