// Package openfootball is a source plugin for the openfootball project's
// football.json files (public domain): one JSON file per league and season,
// `<season>/<league>.json`, read from a local copy of the repository or over
// HTTP from where it is published.
//
// Club names are mapped to football-data.co.uk's with an alias table
// (aliases.json, extendable in settings), so the same club from both
// sources is one team and both sources give a match the same ID. Kick-off
// times are the league's local time in the files and UTC in the matches.
package openfootball

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // kick-offs are local times: do not depend on the host's zoneinfo

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// DefaultBaseURL is where openfootball publishes the files.
const DefaultBaseURL = "https://raw.githubusercontent.com/openfootball/football.json/master"

// maxFile bounds one downloaded file (the largest published is under 1 MB).
const maxFile = 32 << 20

// League says which competition an openfootball league file is and in
// which time zone its kick-off times are.
type League struct {
	Competition string `json:"competition"`
	TimeZone    string `json:"time_zone"`
}

// DefaultLeagues are the openfootball leagues of the competitions
// SoccerPredict ships data for.
var DefaultLeagues = map[string]League{
	"en.1": {"E0", "Europe/London"},
	"en.2": {"E1", "Europe/London"},
	"de.1": {"D1", "Europe/Berlin"},
	"it.1": {"I1", "Europe/Rome"},
	"es.1": {"SP1", "Europe/Madrid"},
}

// Settings are the plugin's `config` block in host configuration.
type Settings struct {
	// Dir is a local copy of the repository; BaseURL is where it is served
	// (DefaultBaseURL when neither is set). Exactly one is used.
	Dir     string `json:"dir"`
	BaseURL string `json:"base_url"`
	// Leagues replaces DefaultLeagues: openfootball league code → competition.
	Leagues map[string]League `json:"leagues"`
	// Competitions and Seasons ("2324" for 2023/24) are fetched when a
	// request names none; with BaseURL both are required somewhere.
	Competitions []string `json:"competitions"`
	Seasons      []string `json:"seasons"`
	// Aliases is a JSON file of more club names, in aliases.json's layout.
	Aliases string `json:"aliases"`
	// StrictTeams makes a club missing from the alias table a reject
	// instead of a warning.
	StrictTeams bool `json:"strict_teams"`
	// Timeout bounds one HTTP download (default 30s).
	Timeout string `json:"timeout"`
}

// Source reads openfootball files.
type Source struct {
	s       Settings
	leagues map[string]League // by openfootball code
	codes   map[string]string // openfootball code by competition
	zones   map[string]*time.Location
	aliases aliases
	client  *http.Client
	log     interface{ Warn(string, ...any) }

	mu     sync.Mutex
	warned map[string]bool
}

var (
	seasonForm = regexp.MustCompile(`^[0-9]{4}$`)
	leagueForm = regexp.MustCompile(`^[a-z]+\.[0-9a-z]+$`)
)

// New builds the source from its settings.
func New(_ context.Context, env plugin.Env) (source.Source, error) {
	var s Settings
	if err := env.Settings.Decode(&s); err != nil {
		return nil, err
	}
	if s.Dir != "" && s.BaseURL != "" {
		return nil, plugin.Invalid("openfootball: set one of dir and base_url, not both")
	}
	if s.Dir == "" && s.BaseURL == "" {
		s.BaseURL = DefaultBaseURL
	}
	if s.BaseURL != "" {
		u, err := url.Parse(s.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, plugin.Invalid("openfootball: base_url %q is not an http(s) URL", s.BaseURL)
		}
		s.BaseURL = strings.TrimSuffix(s.BaseURL, "/")
	}
	timeout := 30 * time.Second
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil || d <= 0 {
			return nil, plugin.Invalid("openfootball: timeout %q is not a positive duration", s.Timeout)
		}
		timeout = d
	}
	for _, season := range s.Seasons {
		if !seasonForm.MatchString(season) {
			return nil, plugin.Invalid("openfootball: season %q is not of the form 2324 (for 2023/24)", season)
		}
	}
	leagues := s.Leagues
	if leagues == nil {
		leagues = DefaultLeagues
	}
	src := &Source{s: s, leagues: leagues, codes: map[string]string{}, zones: map[string]*time.Location{}, client: &http.Client{Timeout: timeout},
		log: env.Logger, warned: map[string]bool{}}
	for code, l := range leagues {
		if l.Competition == "" || !leagueForm.MatchString(code) {
			return nil, plugin.Invalid("openfootball: league %q: needs a code like en.1 and a competition", code)
		}
		if other, dup := src.codes[l.Competition]; dup {
			return nil, plugin.Invalid("openfootball: leagues %s and %s are both competition %s", min(code, other), max(code, other), l.Competition)
		}
		src.codes[l.Competition] = code
		if l.TimeZone == "" {
			return nil, plugin.Invalid("openfootball: league %s: time_zone is required (e.g. Europe/London)", code)
		}
		loc, err := time.LoadLocation(l.TimeZone)
		if err != nil {
			return nil, plugin.Invalid("openfootball: league %s: time zone %q: %v", code, l.TimeZone, err)
		}
		src.zones[code] = loc
	}
	for _, c := range s.Competitions {
		if src.league(c) == "" {
			return nil, plugin.Invalid("openfootball: competition %s has no league in leagues", c)
		}
	}
	a, err := loadAliases(s.Aliases)
	if err != nil {
		return nil, plugin.Invalid("openfootball: %v", err)
	}
	src.aliases = a
	return src, nil
}

// league is the openfootball code of a competition ("" when there is none).
func (s *Source) league(competition string) string { return s.codes[competition] }

// Describe implements source.Source.
func (s *Source) Describe(context.Context) (source.Description, error) {
	var comps []string
	for _, l := range s.leagues {
		comps = append(comps, l.Competition)
	}
	sort.Strings(comps)
	where := s.s.BaseURL
	if where == "" {
		where = s.s.Dir
	}
	return source.Description{Competitions: slices.Compact(comps), Description: "openfootball football.json files from " + where}, nil
}

// file is one league season: its path in the publisher's layout.
type file struct {
	league, competition, season string
}

// name is the file's path under the repository root, e.g. 2023-24/en.1.json
// (season 2324; 9900 is 1999-00).
func (f file) name() string {
	century := "20"
	if f.season[:2] >= "50" {
		century = "19"
	}
	return century + f.season[:2] + "-" + f.season[2:] + "/" + f.league + ".json"
}

// Fetch implements source.Source, one file at a time.
func (s *Source) Fetch(ctx context.Context, req source.FetchRequest, out source.Sink) error {
	files, err := s.plan(req)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := s.read(ctx, f)
		if err != nil {
			return err
		}
		if err := s.parse(f, b, out); err != nil {
			return err
		}
	}
	return nil
}

// plan lists the files a request needs, in a stable order.
func (s *Source) plan(req source.FetchRequest) ([]file, error) {
	asked := req.Or(source.FetchRequest{Competitions: s.s.Competitions, Seasons: s.s.Seasons})
	comps, seasons := asked.Competitions, asked.Seasons
	for _, season := range seasons {
		if !seasonForm.MatchString(season) {
			return nil, plugin.Invalid("openfootball: season %q is not of the form 2324 (for 2023/24)", season)
		}
	}
	for _, c := range comps {
		if s.league(c) == "" {
			return nil, plugin.NotFound("openfootball: no league is configured for competition %s", c)
		}
	}
	if s.s.BaseURL != "" {
		if len(comps) == 0 || len(seasons) == 0 {
			return nil, plugin.Invalid("openfootball: with base_url, competitions and seasons must be given (in settings or the request)")
		}
		var out []file
		for _, c := range comps {
			for _, season := range seasons {
				out = append(out, file{league: s.league(c), competition: c, season: season})
			}
		}
		return out, nil
	}
	var out []file
	for code, l := range s.leagues {
		found, err := filepath.Glob(filepath.Join(s.s.Dir, "[12][09][0-9][0-9]-[0-9][0-9]", code+".json"))
		if err != nil {
			return nil, fmt.Errorf("openfootball: list %s: %w", s.s.Dir, err)
		}
		for _, p := range found {
			dir := filepath.Base(filepath.Dir(p)) // 2023-24
			season := dir[2:4] + dir[5:7]
			if (source.FetchRequest{Competitions: comps, Seasons: seasons}).Wants(l.Competition, season) {
				out = append(out, file{league: code, competition: l.Competition, season: season})
			}
		}
	}
	if _, err := os.Stat(s.s.Dir); err != nil {
		return nil, fmt.Errorf("openfootball: data directory: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].competition != out[j].competition {
			return out[i].competition < out[j].competition
		}
		return out[i].season < out[j].season
	})
	// Explicitly requested files must exist: a missing season is an error, not an empty answer.
	if len(req.Competitions) > 0 && len(req.Seasons) > 0 {
		for _, c := range req.Competitions {
			for _, season := range req.Seasons {
				f := file{league: s.league(c), competition: c, season: season}
				if !slices.Contains(out, f) {
					return nil, plugin.NotFound("openfootball: no file %s in %s", f.name(), s.s.Dir)
				}
			}
		}
	}
	return out, nil
}

func (s *Source) read(ctx context.Context, f file) ([]byte, error) {
	if s.s.BaseURL == "" {
		b, err := os.ReadFile(filepath.Join(s.s.Dir, filepath.FromSlash(f.name())))
		if err != nil {
			return nil, fmt.Errorf("openfootball: %w", err)
		}
		return b, nil
	}
	u := s.s.BaseURL + "/" + f.name()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("openfootball: %s: %w", u, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("openfootball: download %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, plugin.NotFound("openfootball: %s: not published (404)", u)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("openfootball: download %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("openfootball: download %s: %w", u, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("openfootball: %s is larger than %d MB", u, maxFile>>20)
	}
	return b, nil
}

// record is one match as the files have it.
type record struct {
	Date  string `json:"date"`
	Time  string `json:"time"`
	Team1 string `json:"team1"`
	Team2 string `json:"team2"`
	Score *struct {
		FT []int `json:"ft"`
		HT []int `json:"ht"` // half time, when the file has it
	} `json:"score"`
}

// parse sends a file's matches, and a reject for each it cannot read.
func (s *Source) parse(f file, b []byte, out source.Sink) error {
	var doc struct {
		Name    string            `json:"name"`
		Matches []json.RawMessage `json:"matches"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return plugin.Invalid("openfootball: %s is not a football.json file: %v", f.name(), err)
	}
	if doc.Matches == nil {
		return plugin.Invalid("openfootball: %s has no matches list", f.name())
	}
	rows := 0
	for i, raw := range doc.Matches {
		rows++
		at := fmt.Sprintf("matches[%d]", i)
		m, field, err := s.match(f, raw)
		if err != nil {
			out.Reject(source.Reject{File: f.name(), Location: at, Column: field, Message: err.Error(), Raw: string(raw)})
			continue
		}
		m.Origin = f.name() + ":" + at
		out.Match(m)
	}
	out.File(source.File{Name: f.name(), SHA256: source.Digest(b), Rows: rows})
	return nil
}

func (s *Source) match(f file, raw json.RawMessage) (soccer.Match, string, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return soccer.Match{}, "", err
	}
	if strings.TrimSpace(r.Team1) == "" || strings.TrimSpace(r.Team2) == "" {
		return soccer.Match{}, "team1", fmt.Errorf("team1 and team2 are required")
	}
	loc := s.zones[f.league]
	day, err := time.ParseInLocation("2006-01-02", r.Date, loc)
	if err != nil {
		return soccer.Match{}, "date", fmt.Errorf("date %q is not YYYY-MM-DD", r.Date)
	}
	kickoff, known := day.Add(15*time.Hour), false // the traditional 15:00, flagged as a guess
	if r.Time != "" {
		t, err := time.ParseInLocation("2006-01-02 15:04", r.Date+" "+r.Time, loc)
		if err != nil {
			return soccer.Match{}, "time", fmt.Errorf("time %q is not HH:MM", r.Time)
		}
		kickoff, known = t, true
	}
	home, err := s.team(f, r.Team1)
	if err != nil {
		return soccer.Match{}, "team1", err
	}
	away, err := s.team(f, r.Team2)
	if err != nil {
		return soccer.Match{}, "team2", err
	}
	if home == away {
		return soccer.Match{}, "team2", fmt.Errorf("%q plays itself", home)
	}
	m := soccer.NewMatch(f.competition, f.season, kickoff, known, home, away)
	if r.Score != nil && r.Score.FT != nil {
		if len(r.Score.FT) != 2 || r.Score.FT[0] < 0 || r.Score.FT[1] < 0 {
			return soccer.Match{}, "score.ft", fmt.Errorf("full-time score %v is not two goal counts", r.Score.FT)
		}
		m = m.Played(r.Score.FT[0], r.Score.FT[1])
		if r.Score.HT != nil {
			if len(r.Score.HT) != 2 || r.Score.HT[0] < 0 || r.Score.HT[1] < 0 {
				return soccer.Match{}, "score.ht", fmt.Errorf("half-time score %v is not two goal counts", r.Score.HT)
			}
			m.Stats.HalfTimeGoals = soccer.Counted(r.Score.HT[0], r.Score.HT[1])
		}
	}
	return m, "", nil
}

// team maps a club's name through the alias table.
func (s *Source) team(f file, name string) (string, error) {
	canon, known := s.aliases.canonical(f.competition, name)
	if known {
		return canon, nil
	}
	if s.s.StrictTeams {
		return "", fmt.Errorf("club %q is not in the alias table for %s (strict_teams is on)", name, f.competition)
	}
	s.mu.Lock()
	first := !s.warned[f.competition+"/"+name]
	s.warned[f.competition+"/"+name] = true
	s.mu.Unlock()
	if first && s.log != nil {
		s.log.Warn("club not in the alias table; add it if another source names it differently", "competition", f.competition, "name", name, "stored_as", canon)
	}
	return canon, nil
}
