package trainer

import (
	"context"
	"math/rand/v2"
	"testing"
)

// Beyond the window, l2_grid chooses on the most recent rows only: the
// same choice, the same fit, as choosing on those rows alone.
func TestChooseL2OnTheMostRecentRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	rows, y := make([][]float64, 3000), make([]int, 3000)
	for i := range rows {
		rows[i] = []float64{rng.NormFloat64(), rng.NormFloat64(), float64(i) / 3000}
		y[i] = rng.IntN(3)
		if rows[i][0] > 0.8 {
			y[i] = 0
		}
	}
	grid := []float64{0.1, 1, 10}
	l2, best, fit, err := chooseL2(context.Background(), rows, y, grid, nil, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	l2Tail, bestTail, fitTail, err := chooseL2(context.Background(), rows[2000:], y[2000:], grid, nil, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if l2 != l2Tail || best != bestTail || fit.B != fitTail.B {
		t.Fatalf("windowed choice %v (%v) differs from the choice on the last 1000 rows %v (%v)", l2, best, l2Tail, bestTail)
	}
	// Without the window the walk-forward validates on another 20% of rows.
	if _, bestAll, _, err := chooseL2(context.Background(), rows, y, grid, nil, nil, len(rows)); err != nil || bestAll == best {
		t.Fatalf("without the window: validation log-loss %v (%v), the windowed one %v", bestAll, err, best)
	}
}
