package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/pgtest"
	"github.com/soccerpredict/soccerpredict/host/internal/queue/rabbitqueue"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
	"github.com/soccerpredict/soccerpredict/host/webhook"
)

// testQueue is a RabbitMQ queue name of the test's own, purged when it ends.
func testQueue(t *testing.T, kind string) string {
	b := make([]byte, 4)
	rand.Read(b)
	name := "soccerpredict.test." + kind + "." + hex.EncodeToString(b)
	t.Cleanup(func() {
		q := rabbitqueue.New("amqp://guest:guest@127.0.0.1:5672/", name, 1)
		q.Purge()
		q.Close()
	})
	return name
}

// process is a real soccerpredict process of a test, in its own process group.
type process struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
}

// startProcess starts the host binary and waits for ready in its output.
func startProcess(t *testing.T, ready string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(testbin.Host(t), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(p.stdout.String(), ready); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%v did not start:\n%s\n%s", args, p.stdout.String(), p.stderr.String())
		}
	}
	return p
}

// kill ends the process and its plugins at once, as a crash would.
func (p *process) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd.Wait()
}

func (p *process) addr() string {
	return "http://" + regexp.MustCompile(`on (127\.0\.0\.1:\d+)`).FindStringSubmatch(p.stdout.String())[1]
}

// plugin returns the PID of the process's child whose command line holds name.
func (p *process) plugin(t *testing.T, name string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		// stat: pid (comm) state ppid ...
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(p.cmd.Process.Pid) && strings.Contains(string(cmdline), name) {
			return pid
		}
	}
	t.Fatalf("no %s plugin under process %d", name, p.cmd.Process.Pid)
	return 0
}

// receiver is a webhook receiver: it verifies each delivery's signature and
// can be down (not listening) or up.
type receiver struct {
	t      *testing.T
	secret []byte
	addr   string
	mu     sync.Mutex
	srv    *http.Server
	got    []map[string]any // verified deliveries
	bad    []string         // deliveries that failed verification
}

func newReceiver(t *testing.T, secret []byte) *receiver {
	// Reserve a port, then leave it closed: the receiver starts down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, secret: secret, addr: ln.Addr().String()}
	ln.Close()
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.srv != nil {
			r.srv.Close()
		}
	})
	return r
}

func (r *receiver) up() {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("receiver listen on %s: %v", r.addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := webhook.Verify(r.secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), 0); err != nil {
			r.bad = append(r.bad, err.Error())
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var v map[string]any
		json.Unmarshal(body, &v)
		v["attempt_header"] = req.Header.Get(webhook.AttemptHeader)
		v["job_header"] = req.Header.Get(webhook.JobHeader)
		r.got = append(r.got, v)
		w.WriteHeader(http.StatusNoContent)
	})}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

func (r *receiver) deliveries() ([]map[string]any, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.got...), append([]string(nil), r.bad...)
}

func (r *receiver) url(path string) string { return "http://" + r.addr + path }

// The asynchronous guarantees with the production parts: PostgreSQL,
// RabbitMQ and Redis, two API processes and a worker process, API keys on.
func TestJobGuaranteesOnPostgresAndRabbitMQ(t *testing.T) {
	name := testQueue(t, "guarantees")
	secret := "test-webhook-secret-0123456789"
	cfg := fullConfig(t, fmt.Sprintf(`store: {driver: postgres, dsn: %s}
queue: {driver: rabbitmq, name: %s, relay_interval: 200ms}
cache: {driver: redis, prefix: "test-%s:"}
auth: {required: true, cache_for: 1s}
webhooks: {allowed_hosts: ["127.0.0.1"], secret: %q, backoff: 300ms, max_backoff: 1s, max_attempts: 20, timeout: 2s, poll_interval: 100ms}`,
		testbin.Quote(pgtest.Schema(t)), name, name, secret))
	// The worker's model binary is a copy the test can break later.
	model := testbin.Plugin(t, "model", "onnx")
	breakable := filepath.Join(t.TempDir(), "soccer-model-onnx")
	bin, _ := os.ReadFile(model)
	os.WriteFile(breakable, bin, 0o755)
	workerCfg := strings.Replace(cfg, ".yaml", "-worker.yaml", 1)
	writeVariant(t, cfg, workerCfg, testbin.Quote(model), testbin.Quote(breakable))
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	keyOf := func(name, scopes string) string {
		out := must(t, cfg, "keys", "create", "--name", name, "--scopes", scopes, "--rate", "100000")
		return strings.Fields(strings.Split(out, "\n")[1])[0]
	}
	owner, other, admin := keyOf("owner", "predict"), keyOf("other", "predict"), keyOf("ops", "predict,admin")

	apiA := startProcess(t, "serving ", "serve", "--config", cfg, "--addr", "127.0.0.1:0")
	apiB := startProcess(t, "serving ", "serve", "--config", cfg, "--addr", "127.0.0.1:0")
	worker := startProcess(t, "worker consuming", "worker", "--config", workerCfg, "--addr", "127.0.0.1:0")
	probes := "http://" + regexp.MustCompile(`probes and metrics on (127\.0\.0\.1:\d+)`).FindStringSubmatch(worker.stdout.String())[1]
	a, bb := apiA.addr(), apiB.addr()
	call := func(method, url, key, body string, headers ...string) (int, map[string]any) {
		return testbin.Send(t, method, url, body, append(headers, "Authorization", "Bearer "+key)...)
	}
	wait := func(base, id string, within time.Duration, done func(map[string]any) bool) map[string]any {
		t.Helper()
		var v map[string]any
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			_, v = call("GET", base+"/v1/jobs/"+id, owner, "")
			if done(v) {
				return v
			}
		}
		t.Fatalf("job %s after %v: %v", id, within, v)
		return nil
	}
	ended := func(v map[string]any) bool {
		return v["status"] == "succeeded" || v["status"] == "failed" || v["status"] == "cancelled"
	}

	t.Run("one job per idempotency key across two API processes", func(t *testing.T) {
		var wg sync.WaitGroup
		codes, ids := make([]int, 8), make([]string, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				base := []string{a, bb}[i%2]
				code, out := call("POST", base+"/v1/predictions/async", owner, asyncBody, "Idempotency-Key", "order-17")
				codes[i] = code
				ids[i], _ = out["job_id"].(string)
			}()
		}
		wg.Wait()
		created := 0
		for i := range 8 {
			if codes[i] == 202 {
				created++
			} else if codes[i] != 200 {
				t.Fatalf("submission %d: %d", i, codes[i])
			}
			if ids[i] != ids[0] || ids[i] == "" {
				t.Fatalf("one key gave jobs %v", ids)
			}
		}
		if created != 1 {
			t.Fatalf("%d submissions answered 202 (created), want exactly 1: %v", created, codes)
		}
		other := strings.Replace(asyncBody, "Chelsea", "Everton", 1)
		if code, out := call("POST", bb+"/v1/predictions/async", owner, other, "Idempotency-Key", "order-17"); code != 409 {
			t.Fatalf("the key with another body: %d %v, want 409", code, out)
		}
		checkPrediction(t, wait(a, ids[0], 30*time.Second, ended))
	})

	t.Run("another key's job is a 404", func(t *testing.T) {
		_, out := call("POST", a+"/v1/predictions/async", owner, asyncBody)
		id := out["job_id"].(string)
		checkPrediction(t, wait(bb, id, 30*time.Second, ended))
		for _, c := range []struct {
			method, key string
			want        int
		}{{"GET", other, 404}, {"DELETE", other, 404}, {"GET", admin, 200}, {"GET", owner, 200}} {
			if code, out := call(c.method, bb+"/v1/jobs/"+id, c.key, ""); code != c.want {
				t.Fatalf("%s with another key: %d %v, want %d", c.method, code, out, c.want)
			}
		}
	})

	t.Run("plugins list --server with an API key", func(t *testing.T) {
		if code, _, errs := run(t, nil, "plugins", "list", "--server", a); code == 0 || !strings.Contains(errs, "--api-key") {
			t.Fatalf("without a key: exit %d, %s", code, errs)
		}
		if code, _, errs := run(t, nil, "plugins", "list", "--server", a, "--api-key", owner); code == 0 || !strings.Contains(errs, "admin scope") {
			t.Fatalf("with a predict key: exit %d, %s", code, errs)
		}
		code, out, errs := run(t, []string{"SOCCERPREDICT_API_KEY=" + admin}, "plugins", "list", "--server", a)
		if code != 0 || !strings.Contains(out, "onnx") {
			t.Fatalf("with an admin key from the environment: exit %d\n%s\n%s", code, out, errs)
		}
	})

	t.Run("webhook after the receiver was down", func(t *testing.T) {
		down, live := newReceiver(t, []byte(secret)), newReceiver(t, []byte(secret))
		live.up()
		_, out := call("POST", a+"/v1/predictions/async", owner, strings.Replace(asyncBody, "}", `, "callback_url": "`+down.url("/hooks/late")+`"}`, 1))
		late := out["job_id"].(string)
		// The receiver is down: attempts are recorded on the job, and keep coming.
		v := wait(bb, late, 30*time.Second, func(v map[string]any) bool {
			c, _ := v["callback"].(map[string]any)
			at, _ := c["attempts"].([]any)
			return len(at) >= 2
		})
		first := v["callback"].(map[string]any)["attempts"].([]any)[0].(map[string]any)
		if v["callback"].(map[string]any)["state"] != "pending" || !strings.Contains(fmt.Sprint(first["error"]), "refused") {
			t.Fatalf("while the receiver is down: %v", v["callback"])
		}
		// Meanwhile a job calling back a live receiver is not held up.
		_, out = call("POST", bb+"/v1/predictions/async", owner, strings.Replace(asyncBody, "}", `, "callback_url": "`+live.url("/hooks/now")+`"}`, 1))
		prompt := out["job_id"].(string)
		wait(a, prompt, 30*time.Second, func(v map[string]any) bool {
			c, _ := v["callback"].(map[string]any)
			return c["state"] == "delivered"
		})
		down.up()
		v = wait(a, late, 30*time.Second, func(v map[string]any) bool {
			c, _ := v["callback"].(map[string]any)
			return c["state"] == "delivered"
		})
		got, bad := down.deliveries()
		if len(bad) > 0 || len(got) != 1 {
			t.Fatalf("receiver: %d verified deliveries, refused %v", len(got), bad)
		}
		if got[0]["job_id"] != late || got[0]["status"] != "succeeded" || got[0]["prediction"] == nil || got[0]["job_header"] != late {
			t.Fatalf("delivery %v", got[0])
		}
		attempts := v["callback"].(map[string]any)["attempts"].([]any)
		if got[0]["attempt_header"] != strconv.Itoa(len(attempts)) || len(attempts) < 3 {
			t.Fatalf("delivered on attempt %v; the job shows %d attempts: %v", got[0]["attempt_header"], len(attempts), attempts)
		}
		if last := attempts[len(attempts)-1].(map[string]any); last["status_code"] != 204.0 {
			t.Fatalf("last attempt %v", last)
		}
		if code, out := call("POST", a+"/v1/predictions/async", owner, strings.Replace(asyncBody, "}", `, "callback_url": "http://example.com/x"}`, 1)); code != 400 ||
			!strings.Contains(fmt.Sprint(out["detail"]), "example.com") {
			t.Fatalf("a host not allowed: %d %v", code, out)
		}
	})

	t.Run("a running job cannot be cancelled", func(t *testing.T) {
		pid := worker.plugin(t, "soccer-model-onnx")
		syscall.Kill(pid, syscall.SIGSTOP) // the job hangs in the model's call
		_, out := call("POST", a+"/v1/predictions/async", owner, strings.Replace(asyncBody, "2024-08-17", "2024-08-18", 1))
		id := out["job_id"].(string)
		wait(bb, id, 30*time.Second, func(v map[string]any) bool { return v["status"] == "running" })
		code, out := call("DELETE", bb+"/v1/jobs/"+id, owner, "")
		syscall.Kill(pid, syscall.SIGCONT)
		if code != 409 || !strings.Contains(fmt.Sprint(out["detail"]), "running") {
			t.Fatalf("cancel a running job: %d %v, want 409", code, out)
		}
		v := wait(a, id, 30*time.Second, ended)
		checkPrediction(t, v)
		if v["started_at"] == nil || v["finished_at"] == nil {
			t.Fatalf("timestamps missing: %v", v)
		}
	})

	t.Run("a job waits for its model instead of failing, and the worker says so", func(t *testing.T) {
		pid := worker.plugin(t, "soccer-model-onnx")
		os.Remove(breakable)
		os.WriteFile(breakable, []byte("#!/bin/sh\nexit 1\n"), 0o755) // no longer the pinned binary
		syscall.Kill(pid, syscall.SIGKILL)
		_, out := call("POST", a+"/v1/predictions/async", owner, strings.Replace(asyncBody, "2024-08-17", "2024-08-19", 1))
		id := out["job_id"].(string)
		var ready map[string]any
		for deadline := time.Now().Add(20 * time.Second); ready["dependency"] != "model"; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the worker's /readyz while its model is down: %v", ready)
			}
			_, ready = testbin.Send(t, "GET", probes+"/readyz", "")
		}
		if _, v := call("GET", bb+"/v1/jobs/"+id, owner, ""); v["status"] != "running" && v["status"] != "queued" {
			t.Fatalf("a job whose model is down: %v, want it waiting", v)
		}
		os.Remove(breakable)
		os.WriteFile(breakable, bin, 0o755)
		v := wait(bb, id, 60*time.Second, ended)
		if v["status"] != "succeeded" || v["attempts"] != 1.0 {
			t.Fatalf("the job once its model is back: %v, want succeeded in one attempt", v)
		}
		if code, _ := testbin.Send(t, "GET", probes+"/readyz", ""); code != 200 {
			t.Fatalf("the worker's /readyz once the model is back: %d", code)
		}
	})

	t.Run("a queued job is cancelled and never runs", func(t *testing.T) {
		worker.kill() // nothing works the queue now
		_, out := call("POST", a+"/v1/predictions/async", owner, strings.Replace(asyncBody, "2024-08-17", "2024-08-20", 1))
		id := out["job_id"].(string)
		time.Sleep(500 * time.Millisecond) // relayed to RabbitMQ by now
		code, v := call("DELETE", bb+"/v1/jobs/"+id, owner, "")
		if code != 200 || v["status"] != "cancelled" || v["finished_at"] == nil {
			t.Fatalf("cancel a queued job: %d %v", code, v)
		}
		if code, _ := call("DELETE", a+"/v1/jobs/"+id, owner, ""); code != 409 {
			t.Fatalf("cancel it again: %d, want 409", code)
		}
		// A worker that starts now gets the message and leaves the job cancelled.
		os.WriteFile(breakable, bin, 0o755)
		startProcess(t, "worker consuming", "worker", "--config", workerCfg)
		_, probe := call("POST", a+"/v1/predictions/async", owner, strings.Replace(asyncBody, "2024-08-17", "2024-08-21", 1))
		checkPrediction(t, wait(a, probe["job_id"].(string), 30*time.Second, ended))
		if _, v := call("GET", a+"/v1/jobs/"+id, owner, ""); v["status"] != "cancelled" || v["attempts"] != 0.0 {
			t.Fatalf("the cancelled job after a worker came: %v", v)
		}
	})
}
