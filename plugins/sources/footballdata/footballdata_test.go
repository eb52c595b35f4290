package footballdata

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/plugin/plugintest"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/source/sourcetest"
)

// shipped is the repository's copy of the publisher's files.
const shipped = "../../../data/football-data"

// publisher serves shipped files in the publisher's URL layout, /mmz4281/{season}/{DIV}.csv.
func publisher(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) != 3 || parts[0] != "mmz4281" {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(shipped, strings.TrimSuffix(parts[2], ".csv"), parts[1]+".csv"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// env is the plugin.Env the host would give for these settings.
func env(t testing.TB, settings any) plugin.Env { return plugintest.Env(t, "footballdata", settings) }

func TestConformanceOverHTTP(t *testing.T) {
	srv := publisher(t)
	sourcetest.Run(t, New, sourcetest.Options{
		Settings:   map[string]any{"base_url": srv.URL, "competitions": []string{"E0", "D1"}, "seasons": []string{"2223", "2324"}},
		MinMatches: 2*380 + 2*306,
	})
}

func TestConformanceFromDirectory(t *testing.T) {
	sourcetest.Run(t, New, sourcetest.Options{
		Settings:   map[string]any{"dir": shipped},
		Request:    source.FetchRequest{Competitions: []string{"SP1"}},
		MinMatches: 1520,
	})
}

// Every shipped file parses completely: one match per data row, no rejects.
func TestEveryShippedFileParses(t *testing.T) {
	src, err := New(context.Background(), env(t, map[string]any{"dir": shipped}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := source.Collect(context.Background(), src, source.FetchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Files) != 25 {
		t.Fatalf("read %d files, want the 25 shipped", len(resp.Files))
	}
	rows := 0
	for _, f := range resp.Files {
		rows += f.Rows
	}
	if len(resp.Rejects) != 0 {
		t.Fatalf("%d rejects in the shipped files, first: %v", len(resp.Rejects), resp.Rejects[0])
	}
	// PROVENANCE.md: 4,180 + 1,104 + 1,224 + 1,520 + 1,520 matches.
	if want := 4180 + 1104 + 1224 + 1520 + 1520; len(resp.Matches) != want || rows != want {
		t.Fatalf("%d matches from %d data rows, want %d", len(resp.Matches), rows, want)
	}
}

func TestQuirks(t *testing.T) {
	src, err := New(context.Background(), env(t, map[string]any{"dir": shipped}))
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(comp, season string) []soccer.Match {
		t.Helper()
		resp, err := source.Collect(context.Background(), src, source.FetchRequest{Competitions: []string{comp}, Seasons: []string{season}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Matches
	}
	find := func(ms []soccer.Match, id string) soccer.Match {
		t.Helper()
		for _, m := range ms {
			if m.ID == id {
				return m
			}
		}
		t.Fatalf("no match %s", id)
		return soccer.Match{}
	}

	t.Run("two-digit years and no Time column", func(t *testing.T) {
		m := find(fetch("E0", "1314"), "e0-1314-arsenal-v-aston-villa")
		want := time.Date(2013, 8, 17, 14, 0, 0, 0, time.UTC) // 15:00 BST
		if !m.Kickoff.Equal(want) || m.KickoffTimeKnown {
			t.Fatalf("kick-off %v known=%v, want %v unknown", m.Kickoff, m.KickoffTimeKnown, want)
		}
		if m.HomeGoals != 1 || m.AwayGoals != 3 || m.Result != soccer.AwayWin {
			t.Fatalf("score %d-%d %s", m.HomeGoals, m.AwayGoals, m.Result)
		}
	})
	t.Run("UK kick-off time to UTC", func(t *testing.T) {
		m := find(fetch("E0", "2324"), "e0-2324-burnley-v-man-city")
		if want := time.Date(2023, 8, 11, 19, 0, 0, 0, time.UTC); !m.Kickoff.Equal(want) || !m.KickoffTimeKnown {
			t.Fatalf("kick-off %v, want %v", m.Kickoff, want)
		}
		psc, ok := m.OddsOf("PS", true)
		if !ok || psc.Home != 9.62 || psc.Draw != 5.81 || psc.Away != 1.33 {
			t.Fatalf("Pinnacle closing odds %+v ok=%v", psc, ok)
		}
		// Burnley 0-3 Man City: half time 0-2, shots 6-17, on target 1-8,
		// fouls 11-8, corners 6-5, yellow cards 0-0, red cards 1-0.
		want := soccer.Stats{Shots: soccer.Counted(6, 17), ShotsOnTarget: soccer.Counted(1, 8), Corners: soccer.Counted(6, 5),
			Fouls: soccer.Counted(11, 8), YellowCards: soccer.Counted(0, 0), RedCards: soccer.Counted(1, 0), HalfTimeGoals: soccer.Counted(0, 2)}
		if m.Stats != want {
			t.Fatalf("statistics %+v, want %+v", m.Stats, want)
		}
		if ps, ok := m.OddsOf("PS", false); !ok || ps.Home != 8.58 {
			t.Fatalf("Pinnacle pre-match odds %+v ok=%v", ps, ok)
		}
		if _, ok := m.OddsOf("AH", false); ok {
			t.Fatal("Asian handicap columns were read as 1X2 odds")
		}
	})
	t.Run("blank trailing row", func(t *testing.T) {
		if n := len(fetch("E0", "1415")); n != 380 {
			t.Fatalf("%d matches, want 380", n)
		}
	})
	t.Run("missing odds are absent, not zero", func(t *testing.T) {
		missing := 0
		for _, m := range fetch("D1", "1819") {
			if _, ok := m.OddsOf("PS", true); !ok {
				missing++
			}
		}
		if missing != 1 {
			t.Fatalf("%d matches without Pinnacle closing odds, want 1", missing)
		}
	})
	t.Run("apostrophes in team names", func(t *testing.T) {
		m := find(fetch("E0", "2324"), "e0-2324-arsenal-v-nottm-forest")
		if m.AwayTeam != "Nott'm Forest" {
			t.Fatalf("away team %q", m.AwayTeam)
		}
	})
}

// VC Bet's columns are VCH/VCD/VCA (pre-match) and VCCH/VCCD/VCCA
// (closing): a trailing C is closing only when the rest is a bookmaker.
func TestVCBetIsPreMatchAndItsClosingIsVCC(t *testing.T) {
	data := "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,VCH,VCD,VCA,VCCH,VCCD,VCCA,PSCH,PSCD,PSCA,MaxCH,MaxCD,MaxCA\n" +
		"E0,11/08/2023,Burnley,Man City,0,3,A,8.0,5.25,1.36,9.0,5.5,1.33,9.62,5.81,1.33,10,6,1.4\n"
	got, err := parseSeason("E0/2324.csv", "2324", []byte(data))
	if err != nil || len(got.matches) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
	m := got.matches[0]
	for _, c := range []struct {
		bookmaker string
		closing   bool
		home      float64
	}{{"VC", false, 8.0}, {"VC", true, 9.0}, {"PS", true, 9.62}, {"Max", true, 10}} {
		if o, ok := m.OddsOf(c.bookmaker, c.closing); !ok || o.Home != c.home {
			t.Errorf("%s closing=%v: %+v %v, want home %v", c.bookmaker, c.closing, o, ok, c.home)
		}
	}
	if _, ok := m.OddsOf("V", true); ok || len(m.Odds) != 4 {
		t.Errorf("odds %+v: VC Bet read as a bookmaker V", m.Odds)
	}
}

func TestBrokenRowsAreRejectedWithFileLineAndColumn(t *testing.T) {
	data := "\xef\xbb\xbfDiv,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,PSH,PSD,PSA\r\n" +
		"E0,11/08/2023,20:00,Burnley,Man City,0,3,A,8.5,5.5,1.37\r\n" +
		"E0,12/08/2023,12:30,Arsenal,Nott'm Forest,two,1,H,1.2,7,15\r\n" +
		"E0,31/02/2023,15:00,Bournemouth,West Ham,1,1,D,,,\r\n" +
		"E0,12/08/2023,15:00,Brighton,Luton,4,1,H,1.3,x,9\r\n" +
		"E0,12/08/2023,15:00,Everton,Fulham,0,1\r\n" +
		",,,,,,,,,,\r\n"
	got, err := parseSeason("E0/2324.csv", "2324", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.matches) != 2 || got.matches[0].HomeTeam != "Burnley" || got.matches[1].HomeTeam != "Brighton" {
		t.Fatalf("matches %+v, want Burnley v Man City (the BOM must not hide Div) and Brighton v Luton", got.matches)
	}
	// One unreadable price keeps the match and its result; the price is NaN,
	// for the host's data contract to drop the quote with a warning.
	if b := got.matches[1]; b.Result != soccer.HomeWin || len(b.Odds) != 1 || !math.IsNaN(b.Odds[0].Draw) || b.Odds[0].Home != 1.3 {
		t.Fatalf("Brighton v Luton with an unreadable draw price: %+v", b)
	}
	want := []string{
		`E0/2324.csv:3: column FTHG: "two" is not a whole number of goals`,
		`E0/2324.csv:4: column Date: "31/02/2023" is not a date like 17/08/2013 or 17/08/13`,
		`E0/2324.csv:6: row has 7 fields, the header has 11`,
	}
	if len(got.rejects) != len(want) {
		t.Fatalf("rejects %v, want %d", got.rejects, len(want))
	}
	for i, w := range want {
		if got.rejects[i].Error() != w {
			t.Errorf("reject %d = %q, want %q", i, got.rejects[i].Error(), w)
		}
		if got.rejects[i].Raw == "" {
			t.Errorf("reject %d lost its raw row", i)
		}
	}
	if got.rows != 5 || len(got.matches)+len(got.rejects) != 5 {
		t.Errorf("rows = %d, want 5 (the blank row is not data)", got.rows)
	}
}

// Statistics are optional: a pair of empty cells is unknown, a file
// without the columns has none, and a cell that is not a whole number
// rejects the row naming its column.
func TestStatistics(t *testing.T) {
	data := "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HS,AS,HST,AST\n" +
		"E0,11/08/2023,Burnley,Man City,0,3,A,0,2,6,17,,\n" +
		"E0,12/08/2023,Arsenal,Everton,1,0,H,1,0,12,x,3,1\n" +
		"E0,13/08/2023,Chelsea,Luton,,,,,,,,,\n"
	got, err := parseSeason("E0/2324.csv", "2324", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.matches) != 2 || len(got.rejects) != 1 {
		t.Fatalf("matches %+v rejects %v", got.matches, got.rejects)
	}
	b := got.matches[0]
	if b.Stats.Shots != soccer.Counted(6, 17) || b.Stats.HalfTimeGoals != soccer.Counted(0, 2) || b.Stats.ShotsOnTarget.Known || b.Stats.Corners.Known {
		t.Fatalf("Burnley v Man City statistics %+v", b.Stats)
	}
	if got.matches[1].Stats != (soccer.Stats{}) {
		t.Fatalf("a scheduled match has statistics %+v", got.matches[1].Stats)
	}
	if w := `E0/2324.csv:3: column AS: "x" is not a whole number (shots)`; got.rejects[0].Error() != w {
		t.Fatalf("reject %q, want %q", got.rejects[0].Error(), w)
	}
}

func TestMissingRequiredColumnIsAFileError(t *testing.T) {
	_, err := parseSeason("X/2324.csv", "2324", []byte("Div,Date,HomeTeam,FTHG,FTAG,FTR\n"))
	if err == nil || !strings.Contains(err.Error(), "X/2324.csv") || !strings.Contains(err.Error(), "AwayTeam") {
		t.Fatalf("err = %v, want it to name the file and the AwayTeam column", err)
	}
}

func TestHTTPErrorsNameTheURL(t *testing.T) {
	srv := publisher(t)
	src, err := New(context.Background(), env(t, map[string]any{"base_url": srv.URL}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = source.Collect(context.Background(), src, source.FetchRequest{Competitions: []string{"E0"}, Seasons: []string{"9900"}})
	if err == nil || !strings.Contains(err.Error(), "/mmz4281/9900/E0.csv") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want a 404 naming the URL", err)
	}
}

func TestBadSettings(t *testing.T) {
	for _, s := range []map[string]any{
		{},
		{"dir": "x", "base_url": "http://x"},
		{"base_url": "ftp://x"},
		{"dir": "x", "seasons": []string{"2023/24"}},
		{"dir": "x", "colour": "red"},
	} {
		if _, err := New(context.Background(), env(t, s)); err == nil {
			t.Errorf("settings %v accepted", s)
		}
	}
	if _, err := os.Stat(shipped); err != nil {
		t.Fatal(err)
	}
}

func TestMatchIDIsStable(t *testing.T) {
	if got := soccer.MatchID("E0", "2324", "Nott'm Forest", "Man United"); got != "e0-2324-nottm-forest-v-man-united" {
		t.Fatalf("MatchID = %q", got)
	}
}

// The shipped files are the pinned bytes.
func TestShippedFilesMatchTheirSums(t *testing.T) {
	sums, err := os.ReadFile(filepath.Join(shipped, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		want, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", line)
		}
		b, err := os.ReadFile(filepath.Join(shipped, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != want {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %s", name, got, want)
		}
		n++
	}
	if n != 26 {
		t.Fatalf("%d files checked, want the 25 season files and notes.txt", n)
	}
}
