package loadtest

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/synth"
)

// ScaleOptions drive `soccerload scale` (make bench-scale): for each size a
// synthetic corpus, a fresh embedded store, then ingest, train, serve until
// ready, and evaluate, each the real host binary with its plugin processes.
type ScaleOptions struct {
	Host  string // the soccerpredict binary
	Sizes []int  // about this many matches each
	Dir   string // scratch: corpora and stores
	// Config is the base configuration (configs/local.yaml): plugins, contract.
	Config string
	// WorkDir is where the commands run (the repository root: the base
	// configuration's paths are relative to it); empty is the current one.
	WorkDir string
	Log     io.Writer
	// Stages limits the run to these stages (ingest, train, "serve ready",
	// evaluate); empty runs them all. A stage needs the ones before it.
	Stages []string
	// Layout is the corpus's columns, as `soccerpredict synth --layout`
	// takes them (full or compact).
	Layout string
}

// ScaleRow is one stage at one size.
type ScaleRow struct {
	Matches   int
	Stage     string
	Wall      time.Duration
	HostPeak  int64 // peak RSS of the host process (VmHWM)
	PluginMax int64 // the largest plugin process's peak RSS
	Err       error
}

// Scale runs every size and returns one row per stage.
func Scale(ctx context.Context, o ScaleOptions) ([]ScaleRow, error) {
	var rows []ScaleRow
	for _, n := range o.Sizes {
		layout := cmp.Or(o.Layout, "full")
		data := filepath.Join(o.Dir, fmt.Sprintf("corpus-%s-%d", layout, n))
		store := filepath.Join(o.Dir, fmt.Sprintf("store-%d", n))
		os.RemoveAll(store)
		if _, err := os.Stat(data); err != nil {
			synthCmd := exec.CommandContext(ctx, o.Host, "synth", "--out", data, "--matches", strconv.Itoa(n), "--layout", layout)
			synthCmd.Dir = o.WorkDir
			if out, err := synthCmd.CombinedOutput(); err != nil {
				return rows, fmt.Errorf("synth %d: %v\n%s", n, err, out)
			}
		}
		layer := filepath.Join(o.Dir, fmt.Sprintf("scale-%d.yaml", n))
		cfg := fmt.Sprintf("data_dir: %s\nlog: {level: warn}\nplugins:\n  footballdata:\n    config: {dir: %s}\n  onnx:\n    long_timeout: 60m\n"+
			"evaluate:\n  competition: S001\n  test_seasons: [\"2324\", \"2425\"]\n  leagues: []\nserve: {addr: \"127.0.0.1:0\", grpc_addr: \"off\"}\n",
			strconv.Quote(store), strconv.Quote(data))
		if err := os.WriteFile(layer, []byte(cfg), 0o644); err != nil {
			return rows, err
		}
		args := func(cmd ...string) []string { return append(cmd, "--config", o.Config, "--config", layer) }
		real := synth.Plan(n) * synth.MatchesPerSeason * synth.Seasons
		for _, stage := range []struct {
			name string
			args []string
		}{{"ingest", args("ingest")}, {"train", args("models", "train", "--alias", "champion")}, {"serve ready", args("serve")}, {"evaluate", args("evaluate")}} {
			if len(o.Stages) > 0 && !slices.Contains(o.Stages, stage.name) {
				continue
			}
			var row ScaleRow
			if stage.name == "serve ready" {
				row = serveReady(ctx, o.Host, o.WorkDir, stage.args, real)
			} else {
				row = measure(ctx, o.Host, o.WorkDir, stage.args, real, stage.name)
			}
			rows = append(rows, row)
			if o.Log != nil {
				fmt.Fprintf(o.Log, "%d matches: %s %v (host %d MB, largest plugin %d MB) %v\n", real, row.Stage, row.Wall.Round(100*time.Millisecond),
					row.HostPeak>>20, row.PluginMax>>20, errString(row.Err))
			}
			if row.Err != nil {
				break
			}
		}
	}
	return rows, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// peaks watches a process tree and keeps each process's VmHWM (peak RSS)
// as last seen before it exits.
type peaks struct {
	mu   sync.Mutex
	root int
	seen map[int]int64
}

func (p *peaks) poll() {
	for _, st := range tree(p.root) {
		if hwm := vmHWM(st.pid); hwm > 0 {
			p.mu.Lock()
			if hwm > p.seen[st.pid] {
				p.seen[st.pid] = hwm
			}
			p.mu.Unlock()
		}
	}
}

func (p *peaks) result() (host, plugin int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pid, v := range p.seen {
		if pid == p.root {
			host = v
		} else if v > plugin {
			plugin = v
		}
	}
	return host, plugin
}

func watch(pid int) (*peaks, func()) {
	p := &peaks{root: pid, seen: map[int]int64{}}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			p.poll()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return p, func() { close(done); <-stopped }
}

func measure(ctx context.Context, host, dir string, args []string, n int, stage string) ScaleRow {
	row := ScaleRow{Matches: n, Stage: stage}
	cmd := exec.CommandContext(ctx, host, args...)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	started := time.Now()
	if err := cmd.Start(); err != nil {
		row.Err = err
		return row
	}
	p, stop := watch(cmd.Process.Pid)
	err := cmd.Wait()
	row.Wall = time.Since(started)
	stop()
	row.HostPeak, row.PluginMax = p.result()
	if err != nil {
		row.Err = fmt.Errorf("%v: %s", err, lastLines(out.String(), 3))
	}
	return row
}

// serveReady starts serve and times it until /readyz answers 200.
func serveReady(ctx context.Context, host, dir string, args []string, n int) ScaleRow {
	row := ScaleRow{Matches: n, Stage: "serve ready"}
	cmd := exec.CommandContext(ctx, host, args...)
	cmd.Dir = dir
	out := &syncWriter{}
	cmd.Stdout, cmd.Stderr = out, out
	started := time.Now()
	if err := cmd.Start(); err != nil {
		row.Err = err
		return row
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() { cmd.Process.Signal(os.Interrupt); <-exited }()
	p, stop := watch(cmd.Process.Pid)
	defer stop()
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if addr := listenAddr(out.String()); addr != "" {
			if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					row.Wall = time.Since(started)
					p.poll()
					row.HostPeak, row.PluginMax = p.result()
					return row
				}
			}
		}
		select {
		case <-exited:
			row.Err = fmt.Errorf("serve exited: %s", lastLines(out.String(), 3))
			return row
		default:
		}
	}
	row.Err = fmt.Errorf("serve did not get ready: %s", lastLines(out.String(), 3))
	return row
}

func listenAddr(log string) string {
	i := strings.Index(log, "on 127.0.0.1:")
	if i < 0 {
		return ""
	}
	rest := log[i+3:]
	end := strings.IndexAny(rest, " \n\t")
	if end < 0 {
		return ""
	}
	return rest[:end]
}

type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
func (w *syncWriter) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.b.String() }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// PrintScale writes the rows as a table, one line per size.
func PrintScale(w io.Writer, rows []ScaleRow) {
	fmt.Fprintln(w, "| matches | stage | wall | peak RSS host | largest plugin | |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---|")
	for _, r := range rows {
		note := ""
		if r.Err != nil {
			note = "failed: " + r.Err.Error()
		}
		fmt.Fprintf(w, "| %d | %s | %.1f s | %d MB | %d MB | %s |\n", r.Matches, r.Stage, r.Wall.Seconds(), r.HostPeak>>20, r.PluginMax>>20, note)
	}
}
