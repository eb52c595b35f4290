package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPredictHTTP is a synchronous prediction through HTTP from 64
// concurrent clients over loopback, reporting latency percentiles: "uncached"
// asks a new fixture every time (HTTP, the ratings feature plugin and the
// onnx model plugin, two gRPC hops); "cached" asks the same fixture, answered
// from the generation's cache after the first time.
func BenchmarkPredictHTTP(b *testing.B) {
	b.Run("uncached", func(b *testing.B) { benchPredict(b, true) })
	b.Run("cached", func(b *testing.B) { benchPredict(b, false) })
}

func benchPredict(b *testing.B, vary bool) {
	w := setup(&testing.T{})
	url := w.server.URL + "/v1/predictions"
	var n atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(32) // × GOMAXPROCS(2) = 64 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			minute := int64(0)
			if vary {
				minute = n.Add(1)
			}
			body := fmt.Sprintf(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "%s"}`,
				time.Date(2024, 8, 17, 14, 0, 0, 0, time.UTC).Add(time.Duration(minute)*time.Minute).Format(time.RFC3339))
			start := time.Now()
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "req/s")
	}
}
