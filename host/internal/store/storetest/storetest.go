// Package storetest is the conformance suite every store.Store passes: the
// embedded SQLite store and PostgreSQL run the very same checks.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features/featuretest"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// Run runs the suite; open returns a new, empty store for each check.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	league := featuretest.League(6, 2, 5) // 60 matches over two seasons
	batch := func(run string, ms []soccer.Match) store.Batch {
		return store.Batch{RunID: run, Source: "synthetic", File: source.File{Name: "SYN/all.csv", SHA256: "abc", Rows: len(ms)}, Matches: ms}
	}

	t.Run("insert then read back", func(t *testing.T) {
		s := open(t)
		a, err := s.Apply(ctx, batch("r1", league))
		if err != nil {
			t.Fatal(err)
		}
		if a != (store.Applied{Loaded: 60}) {
			t.Fatalf("applied %+v, want 60 loaded", a)
		}
		got, err := s.Matches(ctx, store.MatchQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(league) {
			t.Fatalf("read %d matches, want %d", len(got), len(league))
		}
		for i := range got {
			if want := store.Normalize(league[i]); !reflect.DeepEqual(got[i], want) {
				t.Fatalf("match %d:\n got %+v\nwant %+v", i, got[i], want)
			}
		}
	})

	t.Run("queries filter and order", func(t *testing.T) {
		s := open(t)
		if _, err := s.Apply(ctx, batch("r1", league)); err != nil {
			t.Fatal(err)
		}
		cut := league[20].Kickoff
		for _, c := range []struct {
			q    store.MatchQuery
			want int
		}{
			{store.MatchQuery{Season: "2021"}, 30},
			{store.MatchQuery{Competition: "SYN", Season: "2122"}, 30},
			{store.MatchQuery{Competition: "NONE"}, 0},
			{store.MatchQuery{Status: soccer.Finished}, 60},
			{store.MatchQuery{Status: soccer.Scheduled}, 0},
			{store.MatchQuery{To: cut}, countBefore(league, cut)},
			{store.MatchQuery{From: cut}, 60 - countBefore(league, cut)},
		} {
			n, err := s.CountMatches(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := s.Matches(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if n != c.want || len(ms) != c.want {
				t.Errorf("query %+v: count %d, listed %d, want %d", c.q, n, len(ms), c.want)
			}
			for i := 1; i < len(ms); i++ {
				if ms[i].Kickoff.Before(ms[i-1].Kickoff) {
					t.Errorf("query %+v: not in kick-off order at %d", c.q, i)
				}
			}
		}
		ms, _ := s.Matches(ctx, store.MatchQuery{Limit: 7})
		if len(ms) != 7 || ms[0].ID != league[0].ID {
			t.Errorf("limit 7 listed %d starting at %v", len(ms), ms)
		}
	})

	t.Run("the same batch twice changes nothing", func(t *testing.T) {
		s := open(t)
		if _, err := s.Apply(ctx, batch("r1", league)); err != nil {
			t.Fatal(err)
		}
		moved := make([]soccer.Match, len(league))
		copy(moved, league)
		for i := range moved {
			moved[i].Origin = "elsewhere:1" // rows moved in the file, content the same
		}
		a, err := s.Apply(ctx, batch("r2", moved))
		if err != nil {
			t.Fatal(err)
		}
		if a != (store.Applied{Unchanged: 60}) {
			t.Fatalf("second apply %+v, want 60 unchanged", a)
		}
		if n, _ := s.CountMatches(ctx, store.MatchQuery{}); n != 60 {
			t.Fatalf("%d matches after two applies, want 60", n)
		}
	})

	t.Run("statistics are kept, revised and never erased by silence", func(t *testing.T) {
		s := open(t)
		ms := slices.Clone(league[:3])
		ms[0].Stats = soccer.Stats{Shots: soccer.Counted(14, 3), ShotsOnTarget: soccer.Counted(6, 0), HalfTimeGoals: soccer.Counted(1, 0)}
		ms[1].Stats = soccer.Stats{}
		if _, err := s.Apply(ctx, batch("r1", ms)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Matches(ctx, store.MatchQuery{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Stats != ms[0].Stats || got[1].Stats != (soccer.Stats{}) {
			t.Fatalf("statistics read back %+v and %+v, want %+v and none", got[0].Stats, got[1].Stats, ms[0].Stats)
		}
		// The same match without statistics (a source that has none), or
		// with only some of them, keeps the others.
		bare := slices.Clone(ms)
		bare[0].Stats = soccer.Stats{HalfTimeGoals: soccer.Counted(1, 0)}
		if a, err := s.Apply(ctx, batch("r2", bare)); err != nil || a != (store.Applied{Unchanged: 3}) {
			t.Fatalf("the same matches with fewer statistics: %+v %v, want 3 unchanged", a, err)
		}
		// A correction is a revision naming them.
		fixed := slices.Clone(ms)
		fixed[0].Stats.Corners = soccer.Counted(7, 2)
		if a, err := s.Apply(ctx, batch("r3", fixed)); err != nil || a.Updated != 1 {
			t.Fatalf("corrected statistics: %+v %v, want 1 updated", a, err)
		}
		revs, err := s.Revisions(ctx, ms[0].ID)
		if err != nil || len(revs) != 1 || !slices.Contains(revs[0].Changed, "stats") || revs[0].After.Stats != fixed[0].Stats {
			t.Fatalf("revisions %+v %v, want one naming stats", revs, err)
		}
	})

	t.Run("a revised match is updated and the revision recorded", func(t *testing.T) {
		s := open(t)
		if _, err := s.Apply(ctx, batch("r1", league)); err != nil {
			t.Fatal(err)
		}
		revised := make([]soccer.Match, len(league))
		copy(revised, league)
		m := revised[3]
		m.HomeGoals++
		m.Result = soccer.ResultOf(m.HomeGoals, m.AwayGoals)
		m.Odds = []soccer.Odds{{Bookmaker: "PS", Closing: true, Home: 2.1, Draw: 3.4, Away: 3.9}}
		revised[3] = m
		a, err := s.Apply(ctx, batch("r2", revised))
		if err != nil {
			t.Fatal(err)
		}
		if a != (store.Applied{Updated: 1, Unchanged: 59}) {
			t.Fatalf("applied %+v, want 1 updated", a)
		}
		revs, err := s.Revisions(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(revs) != 1 || revs[0].RunID != "r2" || !reflect.DeepEqual(revs[0].Changed, []string{"score", "odds"}) {
			t.Fatalf("revisions %+v, want one from r2 changing score and odds", revs)
		}
		if revs[0].Before.HomeGoals != league[3].HomeGoals || revs[0].After.HomeGoals != m.HomeGoals {
			t.Fatalf("revision before/after goals %d/%d", revs[0].Before.HomeGoals, revs[0].After.HomeGoals)
		}
		got, _ := s.Matches(ctx, store.MatchQuery{From: m.Kickoff, To: m.Kickoff.Add(time.Second)})
		found := false
		for _, g := range got {
			if g.ID == m.ID {
				found = reflect.DeepEqual(g, store.Normalize(m))
			}
		}
		if !found {
			t.Fatalf("the stored match is not the revised one")
		}
	})

	t.Run("a second source fills gaps and never overrides", func(t *testing.T) {
		s := open(t)
		owned := slices.Clone(league[:3])
		owned[2] = soccer.Match{ID: "syn-late", Competition: "SYN", Season: "2223", Kickoff: time.Date(2023, 8, 12, 0, 0, 0, 0, time.UTC),
			HomeTeam: "Team A", AwayTeam: "Team B", Status: soccer.Scheduled, Origin: "SYN/all.csv:4"}
		if _, err := s.Apply(ctx, batch("r1", owned)); err != nil {
			t.Fatal(err)
		}
		other := slices.Clone(owned)
		moved := other[0] // another kick-off, no prices: the owner's stand
		moved.Kickoff, moved.Odds, moved.Origin = moved.Kickoff.Add(15*time.Minute), nil, "other.json:matches[0]"
		other[0] = moved
		priced := other[1] // a bookmaker the owner lacks: added
		priced.Odds = append(slices.Clone(priced.Odds), soccer.Odds{Bookmaker: "XB", Home: 2, Draw: 3, Away: 4})
		other[1] = priced
		played := other[2] // the owner still has it scheduled, with a date only: the result and time are added
		played.Kickoff, played.KickoffTimeKnown = played.Kickoff.Add(15*time.Hour), true
		other[2] = played.Played(1, 0)
		a, err := s.Apply(ctx, store.Batch{RunID: "r2", Source: "other", File: source.File{Name: "other.json"}, Matches: other})
		if err != nil {
			t.Fatal(err)
		}
		if a != (store.Applied{Updated: 2, Unchanged: 1}) {
			t.Fatalf("applied %+v, want 2 updated (gaps filled), 1 unchanged", a)
		}
		got, _ := s.Matches(ctx, store.MatchQuery{})
		byID := map[string]soccer.Match{}
		for _, g := range got {
			byID[g.ID] = g
		}
		if g := byID[owned[0].ID]; !g.Kickoff.Equal(owned[0].Kickoff) || len(g.Odds) != len(owned[0].Odds) || g.Origin != owned[0].Origin {
			t.Errorf("the owner's match was overridden: %+v", g)
		}
		if g := byID[owned[1].ID]; len(g.Odds) != len(owned[1].Odds)+1 {
			t.Errorf("the other source's bookmaker was not added: %+v", g.Odds)
		}
		if g := byID["syn-late"]; g.Status != soccer.Finished || g.Result != soccer.HomeWin || !g.KickoffTimeKnown || g.Kickoff.Hour() != 15 {
			t.Errorf("the result was not filled in: %+v", g)
		}
		again, err := s.Apply(ctx, store.Batch{RunID: "r3", Source: "other", File: source.File{Name: "other.json"}, Matches: other})
		if err != nil || again != (store.Applied{Unchanged: 3}) {
			t.Fatalf("the second source again: %+v %v, want all unchanged", again, err)
		}
		// The owner again: the quotes it gives replace the stored ones (the
		// other source's extra one goes), but saying less takes nothing back:
		// its stale "scheduled" leaves the filled-in result.
		back, err := s.Apply(ctx, batch("r4", owned))
		if err != nil || back != (store.Applied{Updated: 1, Unchanged: 2}) || len(owned[1].Odds) == 0 {
			t.Fatalf("the owner again: %+v %v", back, err)
		}
		got, _ = s.Matches(ctx, store.MatchQuery{})
		for _, g := range got {
			if g.ID == "syn-late" && g.Status != soccer.Finished {
				t.Errorf("the owner's stale fixture took the result back: %+v", g)
			}
		}
	})

	t.Run("matches version and feature snapshots", func(t *testing.T) {
		s := open(t)
		v0, err := s.MatchesVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ctx, batch("r1", league)); err != nil {
			t.Fatal(err)
		}
		v1, _ := s.MatchesVersion(ctx)
		if v1 <= v0 {
			t.Fatalf("version %d after a write that loaded matches, %d before", v1, v0)
		}
		if _, err := s.Apply(ctx, batch("r2", league)); err != nil { // nothing changes
			t.Fatal(err)
		}
		if v, _ := s.MatchesVersion(ctx); v != v1 {
			t.Fatalf("version %d after a write that changed nothing, want %d", v, v1)
		}
		if _, err := s.FeatureSnapshot(ctx, "ratings/x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a snapshot never saved: %v", err)
		}
		snap := store.FeatureSnapshot{Key: "ratings/x", MatchesVersion: v1, State: []byte{0, 1, 2, 255}, Meta: []byte(`{"a":1}`), CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		if err := s.SaveFeatureSnapshot(ctx, snap); err != nil {
			t.Fatal(err)
		}
		snap.MatchesVersion, snap.State = v1+1, []byte("newer")
		if err := s.SaveFeatureSnapshot(ctx, snap); err != nil {
			t.Fatal(err)
		}
		got, err := s.FeatureSnapshot(ctx, "ratings/x")
		if err != nil || !reflect.DeepEqual(got, snap) {
			t.Fatalf("snapshot read back as %+v (%v), want %+v", got, err, snap)
		}
	})

	t.Run("finished digest", func(t *testing.T) {
		s := open(t)
		_, empty, err := s.FinishedDigest(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ctx, batch("r1", league)); err != nil {
			t.Fatal(err)
		}
		mid := league[len(league)/2].Kickoff
		everyOne, all, _ := s.FinishedDigest(ctx, time.Time{})
		before, sameAll, _ := s.FinishedDigest(ctx, mid)
		if everyOne != all || sameAll != all {
			t.Fatalf("the digest of every match: %s without a cut (before it: %s), %s with one", all, everyOne, sameAll)
		}
		if all == empty || before == all || before == empty {
			t.Fatalf("digests: empty %s, all %s, before the middle %s: want three different", empty, all, before)
		}
		// A correction after the cut changes the whole history's digest, not the earlier part's.
		late := league[len(league)-1]
		late.HomeGoals++
		late.Result = soccer.ResultOf(late.HomeGoals, late.AwayGoals)
		if _, err := s.Apply(ctx, batch("r2", []soccer.Match{late})); err != nil {
			t.Fatal(err)
		}
		if d, whole, _ := s.FinishedDigest(ctx, mid); d != before || whole == all {
			t.Fatal("a change after the cut changed the digest before it, or left the whole history's as it was")
		}
		// A correction before it changes both.
		early := league[0]
		early.AwayGoals++
		early.Result = soccer.ResultOf(early.HomeGoals, early.AwayGoals)
		if _, err := s.Apply(ctx, batch("r3", []soccer.Match{early})); err != nil {
			t.Fatal(err)
		}
		if d, _, _ := s.FinishedDigest(ctx, mid); d == before {
			t.Fatal("a corrected score before the cut left its digest as it was")
		}
	})

	t.Run("fixtures without a result", func(t *testing.T) {
		s := open(t)
		f := soccer.Match{ID: "syn-next", Competition: "SYN", Season: "2223", Kickoff: time.Date(2023, 8, 12, 14, 0, 0, 0, time.UTC),
			HomeTeam: "Team A", AwayTeam: "Team B", Status: soccer.Scheduled, Origin: "SYN/2223.csv:2"}
		if _, err := s.Apply(ctx, batch("r1", []soccer.Match{f})); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Matches(ctx, store.MatchQuery{Status: soccer.Scheduled})
		if len(got) != 1 || !reflect.DeepEqual(got[0], store.Normalize(f)) {
			t.Fatalf("fixture read back as %+v", got)
		}
	})

	t.Run("quarantine keeps rows once", func(t *testing.T) {
		s := open(t)
		q := []store.QuarantinedRow{
			{File: "SYN/all.csv", Line: 7, MatchID: "x", Reasons: []string{"expect_column_values_to_be_between(column=home_goals, min_value=0)"}, Raw: `{"HomeGoals":-1}`},
			{File: "SYN/all.csv", Line: 9, Reasons: []string{`column FTHG: "two" is not a whole number of goals`}, Raw: "E0,two"},
		}
		b := batch("r1", league[:2])
		b.Quarantine = q
		a, err := s.Apply(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if a.Quarantined != 2 || a.Loaded != 2 {
			t.Fatalf("applied %+v", a)
		}
		b.RunID = "r2"
		if _, err := s.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		rows, err := s.Quarantined(ctx, store.QuarantineQuery{Source: "synthetic"})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 {
			t.Fatalf("%d quarantined rows after the same batch twice, want 2", len(rows))
		}
		if rows[0].Line != 7 || rows[0].FirstRun != "r1" || rows[0].LastRun != "r2" || rows[0].Raw != q[0].Raw || rows[0].Reasons[0] != q[0].Reasons[0] {
			t.Fatalf("row %+v", rows[0])
		}
		if rows, _ := s.Quarantined(ctx, store.QuarantineQuery{RunID: "r2"}); len(rows) != 2 {
			t.Fatalf("%d rows seen in r2, want 2", len(rows))
		}
	})

	t.Run("a failing batch writes nothing", func(t *testing.T) {
		s := open(t)
		dup := append([]soccer.Match{}, league[:5]...)
		dup = append(dup, league[0])
		b := batch("r1", dup)
		b.Quarantine = []store.QuarantinedRow{{File: "f", Line: 1, Reasons: []string{"x"}, Raw: "y"}}
		if _, err := s.Apply(ctx, b); err == nil || !strings.Contains(err.Error(), league[0].ID) {
			t.Fatalf("err = %v, want it to name the duplicated match", err)
		}
		n, _ := s.CountMatches(ctx, store.MatchQuery{})
		rows, _ := s.Quarantined(ctx, store.QuarantineQuery{})
		if n != 0 || len(rows) != 0 {
			t.Fatalf("a failed batch left %d matches and %d quarantined rows", n, len(rows))
		}
	})

	t.Run("registry", func(t *testing.T) { checkRegistry(t, open(t)) })
	t.Run("generations, audit and experiments", func(t *testing.T) { checkGenerations(t, open(t)) })
	t.Run("api keys", func(t *testing.T) { checkKeys(t, open(t)) })
	t.Run("jobs and outbox", func(t *testing.T) { checkJobs(t, open(t)) })
	t.Run("jobs created claimed", func(t *testing.T) { checkClaimedJobs(t, open(t)) })
	t.Run("outbox claims", func(t *testing.T) { checkOutboxClaims(t, open(t)) })
	t.Run("idempotency keys", func(t *testing.T) { checkIdempotency(t, open(t)) })
	t.Run("webhook callbacks", func(t *testing.T) { checkCallbacks(t, open(t)) })
	t.Run("jobs in batches", func(t *testing.T) { checkJobBatches(t, open(t)) })
	t.Run("forecast log", func(t *testing.T) { checkForecastLog(t, open(t)) })
	t.Run("model references", func(t *testing.T) { checkReferences(t, open(t)) })

	t.Run("ingest runs", func(t *testing.T) {
		s := open(t)
		start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		r := store.IngestRun{ID: "r1", Source: "footballdata", StartedAt: start, FinishedAt: start.Add(time.Second), Files: 2, Read: 10,
			Applied: store.Applied{Loaded: 8, Quarantined: 2}}
		if err := s.RecordRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Error = "plugin died"
		if err := s.RecordRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r2 := r
		r2.ID, r2.StartedAt, r2.Error = "r2", start.Add(time.Hour), ""
		if err := s.RecordRun(ctx, r2); err != nil {
			t.Fatal(err)
		}
		runs, err := s.Runs(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2 || runs[0].ID != "r2" || !reflect.DeepEqual(runs[1], r) {
			t.Fatalf("runs %+v, want r2 then %+v", runs, r)
		}
	})
}

func checkRegistry(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.Alias(ctx, "champion"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("champion of an empty registry: %v, want ErrNotFound", err)
	}
	sig := model.Signature{Inputs: []soccer.Column{{Name: "elo_diff", Type: "double"}}, Outputs: model.Outputs}
	v1, err := s.RegisterModel(ctx, store.ModelVersion{Name: "onnx-logreg", ModelPlugin: "onnx", Artifact: []byte("model one"),
		Signature: sig, FeaturePlugin: "ratings", FeatureSchemaVersion: "ratings-1", Params: json.RawMessage(`{"l2": 0.001}`),
		Metrics: map[string]float64{"train_log_loss": 0.98}, TrainingDataHash: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.RegisterModel(ctx, store.ModelVersion{Name: "onnx-gbt", ModelPlugin: "onnx", Artifact: []byte("model two"), Signature: sig})
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v2.Version != 2 || v1.ArtifactSHA256 == v2.ArtifactSHA256 {
		t.Fatalf("versions %d, %d", v1.Version, v2.Version)
	}
	if err := s.SetAlias(ctx, "champion", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAlias(ctx, "champion", 9); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("alias to a missing version: %v", err)
	}
	got, err := s.Alias(ctx, "champion")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || string(got.Artifact) != "model one" || !reflect.DeepEqual(got.Signature, sig) || got.Metrics["train_log_loss"] != 0.98 ||
		got.FeatureSchemaVersion != "ratings-1" || got.TrainingDataHash != "abc" || got.CreatedAt.IsZero() {
		t.Fatalf("champion = %+v", got)
	}
	var params map[string]float64
	if err := json.Unmarshal(got.Params, &params); err != nil || params["l2"] != 0.001 {
		t.Fatalf("params %s: %v", got.Params, err)
	}
	s.SetAlias(ctx, "champion", 2)
	if got, _ := s.Alias(ctx, "champion"); got.Version != 2 {
		t.Fatalf("champion after re-pointing = %d", got.Version)
	}
	list, err := s.ModelVersions(ctx)
	if err != nil || len(list) != 2 || list[0].Version != 2 || list[0].Artifact != nil {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func checkGenerations(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.CurrentGeneration(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("generation of an empty store: %v", err)
	}
	for _, a := range []string{"one", "two"} {
		if _, err := s.RegisterModel(ctx, store.ModelVersion{Name: a, ModelPlugin: "onnx", Artifact: []byte(a)}); err != nil {
			t.Fatal(err)
		}
	}
	g1, err := s.Promote(ctx, store.Promotion{Alias: store.Champion, Version: 1, Action: "bootstrap", Actor: "test", PluginDigest: "d1"})
	if err != nil || g1.ID != 1 || g1.CacheNamespace != "g1-v1" {
		t.Fatalf("first generation %+v, %v", g1, err)
	}
	if g, err := s.Promote(ctx, store.Promotion{Alias: "challenger", Version: 2, Action: "register", Actor: "test"}); err != nil || g.ID != 0 {
		t.Fatalf("a challenger made generation %+v, %v", g, err)
	}
	g2, err := s.Promote(ctx, store.Promotion{Alias: store.Champion, Version: 2, Action: "promote", Actor: "ops", Forced: true,
		Reason: "hotfix", PluginDigest: "d2", Details: map[string]any{"rps": 0.19}})
	if err != nil || g2.ID != 2 || g2.Version != 2 {
		t.Fatalf("second generation %+v, %v", g2, err)
	}
	if _, err := s.Promote(ctx, store.Promotion{Alias: store.Champion, Version: 7, Action: "promote"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("promoting a missing version: %v", err)
	}
	cur, err := s.CurrentGeneration(ctx)
	if err != nil || cur.ID != 2 || cur.PluginDigest != "d2" || cur.CreatedAt.IsZero() {
		t.Fatalf("current %+v, %v", cur, err)
	}
	if champ, _ := s.Alias(ctx, store.Champion); champ.Version != 2 {
		t.Fatalf("champion alias at %d after promotion", champ.Version)
	}
	hist, _ := s.GenerationHistory(ctx, 10)
	if len(hist) != 2 || hist[1].ID != 1 {
		t.Fatalf("history %+v", hist)
	}
	audit, err := s.Audit(ctx, 10)
	if err != nil || len(audit) != 3 {
		t.Fatalf("audit %+v, %v", audit, err)
	}
	last := audit[0]
	var details map[string]float64
	json.Unmarshal(last.Details, &details)
	if last.Action != "promote" || !last.Forced || last.Reason != "hotfix" || last.FromVersion != 1 || last.ToVersion != 2 || last.Generation != 2 || details["rps"] != 0.19 {
		t.Fatalf("audit entry %+v", last)
	}
	if audit[2].FromVersion != 0 || audit[1].Generation != 0 {
		t.Fatalf("older entries %+v", audit[1:])
	}

	run := store.ExperimentRun{ID: "x1", Kind: "train", StartedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		FinishedAt: time.Date(2026, 11, 25, 10, 0, 3, 0, time.UTC), Params: json.RawMessage(`{"l2":0.001}`),
		Metrics: map[string]float64{"rps": 0.19}, DatasetHash: "h", GitCommit: "abc",
		Plugins: []store.PluginInfo{{Name: "onnx", Kind: "model", Version: "1.0.0", SHA256: "d"}}, ModelVersion: 2}
	if err := s.RecordExperiment(ctx, run); err != nil {
		t.Fatal(err)
	}
	got, err := s.Experiment(ctx, "x1")
	var params map[string]float64
	json.Unmarshal(got.Params, &params)
	if err != nil || params["l2"] != 0.001 || got.Metrics["rps"] != 0.19 || got.Plugins[0] != run.Plugins[0] || got.ModelVersion != 2 || !got.FinishedAt.Equal(run.FinishedAt) {
		t.Fatalf("experiment %+v, %v", got, err)
	}
	if _, err := s.Experiment(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
	if got.Report != nil {
		t.Fatalf("a run recorded without a report reads back with one: %s", got.Report)
	}
	ev := run
	ev.ID, ev.Kind, ev.StartedAt, ev.Report = "x2", "evaluate", run.StartedAt.Add(time.Hour), json.RawMessage(`{"competition":"E0","seasons":[]}`)
	if err := s.RecordExperiment(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Experiment(ctx, "x2"); err != nil || string(got.Report) != string(ev.Report) {
		t.Fatalf("evaluate run's report: %s, %v", got.Report, err)
	}
	if list, _ := s.Experiments(ctx, 5); len(list) != 2 || list[0].ID != "x2" {
		t.Fatalf("experiments %+v", list)
	}
}

func checkKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := store.APIKey{ID: "k1", Name: "dashboard", Hash: "h1", Scopes: []string{"predict"}, RatePerMinute: 600}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, store.APIKey{ID: "k2", Name: "dup", Hash: "h1", Scopes: []string{}}); err == nil {
		t.Fatal("two keys with one hash")
	}
	got, err := s.KeyByHash(ctx, "h1")
	if err != nil || got.Name != "dashboard" || got.Scopes[0] != "predict" || got.RatePerMinute != 600 || got.CreatedAt.IsZero() {
		t.Fatalf("key %+v, %v", got, err)
	}
	if err := s.RevokeKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KeyByHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a revoked key still authenticates: %v", err)
	}
	if err := s.RevokeKey(ctx, "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	list, _ := s.ListKeys(ctx)
	if len(list) != 1 || list[0].RevokedAt.IsZero() {
		t.Fatalf("keys %+v", list)
	}
}

func checkIdempotency(t *testing.T, s store.Store) {
	ctx := context.Background()
	job := func(id, owner, key string) store.Job {
		return store.Job{ID: id, Owner: owner, IdempotencyKey: key, RequestHash: "h-" + id, Request: json.RawMessage(`{}`)}
	}
	first, created, err := s.CreateJobOnce(ctx, job("i1", "k1", "order-7"), time.Hour)
	if err != nil || !created || first.ID != "i1" || first.IdempotencyKey != "order-7" || first.RequestHash != "h-i1" {
		t.Fatalf("first: %+v %v %v", first, created, err)
	}
	again, created, err := s.CreateJobOnce(ctx, job("i2", "k1", "order-7"), time.Hour)
	if err != nil || created || again.ID != "i1" {
		t.Fatalf("the same key again: %+v created=%v %v, want job i1", again, created, err)
	}
	if _, err := s.Job(ctx, "i2"); err == nil {
		t.Fatal("a second job was stored for the same key")
	}
	if other, created, _ := s.CreateJobOnce(ctx, job("i3", "k2", "order-7"), time.Hour); !created || other.ID != "i3" {
		t.Fatal("another owner's same key made no job of its own")
	}
	if renewed, created, _ := s.CreateJobOnce(ctx, job("i4", "k1", "order-7"), time.Nanosecond); !created || renewed.ID != "i4" {
		t.Fatalf("an expired key was not released: %+v", renewed)
	}
	// Two replicas at once: one job.
	var wg sync.WaitGroup
	var made atomic.Int32
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, c, err := s.CreateJobOnce(ctx, job(fmt.Sprintf("r%d", i), "k1", "race"), time.Hour); err != nil {
				t.Error(err)
			} else if c {
				made.Add(1)
			}
		}()
	}
	wg.Wait()
	if made.Load() != 1 {
		t.Fatalf("%d jobs made for one key by concurrent calls", made.Load())
	}
}

// checkClaimedJobs: jobs created with a relay lease are their creator's to
// publish: no outbox claim returns them until the lease passes or they are
// given back; a worker's start marks a job published; marking skips the
// jobs already marked.
func checkClaimedJobs(t *testing.T, s store.Store) {
	ctx := context.Background()
	job := func(id string, lease time.Duration) store.Job {
		return store.Job{ID: id, Request: json.RawMessage(`{}`), RelayLease: lease}
	}
	// Mixed leases in one call (one statement): each job keeps its own.
	if err := s.CreateJobs(ctx, job("c1", time.Minute), job("c2", time.Minute), job("u1", 0), job("c3", time.Minute)); err != nil {
		t.Fatal(err)
	}
	ids := func(jobs []store.Job) []string {
		var out []string
		for _, j := range jobs {
			out = append(out, j.ID)
		}
		return out
	}
	if out, err := s.Outbox(ctx, 10, time.Minute); err != nil || !slices.Equal(ids(out), []string{"u1"}) {
		t.Fatalf("outbox claim with c1…c3 created claimed: %v, %v; want only u1", ids(out), err)
	}
	if err := s.ReleaseOutbox(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if out, err := s.Outbox(ctx, 10, time.Minute); err != nil || !slices.Equal(ids(out), []string{"c2"}) {
		t.Fatalf("outbox claim after c2 was given back: %v, %v; want c2", ids(out), err)
	}
	if ok, err := s.StartJob(ctx, "c1"); !ok || err != nil {
		t.Fatalf("start c1: %v %v", ok, err)
	}
	if j, _ := s.Job(ctx, "c1"); !j.Published {
		t.Fatal("a started job is not marked published")
	}
	if err := s.MarkPublished(ctx, "c1", "c3"); err != nil {
		t.Fatal(err)
	}
	if j, _ := s.Job(ctx, "c3"); !j.Published {
		t.Fatal("c3 was not marked published")
	}
	// Expired: a lease of 1 µs has passed by the next statement.
	if err := s.CreateJobs(ctx, job("e1", time.Microsecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if out, err := s.Outbox(ctx, 10, time.Minute); err != nil || !slices.Equal(ids(out), []string{"e1"}) {
		t.Fatalf("outbox claim after e1's lease passed: %v, %v; want e1", ids(out), err)
	}
}

func checkJobs(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"j1", "j2", "j3", "j4"} {
		if err := s.CreateJob(ctx, store.Job{ID: id, Request: json.RawMessage(`{"home_team":"Arsenal"}`), Owner: "key-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if j, err := s.Job(ctx, "j2"); err != nil || j.Owner != "key-j2" {
		t.Fatalf("job j2: owner %q, %v; want the creating key", j.Owner, err)
	}
	out, err := s.Outbox(ctx, 10, 0)
	if err != nil || len(out) != 4 || out[0].ID != "j1" || out[0].Status != store.JobQueued || out[0].Published {
		t.Fatalf("outbox %+v, %v", out, err)
	}
	if err := s.MarkPublished(ctx, "j1"); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.Outbox(ctx, 10, 0); len(out) != 3 || out[0].ID != "j2" {
		t.Fatalf("outbox after publishing j1: %+v", out)
	}
	if err := s.MarkPublished(ctx, "j3", "j4", "j1"); err != nil { // several at once; j1 again is no error
		t.Fatal(err)
	}
	if out, _ := s.Outbox(ctx, 10, 0); len(out) != 1 || out[0].ID != "j2" {
		t.Fatalf("outbox after publishing j3 and j4 together: %+v", out)
	}
	// queued → running (twice: a redelivery) → done; a queued job cancels,
	// a running or finished one does not, and a cancelled one never runs.
	for range 2 {
		if ok, err := s.StartJob(ctx, "j3"); !ok || err != nil {
			t.Fatalf("start j3: %v %v", ok, err)
		}
	}
	j3, _ := s.Job(ctx, "j3")
	if j3.Status != store.JobRunning || j3.Attempts != 2 || j3.StartedAt == nil || j3.FinishedAt != nil {
		t.Fatalf("j3 after two starts: %s, %d attempts, started %v, finished %v", j3.Status, j3.Attempts, j3.StartedAt, j3.FinishedAt)
	}
	if ok, _ := s.CancelJob(ctx, "j3"); ok {
		t.Fatal("a running job was cancelled")
	}
	if ok, err := s.FinishJob(ctx, "j3", json.RawMessage(`{"home":0.4}`), ""); !ok || err != nil {
		t.Fatalf("finish running j3: %v %v", ok, err)
	}
	if ok, err := s.CancelJob(ctx, "j4"); !ok || err != nil {
		t.Fatalf("cancel queued j4: %v %v", ok, err)
	}
	if ok, _ := s.StartJob(ctx, "j4"); ok {
		t.Fatal("a cancelled job was started")
	}
	if ok, _ := s.FinishJob(ctx, "j4", json.RawMessage(`{"home":0.4}`), ""); ok {
		t.Fatal("a cancelled job was finished")
	}
	if j, _ := s.Job(ctx, "j4"); j.Status != store.JobCancelled {
		t.Fatalf("j4: %s, want cancelled", j.Status)
	}
	first, err := s.FinishJob(ctx, "j1", json.RawMessage(`{"home":0.5}`), "")
	if err != nil || !first {
		t.Fatalf("finish: %v %v", first, err)
	}
	if again, _ := s.FinishJob(ctx, "j1", json.RawMessage(`{"home":0.9}`), ""); again {
		t.Fatal("a finished job was finished again (a redelivery overwrote the result)")
	}
	j, err := s.Job(ctx, "j1")
	var res map[string]float64
	json.Unmarshal(j.Result, &res)
	if err != nil || j.Status != store.JobSucceeded || res["home"] != 0.5 || !j.Published || j.FinishedAt == nil || j.CallbackState != "" {
		t.Fatalf("job %+v, %v", j, err)
	}
	if j3, _ := s.Job(ctx, "j3"); j3.StartedAt == nil || j3.FinishedAt == nil || j3.FinishedAt.Before(*j3.StartedAt) {
		t.Fatalf("j3 finished: started %v, finished %v", j3.StartedAt, j3.FinishedAt)
	}
	s.FinishJobs(ctx, store.JobEnd{ID: "j2", Error: "no such team", ErrorKind: "not-found"})
	if j, _ := s.Job(ctx, "j2"); j.Status != store.JobFailed || j.Error != "no such team" || j.ErrorKind != "not-found" || j.Result != nil {
		t.Fatalf("failed job %+v", j)
	}
	if out, _ := s.Outbox(ctx, 10, 0); len(out) != 0 {
		t.Fatalf("finished jobs in the outbox: %+v", out)
	}
	if _, err := s.Job(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing job: %v", err)
	}
	// Jobs stuck beyond an age are failed; finished and cancelled ones are left.
	if err := s.CreateJob(ctx, store.Job{ID: "j5", Request: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.FailStale(ctx, time.Now().Add(-time.Hour), "unavailable", "too old"); err != nil || n != 0 {
		t.Fatalf("nothing is an hour old yet: %d %v", n, err)
	}
	if n, err := s.FailStale(ctx, time.Now().Add(time.Second), "unavailable", "too old"); err != nil || n != 1 {
		t.Fatalf("fail stale: %d %v, want j5 only", n, err)
	}
	if j, _ := s.Job(ctx, "j5"); j.Status != store.JobFailed || j.Error != "too old" || j.ErrorKind != "unavailable" {
		t.Fatalf("j5 after the sweep: %+v", j)
	}
}

// checkOutboxClaims: relays draining at once (serve replicas) claim
// disjoint pages, so no job is handed to the queue twice; a claim that is
// not marked published frees itself when its lease passes.
func checkOutboxClaims(t *testing.T, s store.Store) {
	ctx := context.Background()
	var all []store.Job
	for i := range 200 {
		all = append(all, store.Job{ID: fmt.Sprintf("c%03d", i), Request: json.RawMessage(`{}`)})
	}
	if err := s.CreateJobs(ctx, all...); err != nil {
		t.Fatal(err)
	}
	claimed := make(chan []store.Job, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []store.Job
			for {
				page, err := s.Outbox(ctx, 7, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if len(page) == 0 {
					break
				}
				for i := 1; i < len(page); i++ {
					if page[i].ID < page[i-1].ID {
						t.Errorf("a claimed page out of order: %s before %s", page[i-1].ID, page[i].ID)
					}
				}
				mine = append(mine, page...)
			}
			claimed <- mine
		}()
	}
	wg.Wait()
	close(claimed)
	seen := map[string]int{}
	for mine := range claimed {
		for _, j := range mine {
			seen[j.ID]++
		}
	}
	for _, j := range all {
		if seen[j.ID] != 1 {
			t.Fatalf("job %s claimed %d times by 8 concurrent relays; want once", j.ID, seen[j.ID])
		}
	}
	if out, err := s.Outbox(ctx, 10, 0); err != nil || len(out) != 0 {
		t.Fatalf("claimed jobs still listed as unclaimed: %d, %v", len(out), err)
	}
	// A short claim that is never marked published comes back after its
	// lease; marked ones do not.
	if err := s.CreateJobs(ctx, store.Job{ID: "d1", Request: json.RawMessage(`{}`)}, store.Job{ID: "d2", Request: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if page, err := s.Outbox(ctx, 10, 50*time.Millisecond); err != nil || len(page) != 2 {
		t.Fatalf("claim d1, d2: %d, %v", len(page), err)
	}
	if err := s.MarkPublished(ctx, "d1"); err != nil {
		t.Fatal(err)
	}
	// A released claim (its publish failed) is taken again at once.
	if err := s.ReleaseOutbox(ctx, "d2", "d1"); err != nil {
		t.Fatal(err)
	}
	if page, _ := s.Outbox(ctx, 10, 50*time.Millisecond); len(page) != 1 || page[0].ID != "d2" {
		t.Fatalf("after releasing d2: %+v, want d2 (d1 is published)", page)
	}
	if page, _ := s.Outbox(ctx, 10, time.Minute); len(page) != 0 {
		t.Fatalf("a claim in its lease was taken again: %+v", page)
	}
	time.Sleep(100 * time.Millisecond)
	if page, _ := s.Outbox(ctx, 10, time.Minute); len(page) != 1 || page[0].ID != "d2" {
		t.Fatalf("after the lease: %+v, want d2 again (d1 is published)", page)
	}
}

func checkJobBatches(t *testing.T, s store.Store) {
	ctx := context.Background()
	var batch []store.Job
	for _, id := range []string{"b1", "b2", "b3", "b4"} {
		batch = append(batch, store.Job{ID: id, Request: json.RawMessage(`{"home_team":"` + id + `"}`), Owner: "k", CallbackURL: map[bool]string{true: "https://h.example/" + id}[id == "b4"]})
	}
	if err := s.CreateJobs(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateJobs(ctx, store.Job{ID: "b5", Request: json.RawMessage(`{}`)}, store.Job{ID: "b1", Request: json.RawMessage(`{}`)}); err == nil {
		t.Fatal("a batch with an existing ID was created")
	}
	if _, err := s.Job(ctx, "b5"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("half a failed batch was written: b5 %v", err)
	}
	if out, _ := s.Outbox(ctx, 10, 0); len(out) != 4 {
		t.Fatalf("outbox after a batch of 4: %d", len(out))
	}
	s.CancelJob(ctx, "b3")
	started, err := s.StartJobs(ctx, store.JobStart{ID: "b1", Run: "r1"}, store.JobStart{ID: "b2", Run: "r2"}, store.JobStart{ID: "b3"}, store.JobStart{ID: "nope"})
	if err != nil || len(started) != 2 {
		t.Fatalf("started %d, %v; want b1 and b2 (b3 is cancelled, nope missing)", len(started), err)
	}
	for _, j := range started {
		if j.Status != store.JobRunning || j.Attempts != 1 || j.StartedAt == nil || string(j.Request) == "" || j.Owner != "k" {
			t.Fatalf("started %+v", j)
		}
	}
	// The same run's start again (its answer was lost) is not a second
	// attempt; another run's start (a redelivery) is.
	again, err := s.StartJobs(ctx, store.JobStart{ID: "b1", Run: "r1"}, store.JobStart{ID: "b2", Run: "r9"})
	if err != nil || len(again) != 2 {
		t.Fatalf("started again %d, %v", len(again), err)
	}
	for _, j := range again {
		if want := map[string]int{"b1": 1, "b2": 2}[j.ID]; j.Attempts != want {
			t.Fatalf("%s after a start retried by its run (b1) or by another run (b2): %d attempts, want %d", j.ID, j.Attempts, want)
		}
	}
	ended, err := s.FinishJobs(ctx,
		store.JobEnd{ID: "b1", Result: json.RawMessage(`{"home":0.5}`)},
		store.JobEnd{ID: "b2", Error: "bad fixture"},
		store.JobEnd{ID: "b3", Result: json.RawMessage(`{"home":0.5}`)}, // cancelled: stays so
		store.JobEnd{ID: "b4", Result: json.RawMessage(`{"home":0.6}`)}, // queued: a redelivery may end it
	)
	if err != nil || len(ended) != 3 {
		t.Fatalf("ended %d, %v; want b1, b2, b4", len(ended), err)
	}
	byID := map[string]store.Job{}
	for _, j := range ended {
		byID[j.ID] = j
	}
	var res map[string]float64
	json.Unmarshal(byID["b1"].Result, &res)
	if j := byID["b1"]; j.Status != store.JobSucceeded || res["home"] != 0.5 || j.FinishedAt == nil || j.CallbackState != "" {
		t.Fatalf("b1 %+v", j)
	}
	if j := byID["b2"]; j.Status != store.JobFailed || j.Error != "bad fixture" || j.Result != nil {
		t.Fatalf("b2 %+v", j)
	}
	if j := byID["b4"]; j.Status != store.JobSucceeded || j.CallbackState != store.CallbackPending {
		t.Fatalf("b4 %+v: its callback is due", j)
	}
	if again, _ := s.FinishJobs(ctx, store.JobEnd{ID: "b1", Error: "late"}); len(again) != 0 {
		t.Fatal("a finished job was finished again")
	}
	if j, _ := s.Job(ctx, "b3"); j.Status != store.JobCancelled {
		t.Fatalf("b3 %s", j.Status)
	}
	// Jobs reads several at once, each as Job reads it; an unknown ID is
	// left out.
	read, err := s.Jobs(ctx, "b4", "b1", "nope", "b3", "b2")
	if err != nil || len(read) != 4 {
		t.Fatalf("Jobs read %d, %v; want b1 to b4", len(read), err)
	}
	for _, j := range read {
		one, err := s.Job(ctx, j.ID)
		if err != nil || !reflect.DeepEqual(one, j) {
			t.Fatalf("Jobs read %+v, Job reads %+v (%v)", j, one, err)
		}
	}
	if none, err := s.Jobs(ctx); err != nil || len(none) != 0 {
		t.Fatalf("Jobs of no IDs: %v, %v", none, err)
	}
}

func checkCallbacks(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		if err := s.CreateJob(ctx, store.Job{ID: id, Request: json.RawMessage(`{}`), CallbackURL: "https://hooks.example.com/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateJob(ctx, store.Job{ID: "c5", Request: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if j, _ := s.Job(ctx, "c1"); j.CallbackURL != "https://hooks.example.com/c1" || j.CallbackState != "" {
		t.Fatalf("c1 before it ends: %q %q", j.CallbackURL, j.CallbackState)
	}
	now := time.Now()
	if got, err := s.ClaimCallbacks(ctx, now.Add(time.Hour), time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("claimed %d callbacks of unfinished jobs, %v", len(got), err)
	}
	// Every ending makes the callback due: success, failure, cancel; a job
	// without a URL has none.
	s.FinishJob(ctx, "c1", json.RawMessage(`{"home":0.5}`), "")
	s.FinishJob(ctx, "c2", nil, "bad fixture")
	s.CancelJob(ctx, "c3")
	s.FinishJob(ctx, "c5", json.RawMessage(`{"home":0.5}`), "")
	got, err := s.ClaimCallbacks(ctx, time.Now().Add(time.Second), time.Minute, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("claimed %d callbacks, %v; want c1, c2, c3", len(got), err)
	}
	for _, j := range got {
		if j.CallbackState != store.CallbackPending || j.CallbackURL == "" || j.FinishedAt == nil {
			t.Fatalf("claimed %+v", j)
		}
	}
	// Claimed ones are not handed out again within the lease, and are after it.
	if again, _ := s.ClaimCallbacks(ctx, time.Now().Add(2*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("claimed %d callbacks twice within the lease", len(again))
	}
	if again, _ := s.ClaimCallbacks(ctx, time.Now().Add(2*time.Minute), time.Minute, 2); len(again) != 2 {
		t.Fatalf("claimed %d callbacks after the lease with limit 2", len(again))
	}
	// c1: refused once, then delivered; c2: refused until given up.
	at := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.RecordCallback(ctx, "c1", store.CallbackAttempt{At: at, Error: "connection refused", Duration: 3 * time.Millisecond}, false, at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordCallback(ctx, "c1", store.CallbackAttempt{At: at.Add(time.Second), StatusCode: 204, Duration: 1500 * time.Microsecond}, true, time.Time{}); err != nil {
		t.Fatal(err)
	}
	s.RecordCallback(ctx, "c2", store.CallbackAttempt{At: at, StatusCode: 500}, false, time.Time{})
	c1, err := s.Job(ctx, "c1")
	if err != nil || c1.CallbackState != store.CallbackDelivered || c1.CallbackAttempts != 2 || len(c1.Callbacks) != 2 {
		t.Fatalf("c1 after delivery: %+v, %v", c1, err)
	}
	if a := c1.Callbacks[0]; a.Attempt != 1 || a.StatusCode != 0 || a.Error != "connection refused" || !a.At.Equal(at) || a.Duration != 3*time.Millisecond {
		t.Fatalf("c1 attempt 1: %+v", a)
	}
	if a := c1.Callbacks[1]; a.Attempt != 2 || a.StatusCode != 204 || a.Duration != 1500*time.Microsecond {
		t.Fatalf("c1 attempt 2: %+v", a)
	}
	// A late attempt of another replica does not unsettle a delivered callback.
	s.RecordCallback(ctx, "c1", store.CallbackAttempt{At: at, StatusCode: 503}, false, at.Add(time.Minute))
	if c1, _ := s.Job(ctx, "c1"); c1.CallbackState != store.CallbackDelivered || len(c1.Callbacks) != 3 {
		t.Fatalf("c1 after a late failed attempt: %s, %d attempts", c1.CallbackState, len(c1.Callbacks))
	}
	if c2, _ := s.Job(ctx, "c2"); c2.CallbackState != store.CallbackFailed || len(c2.Callbacks) != 1 || c2.Callbacks[0].StatusCode != 500 {
		t.Fatalf("c2 given up: %+v", c2)
	}
	// Only c3 is still pending.
	left, err := s.ClaimCallbacks(ctx, time.Now().Add(time.Hour), time.Minute, 10)
	if err != nil || len(left) != 1 || left[0].ID != "c3" {
		t.Fatalf("pending after the deliveries: %d, %v; want c3", len(left), err)
	}
}

func countBefore(ms []soccer.Match, t time.Time) int {
	n := 0
	for _, m := range ms {
		if m.Kickoff.Before(t) {
			n++
		}
	}
	return n
}
