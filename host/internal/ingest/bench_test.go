package ingest

import (
	"context"
	"testing"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// BenchmarkIngestShipped ingests the 25 shipped files (9,548 matches) through
// the real plugin process into an empty store, and then again (all unchanged).
func BenchmarkIngestShipped(b *testing.B) {
	for name, open := range map[string]func(testing.TB) store.Store{"sqlite": sqlite, "postgres": postgres} {
		b.Run(name, func(b *testing.B) {
			src, _ := footballdata(b, map[string]any{"dir": testbin.Data()})
			for b.Loop() {
				b.StopTimer()
				s := open(b)
				r := runner(b, s)
				b.StartTimer()
				if _, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src}); err != nil {
					b.Fatal(err)
				}
				if _, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
