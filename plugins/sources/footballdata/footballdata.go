// Package footballdata is a source plugin for the season CSV files published
// by football-data.co.uk, read either from the publisher's URL layout
// ({base_url}/mmz4281/{season}/{DIV}.csv) or from a local directory laid out
// as {dir}/{DIV}/{season}.csv.
//
// Start with New (settings) and parseSeason (the CSV reader, which handles
// the publisher's quirks: two date formats, a UTF-8 BOM, blank trailing rows,
// drifting columns addressed by name, and missing odds as empty cells).
package footballdata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// Version is the plugin's own version.
const Version = "1.0.0"

// Settings are the plugin's `config` block in host configuration.
type Settings struct {
	// BaseURL is the publisher's site (or a mirror in its layout). Exactly one
	// of BaseURL and Dir is set.
	BaseURL string `json:"base_url"`
	// Dir is a local directory laid out as {dir}/{DIV}/{season}.csv.
	Dir string `json:"dir"`
	// Competitions and Seasons are fetched when a request names none. With
	// BaseURL they are required; with Dir the default is every file there.
	Competitions []string `json:"competitions"`
	Seasons      []string `json:"seasons"`
	// Timeout bounds one HTTP download (default 30s).
	Timeout string `json:"timeout"`
}

// Source reads football-data.co.uk files.
type Source struct {
	settings Settings
	client   *http.Client
}

// New builds the source from its settings.
func New(_ context.Context, env plugin.Env) (source.Source, error) {
	var s Settings
	if err := env.Settings.Decode(&s); err != nil {
		return nil, err
	}
	if (s.BaseURL == "") == (s.Dir == "") {
		return nil, errors.New("footballdata: set exactly one of base_url and dir")
	}
	if s.BaseURL != "" {
		u, err := url.Parse(s.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("footballdata: base_url %q is not an http(s) URL", s.BaseURL)
		}
	}
	timeout := 30 * time.Second
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("footballdata: timeout %q is not a positive duration", s.Timeout)
		}
		timeout = d
	}
	for _, season := range s.Seasons {
		if !validSeason(season) {
			return nil, fmt.Errorf("footballdata: season %q is not in the publisher's form, e.g. 2324 for 2023/24", season)
		}
	}
	return &Source{settings: s, client: &http.Client{Timeout: timeout}}, nil
}

// Describe implements source.Source.
func (s *Source) Describe(ctx context.Context) (source.Description, error) {
	comps := s.settings.Competitions
	if len(comps) == 0 && s.settings.Dir != "" {
		files, err := s.listDir()
		if err != nil {
			return source.Description{}, err
		}
		for _, f := range files {
			if !slices.Contains(comps, f.competition) {
				comps = append(comps, f.competition)
			}
		}
	}
	where := s.settings.BaseURL
	if where == "" {
		where = s.settings.Dir
	}
	return source.Description{Name: "footballdata", Version: Version, Competitions: comps,
		Description: "football-data.co.uk season files from " + where}, nil
}

type seasonFile struct {
	competition string
	season      string
}

func (f seasonFile) name() string { return f.competition + "/" + f.season + ".csv" }

// Fetch implements source.Source, one season file at a time: only one file
// is held in memory, here and in the host.
func (s *Source) Fetch(ctx context.Context, req source.FetchRequest, out source.Sink) error {
	files, err := s.plan(req)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := s.read(ctx, f)
		if err != nil {
			return err
		}
		parsed, err := parseSeason(f.name(), f.season, data)
		if err != nil {
			return err
		}
		for _, m := range parsed.matches {
			out.Match(m)
		}
		for _, r := range parsed.rejects {
			out.Reject(r)
		}
		// The file after its rows, as the sdk's helpers send it.
		out.File(source.File{Name: f.name(), SHA256: source.Digest(data), Rows: parsed.rows})
	}
	return nil
}

// plan lists the files a request needs, in a stable order.
func (s *Source) plan(req source.FetchRequest) ([]seasonFile, error) {
	asked := req.Or(source.FetchRequest{Competitions: s.settings.Competitions, Seasons: s.settings.Seasons})
	comps, seasons := asked.Competitions, asked.Seasons
	for _, season := range seasons {
		if !validSeason(season) {
			return nil, fmt.Errorf("footballdata: season %q is not in the publisher's form, e.g. 2324 for 2023/24", season)
		}
	}
	if s.settings.BaseURL != "" {
		if len(comps) == 0 || len(seasons) == 0 {
			return nil, errors.New("footballdata: with base_url, competitions and seasons must be given (in settings or the request)")
		}
		var out []seasonFile
		for _, c := range comps {
			for _, season := range seasons {
				out = append(out, seasonFile{competition: c, season: season})
			}
		}
		return out, nil
	}
	all, err := s.listDir()
	if err != nil {
		return nil, err
	}
	var out []seasonFile
	for _, f := range all {
		if (source.FetchRequest{Competitions: comps, Seasons: seasons}).Wants(f.competition, f.season) {
			out = append(out, f)
		}
	}
	// Explicitly requested files must exist: a missing season is an error, not an empty answer.
	if len(req.Competitions) > 0 && len(req.Seasons) > 0 {
		for _, c := range req.Competitions {
			for _, season := range req.Seasons {
				if !slices.Contains(out, seasonFile{c, season}) {
					return nil, fmt.Errorf("footballdata: no file %s in %s", seasonFile{c, season}.name(), s.settings.Dir)
				}
			}
		}
	}
	return out, nil
}

// listDir finds {dir}/{DIV}/{season}.csv files, sorted by competition and season.
func (s *Source) listDir() ([]seasonFile, error) {
	matches, err := filepath.Glob(filepath.Join(s.settings.Dir, "*", "*.csv"))
	if err != nil {
		return nil, fmt.Errorf("footballdata: list %s: %w", s.settings.Dir, err)
	}
	if len(matches) == 0 {
		if _, err := os.Stat(s.settings.Dir); err != nil {
			return nil, fmt.Errorf("footballdata: data directory: %w", err)
		}
	}
	var out []seasonFile
	for _, m := range matches {
		season := strings.TrimSuffix(filepath.Base(m), ".csv")
		if !validSeason(season) {
			continue
		}
		out = append(out, seasonFile{competition: filepath.Base(filepath.Dir(m)), season: season})
	}
	slices.SortFunc(out, func(a, b seasonFile) int { return strings.Compare(a.name(), b.name()) })
	return out, nil
}

func (s *Source) read(ctx context.Context, f seasonFile) ([]byte, error) {
	if s.settings.Dir != "" {
		path := filepath.Join(s.settings.Dir, f.competition, f.season+".csv")
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("footballdata: read %s: %w", path, err)
		}
		return data, nil
	}
	u := strings.TrimSuffix(s.settings.BaseURL, "/") + "/mmz4281/" + url.PathEscape(f.season) + "/" + url.PathEscape(f.competition) + ".csv"
	var lastErr error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		data, retry, err := s.download(ctx, u)
		if err == nil {
			return data, nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return nil, lastErr
}

func (s *Source) download(ctx context.Context, u string) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, fmt.Errorf("footballdata: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, ctx.Err() == nil, fmt.Errorf("footballdata: download %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode >= 500, fmt.Errorf("footballdata: download %s: HTTP %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, true, fmt.Errorf("footballdata: download %s: %w", u, err)
	}
	return data, false, nil
}

func validSeason(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
