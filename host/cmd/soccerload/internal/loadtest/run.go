package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options say what Run drives and for how long.
type Options struct {
	// Host is the soccerpredict binary; Args are given to `serve` after
	// --addr (configs, --set overrides).
	Host string
	Args []string
	// Env is added to the server's environment (e.g. GOMAXPROCS=1).
	Env []string
	// Self is this harness's binary, started again as the ceiling server.
	Self     string
	Clients  []int
	Duration time.Duration
	Warmup   time.Duration
	// Rounds splits each row's Duration into this many slices, measured in
	// turns with the other targets at the same client count (ceiling,
	// uncached, cached, ceiling, …), each after its own Warmup: a machine
	// whose speed drifts from minute to minute then slows every target
	// alike, and each row's share of the ceiling is also given per round.
	// 0 or 1: one slice each, back to back.
	Rounds       int
	Competitions []string
	// Progress, when set, gets a one-line status several times a second.
	Progress io.Writer
	// Variants are more serve processes, each with its own extra Args
	// (e.g. --set monitor.log=false), measured uncached and cached right
	// after the main one at every client count: a comparison made in the
	// same run, minutes apart at most.
	Variants []Variant
}

// Variant is a serve process with extra arguments, named in the rows.
type Variant struct {
	Name string
	Args []string
}

// Row is one measured run.
type Row struct {
	Target  string // ceiling, uncached, cached
	Clients int
	Result  Result
	// PerRound is the rate of each round, in order (one with Rounds ≤ 1).
	PerRound []float64
	// CPU is the server's processes' CPU time (plugins included) per second.
	CPU float64
	// HostRSS and PluginRSS are resident memory in bytes after the run
	// (PluginRSS: all plugin processes together).
	HostRSS, PluginRSS int64
}

type fixture struct{ home, away, competition string }

// Run starts the ceiling server and `soccerpredict serve`, each its own
// process, and measures every target at every client count. Rows of one
// client count run back to back, so each comparison is made minutes apart
// at most, and in o.Rounds turns, seconds apart.
func Run(ctx context.Context, o Options, out io.Writer) ([]Row, error) {
	ceilingAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	hostAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	ceiling := exec.CommandContext(ctx, o.Self, "ceiling", "--addr", ceilingAddr)
	ceiling.Stderr = os.Stderr
	if err := start(ceiling); err != nil {
		return nil, fmt.Errorf("start the ceiling server: %w", err)
	}
	defer stopCmd(ceiling)
	serve, err := startServe(ctx, o, hostAddr, nil, out)
	if err != nil {
		return nil, err
	}
	defer stopCmd(serve)
	fmt.Fprintf(out, "the ceiling server on %s (pid %d)\n", ceilingAddr, ceiling.Process.Pid)
	type variantServer struct {
		name, addr string
		pid        int
	}
	var variants []variantServer
	for _, v := range o.Variants {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		cmd, err := startServe(ctx, o, addr, v.Args, out)
		if err != nil {
			return nil, fmt.Errorf("variant %s: %w", v.Name, err)
		}
		defer stopCmd(cmd)
		variants = append(variants, variantServer{v.Name, addr, cmd.Process.Pid})
	}
	if err := waitReady(ctx, "", 0); err != nil {
		return nil, err
	}
	pairs, err := realFixtures(ctx, "http://"+hostAddr, o.Competitions)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%d real fixtures (team pairs of recent matches in %s); %s per row after %s warm-up\n\n",
		len(pairs), strings.Join(o.Competitions, ", "), o.Duration, o.Warmup)

	type target struct {
		name, addr string
		pid        int
		body       func(row int) Body
	}
	uncached := func(row int) Body { return distinct(pairs, row) }
	targets := []target{
		{"ceiling", ceilingAddr, ceiling.Process.Pid, uncached},
		{"uncached", hostAddr, serve.Process.Pid, uncached},
		{"cached", hostAddr, serve.Process.Pid, func(int) Body { return same(pairs[0]) }},
	}
	for _, v := range variants {
		targets = append(targets, target{"uncached (" + v.name + ")", v.addr, v.pid, uncached},
			target{"cached (" + v.name + ")", v.addr, v.pid, func(int) Body { return same(pairs[1%len(pairs)]) }})
	}
	rounds := max(1, o.Rounds)
	slice := o.Duration / time.Duration(rounds)
	var rows []Row
	total := len(targets) * len(o.Clients) * rounds
	step := 0
	for _, c := range o.Clients {
		acc := make([]Row, len(targets))
		cpu := make([]time.Duration, len(targets))
		for round := range rounds {
			for i, t := range targets {
				step++
				n := step
				progress := func(done int64) {
					if o.Progress != nil {
						fmt.Fprintf(o.Progress, "\r[%d/%d] %-8s c=%-3d %8d requests", n, total, t.name, c, done)
					}
				}
				before := treeCPU(t.pid)
				res, err := Drive(ctx, t.addr, "/v1/predictions", c, o.Warmup, slice, t.body(n), progress)
				if err != nil {
					return rows, fmt.Errorf("%s with %d clients: %w", t.name, c, err)
				}
				cpu[i] += treeCPU(t.pid) - before
				if o.Progress != nil {
					fmt.Fprint(o.Progress, "\r\033[K")
				}
				acc[i].Target, acc[i].Clients = t.name, c
				acc[i].Result = acc[i].Result.add(res)
				acc[i].PerRound = append(acc[i].PerRound, res.Rate())
				if rounds > 1 {
					fmt.Fprintf(out, "%-20s c=%-3d round %d/%d %9.0f req/s\n", t.name, c, round+1, rounds, res.Rate())
				}
			}
		}
		for i, t := range targets {
			r := acc[i]
			r.Result.finish()
			r.CPU = cpu[i].Seconds() / (r.Result.Elapsed + time.Duration(rounds)*o.Warmup).Seconds()
			r.HostRSS, r.PluginRSS = treeRSS(t.pid)
			rows = append(rows, r)
			fmt.Fprintf(out, "%-20s c=%-3d %9.0f req/s  p50 %8s  p99 %8s  errors %d\n", t.name, c, r.Result.Rate(),
				r.Result.Percentile(0.5).Round(time.Microsecond), r.Result.Percentile(0.99).Round(time.Microsecond), r.Result.ErrorCount())
		}
	}
	return rows, nil
}

// distinct makes every request a fixture never asked before: a real pair of
// teams with a kick-off minute of its own (row keeps runs apart).
func distinct(pairs []fixture, row int) Body {
	base := time.Date(2030+row, 1, 1, 0, 0, 0, 0, time.UTC)
	return func(dst []byte, client, n int) []byte {
		f := pairs[(client*7919+n)%len(pairs)]
		k := base.Add(time.Duration(n*512+client) * time.Minute)
		return appendBody(dst, f, k)
	}
}

func same(f fixture) Body {
	b := appendBody(nil, f, time.Date(2030, 1, 1, 15, 0, 0, 0, time.UTC))
	return func(dst []byte, _, _ int) []byte { return append(dst, b...) }
}

// appendBody writes a prediction request by hand: json.Marshal per request
// would make the client cost more than the servers it measures.
func appendBody(dst []byte, f fixture, kickoff time.Time) []byte {
	dst = append(dst, `{"home_team":`...)
	dst = strconv.AppendQuote(dst, f.home)
	dst = append(dst, `,"away_team":`...)
	dst = strconv.AppendQuote(dst, f.away)
	dst = append(dst, `,"competition":`...)
	dst = strconv.AppendQuote(dst, f.competition)
	dst = append(dst, `,"kickoff":"`...)
	dst = kickoff.AppendFormat(dst, time.RFC3339)
	return append(dst, `"}`...)
}

// realFixtures takes the team pairs of the recent matches the server knows.
func realFixtures(ctx context.Context, base string, competitions []string) ([]fixture, error) {
	var out []fixture
	for _, c := range competitions {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/fixtures?competition="+c+"&limit=100", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		var body struct {
			Recent []struct {
				Fixture struct {
					HomeTeam string `json:"home_team"`
					AwayTeam string `json:"away_team"`
				} `json:"fixture"`
			} `json:"recent"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET /v1/fixtures?competition=%s: status %d: %v", c, resp.StatusCode, err)
		}
		for _, r := range body.Recent {
			out = append(out, fixture{r.Fixture.HomeTeam, r.Fixture.AwayTeam, c})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the server knows no recent matches: ingest data and train a champion first")
	}
	return out, nil
}

func waitReady(ctx context.Context, url string, within time.Duration) error {
	if url == "" {
		return nil
	}
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s (last: %v)", url, within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs cmd in a process group of its own, so stop ends it and its plugins.
func start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd.Start()
}

func stopCmd(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// limited keeps the first n bytes written to it.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// startServe starts `soccerpredict serve` on addr with o's and extra
// arguments and waits until it is ready.
func startServe(ctx context.Context, o Options, addr string, extra []string, out io.Writer) (*exec.Cmd, error) {
	args := append(append([]string{"serve", "--addr", addr, "--grpc-addr", "off"}, o.Args...), extra...)
	serve := exec.CommandContext(ctx, o.Host, args...)
	serve.Env = append(os.Environ(), o.Env...)
	var serveLog strings.Builder
	serve.Stdout, serve.Stderr = io.Discard, &limited{w: &serveLog, n: 64 << 10}
	if err := start(serve); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", o.Host, err)
	}
	fmt.Fprintf(out, "waiting for soccerpredict serve %s on %s (pid %d)\n", strings.Join(extra, " "), addr, serve.Process.Pid)
	if err := waitReady(ctx, "http://"+addr+"/readyz", 3*time.Minute); err != nil {
		stopCmd(serve)
		return nil, fmt.Errorf("soccerpredict serve: %w\n%s", err, serveLog.String())
	}
	return serve, nil
}
