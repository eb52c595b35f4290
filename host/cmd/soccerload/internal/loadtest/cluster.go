package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/soccerpredict/soccerpredict/host/webhook"
)

// clusterEnv is the production shape on one machine: two serve and two
// worker processes on PostgreSQL (through a proxy the suite can cut or
// hang), RabbitMQ and a Redis of the suite's own (which it can stop), with
// API keys on and every job asking for a webhook to the suite's receiver.
// Its scenarios count every job: accepted, finished, lost, run twice,
// called back twice, stuck.
type clusterEnv struct {
	o         FaultOptions
	host, cfg string
	key       string
	schema    string
	db        *pgx.Conn // direct, for the accounting
	pg        *proxy
	redis     *exec.Cmd
	redisAddr string
	serves    []*node
	workers   []*node
	hooks     *hookCounter
	amqpURL   string
	queueName string
}

// node is one serve or worker process; restart starts it again on the same
// address.
type node struct {
	kind, addr string
	args       []string
	cmd        *exec.Cmd
}

// hookCounter receives webhook deliveries and counts them per job, checking
// each signature.
type hookCounter struct {
	srv    *http.Server
	addr   string
	secret string
	mu     sync.Mutex
	by     map[string]int
	bad    int
}

func newHookCounter(secret string) (*hookCounter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookCounter{addr: ln.Addr().String(), secret: secret, by: map[string]int{}}
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if webhook.Verify([]byte(h.secret), r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute) != nil {
			h.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.by[r.Header.Get(webhook.JobHeader)]++
	})}
	go h.srv.Serve(ln)
	return h, nil
}

func (h *hookCounter) count(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.by[id]
}

func newClusterEnv(ctx context.Context, o FaultOptions, work, amqpURL string) (_ *clusterEnv, err error) {
	c := &clusterEnv{o: o, amqpURL: amqpURL}
	defer func() {
		if err != nil {
			c.stopCluster()
		}
	}()
	if c.db, err = pgx.Connect(ctx, o.Postgres); err != nil {
		return c, fmt.Errorf("connect to %s: %w", o.Postgres, err)
	}
	c.schema = fmt.Sprintf("faults_cluster_%d", time.Now().UnixNano())
	c.queueName = strings.ReplaceAll(c.schema, "_", "-")
	if _, err := c.db.Exec(ctx, "CREATE SCHEMA "+c.schema); err != nil {
		return c, err
	}
	target, err := pgAddr(o.Postgres)
	if err != nil {
		return c, err
	}
	if c.pg, err = newProxy(target); err != nil {
		return c, err
	}
	dsn := strings.Replace(o.Postgres, target, c.pg.address(), 1)
	dsn += map[bool]string{true: "&", false: "?"}[strings.Contains(dsn, "?")] + "search_path=" + c.schema
	if err := c.startRedis(ctx); err != nil {
		return c, err
	}
	secret := "fault-suite-webhook-secret-0123456789"
	if c.hooks, err = newHookCounter(secret); err != nil {
		return c, err
	}

	bin, pluginsYAML, err := ownPlugins(o, work)
	if err != nil {
		return c, err
	}
	c.cfg = filepath.Join(work, "cluster.yaml")
	yaml := fmt.Sprintf(`data_dir: %s
log: {level: warn, format: json}
store: {driver: postgres, dsn: %q}
queue: {driver: rabbitmq, url: %q, name: %s, relay_interval: 200ms, max_job_age: 10m}
cache: {driver: redis, addr: %s, prefix: "%s:"}
auth: {required: true}
webhooks: {allowed_hosts: ["127.0.0.1"], secret: %q, backoff: 300ms, max_backoff: 2s, max_attempts: 50, timeout: 2s, poll_interval: 200ms}
ingest: {expectations: %s}
%s`, filepath.Join(work, "var"), dsn, amqpURL, c.queueName, c.redisAddr, c.queueName, secret, o.Expect, pluginsYAML)
	if err := os.WriteFile(c.cfg, []byte(yaml), 0o644); err != nil {
		return c, err
	}
	c.host = filepath.Join(bin, "soccerpredict")
	// A champion, and a challenger the promotion scenario promotes.
	for _, args := range [][]string{{"ingest"}, {"models", "train", "--alias", "champion"},
		{"models", "train", "--alias", "challenger", "--set", "model.seed=2"}} {
		if _, err := c.run(ctx, args...); err != nil {
			return c, err
		}
	}
	out, err := c.run(ctx, "keys", "create", "--name", "faults", "--scopes", "predict", "--rate", "10000000")
	if err != nil {
		return c, err
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 2 || len(strings.Fields(lines[1])) == 0 {
		return c, fmt.Errorf("keys create printed no key:\n%s", out)
	}
	c.key = strings.Fields(lines[1])[0]
	for i := range 2 {
		for _, kind := range []string{"serve", "worker"} {
			addr, err := freeAddr()
			if err != nil {
				return c, err
			}
			n := &node{kind: kind, addr: addr}
			if kind == "serve" {
				n.args = []string{"serve", "--config", c.cfg, "--addr", addr, "--grpc-addr", "off"}
				c.serves = append(c.serves, n)
			} else {
				n.args = []string{"worker", "--config", c.cfg, "--addr", addr}
				c.workers = append(c.workers, n)
			}
			if err := c.startNode(ctx, n); err != nil {
				return c, fmt.Errorf("%s %d: %w", kind, i, err)
			}
		}
	}
	return c, nil
}

// run runs one host command to its end.
func (c *clusterEnv) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.host, append(args, "--config", c.cfg)...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("soccerpredict %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return string(b), nil
}

func (c *clusterEnv) startNode(ctx context.Context, n *node) error {
	n.cmd = exec.CommandContext(ctx, c.host, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = io.Discard, io.Discard
	if c.o.Verbose != nil {
		n.cmd.Stderr = c.o.Verbose
	}
	if err := start(n.cmd); err != nil {
		return err
	}
	return waitReady(ctx, "http://"+n.addr+"/readyz", 2*time.Minute)
}

// kill ends a node and its plugins as a crash would.
func (n *node) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		n.cmd.Wait()
	}
}

func (c *clusterEnv) startRedis(ctx context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(addr)
	c.redisAddr = addr
	c.redis = exec.CommandContext(ctx, "redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	c.redis.Stdout, c.redis.Stderr = io.Discard, io.Discard
	if err := start(c.redis); err != nil {
		return fmt.Errorf("start redis-server (apt-get install redis-server): %w", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			fmt.Fprint(conn, "PING\r\n")
			line, _ := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer", addr)
		}
	}
}

func (c *clusterEnv) stopCluster() {
	for _, n := range append(append([]*node{}, c.serves...), c.workers...) {
		if n.cmd != nil {
			stopCmd(n.cmd)
		}
	}
	if c.redis != nil {
		syscall.Kill(c.redis.Process.Pid, syscall.SIGCONT)
		stopCmd(c.redis)
	}
	if c.hooks != nil {
		c.hooks.srv.Close()
	}
	if c.pg != nil {
		c.pg.shutdown()
	}
	if c.db != nil {
		ctx := context.Background()
		c.db.Exec(ctx, "DROP SCHEMA "+c.schema+" CASCADE")
		c.db.Close(ctx)
		deleteQueues(strings.Split(c.amqpURL, ",")[0], c.queueName, c.queueName+".dlq")
	}
}

// mixedLoad is sync clients, async submitters and pollers spread over the
// serve processes, with the key; a client whose serve does not answer
// moves to the next, as behind a load balancer.
type mixedLoad struct {
	sync, async, poll *load
	mu                sync.Mutex
	accepted          map[string]bool
	order             []string
	slowestSubmit     time.Duration
	started           time.Time
}

func (c *clusterEnv) startMixed(syncClients, submitters, pollers int) *mixedLoad {
	m := &mixedLoad{accepted: map[string]bool{}, started: time.Now()}
	var targets []string
	for _, s := range c.serves {
		targets = append(targets, "http://"+s.addr)
	}
	m.sync = runLoad(targets, c.key, syncClients, func(base string, n int64) (*http.Request, error) {
		return http.NewRequest("POST", base+"/v1/predictions", strings.NewReader(predictionBody(n)))
	}, nil, nil)
	hook := "http://" + c.hooks.addr + "/hook"
	m.async = runLoad(targets, c.key, submitters, func(base string, n int64) (*http.Request, error) {
		body := strings.TrimSuffix(predictionBody(n), "}") + fmt.Sprintf(`, "callback_url": %q}`, hook)
		return http.NewRequest("POST", base+"/v1/predictions/async", strings.NewReader(body))
	}, func(status int, body []byte, took time.Duration) {
		if status != http.StatusAccepted {
			return
		}
		var v struct {
			JobID string `json:"job_id"`
		}
		json.Unmarshal(body, &v)
		m.mu.Lock()
		m.accepted[v.JobID] = true
		m.order = append(m.order, v.JobID)
		m.slowestSubmit = max(m.slowestSubmit, took)
		m.mu.Unlock()
	}, nil)
	m.poll = runLoad(targets, c.key, pollers, func(base string, n int64) (*http.Request, error) {
		m.mu.Lock()
		id := "none"
		if len(m.order) > 0 {
			id = m.order[rand.IntN(len(m.order))]
		}
		m.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		return http.NewRequest("GET", base+"/v1/jobs/"+id, nil)
	}, nil, func(status int) bool { return status == 200 || status == 404 })
	return m
}

func (m *mixedLoad) fault() { m.sync.fault(); m.async.fault(); m.poll.fault() }

// end stops the clients and returns their statuses, prefixed by kind.
func (m *mixedLoad) end() Fault {
	f := Fault{Statuses: map[string]int{}}
	for kind, l := range map[string]*load{"sync": m.sync, "async": m.async, "poll": m.poll} {
		r := l.end()
		f.Requests += r.Requests
		for k, v := range r.Statuses {
			f.Statuses[kind+" "+k] += v
		}
		if kind == "async" {
			f.Recovery = r.Recovery
		}
	}
	return f
}

// runLoad is load's general form: clients goroutines send newReq to their
// target until stopped; seen, when set, gets each answer; ok says which
// statuses count as service (200 and 202 when nil).
func runLoad(targets []string, key string, clients int, newReq func(base string, n int64) (*http.Request, error),
	seen func(status int, body []byte, took time.Duration), ok func(status int) bool) *load {
	if ok == nil {
		ok = func(s int) bool { return s == 200 || s == 202 }
	}
	l := &load{statuses: map[string]int{}, stop: make(chan struct{})}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	for i := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			t := i % len(targets)
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, err := newReq(targets[t], l.n.Add(1))
				if err != nil {
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				if key != "" {
					req.Header.Set("Authorization", "Bearer "+key)
				}
				began := time.Now()
				resp, err := client.Do(req)
				status, good := "error", false
				if err != nil {
					t = (t + 1) % len(targets) // this one is down: the next
					time.Sleep(10 * time.Millisecond)
				} else {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					status, good = fmt.Sprint(resp.StatusCode), ok(resp.StatusCode)
					if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
						status = "503 without Retry-After"
					}
					if seen != nil {
						seen(resp.StatusCode, body, time.Since(began))
					}
				}
				l.mu.Lock()
				l.statuses[status]++
				if !l.faultAt.IsZero() {
					if !good {
						l.failedYet = true
					} else if l.failedYet && l.recovered == 0 {
						l.recovered = time.Since(l.faultAt)
					}
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// countJobs waits (up to within) until every job created since the load began
// has ended and been called back, then counts them against what the
// clients were told.
func (c *clusterEnv) countJobs(ctx context.Context, m *mixedLoad, within time.Duration) (tally, error) {
	type row struct {
		status, reason string
		attempts       int
	}
	var jobs map[string]row
	deadline := time.Now().Add(within)
	for {
		rows, err := c.db.Query(ctx, `SELECT id, status, attempts, error FROM `+c.schema+`.jobs WHERE created_at >= $1`, m.started.Add(-time.Second))
		if err != nil {
			return tally{}, err
		}
		jobs = map[string]row{}
		open, uncalled := 0, 0
		for rows.Next() {
			var id string
			var r row
			if err := rows.Scan(&id, &r.status, &r.attempts, &r.reason); err != nil {
				rows.Close()
				return tally{}, err
			}
			jobs[id] = r
			switch r.status {
			case "queued", "running":
				open++
			default:
				if c.hooks.count(id) == 0 {
					uncalled++
				}
			}
		}
		rows.Close()
		if (open == 0 && uncalled == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t := tally{failures: map[string]int{}}
	m.mu.Lock()
	defer m.mu.Unlock()
	t.accepted = len(m.accepted)
	c.hooks.mu.Lock()
	t.badSignatures = c.hooks.bad
	c.hooks.mu.Unlock()
	for id := range m.accepted {
		if _, ok := jobs[id]; !ok {
			t.lost++
		}
	}
	for id, r := range jobs {
		if !m.accepted[id] {
			t.unacknowledged++
		}
		switch r.status {
		case "queued", "running":
			t.stuck++
			continue
		case "failed":
			t.failed++
			t.failures[r.reason]++
		case "cancelled":
			t.cancelled++
		}
		t.finished++
		if r.attempts > 1 {
			t.startedTwice++
		}
		switch n := c.hooks.count(id); {
		case n == 0:
			t.notCalledBack++
		case n > 1:
			t.calledBackTwice++
		}
	}
	return t, nil
}

// clusterScenario runs a mixed load, calls fault one and a half seconds in
// (it returns when the fault is over), waits for the service to recover
// and counts the jobs.
func (c *clusterEnv) clusterScenario(ctx context.Context, fault func() string) (Fault, error) {
	m := c.startMixed(8, 4, 2)
	time.Sleep(1500 * time.Millisecond)
	m.fault()
	notes := fault()
	waitRecovered(m.async, 30*time.Second)
	waitRecovered(m.sync, 10*time.Second)
	time.Sleep(time.Second)
	f := m.end()
	t, err := c.countJobs(ctx, m, 3*time.Minute)
	if err != nil {
		return f, err
	}
	f.Jobs = &t
	f.Notes = strings.TrimPrefix(notes+"; slowest accepted submission "+m.slowestSubmit.Round(time.Millisecond).String(), "; ")
	return f, nil
}

// pgHang: the proxy keeps every PostgreSQL connection open and accepts new
// ones but passes nothing either way for d.
func (c *clusterEnv) pgHang(ctx context.Context, d time.Duration) (Fault, error) {
	return c.clusterScenario(ctx, func() string {
		c.pg.hang(true)
		time.Sleep(d)
		c.pg.hang(false)
		return ""
	})
}

// pgRefuse: every PostgreSQL connection dropped and new ones refused for d.
func (c *clusterEnv) pgRefuse(ctx context.Context, d time.Duration) (Fault, error) {
	return c.clusterScenario(ctx, func() string {
		c.pg.cut(true)
		time.Sleep(d)
		c.pg.cut(false)
		return ""
	})
}

// redisHang: the Redis process is stopped (SIGSTOP) for d: connections
// stay open, nothing answers.
func (c *clusterEnv) redisHang(ctx context.Context, d time.Duration) (Fault, error) {
	return c.clusterScenario(ctx, func() string {
		syscall.Kill(c.redis.Process.Pid, syscall.SIGSTOP)
		time.Sleep(d)
		syscall.Kill(c.redis.Process.Pid, syscall.SIGCONT)
		return ""
	})
}

// promoteAndKill promotes the challenger while one serve and one worker
// are killed (kill -9, with their plugins) and started again five seconds
// later; at the end every serve must answer with the promoted version.
func (c *clusterEnv) promoteAndKill(ctx context.Context) (Fault, error) {
	var promoteErr error
	return c.clusterScenario(ctx, func() string {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, promoteErr = c.run(ctx, "models", "promote", "--force", "--reason", "fault suite")
		}()
		time.Sleep(500 * time.Millisecond)
		c.serves[0].kill()
		c.workers[0].kill()
		time.Sleep(5 * time.Second)
		<-done
		var restartErr error
		for _, n := range []*node{c.serves[0], c.workers[0]} {
			if err := c.startNode(ctx, n); err != nil && restartErr == nil {
				restartErr = err
			}
		}
		switch {
		case promoteErr != nil:
			return "promotion FAILED: " + promoteErr.Error()
		case restartErr != nil:
			return "restart FAILED: " + restartErr.Error()
		}
		return "champion promoted; " + c.versionsServed(ctx)
	})
}

// versionsServed asks each serve for one prediction and says which model
// version answered.
func (c *clusterEnv) versionsServed(ctx context.Context) string {
	var parts []string
	for i, s := range c.serves {
		version := "?"
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+s.addr+"/v1/predictions", strings.NewReader(predictionBody(int64(i))))
			req.Header.Set("Authorization", "Bearer "+c.key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			var v struct {
				Model struct {
					Version int `json:"version"`
				} `json:"model"`
			}
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				version = fmt.Sprint(v.Model.Version)
				break
			}
		}
		parts = append(parts, fmt.Sprintf("serve %d answers with version %s", i+1, version))
	}
	return strings.Join(parts, ", ")
}

// soak runs the mixed load for d with the processes' memory, open files
// and goroutines at start and end.
func (c *clusterEnv) soak(ctx context.Context, d time.Duration) (Fault, error) {
	before := c.resources()
	m := c.startMixed(16, 4, 2)
	time.Sleep(d)
	f := m.end()
	t, err := c.countJobs(ctx, m, 3*time.Minute)
	if err != nil {
		return f, err
	}
	f.Jobs = &t
	f.Notes = fmt.Sprintf("%s mixed: %.0f req/s; %s → %s", d, float64(f.Requests)/d.Seconds(), before, c.resources())
	return f, nil
}

// resources sums RSS (with plugins) and open files of every serve and
// worker, and their goroutines from /metrics.
func (c *clusterEnv) resources() string {
	var rss int64
	fds, goroutines := 0, 0
	for _, n := range append(append([]*node{}, c.serves...), c.workers...) {
		for _, p := range tree(n.cmd.Process.Pid) {
			rss += vmRSS(p.pid)
			ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid))
			fds += len(ents)
		}
		goroutines += metricValue("http://"+n.addr+"/metrics", "go_goroutines")
	}
	return fmt.Sprintf("RSS %s, %d open files, %d goroutines", mb(rss), fds, goroutines)
}

func metricValue(url, name string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return int(f)
		}
	}
	return 0
}

// deleteQueues removes the suite's queues from the broker.
func deleteQueues(url string, names ...string) {
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	defer ch.Close()
	for _, n := range names {
		ch.QueueDelete(n, false, false, false)
	}
}
