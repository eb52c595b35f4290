// Package modeltest is the conformance suite of model plugins. Every check
// runs against the implementation directly and through the real gRPC shim
// in-process; both must give the very same forecasts.
package modeltest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/internal/shim"
	"github.com/soccerpredict/soccerpredict/sdk/internal/shimtest"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/plugin/plugintest"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// Options configure the suite.
type Options struct {
	// Settings are the plugin's settings as in host config: a map or a
	// struct (encoded as JSON, as the host does), or plugin.Settings.
	Settings any
	// Artifact and Signature are a model to load. When empty, the plugin must
	// be a Trainer and the suite trains one on synthetic data.
	Artifact  []byte
	Signature model.Signature
	// Rows to predict; nil means synthetic rows of the signature's width.
	Rows [][]float64
}

// Run runs the conformance suite.
func Run(t *testing.T, factory model.Factory, opts Options) {
	t.Helper()
	env := plugintest.Env(t, "under-test", opts.Settings)
	direct, err := factory(context.Background(), env)
	if err != nil {
		t.Fatalf("factory: %v", err)
	}
	remote := shimtest.Dispense(t, wire.KindModel, shim.ModelPlugin("under-test", "0.0.0-test", factory), env.Settings).(model.Model)

	var answers [][]soccer.Probabilities
	for _, c := range []struct {
		name string
		m    model.Model
	}{{"direct", direct}, {"grpc", remote}} {
		t.Run(c.name, func(t *testing.T) {
			answers = append(answers, check(t, c.m, opts))
		})
	}
	t.Run("grpc equals direct", func(t *testing.T) {
		if len(answers) != 2 {
			t.Skip("an earlier check failed")
		}
		if !reflect.DeepEqual(answers[0], answers[1]) {
			t.Fatalf("the gRPC shim changed the forecasts: direct and gRPC answers differ")
		}
	})
}

func check(t *testing.T, m model.Model, opts Options) []soccer.Probabilities {
	ctx := context.Background()
	d, err := m.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	_, served := m.(*wire.ModelClient)
	if d.Runtime == "" || served && (d.Name == "" || d.Version == "") { // Serve fills in a name and version left empty
		t.Errorf("Describe: name %q, version %q and runtime %q must all be set", d.Name, d.Version, d.Runtime)
	}
	_, isTrainer := m.(model.Trainer)
	if !served && d.Trainer != isTrainer {
		t.Errorf("Describe says Trainer=%v but the implementation's Trainer capability is %v", d.Trainer, isTrainer)
	}
	t.Run("predict before load fails", func(t *testing.T) {
		if _, err := m.Predict(ctx, model.PredictRequest{Rows: [][]float64{{0}}}); err == nil {
			t.Fatalf("Predict before Load succeeded")
		}
	})

	artifact, sig := opts.Artifact, opts.Signature
	if len(artifact) == 0 {
		if !d.Trainer {
			t.Fatalf("no artifact given and the plugin cannot train")
		}
		artifact, sig = trainAndCheck(t, m.(model.Trainer))
	}
	if err := m.Load(ctx, model.LoadRequest{Artifact: artifact, Signature: sig}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	rows := opts.Rows
	if rows == nil {
		rows = Rows(len(sig.Inputs), 64, 3)
	}
	resp, err := m.Predict(ctx, model.PredictRequest{Rows: rows})
	if err != nil {
		t.Fatalf("Predict: %v", err)
	}
	if len(resp.Probabilities) != len(rows) {
		t.Fatalf("Predict: %d forecasts for %d rows", len(resp.Probabilities), len(rows))
	}
	for i, p := range resp.Probabilities {
		if err := p.Validate(); err != nil {
			t.Errorf("row %d: %v", i, err)
		}
	}
	// A goals model's markets (model API 1.1): none, or a valid one per row.
	if resp.Markets != nil && len(resp.Markets) != len(rows) {
		t.Fatalf("Predict: markets for %d of %d rows (want none or one per row)", len(resp.Markets), len(rows))
	}
	for i, mk := range resp.Markets {
		if err := mk.Validate(); err != nil {
			t.Errorf("row %d markets: %v", i, err)
		}
	}
	t.Run("rows keep their order", func(t *testing.T) {
		rev := slices.Clone(rows)
		slices.Reverse(rev)
		got, err := m.Predict(ctx, model.PredictRequest{Rows: rev})
		if err != nil {
			t.Fatalf("Predict: %v", err)
		}
		slices.Reverse(got.Probabilities)
		slices.Reverse(got.Markets)
		if !reflect.DeepEqual(got.Probabilities, resp.Probabilities) || !reflect.DeepEqual(got.Markets, resp.Markets) {
			t.Fatalf("forecasts depend on the position of a row in the batch")
		}
	})
	t.Run("concurrent predictions", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				i := g % len(rows)
				got, err := m.Predict(ctx, model.PredictRequest{Rows: rows[i : i+1]})
				if err != nil {
					errs <- err.Error()
					return
				}
				if !near(got.Probabilities[0], resp.Probabilities[i]) {
					errs <- fmt.Sprintf("a concurrent single-row prediction %+v differs from the batched one %+v", got.Probabilities[0], resp.Probabilities[i])
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	})
	t.Run("wrong row width fails", func(t *testing.T) {
		wide := [][]float64{make([]float64, len(sig.Inputs)+1)}
		if _, err := m.Predict(ctx, model.PredictRequest{Rows: wide}); err == nil {
			t.Fatalf("Predict accepted a row of %d values for %d inputs", len(wide[0]), len(sig.Inputs))
		}
	})
	return resp.Probabilities
}

func trainAndCheck(t *testing.T, tr model.Trainer) ([]byte, model.Signature) {
	t.Helper()
	req := TrainingSet(4, 600, 7)
	first, err := tr.Train(context.Background(), req)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	if err := first.Signature.CheckInputs(req.Columns); err != nil {
		t.Errorf("trained signature: %v", err)
	}
	if !reflect.DeepEqual(first.Signature.Outputs, model.Outputs) {
		t.Errorf("trained signature outputs %v, want %v", first.Signature.Outputs, model.Outputs)
	}
	second, err := tr.Train(context.Background(), req)
	if err != nil {
		t.Fatalf("second Train: %v", err)
	}
	if !bytes.Equal(first.Artifact, second.Artifact) {
		t.Errorf("training twice with the same data and seed gave different artifacts")
	}
	if rt, ok := tr.(model.RowTrainer); ok {
		// The same rows one at a time, in a reused slice, as Serve hands them.
		header := model.TrainRequest{Columns: req.Columns, Params: req.Params, Seed: req.Seed}
		streamed, err := rt.TrainRows(context.Background(), header, func(yield func([]float64, soccer.Result, *model.Played) bool) error {
			row := make([]float64, len(req.Columns))
			for i, r := range req.Rows {
				copy(row, r)
				var played *model.Played
				if i < len(req.Played) {
					played = &req.Played[i]
				}
				if !yield(row, req.Outcomes[i], played) {
					return nil
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("TrainRows: %v", err)
		}
		if !bytes.Equal(streamed.Artifact, first.Artifact) {
			t.Errorf("TrainRows on the rows Train was given made another artifact")
		}
	}
	return first.Artifact, first.Signature
}

// batchTolerance allows for kernels that sum in a different order for a
// different batch size (float32 runtimes differ in the 7th digit).
const batchTolerance = 1e-6

func near(a, b soccer.Probabilities) bool {
	return math.Abs(a.Home-b.Home) <= batchTolerance && math.Abs(a.Draw-b.Draw) <= batchTolerance && math.Abs(a.Away-b.Away) <= batchTolerance
}

// Rows makes n deterministic feature rows of the given width.
func Rows(width, n int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = make([]float64, width)
		for j := range rows[i] {
			rows[i][j] = rng.NormFloat64()
		}
	}
	return rows
}

// TrainingSet makes a deterministic training set in which the first column
// carries signal about the outcome.
func TrainingSet(width, n int, seed uint64) model.TrainRequest {
	rng := rand.New(rand.NewPCG(seed, 11))
	rows := Rows(width, n, seed)
	req := model.TrainRequest{Rows: rows, Seed: int64(seed)}
	for j := range width {
		req.Columns = append(req.Columns, soccer.Column{Name: "x" + string(rune('a'+j)), Type: "double"})
	}
	// Goals are Poisson with rates that follow the first column, as in a
	// real league (about 1.5 home and 1.2 away goals a match); the outcome
	// is the score's. Matches are a day apart, the last one on 2024-05-19.
	last := time.Date(2024, 5, 19, 15, 0, 0, 0, time.UTC)
	for i, r := range rows {
		x := max(-2, min(2, r[0]))
		h, a := poisson(rng, math.Exp(0.4+0.25*x)), poisson(rng, math.Exp(0.18-0.25*x))
		req.Outcomes = append(req.Outcomes, soccer.ResultOf(h, a))
		req.Played = append(req.Played, model.Played{Kickoff: last.AddDate(0, 0, i-n+1), HomeGoals: h, AwayGoals: a})
	}
	return req
}

// poisson draws a Poisson count (Knuth's method: the rates here are small).
func poisson(rng *rand.Rand, lambda float64) int {
	limit, k, p := math.Exp(-lambda), 0, rng.Float64()
	for p > limit {
		k++
		p *= rng.Float64()
	}
	return k
}
