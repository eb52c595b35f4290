package ingest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/pgtest"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/store/pgstore"
	"github.com/soccerpredict/soccerpredict/host/internal/store/sqlitestore"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// shippedRows is the number of data rows in the 25 shipped files (PROVENANCE.md).
const shippedRows = 4180 + 1104 + 1224 + 1520 + 1520

// footballdata launches the real plugin binary under a plugin host.
func footballdata(t testing.TB, settings map[string]any) (source.Source, *pluginhost.Plugin) {
	t.Helper()
	bin := testbin.Plugin(t, "source", "footballdata")
	h, err := pluginhost.New(map[string]config.Plugin{"footballdata": {Kind: "source", Path: bin, SHA256: testbin.Digest(t, bin),
		Timeout: time.Minute, StartTimeout: 20 * time.Second, Config: settings}},
		hclog.New(&hclog.LoggerOptions{Output: io.Discard}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	p, _ := h.Plugin("footballdata")
	return pluginhost.SourceOf(p), p
}

func runner(t testing.TB, s store.Store) Runner {
	t.Helper()
	suite, err := LoadSuite(testbin.Expectations())
	if err != nil {
		t.Fatal(err)
	}
	return Runner{Store: s, Suite: suite, ValidationDir: filepath.Join(t.TempDir(), "validations")}
}

func sqlite(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func postgres(t testing.TB) store.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Every shipped file, into both stores: the same counts, equal to the data
// rows, and a second ingest that changes nothing.
func TestShippedDataIntoBothStores(t *testing.T) {
	src, _ := footballdata(t, map[string]any{"dir": testbin.Data()})
	counts := map[string]int{}
	for name, open := range map[string]func(testing.TB) store.Store{"sqlite": sqlite, "postgres": postgres} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			r := runner(t, s)
			first, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src})
			if err != nil {
				t.Fatal(err)
			}
			if first.Files != 25 || first.Read != shippedRows || first.Applied != (store.Applied{Loaded: shippedRows}) || first.DroppedStats != 2 {
				t.Fatalf("first ingest: %v", first)
			}
			// The publisher has two matches with more shots on target than
			// shots: they load with their results, without statistics; the
			// others keep theirs.
			ms, err := s.Matches(context.Background(), store.MatchQuery{Competition: "E0", Season: "2122", Limit: 12})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				bad := m.ID == "e0-2122-newcastle-v-west-ham"
				if (m.Stats == (soccer.Stats{})) != bad || (bad && (m.Result != soccer.AwayWin || m.AwayGoals != 4)) {
					t.Fatalf("%s: %s %d-%d, statistics %+v", m.ID, m.Result, m.HomeGoals, m.AwayGoals, m.Stats)
				}
			}
			n, err := s.CountMatches(context.Background(), store.MatchQuery{})
			if err != nil {
				t.Fatal(err)
			}
			counts[name] = n
			second, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src})
			if err != nil {
				t.Fatal(err)
			}
			if second.Applied != (store.Applied{Unchanged: shippedRows}) {
				t.Fatalf("second ingest: %v, want 0 loaded, 0 updated", second)
			}
			results, _ := filepath.Glob(filepath.Join(first.Validations, "footballdata", "*", "*.csv.json"))
			if len(results) != 25 {
				t.Fatalf("%d validation results, want one per file", len(results))
			}
			runs, _ := s.Runs(context.Background(), 10)
			if len(runs) != 2 || runs[0].Error != "" || runs[0].Applied.Unchanged != shippedRows {
				t.Fatalf("recorded runs %+v", runs)
			}
		})
	}
	if counts["sqlite"] != shippedRows || counts["postgres"] != shippedRows {
		t.Fatalf("match counts %v, want %d in both", counts, shippedRows)
	}
}

const brokenFile = "\xef\xbb\xbfDiv,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,PSH,PSD,PSA,PSCH,PSCD,PSCA\r\n" +
	"E0,11/08/2023,20:00,Burnley,Man City,0,3,A,8.5,5.5,1.37,9.62,5.81,1.33\r\n" +
	"E0,12/08/2023,12:30,Arsenal,Nott'm Forest,two,1,H,1.2,7,15,1.18,7.5,17\r\n" +
	"E0,12/08/2023,15:00,Everton,Everton,0,1,A,2.5,3.3,3,2.5,3.3,3\r\n" +
	"E0,12/08/2023,15:00,Brighton,Luton,4,1,H,1.3,6,0.9,1.3,6,9\r\n" +
	"E0,12/08/2023,17:30,Bournemouth,West Ham,1,1,D,2.6,3.5,2.7,2.6,3.5,2.7\r\n" +
	"E0,12/08/2023,15:00,Sheffield United,Crystal Palace,0,1,A,3.1,n/a,2.4,3.0,3.4,2.5\r\n" +
	",,,,,,,,,,,,,\r\n"

func TestBrokenRowsAndBOMAreQuarantinedNotLost(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "E0"), 0o755)
	os.WriteFile(filepath.Join(dir, "E0", "2324.csv"), []byte(brokenFile), 0o644)
	src, _ := footballdata(t, map[string]any{"dir": dir})
	s := sqlite(t)
	sum, err := runner(t, s).Run(context.Background(), Source{Name: "footballdata", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	// Brighton v Luton (a price of 0.9) and Sheffield United v Palace (a
	// price "n/a") keep their results; only the bad quotes go.
	if sum.Read != 6 || sum.Applied.Loaded != 4 || sum.Applied.Quarantined != 2 || sum.Unreadable != 1 || sum.FailedBatches != 1 || sum.DroppedQuotes != 2 {
		t.Fatalf("summary %v (failed batches %d)", sum, sum.FailedBatches)
	}
	q, err := s.Quarantined(context.Background(), store.QuarantineQuery{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[int]string{}
	for _, r := range q {
		reasons[r.Line] = strings.Join(r.Reasons, "; ")
		if r.Raw == "" {
			t.Errorf("line %d lost its raw row", r.Line)
		}
	}
	for line, want := range map[int]string{
		3: `unreadable: E0/2324.csv:3: column FTHG: "two" is not a whole number of goals`,
		4: "expect_select_column_values_to_be_unique_within_record",
	} {
		if !strings.Contains(reasons[line], want) {
			t.Errorf("line %d quarantined for %q, want %q", line, reasons[line], want)
		}
	}
	if len(q) != 2 {
		t.Errorf("quarantined %+v, want the unreadable score and the team playing itself", q)
	}
	ms, _ := s.Matches(context.Background(), store.MatchQuery{})
	if len(ms) != 4 {
		t.Fatalf("%d matches loaded, want Burnley v Man City, Brighton v Luton, Bournemouth v West Ham, Sheffield United v Palace", len(ms))
	}
	for _, m := range ms {
		_, pre := m.OddsOf("PS", false)
		_, closing := m.OddsOf("PS", true)
		bad := m.HomeTeam == "Brighton" || m.HomeTeam == "Sheffield United"
		if pre == bad || !closing || m.Status != soccer.Finished {
			t.Errorf("%s v %s: pre-match quote kept %v, closing %v (%+v)", m.HomeTeam, m.AwayTeam, pre, closing, m.Odds)
		}
	}
	// The validation result of the prices names what was dropped.
	b, err := os.ReadFile(filepath.Join(sum.Validations, "footballdata", "E0", "2324.csv.prices.json"))
	if err != nil || !strings.Contains(string(b), "0.9") || !strings.Contains(string(b), `"success": false`) {
		t.Fatalf("prices validation result: %v\n%s", err, b)
	}
}

func TestRevisedFileUpdatesChangedRowsAndRecordsIt(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "E0"), 0o755)
	orig, err := os.ReadFile(filepath.Join(testbin.Data(), "E0", "2122.csv"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "E0", "2122.csv")
	os.WriteFile(path, orig, 0o644)
	src, _ := footballdata(t, map[string]any{"dir": dir})
	s := sqlite(t)
	r := runner(t, s)
	if _, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src}); err != nil {
		t.Fatal(err)
	}
	// The publisher's silent revision: a BOM added and one score corrected.
	lines := strings.Split(string(orig), "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "E0,10/03/2022,") && strings.Contains(l, ",Wolves,Watford,") {
			f := strings.Split(l, ",")
			f[5], f[7] = "5", "H"
			lines[i] = strings.Join(f, ",")
		}
	}
	os.WriteFile(path, append([]byte("\xef\xbb\xbf"), strings.Join(lines, "\r\n")...), 0o644)
	sum, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Applied != (store.Applied{Updated: 1, Unchanged: 379}) {
		t.Fatalf("after revision: %v", sum)
	}
	revs, _ := s.Revisions(context.Background(), "e0-2122-wolves-v-watford")
	if len(revs) != 1 || revs[0].Changed[0] != "score" || revs[0].After.HomeGoals != 5 || revs[0].RunID != sum.RunID {
		t.Fatalf("revisions %+v", revs)
	}
}

// The source plugin is killed mid-fetch: the ingest fails naming the plugin,
// nothing is half-written, and the next ingest (relaunching the plugin)
// completes with nothing duplicated.
func TestPluginKilledMidRun(t *testing.T) {
	arrived := make(chan struct{}, 8)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if parts[2] == "E1.csv" { // the second file: hold it until the plugin is dead
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		http.ServeFile(w, r, filepath.Join(testbin.Data(), strings.TrimSuffix(parts[2], ".csv"), parts[1]+".csv"))
	}))
	defer srv.Close()
	src, p := footballdata(t, map[string]any{"base_url": srv.URL, "competitions": []string{"E0", "E1"}, "seasons": []string{"2324"}})
	s := postgres(t)
	r := runner(t, s)

	errc := make(chan error, 1)
	go func() {
		_, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src})
		errc <- err
	}()
	<-arrived
	// The first file is committed as soon as it has arrived whole: kill the
	// plugin once it is, half-way through the fetch.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := s.CountMatches(context.Background(), store.MatchQuery{}); n == 380 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first file was not committed while the second was being fetched")
		}
	}
	pid := p.Status().PID
	syscall.Kill(pid, syscall.SIGKILL)
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), `plugin "footballdata"`) {
		t.Fatalf("ingest with a killed plugin: err = %v", err)
	}
	// The file finished before the kill is kept, whole; nothing of the other.
	if n, _ := s.CountMatches(context.Background(), store.MatchQuery{}); n != 380 {
		t.Fatalf("%d matches written by a fetch killed after its first file, want that file's 380", n)
	}
	runs, _ := s.Runs(context.Background(), 1)
	if len(runs) != 1 || !strings.Contains(runs[0].Error, "footballdata") {
		t.Fatalf("the failed run was not recorded: %+v", runs)
	}
	close(release)
	for i := range 2 { // the first run resumes (the kept file unchanged), the second changes nothing
		sum, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src})
		if err != nil {
			t.Fatalf("ingest after relaunch: %v", err)
		}
		want := store.Applied{Loaded: 552, Unchanged: 380}
		if i == 1 {
			want = store.Applied{Unchanged: 380 + 552}
		}
		if sum.Read != 380+552 || sum.Applied != want {
			t.Fatalf("run %d: summary %v, want %+v", i, sum, want)
		}
	}
	if n, _ := s.CountMatches(context.Background(), store.MatchQuery{}); n != 380+552 {
		t.Fatalf("%d matches after the relaunched ingests, want %d", n, 380+552)
	}
	if st := p.Status(); st.Launches != 2 || st.PID == pid {
		t.Fatalf("status %+v, want one relaunch", st)
	}
}

// The shipped contract loads; one naming a table ingestion does not have
// (a misspelt "price") is refused rather than silently never evaluated.
func TestLoadSuiteRefusesUnknownTables(t *testing.T) {
	if _, err := LoadSuite(testbin.Expectations()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "suite.json")
	os.WriteFile(path, []byte(`{"name": "x", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "price"}, "meta": {"table": "price"}}]}`), 0o644)
	if _, err := LoadSuite(path); err == nil || !strings.Contains(err.Error(), `meta.table "price"`) {
		t.Fatalf("a suite with table %q: %v", "price", err)
	}
}

func TestFileOfAnOrigin(t *testing.T) {
	known := func(name string) bool { return name == "data/a:b.json" }
	for origin, want := range map[string]string{
		"E0/2324.csv:17":       "E0/2324.csv",
		"matches.json[3]":      "matches.json",
		"data/a:b.json[0]":     "data/a:b.json", // a listed file wins over the colon rule
		"https://x/E0.csv:2":   "https://x/E0.csv",
		"plain":                "plain",
		"dir/list.json[2]:sub": "dir/list.json[2]",
	} {
		if got := FileOf(origin, known); got != want {
			t.Errorf("FileOf(%q) = %q, want %q", origin, got, want)
		}
	}
}

// progress records what a Runner tells its Progress.
type progress struct{ starts, added []int }

func (p *progress) Start(total int, _ string) { p.starts = append(p.starts, total) }
func (p *progress) Add(n int)                 { p.added = append(p.added, n) }
func (p *progress) Finish()                   {}

// A source's file count is known only at its end: a first ingest shows
// progress without a total, a later one expects the last complete run's
// count (so a terminal can show an ETA).
func TestProgressExpectsTheLastRunsFiles(t *testing.T) {
	src, _ := footballdata(t, map[string]any{"dir": testbin.Data()})
	r := runner(t, sqlite(t))
	p := &progress{}
	r.Progress = p
	for range 2 {
		if _, err := r.Run(context.Background(), Source{Name: "footballdata", Source: src}); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.starts) != 2 || p.starts[0] != -1 || p.starts[1] != 25 || len(p.added) != 50 {
		t.Fatalf("progress started with %v, heard %d files", p.starts, len(p.added))
	}
}
