package loadtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FaultOptions say where the binaries and data are and how long the soak runs.
type FaultOptions struct {
	Bin      string // the directory with soccerpredict and the plugins (make build's bin/)
	Data     string // the football-data directory
	Expect   string // the expectation suite
	ORT      string // libonnxruntime.so
	Postgres string // a PostgreSQL URL for the store scenarios ("" skips them)
	AMQP     string // RabbitMQ for the cluster scenarios ("" skips them)
	Soak     time.Duration
	Progress io.Writer
	Verbose  io.Writer // the processes' logs, when set
	Only     string    // run only the scenarios whose name holds this
}

// Fault is one scenario's outcome.
type Fault struct {
	Scenario string
	Requests int
	Statuses map[string]int
	Recovery time.Duration // from the fault to the first success after it (0: nothing failed)
	Notes    string
	Jobs     *tally // what became of the async jobs (cluster scenarios)
}

// ownPlugins copies the host and plugin binaries into work/bin (so a
// scenario may replace one) and returns that directory and the config's
// plugins, sources, features and model sections naming them, pinned.
func ownPlugins(o FaultOptions, work string) (bin, yaml string, err error) {
	bin = filepath.Join(work, "bin")
	os.MkdirAll(bin, 0o755)
	for _, name := range []string{"soccerpredict", "soccer-source-footballdata", "soccer-features-ratings", "soccer-model-onnx"} {
		b, err := os.ReadFile(filepath.Join(o.Bin, name))
		if err != nil {
			return "", "", fmt.Errorf("%w (run make build)", err)
		}
		if err := os.WriteFile(filepath.Join(bin, name), b, 0o755); err != nil {
			return "", "", err
		}
	}
	plugin := func(name string) (string, string) {
		path := filepath.Join(bin, name)
		b, _ := os.ReadFile(path)
		h := sha256.Sum256(b)
		return path, hex.EncodeToString(h[:])
	}
	sourcePath, sourceSum := plugin("soccer-source-footballdata")
	featuresPath, featuresSum := plugin("soccer-features-ratings")
	modelPath, modelSum := plugin("soccer-model-onnx")
	return bin, fmt.Sprintf(`plugins:
  footballdata: {kind: source, path: %s, sha256: %s, config: {dir: %s}}
  ratings: {kind: features, path: %s, sha256: %s, timeout: 2s}
  onnx: {kind: model, path: %s, sha256: %s, timeout: 2s, config: {library: %s}}
sources: [{plugin: footballdata}]
features: {plugin: ratings}
model: {plugin: onnx, params: {algorithm: logreg}, seed: 1}
`, sourcePath, sourceSum, o.Data, featuresPath, featuresSum, modelPath, modelSum, o.ORT), nil
}

func pgAddr(url string) (string, error) {
	rest, ok := strings.CutPrefix(url, "postgres://")
	if !ok {
		rest, ok = strings.CutPrefix(url, "postgresql://")
	}
	if !ok {
		return "", fmt.Errorf("%q is not a postgres:// URL", url)
	}
	if _, after, found := strings.Cut(rest, "@"); found {
		rest = after
	}
	host, _, _ := strings.Cut(rest, "/")
	if !strings.Contains(host, ":") {
		host += ":5432"
	}
	return host, nil
}

// proxy forwards TCP connections to target; cut(true) drops every
// connection and refuses new ones until cut(false); hang(true) keeps every
// connection open, accepts new ones and passes nothing either way until
// hang(false) — a database that accepts and never answers.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	gate   *sync.Cond
	down   bool
	hung   bool
	conns  map[net.Conn]bool
}

func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.gate = sync.NewCond(&p.mu)
	go p.accept()
	return p, nil
}

func (p *proxy) address() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[u] = true, true
		p.mu.Unlock()
		go p.pipe(u, c)
		go p.pipe(c, u)
	}
}

// pipe copies src to dst, holding each chunk while the proxy hangs.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.hung {
				p.gate.Wait()
			}
			p.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func (p *proxy) hang(hung bool) {
	p.mu.Lock()
	p.hung = hung
	p.mu.Unlock()
	p.gate.Broadcast()
}

func (p *proxy) shutdown() {
	p.ln.Close()
	p.hang(false)
	p.cut(true)
}

func statusText(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// FaultTable writes the outcomes as a Markdown table.
func FaultTable(w io.Writer, fs []Fault) {
	host, _ := hostname()
	fmt.Fprintf(w, "%s, %s\n\n", host, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintln(w, "| scenario | requests | answers by status | recovery | async jobs | notes |")
	fmt.Fprintln(w, "|---|---:|---|---:|---|---|")
	for _, f := range fs {
		rec := "—"
		if f.Recovery > 0 {
			rec = f.Recovery.Round(time.Millisecond).String()
		}
		jobs := "—"
		if f.Jobs != nil {
			jobs = strings.TrimPrefix(f.Jobs.String(), "jobs: ")
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", f.Scenario, f.Requests, statusText(f.Statuses), rec, jobs, f.Notes)
	}
}

// tally is what became of the jobs created since a scenario began.
type tally struct {
	accepted, finished, failed, cancelled int
	lost, stuck                           int
	startedTwice, calledBackTwice         int
	unacknowledged, notCalledBack         int
	badSignatures                         int // deliveries whose signature did not verify (so far, all scenarios)
	failures                              map[string]int
}

func (t tally) String() string {
	s := fmt.Sprintf("jobs: %d accepted, %d finished (%d failed), %d lost, %d stuck, %d run twice, %d called back twice, %d never called back",
		t.accepted, t.finished-t.cancelled, t.failed, t.lost, t.stuck, t.startedTwice, t.calledBackTwice, t.notCalledBack)
	if t.badSignatures > 0 {
		s += fmt.Sprintf("; %d deliveries with a signature that did not verify", t.badSignatures)
	}
	if t.unacknowledged > 0 {
		s += fmt.Sprintf("; %d stored whose client was not told 202 (the store answered after the submission gave up), %d of them cancelled", t.unacknowledged, t.cancelled)
	}
	var reasons []string
	for r, n := range t.failures {
		reasons = append(reasons, fmt.Sprintf("%d × %q", n, r))
	}
	sort.Strings(reasons)
	if len(reasons) > 0 {
		s += "; failed: " + strings.Join(reasons, ", ")
	}
	return s
}

// load posts distinct fixtures from clients goroutines until stop is
// closed, noting each status and when the first success after a fault came.
type load struct {
	mu        sync.Mutex
	statuses  map[string]int
	faultAt   time.Time
	failedYet bool
	recovered time.Duration
	n         atomic.Int64
	wg        sync.WaitGroup
	stop      chan struct{}
}

func (l *load) fault() {
	l.mu.Lock()
	l.faultAt = time.Now()
	l.mu.Unlock()
}

func (l *load) end() Fault {
	close(l.stop)
	l.wg.Wait()
	total := 0
	for _, c := range l.statuses {
		total += c
	}
	return Fault{Requests: total, Statuses: l.statuses, Recovery: l.recovered}
}

func predictionBody(n int64) string {
	k := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(faultSeq.Add(1)) * time.Minute)
	teams := []string{"Arsenal", "Chelsea", "Liverpool", "Everton", "Fulham", "Brentford"}
	return fmt.Sprintf(`{"home_team": %q, "away_team": %q, "competition": "E0", "kickoff": %q}`,
		teams[n%6], teams[(n+1)%6], k.Format(time.RFC3339))
}

var faultSeq atomic.Int64

func waitRecovered(l *load, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		done := l.recovered > 0 || (!l.failedYet && time.Since(l.faultAt) > 3*time.Second)
		l.mu.Unlock()
		if done {
			time.Sleep(time.Second) // and a second of service after it
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
