package loadtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// RunFaults injects each fault into real processes on localhost while
// clients keep asking for predictions, and reports what the clients saw.
// Each group of scenarios starts its processes only when one of its
// scenarios is to run (o.Only).
func RunFaults(ctx context.Context, o FaultOptions, out io.Writer) ([]Fault, error) {
	work, err := os.MkdirTemp("", "soccerpredict-faults-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var results []Fault
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	type scenario struct {
		name string
		run  func() (Fault, error)
	}
	// runAll runs the scenarios o.Only selects, after setup (when any is).
	runAll := func(setup func() error, scenarios ...scenario) error {
		var chosen []scenario
		for _, sc := range scenarios {
			if strings.Contains(sc.name, o.Only) {
				chosen = append(chosen, sc)
			}
		}
		if len(chosen) == 0 {
			return nil
		}
		if err := setup(); err != nil {
			return err
		}
		for _, sc := range chosen {
			progress("running %s …", sc.name)
			f, err := sc.run()
			f.Scenario = sc.name
			if err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
			results = append(results, f)
			fmt.Fprintf(out, "%-34s %7d requests  %-40s recovery %s  %s\n", f.Scenario, f.Requests, statusText(f.Statuses), f.Recovery.Round(time.Millisecond), f.Notes)
			if f.Jobs != nil {
				fmt.Fprintf(out, "%-34s %s\n", "", f.Jobs)
			}
		}
		return nil
	}

	// One serve on the embedded store.
	var env *faultEnv
	defer func() {
		if env != nil {
			env.stopServe()
		}
	}()
	err = runAll(func() (err error) { env, err = newFaultEnv(ctx, o, work, ""); return err },
		scenario{"model plugin kill -9", func() (Fault, error) { return env.signalPlugin(ctx, "soccer-model-onnx", syscall.SIGKILL) }},
		scenario{"feature plugin kill -9", func() (Fault, error) { return env.signalPlugin(ctx, "soccer-features-ratings", syscall.SIGKILL) }},
		scenario{"model plugin SIGSTOP", func() (Fault, error) { return env.signalPlugin(ctx, "soccer-model-onnx", syscall.SIGSTOP) }},
		scenario{"tampered model binary", func() (Fault, error) { return env.tamper(ctx) }},
		scenario{"slow and idle clients", func() (Fault, error) { return env.slowClients(ctx) }},
		scenario{"oversized and hostile input", func() (Fault, error) { return env.hostile(ctx) }},
		scenario{"sustained load", func() (Fault, error) { return env.soak(ctx, o.Soak) }},
	)
	if env != nil {
		env.stopServe()
		env = nil
	}
	if err != nil || o.Postgres == "" {
		return results, err
	}
	if err := runAll(func() error { return nil },
		scenario{"PostgreSQL connection cut (5 s)", func() (Fault, error) { return pgCut(ctx, o, work) }}); err != nil || o.AMQP == "" {
		return results, err
	}

	// Two serve and two workers on PostgreSQL, RabbitMQ and Redis.
	var cluster *clusterEnv
	defer func() {
		if cluster != nil {
			cluster.stopCluster()
		}
	}()
	err = runAll(func() (err error) {
		progress("starting two serve and two worker processes on PostgreSQL, RabbitMQ and Redis …")
		cwork := filepath.Join(work, "cluster")
		os.MkdirAll(cwork, 0o755)
		cluster, err = newClusterEnv(ctx, o, cwork, o.AMQP)
		return err
	},
		scenario{"cluster: PostgreSQL hangs (10 s)", func() (Fault, error) { return cluster.pgHang(ctx, 10*time.Second) }},
		scenario{"cluster: PostgreSQL refuses (10 s)", func() (Fault, error) { return cluster.pgRefuse(ctx, 10*time.Second) }},
		scenario{"cluster: Redis hangs (10 s)", func() (Fault, error) { return cluster.redisHang(ctx, 10*time.Second) }},
		scenario{"cluster: promotion, a serve and a worker kill -9", func() (Fault, error) { return cluster.promoteAndKill(ctx) }},
		scenario{"cluster: mixed soak", func() (Fault, error) { return cluster.soak(ctx, o.Soak) }},
	)
	if cluster != nil {
		cluster.stopCluster()
		cluster = nil
	}
	if err != nil {
		return results, err
	}

	// The same on a three-node RabbitMQ cluster of the suite's own.
	var rc *rabbitCluster
	defer func() {
		if rc != nil {
			rc.stopRabbit()
		}
	}()
	err = runAll(func() (err error) {
		progress("starting a three-node RabbitMQ cluster, and two serve and two worker processes on it …")
		rwork := filepath.Join(work, "rabbit")
		os.MkdirAll(filepath.Join(rwork, "broker"), 0o755)
		if rc, err = startRabbitCluster(ctx, filepath.Join(rwork, "broker")); err != nil {
			return err
		}
		cluster, err = newClusterEnv(ctx, o, rwork, rc.urls())
		return err
	},
		scenario{"cluster: RabbitMQ loses the queue leader, then a second node", func() (Fault, error) { return cluster.rabbitNodeLoss(ctx, rc) }},
	)
	return results, err
}

// faultEnv is a serve process with its own copies of the plugin binaries
// (so a scenario may replace one) and its own store.
type faultEnv struct {
	bin, cfg, addr string
	serve          *exec.Cmd
}

func newFaultEnv(ctx context.Context, o FaultOptions, work, dsn string) (*faultEnv, error) {
	bin, pluginsYAML, err := ownPlugins(o, work)
	if err != nil {
		return nil, err
	}
	store := "store: {driver: sqlite}"
	if dsn != "" {
		store = fmt.Sprintf("store: {driver: postgres, dsn: %q}", dsn)
	}
	cfg := filepath.Join(work, "faults.yaml")
	yaml := fmt.Sprintf(`data_dir: %s
log: {level: error, format: json}
%s
ingest: {expectations: %s}
%s`, filepath.Join(work, "var"), store, o.Expect, pluginsYAML)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	host := filepath.Join(bin, "soccerpredict")
	for _, args := range [][]string{{"ingest"}, {"models", "train", "--if-no-champion"}} {
		cmd := exec.CommandContext(ctx, host, append(args, "--config", cfg)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("soccerpredict %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	serve := exec.CommandContext(ctx, host, "serve", "--config", cfg, "--addr", addr)
	serve.Stdout, serve.Stderr = io.Discard, io.Discard
	if err := start(serve); err != nil {
		return nil, err
	}
	e := &faultEnv{bin: bin, cfg: cfg, addr: addr, serve: serve}
	if err := waitReady(ctx, "http://"+addr+"/readyz", 2*time.Minute); err != nil {
		e.stopServe()
		return nil, err
	}
	return e, nil
}

func (e *faultEnv) stopServe() { stopCmd(e.serve) }

// pluginPID finds serve's child process running the named plugin binary.
func (e *faultEnv) pluginPID(name string) int {
	for _, p := range tree(e.serve.Process.Pid)[1:] {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.pid))
		if filepath.Base(exe) == name {
			return p.pid
		}
	}
	return 0
}

func (e *faultEnv) startLoad(clients int, path string, body func(n int64) string) *load {
	return runLoad([]string{"http://" + e.addr}, "", clients, func(base string, n int64) (*http.Request, error) {
		return http.NewRequest("POST", base+path, strings.NewReader(body(n)))
	}, nil, nil)
}

// signalPlugin sends sig to a plugin process one second into the load and
// ends the run once predictions have been served again for a second.
func (e *faultEnv) signalPlugin(ctx context.Context, binary string, sig syscall.Signal) (Fault, error) {
	pid := e.pluginPID(binary)
	if pid == 0 {
		return Fault{}, fmt.Errorf("no %s process under serve", binary)
	}
	l := e.startLoad(16, "/v1/predictions", predictionBody)
	time.Sleep(time.Second)
	l.fault()
	syscall.Kill(pid, sig)
	defer syscall.Kill(pid, syscall.SIGKILL) // a stopped process is killed by the host; make sure
	waitRecovered(l, 15*time.Second)
	f := l.end()
	after := e.pluginPID(binary)
	f.Notes = fmt.Sprintf("pid %d replaced by %d", pid, after)
	if after == 0 || after == pid {
		f.Notes = fmt.Sprintf("pid %d NOT replaced", pid)
	}
	return f, nil
}

// tamper replaces the model binary with one that is not the pinned one and
// kills the running process: launches are refused, requests are 503; after
// three seconds the real binary is put back and serving resumes.
func (e *faultEnv) tamper(ctx context.Context) (Fault, error) {
	path := filepath.Join(e.bin, "soccer-model-onnx")
	good, err := os.ReadFile(path)
	if err != nil {
		return Fault{}, err
	}
	pid := e.pluginPID("soccer-model-onnx")
	l := e.startLoad(8, "/v1/predictions", predictionBody)
	time.Sleep(time.Second)
	os.Remove(path)
	os.WriteFile(path, append(append([]byte{}, good...), 0), 0o755)
	l.fault()
	syscall.Kill(pid, syscall.SIGKILL)
	time.Sleep(3 * time.Second)
	os.Remove(path)
	os.WriteFile(path, good, 0o755)
	waitRecovered(l, 20*time.Second)
	f := l.end()
	f.Notes = "binary restored after 3 s; recovery includes the relaunch backoff"
	return f, nil
}

// slowClients opens 300 connections that send half a body, 300 that send
// half their headers and 1,000 idle keep-alive ones while 16 clients load
// the server; it reports how many the server closed and how the load fared.
func (e *faultEnv) slowClients(ctx context.Context) (Fault, error) {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	open := func(n int, first string) error {
		for range n {
			c, err := net.Dial("tcp", e.addr)
			if err != nil {
				return err
			}
			fmt.Fprint(c, first)
			conns = append(conns, c)
		}
		return nil
	}
	l := e.startLoad(16, "/v1/predictions", predictionBody)
	l.fault()
	started := time.Now()
	if err := open(300, "POST /v1/predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"home_team\": "); err != nil {
		return Fault{}, err
	}
	if err := open(300, "POST /v1/predictions HTTP/1.1\r\nHost: x\r\n"); err != nil {
		return Fault{}, err
	}
	if err := open(1000, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return Fault{}, err
	}
	closed := make(chan bool, len(conns))
	for _, c := range conns {
		go func() { closed <- closedWithin(c, 70*time.Second) }()
	}
	n := 0
	for range conns {
		if <-closed {
			n++
		}
	}
	f := l.end()
	f.Recovery = 0
	f.Notes = fmt.Sprintf("%d of %d slow or idle connections closed by the server within %s", n, len(conns), time.Since(started).Round(time.Second))
	return f, nil
}

func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	ne, ok := err.(net.Error)
	return !(ok && ne.Timeout())
}

// hostile sends each kind of bad input 50 times.
func (e *faultEnv) hostile(ctx context.Context) (Fault, error) {
	huge := strings.Repeat("A", 1_000_000)
	bodies := []struct{ method, path, body string }{
		{"POST", "/v1/predictions", `{"home_team": "` + strings.Repeat("B", 2<<20) + `"}`},
		{"POST", "/v1/predictions", `{"home_team": "` + huge + `", "away_team": "Chelsea", "competition": "E0"}`},
		{"POST", "/v1/predictions", `{"home_team": "Arse\u0000nal", "away_team": "Chelsea", "competition": "E0"}`},
		{"POST", "/v1/predictions/async", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "odds": {"bookmaker": "P\u0000S", "home": 2, "draw": 3.4, "away": 3.9}}`},
		{"GET", "/v1/jobs/%00", ""},
		{"GET", "/v1/jobs/%FF%FE", ""},
		{"POST", "/v1/predictions", `{"home_team": 7}`},
		{"POST", "/v1/predictions", `{{{{`},
		{"POST", "/v2/models/soccerpredict/infer", `{"inputs": [{"name": "home_team", "shape": [20000], "datatype": "BYTES", "data": [` + strings.TrimSuffix(strings.Repeat(`"Arsenal",`, 20000), ",") + `]}]}`},
	}
	f := Fault{Statuses: map[string]int{}}
	var slowest time.Duration
	for range 50 {
		for _, b := range bodies {
			req, _ := http.NewRequestWithContext(ctx, b.method, "http://"+e.addr+b.path, strings.NewReader(b.body))
			req.Header.Set("Content-Type", "application/json")
			started := time.Now()
			resp, err := http.DefaultClient.Do(req)
			status := "error"
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = fmt.Sprint(resp.StatusCode)
			}
			slowest = max(slowest, time.Since(started))
			f.Statuses[status]++
			f.Requests++
		}
	}
	f.Notes = fmt.Sprintf("%d kinds of bad input; slowest answer %s", len(bodies), slowest.Round(time.Millisecond))
	return f, nil
}

// soak loads the server at 64 clients for d, with its RSS at start and end.
func (e *faultEnv) soak(ctx context.Context, d time.Duration) (Fault, error) {
	hostStart, pluginsStart := treeRSS(e.serve.Process.Pid)
	l := e.startLoad(64, "/v1/predictions", predictionBody)
	time.Sleep(d)
	f := l.end()
	hostEnd, pluginsEnd := treeRSS(e.serve.Process.Pid)
	f.Notes = fmt.Sprintf("%s at 64 clients, %.0f req/s; RSS host %s → %s, plugins %s → %s", d, float64(f.Requests)/d.Seconds(),
		mb(hostStart), mb(hostEnd), mb(pluginsStart), mb(pluginsEnd))
	return f, nil
}

// pgCut runs serve on PostgreSQL through a TCP proxy, cuts the proxy for
// five seconds under a mix of synchronous and asynchronous predictions, and
// restores it.
func pgCut(ctx context.Context, o FaultOptions, work string) (Fault, error) {
	conn, err := pgx.Connect(ctx, o.Postgres)
	if err != nil {
		return Fault{}, fmt.Errorf("connect to %s: %w", o.Postgres, err)
	}
	schema := fmt.Sprintf("faults_%d", time.Now().UnixNano())
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	defer conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	defer conn.Close(context.Background())
	if err != nil {
		return Fault{}, err
	}
	target, err := pgAddr(o.Postgres)
	if err != nil {
		return Fault{}, err
	}
	proxy, err := newProxy(target)
	if err != nil {
		return Fault{}, err
	}
	defer proxy.shutdown()
	dsn := strings.Replace(o.Postgres, target, proxy.address(), 1)
	if strings.Contains(dsn, "?") {
		dsn += "&search_path=" + schema
	} else {
		dsn += "?search_path=" + schema
	}
	pgWork := filepath.Join(work, "pg")
	os.MkdirAll(pgWork, 0o755)
	env, err := newFaultEnv(ctx, o, pgWork, dsn)
	if err != nil {
		return Fault{}, err
	}
	defer env.stopServe()
	syncLoad := env.startLoad(8, "/v1/predictions", predictionBody)
	async := env.startLoad(4, "/v1/predictions/async", predictionBody)
	time.Sleep(time.Second)
	syncLoad.fault()
	async.fault()
	proxy.cut(true)
	time.Sleep(5 * time.Second)
	proxy.cut(false)
	waitRecovered(async, 30*time.Second)
	fs, fa := syncLoad.end(), async.end()
	f := Fault{Requests: fs.Requests + fa.Requests, Statuses: map[string]int{}, Recovery: fa.Recovery}
	for k, v := range fs.Statuses {
		f.Statuses["sync "+k] += v
	}
	for k, v := range fa.Statuses {
		f.Statuses["async "+k] += v
	}
	f.Notes = "synchronous predictions never touch the store; async submissions need it; recovery is the async side's"
	return f, nil
}
