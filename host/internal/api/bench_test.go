package api

import (
	"bytes"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkPredictHTTP is a synchronous prediction through HTTP, the real
// ratings feature plugin and the real onnx model plugin, from 64 concurrent
// clients over loopback. It reports latency percentiles beside ns/op.
func BenchmarkPredictHTTP(b *testing.B) {
	w := setup(&testing.T{})
	url := w.server.URL + "/v1/predictions"
	body := []byte(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2024-08-17T14:00:00Z"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(32) // × GOMAXPROCS(2) = 64 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
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
