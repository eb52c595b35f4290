package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
	"github.com/soccerpredict/soccerpredict/host/internal/cache/memcache"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// modelPID is the running process of the instance of plugin that others did not have.
func modelPID(t *testing.T, plugin string, others map[int]bool) int {
	t.Helper()
	for _, st := range setup(t).host.Statuses() {
		if strings.HasPrefix(st.Name, plugin+"@") && st.Running && !others[st.PID] {
			return st.PID
		}
	}
	return 0
}

func runningPIDs(t *testing.T) map[int]bool {
	pids := map[int]bool{}
	for _, st := range setup(t).host.Statuses() {
		if st.Running {
			pids[st.PID] = true
		}
	}
	return pids
}

// A model plugin that stops answering (SIGSTOP) costs each request at most
// its 1 s call timeout (+1 s): the answer is a 503 with Retry-After, the hung
// process is killed and replaced, and predictions come back.
func TestHungModelPluginIsReplaced(t *testing.T) {
	before := runningPIDs(t)
	url, _ := servePredictor(t, "onnx-1s")
	pid := modelPID(t, "onnx-1s", before)
	if pid == 0 {
		t.Fatal("no onnx-1s process")
	}
	syscall.Kill(pid, syscall.SIGSTOP)
	defer syscall.Kill(pid, syscall.SIGKILL)
	// The signal is delivered asynchronously: start once the process is stopped.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b[i+1:]), " T") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop after SIGSTOP: %s", pid, b)
		}
	}
	bodies, _ := fixtureBodies(20, false)
	client := &http.Client{}
	started := time.Now()
	a, err := postRaw(client, url+"/v1/predictions", bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(started); a.status != 503 || a.header.Get("Retry-After") == "" || took > 2*time.Second {
		t.Fatalf("a request to a hung model (pid %d): %d (Retry-After %q) after %v: %s\nplugin processes: %+v", pid, a.status, a.header.Get("Retry-After"), took, a.body, setup(t).host.Statuses())
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 1; ; i++ {
		a, err := postRaw(client, url+"/v1/predictions", bodies[i%len(bodies)])
		if err != nil {
			t.Fatal(err)
		}
		if a.status == 200 {
			break
		}
		if a.status != 503 || time.Now().After(deadline) {
			t.Fatalf("after the hung process was killed: %d %s", a.status, a.body)
		}
	}
	if now := modelPID(t, "onnx-1s", before); now == 0 || now == pid {
		t.Fatalf("model process %d after the hang of %d: want a new one", now, pid)
	}
}

// A model plugin that can no longer launch (its binary replaced) is a fast
// 503, and /readyz answers within a second naming the model plugin.
func TestUnlaunchableModelPluginFailsFast(t *testing.T) {
	w := setup(t)
	before := runningPIDs(t)
	feat, _ := w.host.Plugin("ratings-train")
	pred := forecast.NewPredictor(w.store, w.host, feat, "onnx-breakable", hclog.NewNullLogger())
	pred.CacheEntries(0)
	if err := pred.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer((&Server{Predictor: pred, Logger: hclog.NewNullLogger()}).Handler())
	defer ts.Close()
	srv := ts.URL
	pid := modelPID(t, "onnx-breakable", before)
	// Every later launch fails its digest check: the binary is replaced by
	// one that is not the pinned one, then the running process is killed.
	bin := filepath.Join(breakableDir, "soccer-model-onnx")
	os.Remove(bin)
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	time.Sleep(100 * time.Millisecond)
	bodies, _ := fixtureBodies(10, false)
	client := &http.Client{}
	for i, b := range bodies {
		started := time.Now()
		a, err := postRaw(client, srv+"/v1/predictions", b)
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(started); a.status != 503 || took > 1100*time.Millisecond {
			t.Fatalf("request %d to an unlaunchable model: %d after %v: %s", i, a.status, took, a.body)
		}
	}
	started := time.Now()
	resp, err := client.Get(srv + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	if took := time.Since(started); resp.StatusCode != 503 || took > time.Second || !strings.Contains(body, "model plugin") {
		t.Fatalf("/readyz: %d after %v: %s", resp.StatusCode, took, body)
	}
}

// A job is readable only by the key that created it or an admin key; any
// other predict key gets 404, as for a job that does not exist. The check
// holds whether the view comes from the store or the result cache.
func TestJobsBelongToTheirKey(t *testing.T) {
	w := setup(t)
	c := memcache.New(100)
	ts := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Auth: &apikey.Auth{Required: true, Keys: w.store},
		Store: w.store, Cache: c}).Handler())
	defer ts.Close()
	owner, _ := storedKey(t, "owner", 1000, apikey.ScopePredict)
	other, _ := storedKey(t, "other", 1000, apikey.ScopePredict)
	admin, _ := storedKey(t, "ops", 1000, apikey.ScopeAdmin)
	call := func(method, path, secret, body string) (int, map[string]any) {
		return testbin.Send(t, method, ts.URL+path, body, "Authorization", "Bearer "+secret)
	}
	code, out := call("POST", "/v1/predictions/async", owner, `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`)
	if code != 202 {
		t.Fatalf("submit: %d %v", code, out)
	}
	id := out["job_id"].(string)
	check := func(when string) {
		for _, c := range []struct {
			who, secret string
			want        int
		}{{"owner", owner, 200}, {"another predict key", other, 404}, {"an admin key", admin, 200}} {
			if code, out := call("GET", "/v1/jobs/"+id, c.secret, ""); code != c.want {
				t.Fatalf("%s: %s reading the job: %d %v, want %d", when, c.who, code, out, c.want)
			}
		}
	}
	check("queued (from the store)")
	// As a worker would: finish it and cache the view.
	if _, err := w.store.FinishJob(context.Background(), id, json.RawMessage(`{"probabilities": {}}`), ""); err != nil {
		t.Fatal(err)
	}
	j, _ := w.store.Job(context.Background(), id)
	b, _ := json.Marshal(map[string]any{"view": jobs.ViewOf(j), "owner": j.Owner})
	c.Set(context.Background(), jobs.CacheKey(id), b, time.Minute)
	check("done (from the cache)")
	if code, out := call("GET", "/v1/jobs/"+id, owner, ""); out["owner"] != nil || code != 200 {
		t.Fatalf("the job's view shows its owner: %v", out)
	}
	// Cancelling: another key's job is a 404; the owner cancels a queued job;
	// a finished or cancelled one is a 409 saying why.
	if code, out := call("DELETE", "/v1/jobs/"+id, owner, ""); code != 409 || !strings.Contains(out["detail"].(string), "already ended (succeeded)") {
		t.Fatalf("cancel a finished job: %d %v, want 409", code, out)
	}
	_, out = call("POST", "/v1/predictions/async", owner, `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`)
	queued := out["job_id"].(string)
	if code, _ := call("DELETE", "/v1/jobs/"+queued, other, ""); code != 404 {
		t.Fatalf("another key cancelling the job: %d, want 404", code)
	}
	if code, out := call("DELETE", "/v1/jobs/"+queued, owner, ""); code != 200 || out["status"] != "cancelled" {
		t.Fatalf("cancel a queued job: %d %v", code, out)
	}
	if code, out := call("GET", "/v1/jobs/"+queued, owner, ""); code != 200 || out["status"] != "cancelled" {
		t.Fatalf("a cancelled job reads %d %v", code, out)
	}
	if code, _ := call("DELETE", "/v1/jobs/"+queued, owner, ""); code != 409 {
		t.Fatalf("cancel a cancelled job: %d, want 409", code)
	}
}

// Idempotency-Key: the same key and body give the same job (200), also from
// a second API server over the same store and when sent concurrently; the
// same key with another body is a 409.
func TestIdempotentSubmissions(t *testing.T) {
	w := setup(t)
	servers := []*httptest.Server{
		httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store}).Handler()),
		httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store}).Handler()),
	}
	for _, s := range servers {
		defer s.Close()
	}
	submit := func(srv *httptest.Server, key, body string) (int, string) {
		code, out := testbin.Send(t, "POST", srv.URL+"/v1/predictions/async", body, "Idempotency-Key", key)
		id, _ := out["job_id"].(string)
		return code, id
	}
	body := `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`
	code, first := submit(servers[0], "order-1", body)
	if code != 202 || first == "" {
		t.Fatalf("first submission: %d", code)
	}
	if code, id := submit(servers[1], "order-1", body); code != 200 || id != first {
		t.Fatalf("the same key on the other server: %d job %q, want 200 job %q", code, id, first)
	}
	if code, _ := submit(servers[0], "order-1", `{"home_team": "Arsenal", "away_team": "Liverpool", "competition": "E0"}`); code != 409 {
		t.Fatalf("the same key with another body: %d, want 409", code)
	}
	// A burst of retries of one new key across both servers makes one job.
	ids := make(chan string, 16)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, id := submit(servers[i%2], "order-2", body)
			ids <- id
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("16 concurrent submissions with one key made jobs %v", seen)
	}
}

// storedKey makes an API key in the shared store and returns its secret and ID.
func storedKey(t *testing.T, name string, ratePerMinute int, scopes ...string) (string, string) {
	t.Helper()
	secret, k, err := apikey.NewKey(name, scopes, ratePerMinute)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(t).store.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return secret, k.ID
}

// A callback_url is checked when the job is submitted: refused while
// webhooks are off, or for a host the operator does not allow; an allowed
// one is shown on the job.
func TestCallbackURLIsChecked(t *testing.T) {
	w := setup(t)
	off := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store}).Handler())
	defer off.Close()
	on := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store,
		Callbacks: &jobs.CallbackPolicy{AllowedHosts: []string{"hooks.example.com"}}}).Handler())
	defer on.Close()
	body := func(url string) string {
		return `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "callback_url": ` + strconv.Quote(url) + `}`
	}
	for _, c := range []struct {
		srv        *httptest.Server
		url, field string
		want       int
		detail     string
	}{
		{off, "https://hooks.example.com/cb", "callback_url", 400, "not enabled"},
		{on, "https://elsewhere.example.com/cb", "callback_url", 400, `"elsewhere.example.com"`},
		{on, "file:///etc/passwd", "callback_url", 400, "http or https"},
		{on, "https://hooks.example.com/cb", "", 202, ""},
	} {
		code, out := testbin.Send(t, "POST", c.srv.URL+"/v1/predictions/async", body(c.url))
		if code != c.want || !strings.Contains(fmt.Sprint(out["detail"]), c.detail) {
			t.Fatalf("%s: %d %v, want %d with %q", c.url, code, out, c.want, c.detail)
		}
		if c.want != 202 {
			if errs, _ := out["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != c.field {
				t.Fatalf("%s: errors %v, want the field %s", c.url, out["errors"], c.field)
			}
			continue
		}
		_, v := testbin.Send(t, "GET", c.srv.URL+"/v1/jobs/"+out["job_id"].(string), "")
		cb, _ := v["callback"].(map[string]any)
		if cb["url"] != c.url || cb["state"] != "waiting" {
			t.Fatalf("job %v", v)
		}
	}
	if code, _ := testbin.Send(t, "POST", on.URL+"/v1/predictions", body("https://hooks.example.com/cb")); code != 400 {
		t.Fatalf("callback_url on the sync route: %d, want 400 (unknown field)", code)
	}
}
