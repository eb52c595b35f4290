package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/contract"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/ingest"
	"github.com/soccerpredict/soccerpredict/host/internal/jobs"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/present"
	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/store/sqlitestore"
	"github.com/soccerpredict/soccerpredict/host/internal/telemetry"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// world is the shipped data in a SQLite store, a trained champion, and a
// server running the real ratings and onnx plugin processes.
type world struct {
	store  store.Store
	host   *pluginhost.Host
	pred   *forecast.Predictor
	server *httptest.Server
}

var (
	once            sync.Once
	shared          *world
	dir             string
	breakableDir, _ = os.MkdirTemp("", "soccerpredict-breakable-")
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.server.Close()
		shared.host.Close()
		shared.store.Close()
	}
	os.RemoveAll(dir)
	os.RemoveAll(breakableDir)
	os.Exit(code)
}

func plugins(t testing.TB, extra map[string]config.Plugin) *pluginhost.Host {
	t.Helper()
	cfg := map[string]config.Plugin{}
	add := func(name, kind, bin string, settings map[string]any) {
		cfg[name] = config.Plugin{Kind: kind, Path: bin, SHA256: testbin.Digest(t, bin), Timeout: time.Minute, StartTimeout: 20 * time.Second, Config: settings}
	}
	add("footballdata", "source", testbin.Plugin(t, "source", "footballdata"), map[string]any{"dir": testbin.Data()})
	for _, name := range []string{"ratings", "ratings-train"} {
		add(name, "features", testbin.Plugin(t, "features", "ratings"), nil)
	}
	add("onnx", "model", testbin.Plugin(t, "model", "onnx"), map[string]any{"library": testbin.ORT(t)})
	onnx1s := config.Plugin{Kind: "model", Path: testbin.Plugin(t, "model", "onnx"), Timeout: time.Second, StartTimeout: 20 * time.Second,
		Config: map[string]any{"library": testbin.ORT(t)}}
	onnx1s.SHA256 = testbin.Digest(t, onnx1s.Path)
	cfg["onnx-1s"] = onnx1s // a short call timeout, for hung-plugin tests
	breakable := onnx1s     // the same, from a copy a test may replace
	breakable.Path = filepath.Join(breakableDir, "soccer-model-onnx")
	if b, err := os.ReadFile(onnx1s.Path); err != nil || os.WriteFile(breakable.Path, b, 0o755) != nil {
		t.Fatal("cannot copy the onnx plugin")
	}
	cfg["onnx-breakable"] = breakable
	add("liar", "model", testbin.Liar(t), nil)
	add("liar-priced", "model", testbin.Liar(t), map[string]any{"mode": "priced"})
	for _, kind := range refusals {
		add("refuse-"+kind, "model", testbin.Liar(t), map[string]any{"mode": "refuse", "kind": kind})
	}
	for k, v := range extra {
		cfg[k] = v
	}
	h, err := pluginhost.New(cfg, hclog.New(&hclog.LoggerOptions{Output: io.Discard}))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func setup(t *testing.T) *world {
	t.Helper()
	once.Do(func() {
		ctx := context.Background()
		dir, _ = os.MkdirTemp("", "soccerpredict-api-")
		st, err := sqlitestore.Open(ctx, filepath.Join(dir, "store.db"))
		if err != nil {
			t.Fatal(err)
		}
		h := plugins(t, nil)
		suite, err := contract.Load(testbin.Expectations())
		if err != nil {
			t.Fatal(err)
		}
		p, _ := h.Plugin("footballdata")
		if _, err := (ingest.Runner{Store: st, Suite: suite}).Run(ctx, ingest.Source{Name: "footballdata", Source: pluginhost.SourceOf(p)}); err != nil {
			t.Fatal(err)
		}
		train, _ := h.Plugin("ratings-train")
		onnx, _ := h.Plugin("onnx")
		d, err := forecast.BuildDataset(ctx, st, pluginhost.FeaturesOf(train), nil)
		if err != nil {
			t.Fatal(err)
		}
		mv, err := forecast.Trainer{Model: pluginhost.ModelOf(onnx), ModelPlugin: "onnx", FeaturePlugin: "ratings",
			Params: map[string]any{"algorithm": "logreg"}}.Train(ctx, d, d.Trainable())
		if err != nil {
			t.Fatal(err)
		}
		if mv, err = st.RegisterModel(ctx, mv); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Promote(ctx, store.Promotion{Alias: store.Champion, Version: mv.Version, Action: "bootstrap", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		feat, _ := h.Plugin("ratings")
		metrics := telemetry.New()
		h.Observe(metrics)
		pred := forecast.NewPredictor(st, h, feat, "onnx", hclog.NewNullLogger())
		pred.Observe(metrics)
		if err := pred.Start(ctx); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer((&Server{Predictor: pred, Logger: hclog.NewNullLogger(), Metrics: metrics, Plugins: h.Statuses}).Handler())
		shared = &world{store: st, host: h, pred: pred, server: srv}
	})
	if shared == nil {
		t.Fatal("setup failed earlier")
	}
	return shared
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: not JSON: %s", url, b)
	}
	// /v1 errors are RFC 9457 problems; the Open Inference Protocol's (/v2) are {"error": ...}.
	if resp.StatusCode >= 400 && !strings.Contains(url, "/v2/") && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("error response with content type %q", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, out
}

func TestPrediction(t *testing.T) {
	w := setup(t)
	code, out := post(t, w.server.URL+"/v1/predictions", `{"home_team": "Man City", "away_team": "Luton", "competition": "E0", "kickoff": "2024-08-17T14:00:00Z"}`)
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	p := out["probabilities"].(map[string]any)
	h, d, a := p["home"].(float64), p["draw"].(float64), p["away"].(float64)
	if s := h + d + a; s < 1-1e-6 || s > 1+1e-6 || h < 0.6 {
		t.Fatalf("Man City at home to Luton: %v (sum %v)", p, s)
	}
	m := out["model"].(map[string]any)
	if m["name"] != "onnx-logreg" || m["version"].(float64) != 1 || out["feature_schema_version"] != "ratings-5" || out["generation"].(float64) != 1 {
		t.Fatalf("response does not name the model and schema: %v", out)
	}
	// A new season: August 2024 is after the last stored (2023/24) match.
	if f := out["fixture"].(map[string]any); f["season"] != "2425" || f["kickoff"] != "2024-08-17T14:00:00Z" {
		t.Fatalf("fixture %v", f)
	}
}

func TestErrors(t *testing.T) {
	w := setup(t)
	url := w.server.URL + "/v1/predictions"
	for _, c := range []struct {
		body, field, detail string
		status              int
	}{
		{`{"home_team": "Arsenl", "away_team": "Chelsea", "competition": "E0"}`, "home_team", `did you mean "Arsenal"`, 422},
		{`{"home_team": "Arsenal", "away_team": "Chelsae", "competition": "E0"}`, "away_team", `"Chelsea"`, 422},
		{`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E9"}`, "competition", "unknown competition", 422},
		{`{"home_team": "Arsenal", "away_team": "Arsenal", "competition": "E0"}`, "away_team", "cannot play itself", 422},
		{`{"home_team": "Arsenal", "competition": "E0"}`, "away_team", "required", 422},
		{`{"home_team": 7, "away_team": "Chelsea", "competition": "E0"}`, "home_team", "must be a string", 400},
		{`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "colour": "red"}`, "colour", `unknown field "colour"`, 400},
		{`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "tomorrow"}`, "kickoff", "RFC 3339", 422},
		{`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2005-01-01T15:00:00Z"}`, "kickoff", "before E0's first stored season (1314, from 2013-08-17)", 422},
		{`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "odds": {"home": 0.5, "draw": 3, "away": 4}}`, "odds", "above 1", 422},
		{`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "odds": {"home": 2}}`, "odds", "the draw price is missing", 422},
		{`{"home_team": "Arsenal",`, "", "malformed JSON", 400},
		{``, "", "empty body", 400},
	} {
		code, out := post(t, url, c.body)
		errs, _ := out["errors"].([]any)
		if code != c.status || len(errs) == 0 {
			t.Errorf("%s: %d %v, want %d", c.body, code, out, c.status)
			continue
		}
		first := errs[0].(map[string]any)
		if first["field"] != c.field || !strings.Contains(out["detail"].(string)+" "+first["message"].(string), c.detail) {
			t.Errorf("%s: field %q message %q detail %q; want field %q mentioning %q", c.body, first["field"], first["message"], out["detail"], c.field, c.detail)
		}
	}
	code, out := post(t, url, `{"home_team": "Arsenl", "away_team": "Chelsea", "competition": "E0"}`)
	sugg := out["errors"].([]any)[0].(map[string]any)["suggestions"].([]any)
	if code != 422 || sugg[0] != "Arsenal" {
		t.Fatalf("suggestions %v", sugg)
	}
}

func TestBatch(t *testing.T) {
	w := setup(t)
	url := w.server.URL + "/v1/predictions/batch"
	code, out := post(t, url, `{"fixtures": [{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"},
		{"home_team": "Bayern Munich", "away_team": "Dortmund", "competition": "D1"}]}`)
	if code != 200 || len(out["predictions"].([]any)) != 2 {
		t.Fatalf("%d %v", code, out)
	}
	second := out["predictions"].([]any)[1].(map[string]any)["fixture"].(map[string]any)
	if second["home_team"] != "Bayern Munich" || second["competition"] != "D1" {
		t.Fatalf("batch order lost: %v", second)
	}
	code, out = post(t, url, `{"fixtures": [{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}, {"home_team": "Bayrn", "away_team": "Dortmund", "competition": "D1"}]}`)
	if code != 422 || out["errors"].([]any)[0].(map[string]any)["field"] != "fixtures[1].home_team" {
		t.Fatalf("%d %v, want fixtures[1].home_team named", code, out)
	}
	if code, _ := post(t, url, `{"fixtures": []}`); code != 422 {
		t.Fatalf("empty batch: %d", code)
	}
}

func TestFixturesAndHealth(t *testing.T) {
	w := setup(t)
	resp, err := http.Get(w.server.URL + "/v1/fixtures?competition=E0&limit=3")
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Recent []present.PredictionResponse `json:"recent"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(out.Recent) != 3 || !out.Recent[0].PointInTime || out.Recent[0].Result == nil ||
		out.Recent[0].Fixture.Kickoff.Year() != 2024 {
		t.Fatalf("%d %+v", resp.StatusCode, out)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(w.server.URL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
	if resp, _ := http.Get(w.server.URL + "/v1/fixtures"); resp.StatusCode != 422 {
		t.Fatalf("fixtures without competition: %d", resp.StatusCode)
	}
	// The competition as predictions take it: its name, or the code in any case.
	for _, q := range []string{"premier%20league", "e0"} {
		var named struct {
			Competition string `json:"competition"`
		}
		resp, err := http.Get(w.server.URL + "/v1/fixtures?limit=1&competition=" + q)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&named)
		resp.Body.Close()
		if resp.StatusCode != 200 || named.Competition != "E0" {
			t.Fatalf("fixtures?competition=%s: %d %+v, want E0's", q, resp.StatusCode, named)
		}
	}
	if resp, _ := http.Get(w.server.URL + "/v1/fixtures?competition=Z9"); resp.StatusCode != 422 {
		t.Fatalf("fixtures of an unknown competition: %d", resp.StatusCode)
	}
}

// Killing the model plugin: requests fail with 503 (never anything else),
// the host relaunches it with the champion reloaded, and requests succeed
// again within a second.
func TestModelPluginKilledWhileServing(t *testing.T) {
	w := setup(t)
	instance := func() pluginhost.Status {
		for _, st := range w.host.Statuses() {
			if strings.HasPrefix(st.Name, "onnx@") {
				return st
			}
		}
		t.Fatal("no onnx instance serving")
		return pluginhost.Status{}
	}
	before := instance()
	url := w.server.URL + "/v1/predictions"
	n := 0
	// Every request a different kick-off, so none is answered from the cache.
	next := func() string {
		n++
		return fmt.Sprintf(`{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2024-09-01T%02d:%02d:00Z"}`, n/60%24, n%60)
	}
	if code, _ := post(t, url, next()); code != 200 {
		t.Fatal("not serving before the kill")
	}
	syscall.Kill(before.PID, syscall.SIGKILL)
	killed := time.Now()
	statuses := map[int]int{}
	var recovered time.Duration
	for time.Since(killed) < 5*time.Second {
		resp, err := http.Post(url, "application/json", bytes.NewBufferString(next()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
		if resp.StatusCode == 200 {
			recovered = time.Since(killed)
			break
		}
		if resp.StatusCode != 503 {
			t.Fatalf("a request failed with %d, want 503 while the plugin restarts", resp.StatusCode)
		}
	}
	if recovered == 0 || recovered > time.Second {
		t.Fatalf("requests did not succeed again within a second (statuses %v, recovered after %v)", statuses, recovered)
	}
	after := instance()
	if after.PID == before.PID || after.Launches != before.Launches+1 {
		t.Fatalf("status %+v after %+v: want one relaunch", after, before)
	}
	t.Logf("statuses after the kill: %v; recovered in %v", statuses, recovered)
}

// Killing the feature plugin: its relaunched process gets the replayed state
// back from the snapshot, so forecasts afterwards equal those before.
func TestFeaturePluginKilledKeepsItsState(t *testing.T) {
	w := setup(t)
	url := w.server.URL + "/v1/predictions"
	body := func(minute int) string {
		return fmt.Sprintf(`{"home_team": "Brighton", "away_team": "Fulham", "competition": "E0", "kickoff": "2024-10-01T12:%02d:00Z"}`, minute)
	}
	code, before := post(t, url, body(1))
	if code != 200 {
		t.Fatalf("%d %v", code, before)
	}
	feat, _ := w.host.Plugin("ratings")
	st := feat.Status()
	syscall.Kill(st.PID, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for minute := 2; ; minute++ {
		code, out := post(t, url, body(minute))
		if code == 200 {
			// Same fixture but a minute later: the same features, so the same forecast.
			if toJSON(out["probabilities"]) != toJSON(before["probabilities"]) {
				t.Fatalf("after the relaunch %v, before %v: the feature state was lost", out["probabilities"], before["probabilities"])
			}
			break
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("after killing the feature plugin: %d %v", code, out)
		}
	}
	if after := feat.Status(); after.Launches != st.Launches+1 {
		t.Fatalf("launches %d then %d", st.Launches, after.Launches)
	}
}

// A model plugin whose probabilities are not a distribution gets a 500 and
// nothing it said reaches the caller.
func TestLyingModelIsNeverServed(t *testing.T) {
	w := setup(t)

	feat, _ := w.host.Plugin("ratings-train")

	pred := forecast.NewPredictor(w.store, w.host, feat, "liar", hclog.NewNullLogger())
	if err := pred.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&Server{Predictor: pred, Logger: hclog.NewNullLogger()}).Handler())
	defer srv.Close()
	code, out := post(t, srv.URL+"/v1/predictions", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0"}`)
	if code != 500 || strings.Contains(toJSON(out), "0.9") {
		t.Fatalf("%d %v", code, out)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// The host refuses a champion whose signature differs from the feature schema, naming the columns.
func TestSignatureMismatchIsRefused(t *testing.T) {
	w := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	champ, _ := w.store.Alias(ctx, "champion")
	last := champ.Signature.Inputs[len(champ.Signature.Inputs)-1].Name
	champ.Signature.Inputs[3].Name = "home_defense"
	champ.Signature.Inputs = champ.Signature.Inputs[:len(champ.Signature.Inputs)-1]
	mv, _ := st.RegisterModel(ctx, champ)
	st.SetAlias(ctx, "champion", mv.Version)
	feat, _ := w.host.Plugin("ratings-train")
	err = forecast.NewPredictor(st, w.host, feat, "onnx", hclog.NewNullLogger()).Start(ctx)
	if err == nil || !strings.Contains(err.Error(), `"home_defense"`) || !strings.Contains(err.Error(), `"home_defence"`) || !strings.Contains(err.Error(), `"`+last+`"`) {
		t.Fatalf("err = %v, want a refusal naming home_defense/home_defence and the dropped last column", err)
	}
}

func TestMetrics(t *testing.T) {
	w := setup(t)
	body := `{"home_team": "Wolves", "away_team": "Everton", "competition": "E0", "kickoff": "2024-08-24T14:00:00Z"}`
	for range 2 { // computed, then from the cache
		if code, out := post(t, w.server.URL+"/v1/predictions", body); code != 200 {
			t.Fatalf("%d %v", code, out)
		}
	}
	post(t, w.server.URL+"/v1/predictions", `{"home_team": "Nobody", "away_team": "Everton", "competition": "E0"}`)
	resp, err := http.Get(w.server.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		`soccerpredict_http_requests_total{code="200",method="POST",route="/v1/predictions"}`,
		`soccerpredict_http_requests_total{code="422",method="POST",route="/v1/predictions"}`,
		`soccerpredict_prediction_batch_size_count`,
		`soccerpredict_prediction_queue_wait_seconds_bucket`,
		`soccerpredict_plugin_calls_total{call="compute",outcome="ok",plugin="ratings"}`,
		`soccerpredict_plugin_calls_total{call="predict",outcome="ok",plugin="onnx"}`,
		`soccerpredict_plugin_launches_total{plugin="onnx"}`,
		`soccerpredict_predictions_total{source="cache"}`,
		`soccerpredict_serving_generation 1`,
		`soccerpredict_http_request_duration_seconds_bucket{route="/v1/predictions",le="0.05"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, "Nobody") {
		t.Error("a raw request value became a metric label")
	}
	// The checks `promtool check metrics` makes (it runs this linter):
	// naming, units, help texts, counter suffixes.
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promtool check metrics: %s: %s", p.Metric, p.Text)
	}
	// And the real promtool, as operators run it (.ci/run installs Debian's prometheus).
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is required for this test and is not installed: apt-get install --no-install-recommends prometheus")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// A fixture that kicked off in the past is answered from the features it
// had before its day, exactly as the point-in-time replay (training and
// evaluation) gave them, with its own season; requests may come in any
// order. Over HTTP it says so (point_in_time).
func TestPastKickoffEqualsTheReplay(t *testing.T) {
	w := setup(t)
	ctx := context.Background()
	fresh, err := w.host.Spawn("ratings", "replay-test")
	if err != nil {
		t.Fatal(err)
	}
	defer w.host.Retire(fresh)
	d, err := forecast.BuildDataset(ctx, w.store, pluginhost.FeaturesOf(fresh), nil)
	if err != nil {
		t.Fatal(err)
	}
	pick := func(comp, season string, nth int) replay.Example {
		for _, e := range d.Examples {
			if e.Match.Competition == comp && e.Match.Season == season {
				if nth == 0 {
					return e
				}
				nth--
			}
		}
		t.Fatalf("no %s %s match", comp, season)
		return replay.Example{}
	}
	// Late, then early (the history must go back), then between, then the last day.
	for _, e := range []replay.Example{pick("E0", "2223", 200), pick("E0", "1516", 10), pick("D1", "2122", 100), pick("I1", "2324", 379), d.Examples[len(d.Examples)-1]} {
		m := e.Match
		req := forecast.FixtureRequest{HomeTeam: m.HomeTeam, AwayTeam: m.AwayTeam, Competition: m.Competition, Kickoff: m.Kickoff}
		if o, ok := m.OddsOf("PS", false); ok {
			req.Odds = &o
		}
		f, err := w.pred.Fixture(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if f.Season != m.Season {
			t.Errorf("%s: season %s, want %s", m.ID, f.Season, m.Season)
		}
		got, err := w.pred.Predict(ctx, []soccer.Fixture{f})
		if err != nil {
			t.Fatal(err)
		}
		want, err := w.pred.PredictRows(ctx, [][]float64{e.Values})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Probabilities != want.Probabilities[0] || !got[0].PointInTime {
			t.Errorf("%s (%s): forecast %+v point-in-time %v; the replay's features give %+v", m.ID, m.Kickoff.Format(time.DateOnly),
				got[0].Probabilities, got[0].PointInTime, want.Probabilities[0])
		}
	}
	e := pick("E0", "1920", 5)
	code, out := post(t, w.server.URL+"/v1/predictions", fmt.Sprintf(`{"home_team": %q, "away_team": %q, "competition": "E0", "kickoff": %q}`,
		e.Match.HomeTeam, e.Match.AwayTeam, e.Match.Kickoff.Format(time.RFC3339)))
	if code != 200 || out["point_in_time"] != true || out["fixture"].(map[string]any)["season"] != "1920" {
		t.Fatalf("a 2019 kick-off over HTTP: %d %v", code, out)
	}
	// A kick-off after the last stored result uses the present state.
	code, out = post(t, w.server.URL+"/v1/predictions", `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2031-01-04T15:00:00Z"}`)
	if code != 200 || out["point_in_time"] != nil || out["fixture"].(map[string]any)["season"] != "3031" {
		t.Fatalf("a future kick-off: %d %v", code, out)
	}

	// as_of: the kick-off's own day gives the replay's answer; a month before
	// gives what the model would have said then; after the kick-off is refused.
	m := pick("E0", "2223", 200)
	want, _ := w.pred.PredictRows(ctx, [][]float64{m.Values})
	o, _ := m.Match.OddsOf("PS", false)
	body := func(asOf time.Time) string {
		return fmt.Sprintf(`{"home_team": %q, "away_team": %q, "competition": "E0", "kickoff": %q, "as_of": %q, "odds": {"home": %v, "draw": %v, "away": %v}}`,
			m.Match.HomeTeam, m.Match.AwayTeam, m.Match.Kickoff.Format(time.RFC3339), asOf.Format(time.RFC3339), o.Home, o.Draw, o.Away)
	}
	probs := func(out map[string]any) soccer.Probabilities {
		p := out["probabilities"].(map[string]any)
		return soccer.Probabilities{Home: p["home"].(float64), Draw: p["draw"].(float64), Away: p["away"].(float64)}
	}
	code, same := post(t, w.server.URL+"/v1/predictions", body(m.Match.Kickoff))
	if code != 200 || probs(same) != want.Probabilities[0] {
		t.Fatalf("as_of the kick-off: %d %v, want the replay's %+v", code, same, want.Probabilities[0])
	}
	code, earlier := post(t, w.server.URL+"/v1/predictions", body(m.Match.Kickoff.AddDate(0, -1, 0)))
	if code != 200 || probs(earlier) == probs(same) || earlier["point_in_time"] != true {
		t.Fatalf("as_of a month earlier: %d %v (as of the kick-off: %v)", code, earlier, probs(same))
	}
	code, out = post(t, w.server.URL+"/v1/predictions", body(m.Match.Kickoff.Add(time.Hour)))
	if code != 422 || out["errors"].([]any)[0].(map[string]any)["field"] != "as_of" {
		t.Fatalf("as_of after the kick-off: %d %v", code, out)
	}
	code, out = post(t, w.server.URL+"/v1/predictions/batch", `{"fixtures": [`+body(m.Match.Kickoff.AddDate(0, -1, 0))+`, `+body(m.Match.Kickoff)+`]}`)
	if preds, _ := out["predictions"].([]any); code != 200 || len(preds) != 2 || probs(preds[0].(map[string]any)) != probs(earlier) || probs(preds[1].(map[string]any)) != probs(same) {
		t.Fatalf("batch with as_of: %d %v", code, out)
	}

	// An asynchronous job takes as_of too, and its worker answers as the
	// sync path did; after the kick-off is refused at submission.
	async := w.asyncJobs(t)
	for _, c := range []struct {
		asOf time.Time
		want map[string]any
	}{{m.Match.Kickoff.AddDate(0, -1, 0), earlier}, {m.Match.Kickoff, same}} {
		result := async.run(t, body(c.asOf))
		if probs(result) != probs(c.want) || result["point_in_time"] != c.want["point_in_time"] {
			t.Fatalf("async job as of %v: %v, want %v", c.asOf, result, c.want)
		}
	}
	if code, out = post(t, async.URL+"/v1/predictions/async", body(m.Match.Kickoff.Add(time.Hour))); code != 422 {
		t.Fatalf("async with as_of after the kick-off: %d %v", code, out)
	}
}

// jobRunner submits async jobs to a server on the shared predictor and
// works each at once with a worker of its own.
type jobRunner struct {
	*httptest.Server
	store  store.Store
	worker *jobs.Worker
}

func (w *world) asyncJobs(t *testing.T) jobRunner {
	srv := httptest.NewServer((&Server{Predictor: w.pred, Logger: hclog.NewNullLogger(), Store: w.store}).Handler())
	t.Cleanup(srv.Close)
	return jobRunner{Server: srv, store: w.store, worker: &jobs.Worker{Store: w.store, Predictor: w.pred, Logger: hclog.NewNullLogger()}}
}

// run submits body, works the job and returns its result, failing the
// test unless it was accepted and succeeded.
func (r jobRunner) run(t *testing.T, body string) map[string]any {
	t.Helper()
	ctx := context.Background()
	code, out := post(t, r.URL+"/v1/predictions/async", body)
	if code != 202 {
		t.Fatalf("async %s: %d %v", body, code, out)
	}
	id := out["job_id"].(string)
	if err := r.worker.Handle(ctx, id); err != nil {
		t.Fatal(err)
	}
	j, err := r.store.Job(ctx, id)
	var result map[string]any
	if err == nil {
		err = json.Unmarshal(j.Result, &result)
	}
	if err != nil || j.Status != "succeeded" {
		t.Fatalf("async %s: %s %s (%v)", body, j.Status, j.Result, err)
	}
	return result
}

// A server started without a store answers the registry's routes with 503,
// not a nil-pointer panic: the page's data keeps the store's absence.
func TestRegistryRoutesWithoutAStore(t *testing.T) {
	w := setup(t)
	for _, path := range []string{"/v1/promotions", "/v1/evaluation"} {
		code, body := get(t, w.server.URL+path)
		if code != http.StatusServiceUnavailable || body["title"] != "no registry" {
			t.Errorf("%s: %d %v, want 503 no registry", path, code, body)
		}
	}
}
