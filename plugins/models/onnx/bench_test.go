package onnx

import (
	"context"
	"testing"

	"github.com/soccerpredict/soccerpredict/sdk/model"
)

// BenchmarkPredict20 is one Predict of 20 rows (a typical coalesced batch
// at 64 clients) with the logistic regression.
func BenchmarkPredict20(b *testing.B) {
	req := dataset(2000, 5)
	y := make([]int, len(req.Outcomes))
	for i, o := range req.Outcomes {
		y[i] = map[string]int{"H": 0, "D": 1, "A": 2}[string(o)]
	}
	lr, _ := fitLogReg(req.Rows, y, 0.001, nil, nil)
	m, _ := New(library(b))
	m.Load(context.Background(), model.LoadRequest{Artifact: lr.onnx(), Signature: model.Signature{Inputs: req.Columns, Outputs: model.Outputs}})
	rows := req.Rows[:20]
	b.ResetTimer()
	for range b.N {
		m.Predict(context.Background(), model.PredictRequest{Rows: rows})
	}
}
