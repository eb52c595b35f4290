// Package sourcetest is the conformance suite of source plugins. Run it from
// a plugin's tests:
//
//	func TestConformance(t *testing.T) {
//		sourcetest.Run(t, footballdata.New, sourcetest.Options{Settings: map[string]any{"dir": "testdata"}})
//	}
//
// Every check runs twice: against the implementation directly, and through
// the real gRPC shim in-process; both must give the very same matches.
package sourcetest

import (
	"context"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/soccerpredict/soccerpredict/sdk/internal/shim"
	"github.com/soccerpredict/soccerpredict/sdk/internal/shimtest"
	"github.com/soccerpredict/soccerpredict/sdk/plugin/plugintest"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// Options configure the suite.
type Options struct {
	// Settings are the plugin's settings as in host config: a map or a
	// struct (encoded as JSON, as the host does), or plugin.Settings.
	Settings any
	// Request is the fetch to check; empty means everything.
	Request source.FetchRequest
	// MinMatches is the least number of matches the fetch must return (default 1).
	MinMatches int
}

// Run runs the conformance suite.
func Run(t *testing.T, factory source.Factory, opts Options) {
	t.Helper()
	if opts.MinMatches == 0 {
		opts.MinMatches = 1
	}
	env := plugintest.Env(t, "under-test", opts.Settings)
	direct, err := factory(context.Background(), env)
	if err != nil {
		t.Fatalf("factory: %v", err)
	}
	remote := shimtest.Dispense(t, wire.KindSource, shim.SourcePlugin("under-test", "0.0.0-test", factory), env.Settings).(source.Source)

	var answers []source.FetchResponse
	for _, c := range []struct {
		name string
		src  source.Source
	}{{"direct", direct}, {"grpc", remote}} {
		t.Run(c.name, func(t *testing.T) {
			answers = append(answers, check(t, c.src, opts, c.name == "grpc"))
		})
	}
	t.Run("grpc equals direct", func(t *testing.T) {
		if len(answers) != 2 {
			t.Skip("an earlier check failed")
		}
		if !reflect.DeepEqual(normalize(answers[0]), normalize(answers[1])) {
			t.Fatalf("the gRPC shim changed the fetch: direct and gRPC answers differ")
		}
	})
}

func check(t *testing.T, src source.Source, opts Options, served bool) source.FetchResponse {
	ctx := context.Background()
	d, err := src.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if served && (d.Name == "" || d.Version == "") { // Serve fills in what the implementation leaves empty
		t.Errorf("Describe: name %q and version %q must both be set", d.Name, d.Version)
	}
	first, err := source.Collect(ctx, src, opts.Request)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(first.Matches) < opts.MinMatches {
		t.Fatalf("Fetch returned %d matches, want at least %d", len(first.Matches), opts.MinMatches)
	}
	t.Run("matches are well formed", func(t *testing.T) {
		for _, m := range first.Matches {
			checkMatch(t, m, opts.Request)
		}
	})
	t.Run("match IDs are unique", func(t *testing.T) {
		seen := map[string]string{}
		for _, m := range first.Matches {
			if prev, dup := seen[m.ID]; dup {
				t.Errorf("match ID %q is used by %s and %s", m.ID, prev, m.Origin)
			}
			seen[m.ID] = m.Origin
		}
	})
	t.Run("rejects say where and why", func(t *testing.T) {
		for _, r := range first.Rejects {
			if r.File == "" || (r.Line <= 0 && r.Location == "") || r.Message == "" {
				t.Errorf("reject %+v must name its file, its line or location, and the reason", r)
			}
		}
	})
	t.Run("files have digests", func(t *testing.T) {
		for _, f := range first.Files {
			if f.Name == "" || len(f.SHA256) != 64 || strings.Trim(f.SHA256, "0123456789abcdef") != "" {
				t.Errorf("file %+v must have a name and a hex SHA-256", f)
			}
		}
	})
	t.Run("fetch is idempotent", func(t *testing.T) {
		second, err := source.Collect(ctx, src, opts.Request)
		if err != nil {
			t.Fatalf("second Fetch: %v", err)
		}
		if !reflect.DeepEqual(normalize(first), normalize(second)) {
			t.Fatalf("two fetches of the same request differ (%d and %d matches)", len(first.Matches), len(second.Matches))
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := source.Collect(cctx, src, opts.Request); err == nil {
			t.Errorf("Fetch with a cancelled context succeeded; it must stop and return an error")
		}
	})
	return first
}

func checkMatch(t *testing.T, m soccer.Match, req source.FetchRequest) {
	t.Helper()
	bad := func(format string, args ...any) {
		t.Helper()
		t.Errorf("match %s (%s): "+format, append([]any{m.ID, m.Origin}, args...)...)
	}
	switch {
	case m.ID == "":
		bad("empty ID")
	case m.Competition == "" || m.Season == "":
		bad("competition %q and season %q must be set", m.Competition, m.Season)
	case m.HomeTeam == "" || m.AwayTeam == "":
		bad("teams %q and %q must be set", m.HomeTeam, m.AwayTeam)
	case m.HomeTeam == m.AwayTeam:
		bad("%q plays itself", m.HomeTeam)
	case m.Kickoff.IsZero() || m.Kickoff.Location() != (soccer.Match{}).Kickoff.Location():
		bad("kick-off %v must be set and in UTC", m.Kickoff)
	}
	if len(req.Competitions) > 0 && !slices.Contains(req.Competitions, m.Competition) {
		bad("competition %q was not asked for (%v)", m.Competition, req.Competitions)
	}
	if len(req.Seasons) > 0 && !slices.Contains(req.Seasons, m.Season) {
		bad("season %q was not asked for (%v)", m.Season, req.Seasons)
	}
	switch m.Status {
	case soccer.Finished:
		if m.HomeGoals < 0 || m.AwayGoals < 0 || m.Result != soccer.ResultOf(m.HomeGoals, m.AwayGoals) {
			bad("score %d-%d with result %q", m.HomeGoals, m.AwayGoals, m.Result)
		}
	case soccer.Scheduled:
		if m.Result != "" {
			bad("a scheduled match has result %q", m.Result)
		}
		if m.Stats != (soccer.Stats{}) {
			bad("a scheduled match has statistics %+v", m.Stats)
		}
	default:
		bad("status %q is neither scheduled nor finished", m.Status)
	}
	// Whether statistics agree with each other is the host's data contract
	// to judge (a publisher's typo must not lose a result); their form is
	// the source's: an unknown statistic is the zero Count.
	for k, c := range m.Stats.All() {
		if !c.Known && (c.Home != 0 || c.Away != 0) {
			bad("statistic %s is not Known but has values %d-%d (use soccer.Counted)", soccer.StatNames[k], c.Home, c.Away)
		}
	}
	for _, o := range m.Odds {
		if o.Bookmaker == "" {
			bad("odds without a bookmaker")
		}
		for _, p := range []float64{o.Home, o.Draw, o.Away} {
			// NaN is the documented "could not read this price" (the host
			// drops that quote with a warning); anything else must be a price.
			if !math.IsNaN(p) && (math.IsInf(p, 0) || p <= 0) {
				bad("bookmaker %s has price %v", o.Bookmaker, p)
			}
		}
	}
}

// normalize makes empty and nil slices compare equal, and unreadable (NaN)
// prices compare equal to each other.
func normalize(r source.FetchResponse) source.FetchResponse {
	if len(r.Rejects) == 0 {
		r.Rejects = nil
	}
	if len(r.Files) == 0 {
		r.Files = nil
	}
	ms := make([]soccer.Match, len(r.Matches))
	for i, m := range r.Matches {
		if len(m.Odds) == 0 {
			m.Odds = nil
		} else {
			// NaN ≠ NaN, so two identical fetches with an unreadable price
			// would "differ": compare it as a value no price can have.
			odds := slices.Clone(m.Odds)
			for k := range odds {
				for _, p := range []*float64{&odds[k].Home, &odds[k].Draw, &odds[k].Away} {
					if math.IsNaN(*p) {
						*p = -1
					}
				}
			}
			m.Odds = odds
		}
		ms[i] = m
	}
	r.Matches = ms
	return r
}
