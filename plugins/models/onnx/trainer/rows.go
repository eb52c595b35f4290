package trainer

import (
	"context"
	"fmt"
	"math"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// rowSet is a training set's feature rows in one of two forms. Dense: every
// column of every row. Compact: each row holds only the columns of its
// penalty group (see penaltyPlan.groupOf), every other column being zero
// by the groups' rule. A logistic regression that is two models on
// separate rows (the ratings features' priced and unpriced regimes) reads
// about half the values, and a million matches' rows take half the memory.
type rowSet struct {
	d      int         // columns
	dense  [][]float64 // dense form
	vals   [][]float64 // compact form: vals[i][k] is column cols[member[i]][k]
	member []int       // compact form: each row's penalty group
	cols   [][]int     // compact form: each group's columns
}

func denseRows(rows [][]float64, d int) rowSet { return rowSet{d: d, dense: rows} }

func (s rowSet) len() int {
	if s.vals != nil {
		return len(s.vals)
	}
	return len(s.dense)
}

// row is row i with every column; a compact row is spread into buf (len d).
func (s rowSet) row(i int, buf []float64) []float64 {
	if s.vals == nil {
		return s.dense[i]
	}
	clear(buf)
	for k, j := range s.cols[s.member[i]] {
		buf[j] = s.vals[i][k]
	}
	return buf
}

// slice is rows lo to hi.
func (s rowSet) slice(lo, hi int) rowSet {
	out := s
	if s.vals != nil {
		out.vals, out.member = s.vals[lo:hi], s.member[lo:hi]
	} else {
		out.dense = s.dense[lo:hi]
	}
	return out
}

// rowBlock is how many values one allocation of a collected training set
// holds: rows are cut from blocks, not allocated one by one.
const rowBlock = 1 << 16

// collector gathers rows as they arrive, in the form the model needs.
type collector struct {
	set   rowSet
	block []float64
	plan  *penaltyPlan // non-nil: compact
}

func (c *collector) add(i int, r []float64) error {
	g, n := 0, len(r)
	var cols []int
	if c.plan != nil {
		var err error
		if g, err = c.plan.groupOf(i, r); err != nil {
			return err
		}
		cols = c.plan.cols[g]
		n = len(cols)
	}
	if cap(c.block)-len(c.block) < n {
		c.block = make([]float64, 0, max(rowBlock, n))
	}
	start := len(c.block)
	if c.plan != nil {
		for _, j := range cols {
			c.block = append(c.block, r[j])
		}
	} else {
		c.block = append(c.block, r...)
	}
	kept := c.block[start:len(c.block):len(c.block)]
	if c.plan != nil {
		c.set.vals, c.set.member = append(c.set.vals, kept), append(c.set.member, g)
	} else {
		c.set.dense = append(c.set.dense, kept)
	}
	return nil
}

// TrainRows is Train from rows as they arrive (model.RowTrainer): a
// logistic regression with penalty groups keeps each row's own group's
// columns only, and nothing keeps the played matches (no model here uses
// them). The fit is the one Train makes of the same rows, bit for bit.
func TrainRows(ctx context.Context, req model.TrainRequest, rows model.Rows) (model.TrainResponse, error) {
	f, err := FitRows(ctx, req, rows)
	return f.Response, err
}

// FitRows is TrainRows keeping the Go reference evaluation.
func FitRows(ctx context.Context, req model.TrainRequest, rows model.Rows) (Fitted, error) {
	p, err := parseParams(req.Params)
	if err != nil {
		return Fitted{}, err
	}
	d := len(req.Columns)
	c := collector{set: rowSet{d: d}}
	if p.Algorithm == "logreg" {
		plan, err := p.penalties(req.Columns)
		if err != nil {
			return Fitted{}, err
		}
		if len(plan.names) > 1 {
			c.plan = &plan
			c.set.cols = plan.cols
		}
	}
	var y []int
	var rowErr error
	err = rows(func(r []float64, o soccer.Result, _ *model.Played) bool {
		i := len(y)
		if len(r) != d {
			rowErr = fmt.Errorf("train: train: row %d has %d values for %d columns", i, len(r), d)
			return false
		}
		if rowErr = finite(i, r, req.Columns); rowErr != nil {
			return false
		}
		if rowErr = c.add(i, r); rowErr != nil {
			return false
		}
		y = append(y, outcomeIndex(o))
		return true
	})
	switch {
	case err != nil:
		return Fitted{}, err
	case rowErr != nil:
		return Fitted{}, rowErr
	case len(y) == 0:
		return Fitted{}, fmt.Errorf("train: train: 0 rows and 0 outcomes")
	}
	return fit(ctx, p, req.Columns, c.set, y)
}

func outcomeIndex(o soccer.Result) int {
	return map[soccer.Result]int{soccer.HomeWin: 0, soccer.Draw: 1, soccer.AwayWin: 2}[o]
}

// finite refuses a row with a value that is not a finite number.
func finite(i int, r []float64, columns []soccer.Column) error {
	for j, v := range r {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("train: train: row %d column %s is %v", i, columns[j].Name, v)
		}
	}
	return nil
}
