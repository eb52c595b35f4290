// Command liar is a model plugin for tests: it answers its first prediction
// honestly (so it passes the host's warm-up) and every later one with
// probabilities that are not a distribution, to check the host never passes
// them on. With the setting {"mode": "priced"} it lies only for rows whose
// market_available feature (the ratings plugin's "pre-match price given"
// column, found by name in the signature it loads) is 1,
// so one batch can hold honest and lying rows (its first answer is honest).
// With {"mode": "refuse", "kind": K} it refuses every prediction after the
// first with the sdk's error of kind K (invalid, not-found, unsupported,
// not-ready), in words meant for the caller.
package main

import (
	"context"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/serve"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

type liar struct {
	refuse   func(format string, args ...any) error
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
	if l.refuse != nil && l.calls > 1 {
		return model.PredictResponse{}, l.refuse("the liar refuses %d rows", len(req.Rows))
	}
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
			Kind string `json:"kind"`
		}
		if err := env.Settings.Decode(&s); err != nil {
			return nil, err
		}
		l := &liar{priced: s.Mode == "priced"}
		if s.Mode == "refuse" {
			kinds := map[string]func(string, ...any) error{"invalid": plugin.Invalid, "not-found": plugin.NotFound,
				"unsupported": plugin.Unsupported, "not-ready": plugin.NotReady}
			if l.refuse = kinds[s.Kind]; l.refuse == nil {
				return nil, plugin.Invalid("kind %q: want invalid, not-found, unsupported or not-ready", s.Kind)
			}
		}
		return l, nil
	})
}
