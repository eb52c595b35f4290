package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// chromium is Debian's browser (.ci/run installs the chromium package);
// SOCCERPREDICT_CHROMIUM names another.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("SOCCERPREDICT_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("the browser test needs Chromium at %s (apt-get install chromium, or set SOCCERPREDICT_CHROMIUM): %v", path, err)
	}
	return path
}

// seasonOf names the football season (August to July) a day falls in: 2627.
func seasonOf(t time.Time) string {
	y := t.Year()
	if t.Month() < time.August {
		y--
	}
	return fmt.Sprintf("%02d%02d", y%100, (y+1)%100)
}

// shippedCopy is a data directory holding the shipped season files
// (linked), for a test to add files of its own to.
func shippedCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	shipped := testbin.Data()
	comps, _ := os.ReadDir(shipped)
	for _, c := range comps {
		if !c.IsDir() {
			continue
		}
		os.MkdirAll(filepath.Join(dir, c.Name()), 0o755)
		files, _ := filepath.Glob(filepath.Join(shipped, c.Name(), "*.csv"))
		for _, f := range files {
			if err := os.Symlink(f, filepath.Join(dir, c.Name(), filepath.Base(f))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// withFixtures is the shipped data plus a season file of three Premier
// League fixtures next week, with no result yet and Pinnacle's pre-match
// prices on one: what an operator ingests to see upcoming forecasts.
func withFixtures(t *testing.T) (string, []string) {
	dir := shippedCopy(t)
	next := time.Now().AddDate(0, 0, 7)
	season := seasonOf(next)
	if _, err := os.Stat(filepath.Join(dir, "E0", season+".csv")); err == nil {
		t.Fatalf("the shipped data already has season %s", season)
	}
	date := next.Format("02/01/2006")
	csv := "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,PSH,PSD,PSA\n" +
		"E0," + date + ",15:00,Arsenal,Chelsea,,,,1.95,3.80,4.10\n" +
		"E0," + date + ",17:30,Liverpool,Man United,,,,,,\n" +
		"E0," + date + ",20:00,Newcastle,Tottenham,,,,,,\n"
	if err := os.WriteFile(filepath.Join(dir, "E0", season+".csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, []string{"Arsenal", "Liverpool", "Newcastle"}
}

// The page, in headless Chromium against a real serve with API keys on: the
// key is asked for once and kept for the session, a real upcoming fixture
// shows probabilities that sum to 1 with the market beside them, the
// evaluation is drawn, and a promotion reaches the open page without a
// reload. SOCCERPREDICT_SCREENSHOT=FILE also saves the page as a PNG.
func TestWebPageInABrowser(t *testing.T) {
	browser := chromium(t)
	data, homes := withFixtures(t)
	cfg := fullConfig(t, "store: {driver: sqlite}\nserve: {generation_poll: 200ms}\nauth: {required: true}\nmonitor: {refresh: 300ms}")
	dirFlag := "plugins.footballdata.config.dir=" + data
	must(t, cfg, "ingest", "--set", dirFlag)
	must(t, cfg, "models", "train", "--alias", "champion", "--set", "model.params.l2=5")
	out := filepath.Join(t.TempDir(), "ev", "evaluation.json")
	ev := must(t, cfg, "evaluate", "--out", out)
	if !regexp.MustCompile(`(?m)^\s*overall\s+760\s+-\s`).MatchString(ev) {
		t.Errorf("evaluate's overall row gives a training-set size (each season has its own):\n%s", ev)
	}
	// Beside the summary: calibration per outcome, every test match's
	// forecasts, and the plots.
	if !regexp.MustCompile(`(?m)^\s*E0(\s+[+-]\d+\.\d \([+-]\d+\.\d\)){9}\s*$`).MatchString(ev) {
		t.Errorf("no calibration row for E0:\n%s", ev)
	}
	if b, err := os.ReadFile(strings.TrimSuffix(out, ".json") + "-forecasts.csv"); err != nil || strings.Count(string(b), "\n") != 761 {
		t.Errorf("forecasts CSV: %d lines, %v", strings.Count(string(b), "\n"), err)
	}
	for _, png := range []string{"-calibration.png", "-gap.png"} {
		if b, err := os.ReadFile(strings.TrimSuffix(out, ".json") + png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("plot %s: %v", png, err)
		}
	}
	created := must(t, cfg, "keys", "create", "--name", "web", "--scopes", "predict")
	key := regexp.MustCompile(`(?m)^(\S{20,})$`).FindStringSubmatch(created)
	if key == nil {
		t.Fatalf("no key in:\n%s", created)
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	base := startServe(t, ctx, cfg)

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1600))...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	tab, cancelTimeout := context.WithTimeout(tab, 2*time.Minute)
	defer cancelTimeout()

	// Asked for a key once.
	if err := chromedp.Do(tab, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#keyform"),
		chromedp.SendKeys("#key", key[1]), chromedp.Click("#keyform button"),
		chromedp.WaitVisible("#upcoming tbody tr"), chromedp.WaitNotVisible("#keyform")); err != nil {
		t.Fatalf("page with a key: %v", err)
	}
	type row struct {
		Fixture, Home, Draw, Away, Version, Generation, Text string
	}
	readRows := `[...document.querySelectorAll("#upcoming tbody tr")].map(r => ({Fixture: r.dataset.fixture, Home: r.dataset.home,
		Draw: r.dataset.draw, Away: r.dataset.away, Version: r.dataset.version, Generation: r.dataset.generation, Text: r.innerText}))`
	rows, err := chromedp.Run(tab, chromedp.Evaluate[[]row](readRows))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(homes) {
		t.Fatalf("upcoming rows %+v, want the %d fixtures ingested", rows, len(homes))
	}
	for i, r := range rows {
		var h, d, a float64
		fmt.Sscan(r.Home+" "+r.Draw+" "+r.Away, &h, &d, &a)
		if math.Abs(h+d+a-1) > 1e-6 || h <= 0 || d <= 0 || a <= 0 || !strings.Contains(r.Text, homes[i]) || r.Version != "1" || r.Generation != "1" {
			t.Errorf("upcoming row %d: %+v (sum %v)", i, r, h+d+a)
		}
	}
	if !strings.Contains(rows[0].Text, "edge") && !regexp.MustCompile(`[+−]\d`).MatchString(rows[0].Text) {
		t.Errorf("the fixture with odds shows no market comparison: %q", rows[0].Text)
	}
	if !strings.Contains(rows[1].Text, "no odds") {
		t.Errorf("a fixture without odds: %q", rows[1].Text)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible("#reliability svg"), chromedp.WaitVisible("#rps svg")); err != nil {
		t.Fatalf("no evaluation plots: %v", err)
	}
	recent, err1 := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#recent tbody tr").length`))
	plots, err2 := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#reliability circle, #rps rect").length`))
	generation, err3 := chromedp.Run(tab, chromedp.Text("#generation"))
	summary, err4 := chromedp.Run(tab, chromedp.Text("#evaluation-summary"))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	if recent == 0 || plots < 6 || generation != "1" || !strings.Contains(summary, "2223, 2324") {
		t.Fatalf("recent rows %d, plot marks %d, generation %q, evaluation %q", recent, plots, generation, summary)
	}

	// A promotion reaches the open page.
	must(t, cfg, "models", "train")
	must(t, cfg, "models", "challenge")
	must(t, cfg, "models", "promote", "--force", "--reason", "browser test")
	if err := chromedp.Do(tab, chromedp.WaitVisible(`#upcoming tbody tr[data-generation="2"]`)); err != nil {
		t.Fatalf("the page did not follow the promotion: %v", err)
	}
	generation, err1 = chromedp.Run(tab, chromedp.Text("#generation"))
	promoted, err2 := chromedp.Run(tab, chromedp.Text("#promotions tbody tr:first-child"))
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if generation != "2" || !strings.Contains(promoted, "v1 → v2") || !strings.Contains(promoted, "browser test") {
		t.Fatalf("after promotion: generation %q, newest promotion %q", generation, promoted)
	}
	if rows, err = chromedp.Run(tab, chromedp.Evaluate[[]row](readRows)); err != nil || rows[0].Version != "2" {
		t.Fatalf("rows after promotion %+v, %v", rows, err)
	}

	// The key is kept for the session: a reload asks for nothing.
	if err := chromedp.Do(tab, chromedp.Reload(), chromedp.WaitVisible("#upcoming tbody tr")); err != nil {
		t.Fatalf("after reload: %v", err)
	}
	if asked, err := chromedp.Run(tab, chromedp.Evaluate[bool](`!document.querySelector("#keyform").hidden`)); err != nil || asked {
		t.Fatalf("after reload: asked for the key again %v, %v", asked, err)
	}
	// No recent match was forecast before its kick-off by this server, so
	// the recent results say they are replays; the live-quality panel
	// lists the versions whose forecasts the page's loads logged.
	if replay, err := chromedp.Run(tab, chromedp.Evaluate[bool](`!document.querySelector("#recent-note").hidden`)); err != nil || !replay {
		t.Fatalf("recent results not marked as replays: %v, %v", replay, err)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(`#monitoring tbody tr[data-version="2"]`)); err != nil {
		t.Fatalf("no live-quality row for v2: %v", err)
	}
	if summary, err := chromedp.Run(tab, chromedp.Text("#monitoring-summary")); err != nil || !strings.Contains(summary, "forecasts of 3 fixtures logged") {
		t.Fatalf("live-quality summary %q, %v", summary, err)
	}

	if out := os.Getenv("SOCCERPREDICT_SCREENSHOT"); out != "" {
		if err := chromedp.Do(tab, chromedp.WaitVisible("#rps svg")); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// `batch predict` writes the store's scheduled fixtures, forecast by the
// serving champion, with the market beside the one that has odds.
func TestBatchPredictForecastsUpcomingFixtures(t *testing.T) {
	data, homes := withFixtures(t)
	cfg := fullConfig(t, "store: {driver: sqlite}")
	if code, _, errs := run(t, nil, "batch", "predict", "--config", cfg); code != 2 || !strings.Contains(errs, "needs --out") {
		t.Fatalf("without --out: %d %s", code, errs)
	}
	must(t, cfg, "ingest", "--set", "plugins.footballdata.config.dir="+data)
	trained := must(t, cfg, "models", "train", "--alias", "champion")
	n := regexp.MustCompile(`trained on (\d+) matches \((\d+) training rows`).FindStringSubmatch(trained)
	if n == nil {
		t.Fatalf("train does not say how many matches and rows: %s", trained)
	}
	// The figures people read: matches (not the plugin's rows), in-sample
	// marked as such, every alias, and who did it even without $USER.
	if code, _, errs := run(t, nil, "models", "train", "--config", cfg); code != 0 { // no $USER, no SOCCERPREDICT_ACTOR
		t.Fatalf("train as candidate: %s", errs)
	}
	me, _ := user.Current()
	audit := must(t, cfg, "models", "audit")
	if !regexp.MustCompile(`register\s+` + regexp.QuoteMeta(me.Username) + `\s+candidate`).MatchString(audit) {
		t.Errorf("the audit names no actor without $USER (want %s):\n%s", me.Username, audit)
	}
	list := must(t, cfg, "models", "list")
	if !strings.Contains(list, "MATCHES") || !regexp.MustCompile(`(?m)^1 .*\s`+n[1]+`\s.*champion$`).MatchString(list) ||
		!regexp.MustCompile(`(?m)^2 .*candidate$`).MatchString(list) || strings.Contains(list, " "+n[2]+" ") {
		t.Errorf("models list (trained on %s matches, %s rows):\n%s", n[1], n[2], list)
	}
	runs := must(t, cfg, "runs", "list")
	if !regexp.MustCompile(`train\s.*\s`+n[1]+`\s+\d\.\d{4} in-sample\s+-\s`).MatchString(runs) || strings.Contains(runs, "0.0000") {
		t.Errorf("runs list:\n%s", runs)
	}
	out := filepath.Join(t.TempDir(), "forecasts", "upcoming.csv")
	if got := must(t, cfg, "batch", "predict", "--out", out); !strings.Contains(got, "3 upcoming fixtures forecast by onnx-logreg v1 (generation 1)") {
		t.Fatalf("batch predict: %s", got)
	}
	// A competition with nothing scheduled (as the shipped data has none)
	// says so and how to get fixtures, beside a CSV with its header alone.
	empty := filepath.Join(t.TempDir(), "none.csv")
	if got := must(t, cfg, "batch", "predict", "--competition", "D1", "--out", empty); !strings.Contains(got, "no upcoming fixtures: the store has no scheduled match of D1") ||
		!strings.Contains(got, "rows of a season file without a result") {
		t.Fatalf("batch predict with nothing scheduled: %s", got)
	}
	if b, err := os.ReadFile(empty); err != nil || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("empty forecasts CSV: %q %v", b, err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("forecasts CSV: %v, %v", rows, err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for i, r := range rows[1:] {
		var h, d, a float64
		fmt.Sscan(r[col["p_home"]]+" "+r[col["p_draw"]]+" "+r[col["p_away"]], &h, &d, &a)
		if math.Abs(h+d+a-1) > 1e-9 || r[col["home_team"]] != homes[i] || r[col["model_version"]] != "1" || r[col["generation"]] != "1" {
			t.Errorf("row %d: %v", i, r)
		}
		if priced := r[col["market_home"]] != ""; priced != (i == 0) {
			t.Errorf("row %d market columns %v (only the first fixture has odds)", i, r)
		}
	}
}
