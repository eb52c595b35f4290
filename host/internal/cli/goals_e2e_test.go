package cli

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// The goals model, trained by the host like the others and served as the
// champion: a forecast carries its goal markets (REST's markets, OIP's
// second output), the same from the cache, and evaluate scores them. A
// champion without goal markets answers a request for that output with 422, as REST does.
func TestGoalsModelServesMarkets(t *testing.T) {
	cfg := fullConfig(t, "store: {driver: sqlite}")
	must(t, cfg, "ingest")
	// The shipped config layer, after the test's config, as a user adds it.
	goals := []string{"--config", cfg, "--config", filepath.Join(testbin.Root(), "configs", "goals.yaml")}
	withGoals := func(args ...string) string {
		t.Helper()
		code, out, errs := run(t, []string{"SOCCERPREDICT_ACTOR=test"}, append(args, goals...)...)
		if code != 0 {
			t.Fatalf("%v with configs/goals.yaml: exit %d\n%s\n%s", args, code, out, errs)
		}
		return out
	}
	if out := withGoals("models", "train", "--alias", "champion"); !strings.Contains(out, "goals-dixon-coles") {
		t.Fatalf("train: %s", out)
	}
	ev := withGoals("evaluate", "--out", t.TempDir()+"/ev.json")
	if !regexp.MustCompile(`(?m)^goal markets: .*\ncalibration: .*\n.*over 2.5 LL.*calibration \(z\).*\n\s+E0\s+760\s+0\.\d{4}.*[+-]\d+\.\d \([+-]\d+\.\d\)`).MatchString(ev) {
		t.Fatalf("evaluate scores no goal markets:\n%s", ev)
	}
	base, stop := serveHere(t, goals...)
	body := `{"home_team": "Arsenal", "away_team": "Chelsea", "competition": "E0", "kickoff": "2024-08-17T14:00:00Z"}`
	var first map[string]any
	for i := range 2 { // computed, then from the cache
		code, resp := testbin.Send(t, "POST", base+"/v1/predictions", body)
		if code != 200 {
			t.Fatalf("predict: %d %v", code, resp)
		}
		mk, ok := resp["markets"].(map[string]any)
		if !ok {
			t.Fatalf("answer %d has no markets: %v", i, resp)
		}
		over, under, both := mk["over_2_5"].(float64), mk["under_2_5"].(float64), mk["both_teams_score"].(float64)
		goals := mk["expected_goals"].(map[string]any)
		scores := mk["scorelines"].([]any)
		if math.Abs(over+under-1) > 1e-12 || over <= 0.2 || over >= 0.8 || both <= 0.2 || both >= 0.8 || goals["home"].(float64) <= 0.5 || len(scores) != 5 {
			t.Fatalf("markets %v", mk)
		}
		top := scores[0].(map[string]any)
		if top["score"] != strings.Join([]string{fmtInt(top["home"]), fmtInt(top["away"])}, "-") || top["probability"].(float64) < scores[4].(map[string]any)["probability"].(float64) {
			t.Fatalf("scorelines %v", scores)
		}
		if i == 0 {
			first = mk
		} else if !reflect.DeepEqual(first, mk) {
			t.Fatalf("the cached answer's markets %v differ from the computed %v", mk, first)
		}
	}
	outputsOf := func(base string) []string {
		_, meta := testbin.Send(t, "GET", base+"/v2/models/soccerpredict", "")
		var names []string
		for _, o := range meta["outputs"].([]any) {
			o := o.(map[string]any)
			names = append(names, fmt.Sprintf("%s%v", o["name"], o["shape"]))
		}
		return names
	}
	if got := outputsOf(base); !reflect.DeepEqual(got, []string{"probabilities[-1 3]", "markets[-1 20]"}) {
		t.Fatalf("the goals champion's OIP outputs %v", got)
	}
	asked := strings.Replace(body, "{", `{"markets": true, `, 1)
	if code, resp := testbin.Send(t, "POST", base+"/v1/predictions", asked); code != 200 || resp["markets"] == nil {
		t.Fatalf("markets asked of the goals model: %d %v", code, resp)
	}
	infer := `{"inputs": [{"name": "home_team", "datatype": "BYTES", "shape": [1], "data": ["Arsenal"]},
		{"name": "away_team", "datatype": "BYTES", "shape": [1], "data": ["Chelsea"]},
		{"name": "competition", "datatype": "BYTES", "shape": [1], "data": ["E0"]}], "outputs": [{"name": "markets"}]}`
	code, resp := testbin.Send(t, "POST", base+"/v2/models/soccerpredict/infer", infer)
	if code != 200 {
		t.Fatalf("OIP infer: %d %v", code, resp)
	}
	outs := resp["outputs"].([]any)
	o := outs[0].(map[string]any)
	// Five numbers, then the five likeliest scores as (home, away, probability): the REST answer's.
	data := o["data"].([]any)
	if len(outs) != 1 || o["name"] != "markets" || len(data) != 20 || o["shape"].([]any)[1].(float64) != 20 {
		t.Fatalf("OIP outputs %v", outs)
	}
	top := first["scorelines"].([]any)[0].(map[string]any)
	if data[2].(float64) != first["over_2_5"].(float64) || data[5].(float64) != top["home"].(float64) || data[7].(float64) != top["probability"].(float64) {
		t.Fatalf("OIP markets %v, REST markets %v", data, first)
	}

	// The logistic champion has no goal markets: none in REST, a 422 for the output.
	stop()
	cfg = fullConfig(t, "store: {driver: sqlite}")
	must(t, cfg, "ingest")
	must(t, cfg, "models", "train", "--alias", "champion")
	base, _ = serveHere(t, "--config", cfg)
	if code, resp := testbin.Send(t, "POST", base+"/v1/predictions", body); code != 200 || resp["markets"] != nil {
		t.Fatalf("the logistic champion: %d %v", code, resp)
	}
	if got := outputsOf(base); !reflect.DeepEqual(got, []string{"probabilities[-1 3]"}) {
		t.Fatalf("the logistic champion's OIP outputs %v", got)
	}
	if code, resp := testbin.Send(t, "POST", base+"/v2/models/soccerpredict/infer", infer); code != 422 || !strings.Contains(resp["error"].(string), "goals model") {
		t.Fatalf("markets of the logistic champion: %d %v", code, resp)
	}
	// Asked for, markets the model cannot give are a 422 naming the field.
	if code, resp := testbin.Send(t, "POST", base+"/v1/predictions", asked); code != 422 || !strings.Contains(resp["detail"].(string), "markets: the serving model onnx-logreg v1 forecasts home/draw/away only") {
		t.Fatalf("markets asked of the logistic champion: %d %v", code, resp)
	}
	batch := `{"fixtures": [` + body + `, ` + asked + `]}`
	if code, resp := testbin.Send(t, "POST", base+"/v1/predictions/batch", batch); code != 422 || !strings.Contains(resp["detail"].(string), "fixtures[1].markets: ") {
		t.Fatalf("a batch asking markets of the logistic champion: %d %v", code, resp)
	}
	code, resp = testbin.Send(t, "POST", base+"/v1/predictions/async", asked)
	if code != 202 {
		t.Fatalf("async: %d %v", code, resp)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, v := testbin.Send(t, "GET", base+"/v1/jobs/"+resp["job_id"].(string), "")
		if v["status"] == "failed" && strings.Contains(v["error"].(string), "goals model") {
			break
		}
		if v["status"] == "succeeded" || time.Now().After(deadline) {
			t.Fatalf("an async job asking markets of the logistic champion: %v", v)
		}
	}
}

func fmtInt(v any) string { return strconv.Itoa(int(v.(float64))) }

// serveHere runs serve in this process (HTTP only) until the test ends or
// stop is called, and returns its base URL.
func serveHere(t *testing.T, args ...string) (string, context.CancelFunc) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	out := &syncBuffer{}
	go Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--grpc-addr", "off"}, args...), nil, out, &syncBuffer{})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`on (127\.0\.0\.1:\d+)`).FindStringSubmatch(out.String()); m != nil {
			return "http://" + m[1], stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", out.String())
		}
	}
}
