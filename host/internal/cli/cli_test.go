package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/pgtest"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// setup writes a config that points at the real plugin binary and a data dir.
func setup(t *testing.T, pluginPath, dataDir string) string {
	t.Helper()
	dir := t.TempDir()
	sum := filepath.Join(dir, "footballdata.sha256")
	os.WriteFile(sum, []byte(testbin.Digest(t, testbin.Plugin(t, "source", "footballdata"))+"  soccer-source-footballdata\n"), 0o644)
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: warn}
ingest: {expectations: %s}
plugins:
  footballdata:
    kind: source
    path: %s
    sha256_file: %s
    config: {dir: %s}
sources:
  - plugin: footballdata
`, testbin.Quote(filepath.Join(dir, "var")), testbin.Quote(testbin.Expectations()), testbin.Quote(pluginPath), testbin.Quote(sum), testbin.Quote(dataDir))
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, environ, &out, &errb)
	return code, out.String(), errb.String()
}

func TestIngestTwiceIntoSQLite(t *testing.T) {
	cfg := setup(t, testbin.Plugin(t, "source", "footballdata"), testbin.Data())
	code, out, errs := run(t, nil, "ingest", "--config", cfg)
	if code != 0 || !strings.Contains(out, "9548 rows read, 9548 loaded, 0 updated") || !strings.Contains(out, "every expectation met in 25 files") {
		t.Fatalf("first ingest: %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = run(t, nil, "ingest", "--config", cfg)
	if code != 0 || !strings.Contains(out, "0 loaded, 0 updated, 9548 unchanged") {
		t.Fatalf("second ingest: %d\n%s\n%s", code, out, errs)
	}
	// Competitions named as predictions take them: the code in any case, or the name.
	for _, comp := range []string{"E0", "e0", "Premier League"} {
		code, out, _ = run(t, nil, "matches", "--config", cfg, "--competition", comp, "--season", "1314", "--limit", "1")
		if code != 0 || !strings.Contains(out, "e0-1314-arsenal-v-aston-villa") || !strings.Contains(out, "1-3 A") {
			t.Fatalf("matches --competition %q: %d\n%s", comp, code, out)
		}
	}
	code, out, errs = run(t, nil, "matches", "--config", cfg, "--competition", "Z9")
	if code != 0 || strings.Contains(out, "KICKOFF") || !strings.Contains(errs, `no matches for competition "Z9"`) {
		t.Fatalf("matches of a competition the store lacks: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = run(t, nil, "ingest", "history", "--config", cfg)
	if code != 0 || strings.Count(out, "footballdata") != 2 {
		t.Fatalf("runs: %d\n%s", code, out)
	}
}

// The environment layer selects PostgreSQL over the file's embedded default.
func TestIngestIntoPostgresThroughTheEnvironment(t *testing.T) {
	cfg := setup(t, testbin.Plugin(t, "source", "footballdata"), testbin.Data())
	environ := []string{"SOCCERPREDICT_STORE__DRIVER=postgres", "SOCCERPREDICT_STORE__DSN=" + pgtest.Schema(t)}
	code, out, errs := run(t, environ, "ingest", "--config", cfg)
	if code != 0 || !strings.Contains(out, "9548 loaded") {
		t.Fatalf("ingest: %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "var", "soccerpredict.db")); err == nil {
		t.Fatal("the SQLite store was used although the environment chose PostgreSQL")
	}
}

func TestTamperedPluginIsRefusedByName(t *testing.T) {
	orig := testbin.Plugin(t, "source", "footballdata")
	tampered := filepath.Join(t.TempDir(), "soccer-source-footballdata")
	b, _ := os.ReadFile(orig)
	os.WriteFile(tampered, append(b, []byte("evil")...), 0o755)
	cfg := setup(t, tampered, testbin.Data())

	code, out, _ := run(t, nil, "plugins", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, "REFUSED") || !strings.Contains(out, `plugin "footballdata"`) {
		t.Fatalf("plugins list: %d\n%s", code, out)
	}
	code, out, _ = run(t, nil, "plugins", "verify", "--config", cfg)
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "does not match its pinned SHA-256") {
		t.Fatalf("plugins verify: %d\n%s", code, out)
	}
	code, _, errs := run(t, nil, "ingest", "--config", cfg)
	if code != 1 || !strings.Contains(errs, `plugin "footballdata"`) || !strings.Contains(errs, "refusing to launch") {
		t.Fatalf("ingest: %d\n%s", code, errs)
	}
}

func TestQuarantineShowsTheReason(t *testing.T) {
	data := t.TempDir()
	os.MkdirAll(filepath.Join(data, "E0"), 0o755)
	os.WriteFile(filepath.Join(data, "E0", "2324.csv"), []byte("\xef\xbb\xbfDiv,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\n"+
		"E0,11/08/2023,Burnley,Man City,0,3,A\nE0,12/08/2023,Arsenal,Forest,2,1,A\nE0,13/08/23,Spurs,Wolves,x,1,A\n"), 0o644)
	cfg := setup(t, testbin.Plugin(t, "source", "footballdata"), data)
	code, out, errs := run(t, nil, "ingest", "--config", cfg)
	if code != 0 || !strings.Contains(out, "1 loaded") || !strings.Contains(out, "2 quarantined (1 unreadable)") || !strings.Contains(out, "soccerpredict quarantine --run") {
		t.Fatalf("ingest: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = run(t, nil, "quarantine", "--config", cfg)
	if code != 0 || !strings.Contains(out, "E0/2324.csv:3") || !strings.Contains(out, "expect_column_pair_values_a_to_be_greater_than_b") ||
		!strings.Contains(out, `E0/2324.csv:4: column FTHG: "x" is not a whole number of goals`) || !strings.Contains(out, "2 quarantined rows") {
		t.Fatalf("quarantine: %d\n%s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	if code, _, errs := run(t, nil, "fly"); code != 2 || !strings.Contains(errs, `unknown command "fly"`) {
		t.Fatalf("unknown command: %d %s", code, errs)
	}
	if code, _, errs := run(t, nil, "ingest", "--bogus"); code != 2 || !strings.Contains(errs, "bogus") {
		t.Fatalf("bad flag: %d %s", code, errs)
	}
	if code, _, errs := run(t, nil, "ingest", "--set", "store.driver=mysql"); code != 1 || !strings.Contains(errs, `store.driver: "mysql"`) {
		t.Fatalf("bad config: %d %s", code, errs)
	}
	if code, out, _ := run(t, nil, "help"); code != 0 || !strings.Contains(out, "plugins verify") {
		t.Fatalf("help: %d %s", code, out)
	}
}

// The built host binary launches the built plugin binary as a separate process.
func TestHostBinaryVerifiesPlugins(t *testing.T) {
	cfg := setup(t, testbin.Plugin(t, "source", "footballdata"), testbin.Data())
	cmd := exec.Command(testbin.Host(t), "plugins", "verify", "--config", cfg)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "footballdata  source  ok: pid") {
		t.Fatalf("plugins verify: %v\n%s", err, out)
	}
}

// A container runtime sends SIGTERM to the whole process group: serve drains
// and exits 0, its plugins wait for it (they ignore the group's signal), and
// nothing is relaunched or logged as an error on the way out.
func TestGroupSIGTERMShutsDownQuietly(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}")
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	cmd := exec.Command(testbin.Host(t), "serve", "--config", cfg, "--addr", "127.0.0.1:0", "--set", "log.level=info")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr syncBuffer
	stdout := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(stdout.String(), "serving "); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
	}
	addr := regexp.MustCompile(`on (127\.0\.0\.1:\d+)`).FindStringSubmatch(stdout.String())[1]
	// Requests in flight while the signal arrives: they must be answered by
	// the plugins still there, not by relaunched ones (or not at all).
	var failed atomic.Int64
	stopLoad := make(chan struct{})
	var load sync.WaitGroup
	for c := range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			for n := 0; ; n++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				body := fmt.Sprintf(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2030-01-01T%02d:%02d:00Z"}`, c, n%60)
				resp, err := http.Post("http://"+addr+"/v1/predictions", "application/json", strings.NewReader(body))
				if err != nil {
					continue // the listener is closed once shutdown begins
				}
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					failed.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit after SIGTERM\n%s", stderr.String())
	}
	close(stopLoad)
	load.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d requests failed with 5xx during the shutdown", n)
	}
	logs := stderr.String()
	for _, bad := range []string{"relaunch", `"@level":"error"`, "[ERROR]"} {
		if strings.Contains(logs, bad) {
			t.Fatalf("shutdown logged %q:\n%s", bad, logs)
		}
	}
}

// `version` and `--version` say the same; a group alone lists its
// subcommands (exit 0), a wrong subcommand names itself (exit 2).
func TestVersionAndGroupHelp(t *testing.T) {
	code, v1, _ := run(t, nil, "version")
	code2, v2, _ := run(t, nil, "--version")
	if code != 0 || code2 != 0 || v1 != v2 || !strings.HasPrefix(v1, "soccerpredict ") || !strings.Contains(v1, runtime.Version()) {
		t.Fatalf("version %q, --version %q", v1, v2)
	}
	code, out, _ := run(t, nil, "models")
	if code != 0 || !strings.Contains(out, "models import") || !strings.Contains(out, "models promote") {
		t.Fatalf("models: exit %d\n%s", code, out)
	}
	code, _, errs := run(t, nil, "keys", "bogus")
	if code != 2 || !strings.Contains(errs, `keys has no subcommand "bogus"`) || !strings.Contains(errs, "keys create") {
		t.Fatalf("keys bogus: exit %d\n%s", code, errs)
	}
}

// Every command's --help gives its usage with positional arguments, what it
// does and its flags with placeholders; shell completion asks the binary.
func TestCommandHelpAndCompletion(t *testing.T) {
	for _, c := range routes() {
		args := append(strings.Fields(c.name), "--help")
		code, out, errs := run(t, nil, args...)
		want := strings.TrimSpace("usage: soccerpredict " + c.name + " " + c.args)
		if code != 0 || !strings.HasPrefix(out, want+"\n\n"+c.help+"\n") || !strings.Contains(out, "--config FILE") || errs != "" {
			t.Errorf("%s --help: exit %d\n%s\n%s", c.name, code, out, errs)
		}
		if c.help == "" || len(examples[c.name]) == 0 && !strings.HasPrefix(c.name, "batch ") || strings.Contains(c.help, "\n") {
			t.Errorf("%s: needs a one-line description and examples", c.name)
		}
	}
	_, out, _ := run(t, nil, "models", "train", "--help")
	for _, want := range []string{"  --alias ALIAS ", "  --if-no-champion  do nothing when a champion exists", "  --out DIR ", "examples:\n  soccerpredict models train\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("models train --help lacks %q:\n%s", want, out)
		}
	}
	if _, out, _ := run(t, nil, "batch"); !strings.Contains(out, "batch predict") || !strings.Contains(out, "batch validate") {
		t.Errorf("batch lists its stages:\n%s", out)
	}
	for _, c := range []struct {
		words []string
		want  []string
	}{
		{nil, []string{"serve", "models", "ingest", "completion", "--version"}},
		{[]string{"models"}, []string{"train", "promote", "rollback", "import"}},
		{[]string{"models", "promote"}, []string{"--force", "--reason", "--config", "--set"}},
		{[]string{"ingest"}, []string{"history", "--schedule", "--source"}},
		{[]string{"batch"}, []string{"predict", "train"}},
	} {
		_, out, _ := run(t, nil, append([]string{"__complete"}, c.words...)...)
		got := strings.Fields(out)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("completing %q: %v lacks %q", c.words, got, w)
			}
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if code, out, _ := run(t, nil, "completion", shell); code != 0 || !strings.Contains(out, "soccerpredict __complete") {
			t.Errorf("completion %s: %d\n%s", shell, code, out)
		}
	}
	if code, _, errs := run(t, nil, "completion", "tcsh"); code != 2 || !strings.Contains(errs, `no completion for shell "tcsh"`) {
		t.Errorf("completion tcsh: %d %s", code, errs)
	}
	// The bash script works in bash, against the real binary.
	bin := testbin.Host(t)
	script := `source <("$BIN" completion bash); soccerpredict() { "$BIN" "$@"; }; COMP_WORDS=(soccerpredict models pro); COMP_CWORD=2; _soccerpredict; echo "${COMPREPLY[@]}"`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin)
	if got, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(got)) != "promote" {
		t.Errorf("bash completion of `soccerpredict models pro`: %q, %v", got, err)
	}
}

// `ingest --schedule` runs ingest at every time ingest.schedule names until
// stopped; a second run finds nothing new; a bad expression is named.
func TestScheduledIngestFires(t *testing.T) {
	data := t.TempDir()
	os.MkdirAll(filepath.Join(data, "E0"), 0o755)
	if err := os.Symlink(filepath.Join(testbin.Data(), "E0", "2324.csv"), filepath.Join(data, "E0", "2324.csv")); err != nil {
		t.Fatal(err)
	}
	cfg := setup(t, testbin.Plugin(t, "source", "footballdata"), data)

	if code, _, errs := run(t, nil, "ingest", "--schedule", "--config", cfg); code != 2 || !strings.Contains(errs, "--schedule needs ingest.schedule") {
		t.Fatalf("--schedule without a schedule: %d %s", code, errs)
	}
	if code, _, errs := run(t, nil, "ingest", "--schedule", "--config", cfg, "--set", "ingest.schedule=every morning"); code != 1 ||
		!strings.Contains(errs, `ingest.schedule[0]: "every morning" is not a cron expression`) {
		t.Fatalf("a bad schedule: %d %s", code, errs)
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"ingest", "--schedule", "--config", cfg, "--set", "ingest.schedule=@every 1s"}, nil, out, &syncBuffer{})
	}()
	runs := regexp.MustCompile(`(?m)^ingest \S+ footballdata: \d+ files, \d+ rows read`)
	for deadline := time.Now().Add(60 * time.Second); len(runs.FindAllString(out.String(), -1)) < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the schedule did not fire twice in 60s:\n%s", out.String())
		}
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("stopped schedule: exit %d\n%s", code, out.String())
	}
	got := out.String()
	if !strings.Contains(got, "ingest scheduled (@every 1s, UTC); next at ") || !strings.Contains(got, "380 rows read, 380 loaded") ||
		!strings.Contains(got, "380 rows read, 0 loaded, 0 updated") || !strings.Contains(got, "ingest schedule stopped") {
		t.Fatalf("schedule output:\n%s", got)
	}
	if code, hist, _ := run(t, nil, "ingest", "history", "--config", cfg); code != 0 || strings.Count(hist, "footballdata") < 2 {
		t.Fatalf("ingest history after two scheduled runs: %d\n%s", code, hist)
	}
}

// `ready` exits 0 for a ready server and 1, saying why, for one that is not
// (what the chart's helm test runs).
func TestReadyCommand(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if !ready {
			w.WriteHeader(503)
			w.Write([]byte(`{"status":"not ready","error":"no champion model"}`))
			return
		}
		w.Write([]byte(`{"status":"ready"}`))
	}))
	defer srv.Close()
	if code, out, errs := run(t, nil, "ready", "--server", srv.URL); code != 0 || !strings.Contains(out, "is ready") {
		t.Fatalf("ready server: exit %d\n%s\n%s", code, out, errs)
	}
	ready = false
	if code, _, errs := run(t, nil, "ready", "--server", srv.URL); code != 1 || !strings.Contains(errs, "no champion model") {
		t.Fatalf("unready server: exit %d, %s", code, errs)
	}
	if code, _, _ := run(t, nil, "ready"); code != 2 {
		t.Fatalf("ready without --server: exit %d, want 2", code)
	}
}
