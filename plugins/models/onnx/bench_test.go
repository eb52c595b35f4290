package onnx

import (
	"context"
	"testing"

	"github.com/soccerpredict/soccerpredict/plugins/models/onnx/onnxgo"
	"github.com/soccerpredict/soccerpredict/sdk/model"
)

// BenchmarkPredict20 is one Predict of 20 rows (a typical coalesced batch at
// 64 clients) with each trained model in each runtime: ONNX Runtime through
// cgo, and onnxgo in pure Go.
func BenchmarkPredict20(b *testing.B) {
	fits, _, _ := trained(b)
	rows := dataset(20, 9).Rows
	for _, alg := range []string{"logreg", "gbt"} {
		for rt, factory := range map[string]model.Factory{"onnxruntime": New, "onnxgo": onnxgo.New} {
			b.Run(alg+"/"+rt, func(b *testing.B) {
				s := env(b, nil)
				if rt == "onnxruntime" {
					s = library(b)
				}
				m, err := factory(context.Background(), s)
				if err != nil {
					b.Fatal(err)
				}
				f := fits[alg]
				if err := m.Load(context.Background(), model.LoadRequest{Artifact: f.Response.Artifact, Signature: f.Response.Signature}); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := m.Predict(context.Background(), model.PredictRequest{Rows: rows}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
