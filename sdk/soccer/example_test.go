package soccer_test

import (
	"fmt"

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
