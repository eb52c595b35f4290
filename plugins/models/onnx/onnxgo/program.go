package onnxgo

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// tensor is a value in the graph: numbers kept as float64 with a row-major
// shape. f32 marks values ONNX types as float, rounded to float32 after
// every operation so results match a float32 runtime.
type tensor struct {
	shape []int
	data  []float64
	f32   bool
}

// op computes a node's outputs from its inputs.
type op func(in []tensor) ([]tensor, error)

type step struct {
	node    nodeProto
	run     op
	inputs  []string
	outputs []string
}

// Program is a compiled graph: the steps that compute one output from the
// graph input, in order. It holds no per-call state, so one Program serves
// any number of goroutines.
type Program struct {
	input      string
	inputF32   bool
	inputWidth int // -1: not declared
	output     string
	consts     map[string]tensor
	steps      []step
}

// Compile checks a serialised ONNX model and prepares it to compute, from
// input, the first of outputs the graph declares as an output. Every
// operator on the way must be one this runtime implements (see Supported);
// the error names the first that is not.
func Compile(model []byte, input string, outputs ...string) (*Program, error) {
	m, err := decodeModel(model)
	if err != nil {
		return nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	for domain, v := range m.opsets {
		if domain != "" && domain != "ai.onnx.ml" {
			return nil, fmt.Errorf("the model imports operator set %q (version %d), which this runtime does not implement", domain, v)
		}
	}
	p := &Program{input: input, inputWidth: -1, consts: map[string]tensor{}}
	found := false
	for _, in := range m.graph.inputs {
		if in.name != input {
			continue
		}
		found = true
		switch in.elemType {
		case typeDouble:
		case typeFloat:
			p.inputF32 = true
		default:
			return nil, fmt.Errorf("graph input %q has element type %d; this runtime feeds double or float", input, in.elemType)
		}
		if len(in.dims) == 2 {
			p.inputWidth = int(in.dims[1])
		}
	}
	if !found {
		return nil, fmt.Errorf("the graph has no input %q", input)
	}
	// Only a declared output has a meaning to rely on (Load takes the logits
	// only when the graph offers them as an output, as the ORT plugin does).
	output := ""
	for _, want := range outputs {
		if slices.ContainsFunc(m.graph.outputs, func(v valueInfo) bool { return v.name == want }) {
			output = want
			break
		}
	}
	if output == "" {
		return nil, fmt.Errorf("the graph has none of the outputs %q", outputs)
	}
	for _, t := range m.graph.initializers {
		v, err := t.values()
		if err != nil {
			return nil, err
		}
		shape := make([]int, len(t.dims))
		for i, d := range t.dims {
			shape[i] = int(d)
		}
		p.consts[t.name] = tensor{shape: shape, data: v, f32: t.dataType == typeFloat}
	}
	producer := map[string]int{}
	for i, n := range m.graph.nodes {
		for _, o := range n.outputs {
			producer[o] = i
		}
	}
	// Walk back from the output: only the nodes it depends on are run, in
	// the graph's order (ONNX requires nodes to be topologically sorted).
	needed := map[int]bool{}
	var visit func(name string, depth int) error
	visit = func(name string, depth int) error {
		if depth > len(m.graph.nodes) {
			return fmt.Errorf("the graph has a cycle through %q", name)
		}
		if name == "" || name == input {
			return nil
		}
		if _, ok := p.consts[name]; ok {
			return nil
		}
		i, ok := producer[name]
		if !ok {
			return fmt.Errorf("value %q is neither the input, an initializer nor a node's output", name)
		}
		if needed[i] {
			return nil
		}
		needed[i] = true
		for _, in := range m.graph.nodes[i].inputs {
			if err := visit(in, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(output, 0); err != nil {
		return nil, err
	}
	p.output = output
	if _, ok := producer[output]; !ok {
		return nil, fmt.Errorf("the graph has no node computing output %q", output)
	}
	for i, n := range m.graph.nodes {
		if !needed[i] {
			continue
		}
		version := m.opsets[n.domain]
		run, err := compileOp(n, version)
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", n.name, qualified(n), err)
		}
		p.steps = append(p.steps, step{node: n, run: run, inputs: n.inputs, outputs: n.outputs})
	}
	return p, nil
}

func qualified(n nodeProto) string {
	if n.domain == "" {
		return n.opType
	}
	return n.domain + "." + n.opType
}

// Output is the graph output the program computes.
func (p *Program) Output() string { return p.output }

// Run computes the output for rows of input values; every row must have the
// same width. Each row's result depends on that row alone.
func (p *Program) Run(rows [][]float64) ([][]float64, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	width := len(rows[0])
	if p.inputWidth >= 0 && width != p.inputWidth {
		return nil, fmt.Errorf("input %q takes %d values per row, got %d", p.input, p.inputWidth, width)
	}
	in := tensor{shape: []int{len(rows), width}, data: make([]float64, 0, len(rows)*width), f32: p.inputF32}
	for i, r := range rows {
		if len(r) != width {
			return nil, fmt.Errorf("row %d has %d values, row 0 has %d", i, len(r), width)
		}
		in.data = append(in.data, r...)
	}
	if in.f32 {
		round32(in.data)
	}
	env := map[string]tensor{p.input: in}
	for _, s := range p.steps {
		args := make([]tensor, len(s.inputs))
		for i, name := range s.inputs {
			if name == "" {
				continue // an omitted optional input
			}
			v, ok := env[name]
			if !ok {
				v, ok = p.consts[name]
			}
			if !ok {
				return nil, fmt.Errorf("node %q: input %q was not computed", s.node.name, name)
			}
			args[i] = v
		}
		outs, err := s.run(args)
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", s.node.name, qualified(s.node), err)
		}
		for i, name := range s.outputs {
			if i < len(outs) && name != "" {
				env[name] = outs[i]
			}
		}
	}
	out, ok := env[p.output]
	if !ok {
		return nil, fmt.Errorf("output %q was not computed", p.output)
	}
	if len(out.shape) != 2 || out.shape[0] != len(rows) {
		return nil, fmt.Errorf("output %q has shape %v for %d rows, want [%d, k]", p.output, out.shape, len(rows), len(rows))
	}
	k := out.shape[1]
	res := make([][]float64, len(rows))
	for i := range res {
		res[i] = out.data[i*k : (i+1)*k : (i+1)*k]
	}
	return res, nil
}

func round32(v []float64) {
	for i, x := range v {
		v[i] = float64(float32(x))
	}
}

// Supported lists the operators this runtime implements.
var Supported = []string{"Add", "Sub", "Mul", "Div", "MatMul", "Gemm", "Softmax", "Sigmoid", "Exp", "Relu", "Identity", "Cast", "ai.onnx.ml.TreeEnsembleClassifier"}

func compileOp(n nodeProto, version int64) (op, error) {
	arity := func(ins, outs int) error {
		if len(n.inputs) < ins {
			return fmt.Errorf("takes %d inputs, has %d", ins, len(n.inputs))
		}
		if len(n.outputs) < outs {
			return fmt.Errorf("gives %d outputs, has %d", outs, len(n.outputs))
		}
		return nil
	}
	if n.domain == "ai.onnx.ml" {
		if n.opType == "TreeEnsembleClassifier" {
			if err := arity(1, 2); err != nil {
				return nil, err
			}
			return compileTrees(n)
		}
		return nil, unsupported(n)
	}
	if n.domain != "" {
		return nil, unsupported(n)
	}
	switch n.opType {
	case "Add", "Sub", "Mul", "Div":
		if err := arity(2, 1); err != nil {
			return nil, err
		}
		f := map[string]func(a, b float64) float64{
			"Add": func(a, b float64) float64 { return a + b },
			"Sub": func(a, b float64) float64 { return a - b },
			"Mul": func(a, b float64) float64 { return a * b },
			"Div": func(a, b float64) float64 { return a / b },
		}[n.opType]
		return func(in []tensor) ([]tensor, error) {
			t, err := broadcast(in[0], in[1], f)
			return []tensor{t}, err
		}, nil
	case "MatMul":
		if err := arity(2, 1); err != nil {
			return nil, err
		}
		return func(in []tensor) ([]tensor, error) {
			t, err := gemm(in[0], in[1], nil, 1, 0, false, false)
			return []tensor{t}, err
		}, nil
	case "Gemm":
		if err := arity(2, 1); err != nil {
			return nil, err
		}
		alpha, beta := float64(1), float64(1)
		if a, ok := n.attrs["alpha"]; ok {
			alpha = float64(a.f)
		}
		if a, ok := n.attrs["beta"]; ok {
			beta = float64(a.f)
		}
		ta, tb := n.attrs["transA"].i != 0, n.attrs["transB"].i != 0
		return func(in []tensor) ([]tensor, error) {
			var c *tensor
			if len(in) > 2 && in[2].shape != nil {
				c = &in[2]
			}
			t, err := gemm(in[0], in[1], c, alpha, beta, ta, tb)
			return []tensor{t}, err
		}, nil
	case "Softmax":
		if err := arity(1, 1); err != nil {
			return nil, err
		}
		axis := int64(-1)
		if version < 13 {
			axis = 1
		}
		if a, ok := n.attrs["axis"]; ok {
			axis = a.i
		}
		coerce := version < 13
		return func(in []tensor) ([]tensor, error) {
			t, err := softmax(in[0], int(axis), coerce)
			return []tensor{t}, err
		}, nil
	case "Sigmoid", "Exp", "Relu", "Identity":
		if err := arity(1, 1); err != nil {
			return nil, err
		}
		f := map[string]func(float64) float64{
			"Sigmoid":  func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
			"Exp":      math.Exp,
			"Relu":     func(x float64) float64 { return math.Max(x, 0) },
			"Identity": func(x float64) float64 { return x },
		}[n.opType]
		return func(in []tensor) ([]tensor, error) {
			return []tensor{unary(in[0], f, in[0].f32)}, nil
		}, nil
	case "Cast":
		if err := arity(1, 1); err != nil {
			return nil, err
		}
		to := n.attrs["to"].i
		if to != typeFloat && to != typeDouble {
			return nil, fmt.Errorf("Cast to element type %d: only float (1) and double (11) are supported", to)
		}
		return func(in []tensor) ([]tensor, error) {
			return []tensor{unary(in[0], func(x float64) float64 { return x }, to == typeFloat)}, nil
		}, nil
	}
	return nil, unsupported(n)
}

func unsupported(n nodeProto) error {
	return fmt.Errorf("operator %s is not implemented by this runtime (it runs %s); serve this model with the onnx plugin (ONNX Runtime)", qualified(n), strings.Join(Supported, ", "))
}

func unary(a tensor, f func(float64) float64, f32 bool) tensor {
	out := tensor{shape: slices.Clone(a.shape), data: make([]float64, len(a.data)), f32: f32}
	for i, x := range a.data {
		out.data[i] = f(x)
	}
	if f32 {
		round32(out.data)
	}
	return out
}

// broadcast applies f elementwise under numpy (multidirectional) broadcasting.
func broadcast(a, b tensor, f func(a, b float64) float64) (tensor, error) {
	rank := max(len(a.shape), len(b.shape))
	pad := func(s []int) []int {
		out := make([]int, rank)
		for i := range out {
			out[i] = 1
		}
		copy(out[rank-len(s):], s)
		return out
	}
	as, bs := pad(a.shape), pad(b.shape)
	shape := make([]int, rank)
	for i := range rank {
		switch {
		case as[i] == bs[i], bs[i] == 1:
			shape[i] = as[i]
		case as[i] == 1:
			shape[i] = bs[i]
		default:
			return tensor{}, fmt.Errorf("shapes %v and %v do not broadcast", a.shape, b.shape)
		}
	}
	strides := func(s []int) []int {
		st := make([]int, rank)
		acc := 1
		for i := rank - 1; i >= 0; i-- {
			if s[i] != 1 {
				st[i] = acc
			}
			acc *= s[i]
		}
		return st
	}
	sa, sb := strides(as), strides(bs)
	total := 1
	for _, d := range shape {
		total *= d
	}
	out := tensor{shape: shape, data: make([]float64, total), f32: a.f32 && b.f32}
	idx := make([]int, rank)
	for k := range total {
		ia, ib := 0, 0
		for i := range rank {
			ia += idx[i] * sa[i]
			ib += idx[i] * sb[i]
		}
		out.data[k] = f(a.data[ia], b.data[ib])
		for i := rank - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	if out.f32 {
		round32(out.data)
	}
	return out, nil
}

// gemm is alpha·A'·B' + beta·C for 2-D A and B (' = optional transpose),
// C broadcast to the result. Each output element is summed in index order.
func gemm(a, b tensor, c *tensor, alpha, beta float64, ta, tb bool) (tensor, error) {
	if len(a.shape) != 2 || len(b.shape) != 2 {
		return tensor{}, fmt.Errorf("operands of shapes %v and %v: only 2-D matrices are supported", a.shape, b.shape)
	}
	n, k := a.shape[0], a.shape[1]
	if ta {
		n, k = k, n
	}
	k2, m := b.shape[0], b.shape[1]
	if tb {
		k2, m = m, k2
	}
	if k != k2 {
		return tensor{}, fmt.Errorf("shapes %v and %v do not multiply", a.shape, b.shape)
	}
	at := func(i, j int) float64 {
		if ta {
			return a.data[j*a.shape[1]+i]
		}
		return a.data[i*a.shape[1]+j]
	}
	bt := func(i, j int) float64 {
		if tb {
			return b.data[j*b.shape[1]+i]
		}
		return b.data[i*b.shape[1]+j]
	}
	out := tensor{shape: []int{n, m}, data: make([]float64, n*m), f32: a.f32 && b.f32}
	for i := range n {
		for j := range m {
			var s float64
			for l := range k {
				s += at(i, l) * bt(l, j)
			}
			out.data[i*m+j] = alpha * s
		}
	}
	if c != nil && beta != 0 {
		scaled := unary(*c, func(x float64) float64 { return beta * x }, c.f32)
		var err error
		if out, err = broadcast(out, scaled, func(x, y float64) float64 { return x + y }); err != nil {
			return tensor{}, err
		}
	}
	if out.f32 {
		round32(out.data)
	}
	return out, nil
}

// softmax over axis; coerce is opset < 13's meaning (the input flattened to
// 2-D at axis), otherwise axis is a single dimension and only the last is
// supported.
func softmax(t tensor, axis int, coerce bool) (tensor, error) {
	r := len(t.shape)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return tensor{}, fmt.Errorf("axis %d of a rank-%d tensor", axis, r)
	}
	if !coerce && axis != r-1 {
		return tensor{}, fmt.Errorf("softmax over axis %d of a rank-%d tensor: only the last axis is supported", axis, r)
	}
	inner := 1
	for _, d := range t.shape[axis:] {
		inner *= d
	}
	out := tensor{shape: slices.Clone(t.shape), data: make([]float64, len(t.data)), f32: t.f32}
	for off := 0; off+inner <= len(t.data); off += inner {
		row := t.data[off : off+inner]
		hi := math.Inf(-1)
		for _, x := range row {
			hi = math.Max(hi, x)
		}
		var sum float64
		for i, x := range row {
			e := math.Exp(x - hi)
			out.data[off+i] = e
			sum += e
		}
		for i := range row {
			out.data[off+i] /= sum
		}
	}
	if out.f32 {
		round32(out.data)
	}
	return out, nil
}
