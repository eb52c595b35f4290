package openfootball

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// shipped is the repository's copy of four openfootball files.
var shipped = filepath.Join("..", "..", "..", "data", "openfootball")

// env is the plugin.Env the host would give for these settings.
func env(t testing.TB, settings any) plugin.Env { return plugintest.Env(t, "openfootball", settings) }

func fetch(t *testing.T, settings map[string]any, req source.FetchRequest) source.FetchResponse {
	t.Helper()
	src, err := New(context.Background(), env(t, settings))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := source.Collect(context.Background(), src, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// publisher serves the shipped files as the publisher's raw file host does:
// the recorded responses of https://raw.githubusercontent.com/openfootball/football.json/master/.
func publisher(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/openfootball/football.json/master/", http.StripPrefix("/openfootball/football.json/master/", http.FileServer(http.Dir(shipped))))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/openfootball/football.json/master"
}

func TestShippedFilesMatchTheirSums(t *testing.T) {
	f, err := os.Open(filepath.Join(shipped, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		sum, name, _ := strings.Cut(sc.Text(), "  ")
		b, err := os.ReadFile(filepath.Join(shipped, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s does not match SHA256SUMS", name)
		}
	}
	if n != 4 {
		t.Fatalf("SHA256SUMS lists %d files, want 4", n)
	}
}

func TestConformance(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		sourcetest.Run(t, New, sourcetest.Options{Settings: map[string]any{"dir": shipped, "strict_teams": true}, MinMatches: 1372})
	})
	t.Run("recorded responses over HTTP", func(t *testing.T) {
		settings := map[string]any{"base_url": publisher(t), "competitions": []string{"E0", "D1"}, "seasons": []string{"2223", "2324"}, "strict_teams": true}
		sourcetest.Run(t, New, sourcetest.Options{Settings: settings, MinMatches: 1372})
	})
}

// The files' names and local times become football-data.co.uk's names and
// UTC, so a match has the ID the other source gives it.
func TestMatchesAreInTheCanonicalForm(t *testing.T) {
	resp := fetch(t, map[string]any{"base_url": publisher(t), "strict_teams": true},
		source.FetchRequest{Competitions: []string{"E0", "D1"}, Seasons: []string{"2324"}})
	if len(resp.Matches) != 380+306 || len(resp.Rejects) != 0 || len(resp.Files) != 2 {
		t.Fatalf("%d matches, %d rejects, %d files", len(resp.Matches), len(resp.Rejects), len(resp.Files))
	}
	byID := map[string]soccer.Match{}
	for _, m := range resp.Matches {
		byID[m.ID] = m
	}
	// Burnley 0-3 Manchester City FC, 2023-08-11 20:00 in London (BST).
	m, ok := byID["e0-2324-burnley-v-man-city"]
	if !ok || m.HomeTeam != "Burnley" || m.AwayTeam != "Man City" || m.Result != soccer.AwayWin || m.HomeGoals != 0 || m.AwayGoals != 3 ||
		!m.Kickoff.Equal(time.Date(2023, 8, 11, 19, 0, 0, 0, time.UTC)) || !m.KickoffTimeKnown || m.Origin != "2023-24/en.1.json:matches[0]" {
		t.Fatalf("Burnley v Man City: %+v", m)
	}
	// SV Werder Bremen 0-4 FC Bayern München, 2023-08-18 20:30 in Berlin (CEST).
	m, ok = byID["d1-2324-werder-bremen-v-bayern-munich"]
	if !ok || !m.Kickoff.Equal(time.Date(2023, 8, 18, 18, 30, 0, 0, time.UTC)) || m.Result != soccer.AwayWin {
		t.Fatalf("Werder Bremen v Bayern Munich: %+v", m)
	}
	if _, ok := byID["e0-2324-nottm-forest-v-man-united"]; !ok {
		t.Fatalf("Nottingham Forest FC v Manchester United FC is not under football-data's names")
	}
	for _, f := range resp.Files {
		b, _ := os.ReadFile(filepath.Join(shipped, filepath.FromSlash(f.Name)))
		if sum := sha256.Sum256(b); f.SHA256 != hex.EncodeToString(sum[:]) || f.Rows == 0 {
			t.Errorf("file %+v: digest or rows wrong", f)
		}
	}
}

func TestRecordsItCannotReadAreRejects(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "2024-25"), 0o755)
	os.WriteFile(filepath.Join(dir, "2024-25", "en.1.json"), []byte(`{"name": "test", "matches": [
		{"date": "2024-08-16", "time": "20:00", "team1": "Manchester United FC", "team2": "Fulham FC", "score": {"ft": [1, 0], "ht": [0, 0]}},
		{"date": "16/08/2024", "team1": "Ipswich Town FC", "team2": "Liverpool FC"},
		{"date": "2024-08-17", "time": "3pm", "team1": "Arsenal FC", "team2": "Wolverhampton Wanderers FC"},
		{"date": "2024-08-17", "team1": "Everton FC", "team2": "", "score": {"ft": [0, 3]}},
		{"date": "2024-08-17", "team1": "Newcastle United FC", "team2": "Southampton FC", "score": {"ft": [1]}},
		{"date": "2024-08-18", "team1": "Chelsea FC", "team2": "Manchester City FC"},
		{"date": "2024-08-18", "team1": "Brentford FC", "team2": "Crystal Palace FC", "score": {"ft": [2, 1]}},
		"not a match",
		{"date": "2024-08-18", "team1": "Aston Villa FC", "team2": "West Ham United FC", "score": {"ft": [2, 1], "ht": [1]}}
	]}`), 0o644)
	resp := fetch(t, map[string]any{"dir": dir}, source.FetchRequest{})
	if len(resp.Matches) != 3 || len(resp.Rejects) != 6 {
		t.Fatalf("%d matches and %d rejects: %+v", len(resp.Matches), len(resp.Rejects), resp.Rejects)
	}
	want := []struct{ loc, col, msg string }{
		{"matches[1]", "date", "YYYY-MM-DD"}, {"matches[2]", "time", "HH:MM"}, {"matches[3]", "team1", "required"},
		{"matches[4]", "score.ft", "two goal counts"}, {"matches[7]", "", "cannot unmarshal"}, {"matches[8]", "score.ht", "two goal counts"},
	}
	for i, w := range want {
		r := resp.Rejects[i]
		if r.Location != w.loc || r.Column != w.col || !strings.Contains(r.Message, w.msg) || r.File != "2024-25/en.1.json" || r.Raw == "" {
			t.Errorf("reject %d: %+v, want %s %s %q", i, r, w.loc, w.col, w.msg)
		}
	}
	// The half-time score is the one statistic the files have.
	if ht := resp.Matches[0].Stats.HalfTimeGoals; ht != soccer.Counted(0, 0) || resp.Matches[2].Stats != (soccer.Stats{}) {
		t.Errorf("half-time scores %+v and %+v", ht, resp.Matches[2].Stats)
	}
	chelsea := resp.Matches[1]
	if chelsea.Status != soccer.Scheduled || chelsea.KickoffTimeKnown || chelsea.Kickoff.Hour() != 14 { // 15:00 in London, a guess
		t.Errorf("a fixture without a time: %+v", chelsea)
	}

	// With strict_teams, a club the alias table lacks is a reject, not a guess.
	os.WriteFile(filepath.Join(dir, "2024-25", "en.1.json"), []byte(`{"matches": [
		{"date": "2024-08-16", "time": "20:00", "team1": "Manchester United FC", "team2": "Barnet FC", "score": {"ft": [1, 0]}}]}`), 0o644)
	if r := fetch(t, map[string]any{"dir": dir}, source.FetchRequest{}); len(r.Matches) != 1 || r.Matches[0].AwayTeam != "Barnet" {
		t.Errorf("an unknown club without strict_teams: %+v", r)
	}
	r := fetch(t, map[string]any{"dir": dir, "strict_teams": true}, source.FetchRequest{})
	if len(r.Matches) != 0 || len(r.Rejects) != 1 || r.Rejects[0].Column != "team2" || !strings.Contains(r.Rejects[0].Message, "Barnet FC") {
		t.Errorf("an unknown club with strict_teams: %+v", r)
	}

	// A file that is not football.json at all fails the fetch, naming it.
	os.WriteFile(filepath.Join(dir, "2024-25", "en.1.json"), []byte(`[1, 2]`), 0o644)
	src, _ := New(context.Background(), env(t, map[string]any{"dir": dir}))
	if _, err := source.Collect(context.Background(), src, source.FetchRequest{}); !errors.Is(err, plugin.ErrInvalid) || !strings.Contains(err.Error(), "2024-25/en.1.json") {
		t.Errorf("a file of another format: %v", err)
	}
}

func TestFailuresAreClear(t *testing.T) {
	url := publisher(t)
	src, _ := New(context.Background(), env(t, map[string]any{"base_url": url}))
	_, err := source.Collect(context.Background(), src, source.FetchRequest{Competitions: []string{"E0"}, Seasons: []string{"1920"}})
	if !errors.Is(err, plugin.ErrNotFound) || !strings.Contains(err.Error(), "2019-20/en.1.json") {
		t.Errorf("a season the publisher lacks: %v", err)
	}
	if _, err := source.Collect(context.Background(), src, source.FetchRequest{Competitions: []string{"F1"}, Seasons: []string{"2324"}}); !errors.Is(err, plugin.ErrNotFound) {
		t.Errorf("a competition without a league: %v", err)
	}
	if _, err := source.Collect(context.Background(), src, source.FetchRequest{}); !errors.Is(err, plugin.ErrInvalid) {
		t.Errorf("base_url without competitions and seasons: %v", err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) }))
	defer down.Close()
	src, _ = New(context.Background(), env(t, map[string]any{"base_url": down.URL}))
	if _, err := source.Collect(context.Background(), src, source.FetchRequest{Competitions: []string{"E0"}, Seasons: []string{"2324"}}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a publisher that is down: %v", err)
	}
	src, _ = New(context.Background(), env(t, map[string]any{"dir": shipped}))
	if _, err := source.Collect(context.Background(), src, source.FetchRequest{Competitions: []string{"E0"}, Seasons: []string{"2122"}}); !errors.Is(err, plugin.ErrNotFound) {
		t.Errorf("a season not in the directory: %v", err)
	}
	for _, bad := range []map[string]any{
		{"dir": shipped, "base_url": url},
		{"base_url": "ftp://x"},
		{"seasons": []string{"2023-24"}},
		{"timeout": "soon"},
		{"leagues": map[string]any{"en.1": map[string]any{"competition": "E0", "time_zone": "Mars/Olympus"}}},
		{"competitions": []string{"XX"}},
		{"leagues": map[string]any{"en.1": map[string]any{"competition": "E0"}}},
		{"leagues": map[string]any{"en.1": map[string]any{"competition": "E0", "time_zone": "Europe/London"}, "en.x": map[string]any{"competition": "E0", "time_zone": "Europe/London"}}},
		{"aliases": "/nowhere.json"},
		{"dri": shipped},
	} {
		if _, err := New(context.Background(), env(t, bad)); err == nil {
			t.Errorf("settings %v accepted", bad)
		}
	}
}

// An operator's alias file extends the built-in table.
func TestAliasesFromSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aliases.json")
	os.WriteFile(path, []byte(`{"tables": [{"competitions": ["E0"], "teams": {"Manchester City FC": "Manchester City"}}]}`), 0o644)
	resp := fetch(t, map[string]any{"dir": shipped, "aliases": path}, source.FetchRequest{Competitions: []string{"E0"}, Seasons: []string{"2324"}})
	for _, m := range resp.Matches {
		if m.HomeTeam == "Man City" || m.AwayTeam == "Man City" {
			t.Fatalf("the operator's alias did not win: %+v", m)
		}
	}
}

func TestFileNamesInThePublishersLayout(t *testing.T) {
	for season, want := range map[string]string{"2324": "2023-24/en.1.json", "0910": "2009-10/en.1.json", "9900": "1999-00/en.1.json"} {
		if got := (file{league: "en.1", competition: "E0", season: season}).name(); got != want {
			t.Errorf("season %s: %s, want %s", season, got, want)
		}
	}
}
