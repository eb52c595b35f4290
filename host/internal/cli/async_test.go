package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// proxy forwards TCP to a target and can be cut, like a broker going away.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

// down closes the listener and every forwarded connection.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("re-listen on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func startServe(t *testing.T, ctx context.Context, cfg string) string {
	t.Helper()
	out := &syncBuffer{}
	go Run(ctx, []string{"serve", "--config", cfg, "--addr", "127.0.0.1:0"}, nil, out, &syncBuffer{})
	re := regexp.MustCompile(`on (127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return "http://" + m[1]
		}
	}
	t.Fatalf("serve did not start:\n%s", out.String())
	return ""
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	return testbin.Send(t, "POST", url, body)
}

func waitDone(t *testing.T, base, id string, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(base + "/v1/jobs/" + id)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if v["status"] != "queued" && v["status"] != "running" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still queued after %v", id, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const asyncBody = `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2024-08-17T14:00:00Z"}`

func checkPrediction(t *testing.T, v map[string]any) {
	t.Helper()
	if v["status"] != "succeeded" {
		t.Fatalf("job %v", v)
	}
	p := v["prediction"].(map[string]any)["probabilities"].(map[string]any)
	if s := p["home"].(float64) + p["draw"].(float64) + p["away"].(float64); s < 1-1e-6 || s > 1+1e-6 {
		t.Fatalf("probabilities %v sum to %v", p, s)
	}
}

// The embedded default: serve works async jobs itself through the in-process queue.
func TestAsyncWithTheEmbeddedQueue(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}")
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	base := startServe(t, ctx, cfg)
	code, out := postJSON(t, base+"/v1/predictions/async", asyncBody)
	if code != 202 || out["status"] != "queued" {
		t.Fatalf("%d %v", code, out)
	}
	checkPrediction(t, waitDone(t, base, out["job_id"].(string), 10*time.Second))
	if code, out := postJSON(t, base+"/v1/predictions/async", `{"home_team": "Arsenl", "away_team": "Chelsea", "competition": "E0"}`); code != 422 {
		t.Fatalf("an unknown team must be refused at once: %d %v", code, out)
	}
	if resp, _ := http.Get(base + "/v1/jobs/nope"); resp.StatusCode != 404 {
		t.Fatalf("unknown job: %d", resp.StatusCode)
	}
}

// RabbitMQ and Redis: serve relays jobs, a separate worker works them. While
// the broker is unreachable, jobs are still accepted (they wait in the
// outbox) and synchronous predictions go on; when it is back, they are done.
func TestAsyncThroughRabbitMQSurvivesABrokerOutage(t *testing.T) {
	name := testQueue(t, "jobs")
	broker := newProxy(t, "127.0.0.1:5672")
	serveCfg := fullConfig(t, fmt.Sprintf("store: {driver: sqlite}\nqueue: {driver: rabbitmq, url: \"amqp://guest:guest@%s/\", name: %s, relay_interval: 200ms}\ncache: {driver: redis, prefix: \"test-%s:\"}", broker.addr, name, name))
	must(t, serveCfg, "ingest")
	must(t, serveCfg, "models", "train", "--alias", "champion")
	// The worker reads the same store but reaches the broker directly.
	workerCfg := strings.Replace(serveCfg, ".yaml", "-worker.yaml", 1)
	writeVariant(t, serveCfg, workerCfg, broker.addr, "127.0.0.1:5672")

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	base := startServe(t, ctx, serveCfg)
	workerOut := &syncBuffer{}
	go Run(ctx, []string{"worker", "--config", workerCfg}, nil, workerOut, &syncBuffer{})

	code, out := postJSON(t, base+"/v1/predictions/async", asyncBody)
	if code != 202 {
		t.Fatalf("%d %v", code, out)
	}
	checkPrediction(t, waitDone(t, base, out["job_id"].(string), 30*time.Second))

	broker.down()
	var ids []string
	for range 3 {
		code, out := postJSON(t, base+"/v1/predictions/async", asyncBody)
		if code != 202 {
			t.Fatalf("with the broker down, async must still accept jobs: %d %v", code, out)
		}
		ids = append(ids, out["job_id"].(string))
	}
	if code, _ := postJSON(t, base+"/v1/predictions", asyncBody); code != 200 {
		t.Fatalf("with the broker down, a sync prediction failed: %d", code)
	}
	time.Sleep(time.Second)
	for _, id := range ids {
		resp, _ := http.Get(base + "/v1/jobs/" + id)
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if v["status"] != "queued" {
			t.Fatalf("job %s is %v while the broker is unreachable", id, v)
		}
	}
	broker.up()
	for _, id := range ids {
		checkPrediction(t, waitDone(t, base, id, 30*time.Second))
	}
}

// writeVariant copies a config file, replacing one broker address.
func writeVariant(t *testing.T, from, to, old, new string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, []byte(strings.ReplaceAll(string(b), old, new)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A job whose model plugin cannot launch is not failed for it: the worker
// holds it and waits, spending no delivery, and the job succeeds (in one
// attempt) once the model is back. A model that never comes back is bounded
// by queue.max_job_age: the job then ends failed, with a reason a client
// can read and none of the server's internals, instead of waiting forever.
func TestAJobWaitsForItsModel(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}\nqueue: {max_job_age: 10s}")
	model := testbin.Plugin(t, "model", "onnx")
	breakable := filepath.Join(t.TempDir(), "soccer-model-onnx")
	b, _ := os.ReadFile(model)
	os.WriteFile(breakable, b, 0o755)
	text, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(text), testbin.Quote(model), testbin.Quote(breakable), 1)), 0o644)
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	base := startServe(t, ctx, cfg)
	breakModel := func() {
		resp, err := http.Get(base + "/v1/plugins")
		if err != nil {
			t.Fatal(err)
		}
		var plugins struct {
			Plugins []struct {
				Name string `json:"name"`
				PID  int    `json:"pid"`
			} `json:"plugins"`
		}
		json.NewDecoder(resp.Body).Decode(&plugins)
		resp.Body.Close()
		os.Remove(breakable)
		os.WriteFile(breakable, []byte("#!/bin/sh\nexit 1\n"), 0o755) // no longer the pinned binary
		for _, p := range plugins.Plugins {
			if strings.HasPrefix(p.Name, "onnx@") && p.PID > 0 {
				syscall.Kill(p.PID, syscall.SIGKILL)
			}
		}
	}
	breakModel()
	code, out := postJSON(t, base+"/v1/predictions/async", asyncBody)
	if code != 202 {
		t.Fatalf("%d %v", code, out)
	}
	id := out["job_id"].(string)
	time.Sleep(3 * time.Second)
	if _, v := testbin.Send(t, "GET", base+"/v1/jobs/"+id, ""); v["status"] != "queued" && v["status"] != "running" {
		t.Fatalf("a job whose model is down: %v, want it waiting", v)
	}
	os.Remove(breakable)
	os.WriteFile(breakable, b, 0o755)
	v := waitDone(t, base, id, 30*time.Second)
	if v["status"] != "succeeded" || v["attempts"] != 1.0 {
		t.Fatalf("the job once the model is back: %v, want succeeded in one attempt", v)
	}

	breakModel()
	code, out = postJSON(t, base+"/v1/predictions/async", strings.Replace(asyncBody, "2024-08-17", "2024-08-18", 1))
	if code != 202 {
		t.Fatalf("%d %v", code, out)
	}
	v = waitDone(t, base, out["job_id"].(string), 40*time.Second)
	reason, _ := v["error"].(string)
	if v["status"] != "failed" || !strings.Contains(reason, "submit it again") {
		t.Fatalf("job %v, want failed at queue.max_job_age with a reason", v)
	}
	if strings.Contains(reason, "/") || strings.Contains(reason, "sha256") || strings.Contains(reason, "SHA-256") {
		t.Fatalf("the reason shows the server's internals: %q", reason)
	}
}
