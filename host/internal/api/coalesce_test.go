package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/present"
)

// batchSizes records the coalescer's batches (forecast.Metrics).
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) Predictions(int, int) {}
func (b *batchSizes) Generation(int64)     {}
func (b *batchSizes) Batch(size int, _ []time.Duration) {
	b.mu.Lock()
	b.sizes = append(b.sizes, size)
	b.mu.Unlock()
}

// largest is the largest batch since n batches ago, and how many there were.
func (b *batchSizes) since(n int) (largest, batches int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.sizes[n:] {
		largest = max(largest, s)
	}
	return largest, len(b.sizes) - n
}

func (b *batchSizes) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sizes)
}

// servePredictor starts a predictor of its own (cache off, so every request
// is computed) with the given model plugin over the shared store.
func servePredictor(t *testing.T, modelPlugin string) (string, *batchSizes) {
	t.Helper()
	w := setup(t)
	feat, _ := w.host.Plugin("ratings-train")
	pred := forecast.NewPredictor(w.store, w.host, feat, modelPlugin, hclog.NewNullLogger())
	sizes := &batchSizes{}
	pred.Observe(sizes)
	pred.CacheEntries(0)
	pred.Batch(forecast.Batching{MaxBatch: 32, Concurrency: 2})
	if err := pred.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The server's log goes to the test's: shown when a test fails.
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testLog{t}})
	srv := httptest.NewServer((&Server{Predictor: pred, Logger: log}).Handler())
	t.Cleanup(srv.Close)
	return srv.URL, sizes
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type answer struct {
	status int
	body   []byte
	header http.Header
}

func postRaw(client *http.Client, url, body string) (answer, error) {
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b, resp.Header}, err
}

// concurrently posts every body from clients goroutines and returns the answers in order.
func concurrently(t *testing.T, url string, clients int, bodies []string) []answer {
	t.Helper()
	out := make([]answer, len(bodies))
	var next atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				a, err := postRaw(client, url, bodies[i])
				if err != nil {
					t.Error(err)
					return
				}
				out[i] = a
			}
		}()
	}
	wg.Wait()
	return out
}

// fixtureBodies are distinct fixtures of real Premier League pairs (a kick-off
// minute each), with every fifth one naming a team that does not exist.
func fixtureBodies(n int, withUnknown bool) (bodies []string, unknown []bool) {
	teams := []string{"Arsenal", "Chelsea", "Liverpool", "Everton", "Fulham", "Brentford", "Burnley", "Wolves"}
	for i := range n {
		home, away := teams[i%len(teams)], teams[(i/len(teams)+i+1)%len(teams)]
		if home == away {
			away = teams[(i+3)%len(teams)]
		}
		bad := withUnknown && i%5 == 4
		if bad {
			away = fmt.Sprintf("Nowhere Rovers %d", i)
		}
		kickoff := time.Date(2025, 3, 1, 15, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		bodies = append(bodies, fmt.Sprintf(`{"home_team": %q, "away_team": %q, "competition": "E0", "kickoff": %q}`, home, away, kickoff))
		unknown = append(unknown, bad)
	}
	return bodies, unknown
}

type probabilities struct {
	Home, Draw, Away float64
}

func probsOf(t *testing.T, a answer) probabilities {
	t.Helper()
	var r struct {
		Probabilities probabilities       `json:"probabilities"`
		Fixture       present.FixtureJSON `json:"fixture"`
	}
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("%s: %v", a.body, err)
	}
	return r.Probabilities
}

// Concurrent requests are coalesced into shared plugin calls, and each
// caller gets the very numbers its fixture gets when asked alone (to the
// last bit); unknown teams among them are 422s that touch no one else.
func TestCoalescedPredictionsEqualLoneOnes(t *testing.T) {
	url, sizes := servePredictor(t, "onnx")
	url += "/v1/predictions"
	bodies, unknown := fixtureBodies(400, true)
	alone := make([]answer, len(bodies))
	client := &http.Client{}
	for i, b := range bodies {
		before := sizes.count()
		a, err := postRaw(client, url, b)
		if err != nil {
			t.Fatal(err)
		}
		if largest, _ := sizes.since(before); largest > 1 {
			t.Fatalf("a lone request ran in a batch of %d", largest)
		}
		alone[i] = a
	}
	before := sizes.count()
	together := concurrently(t, url, 32, bodies)
	largest, batches := sizes.since(before)
	valid := 0
	for i := range bodies {
		a, b := alone[i], together[i]
		if unknown[i] {
			if a.status != 422 || b.status != 422 || !bytes.Contains(b.body, []byte("unknown team")) {
				t.Fatalf("unknown team %s: alone %d, together %d %s", bodies[i], a.status, b.status, b.body)
			}
			continue
		}
		if a.status != 200 || b.status != 200 {
			t.Fatalf("%s: alone %d, together %d %s", bodies[i], a.status, b.status, b.body)
		}
		if pa, pb := probsOf(t, a), probsOf(t, b); pa != pb {
			t.Fatalf("%s: alone %+v, in a batch %+v", bodies[i], pa, pb)
		}
		valid++
	}
	if largest < 2 {
		t.Fatalf("%d concurrent predictions ran in %d batches of at most %d: nothing was coalesced", valid, batches, largest)
	}
	t.Logf("%d valid predictions in %d batches (largest %d), each equal to its lone forecast", valid, batches, largest)
}

// A model that answers garbage for some rows of a batch fails only the
// callers of those rows: the rest of the batch is served.
func TestOneBadRowFailsOnlyItsCaller(t *testing.T) {
	url, sizes := servePredictor(t, "liar-priced")
	url += "/v1/predictions"
	plain, _ := fixtureBodies(300, false)
	priced := make([]bool, len(plain))
	for i := range plain {
		if i%3 == 0 { // with a pre-match price: the liar lies for this row
			plain[i] = strings.TrimSuffix(plain[i], "}") + `, "odds": {"home": 2.1, "draw": 3.4, "away": 3.6}}`
			priced[i] = true
		}
	}
	before := sizes.count()
	answers := concurrently(t, url, 32, plain)
	for i, a := range answers {
		switch {
		case priced[i] && (a.status != 500 || bytes.Contains(a.body, []byte("0.9"))):
			t.Fatalf("a lying row was served: %d %s", a.status, a.body)
		case !priced[i] && a.status != 200:
			t.Fatalf("an honest row in a batch with a lying one failed: %d %s", a.status, a.body)
		}
	}
	if largest, batches := sizes.since(before); largest < 2 {
		t.Fatalf("%d batches of at most %d: rows were never mixed in a batch", batches, largest)
	}
}

// Killing the model plugin under concurrent load: the callers of the batch it
// was working on get 503 with Retry-After, never another error, and
// predictions succeed again after the relaunch.
func TestModelPluginKilledMidBatch(t *testing.T) {
	w := setup(t)
	running := func() map[int]bool {
		pids := map[int]bool{}
		for _, st := range w.host.Statuses() {
			if strings.HasPrefix(st.Name, "onnx@") && st.Running {
				pids[st.PID] = true
			}
		}
		return pids
	}
	others := running()
	url, sizes := servePredictor(t, "onnx")
	url += "/v1/predictions"
	var pid int
	for p := range running() {
		if !others[p] {
			pid = p
		}
	}
	if pid == 0 {
		t.Fatal("the predictor's model process is not running")
	}
	var (
		seq      atomic.Int64
		mu       sync.Mutex
		statuses = map[int]int{}
		killed   atomic.Bool
		afterOK  atomic.Int64 // successes after the kill
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := seq.Add(1)
				body := fmt.Sprintf(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": %q}`,
					time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n)*time.Minute).Format(time.RFC3339))
				a, err := postRaw(client, url, body)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				statuses[a.status]++
				mu.Unlock()
				switch {
				case a.status == 200 && killed.Load():
					afterOK.Add(1)
				case a.status == 503 && a.header.Get("Retry-After") == "":
					t.Errorf("503 without Retry-After: %s", a.body)
				case a.status != 200 && a.status != 503:
					t.Errorf("status %d while the model plugin restarts, want 200 or 503: %s", a.status, a.body)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	before := sizes.count()
	syscall.Kill(pid, syscall.SIGKILL)
	killed.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for afterOK.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if afterOK.Load() < 100 {
		t.Fatalf("predictions did not recover after the kill: %v", statuses)
	}
	if largest, _ := sizes.since(before); largest < 2 {
		t.Fatalf("no batch of more than %d after the kill: the load was not coalesced", largest)
	}
	if running()[pid] {
		t.Fatal("the killed process is still listed as running")
	}
	t.Logf("statuses: %v", statuses)
}

// A caller that hangs up before its answer is ready is recorded as 499 and
// not logged: it is not a server error.
func TestClientThatHangsUpIsNotAServerError(t *testing.T) {
	var logged bytes.Buffer
	s := &Server{Logger: hclog.New(&hclog.LoggerOptions{Output: &logged})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest(http.MethodPost, "/v1/predictions", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	s.fail(w, r, fmt.Errorf("prediction: %w", context.Canceled))
	if w.Code != StatusClientClosed || logged.Len() > 0 {
		t.Fatalf("status %d, log %q: want 499 and no log line", w.Code, logged.String())
	}
}
