// Command liar is a model plugin for tests: it answers its first prediction
// honestly (so it passes the host's warm-up) and every later one with
// probabilities that are not a distribution, to check the host never passes
// them on. With the setting {"mode": "priced"} it lies only for rows whose
// market_available feature (the ratings plugin's "pre-match price given"
// column, found by name in the signature it loads) is 1,
// so one batch can hold honest and lying rows (its first answer is honest).
package main

import (
	"context"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/serve"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

type liar struct {
	priced   bool
	pricedAt int // index of market_available, -1 when the signature has none
	loaded   bool
	calls    int
}

func (l *liar) Describe(context.Context) (model.Description, error) {
	return model.Description{Name: "liar", Version: "0.0.1", Runtime: "lies"}, nil
}

func (l *liar) Load(_ context.Context, req model.LoadRequest) error {
	l.loaded, l.pricedAt = true, -1
	for i, c := range req.Signature.Inputs {
		if c.Name == "market_available" {
			l.pricedAt = i
		}
	}
	return nil
}

func (l *liar) Predict(_ context.Context, req model.PredictRequest) (model.PredictResponse, error) {
	if !l.loaded {
		return model.PredictResponse{}, plugin.NotReady("no model loaded")
	}
	l.calls++
	p := soccer.Probabilities{Home: 0.9, Draw: 0.9, Away: 0.9}
	if l.calls == 1 {
		p = soccer.Probabilities{Home: 0.5, Draw: 0.25, Away: 0.25}
	}
	out := model.PredictResponse{}
	for _, r := range req.Rows {
		row := p
		if l.priced && l.calls > 1 {
			row = soccer.Probabilities{Home: 0.5, Draw: 0.25, Away: 0.25}
			if l.pricedAt >= 0 && l.pricedAt < len(r) && r[l.pricedAt] == 1 {
				row = soccer.Probabilities{Home: 0.9, Draw: 0.9, Away: 0.9}
			}
		}
		out.Probabilities = append(out.Probabilities, row)
	}
	return out, nil
}

func main() {
	serve.Model("liar", func(_ context.Context, env plugin.Env) (model.Model, error) {
		var s struct {
			Mode string `json:"mode"`
		}
		if err := env.Settings.Decode(&s); err != nil {
			return nil, err
		}
		return &liar{priced: s.Mode == "priced"}, nil
	})
}
