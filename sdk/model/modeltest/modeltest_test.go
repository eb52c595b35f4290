package modeltest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/model/modeltest"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// linear is a tiny trainable model: base-rate logits plus a slope on the
// first input, fitted by a few steps of gradient descent.
type linear struct {
	mu     sync.RWMutex
	params *params
	width  int
}

type params struct {
	Bias  [3]float64
	Slope [3]float64
}

func newLinear(context.Context, plugin.Env) (model.Model, error) { return &linear{}, nil }

func (l *linear) Describe(context.Context) (model.Description, error) {
	return model.Description{Name: "linear", Version: "1.0.0", Runtime: "go", Trainer: true}, nil
}

func (l *linear) Load(_ context.Context, req model.LoadRequest) error {
	var p params
	if err := json.Unmarshal(req.Artifact, &p); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.params, l.width = &p, len(req.Signature.Inputs)
	return nil
}

func (l *linear) Predict(_ context.Context, req model.PredictRequest) (model.PredictResponse, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.params == nil {
		return model.PredictResponse{}, errors.New("no model loaded")
	}
	var resp model.PredictResponse
	for i, r := range req.Rows {
		if len(r) != l.width {
			return model.PredictResponse{}, fmt.Errorf("row %d has %d values, want %d", i, len(r), l.width)
		}
		resp.Probabilities = append(resp.Probabilities, softmax(l.params, r[0]))
	}
	return resp, nil
}

func softmax(p *params, x float64) soccer.Probabilities {
	var e [3]float64
	var s float64
	for k := range e {
		e[k] = math.Exp(p.Bias[k] + p.Slope[k]*x)
		s += e[k]
	}
	return soccer.Probabilities{Home: e[0] / s, Draw: e[1] / s, Away: e[2] / s}
}

func (l *linear) Train(_ context.Context, req model.TrainRequest) (model.TrainResponse, error) {
	p := &params{}
	for range 200 {
		var gb, gs [3]float64
		for i, r := range req.Rows {
			pr := softmax(p, r[0])
			q := [3]float64{pr.Home, pr.Draw, pr.Away}
			y := map[soccer.Result]int{soccer.HomeWin: 0, soccer.Draw: 1, soccer.AwayWin: 2}[req.Outcomes[i]]
			for k := range q {
				d := q[k]
				if k == y {
					d--
				}
				gb[k] += d
				gs[k] += d * r[0]
			}
		}
		for k := range gb {
			p.Bias[k] -= 0.5 * gb[k] / float64(len(req.Rows))
			p.Slope[k] -= 0.5 * gs[k] / float64(len(req.Rows))
		}
	}
	art, err := json.Marshal(p)
	if err != nil {
		return model.TrainResponse{}, err
	}
	return model.TrainResponse{Artifact: art, Signature: model.Signature{Inputs: req.Columns, Outputs: model.Outputs}}, nil
}

func TestLinearConforms(t *testing.T) {
	modeltest.Run(t, newLinear, modeltest.Options{})
}

func TestSignatureMismatchNamesColumns(t *testing.T) {
	sig := model.Signature{Inputs: []soccer.Column{{Name: "elo_diff", Type: "double"}, {Name: "form", Type: "double"}}}
	err := sig.CheckInputs([]soccer.Column{{Name: "elo_diff", Type: "double"}, {Name: "rest_days", Type: "double"}, {Name: "x", Type: "long"}})
	if err == nil {
		t.Fatal("mismatch accepted")
	}
	for _, want := range []string{`"form"`, `"rest_days"`, `"x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
