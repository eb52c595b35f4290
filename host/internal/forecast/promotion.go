package forecast

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
)

// Gate is what a challenger must show to replace the champion.
type Gate struct {
	Competition string
	Seasons     []string
	// MinRPSGain and MinLogLossGain are how much lower the challenger's RPS
	// and log-loss must be; MaxECEIncrease how much worse its calibration may be.
	MinRPSGain     float64
	MinLogLossGain float64
	MaxECEIncrease float64
}

// Backtest is the evidence for a promotion: both models' recipes, retrained
// walk-forward on the same recent matches.
type Backtest struct {
	Champion   SeasonEvaluation `json:"champion"`
	Challenger SeasonEvaluation `json:"challenger"`
	Passed     bool             `json:"passed"`
	Reasons    []string         `json:"reasons"`
}

// RunBacktest retrains each version's recipe (its model plugin's params) for
// every test season on the matches before it and scores both on the same
// matches, then applies the gate.
func (s *Spool) RunBacktest(ctx context.Context, m PredictingTrainer, modelPlugin string, champion, challenger store.ModelVersion, gate Gate) (Backtest, error) {
	return runBacktest(ctx, s, s.schema, m, modelPlugin, champion, challenger, gate)
}

func runBacktest(ctx context.Context, d past, schema features.Schema, m PredictingTrainer, modelPlugin string, champion, challenger store.ModelVersion,
	gate Gate) (Backtest, error) {
	eval := func(v store.ModelVersion) (SeasonEvaluation, error) {
		if v.ModelPlugin != modelPlugin {
			return SeasonEvaluation{}, fmt.Errorf("v%d was trained by model plugin %q; the backtest runs %q", v.Version, v.ModelPlugin, modelPlugin)
		}
		if v.FeatureSchemaVersion != schema.Version {
			return SeasonEvaluation{}, fmt.Errorf("v%d was trained on feature schema %s; the feature plugin serves %s", v.Version, v.FeatureSchemaVersion, schema.Version)
		}
		var params map[string]any
		if len(v.Params) > 0 {
			if err := json.Unmarshal(v.Params, &params); err != nil {
				return SeasonEvaluation{}, fmt.Errorf("v%d params: %w", v.Version, err)
			}
		}
		ev, err := evaluate(ctx, d, Trainer{Model: m, ModelPlugin: modelPlugin, Params: params}, m, gate.Competition, gate.Seasons, nil)
		if err != nil {
			return SeasonEvaluation{}, fmt.Errorf("backtest v%d: %w", v.Version, err)
		}
		return ev.Overall, nil
	}
	var bt Backtest
	var err error
	if bt.Champion, err = eval(champion); err != nil {
		return Backtest{}, err
	}
	if bt.Challenger, err = eval(challenger); err != nil {
		return Backtest{}, err
	}
	c, h := bt.Champion, bt.Challenger
	if h.Model.RPS > c.Model.RPS-gate.MinRPSGain {
		bt.Reasons = append(bt.Reasons, fmt.Sprintf("RPS %.4f is not at least %.4f below the champion's %.4f", h.Model.RPS, gate.MinRPSGain, c.Model.RPS))
	}
	if h.Model.LogLoss > c.Model.LogLoss-gate.MinLogLossGain {
		bt.Reasons = append(bt.Reasons, fmt.Sprintf("log-loss %.4f is not at least %.4f below the champion's %.4f", h.Model.LogLoss, gate.MinLogLossGain, c.Model.LogLoss))
	}
	if h.ModelECE > c.ModelECE+gate.MaxECEIncrease {
		bt.Reasons = append(bt.Reasons, fmt.Sprintf("calibration error %.4f is worse than the champion's %.4f by more than %.4f", h.ModelECE, c.ModelECE, gate.MaxECEIncrease))
	}
	bt.Passed = len(bt.Reasons) == 0
	return bt, nil
}

// PreviousChampion is the version the champion pointed at before the current
// generation's version, for rollback.
func PreviousChampion(history []store.Generation) (int, error) {
	if len(history) == 0 {
		return 0, fmt.Errorf("rollback: no generations yet")
	}
	cur := history[0].Version
	for _, g := range history[1:] {
		if g.Version != cur {
			return g.Version, nil
		}
	}
	return 0, fmt.Errorf("rollback: v%d is the only champion there has been", cur)
}
