package replay

import (
	"context"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// plugins launches the real footballdata and two separate ratings processes.
func plugins(t *testing.T) (source.Source, features.FeatureSet, features.FeatureSet) {
	t.Helper()
	src, feat := testbin.Plugin(t, "source", "footballdata"), testbin.Plugin(t, "features", "ratings")
	cfg := map[string]config.Plugin{
		"footballdata": {Kind: "source", Path: src, SHA256: testbin.Digest(t, src), Timeout: time.Minute, StartTimeout: 20 * time.Second,
			Config: map[string]any{"dir": testbin.Data()}},
		"training": {Kind: "features", Path: feat, SHA256: testbin.Digest(t, feat), Timeout: time.Minute, StartTimeout: 20 * time.Second},
		"serving":  {Kind: "features", Path: feat, SHA256: testbin.Digest(t, feat), Timeout: time.Minute, StartTimeout: 20 * time.Second},
	}
	h, err := pluginhost.New(cfg, hclog.New(&hclog.LoggerOptions{Output: io.Discard}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	p1, _ := h.Plugin("footballdata")
	p2, _ := h.Plugin("training")
	p3, _ := h.Plugin("serving")
	return pluginhost.SourceOf(p1), pluginhost.FeaturesOf(p2), pluginhost.FeaturesOf(p3)
}

func history(t *testing.T, src source.Source) []soccer.Match {
	t.Helper()
	resp, err := source.Collect(context.Background(), src, source.FetchRequest{Competitions: []string{"E0"}, Seasons: []string{"2021", "2122", "2223"}})
	if err != nil {
		t.Fatal(err)
	}
	ms := resp.Matches
	slices.SortStableFunc(ms, func(a, b soccer.Match) int {
		if c := a.Kickoff.Compare(b.Kickoff); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ms
}

// The features replay produced for a past match equal what the serving path
// computes when the state stands at the same point: everything before that
// match day observed, in a separate plugin process.
func TestReplayEqualsServing(t *testing.T) {
	src, training, serving := plugins(t)
	ms := history(t, src)
	ctx := context.Background()
	examples, err := Replay(ctx, training, ms, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(examples) != len(ms) {
		t.Fatalf("%d examples for %d matches", len(examples), len(ms))
	}
	observed := 0
	for _, i := range []int{400, 1000, 1001, len(ms) - 1} {
		target := ms[i]
		var before []soccer.Match
		for _, m := range ms {
			if day(m.Kickoff) < day(target.Kickoff) {
				before = append(before, m)
			}
		}
		if err := Warm(ctx, serving, before[observed:]); err != nil {
			t.Fatal(err)
		}
		observed = len(before)
		bare := target.Fixture()
		bare.Odds = nil
		resp, err := serving.Compute(ctx, features.ComputeRequest{Fixtures: []soccer.Fixture{target.Fixture(), bare}})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(resp.Rows[0].Values, examples[i].Values) {
			t.Fatalf("match %s: serving computed\n%v\nreplay produced\n%v", target.ID, resp.Rows[0].Values, examples[i].Values)
		}
		// A caller without odds gets exactly the unpriced row training saw.
		if examples[i].Unpriced == nil || !reflect.DeepEqual(resp.Rows[1].Values, examples[i].Unpriced) {
			t.Fatalf("match %s: serving without odds computed\n%v\nreplay's unpriced row is\n%v", target.ID, resp.Rows[1].Values, examples[i].Unpriced)
		}
	}
	// Closing odds never reach a feature: the fixtures replay computes carry only pre-match prices.
	for _, o := range ms[0].Fixture().Odds {
		if o.Closing {
			t.Fatalf("fixture carries closing odds %+v", o)
		}
	}
}

func TestDaysRefusesDisorderAndFixtures(t *testing.T) {
	a := soccer.Match{ID: "a", Status: soccer.Finished, Kickoff: time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC)}
	b := soccer.Match{ID: "b", Status: soccer.Finished, Kickoff: time.Date(2024, 1, 1, 15, 0, 0, 0, time.UTC)}
	if _, err := Days([]soccer.Match{a, b}); err == nil || !strings.Contains(err.Error(), "b is out of kick-off order") {
		t.Fatalf("err = %v", err)
	}
	c := a
	c.Status = soccer.Scheduled
	if _, err := Days([]soccer.Match{c}); err == nil {
		t.Fatal("a fixture was replayed")
	}
	d, err := Days([]soccer.Match{b, a, a})
	if err != nil || len(d) != 2 || len(d[1]) != 2 {
		t.Fatalf("days = %v, %v", d, err)
	}
}

func TestCheckRowsCatchesALyingPlugin(t *testing.T) {
	schema := features.Schema{Version: "x", Columns: []soccer.Column{{Name: "a", Type: "double"}}}
	fx := []soccer.Fixture{{ID: "f1"}, {ID: "f2"}}
	for _, rows := range [][]features.Row{
		{{FixtureID: "f1", Values: []float64{1}}},
		{{FixtureID: "f2", Values: []float64{1}}, {FixtureID: "f1", Values: []float64{1}}},
		{{FixtureID: "f1", Values: []float64{1, 2}}, {FixtureID: "f2", Values: []float64{1}}},
	} {
		if err := CheckRows(schema, fx, rows); err == nil {
			t.Errorf("rows %+v accepted", rows)
		}
	}
}
