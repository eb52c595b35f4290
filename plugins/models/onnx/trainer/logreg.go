package trainer

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"gonum.org/v1/gonum/optimize"
)

// logReg is a fitted multinomial logistic regression over standardised inputs.
type logReg struct {
	Mean, Std []float64
	// Centre[j] says what input j's mean is taken out through (see
	// penalty.Centre); nil: the intercept.
	Centre []int
	// W[j][k] is the weight of standardised input j for class k (H, D, A); B the intercepts.
	W [][3]float64
	B [3]float64
	// Offset[j][k] is a fixed weight of raw input j for class k, not fitted:
	// a column that already is a class's log-odds (the market's) enters
	// with weight 1, and the fitted weights are corrections to it.
	Offset [][3]float64
	// Iterations are the optimiser's major iterations (a diagnostic).
	Iterations int
}

// penalty is how a logistic regression is regularised and standardised:
// L2[j] is the l2 of standardised input j's weights (0: unpenalised).
// Centre[j] is how input j is centred: centreIntercept (through the
// intercept: the usual standardisation), centreNone (scaled only, so a zero
// stays a zero), or k ≥ 0, an indicator column that is 1 on exactly the
// rows input j belongs to (a penalty group's rows, 0 elsewhere): then j is
// centred on those rows only, and the mean taken out goes into k's weight,
// so the group is standardised on its own rows and other rows get nothing
// from it. Centre nil is centreIntercept for every input with an
// intercept, centreNone without.
//
// Member and Cols, when set, say which columns can be non-zero in a row: row
// i's are Cols[Member[i]] (its penalty group's), so the sums skip the rest.
type penalty struct {
	L2        []float64
	Intercept bool
	Centre    []int
	Member    []int
	Cols      [][]int
}

const (
	centreIntercept = -1
	centreNone      = -2
)

func (p penalty) centre(j int) int {
	switch {
	case p.Centre != nil:
		return p.Centre[j]
	case p.Intercept:
		return centreIntercept
	}
	return centreNone
}

// fitLogReg minimises mean negative log-likelihood + Σ_j pen.L2[j]/2·|W_j|²
// (intercepts unpenalised) with L-BFGS, starting from another fit's
// parameters (nil: zero), which is where a nearby penalty's optimum is found
// fastest. It is deterministic: no randomness is involved.
func fitLogReg(rows rowSet, y []int, pen penalty, offset [][3]float64, from *logReg) (logReg, error) {
	n := rows.len()
	if n == 0 {
		return logReg{}, fmt.Errorf("logreg: no training rows")
	}
	d := rows.d
	if len(pen.L2) != d {
		return logReg{}, fmt.Errorf("logreg: %d penalties for %d columns", len(pen.L2), d)
	}
	m := logReg{Mean: make([]float64, d), Std: make([]float64, d), Offset: offset}
	buf := make([]float64, d)
	var off [][3]float64
	if offset != nil {
		off = make([][3]float64, n)
		for i := range n {
			for j, v := range rows.row(i, buf) {
				for k := range 3 {
					off[i][k] += v * offset[j][k]
				}
			}
		}
	}
	// Each input's mean and spread over the rows it is centred on.
	m.Centre = make([]int, d)
	for j := range d {
		m.Centre[j] = pen.centre(j)
	}
	on := func(r []float64, j int) bool {
		c := m.Centre[j]
		return c == centreIntercept || c == centreNone || r[c] == 1
	}
	count := make([]float64, d)
	for i := range n {
		r := rows.row(i, buf)
		for j, v := range r {
			if on(r, j) {
				count[j]++
				if m.Centre[j] != centreNone {
					m.Mean[j] += v
				}
			}
		}
	}
	for j := range d {
		m.Mean[j] /= max(count[j], 1)
	}
	for i := range n {
		r := rows.row(i, buf)
		for j, v := range r {
			if on(r, j) {
				m.Std[j] += (v - m.Mean[j]) * (v - m.Mean[j])
			}
		}
	}
	for j := range m.Std {
		m.Std[j] = math.Sqrt(m.Std[j] / max(count[j], 1))
		if m.Std[j] < 1e-12 {
			m.Std[j] = 1 // a constant column carries no information; leave it unscaled
		}
	}
	// The model is fitted on standardised inputs, but no standardised copy
	// of the rows is made: nll evaluates it on the raw rows (see there).
	o := newObjective(d)
	// params: W row-major (d×3) then B (3).
	np := 3*d + 3
	// The optimiser asks for the value and then the gradient at the same
	// point: one pass over the rows computes both, and the second call is
	// answered from it.
	var lastX, lastGrad []float64
	var lastF float64
	eval := func(x []float64) {
		if lastX != nil && slices.Equal(lastX, x) {
			return
		}
		if lastGrad == nil {
			lastGrad = make([]float64, len(x))
		}
		lastF = o.nll(x, rows, m.Mean, m.Std, m.Centre, off, y, pen, lastGrad)
		lastX = append(lastX[:0], x...)
	}
	problem := optimize.Problem{
		Func: func(x []float64) float64 {
			eval(x)
			return lastF
		},
		Grad: func(grad, x []float64) {
			eval(x)
			copy(grad, lastGrad)
		},
	}
	init := make([]float64, np)
	if from != nil && len(from.W) == d {
		for j := range d {
			for k := range 3 {
				init[3*j+k] = from.W[j][k]
			}
		}
		if pen.Intercept {
			copy(init[3*d:], from.B[:])
		}
	}
	// The fit stops at a gradient (of the mean log-loss) below 1e-6, or
	// when ten iterations together improve the objective by less than 1e-7:
	// both far below the precision of any forecast (log-loss is reported to
	// 1e-4). Asking for less than round-off allows makes the line search
	// fail after wasted evaluations, and on a million matches' rows a
	// nearly flat direction can creep on for hundreds of iterations.
	res, err := optimize.Minimize(problem, init, &optimize.Settings{GradientThreshold: 1e-6, MajorIterations: 1000,
		Converger: &optimize.FunctionConverge{Absolute: 1e-7, Iterations: 10}}, &optimize.LBFGS{})
	if err != nil && res == nil {
		return logReg{}, fmt.Errorf("logreg: %w", err)
	}
	m.W = make([][3]float64, d)
	for j := range d {
		for k := range 3 {
			m.W[j][k] = res.X[3*j+k]
		}
	}
	if pen.Intercept {
		copy(m.B[:], res.X[3*d:])
	}
	m.Iterations = res.Stats.MajorIterations
	return m, nil
}

// objective holds nll's scratch space, reused by every evaluation.
type objective struct {
	weff, graw, shift [][3]float64
	shards            [maxShards]shard
}

// maxShards and shardRows: how nll splits the rows (at most maxShards
// shards of at least shardRows rows).
const (
	maxShards = 4
	shardRows = 20_000
)

// shard is one part of nll's sum over the rows.
type shard struct {
	f    float64
	gb   [3]float64
	graw [][3]float64
}

func newObjective(d int) *objective {
	o := &objective{weff: make([][3]float64, d), graw: make([][3]float64, d), shift: make([][3]float64, d)}
	for s := range o.shards {
		o.shards[s].graw = make([][3]float64, d)
	}
	return o
}

// sum adds up the mean negative log-likelihood of rows (n rows in all) at
// the effective raw weights weff and intercepts b, and with grad the
// gradient in the raw weights (graw) and intercepts (gb). With member, row
// i's non-zero columns are among cols[member[i]]; only those are visited
// (a compact set holds only those, and has member).
func (sh *shard) sum(rows rowSet, off [][3]float64, y []int, member []int, cols [][]int, weff [][3]float64, b [3]float64, n float64, grad bool) {
	sh.f, sh.gb = 0, [3]float64{}
	clear(sh.graw)
	if rows.vals != nil {
		member, cols = rows.member, rows.cols
	}
	scratch := make([]float64, 0, len(weff))
	var all []int
	if member == nil {
		all = make([]int, len(weff))
		for j := range all {
			all[j] = j
		}
	}
	for i := range rows.len() {
		idx := all
		if member != nil {
			idx = cols[member[i]]
		}
		// One pass over the row for the three logits, one for the gradient.
		c0, c1, c2 := b[0], b[1], b[2]
		if off != nil {
			c0, c1, c2 = c0+off[i][0], c1+off[i][1], c2+off[i][2]
		}
		// The row's values at idx: a compact row holds just those, a dense
		// one's are gathered (into scratch).
		vals := scratch[:0]
		if rows.vals != nil {
			vals = rows.vals[i]
		} else {
			for _, j := range idx {
				vals = append(vals, rows.dense[i][j])
			}
		}
		for k, j := range idx {
			v, wj := vals[k], &weff[j]
			c0 += v * wj[0]
			c1 += v * wj[1]
			c2 += v * wj[2]
		}
		// log-softmax: the largest logit's exponential is 1, the others'
		// two are all the exponentials a row needs.
		l := [3]float64{c0, c1, c2}
		mx := max(c0, c1, c2)
		var p [3]float64
		var sum float64
		for k, lk := range l {
			p[k] = 1
			if lk != mx {
				p[k] = math.Exp(lk - mx)
			}
			sum += p[k]
		}
		sh.f -= (l[y[i]] - mx - math.Log(sum)) / n
		if grad {
			for k := range p {
				p[k] /= sum
			}
			p[y[i]]--
			g0, g1, g2 := p[0]/n, p[1]/n, p[2]/n
			sh.gb[0] += g0
			sh.gb[1] += g1
			sh.gb[2] += g2
			for k, j := range idx {
				v, gj := vals[k], &sh.graw[j]
				gj[0] += g0 * v
				gj[1] += g1 * v
				gj[2] += g2 * v
			}
		}
	}
}

// nll is the mean negative log-likelihood (+ Σ_j l2_j/2·|W_j|²) of the
// weights x over standardised inputs (without an intercept B stays 0), and
// its gradient into grad (when not nil), evaluated on the raw rows: with
// z_j = (x_j − mean_j)/std_j, Σ_j z_j·w_j + b = Σ_j x_j·(w_j/std_j) +
// (b − Σ_j mean_j·w_j/std_j), and the gradient in w_j is
// (Σ_i g_i·x_ij − mean_j·Σ_i g_i)/std_j. An input centred through an
// indicator column c instead has z_j = (x_j − mean_j·x_c)/std_j: its mean
// term moves into c's raw weight, and Σ_i g_i becomes Σ_i g_i·x_ic. So the
// optimiser works on the well-conditioned standardised problem without a
// copy of the rows.
func (o *objective) nll(x []float64, rows rowSet, mean, std []float64, centre []int, off [][3]float64, y []int, pen penalty, grad []float64) float64 {
	d := len(mean)
	w := x[:3*d]
	var b [3]float64
	if pen.Intercept {
		b = [3]float64{x[3*d], x[3*d+1], x[3*d+2]}
	}
	clear(o.shift)
	for j := range d {
		for k := range 3 {
			o.weff[j][k] = w[3*j+k] / std[j]
			switch c := centre[j]; {
			case c == centreIntercept:
				b[k] -= mean[j] * o.weff[j][k]
			case c >= 0:
				o.shift[c][k] -= mean[j] * o.weff[j][k]
			}
		}
	}
	for j := range d {
		for k := range 3 {
			o.weff[j][k] += o.shift[j][k]
		}
	}
	if grad != nil {
		clear(grad)
	}
	// The rows are summed in fixed shards, each on its own goroutine, and
	// the shards' sums added in order: the result does not depend on the
	// machine's cores, and two cores halve the time.
	n := float64(rows.len())
	shards := min(maxShards, max(1, rows.len()/shardRows))
	var wg sync.WaitGroup
	for s := range shards {
		lo, hi := s*rows.len()/shards, (s+1)*rows.len()/shards
		sh := &o.shards[s]
		wg.Go(func() {
			var shOff [][3]float64
			if off != nil {
				shOff = off[lo:hi]
			}
			var member []int
			if pen.Member != nil {
				member = pen.Member[lo:hi]
			}
			sh.sum(rows.slice(lo, hi), shOff, y[lo:hi], member, pen.Cols, o.weff, b, n, grad != nil)
		})
	}
	wg.Wait()
	var f float64
	var gb [3]float64
	clear(o.graw)
	for s := range shards {
		sh := &o.shards[s]
		f += sh.f
		for k := range 3 {
			gb[k] += sh.gb[k]
		}
		for j := range d {
			for k := range 3 {
				o.graw[j][k] += sh.graw[j][k]
			}
		}
	}
	if grad != nil {
		for j := range d {
			for k := range 3 {
				total := gb[k] // Σ_i g_i over the rows j is centred on
				if c := centre[j]; c >= 0 {
					total = o.graw[c][k]
				}
				grad[3*j+k] = (o.graw[j][k] - mean[j]*total) / std[j]
			}
		}
		if pen.Intercept {
			copy(grad[3*d:], gb[:])
		}
	}
	for j := range 3 * d {
		if l2 := pen.L2[j/3]; l2 != 0 {
			f += 0.5 * l2 * x[j] * x[j]
			if grad != nil {
				grad[j] += l2 * x[j]
			}
		}
	}
	return f
}

// Softmax turns three logits into probabilities, stably (max subtracted).
func Softmax(l [3]float64) [3]float64 {
	mx := math.Max(l[0], math.Max(l[1], l[2]))
	var p [3]float64
	var s float64
	for k := range 3 {
		p[k] = math.Exp(l[k] - mx)
		s += p[k]
	}
	for k := range 3 {
		p[k] /= s
	}
	return p
}

// folded returns weights and intercepts on raw (unstandardised) inputs, as
// the ONNX graph computes them: W'[j][k] = W[j][k]/σ_j, B'[k] = B[k] − Σ_j W'[j][k]·μ_j.
func (m logReg) folded() ([][3]float64, [3]float64) {
	w := make([][3]float64, len(m.W))
	b := m.B
	for j := range m.W {
		for k := range 3 {
			w[j][k] = m.W[j][k] / m.Std[j]
		}
	}
	for j := range m.W {
		c := centreIntercept
		if m.Centre != nil {
			c = m.Centre[j]
		}
		for k := range 3 {
			switch shift := w[j][k] * m.Mean[j]; {
			case c == centreIntercept:
				b[k] -= shift
			case c >= 0:
				w[c][k] -= shift
			}
			if m.Offset != nil {
				w[j][k] += m.Offset[j][k]
			}
		}
	}
	return w, b
}

// predictor is the pure-Go evaluation of the exported graph: the same
// folded parameters, in float64, as the ONNX graph's MatMul, Add and Softmax.
func (m logReg) predictor() func(row []float64) [3]float64 {
	w, b := m.folded()
	return func(row []float64) [3]float64 { return evaluate(w, b, row) }
}

func evaluate(w [][3]float64, b [3]float64, row []float64) [3]float64 {
	l := b
	for j, v := range row {
		for k := range 3 {
			l[k] += v * w[j][k]
		}
	}
	return Softmax(l)
}

// onnx exports the model: probabilities = Softmax(logits), logits =
// features · W' + B' (both are outputs).
func (m logReg) onnx() []byte {
	w, b := m.folded()
	d := int64(len(w))
	flat := make([]float64, 0, 3*len(w))
	for _, row := range w {
		flat = append(flat, row[:]...)
	}
	g := graph{
		name: "soccerpredict_logreg",
		nodes: []node{
			{opType: "MatMul", name: "matmul", inputs: []string{"features", "W"}, outputs: []string{"xw"}},
			{opType: "Add", name: "add", inputs: []string{"xw", "B"}, outputs: []string{"logits"}},
			{opType: "Softmax", name: "softmax", inputs: []string{"logits"}, outputs: []string{"probabilities"},
				attrs: []attribute{{name: "axis", kind: attrInt, i: 1}}},
		},
		initializers: []message{doubleTensor("W", []int64{d, 3}, flat), doubleTensor("B", []int64{3}, b[:])},
		inputs:       []message{valueInfo("features", tensorDouble, []int64{-1, d})},
		// logits too: the plugin serves them through its own softmax (see Load)
		outputs: []message{valueInfo("probabilities", tensorDouble, []int64{-1, 3}), valueInfo("logits", tensorDouble, []int64{-1, 3})},
	}
	return modelBytes(g, []opset{{"", 13}}, "multinomial logistic regression, home/draw/away")
}
