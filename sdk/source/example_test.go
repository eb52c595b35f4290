package source_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// jsonFile is a whole source plugin: a JSON list of results in a file.
type jsonFile struct {
	File string `json:"file"`
}

func newJSONFile(_ context.Context, env plugin.Env) (source.Source, error) {
	s := &jsonFile{}
	if err := env.Settings.Decode(s); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *jsonFile) Describe(context.Context) (source.Description, error) {
	return source.Description{Description: "results from " + s.File}, nil
}

func (s *jsonFile) Fetch(ctx context.Context, req source.FetchRequest, out source.Sink) error {
	type result struct {
		Competition, Season, Home, Away string
		Kickoff                         time.Time
		Score                           [2]int
	}
	return source.EachJSON(ctx, s.File, out, func(at string, r result) error {
		if r.Home == "" || r.Away == "" {
			return plugin.Invalid("home and away are required")
		}
		if req.Wants(r.Competition, r.Season) {
			m := soccer.NewMatch(r.Competition, r.Season, r.Kickoff, true, r.Home, r.Away).Played(r.Score[0], r.Score[1])
			m.Origin = at
			out.Match(m)
		}
		return nil
	})
}

// A source plugin's whole implementation; its main would be
// serve.Source("jsonfile", newJSONFile).
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "results.json")
	os.WriteFile(file, []byte(`[
		{"competition": "E0", "season": "2324", "kickoff": "2023-08-11T19:00:00Z", "home": "Burnley", "away": "Man City", "score": [0, 3]},
		{"competition": "E0", "season": "2324", "kickoff": "2023-08-12T11:30:00Z", "home": "Arsenal", "score": [2, 1]}
	]`), 0o644)

	env, _ := plugin.NewEnv("jsonfile", map[string]any{"file": file})
	src, _ := newJSONFile(context.Background(), env)
	resp, err := source.Collect(context.Background(), src, source.FetchRequest{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range resp.Matches {
		fmt.Println(m.ID, m.HomeGoals, m.AwayGoals, m.Result)
	}
	for _, r := range resp.Rejects {
		fmt.Println("reject", r.Location, r.Message)
	}
	fmt.Println(resp.Files[0].Rows, "records")
	// Output:
	// e0-2324-burnley-v-man-city 0 3 A
	// reject [1] home and away are required
	// 2 records
}
