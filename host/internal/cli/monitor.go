package cli

import (
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/model"
)

// keepReference stores a new version's drift reference: its most recent
// training rows and its own forecasts of them. A failure is a warning: the
// version is registered and serves; only its drift cannot be measured.
func keepReference(e env, parts predictionParts, mv store.ModelVersion, rows [][]float64) {
	if len(rows) == 0 {
		return
	}
	m := pluginhost.ModelOf(parts.model)
	ref := store.Reference{Rows: rows}
	for _, c := range mv.Signature.Inputs {
		ref.Columns = append(ref.Columns, c.Name)
	}
	err := m.Load(e.ctx, model.LoadRequest{Artifact: mv.Artifact, Signature: mv.Signature})
	for start := 0; err == nil && start < len(rows); start += 2000 {
		var resp model.PredictResponse
		resp, err = m.Predict(e.ctx, model.PredictRequest{Rows: rows[start:min(start+2000, len(rows))]})
		for _, p := range resp.Probabilities {
			ref.Probabilities = append(ref.Probabilities, [3]float64{p.Home, p.Draw, p.Away})
		}
	}
	if err == nil {
		err = parts.store.SaveReference(e.ctx, mv.Version, ref)
	}
	if err != nil {
		parts.log.Warn("cannot keep the version's drift reference; its drift will not be measured", "version", mv.Version, "error", err)
	}
}
