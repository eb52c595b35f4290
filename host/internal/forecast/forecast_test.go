package forecast

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/contract"
	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/host/internal/ingest"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store/sqlitestore"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// shippedStore is a store with the shipped data ingested, and a plugin host
// with two ratings processes (each replay needs a fresh one) and the onnx
// model.
func shippedStore(t *testing.T) (*sqlitestore.Store, *pluginhost.Host) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := map[string]config.Plugin{}
	for name, c := range map[string]struct {
		kind, bin string
		settings  map[string]any
	}{
		"footballdata": {"source", testbin.Plugin(t, "source", "footballdata"), map[string]any{"dir": testbin.Data()}},
		"ratings":      {"features", testbin.Plugin(t, "features", "ratings"), nil},
		"ratings2":     {"features", testbin.Plugin(t, "features", "ratings"), nil},
		"onnx":         {"model", testbin.Plugin(t, "model", "onnx"), map[string]any{"library": testbin.ORT(t)}},
	} {
		cfg[name] = config.Plugin{Kind: c.kind, Path: c.bin, SHA256: testbin.Digest(t, c.bin), Timeout: time.Minute, StartTimeout: 20 * time.Second, Config: c.settings}
	}
	h, err := pluginhost.New(cfg, hclog.New(&hclog.LoggerOptions{Output: io.Discard}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	suite, _ := contract.Load(testbin.Expectations())
	src, _ := h.Plugin("footballdata")
	if _, err := (ingest.Runner{Store: st, Suite: suite}).Run(ctx, ingest.Source{Name: "footballdata", Source: pluginhost.SourceOf(src)}); err != nil {
		t.Fatal(err)
	}
	return st, h
}

// twoWays is the shipped store with what a test needs to compute a thing
// both in memory and streamed: two fresh ratings processes, the onnx model
// and a trainer with it.
func twoWays(t *testing.T) (*sqlitestore.Store, *pluginhost.Plugin, *pluginhost.Plugin, *pluginhost.Plugin, Trainer) {
	st, h := shippedStore(t)
	feat, _ := h.Plugin("ratings")
	fresh, _ := h.Plugin("ratings2")
	onnx, _ := h.Plugin("onnx")
	return st, feat, fresh, onnx, Trainer{Model: pluginhost.ModelOf(onnx), ModelPlugin: "onnx", FeaturePlugin: "ratings", Params: map[string]any{"algorithm": "logreg"}, Seed: 1}
}

// Training streamed from the store, a few days of kick-offs at a time,
// makes the very model training on the whole replay in memory makes: the
// same examples in the same order (the training data hash), the same
// artifact, and the same start for serving.
func TestStreamedTrainingEqualsTheInMemoryOne(t *testing.T) {
	ctx := context.Background()
	st, feat, fresh, onnx, tr := twoWays(t)

	d, err := BuildDataset(ctx, st, pluginhost.FeaturesOf(feat), nil)
	if err != nil {
		t.Fatal(err)
	}
	inMemory, err := tr.Train(ctx, d, d.Trainable())
	if err != nil {
		t.Fatal(err)
	}
	defer func(w time.Duration) { replayWindow = w }(replayWindow)
	replayWindow = 3 * 24 * time.Hour // many windows, some empty, days never split
	var calls, last int
	streamed, err := tr.TrainFromStore(ctx, st, pluginhost.FeaturesOf(fresh), pluginhost.ModelOf(onnx), func(done, total int) {
		calls, last = calls+1, done
		if total != len(d.Examples) {
			t.Errorf("progress total %d, want %d", total, len(d.Examples))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if streamed.Version.TrainingDataHash != inMemory.TrainingDataHash || !bytes.Equal(streamed.Version.Artifact, inMemory.Artifact) ||
		streamed.Matches != len(d.Trainable()) || streamed.Version.Metrics["train_matches"] != inMemory.Metrics["train_matches"] {
		t.Fatalf("streamed training: hash %s, %d matches; in memory: hash %s, %d matches (artifacts equal: %v)", streamed.Version.TrainingDataHash,
			streamed.Matches, inMemory.TrainingDataHash, len(d.Trainable()), bytes.Equal(streamed.Version.Artifact, inMemory.Artifact))
	}
	if calls < 100 || last != len(d.Examples) {
		t.Fatalf("progress heard %d times, last at %d of %d matches", calls, last, len(d.Examples))
	}
	inMemoryMeta := metaOf(d.Examples, DefaultRecent)
	_, inMemoryMeta.HistoryDigest, _ = st.FinishedDigest(ctx, time.Time{})
	want, _ := json.Marshal(inMemoryMeta)
	got, _ := json.Marshal(streamed.meta)
	if !bytes.Equal(got, want) {
		t.Fatalf("what serving starts from differs between the streamed and the in-memory replay")
	}
}

// The walk-forward evaluation on the last two shipped Premier League seasons:
// the model must beat last season's base rates clearly and stay near the
// closing line, on the same matches.
func TestWalkForwardEvaluation(t *testing.T) {
	ctx := context.Background()
	st, h := shippedStore(t)
	feat, _ := h.Plugin("ratings")
	onnx, _ := h.Plugin("onnx")
	d, err := BuildDataset(ctx, st, pluginhost.FeaturesOf(feat), nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := Trainer{Model: pluginhost.ModelOf(onnx), ModelPlugin: "onnx", FeaturePlugin: "ratings", Params: map[string]any{"algorithm": "logreg"}}
	ev, err := Evaluate(ctx, d, tr, pluginhost.ModelOf(onnx), "E0", []string{"2223", "2324"})
	if err != nil {
		t.Fatal(err)
	}
	o := ev.Overall
	t.Logf("model %v; without odds %v; closing %v; base rates %v", o.Model, o.ModelWithoutOdds, o.Bookmaker, o.BaseRates)
	if o.Model.N != 760 || o.Bookmaker.N != 760 {
		t.Fatalf("scored %d and %d matches, want the 760 of two seasons", o.Model.N, o.Bookmaker.N)
	}
	// The published de-margined Pinnacle closing figures: 2022/23 0.9622, 2023/24 0.8995.
	if ll := ev.Seasons[0].Bookmaker.LogLoss; ll < 0.962 || ll > 0.9625 {
		t.Fatalf("closing-line log-loss for 2022/23 = %.4f, the published figure is 0.9622", ll)
	}
	if o.Model.LogLoss > o.BaseRates.LogLoss-0.05 || o.ModelWithoutOdds.LogLoss > o.BaseRates.LogLoss-0.03 {
		t.Fatalf("model log-loss %.4f (without odds %.4f) is not clearly better than base rates %.4f", o.Model.LogLoss, o.ModelWithoutOdds.LogLoss, o.BaseRates.LogLoss)
	}
	if o.Model.LogLoss > o.Bookmaker.LogLoss+0.03 || o.Model.RPS > o.Bookmaker.RPS+0.01 {
		t.Fatalf("model log-loss %.4f / RPS %.4f is far from the closing line %.4f / %.4f", o.Model.LogLoss, o.Model.RPS, o.Bookmaker.LogLoss, o.Bookmaker.RPS)
	}
	// The paired differences to the closing price, the calibration and the
	// per-match forecasts come with it.
	if o.WithoutOddsVsClosing.LogLoss.Mean <= 0 || o.WithoutOddsVsClosing.LogLoss.StdErr <= 0 || len(o.Calibration["model_without_odds"]) != 3 {
		t.Fatalf("without odds − closing %+v, calibration %+v", o.WithoutOddsVsClosing, o.Calibration)
	}
	var csvOut strings.Builder
	if err := (Report{Leagues: []Evaluation{ev}}).WriteForecasts(&csvOut); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(csvOut.String())).ReadAll()
	if err != nil || len(recs) != 761 || len(recs[0]) != 22 || recs[1][0] != "E0" || recs[1][1] != "2223" {
		t.Fatalf("forecasts CSV: %d rows, header %v, first %v, %v", len(recs), recs[0], recs[min(1, len(recs)-1)], err)
	}
	// The fold for 2023/24 trains only on matches before its first kick-off.
	if ev.Seasons[1].TrainRows <= ev.Seasons[0].TrainRows {
		t.Fatalf("train sizes %d, %d: the later fold must train on more", ev.Seasons[0].TrainRows, ev.Seasons[1].TrainRows)
	}
}

func TestClosestNames(t *testing.T) {
	known := []string{"Arsenal", "Aston Villa", "Man City", "Man United", "Nott'm Forest", "Sheffield United", "Sheffield Weds"}
	for in, want := range map[string]string{"Arsenl": "Arsenal", "man utd": "Man United", "Forest": "Nott'm Forest", "Sheffield": "Sheffield United"} {
		if got := Closest(in, known, 3); got[0] != want {
			t.Errorf("Closest(%q) = %v, want %q first", in, got, want)
		}
	}
}

func TestNamesAsPeopleWriteThem(t *testing.T) {
	known := []string{"Arsenal", "Chelsea", "Cardiff", "Hull", "Man City", "Man United", "Tottenham", "Nott'm Forest", "Wolves"}
	for in, want := range map[string]string{"Arsenal": "Arsenal", "arsenal": "Arsenal", "ARSENAL": "Arsenal", "Manchester City": "Man City",
		"man. city": "Man City", "Spurs": "Tottenham", "Man Utd": "Man United", "nottingham forest": "Nott'm Forest", "Wolverhampton Wanderers": "Wolves"} {
		if got, ok := resolveTeam("E0", in, known); !ok || got != want {
			t.Errorf("resolveTeam(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	if _, ok := resolveTeam("E0", "Barcelona", known); ok {
		t.Error("a team of another league resolved")
	}
	if _, ok := resolveTeam("D1", "Spurs", known); ok {
		t.Error("an alias of another competition resolved")
	}
	codes := []string{"D1", "E0", "E1", "I1", "SP1"}
	isKnown := func(c string) bool { return slices.Contains(codes, c) }
	for in, want := range map[string]string{"E0": "E0", "e0": "E0", "Premier League": "E0", "premier league": "E0", "La Liga": "SP1", "sp1": "SP1", "Bundesliga": "D1"} {
		if got, ok := resolveCompetition(in, isKnown, codes); !ok || got != want {
			t.Errorf("resolveCompetition(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	// Suggestions: near names only, aliases counted, canonical names given.
	for in, want := range map[string][]string{"Arsenl": {"Arsenal"}, "Totenham": {"Tottenham"}, "Manchester Cty": {"Man City", "Man United"}, "Zzzzzz": {}} {
		if got := suggest("E0", in, known, 3); !slices.Equal(got, want) {
			t.Errorf("suggest(%q) = %v, want %v", in, got, want)
		}
	}
}

// An evaluation from the spool (training rows on disk, folds streamed from
// it) is the in-memory evaluation, to the bit; closing the spool removes
// its file.
func TestSpooledEvaluationEqualsTheInMemoryOne(t *testing.T) {
	ctx := context.Background()
	st, feat, fresh, onnx, tr := twoWays(t)
	leagues := []League{{Competition: "E0", TestSeasons: []string{"2223", "2324"}}, {Competition: "D1", TestSeasons: []string{"2324"}}}

	d, err := BuildDataset(ctx, st, pluginhost.FeaturesOf(feat), nil)
	if err != nil {
		t.Fatal(err)
	}
	inMemory, err := EvaluateLeagues(ctx, d, tr, pluginhost.ModelOf(onnx), leagues, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sp, err := SpoolFromStore(ctx, st, pluginhost.FeaturesOf(fresh), pluginhost.ModelOf(onnx), dir, func(m soccer.Match) bool {
		return slices.ContainsFunc(leagues, func(l League) bool { return l.Competition == m.Competition && slices.Contains(l.TestSeasons, m.Season) })
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	spooled, err := sp.EvaluateLeagues(ctx, tr, pluginhost.ModelOf(onnx), leagues, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(inMemory)
	b, _ := json.Marshal(spooled)
	if !bytes.Equal(a, b) {
		t.Fatalf("spooled evaluation differs from the in-memory one:\n%s\n%s", a, b)
	}
	if sp.TrainableHash() != d.TrainableHash() {
		t.Fatal("the spool's training data hash differs from the dataset's")
	}
	if files, _ := os.ReadDir(dir); len(files) != 1 {
		t.Fatalf("spool dir holds %d files, want its one", len(files))
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("closing the spool left %d files", len(files))
	}
}

// metaOf derives what serving keeps from a replay's examples at once: the
// reference the streamed metaBuilder is checked against.
func metaOf(examples []replay.Example, recent int) startMeta {
	b := newMetaBuilder(recent)
	for _, e := range examples {
		b.add(e)
	}
	return b.done()
}

// Base rates are the competition's previous season; its first season gets
// the other competitions' latest seasons before it, pooled.
func TestBaseRatesOfAFirstSeason(t *testing.T) {
	rc := resultCounts{}
	add := func(comp, season string, r soccer.Result, n int) {
		for range n {
			rc.add(soccer.Match{Competition: comp, Season: season, Result: r})
		}
	}
	add("E0", "2122", soccer.HomeWin, 2)
	add("E0", "2223", soccer.HomeWin, 1)
	add("E0", "2223", soccer.Draw, 1)
	add("D1", "2223", soccer.AwayWin, 2)
	add("E1", "2324", soccer.HomeWin, 5)
	if p, err := rc.baseRates("E0", "2223"); err != nil || p != (soccer.Probabilities{Home: 1}) {
		t.Fatalf("E0 2223 base rates %+v %v, want its 2122", p, err)
	}
	// D1's first season: E0's 2122 (E0 2223 and E1 2324 are not before it).
	if p, err := rc.baseRates("D1", "2223"); err != nil || p != (soccer.Probabilities{Home: 1}) {
		t.Fatalf("D1 2223 base rates %+v %v, want E0 2122's", p, err)
	}
	// E1's first: E0 2223 and D1 2223 pooled.
	if p, err := rc.baseRates("E1", "2324"); err != nil || p != (soccer.Probabilities{Home: 0.25, Draw: 0.25, Away: 0.5}) {
		t.Fatalf("E1 2324 base rates %+v %v", p, err)
	}
	if _, err := rc.baseRates("E0", "2122"); err == nil {
		t.Fatal("base rates from nothing")
	}
}

// A played match asked about without odds gets the pre-match prices the
// store has for it (Pinnacle's first, never a closing price); a store that
// cannot be read while looking is ErrUnavailable (retry), not a bad
// fixture; and a caller who opts out gets the fixture without them.
func TestPlayedMatchPricesFromTheStore(t *testing.T) {
	kick := time.Date(2023, 8, 11, 19, 0, 0, 0, time.UTC)
	played := soccer.NewMatch("E0", "2324", kick, true, "Burnley", "Man City").Played(0, 3)
	played.Odds = []soccer.Odds{{Bookmaker: "B365", Home: 8, Draw: 5.5, Away: 1.33}, {Bookmaker: "PS", Closing: true, Home: 9.62, Draw: 5.81, Away: 1.33},
		{Bookmaker: "PS", Home: 8.58, Draw: 5.51, Away: 1.37}}
	down := true
	p := &Predictor{teams: map[string][]string{"E0": {"Burnley", "Man City"}}, lastDay: dayOf(kick.AddDate(0, 9, 0)),
		spans: map[string][]seasonSpan{"E0": {{season: "2324", first: kick, last: kick.AddDate(0, 9, 0)}}},
		history: &history{load: func(context.Context) ([]soccer.Match, error) {
			if down {
				return nil, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
			}
			return []soccer.Match{played}, nil
		}}}
	req := FixtureRequest{HomeTeam: "burnley", AwayTeam: "Man City", Competition: "E0", Kickoff: kick.Add(time.Hour)}
	if _, err := p.Fixture(context.Background(), req); !errors.Is(err, fault.Unavailable) || errors.Is(err, fault.Unprocessable) {
		t.Fatalf("the store down: %v, want fault.Unavailable", err)
	}
	down = false
	f, err := p.Fixture(context.Background(), req)
	if err != nil || f.ID != played.ID || len(f.Odds) != 2 || f.Odds[0].Bookmaker != "PS" || f.Odds[0].Home != 8.58 || MarketSource(f) != "stored" {
		t.Fatalf("a played match: %+v %v, want its pre-match prices, Pinnacle's first", f, err)
	}
	req.NoStoredOdds = true
	if f, err := p.Fixture(context.Background(), req); err != nil || len(f.Odds) != 0 || MarketSource(f) != "" {
		t.Fatalf("opted out: %+v %v", f, err)
	}
	req.NoStoredOdds, req.Kickoff = false, kick.Add(72*time.Hour) // another day: another fixture
	if f, err := p.Fixture(context.Background(), req); err != nil || len(f.Odds) != 0 {
		t.Fatalf("three days later: %+v %v", f, err)
	}
}

// Bookmakers as people write them: codes and names in any case, a few
// other names; anything else is not a bookmaker.
func TestResolveBookmaker(t *testing.T) {
	for in, want := range map[string]string{"PS": "PS", "ps": "PS", "Pinnacle": "PS", "PINNACLE": "PS", "pinnacle sports": "PS",
		"Bet365": "B365", "bet 365": "B365", "b365": "B365", "William Hill": "WH", "williamhill": "WH", "BetVictor": "VC", "bet&win": "BW",
		"Bwin": "BW", "1xBet": "1XB", "avg": "Avg", "market average": "Avg"} {
		if got, ok := resolveBookmaker(in); !ok || got != want {
			t.Errorf("resolveBookmaker(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "  ", "Paddy Power", "PSC", "Pinnacl"} {
		if got, ok := resolveBookmaker(in); ok {
			t.Errorf("resolveBookmaker(%q) = %q, want unknown", in, got)
		}
	}
	if l := knownBookmakers(); l[0] != "Pinnacle (PS)" || slices.Contains(l, "the market average (Avg)") {
		t.Errorf("knownBookmakers() = %v", l)
	}
}

// Seasons compare by the year they start, not by their two-digit names:
// a kick-off in 2200 is after a stored 2013/14 season, not before it.
func TestSeasonsAcrossCenturies(t *testing.T) {
	spans := []seasonSpan{{season: "1314", first: time.Date(2013, 8, 17, 0, 0, 0, 0, time.UTC), last: time.Date(2014, 5, 11, 0, 0, 0, 0, time.UTC)}}
	for kickoff, want := range map[time.Time]string{
		time.Date(2014, 9, 1, 0, 0, 0, 0, time.UTC):  "1415",
		time.Date(2099, 9, 1, 0, 0, 0, 0, time.UTC):  "9900",
		time.Date(2200, 9, 1, 0, 0, 0, 0, time.UTC):  "0001",
		time.Date(2014, 3, 1, 0, 0, 0, 0, time.UTC):  "1314",
		time.Date(2012, 10, 1, 0, 0, 0, 0, time.UTC): "1314",
	} {
		if got := seasonOn(spans, kickoff); got != want {
			t.Errorf("%s: season %q, want %q", kickoff.Format("2006-01-02"), got, want)
		}
	}
	if seasonYear(time.Date(2200, 9, 1, 0, 0, 0, 0, time.UTC)) < seasonYear(spans[0].first) {
		t.Error("2200 is before 2013")
	}
}
