package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// serveOnce starts serve, asks for one forecast, stops it, and returns the
// forecast and what serve logged.
func serveOnce(t *testing.T, cfg string, environ []string) (map[string]any, string) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	out, logs := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--config", cfg, "--addr", "127.0.0.1:0"}, append([]string{"SOCCERPREDICT_LOG__LEVEL=info"}, environ...), out, logs)
	}()
	defer func() {
		stop()
		<-done
	}()
	re := regexp.MustCompile(`on (127\.0\.0\.1:\d+)`)
	addr := ""
	for deadline := time.Now().Add(60 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("serve did not start:\n%s\n%s", out.String(), logs.String())
	}
	code, v := postJSON(t, "http://"+addr+"/v1/predictions", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`)
	if code != 200 {
		t.Fatalf("prediction: %d %v", code, v)
	}
	return v, logs.String()
}

// serve starts from the feature snapshot the store keeps when nothing has
// changed since it was taken (training keeps one, and so does a serve that
// had to replay), and replays when a match or the feature plugin's settings
// changed; either way the forecasts are a replay's.
func TestServeStartsFromTheFeatureSnapshot(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}")
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	same := func(what string, a, b map[string]any) {
		t.Helper()
		if a["probabilities"] == nil || !reflect.DeepEqual(a["probabilities"], b["probabilities"]) {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			t.Fatalf("%s: forecasts differ:\n%s\n%s", what, ja, jb)
		}
	}
	expect := func(logs, want, what string) {
		t.Helper()
		if !strings.Contains(logs, want) {
			t.Fatalf("%s: want %q in the log:\n%s", what, want, logs)
		}
	}

	fromTraining, logs := serveOnce(t, cfg, nil)
	expect(logs, "features restored from snapshot", "the first start after training")
	// Settings spelled differently (elo_k's default, given) are another
	// snapshot: this start replays, and forecasts as the restored one did.
	replayed, logs := serveOnce(t, cfg, []string{"SOCCERPREDICT_PLUGINS__RATINGS__CONFIG__ELO_K=20"})
	expect(logs, "features replayed", "a start with other feature settings")
	if strings.Contains(logs, "unusable") {
		t.Fatalf("no snapshot kept yet for these settings is not an unusable one:\n%s", logs)
	}
	same("restored from training's snapshot and replayed", fromTraining, replayed)

	// A changed match (a publisher's correction) makes every snapshot stale.
	data := t.TempDir()
	if err := os.CopyFS(data, os.DirFS(testbin.Data())); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(data, "E0", "2324.csv")
	b, _ := os.ReadFile(csv)
	lines := strings.SplitAfter(string(b), "\n")
	lines[len(lines)-2] = strings.Replace(lines[len(lines)-2], ",Sheffield United,Tottenham,0,3,A,", ",Sheffield United,Tottenham,1,3,A,", 1)
	os.WriteFile(csv, []byte(strings.Join(lines, "")), 0o644)
	code, out, errs := run(t, []string{"SOCCERPREDICT_PLUGINS__FOOTBALLDATA__CONFIG__DIR=" + data}, "ingest", "--config", cfg)
	if code != 0 || !strings.Contains(out, "1 updated") {
		t.Fatalf("ingest of the corrected file: %d\n%s\n%s", code, out, errs)
	}
	replayed, logs = serveOnce(t, cfg, nil)
	expect(logs, "features replayed", "a start after a match changed")
	restored, logs := serveOnce(t, cfg, nil)
	expect(logs, "features restored from snapshot", "the start after that")
	same("replayed and restored from the replay's snapshot", replayed, restored)
}

// New results after a snapshot's last day (the usual ingest) do not make
// serve replay everything: it restores the snapshot, replays only the new
// matches, keeps the result, and forecasts exactly as a full replay does.
func TestServeCatchesUpOnNewMatches(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}")
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	before, _ := serveOnce(t, cfg, nil)

	data := t.TempDir()
	if err := os.CopyFS(data, os.DirFS(testbin.Data())); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(data, "E0", "2324.csv"))
	lines := strings.SplitAfter(string(b), "\n")
	next := []string{lines[0]}
	for _, l := range lines[1:] {
		if strings.Contains(l, ",Arsenal,Nott'm Forest,") || strings.Contains(l, ",Chelsea,Liverpool,") {
			f := strings.Split(l, ",")
			f[1] = []string{"17/08/2024", "18/08/2024"}[len(next)-1]
			next = append(next, strings.Join(f, ","))
		}
	}
	if len(next) != 3 {
		t.Fatalf("found %d of the two matches to play again", len(next)-1)
	}
	os.WriteFile(filepath.Join(data, "E0", "2425.csv"), []byte(strings.Join(next, "")), 0o644)
	code, out, errs := run(t, []string{"SOCCERPREDICT_PLUGINS__FOOTBALLDATA__CONFIG__DIR=" + data}, "ingest", "--config", cfg)
	if code != 0 || !strings.Contains(out, "2 loaded") {
		t.Fatalf("ingest of the new season's first matches: %d\n%s\n%s", code, out, errs)
	}

	caught, logs := serveOnce(t, cfg, nil)
	if !strings.Contains(logs, "features restored from snapshot and caught up on 2 matches") {
		t.Fatalf("the start after new results:\n%s", logs)
	}
	replayed, logs := serveOnce(t, cfg, []string{"SOCCERPREDICT_PLUGINS__RATINGS__CONFIG__ELO_K=20"})
	if !strings.Contains(logs, "features replayed") {
		t.Fatalf("a start with other feature settings:\n%s", logs)
	}
	if caught["probabilities"] == nil || !reflect.DeepEqual(caught["probabilities"], replayed["probabilities"]) ||
		reflect.DeepEqual(caught["probabilities"], before["probabilities"]) {
		t.Fatalf("caught up %v, replayed %v, before the new results %v", caught["probabilities"], replayed["probabilities"], before["probabilities"])
	}
	if _, logs = serveOnce(t, cfg, nil); !strings.Contains(logs, "features restored from snapshot") || strings.Contains(logs, "caught up") {
		t.Fatalf("the start after the catch-up:\n%s", logs)
	}
}
