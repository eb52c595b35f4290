package footballdata_test

import (
	"context"
	"fmt"

	"github.com/soccerpredict/soccerpredict/plugins/sources/footballdata"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

func Example() {
	env, _ := plugin.NewEnv("footballdata", map[string]any{"dir": "../../../data/football-data"})
	src, err := footballdata.New(context.Background(), env)
	if err != nil {
		panic(err)
	}
	resp, err := source.Collect(context.Background(), src, source.FetchRequest{Competitions: []string{"E0"}, Seasons: []string{"2324"}})
	if err != nil {
		panic(err)
	}
	m := resp.Matches[0]
	fmt.Println(len(resp.Matches), m.ID, m.Kickoff, m.HomeGoals, m.AwayGoals, m.Result)
	// Output: 380 e0-2324-burnley-v-man-city 2023-08-11 19:00:00 +0000 UTC 0 3 A
}
