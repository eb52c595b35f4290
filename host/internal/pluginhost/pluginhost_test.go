package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

func footballdata(t *testing.T, settings map[string]any, timeout time.Duration) *Host {
	t.Helper()
	bin := testbin.Plugin(t, "source", "footballdata")
	h, err := New(map[string]config.Plugin{"footballdata": {
		Kind: "source", Path: bin, SHA256: testbin.Digest(t, bin),
		Timeout: timeout, LongTimeout: timeout, StartTimeout: 20 * time.Second, Config: settings,
	}}, hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: io.Discard}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func TestLaunchDescribeFetch(t *testing.T) {
	h := footballdata(t, map[string]any{"dir": testbin.Data()}, time.Minute)
	p, _ := h.Plugin("footballdata")
	if p.Status().Running {
		t.Fatal("plugin running before any call")
	}
	src := SourceOf(p)
	d, err := src.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "footballdata" || len(d.Competitions) != 5 {
		t.Fatalf("describe = %+v", d)
	}
	resp, err := source.Collect(context.Background(), src, source.FetchRequest{Competitions: []string{"E0"}, Seasons: []string{"2324"}})
	if err != nil || len(resp.Matches) != 380 {
		t.Fatalf("fetch: %d matches, %v", len(resp.Matches), err)
	}
	st := p.Status()
	if !st.Running || st.PID == 0 || st.PID == os.Getpid() || st.Launches != 1 || st.Identity.APIVersion == "" {
		t.Fatalf("status = %+v, want a separate running process launched once", st)
	}
}

func TestTamperedBinaryIsRefused(t *testing.T) {
	bin := testbin.Plugin(t, "source", "footballdata")
	pinned := testbin.Digest(t, bin)
	tampered := filepath.Join(t.TempDir(), "soccer-source-footballdata")
	b, _ := os.ReadFile(bin)
	if err := os.WriteFile(tampered, append(b, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	sumFile := filepath.Join(t.TempDir(), "sum")
	os.WriteFile(sumFile, []byte(pinned+"  soccer-source-footballdata\n"), 0o644)
	h, err := New(map[string]config.Plugin{"footballdata": {Kind: "source", Path: tampered, SHA256File: sumFile,
		Timeout: time.Minute, StartTimeout: 10 * time.Second, Config: map[string]any{"dir": testbin.Data()}}}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p, _ := h.Plugin("footballdata")
	_, err = SourceOf(p).Describe(context.Background())
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), `plugin "footballdata"`) || !strings.Contains(err.Error(), pinned) {
		t.Fatalf("err = %v, want a refusal naming the plugin and the pinned digest", err)
	}
	if p.Status().Launches != 0 {
		t.Fatal("a tampered binary was launched")
	}
}

func TestBadSettingsFailTheLaunchWithThePluginsWords(t *testing.T) {
	h := footballdata(t, map[string]any{"dir": testbin.Data(), "colour": "red"}, time.Minute)
	p, _ := h.Plugin("footballdata")
	_, err := SourceOf(p).Describe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "colour") || !strings.Contains(err.Error(), "configure") {
		t.Fatalf("err = %v, want the plugin's complaint about colour", err)
	}
}

// blockingPublisher serves the publisher layout but holds requests until released.
func blockingPublisher(t *testing.T) (url string, arrived <-chan struct{}, release func()) {
	t.Helper()
	arr := make(chan struct{}, 16)
	rel := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arr <- struct{}{}
		select {
		case <-rel:
		case <-r.Context().Done():
			return
		}
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		http.ServeFile(w, r, filepath.Join(testbin.Data(), strings.TrimSuffix(parts[2], ".csv"), parts[1]+".csv"))
	}))
	t.Cleanup(srv.Close)
	var once bool
	return srv.URL, arr, func() {
		if !once {
			once = true
			close(rel)
		}
	}
}

func TestKilledPluginIsRelaunched(t *testing.T) {
	url, arrived, release := blockingPublisher(t)
	h := footballdata(t, map[string]any{"base_url": url, "competitions": []string{"E0"}, "seasons": []string{"2324"}}, time.Minute)
	p, _ := h.Plugin("footballdata")
	src := SourceOf(p)

	errc := make(chan error, 1)
	go func() {
		_, err := source.Collect(context.Background(), src, source.FetchRequest{})
		errc <- err
	}()
	<-arrived // the plugin is mid-fetch
	pid := p.Status().PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), `plugin "footballdata"`) {
		t.Fatalf("fetch from a killed plugin: err = %v", err)
	}
	release()
	resp, err := source.Collect(context.Background(), src, source.FetchRequest{})
	if err != nil || len(resp.Matches) != 380 {
		t.Fatalf("fetch after relaunch: %d matches, %v", len(resp.Matches), err)
	}
	st := p.Status()
	if st.Launches != 2 || st.PID == pid {
		t.Fatalf("status = %+v, want a second launch with a new PID", st)
	}
}

func TestCallTimeout(t *testing.T) {
	url, _, release := blockingPublisher(t)
	defer release()
	h := footballdata(t, map[string]any{"base_url": url, "competitions": []string{"E0"}, "seasons": []string{"2324"}}, 300*time.Millisecond)
	p, _ := h.Plugin("footballdata")
	_, err := source.Collect(context.Background(), SourceOf(p), source.FetchRequest{})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("err = %v, want a timeout naming the limit", err)
	}
}

func TestFailedLaunchesBackOff(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "crash")
	os.WriteFile(bin, []byte("#!/bin/sh\necho 'boom' >&2\nexit 3\n"), 0o755)
	h, _ := New(map[string]config.Plugin{"crash": {Kind: "source", Path: bin, SHA256: testbin.Digest(t, bin),
		Timeout: time.Second, StartTimeout: 5 * time.Second}}, hclog.NewNullLogger())
	defer h.Close()
	p, _ := h.Plugin("crash")
	var waits []time.Duration
	for i := range 3 {
		if _, err := SourceOf(p).Describe(context.Background()); !errors.Is(err, ErrLaunch) {
			t.Fatalf("attempt %d: %v, want a failed launch", i, err)
		}
		p.mu.Lock()
		wait := time.Until(p.next)
		p.mu.Unlock()
		waits = append(waits, wait)
		if i < 2 {
			time.Sleep(wait + 10*time.Millisecond)
		}
	}
	if !(waits[0] < waits[1] && waits[1] < waits[2]) {
		t.Fatalf("backoff waits %v, want them growing", waits)
	}
	// During the backoff a call fails at once, saying so: no caller sleeps
	// through another's backoff.
	started := time.Now()
	_, err := SourceOf(p).Describe(context.Background())
	if !errors.Is(err, ErrLaunch) || !strings.Contains(err.Error(), "restarting after 3 failed launches") || time.Since(started) > 50*time.Millisecond {
		t.Fatalf("err = %v after %v, want an immediate 'restarting after 3 failed launches'", err, time.Since(started))
	}
}

// A launch that hangs (a binary that never completes the handshake) holds
// no caller past its own deadline or the plugin's call timeout, and never
// blocks the plugin's status.
func TestHangingLaunchHoldsNoCaller(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sleeper")
	os.WriteFile(bin, []byte("#!/bin/sh\nsleep 30\n"), 0o755)
	h, _ := New(map[string]config.Plugin{"sleeper": {Kind: "source", Path: bin, SHA256: testbin.Digest(t, bin),
		Timeout: time.Second, StartTimeout: 1500 * time.Millisecond}}, hclog.NewNullLogger())
	defer h.Close()
	p, _ := h.Plugin("sleeper")
	first := make(chan time.Duration, 1)
	go func() {
		started := time.Now()
		SourceOf(p).Describe(context.Background())
		first <- time.Since(started)
	}()
	time.Sleep(50 * time.Millisecond) // the launch is under way
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err := SourceOf(p).Describe(ctx)
	if took := time.Since(started); !errors.Is(err, ErrLaunch) || took > 300*time.Millisecond {
		t.Fatalf("a 100 ms caller got %v after %v", err, took)
	}
	started = time.Now()
	p.Status()
	if took := time.Since(started); took > 50*time.Millisecond {
		t.Fatalf("Status took %v during a launch", took)
	}
	// A first launch is waited for up to the start timeout (1.5 s here).
	if took := <-first; took < 1400*time.Millisecond || took > 3*time.Second {
		t.Fatalf("the first caller waited %v, want about the 1.5 s start timeout", took)
	}
}

// TestPluginsDieWithTheHost runs a host in a child process, kills it with
// SIGKILL, and checks its plugin process goes too.
func TestPluginsDieWithTheHost(t *testing.T) {
	if os.Getenv("PLUGINHOST_HELPER") == "1" {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHost$")
	cmd.Env = append(os.Environ(), "PLUGINHOST_HELPER=1", "HELPER_PLUGIN="+testbin.Plugin(t, "source", "footballdata"), "HELPER_DATA="+testbin.Data())
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var line string
	buf := make([]byte, 64)
	for !strings.Contains(line, "\n") {
		n, err := out.Read(buf)
		if err != nil {
			t.Fatalf("helper said %q then %v", line, err)
		}
		line += string(buf[:n])
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(strings.SplitN(line, "\n", 2)[0], "PID ")))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("plugin process %d outlived its killed host", pid)
}

func TestHelperHost(t *testing.T) {
	if os.Getenv("PLUGINHOST_HELPER") != "1" {
		return // only the child process of TestPluginsDieWithTheHost is a host
	}
	bin := os.Getenv("HELPER_PLUGIN")
	h, _ := New(map[string]config.Plugin{"footballdata": {Kind: "source", Path: bin, SHA256: testbin.Digest(t, bin),
		Timeout: time.Minute, StartTimeout: 20 * time.Second, Config: map[string]any{"dir": os.Getenv("HELPER_DATA")}}}, hclog.NewNullLogger())
	p, _ := h.Plugin("footballdata")
	if _, err := SourceOf(p).Describe(context.Background()); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("PID %d\n", p.Status().PID)
	time.Sleep(time.Minute)
}

// A plugin process gets a minimal environment: never the host's secrets
// (its store DSN, broker URL, webhook secret), only the base variables and
// what its config names in env.
func TestPluginsDoNotSeeTheHostsSecrets(t *testing.T) {
	t.Setenv("SOCCERPREDICT_STORE__DSN", "postgres://app:s3cret@db/prod")
	t.Setenv("SOCCERPREDICT_WEBHOOKS__SECRET", "webhook-signing-secret")
	t.Setenv("HTTPS_PROXY", "http://proxy:3128")
	bin := testbin.Plugin(t, "source", "footballdata")
	h, err := New(map[string]config.Plugin{
		"plain":   {Kind: "source", Path: bin, SHA256: testbin.Digest(t, bin), Timeout: time.Minute, StartTimeout: 20 * time.Second, Config: map[string]any{"dir": testbin.Data()}},
		"proxied": {Kind: "source", Path: bin, SHA256: testbin.Digest(t, bin), Timeout: time.Minute, StartTimeout: 20 * time.Second, Config: map[string]any{"dir": testbin.Data()}, Env: []string{"HTTPS_PROXY"}},
	}, hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: io.Discard}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	for name, proxy := range map[string]bool{"plain": false, "proxied": true} {
		p, _ := h.Plugin(name)
		if _, err := SourceOf(p).Describe(context.Background()); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Status().PID))
		if err != nil {
			t.Fatal(err)
		}
		env := strings.Split(string(raw), "\x00")
		for _, kv := range env {
			if strings.HasPrefix(kv, "SOCCERPREDICT_") && !strings.HasPrefix(kv, wire.Config.MagicCookieKey+"=") || strings.Contains(kv, "s3cret") || strings.Contains(kv, "webhook-signing-secret") {
				t.Errorf("plugin %s sees %q", name, kv)
			}
		}
		hasPath := slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") })
		hasProxy := slices.Contains(env, "HTTPS_PROXY=http://proxy:3128")
		if !hasPath || hasProxy != proxy {
			t.Errorf("plugin %s: PATH %v, HTTPS_PROXY %v (want %v): %q", name, hasPath, hasProxy, proxy, env)
		}
	}
}

// A model plugin built with the sdk is called on its fast path, a source
// over gRPC; /v1/plugins reports which (Status.Identity.Transport).
func TestHotCallsTakeTheFastPath(t *testing.T) {
	liar := testbin.Liar(t)
	h, err := New(map[string]config.Plugin{
		"liar": {Kind: "model", Path: liar, SHA256: testbin.Digest(t, liar), Timeout: time.Minute, StartTimeout: 20 * time.Second},
	}, hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: io.Discard}))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p, _ := h.Plugin("liar")
	if _, err := ModelOf(p).Describe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr := p.Status().Identity.Transport; tr != "fast" {
		t.Fatalf("model plugin transport %q, want fast", tr)
	}
	src := footballdata(t, map[string]any{"dir": testbin.Data()}, time.Minute)
	sp, _ := src.Plugin("footballdata")
	if _, err := SourceOf(sp).Describe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr := sp.Status().Identity.Transport; tr != "grpc" {
		t.Fatalf("source plugin transport %q, want grpc", tr)
	}
}

// A launch passes the Go runtime's settings from config, after whatever
// else the environment lets through (os/exec keeps the last of a key).
func TestLaunchEnvCarriesTheRuntimeSettings(t *testing.T) {
	p := &Plugin{Name: "p", cfg: config.Plugin{Kind: "features", Procs: new(3), GCPercent: new(400), Env: []string{"GOGC"}}}
	env := p.launchEnv([]string{"PATH=/bin", "GOGC=50", "SECRET=x"})
	if !slices.Contains(env, "GOMAXPROCS=3") || env[len(env)-1] != "GOGC=400" || slices.Contains(env, "SECRET=x") {
		t.Fatalf("launch environment %v", env)
	}
	p.cfg.Procs, p.cfg.GCPercent, p.cfg.Env = nil, nil, nil
	env = p.launchEnv([]string{"PATH=/bin", "GOGC=50", "GODEBUG=x=1"})
	if !slices.Contains(env, "GOMAXPROCS=1") || slices.ContainsFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GODEBUG=")
	}) {
		t.Fatalf("unset: launch environment %v", env)
	}
	p.cfg.GODebug, p.cfg.Env = new("schedtrace=2147483647"), []string{"GODEBUG"}
	env = p.launchEnv([]string{"PATH=/bin", "GODEBUG=x=1"})
	if env[len(env)-1] != "GODEBUG=x=1,schedtrace=2147483647" {
		t.Fatalf("godebug added to the GODEBUG let through: %v", env)
	}
	p.cfg.Env = nil
	if env = p.launchEnv([]string{"PATH=/bin", "GODEBUG=x=1"}); env[len(env)-1] != "GODEBUG=schedtrace=2147483647" {
		t.Fatalf("godebug alone: %v", env)
	}
}
