package pluginhost

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
	sdkplugin "github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// Backoff bounds the wait between failed launches.
var (
	MinBackoff = 100 * time.Millisecond
	MaxBackoff = 10 * time.Second
)

// ErrTampered is wrapped when a binary's digest differs from the pinned one.
var ErrTampered = errors.New("binary does not match its pinned SHA-256")

// ErrLaunch is wrapped when a plugin process could not be (re)launched.
var ErrLaunch = errors.New("plugin launch failed")

// Observer is told about every plugin call and launch (metrics).
type Observer interface {
	PluginCall(plugin, call string, d time.Duration, err error)
	PluginLaunch(plugin string)
}

// Host owns every plugin process of one host process.
type Host struct {
	logger   hclog.Logger
	plugins  map[string]*Plugin
	observer Observer

	mu      sync.Mutex
	spawned map[*Plugin]bool
}

// New prepares (but does not launch) every configured plugin.
func New(cfg map[string]config.Plugin, logger hclog.Logger) (*Host, error) {
	h := &Host{logger: logger, plugins: map[string]*Plugin{}, spawned: map[*Plugin]bool{}}
	for name, pc := range cfg {
		// Config applies these defaults; a Host built by hand gets them too.
		if pc.Timeout <= 0 {
			pc.Timeout = 5 * time.Second
		}
		if pc.LongTimeout <= 0 {
			pc.LongTimeout = 10 * time.Minute
		}
		if pc.StartTimeout <= 0 {
			pc.StartTimeout = 20 * time.Second
		}
		settings, err := sdkplugin.SettingsFrom(pc.Config)
		if err != nil {
			return nil, fmt.Errorf("plugin %q: %w", name, err)
		}
		h.plugins[name] = &Plugin{Name: name, label: name, cfg: pc, settings: settings, logger: logger.Named("plugin." + name)}
	}
	return h, nil
}

// Observe sends every plugin's calls and launches to o; set it before the first call.
func (h *Host) Observe(o Observer) {
	h.observer = o
	for _, p := range h.plugins {
		p.observer = o
	}
}

// Plugin returns a configured plugin by name.
func (h *Host) Plugin(name string) (*Plugin, error) {
	p, ok := h.plugins[name]
	if !ok {
		return nil, fmt.Errorf("no plugin %q in config (configured: %s)", name, strings.Join(h.Names(), ", "))
	}
	return p, nil
}

// Names lists the configured plugins, sorted.
func (h *Host) Names() []string {
	names := make([]string, 0, len(h.plugins))
	for n := range h.plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Spawn makes another instance of a configured plugin: a separate process
// with the same binary and settings, named name@instance (a model generation
// gets its own, so switching generations never mixes models).
func (h *Host) Spawn(name, instance string) (*Plugin, error) {
	base, err := h.Plugin(name)
	if err != nil {
		return nil, err
	}
	p := &Plugin{Name: name + "@" + instance, label: name, cfg: base.cfg, settings: base.settings, observer: h.observer,
		logger: h.logger.Named("plugin." + name + "@" + instance)}
	h.mu.Lock()
	h.spawned[p] = true
	h.mu.Unlock()
	return p, nil
}

// Retire ends a spawned instance and forgets it.
func (h *Host) Retire(p *Plugin) {
	p.Kill()
	h.mu.Lock()
	delete(h.spawned, p)
	h.mu.Unlock()
}

// Statuses reports every plugin and spawned instance, sorted by name.
func (h *Host) Statuses() []Status {
	var out []Status
	for _, n := range h.Names() {
		out = append(out, h.plugins[n].Status())
	}
	h.mu.Lock()
	for p := range h.spawned {
		out = append(out, p.Status())
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Close ends every plugin process and launches none again: calls after it
// fail with ErrClosed instead of relaunching a plugin that is being stopped.
func (h *Host) Close() {
	for _, p := range h.plugins {
		p.close()
	}
	h.mu.Lock()
	for p := range h.spawned {
		p.close()
	}
	h.mu.Unlock()
}

func (p *Plugin) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.stopLocked()
}

// Plugin is one configured plugin binary and, once launched, its process.
type Plugin struct {
	Name     string
	label    string // the configured name, for metrics (instances share it)
	observer Observer
	cfg      config.Plugin
	settings sdkplugin.Settings
	logger   hclog.Logger

	onLaunch func(ctx context.Context, client any) error

	mu        sync.Mutex
	client    *plugin.Client
	raw       any
	identity  wire.Identity
	launches  int
	failures  int // consecutive failed launches
	next      time.Time
	lastErr   error
	launching chan struct{} // closed when the launch in progress ends
	closed    bool          // the host is shutting down: no more launches
}

// ErrClosed is wrapped when a call comes after the host began shutting down.
var ErrClosed = errors.New("the host is shutting down")

// Status is what `plugins list` shows of a plugin.
type Status struct {
	Name, Kind, Path string
	Running          bool
	PID              int
	Launches         int
	Identity         wire.Identity
	LastError        string
}

// Status reports the plugin's process state without launching it.
func (p *Plugin) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Name: p.Name, Kind: p.cfg.Kind, Path: p.cfg.Path, Launches: p.launches, Identity: p.identity}
	if p.client != nil && !p.client.Exited() {
		st.Running = true
		if rc := p.client.ReattachConfig(); rc != nil {
			st.PID = rc.Pid
		}
	}
	if p.lastErr != nil {
		st.LastError = p.lastErr.Error()
	}
	return st
}

// OnLaunch registers a hook run after every launch, before any call: the
// place to restore what a fresh process lacks (a loaded model, feature
// state). client is the kind's gRPC client (source.Source, ...). A hook that
// fails fails the launch. Set it before the first call.
func (p *Plugin) OnLaunch(hook func(ctx context.Context, client any) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onLaunch = hook
}

// Kind is the plugin's kind from config.
func (p *Plugin) Kind() string { return p.cfg.Kind }

// Kill ends the plugin process, if any; the next call relaunches it.
func (p *Plugin) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
}

func (p *Plugin) stopLocked() {
	if p.client != nil {
		p.client.Kill()
	}
	p.client, p.raw = nil, nil
}

// Verify checks the binary against its pinned digest without launching it.
func (p *Plugin) Verify() ([]byte, error) {
	want, err := p.pinned()
	if err != nil {
		return nil, err
	}
	got, err := fileDigest(p.cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", p.Name, err)
	}
	if hex.EncodeToString(got) != want {
		return nil, fmt.Errorf("plugin %q: %s has SHA-256 %s but config pins %s: %w; refusing to launch it",
			p.Name, p.cfg.Path, hex.EncodeToString(got), want, ErrTampered)
	}
	return got, nil
}

// Fingerprint names what determines a plugin's behaviour: its pinned
// binary digest and its settings. State a plugin computed (a feature
// snapshot) is reusable only by a plugin with the same fingerprint.
func (p *Plugin) Fingerprint() (string, error) {
	pin, err := p.pinned()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", p.cfg.Kind, pin, p.settings.JSON())
	return hex.EncodeToString(h.Sum(nil)), nil
}

// launchEnv is a launch's environment, from the host's environ: the
// variables PluginEnv lets through, tracing's, and the Go runtime's
// settings from config (GOMAXPROCS, GOGC, GODEBUG added to any let through).
func (p *Plugin) launchEnv(environ []string) []string {
	env := PluginEnv(environ, p.cfg.Env)
	env = append(env, tracing.PluginEnv(p.Name)...) // its spans go where the host's go
	if procs := p.procs(); procs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(procs))
	}
	if p.cfg.GCPercent != nil {
		env = append(env, "GOGC="+strconv.Itoa(*p.cfg.GCPercent))
	}
	if p.cfg.GODebug != nil && *p.cfg.GODebug != "" {
		debug := *p.cfg.GODebug
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok && v != "" {
				debug = v + "," + debug // the later of a setting named twice wins
			}
		}
		env = append(env, "GODEBUG="+debug)
	}
	return env
}

// procs is the GOMAXPROCS a launch gets; 0 leaves the environment's.
func (p *Plugin) procs() int {
	if p.cfg.Procs == nil {
		return 1
	}
	return *p.cfg.Procs
}

func (p *Plugin) pinned() (string, error) {
	if p.cfg.SHA256 != "" {
		return strings.ToLower(p.cfg.SHA256), nil
	}
	f, err := os.Open(p.cfg.SHA256File)
	if err != nil {
		return "", fmt.Errorf("plugin %q: read pinned digest: %w (run `make build` to write it)", p.Name, err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("plugin %q: read %s: %w", p.Name, p.cfg.SHA256File, err)
	}
	digest, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	if len(digest) != 64 {
		return "", fmt.Errorf("plugin %q: %s does not start with a SHA-256 digest", p.Name, p.cfg.SHA256File)
	}
	return strings.ToLower(digest), nil
}

func fileDigest(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("hash binary %s: %w", path, err)
	}
	return h.Sum(nil), nil
}

// acquire returns the running plugin's client, launching it if needed. The
// launch runs outside the lock, in a goroutine of its own bounded by the
// start timeout, so no caller's deadline or cancellation fails it for the
// others; every caller waits for it with its own deadline and at most the
// plugin's call timeout. While a failed launch is backing off, callers fail
// at once: a plugin that cannot start is an immediate "unavailable" (ErrLaunch).
func (p *Plugin) acquire(ctx context.Context) (any, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, fmt.Errorf("plugin %q: %w", p.Name, ErrClosed)
		}
		if p.client != nil && !p.client.Exited() && p.raw != nil {
			raw := p.raw
			p.mu.Unlock()
			return raw, nil
		}
		if p.client != nil {
			p.logger.Error("plugin process exited; relaunching", "path", p.cfg.Path)
			p.stopLocked()
		}
		if p.launching == nil {
			if wait := time.Until(p.next); wait > 0 {
				err := fmt.Errorf("plugin %q: %w: restarting after %d failed launches, next try in %s: %v",
					p.Name, ErrLaunch, p.failures, wait.Round(time.Millisecond), p.lastErr)
				p.mu.Unlock()
				return nil, err
			}
			p.launching = make(chan struct{})
			go p.relaunch(p.launching)
		}
		done, failures := p.launching, p.failures
		// A restart while serving is an immediate "unavailable" after the call
		// timeout; the very first launch of a process (start-up, a new
		// generation's model) is waited for as long as a launch may take.
		limit := p.cfg.Timeout
		if p.launches == 0 {
			limit = max(limit, p.cfg.StartTimeout)
		}
		p.mu.Unlock()
		timer := time.NewTimer(limit)
		select {
		case <-done:
			timer.Stop()
			p.mu.Lock()
			failed := p.failures > failures
			err := p.lastErr
			p.mu.Unlock()
			if failed {
				return nil, err
			}
			// launched (or killed again already): look again
		case <-timer.C:
			return nil, fmt.Errorf("plugin %q: %w: still launching after %s", p.Name, ErrLaunch, limit)
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("plugin %q: %w while it was being launched: %w", p.Name, ErrLaunch, ctx.Err())
		}
	}
}

// relaunch launches the plugin and records the outcome; done is closed after.
func (p *Plugin) relaunch(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.StartTimeout)
	l, err := p.launch(ctx)
	cancel()
	p.mu.Lock()
	defer close(done)
	defer p.mu.Unlock()
	p.launching = nil
	switch {
	case err != nil:
		if !errors.Is(err, ErrLaunch) {
			err = fmt.Errorf("%w: %w", ErrLaunch, err)
		}
		p.failures++
		p.lastErr = err
		backoff := min(MinBackoff<<min(p.failures-1, 16), MaxBackoff)
		p.next = time.Now().Add(backoff)
		p.logger.Warn("plugin launch failed", "error", err, "failures", p.failures, "retry_in", backoff)
		return
	case p.closed:
		l.client.Kill()
		return
	}
	p.failures, p.next, p.lastErr = 0, time.Time{}, nil
	p.client, p.raw, p.identity = l.client, l.raw, l.identity
	p.launches++
	if p.observer != nil {
		p.observer.PluginLaunch(p.label)
	}
	pid := 0
	if rc := l.client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	p.logger.Info("plugin launched", "path", p.cfg.Path, "pid", pid, "api_version", l.identity.APIVersion, "launch", p.launches)
}

// launched is a plugin process that has been started, configured and restored.
type launched struct {
	client   *plugin.Client
	raw      any
	identity wire.Identity
}

// launch starts, configures and restores a plugin process; it touches no
// field of p but the immutable ones, so it runs without the lock.
func (p *Plugin) launch(ctx context.Context) (launched, error) {
	digest, err := p.Verify()
	if err != nil {
		return launched{}, err
	}
	cmd := exec.Command(p.cfg.Path)
	cmd.Env = p.launchEnv(os.Environ())
	dieWithHost(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		SkipHostEnv:      true, // the environment is cmd.Env's, not the host's
		HandshakeConfig:  wire.Config,
		Plugins:          pluginSet(p.cfg.Kind),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: digest, Hash: sha256.New()}, // fresh per launch: the hash is stateful
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           p.logger,
		StartTimeout:     p.cfg.StartTimeout,
		GRPCDialOptions:  append(wire.DialOptions(), tracing.DialOptions()...),
	})
	fail := func(step string, err error) (launched, error) {
		client.Kill()
		return launched{}, fmt.Errorf("plugin %q (%s): %s: %w: %w", p.Name, p.cfg.Path, step, ErrLaunch, err)
	}
	rpc, err := client.Client()
	if err != nil {
		return fail("launch", err)
	}
	raw, err := rpc.Dispense(p.cfg.Kind)
	if err != nil {
		return fail("dispense", err)
	}
	conf, ok := raw.(wire.Configurer)
	if !ok {
		return fail("configure", fmt.Errorf("client %T cannot be configured", raw))
	}
	id, err := conf.Configure(ctx, p.settings)
	if err != nil {
		return fail("configure", err)
	}
	p.mu.Lock()
	hook := p.onLaunch
	p.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, raw); err != nil {
			return fail("restore after launch", err)
		}
	}
	return launched{client: client, raw: raw, identity: id}, nil
}

// failed is told about every failed call; a dead process is dropped so the
// next call relaunches it.
func (p *Plugin) failed(raw any, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.raw != raw || p.client == nil {
		return
	}
	if p.client.Exited() || wire.IsUnavailable(err) {
		p.logger.Error("plugin process died during a call; it will be relaunched", "error", err)
		p.lastErr = err
		p.stopLocked()
	}
}

func pluginSet(kind string) plugin.PluginSet {
	switch kind {
	case wire.KindSource, wire.KindFeatures, wire.KindModel:
		return plugin.PluginSet{kind: wire.Plugins()[kind]}
	}
	return plugin.PluginSet{}
}

// bulkCalls carry history or train: they get the plugin's long timeout; every
// other call (describe, schema, compute, predict) is on a request's path and
// gets the short one.
var bulkCalls = map[string]bool{"fetch": true, "observe": true, "snapshot": true, "restore": true, "load": true, "train": true}

// ErrUnresponsive is wrapped when a plugin did not answer within its timeout;
// its process has been killed, and the next call launches a new one.
var ErrUnresponsive = errors.New("plugin stopped answering")

// call runs fn on the plugin's client with the call's timeout. A plugin that
// lets the timeout pass (not the caller's own deadline) is killed, so a hung
// process is replaced rather than waited on by every later call.
func call[T, R any](ctx context.Context, p *Plugin, what string, fn func(context.Context, T) (R, error)) (R, error) {
	var zero R
	raw, err := p.acquire(ctx)
	if err != nil {
		return zero, err
	}
	impl, ok := raw.(T)
	if !ok {
		return zero, fmt.Errorf("plugin %q is a %s plugin, not what %s needs", p.Name, p.cfg.Kind, what)
	}
	timeout := p.cfg.Timeout
	if bulkCalls[what] {
		timeout = p.cfg.LongTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	started := time.Now()
	r, err := fn(cctx, impl)
	if p.observer != nil {
		p.observer.PluginCall(p.label, what, time.Since(started), err)
	}
	if err != nil {
		// The call's own deadline passed (not the caller's). The plugin side
		// learns the deadline too and may cancel the stream a moment before
		// the host's timer fires, so a call that lasted the timeout counts.
		elapsed := time.Since(started)
		if ctx.Err() == nil && (cctx.Err() != nil || elapsed >= timeout-max(timeout/50, time.Millisecond)) {
			p.hung(raw, what, timeout)
			return zero, fmt.Errorf("plugin %q: %s: %w: no answer within %s; its process was killed and will be relaunched (%w: %v)", p.Name, what, ErrUnresponsive, timeout, context.DeadlineExceeded, err)
		}
		p.failed(raw, err)
		return zero, fmt.Errorf("plugin %q: %s: %w", p.Name, what, err)
	}
	return r, nil
}

// hung kills the process behind raw (if it is still the current one) without
// asking it first: a stopped process cannot answer a graceful shutdown.
func (p *Plugin) hung(raw any, what string, timeout time.Duration) {
	p.mu.Lock()
	if p.raw != raw || p.client == nil {
		p.mu.Unlock()
		return
	}
	c := p.client
	p.client, p.raw = nil, nil
	p.lastErr = fmt.Errorf("%s: no answer within %s", what, timeout)
	p.mu.Unlock()
	pid := 0
	if rc := c.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	p.logger.Error("plugin stopped answering; killing it", "call", what, "timeout", timeout, "pid", pid)
	if pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	go c.Kill() // reaps it and closes the connection
}

// BaseEnv are the host's environment variables every plugin process gets:
// what a program needs to run, find its libraries and certificates, and
// tell the time. Nothing else of the host's environment — its store DSN,
// broker URL, webhook secret — reaches a plugin unless its config names
// it in env.
var BaseEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL", "LC_CTYPE", "SSL_CERT_FILE", "SSL_CERT_DIR", "ONNXRUNTIME_LIB"}

// PluginEnv is the environment of a plugin process: of environ (KEY=VALUE),
// the BaseEnv variables and those extra names.
func PluginEnv(environ, extra []string) []string {
	want := map[string]bool{}
	for _, k := range append(slices.Clone(BaseEnv), extra...) {
		want[k] = true
	}
	var out []string
	for _, kv := range environ {
		if k, _, ok := strings.Cut(kv, "="); ok && want[k] {
			out = append(out, kv)
		}
	}
	return out
}
