package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/pgtest"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// syncBuffer is a bytes.Buffer safe to read while serve writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func fullConfig(t *testing.T, storeYAML string) string {
	t.Helper()
	dir := t.TempDir()
	plugin := func(name, kind, bin string, extra string) string {
		return fmt.Sprintf("  %s:\n    kind: %s\n    path: %s\n    sha256: %s\n%s", name, kind, testbin.Quote(bin), testbin.Digest(t, bin), extra)
	}
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: warn}
ingest: {expectations: %s}
%s
plugins:
%s%s%s%s
sources: [{plugin: footballdata}]
features: {plugin: ratings}
model: {plugin: onnx, params: {algorithm: logreg}}
`, testbin.Quote(filepath.Join(dir, "var")), testbin.Quote(testbin.Expectations()), storeYAML,
		plugin("footballdata", "source", testbin.Plugin(t, "source", "footballdata"), "    config: {dir: "+testbin.Quote(testbin.Data())+"}\n"),
		plugin("ratings", "features", testbin.Plugin(t, "features", "ratings"), ""),
		plugin("onnx", "model", testbin.Plugin(t, "model", "onnx"), "    timeout: 2m\n    config: {library: "+testbin.Quote(testbin.ORT(t))+"}\n"),
		plugin("onnxgo", "model", testbin.PluginIn(t, "model", "onnx", "onnxgo"), "    timeout: 2m\n")+
			plugin("goals", "model", testbin.Plugin(t, "model", "goals"), "    timeout: 2m\n"))
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(cfg), 0o644)
	return path
}

func must(t *testing.T, cfg string, args ...string) string {
	t.Helper()
	code, out, errs := run(t, []string{"SOCCERPREDICT_ACTOR=test"}, append(args, "--config", cfg)...)
	if code != 0 {
		t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errs)
	}
	return out
}

type seen struct {
	version    int
	generation int64
}

// A running server follows promotion and rollback without restart while a
// concurrent load sees no error and never a response mixing versions: with
// SQLite (polling) and with PostgreSQL (LISTEN/NOTIFY; polling only every 30s).
func TestPromotionReachesARunningServer(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		promotionReachesServer(t, fullConfig(t, "store: {driver: sqlite}\nserve: {generation_poll: 200ms}"))
	})
	t.Run("postgres", func(t *testing.T) {
		promotionReachesServer(t, fullConfig(t, "store: {driver: postgres, dsn: "+testbin.Quote(pgtest.Schema(t))+"}\nserve: {generation_poll: 30s}"))
	})
}

func promotionReachesServer(t *testing.T, cfg string) {
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion", "--set", "model.params.l2=5") // v1, weak: heavy L2

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	out := &syncBuffer{}
	served := make(chan int, 1)
	go func() {
		served <- Run(ctx, []string{"serve", "--config", cfg, "--addr", "127.0.0.1:0"}, nil, out, &syncBuffer{})
	}()
	addr := ""
	re := regexp.MustCompile(`on (127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(60 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("serve did not start:\n%s", out.String())
	}
	url := "http://" + addr + "/v1/predictions"

	// Load: sixteen clients, every request a different fixture (no cache
	// hits), so requests are coalesced into batches while generations switch:
	// a batch that mixed generations would show as a generation answering
	// with another version.
	var (
		mu       sync.Mutex
		versions = map[int64]int{} // generation -> version, to catch mixing
		latest   atomic.Value
		failures atomic.Int64
		total    atomic.Int64
		n        atomic.Int64
		done     = make(chan struct{})
		wg       sync.WaitGroup
	)
	latest.Store(seen{})
	teams := []string{"Arsenal", "Chelsea", "Liverpool", "Man City", "Tottenham", "Everton", "Fulham", "Brentford"}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				i := n.Add(1)
				body := fmt.Sprintf(`{"home_team": %q, "away_team": %q, "competition": "E0", "kickoff": "2024-09-%02dT%02d:%02d:00Z"}`,
					teams[i%8], teams[(i+3)%8], 1+i/1440%28, i/60%24, i%60)
				resp, err := http.Post(url, "application/json", strings.NewReader(body))
				total.Add(1)
				if err != nil {
					failures.Add(1)
					continue
				}
				var r struct {
					Model      struct{ Version int } `json:"model"`
					Generation int64                 `json:"generation"`
				}
				json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
					continue
				}
				mu.Lock()
				if v, ok := versions[r.Generation]; ok && v != r.Model.Version {
					failures.Add(1) // a generation answered with another version
				}
				versions[r.Generation] = r.Model.Version
				mu.Unlock()
				latest.Store(seen{r.Model.Version, r.Generation})
			}
		}()
	}
	waitFor := func(want seen) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < 20*time.Second {
			if latest.Load().(seen) == want {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("responses still carry %+v, want %+v", latest.Load(), want)
		return 0
	}
	waitFor(seen{1, 1})

	// A worse challenger is refused, with both models' numbers.
	must(t, cfg, "models", "train", "--set", "model.params.l2=50") // v2
	must(t, cfg, "models", "challenge")
	code, refusal, errs := run(t, nil, "models", "promote", "--config", cfg)
	if code != 1 || !strings.Contains(errs, "refused: challenger v2 does not beat champion v1") ||
		!strings.Contains(refusal, "champion  v1 onnx-logreg") || !strings.Contains(refusal, "challenger  v2 onnx-logreg") {
		t.Fatalf("promote of a worse model: %d\n%s\n%s", code, refusal, errs)
	}

	// A better one passes the gate and reaches the running server.
	must(t, cfg, "models", "train") // v3, the default recipe
	must(t, cfg, "models", "challenge")
	if got := must(t, cfg, "models", "promote"); !strings.Contains(got, "promoted: champion -> v3 (generation 2)") {
		t.Fatalf("promote: %s", got)
	}
	took := waitFor(seen{3, 2})
	t.Logf("promotion reached the server in %v", took)

	// Rollback returns to v1, as a new generation.
	if got := must(t, cfg, "models", "rollback", "--reason", "test"); !strings.Contains(got, "champion v3 -> v1 (generation 3)") {
		t.Fatalf("rollback: %s", got)
	}
	waitFor(seen{1, 3})

	// --force needs a reason and is audited.
	if code, _, errs := run(t, nil, "models", "promote", "--force", "--config", cfg); code != 2 || !strings.Contains(errs, "--force needs --reason") {
		t.Fatalf("force without reason: %d %s", code, errs)
	}
	close(done)
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed or mixed versions during the switches", f, total.Load())
	}
	t.Logf("%d requests, none failed; generations seen: %v", total.Load(), versions)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var batches, fixtures float64
	for _, line := range strings.Split(string(metrics), "\n") {
		fmt.Sscanf(line, "soccerpredict_prediction_batch_size_count %g", &batches)
		fmt.Sscanf(line, "soccerpredict_prediction_batch_size_sum %g", &fixtures)
	}
	if batches == 0 || fixtures/batches < 1.2 {
		t.Fatalf("%g fixtures in %g batches: the load was not coalesced", fixtures, batches)
	}
	t.Logf("%g fixtures in %g batches (mean %.1f)", fixtures, batches, fixtures/batches)
	runs := must(t, cfg, "runs", "list")
	ids := regexp.MustCompile(`(?m)^(\d{8}T\d{6}Z-[0-9a-f]{6})\s+train`).FindAllStringSubmatch(runs, -1)
	if len(ids) != 3 {
		t.Fatalf("runs list shows %d train runs, want 3:\n%s", len(ids), runs)
	}
	cmp := must(t, cfg, "runs", "compare", ids[0][1], ids[2][1])
	if !regexp.MustCompile(`params\s+\{"algorithm":"logreg"\}\s+\{"algorithm":"logreg","l2":5\}\s+\*`).MatchString(cmp) ||
		!strings.Contains(cmp, "train_log_loss") {
		t.Fatalf("runs compare:\n%s", cmp)
	}
	audit := must(t, cfg, "models", "audit")
	for _, want := range []string{"rollback", "promote", "bootstrap"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %s:\n%s", want, audit)
		}
	}
	stop()
	if code := <-served; code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}
