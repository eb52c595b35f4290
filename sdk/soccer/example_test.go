package soccer_test

import (
	"fmt"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

func ExampleMatchID() {
	fmt.Println(soccer.MatchID("E0", "2324", "Nott'm Forest", "Man United"))
	fmt.Println(soccer.MatchID("D1", "2324", "St. Pauli", "FC Koln"))
	// Output:
	// e0-2324-nottm-forest-v-man-united
	// d1-2324-st-pauli-v-fc-koln
}

func ExampleResultOf() {
	fmt.Println(soccer.ResultOf(2, 1), soccer.ResultOf(0, 0), soccer.ResultOf(1, 3))
	// Output: H D A
}

// A source builds its matches with NewMatch (the stable ID, UTC) and Played.
func ExampleNewMatch() {
	kickoff := time.Date(2023, 8, 11, 21, 0, 0, 0, time.FixedZone("BST", 3600))
	m := soccer.NewMatch("E0", "2324", kickoff, true, "Burnley", "Man City").Played(0, 3)
	fmt.Println(m.ID, m.Kickoff.Format(time.RFC3339), m.Status, m.Result)
	// Output: e0-2324-burnley-v-man-city 2023-08-11T20:00:00Z finished A
}
