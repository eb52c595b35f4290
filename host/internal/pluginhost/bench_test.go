package pluginhost

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// BenchmarkPluginRoundTrip is one call from the host to a plugin process and
// back, one caller at a time — the floor under a single caller's prediction,
// which makes two such calls: "describe" carries next to nothing, "predict"
// one feature row of 57 values to a model plugin that answers at once (the
// test liar, so the model costs nothing), "compute" one fixture to the real
// ratings feature plugin.
func BenchmarkPluginRoundTrip(b *testing.B) {
	ctx := context.Background()
	liar, ratings := testbin.Liar(b), testbin.Plugin(b, "features", "ratings")
	h, err := New(map[string]config.Plugin{
		"liar":    {Kind: "model", Path: liar, SHA256: testbin.Digest(b, liar), Timeout: time.Minute, StartTimeout: 20 * time.Second, Config: map[string]any{"mode": "priced"}},
		"ratings": {Kind: "features", Path: ratings, SHA256: testbin.Digest(b, ratings), Timeout: time.Minute, StartTimeout: 20 * time.Second},
	}, hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: io.Discard}))
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	mp, _ := h.Plugin("liar")
	fp, _ := h.Plugin("ratings")
	m, fs := ModelOf(mp), FeaturesOf(fp)
	if err := m.Load(ctx, model.LoadRequest{Artifact: []byte("x")}); err != nil {
		b.Fatal(err)
	}
	row := make([]float64, 57)
	fixture := soccer.Fixture{ID: "bench", Competition: "E0", Season: "2425", Kickoff: time.Date(2024, 8, 17, 14, 0, 0, 0, time.UTC), HomeTeam: "Arsenal", AwayTeam: "Chelsea"}
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"describe", func() error { _, err := m.Describe(ctx); return err }},
		{"predict", func() error { _, err := m.Predict(ctx, model.PredictRequest{Rows: [][]float64{row}}); return err }},
		{"compute", func() error {
			_, err := fs.Compute(ctx, features.ComputeRequest{Fixtures: []soccer.Fixture{fixture}})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			if err := c.call(); err != nil { // launched and warm
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
