package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// serveFor runs serve (with the OIP gRPC service when grpc) until the
// returned stop is called, which waits for the process to write its
// forecast log and exit; it returns the base URL and the gRPC address.
func serveFor(t *testing.T, cfg string, grpc bool) (string, string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan struct{})
	grpcAddr := "off"
	if grpc {
		grpcAddr = "127.0.0.1:0"
	}
	go func() {
		Run(ctx, []string{"serve", "--config", cfg, "--addr", "127.0.0.1:0", "--grpc-addr", grpcAddr}, nil, out, &syncBuffer{})
		close(done)
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	web, rpc := regexp.MustCompile(`serving .* on (127\.0\.0\.1:\d+)`), regexp.MustCompile(`gRPC on (127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		w, g := web.FindStringSubmatch(out.String()), rpc.FindStringSubmatch(out.String())
		if w != nil && (!grpc || g != nil) {
			if g != nil {
				return "http://" + w[1], g[1], stop
			}
			return "http://" + w[1], "", stop
		}
	}
	t.Fatalf("serve did not start:\n%s", out.String())
	return "", "", stop
}

// A challenger served in shadow: callers get exactly the champion's
// answers, the shadow's own forecasts are logged under its version and
// scored beside the champion's, and `models promote` refuses it for lack
// of live evidence, then accepts it once the evidence is there.
func TestShadowChallengerEndToEnd(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}\nserve: {generation_poll: 100ms}\nmonitor: {interval: 50ms, refresh: 200ms}\npromotion: {live_min_matches: 100}")
	fixturesDir, resultsDir, day := liveSeason(t)
	dirFlag := "plugins.footballdata.config.dir="
	must(t, cfg, "ingest", "--set", dirFlag+fixturesDir)
	must(t, cfg, "models", "train", "--alias", "champion", "--set", "model.params.l2=5") // v1, weak
	must(t, cfg, "models", "train")                                                      // v2, the candidate
	if code, _, errs := run(t, nil, "models", "train", "--alias", "champion", "--config", cfg); code != 2 || !strings.Contains(errs, "promotion gate") {
		t.Fatalf("training straight into a serving champion: exit %d\n%s", code, errs)
	}
	exported := filepath.Join(t.TempDir(), "v2")
	must(t, cfg, "models", "export", "--out", exported, "--version", "2")
	if code, _, errs := run(t, nil, "models", "import", exported, "--alias", "champion", "--config", cfg); code != 2 || !strings.Contains(errs, "promotion gate") {
		t.Fatalf("importing straight into a serving champion: exit %d\n%s", code, errs)
	}

	ask := func(base string) []string {
		var out []string
		for _, f := range liveRound {
			ko := time.Date(day.Year(), day.Month(), day.Day(), f.hour, 0, 0, 0, time.UTC).Format(time.RFC3339)
			code, v := postJSON(t, base+"/v1/predictions", fmt.Sprintf(`{"home_team": %q, "away_team": %q, "competition": "E0", "kickoff": %q}`, f.home, f.away, ko))
			if code != 200 {
				t.Fatalf("predict: %d %v", code, v)
			}
			out = append(out, fmt.Sprint(v["probabilities"], v["model"]))
		}
		return out
	}
	base, _, stop := serveFor(t, cfg, false)
	without := ask(base)
	stop()

	for _, bad := range []struct{ arg, want string }{{"9", "v9"}, {"two", `"two" is not a model version`}, {"1", "is the champion"}} {
		if code, _, errs := run(t, nil, "models", "shadow", bad.arg, "--config", cfg); code != 2 || !strings.Contains(errs, bad.want) {
			t.Errorf("models shadow %s: exit %d, %s", bad.arg, code, errs)
		}
	}
	must(t, cfg, "models", "shadow", "2")
	base, _, stop = serveFor(t, cfg, false)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(metricsOf(t, base), "soccerpredict_shadow_version 2"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the challenger is not served in shadow")
		}
	}
	with := ask(base)
	for i := range with {
		if with[i] != without[i] {
			t.Fatalf("fixture %d answered %s with a shadow, %s without", i, with[i], without[i])
		}
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(metricsOf(t, base), fmt.Sprintf("soccerpredict_shadow_forecasts_total %d", len(liveRound))); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the shadow did not compute the %d forecasts:\n%s", len(liveRound), grepLines(metricsOf(t, base), "shadow"))
		}
	}
	stop()
	st := openTestStore(t, cfg)
	logged, err := st.LoggedForecasts(context.Background(), store.ForecastQuery{Version: 2})
	if err != nil || len(logged) != len(liveRound) {
		t.Fatalf("v2's logged forecasts: %d (%v), want %d", len(logged), err, len(liveRound))
	}
	for _, f := range logged {
		if f.Route != "shadow" {
			t.Fatalf("a shadow forecast logged as %q", f.Route)
		}
	}

	must(t, cfg, "ingest", "--set", dirFlag+resultsDir)
	report := must(t, cfg, "monitor")
	if !strings.Contains(report, "v1: 6 scored matches") || !strings.Contains(report, "v2: 6 scored matches") {
		t.Fatalf("both versions scored:\n%s", report)
	}
	code, out, errs := run(t, []string{"SOCCERPREDICT_ACTOR=test"}, "models", "promote", "--config", cfg)
	if code == 0 || !strings.Contains(errs, "has not shown on live matches") || !strings.Contains(errs, "6 of 100 matches") || !strings.Contains(out, "live evidence (shadow): v2 − v1") {
		t.Fatalf("promotion without enough live evidence: exit %d\n%s\n%s", code, out, errs)
	}
	// A season of history, forecast by both as of each kick-off, is evidence.
	must(t, cfg, "monitor", "backfill", "--from", "2023-08-01", "--version", "1")
	must(t, cfg, "monitor", "backfill", "--from", "2023-08-01", "--version", "2")
	out = must(t, cfg, "models", "promote")
	if !strings.Contains(out, "promoted: champion -> v2") || !regexp.MustCompile(`live evidence \(shadow\): v2 − v1 Δ log-loss -0\.\d+ .* over \d{4} matches`).MatchString(out) {
		t.Fatalf("promotion with live evidence:\n%s", out)
	}
}

func metricsOf(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The monitor's commands name what was wrong with their input.
func TestMonitorRefusesBadInput(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}")
	future := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"monitor", "--windows", "50,ten"}, `--windows: "ten" is not a whole number`},
		{[]string{"monitor", "--from", "last week"}, `--from: "last week" is not a date`},
		{[]string{"monitor", "--version", "-2"}, "--version -2 is not a model version"},
		{[]string{"monitor", "backfill"}, "needs --from DATE"},
		{[]string{"monitor", "backfill", "--from", future}, "is in the future"},
		{[]string{"monitor", "backfill", "--from", "2023-08-01", "--version", "99"}, "--version 99"},
		{[]string{"batch", "monitor", "--json", "x.json"}, "needs --json FILE and --plots DIR"},
	} {
		code, _, errs := run(t, nil, append(c.args, "--config", cfg)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 naming %q", c.args, code, errs, c.want)
		}
	}
}
