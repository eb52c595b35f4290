package onnx

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/soccerpredict/soccerpredict/plugins/models/onnx/onnxgo"
	"github.com/soccerpredict/soccerpredict/plugins/models/onnx/trainer"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/model/modeltest"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/plugin/plugintest"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// library is the ONNX Runtime `make ort` fetched; `make test` sets ONNXRUNTIME_LIB.
func library(t testing.TB) plugin.Env {
	t.Helper()
	lib := os.Getenv("ONNXRUNTIME_LIB")
	if lib == "" {
		lib = filepath.Join("..", "..", "..", DefaultLibrary)
	}
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("ONNX Runtime is required: %v (run `make ort`)", err)
	}
	return env(t, map[string]any{"library": lib})
}

// env is the plugin.Env the host would give for these settings.
func env(t testing.TB, settings any) plugin.Env { return plugintest.Env(t, "test", settings) }

func params(t *testing.T, algorithm string) []byte {
	b, _ := json.Marshal(map[string]any{"algorithm": algorithm})
	return b
}

func TestConformance(t *testing.T) {
	s := library(t)
	modeltest.Run(t, New, modeltest.Options{Settings: s.Settings}) // trains the default (logreg)

	m, err := New(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	req := modeltest.TrainingSet(5, 800, 3)
	req.Params = params(t, "gbt")
	trained, err := m.(model.Trainer).Train(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.Run(t, New, modeltest.Options{Settings: s.Settings, Artifact: trained.Artifact, Signature: trained.Signature})
}

// dataset makes rows where several inputs carry signal, on different scales.
func dataset(n int, seed uint64) model.TrainRequest {
	req := modeltest.TrainingSet(6, n, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i, r := range req.Rows {
		r[1] = r[1]*40 + 1500
		r[2] = math.Abs(r[2]) * 3
		if rng.Float64() < 0.3 {
			r[3] = 0
		}
		req.Rows[i] = r
	}
	return req
}

// trained is every kind of model the project trains, fitted on one dataset.
func trained(t testing.TB) (map[string]trainer.Fitted, model.TrainRequest, [][]float64) {
	t.Helper()
	req := dataset(1500, 5)
	test := dataset(400, 6).Rows
	out := map[string]trainer.Fitted{}
	for name, params := range map[string]string{
		"logreg":                   `{"algorithm": "logreg"}`,
		"logreg with offsets":      `{"l2": 0.1, "unpenalized": ["xb"], "offsets": {"xa": "home", "xe": "away"}}`,
		"logreg with l2_grid":      `{"l2_grid": [0.01, 1, 100]}`,
		"logreg without intercept": `{"l2": 0.1, "intercept": false, "unpenalized": ["xa"]}`,
		"gbt":                      `{"algorithm": "gbt"}`,
	} {
		r := req
		r.Params = []byte(params)
		f, err := trainer.Fit(context.Background(), r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = f
	}
	return out, req, test
}

// Both runtimes, ONNX Runtime and the pure-Go onnxgo, give what the fitted
// parameters evaluated in Go give, and the same as each other; a row's
// forecast never depends on its batch.
func TestParityOfRuntimes(t *testing.T) {
	fits, _, test := trained(t)
	runtimes := map[string]model.Factory{"onnxruntime": New, "onnxgo": onnxgo.New}
	settings := map[string]plugin.Env{"onnxruntime": library(t), "onnxgo": env(t, nil)}
	for name, f := range fits {
		t.Run(name, func(t *testing.T) {
			got := map[string][]soccer.Probabilities{}
			for rt, factory := range runtimes {
				m, err := factory(context.Background(), settings[rt])
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Load(context.Background(), model.LoadRequest{Artifact: f.Response.Artifact, Signature: f.Response.Signature}); err != nil {
					t.Fatalf("%s: %v", rt, err)
				}
				resp, err := m.Predict(context.Background(), model.PredictRequest{Rows: test})
				if err != nil {
					t.Fatal(err)
				}
				got[rt] = resp.Probabilities
				worst := 0.0
				for i, row := range test {
					worst = math.Max(worst, maxDiff(resp.Probabilities[i], f.Predict(row)))
				}
				if worst >= 1e-5 {
					t.Fatalf("max |%s − Go reference| = %g, want < 1e-5", rt, worst)
				}
				t.Logf("max |%s − Go reference| = %.2g over %d rows", rt, worst, len(test))
				// The host batches concurrent requests: a row's forecast must not
				// depend on what else is in its batch, to the last bit.
				for i, row := range test[:50] {
					alone, err := m.Predict(context.Background(), model.PredictRequest{Rows: [][]float64{row}})
					if err != nil {
						t.Fatal(err)
					}
					if alone.Probabilities[0] != resp.Probabilities[i] {
						t.Fatalf("%s: row %d alone %+v, in a batch of %d %+v", rt, i, alone.Probabilities[0], len(test), resp.Probabilities[i])
					}
				}
			}
			worst := 0.0
			for i := range test {
				p := got["onnxgo"][i]
				worst = math.Max(worst, maxDiff(got["onnxruntime"][i], [3]float64{p.Home, p.Draw, p.Away}))
			}
			if worst > 1e-6 {
				t.Fatalf("max |onnxruntime − onnxgo| = %g, want ≤ 1e-6", worst)
			}
			t.Logf("max |onnxruntime − onnxgo| = %.2g over %d rows", worst, len(test))
		})
	}
}

func maxDiff(p soccer.Probabilities, q [3]float64) float64 {
	return math.Max(math.Abs(p.Home-q[0]), math.Max(math.Abs(p.Draw-q[1]), math.Abs(p.Away-q[2])))
}

// Both trainers learn the signal: better log-loss than the base rates.
func TestTrainersLearn(t *testing.T) {
	m, _ := New(context.Background(), library(t))
	train, test := dataset(3000, 7), dataset(1000, 8)
	base := map[string]float64{}
	for _, o := range train.Outcomes {
		base[string(o)] += 1 / float64(len(train.Outcomes))
	}
	baseLL := 0.0
	for _, o := range test.Outcomes {
		baseLL -= math.Log(base[string(o)]) / float64(len(test.Outcomes))
	}
	for _, alg := range []string{"logreg", "gbt"} {
		train.Params = params(t, alg)
		resp, err := m.(model.Trainer).Train(context.Background(), train)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Load(context.Background(), model.LoadRequest{Artifact: resp.Artifact, Signature: resp.Signature}); err != nil {
			t.Fatal(err)
		}
		pred, _ := m.Predict(context.Background(), model.PredictRequest{Rows: test.Rows})
		ll := 0.0
		for i, o := range test.Outcomes {
			p := map[string]float64{"H": pred.Probabilities[i].Home, "D": pred.Probabilities[i].Draw, "A": pred.Probabilities[i].Away}[string(o)]
			ll -= math.Log(p) / float64(len(test.Outcomes))
		}
		if ll >= baseLL {
			t.Errorf("%s: held-out log-loss %.4f, base rates %.4f", alg, ll, baseLL)
		}
	}
}

func TestBadInputsAreNamed(t *testing.T) {
	m, _ := New(context.Background(), library(t))
	tr := m.(model.Trainer)
	req := dataset(100, 1)
	req.Params = []byte(`{"algorithm": "forest"}`)
	if _, err := tr.Train(context.Background(), req); err == nil || !strings.Contains(err.Error(), "forest") {
		t.Errorf("unknown algorithm: %v", err)
	}
	req.Params = []byte(`{"rounds": 10, "learnig_rate": 1}`)
	if _, err := tr.Train(context.Background(), req); err == nil || !strings.Contains(err.Error(), "learnig_rate") {
		t.Errorf("misspelt param: %v", err)
	}
	req.Params = nil
	req.Rows[3][2] = math.NaN()
	if _, err := tr.Train(context.Background(), req); err == nil || !strings.Contains(err.Error(), "row 3") {
		t.Errorf("NaN input: %v", err)
	}
	if err := m.Load(context.Background(), model.LoadRequest{Artifact: []byte("not onnx"), Signature: model.Signature{Inputs: req.Columns, Outputs: model.Outputs}}); err == nil {
		t.Error("garbage loaded as a model")
	}
}

func TestConcurrentPredictAcrossLoad(t *testing.T) {
	m, _ := New(context.Background(), library(t))
	req := dataset(500, 2)
	resp, _ := m.(model.Trainer).Train(context.Background(), req)
	load := func() {
		if err := m.Load(context.Background(), model.LoadRequest{Artifact: resp.Artifact, Signature: resp.Signature}); err != nil {
			t.Error(err)
		}
	}
	load()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if g == 0 && i%10 == 0 {
					load()
				}
				if _, err := m.Predict(context.Background(), model.PredictRequest{Rows: req.Rows[i : i+4]}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// The runtime initialises once per process, so a missing library is checked in a fresh one.
func TestMissingLibraryIsOneClearError(t *testing.T) {
	if os.Getenv("ONNX_MISSING_HELPER") == "1" {
		s := env(t, map[string]any{"library": "/nowhere/libonnxruntime.so.1"})
		_, err := New(context.Background(), s)
		if err == nil {
			t.Fatal("New succeeded without a library")
		}
		os.Stdout.WriteString("ERR:" + err.Error() + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingLibraryIsOneClearError$", "-test.v")
	cmd.Env = append(os.Environ(), "ONNX_MISSING_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ERR:onnx: ONNX Runtime library not found at /nowhere/libonnxruntime.so.1: get it with `make ort`") {
		t.Fatalf("helper said:\n%s", out)
	}
}

// With the market's log-odds as offsets and a strong l2, the model gives
// back the market (the intercepts are the only free part); l2_grid picks
// l2 from a held-out tail of the training rows and says which.
func TestOffsetsShrinkTowardTheMarket(t *testing.T) {
	m, _ := New(context.Background(), library(t))
	rng := rand.New(rand.NewPCG(11, 12))
	cols := []soccer.Column{{Name: "market_log_home_draw", Type: "double"}, {Name: "market_log_away_draw", Type: "double"}, {Name: "noise", Type: "double"}}
	req := model.TrainRequest{Columns: cols}
	market := func() ([]float64, soccer.Probabilities) {
		h, a := 0.2+0.5*rng.Float64(), 0.1+0.4*rng.Float64()
		d := 0.27
		s := h + d + a
		p := soccer.Probabilities{Home: h / s, Draw: d / s, Away: a / s}
		return []float64{math.Log(p.Home / p.Draw), math.Log(p.Away / p.Draw), rng.NormFloat64()}, p
	}
	for range 4000 {
		row, p := market()
		u, r := rng.Float64(), soccer.AwayWin
		switch {
		case u < p.Home:
			r = soccer.HomeWin
		case u < p.Home+p.Draw:
			r = soccer.Draw
		}
		req.Rows, req.Outcomes = append(req.Rows, row), append(req.Outcomes, r)
	}
	req.Params, _ = json.Marshal(map[string]any{"algorithm": "logreg", "l2_grid": []float64{1000, 10000},
		"offsets": map[string]string{"market_log_home_draw": "home", "market_log_away_draw": "away"}})
	resp, err := m.(model.Trainer).Train(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if l2 := resp.Metrics["chosen_l2"]; l2 != 1000 && l2 != 10000 || resp.Metrics["validation_log_loss"] <= 0 {
		t.Fatalf("metrics %v", resp.Metrics)
	}
	if err := m.Load(context.Background(), model.LoadRequest{Artifact: resp.Artifact, Signature: resp.Signature}); err != nil {
		t.Fatal(err)
	}
	var rows [][]float64
	var want []soccer.Probabilities
	for range 200 {
		row, p := market()
		rows, want = append(rows, row), append(want, p)
	}
	pred, err := m.Predict(context.Background(), model.PredictRequest{Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, p := range pred.Probabilities {
		worst = math.Max(worst, math.Max(math.Abs(p.Home-want[i].Home), math.Abs(p.Away-want[i].Away)))
	}
	if worst > 0.03 {
		t.Fatalf("forecasts stray %.3f from the market they were shrunk toward", worst)
	}
	req.Params = []byte(`{"offsets": {"nope": "home"}}`)
	if _, err := m.(model.Trainer).Train(context.Background(), req); err == nil || !strings.Contains(err.Error(), `offsets "nope"`) {
		t.Fatalf("an offset naming no column: %v", err)
	}
}
