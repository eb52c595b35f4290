package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
	"github.com/soccerpredict/soccerpredict/host/internal/pgtest"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
	"github.com/soccerpredict/soccerpredict/host/oip/inferencepb"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// liveFixture is one match of the next season's first round.
type liveFixture struct {
	home, away string
	hour       int
	pre        string // PSH,PSD,PSA or ",,"
	result     string // FTHG,FTAG,FTR,PSCH,PSCD,PSCA; "" is postponed (no result arrives)
}

var liveRound = []liveFixture{
	{"Arsenal", "Chelsea", 12, "1.95,3.80,4.10", "2,1,H,1.90,3.90,4.30"},
	{"Liverpool", "Man United", 14, "1.60,4.33,5.50", "1,1,D,1.62,4.20,5.50"},
	{"Newcastle", "Tottenham", 16, "2.40,3.60,2.90", "0,2,A,2.50,3.60,2.80"},
	{"Man City", "Aston Villa", 18, "1.35,5.50,8.50", "4,0,H,1.33,5.75,9.00"},
	{"Brighton", "West Ham", 20, ",,", "1,2,A,2.10,3.50,3.60"},
	{"Everton", "Fulham", 13, "2.60,3.20,3.00", "0,0,D,2.55,3.20,3.10"},
	{"Wolves", "Brentford", 15, ",,", ""},
}

// liveSeason writes two data directories: the shipped data plus next
// week's round as fixtures (what serve forecasts), and the same with the
// results and closing prices (the later ingest). The last fixture is
// postponed: its result never arrives.
func liveSeason(t *testing.T) (fixtures, results string, day time.Time) {
	day = time.Now().UTC().AddDate(0, 0, 7)
	write := func(withResults bool) string {
		dir := shippedCopy(t)
		csv := "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,PSH,PSD,PSA,PSCH,PSCD,PSCA\n"
		for _, f := range liveRound {
			res := ",,,,,"
			if withResults && f.result != "" {
				res = f.result
			}
			r := strings.Split(res, ",")
			csv += fmt.Sprintf("E0,%s,%02d:00,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", day.Format("02/01/2006"), f.hour, f.home, f.away, r[0], r[1], r[2], f.pre, r[3], r[4], r[5])
		}
		if err := os.WriteFile(filepath.Join(dir, "E0", seasonOf(day)+".csv"), []byte(csv), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return write(false), write(true), day
}

// The live-quality loop end to end on real processes: serve forecasts next
// week's fixtures through every route, batch predict logs its stage, the
// results are ingested from a second data directory, and the monitor's
// numbers (the CLI's JSON and GET /v1/monitoring) equal an independent
// computation from the logged forecasts and the stored results. On the
// embedded SQLite store and on PostgreSQL.
func TestLiveQualityEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		liveQuality(t, fullConfig(t, "store: {driver: sqlite}\nmonitor: {interval: 50ms, refresh: 200ms}"))
	})
	t.Run("postgres", func(t *testing.T) {
		liveQuality(t, fullConfig(t, "store: {driver: postgres, dsn: "+testbin.Quote(pgtest.Schema(t))+"}\nmonitor: {interval: 50ms, refresh: 200ms}"))
	})
}

func liveQuality(t *testing.T, cfg string) {
	fixturesDir, resultsDir, day := liveSeason(t)
	dirFlag := "plugins.footballdata.config.dir="
	must(t, cfg, "ingest", "--set", dirFlag+fixturesDir)
	must(t, cfg, "models", "train", "--alias", "champion")

	ctx := context.Background()
	base, grpcAddr, stop := serveFor(t, cfg, true)
	kickoff := func(f liveFixture) string {
		return time.Date(day.Year(), day.Month(), day.Day(), f.hour, 0, 0, 0, time.UTC).Format(time.RFC3339)
	}
	body := func(f liveFixture) string {
		return fmt.Sprintf(`{"home_team": %q, "away_team": %q, "competition": "E0", "kickoff": %q}`, f.home, f.away, kickoff(f))
	}
	ok := func(code int, v map[string]any, what string) {
		t.Helper()
		if code != 200 && code != 202 {
			t.Fatalf("%s: %d %v", what, code, v)
		}
	}
	// sync, twice for the same fixture (one row, counted twice), and once with a price
	for _, b := range []string{body(liveRound[0]), body(liveRound[0]),
		fmt.Sprintf(`{"home_team": %q, "away_team": %q, "competition": "E0", "kickoff": %q, "odds": {"home": 2.4, "draw": 3.6, "away": 2.9}}`,
			liveRound[2].home, liveRound[2].away, kickoff(liveRound[2]))} {
		code, v := postJSON(t, base+"/v1/predictions", b)
		ok(code, v, "sync")
	}
	code, v := postJSON(t, base+"/v1/predictions/batch", `{"fixtures": [`+body(liveRound[3])+`, `+body(liveRound[4])+`]}`)
	ok(code, v, "batch")
	code, v = postJSON(t, base+"/v1/predictions/async", body(liveRound[5]))
	ok(code, v, "async")
	if j := waitDone(t, base, v["job_id"].(string), 30*time.Second); j["status"] != "succeeded" {
		t.Fatalf("async job: %v", j)
	}
	code, v = postJSON(t, base+"/v2/models/soccerpredict/infer", fmt.Sprintf(`{"inputs": [
		{"name": "home_team", "datatype": "BYTES", "shape": [1], "data": [%q]},
		{"name": "away_team", "datatype": "BYTES", "shape": [1], "data": [%q]},
		{"name": "competition", "datatype": "BYTES", "shape": [1], "data": ["E0"]},
		{"name": "kickoff", "datatype": "BYTES", "shape": [1], "data": [%q]}]}`, liveRound[1].home, liveRound[1].away, kickoff(liveRound[1])))
	ok(code, v, "OIP REST")
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	str := func(s string) *inferencepb.InferTensorContents {
		return &inferencepb.InferTensorContents{BytesContents: [][]byte{[]byte(s)}}
	}
	f6 := liveRound[6]
	if _, err := inferencepb.NewGRPCInferenceServiceClient(conn).ModelInfer(ctx, &inferencepb.ModelInferRequest{ModelName: "soccerpredict",
		Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
			{Name: "home_team", Datatype: "BYTES", Shape: []int64{1}, Contents: str(f6.home)},
			{Name: "away_team", Datatype: "BYTES", Shape: []int64{1}, Contents: str(f6.away)},
			{Name: "competition", Datatype: "BYTES", Shape: []int64{1}, Contents: str("E0")},
			{Name: "kickoff", Datatype: "BYTES", Shape: []int64{1}, Contents: str(kickoff(f6))}}}); err != nil {
		t.Fatalf("OIP gRPC: %v", err)
	}
	code, v = testbin.Send(t, "GET", base+"/v1/fixtures?competition=E0", "")
	ok(code, v, "fixtures")
	stop() // serve writes what its log holds before it exits
	must(t, cfg, "batch", "predict", "--out", filepath.Join(t.TempDir(), "upcoming.csv"))

	// The results arrive.
	must(t, cfg, "ingest", "--set", dirFlag+resultsDir)

	st := openTestStore(t, cfg)
	logged, err := st.LoggedForecasts(context.Background(), store.ForecastQuery{})
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]int64{}
	for _, f := range logged {
		routes[f.Route] += f.Count
		if f.Version != 1 || f.Model == "" || f.FeatureSchema == "" || f.Generation != 1 {
			t.Errorf("logged forecast without its model: %+v", f)
		}
	}
	for _, r := range []string{"sync", "batch", "async", "oip-rest", "oip-grpc", "fixtures", "batch-predict"} {
		if routes[r] == 0 {
			t.Errorf("no forecast logged from route %s (logged: %v)", r, routes)
		}
	}
	if routes["sync"] != 3 {
		t.Errorf("sync forecasts logged %d times, want 3 (two identical answers kept as one row counted twice)", routes["sync"])
	}

	// The independent computation: per fixture its last forecast before
	// kick-off, scored by hand against the stored result and prices.
	matches, err := st.Matches(context.Background(), store.MatchQuery{Competition: "E0", Season: seasonOf(day)})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]soccer.Match{}
	for _, m := range matches {
		byID[m.ID] = m
	}
	last := map[string]store.LoggedForecast{}
	for _, f := range logged {
		m, ok := byID[f.MatchID]
		if !ok || m.Status != soccer.Finished || !f.FirstAt.Before(m.Kickoff) {
			continue
		}
		if p, seen := last[f.MatchID]; !seen || f.LastAt.After(p.LastAt) {
			last[f.MatchID] = f
		}
	}
	var n int
	var sumLL, sumRPS, sumDelta float64
	var nDelta int
	for id, f := range last {
		m := byID[id]
		k := map[soccer.Result]int{soccer.HomeWin: 0, soccer.Draw: 1, soccer.AwayWin: 2}[m.Result]
		p := f.Probabilities
		n++
		ll := -math.Log(p[k])
		sumLL += ll
		y := [3]float64{}
		y[k] = 1
		sumRPS += ((p[0]-y[0])*(p[0]-y[0]) + (p[0]+p[1]-y[0]-y[1])*(p[0]+p[1]-y[0]-y[1])) / 2
		if o, ok := m.OddsOf("PS", false); ok {
			inv := [3]float64{1 / o.Home, 1 / o.Draw, 1 / o.Away}
			sumDelta += ll + math.Log(inv[k]/(inv[0]+inv[1]+inv[2]))
			nDelta++
		}
	}
	if n != len(liveRound)-1 {
		t.Fatalf("%d fixtures scored by hand, want %d (one is postponed)", n, len(liveRound)-1)
	}

	jsonPath := filepath.Join(t.TempDir(), "monitor.json")
	report := must(t, cfg, "monitor", "--json", jsonPath, "--plots", filepath.Join(t.TempDir(), "plots"))
	if !strings.Contains(report, fmt.Sprintf("v1: %d scored matches", n)) || !strings.Contains(report, "live_scores_v1.png") {
		t.Fatalf("monitor report:\n%s", report)
	}
	t.Logf("monitor report:\n%s", report)
	var rep monitor.Report
	b, _ := os.ReadFile(jsonPath)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	check := func(where string, rep monitor.Report) {
		t.Helper()
		if len(rep.Versions) != 1 || rep.Awaiting != 1 {
			t.Fatalf("%s: %d versions, %d awaiting a result; want 1 and 1 (the postponed match)", where, len(rep.Versions), rep.Awaiting)
		}
		v := rep.Versions[0]
		if v.N != n || math.Abs(v.Mean.LogLoss-sumLL/float64(n)) > 1e-9 || math.Abs(v.Mean.RPS-sumRPS/float64(n)) > 1e-9 {
			t.Fatalf("%s: n %d log-loss %.12f RPS %.12f; by hand n %d log-loss %.12f RPS %.12f", where, v.N, v.Mean.LogLoss, v.Mean.RPS, n, sumLL/float64(n), sumRPS/float64(n))
		}
		if v.PreMatch == nil || v.PreMatch.N != nDelta || math.Abs(v.PreMatch.LogLoss-sumDelta/float64(nDelta)) > 1e-9 {
			t.Fatalf("%s: against the pre-match price %+v; by hand n %d Δ %.12f", where, v.PreMatch, nDelta, sumDelta/float64(nDelta))
		}
		if v.Closing == nil || v.Closing.N != n {
			t.Fatalf("%s: against the closing price %+v, want all %d matches", where, v.Closing, n)
		}
	}
	check("soccerpredict monitor", rep)

	// A new serve (another replica) answers the same from the store.
	base2, _, _ := serveFor(t, cfg, false)
	var api monitor.Report
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, v := testbin.Send(t, "GET", base2+"/v1/monitoring", "")
		b, _ := json.Marshal(v)
		json.Unmarshal(b, &api)
		if code == 200 && len(api.Versions) > 0 || time.Now().After(deadline) {
			break
		}
	}
	check("GET /v1/monitoring", api)
	code, v = testbin.Send(t, "GET", base2+"/v1/monitoring?windows=ten", "")
	if code != 422 || !strings.Contains(fmt.Sprint(v["detail"]), "windows") {
		t.Fatalf("a window that is not a number: %d %v", code, v)
	}
}

// openTestStore opens the store a test config names.
func openTestStore(t *testing.T, cfgPath string) store.Store {
	t.Helper()
	cfg, err := config.Load([]string{cfgPath}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
