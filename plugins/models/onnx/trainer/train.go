// Package trainer fits the home/draw/away models SoccerPredict's model
// runtimes serve, in Go, and exports each as an ONNX graph: MatMul, Add and
// Softmax in float64 for the multinomial logistic regression (it also exports
// its logits); one ai.onnx.ml TreeEnsembleClassifier (opset 3) with a SOFTMAX
// post-transform for gradient-boosted trees. Training is deterministic. It
// has no cgo: the ONNX Runtime plugin and the pure-Go runtime share it.
package trainer

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// ProducerVersion is written into every exported graph's producer_version.
const ProducerVersion = "1.0.0"

// Params are the training hyper-parameters (TrainRequest.Params).
type Params struct {
	// Algorithm is "logreg" (default) or "gbt".
	Algorithm string  `json:"algorithm"`
	L2        float64 `json:"l2"`
	// Unpenalized names the input columns whose logistic-regression weights
	// L2 leaves alone: with the market's log-odds here, a strong l2 shrinks
	// the model toward the (recalibrated) market, not toward base rates.
	Unpenalized []string `json:"unpenalized"`
	// Offsets names input columns that are a class's log-odds against the
	// draw ("home" or "away"): they enter the logits with weight 1, fixed,
	// and the fitted weights are corrections, so a strong l2 gives back
	// exactly that forecast (e.g. the market's) rather than base rates.
	Offsets map[string]string `json:"offsets"`
	// L2Grid, when set, chooses l2 by walk-forward inside the training set:
	// each value is fitted on the first 80% of the rows (they come in
	// kick-off order) and scored on the last 20%; the best is refitted on
	// every row. The choice is reported as the chosen_l2 metric. Beyond
	// SelectionRows rows the choice is made on the most recent SelectionRows
	// (a quarter of a million rows pins a penalty down; the refit still
	// sees every row), so its cost stops growing with the corpus.
	L2Grid []float64 `json:"l2_grid"`
	// L2Groups gives sets of columns (names, or prefixes ending in "*")
	// their own l2, each chosen from L2Grid on the validation rows in which
	// that group's columns are the non-zero ones (chosen_l2_<group>;
	// chosen_l2 is the ungrouped columns'). For a model that is several
	// models on separate rows: the market-priced rows, whose best
	// correction to the price is usually none, and the unpriced ones, whose
	// ratings are all they have. Every row must belong to one group, and
	// Intercept must be false (each group's indicator column is its
	// intercept).
	L2Groups map[string]L2Group `json:"l2_groups"`
	// L2Rule is how the ungrouped columns' l2 is chosen: "best" (default,
	// the lowest validation log-loss) or "one_se" (see L2Group.Rule).
	L2Rule string `json:"l2_rule"`
	// Intercept (default true) fits a per-class intercept. Without one a
	// group's weights do nothing on rows where its columns are zero, and a
	// group's indicator column, if it has one, is its intercept (see
	// penaltyPlan.prepare).
	Intercept *bool `json:"intercept"`
	gbtParams
}

// L2Group is one of Params.L2Groups.
type L2Group struct {
	// Columns are names, or prefixes ending in "*".
	Columns []string `json:"columns"`
	// Rule is "best" (default: the l2 with the lowest validation log-loss)
	// or "one_se": the strongest l2 whose validation log-loss is within one
	// standard error of the best's. A few hundred validation rows cannot
	// tell close penalties apart, and then the simpler model is the better
	// bet: for rows with a market price, the price itself. "strongest" is
	// the grid's strongest l2 whatever the validation rows say: a rule that
	// gives the same kind of model on every training set, so that a
	// walk-forward evaluation describes the model trained on all of them.
	Rule string `json:"rule"`
}

// DefaultParams are used for every key Params leaves out.
func DefaultParams() Params {
	return Params{Algorithm: "logreg", L2: 0.001, gbtParams: gbtParams{Rounds: 100, Depth: 2, LearningRate: 0.05, MinLeaf: 100, Bins: 64, Lambda: 5}}
}

// Fitted is a trained model: the response a model plugin returns, and the
// fitted parameters evaluated directly in Go, the reference every runtime's
// evaluation of Response.Artifact is checked against.
type Fitted struct {
	Response model.TrainResponse
	Predict  func(row []float64) [3]float64
}

// Train fits the model TrainRequest.Params describe and exports it as ONNX;
// it is model.Trainer's Train for every runtime that serves these graphs.
func Train(ctx context.Context, req model.TrainRequest) (model.TrainResponse, error) {
	f, err := Fit(ctx, req)
	return f.Response, err
}

// Fit is Train keeping the Go reference evaluation.
func Fit(ctx context.Context, req model.TrainRequest) (Fitted, error) {
	p, err := parseParams(req.Params)
	if err != nil {
		return Fitted{}, err
	}
	if len(req.Rows) == 0 || len(req.Rows) != len(req.Outcomes) {
		return Fitted{}, fmt.Errorf("train: train: %d rows and %d outcomes", len(req.Rows), len(req.Outcomes))
	}
	y := make([]int, len(req.Outcomes))
	for i, o := range req.Outcomes {
		y[i] = outcomeIndex(o)
	}
	for i, r := range req.Rows {
		if err := finite(i, r, req.Columns); err != nil {
			return Fitted{}, err
		}
	}
	return fit(ctx, p, req.Columns, denseRows(req.Rows, len(req.Columns)), y)
}

// parseParams reads TrainRequest.Params over DefaultParams.
func parseParams(params []byte) (Params, error) {
	p := DefaultParams()
	if len(bytes.TrimSpace(params)) == 0 {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Params{}, fmt.Errorf("train: train params: %w", err)
	}
	var given struct {
		L2 *float64 `json:"l2"`
	}
	json.Unmarshal(params, &given)
	if given.L2 != nil && len(p.L2Grid) > 0 {
		// l2_grid chooses l2, so the given one would be silently ignored.
		return Params{}, fmt.Errorf("train: train params: l2 %v and l2_grid %v both set: l2_grid chooses l2 by walk-forward, so give one (a single l2: l2_grid [%v])", *given.L2, p.L2Grid, *given.L2)
	}
	return p, nil
}

// fit fits the model p describes on rows (finite, one outcome each).
func fit(ctx context.Context, p Params, columns []soccer.Column, rows rowSet, y []int) (Fitted, error) {
	var (
		artifact []byte
		predict  func([]float64) [3]float64
		extra    map[string]float64
	)
	switch p.Algorithm {
	case "logreg":
		plan, err := p.penalties(columns)
		if err != nil {
			return Fitted{}, err
		}
		offset, err := p.offsets(columns)
		if err != nil {
			return Fitted{}, err
		}
		if err := plan.prepare(rows); err != nil {
			return Fitted{}, err
		}
		pen := plan.at(func(int) float64 { return p.L2 })
		var warm *logReg
		extra = map[string]float64{}
		if len(p.L2Grid) > 0 {
			chosen, best, fit, err := chooseL2(ctx, rows, y, p.L2Grid, plan, offset, SelectionRows)
			if err != nil {
				return Fitted{}, err
			}
			pen, warm = plan.at(func(g int) float64 { return chosen[g] }), fit
			for g, name := range plan.names {
				extra[metricName("chosen_l2", name)] = chosen[g]
			}
			extra["validation_log_loss"] = best
		}
		lr, err := fitLogReg(rows, y, pen, offset, warm)
		if err != nil {
			return Fitted{}, err
		}
		artifact, predict = lr.onnx(), lr.predictor()
		extra["fit_iterations"] = float64(lr.Iterations)
	case "gbt":
		g, err := fitGBT(rows.dense, y, p.gbtParams)
		if err != nil {
			return Fitted{}, err
		}
		artifact, predict = g.onnx(len(columns)), g.predict
	default:
		return Fitted{}, fmt.Errorf("train: train: algorithm %q is not logreg or gbt", p.Algorithm)
	}
	var ll float64
	buf := make([]float64, rows.d)
	for i := range rows.len() {
		ll -= math.Log(math.Max(predict(rows.row(i, buf))[y[i]], 1e-15))
	}
	metrics := map[string]float64{"train_log_loss": ll / float64(len(y)), "train_rows": float64(len(y))}
	for k, v := range extra {
		metrics[k] = v
	}
	return Fitted{Response: model.TrainResponse{
		Artifact:  artifact,
		Signature: model.Signature{Inputs: slices.Clone(columns), Outputs: model.Outputs},
		Metrics:   metrics,
	}, Predict: predict}, ctx.Err()
}

// SelectionRows bounds the rows l2_grid's walk-forward choice fits on.
const SelectionRows = 250_000

func metricName(metric, group string) string {
	if group == "" {
		return metric
	}
	return metric + "_" + group
}

// offsets are the fixed weights Params.Offsets gives raw inputs (nil: none).
func (p Params) offsets(columns []soccer.Column) ([][3]float64, error) {
	if len(p.Offsets) == 0 {
		return nil, nil
	}
	offset := make([][3]float64, len(columns))
	for name, class := range p.Offsets {
		k, ok := map[string]int{"home": 0, "away": 2}[class]
		if !ok {
			return nil, fmt.Errorf("train: train: offsets %q: %q: want \"home\" or \"away\"", name, class)
		}
		j := slices.IndexFunc(columns, func(c soccer.Column) bool { return c.Name == name })
		if j < 0 {
			return nil, fmt.Errorf("train: train: offsets %q: not one of the %d input columns", name, len(columns))
		}
		offset[j][k] = 1
	}
	return offset, nil
}

// penaltyPlan says which penalty group each column is in: 0 is the columns
// no l2_groups entry names, g > 0 the g-th group in name order.
type penaltyPlan struct {
	group     []int
	names     []string // names[0] is "" (the ungrouped columns)
	oneSE     []bool   // by group: chosen by the one-standard-error rule
	strongest []bool   // by group: the grid's strongest, whatever the validation rows say
	free      []bool
	intercept bool
	centre    []int   // penalty.Centre (nil: the intercept's, or none)
	member    []int   // by row of the training set: its group
	cols      [][]int // by group: its columns
}

// prepare finds each row's group (see rowGroups) and sets how each column
// is centred without an intercept: each
// group (the ungrouped columns too) that has an indicator column, one that
// is 1 on exactly the group's rows and 0 on every other row, has its other
// columns centred on those rows through it (see penalty.Centre); a group
// without one is scaled only. Standardising each group on its own rows
// keeps the problem well conditioned, and a row outside a group still gets
// nothing from its weights.
func (pp *penaltyPlan) prepare(rows rowSet) error {
	if rows.vals != nil {
		pp.member = rows.member // a compact set was grouped as it arrived
	} else {
		pp.member = make([]int, rows.len())
		for i, r := range rows.dense {
			g, err := pp.groupOf(i, r)
			if err != nil {
				return err
			}
			pp.member[i] = g
		}
	}
	if pp.cols == nil {
		pp.groupColumns()
	}
	if pp.intercept {
		return nil
	}
	d := len(pp.group)
	candidate := make([]bool, d)
	for j := range candidate {
		candidate[j] = true
	}
	buf := make([]float64, rows.d)
	for i := range rows.len() {
		for j, v := range rows.row(i, buf) {
			want := 0.0
			if pp.member[i] == pp.group[j] {
				want = 1
			}
			if v != want {
				candidate[j] = false
			}
		}
	}
	first := make([]int, len(pp.names)) // each group's indicator, -1: none
	for g := range first {
		first[g] = -1
	}
	for j := range d {
		if g := pp.group[j]; candidate[j] && first[g] < 0 {
			first[g] = j
		}
	}
	pp.centre = make([]int, d)
	for j := range d {
		pp.centre[j] = centreNone
		if c := first[pp.group[j]]; c >= 0 && c != j {
			pp.centre[j] = c
		}
	}
	return nil
}

// at is the penalty with l2(g) for group g's columns (free ones excepted).
func (pp penaltyPlan) at(l2 func(group int) float64) penalty {
	pen := penalty{L2: make([]float64, len(pp.group)), Intercept: pp.intercept, Centre: pp.centre, Member: pp.member, Cols: pp.cols}
	for j, g := range pp.group {
		if !pp.free[j] {
			pen.L2[j] = l2(g)
		}
	}
	return pen
}

// matchColumns returns the columns a pattern names: a name, or a prefix
// ending in "*".
func matchColumns(columns []soccer.Column, pattern string) []int {
	var out []int
	for j, c := range columns {
		if c.Name == pattern || strings.HasSuffix(pattern, "*") && strings.HasPrefix(c.Name, strings.TrimSuffix(pattern, "*")) {
			out = append(out, j)
		}
	}
	return out
}

func (p Params) penalties(columns []soccer.Column) (penaltyPlan, error) {
	pp := penaltyPlan{group: make([]int, len(columns)), names: []string{""}, free: make([]bool, len(columns)), intercept: p.Intercept == nil || *p.Intercept}
	rule := func(what, r string) error {
		if r != "" && r != "best" && r != "one_se" && r != "strongest" {
			return fmt.Errorf("train: train: %s %q: want \"best\", \"one_se\" or \"strongest\"", what, r)
		}
		pp.oneSE = append(pp.oneSE, r == "one_se")
		pp.strongest = append(pp.strongest, r == "strongest")
		return nil
	}
	if err := rule("l2_rule", p.L2Rule); err != nil {
		return penaltyPlan{}, err
	}

	for _, name := range p.Unpenalized {
		js := matchColumns(columns, name)
		if len(js) == 0 {
			return penaltyPlan{}, fmt.Errorf("train: train: unpenalized %q: not one of the %d input columns", name, len(columns))
		}
		for _, j := range js {
			pp.free[j] = true
		}
	}
	if len(p.L2Groups) == 0 {
		pp.groupColumns()
		return pp, nil
	}
	switch {
	case len(p.L2Grid) == 0:
		return penaltyPlan{}, fmt.Errorf("train: train: l2_groups needs l2_grid: each group's l2 is chosen from it")
	case pp.intercept:
		return penaltyPlan{}, fmt.Errorf("train: train: l2_groups needs \"intercept\": false: a shared intercept would tie the groups' choices together (give each group an indicator column instead)")
	}
	names := slices.Sorted(maps.Keys(p.L2Groups))
	for g, name := range names {
		if name == "" {
			return penaltyPlan{}, fmt.Errorf("train: train: l2_groups: a group needs a name")
		}
		pp.names = append(pp.names, name)
		if err := rule(fmt.Sprintf("l2_groups %q rule", name), p.L2Groups[name].Rule); err != nil {
			return penaltyPlan{}, err
		}
		for _, pattern := range p.L2Groups[name].Columns {
			js := matchColumns(columns, pattern)
			if len(js) == 0 {
				return penaltyPlan{}, fmt.Errorf("train: train: l2_groups %q: %q names none of the %d input columns", name, pattern, len(columns))
			}
			for _, j := range js {
				if pp.group[j] != 0 && pp.group[j] != g+1 {
					return penaltyPlan{}, fmt.Errorf("train: train: l2_groups: column %s is in both %q and %q", columns[j].Name, names[pp.group[j]-1], name)
				}
				pp.group[j] = g + 1
			}
		}
	}
	pp.groupColumns()
	return pp, nil
}

// groupColumns lists each group's columns.
func (pp *penaltyPlan) groupColumns() {
	pp.cols = make([][]int, len(pp.names))
	for j, g := range pp.group {
		pp.cols[g] = append(pp.cols[g], j)
	}
}

// groupOf is the one penalty group whose columns are non-zero in row i
// (0 when only ungrouped ones are). With groups, a row must belong to one:
// then the groups are separate models (no shared intercept, no shared rows)
// and each group's choice of l2 is made on its own rows.
func (pp penaltyPlan) groupOf(i int, r []float64) (int, error) {
	if len(pp.names) == 1 {
		return 0, nil
	}
	g := -1
	for j, v := range r {
		if v == 0 {
			continue
		}
		if g >= 0 && g != pp.group[j] {
			return 0, fmt.Errorf("train: train: l2_groups: row %d has non-zero values in %s and in %s: each row must belong to one group",
				i, pp.label(g), pp.label(pp.group[j]))
		}
		g = pp.group[j]
	}
	return max(g, 0), nil
}

func (pp penaltyPlan) label(g int) string {
	if g == 0 {
		return "the ungrouped columns"
	}
	return fmt.Sprintf("group %q", pp.names[g])
}

// chooseL2 fits each l2 of the grid on the first 80% of the rows (they come
// in kick-off order; only the most recent window of them) and scores
// log-loss on the last 20%, strongest penalty first, each fit starting from
// the last one's optimum (the path is found in a fraction of the
// iterations). Each penalty group chooses its own l2 on the validation rows
// that belong to it, by the one-standard-error rule. It returns each group's l2, the
// validation log-loss of those choices and a fit from which the refit on
// every row starts (each group's weights from the fit at its choice).
func chooseL2(ctx context.Context, rows rowSet, y []int, grid []float64, plan penaltyPlan, offset [][3]float64, window int) ([]float64, float64, *logReg, error) {
	member := plan.member
	if n := rows.len(); n > window {
		rows, y, member = rows.slice(n-window, n), y[len(y)-window:], member[len(member)-window:]
	}
	n := rows.len()
	cut := n * 4 / 5
	if cut < 1 || cut == n {
		return nil, 0, nil, fmt.Errorf("train: train: %d rows are too few to choose l2 from l2_grid", n)
	}
	buf := make([]float64, rows.d)
	groups := len(plan.names)
	grid = slices.Clone(grid)
	slices.SortFunc(grid, func(a, b float64) int { return cmp.Compare(b, a) })
	// losses[c][i] is candidate c's log-loss on validation row cut+i.
	losses := make([][]float64, len(grid))
	fitted := make([]*logReg, len(grid))
	var prev *logReg
	for c, candidate := range grid {
		if !(candidate >= 0) {
			return nil, 0, nil, fmt.Errorf("train: train: l2_grid value %v is not a non-negative number", candidate)
		}
		pen := plan.at(func(int) float64 { return candidate })
		pen.Member = member[:cut]
		lr, err := fitLogReg(rows.slice(0, cut), y[:cut], pen, offset, prev)
		if err != nil {
			return nil, 0, nil, err
		}
		prev, fitted[c] = &lr, &lr
		losses[c] = make([]float64, n-cut)
		predict := lr.predictor()
		for i := range losses[c] {
			losses[c][i] = -math.Log(math.Max(predict(rows.row(cut+i, buf))[y[cut+i]], 1e-15))
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, nil, err
		}
	}
	chosen := make([]float64, groups)
	fits := make([]*logReg, groups)
	var total float64
	for g := range groups {
		c, sum := chooseCandidate(losses, member[cut:], g, plan.oneSE[g])
		if g < len(plan.strongest) && plan.strongest[g] {
			c, sum = 0, groupLoss(losses[0], member[cut:], g)
		}
		chosen[g], fits[g], total = grid[c], fitted[c], total+sum
	}
	warm := *fits[0]
	warm.W = slices.Clone(warm.W)
	for j, g := range plan.group {
		warm.W[j] = fits[g].W[j]
	}
	return chosen, total / float64(n-cut), &warm, nil
}

// groupLoss is the summed loss of group g's validation rows.
func groupLoss(losses []float64, member []int, g int) float64 {
	var sum float64
	for i, l := range losses {
		if member[i] == g {
			sum += l
		}
	}
	return sum
}

// chooseCandidate picks, among candidates ordered strongest penalty first,
// the one with the lowest validation log-loss on group g's rows, or with
// oneSE the strongest whose log-loss is within one standard error of that
// best one's (the standard error of the per-row difference between the
// two). It returns the candidate and its summed loss on those rows; with
// no rows, the strongest.
func chooseCandidate(losses [][]float64, member []int, g int, oneSE bool) (int, float64) {
	sums := make([]float64, len(losses))
	n := 0
	for i, m := range member {
		if m != g {
			continue
		}
		n++
		for c := range losses {
			sums[c] += losses[c][i]
		}
	}
	if n == 0 {
		return 0, 0
	}
	best := 0
	for c := range sums {
		if sums[c] < sums[best] {
			best = c
		}
	}
	if !oneSE {
		return best, sums[best]
	}
	for c := range best {
		// mean and standard error of candidate c's loss minus the best's
		var mean, sq float64
		for i, m := range member {
			if m == g {
				d := losses[c][i] - losses[best][i]
				mean += d
				sq += d * d
			}
		}
		mean /= float64(n)
		se := 0.0
		if n > 1 {
			se = math.Sqrt(math.Max(sq/float64(n)-mean*mean, 0) / float64(n-1))
		}
		if mean <= se {
			return c, sums[c]
		}
	}
	return best, sums[best]
}
