package trainer

import (
	"fmt"
	"math"
	"slices"
)

// gbtParams are the gradient-boosted trees' hyper-parameters.
type gbtParams struct {
	Rounds       int     `json:"rounds"`
	Depth        int     `json:"depth"`
	LearningRate float64 `json:"learning_rate"`
	MinLeaf      int     `json:"min_leaf"`
	Bins         int     `json:"bins"`
	Lambda       float64 `json:"lambda"`
}

// gbt is a fitted multiclass gradient-boosted tree model: per round one
// regression tree per class on the softmax gradient (Newton leaf values).
// Thresholds and leaf values are float32, as ONNX's TreeEnsembleClassifier
// stores them, so the pure-Go evaluation and ONNX Runtime agree.
type gbt struct {
	Base  [3]float32
	Trees []tree
}

type tree struct {
	Class int
	Nodes []treeNode
}

// treeNode is a branch (x[Feature] <= Threshold goes to True) or a leaf.
type treeNode struct {
	Leaf        bool
	Feature     int
	Threshold   float32
	True, False int
	Value       float32
}

func fitGBT(rows [][]float64, y []int, p gbtParams) (gbt, error) {
	n := len(rows)
	if n == 0 {
		return gbt{}, fmt.Errorf("gbt: no training rows")
	}
	if p.Rounds <= 0 || p.Depth <= 0 || p.LearningRate <= 0 || p.MinLeaf <= 0 || p.Bins < 2 || p.Lambda < 0 {
		return gbt{}, fmt.Errorf("gbt: rounds, depth, learning_rate, min_leaf must be positive, bins ≥ 2, lambda ≥ 0 (got %+v)", p)
	}
	d := len(rows[0])
	cuts := make([][]float32, d)
	bin := make([][]uint8, d) // bin[j][i]: index of the first cut ≥ x (len(cuts) when above all)
	for j := range d {
		cuts[j] = candidateCuts(rows, j, min(p.Bins, 255))
		bin[j] = make([]uint8, n)
		for i, r := range rows {
			b, _ := slices.BinarySearch(cuts[j], float32(r[j]))
			for b < len(cuts[j]) && float64(cuts[j][b]) < r[j] {
				b++
			}
			bin[j][i] = uint8(b)
		}
	}
	var m gbt
	var counts [3]float64
	for _, c := range y {
		counts[c]++
	}
	for k := range 3 {
		m.Base[k] = float32(math.Log((counts[k] + 1) / (float64(n) + 3)))
	}
	score := make([][3]float64, n)
	for i := range score {
		for k := range 3 {
			score[i][k] = float64(m.Base[k])
		}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	g, h := make([]float64, n), make([]float64, n)
	for range p.Rounds {
		probs := make([][3]float64, n)
		for i := range n {
			probs[i] = Softmax(score[i])
		}
		for k := range 3 {
			for i := range n {
				yk := 0.0
				if y[i] == k {
					yk = 1
				}
				g[i] = probs[i][k] - yk
				h[i] = math.Max(probs[i][k]*(1-probs[i][k]), 1e-6)
			}
			t := tree{Class: k}
			grow(&t, idx, 0, bin, cuts, g, h, p)
			for i, r := range rows {
				score[i][k] += float64(t.eval(r))
			}
			m.Trees = append(m.Trees, t)
		}
	}
	return m, nil
}

// candidateCuts are up to bins-1 thresholds at quantiles of column j,
// rounded to float32 and distinct.
func candidateCuts(rows [][]float64, j, bins int) []float32 {
	vals := make([]float64, len(rows))
	for i, r := range rows {
		vals[i] = r[j]
	}
	slices.Sort(vals)
	var cuts []float32
	for q := 1; q < bins; q++ {
		i := q * len(vals) / bins
		if i <= 0 || i >= len(vals) || vals[i-1] == vals[i] {
			continue
		}
		c := float32((vals[i-1] + vals[i]) / 2)
		if len(cuts) == 0 || c > cuts[len(cuts)-1] {
			cuts = append(cuts, c)
		}
	}
	return cuts
}

// grow adds the subtree for the rows idx and returns its node index.
func grow(t *tree, idx []int, depth int, bin [][]uint8, cuts [][]float32, g, h []float64, p gbtParams) int {
	var G, H float64
	for _, i := range idx {
		G += g[i]
		H += h[i]
	}
	self := len(t.Nodes)
	t.Nodes = append(t.Nodes, treeNode{Leaf: true, Value: float32(-p.LearningRate * G / (H + p.Lambda))})
	if depth >= p.Depth || len(idx) < 2*p.MinLeaf {
		return self
	}
	bestGain, bestJ, bestB := 1e-9, -1, 0
	parent := G * G / (H + p.Lambda)
	for j := range bin {
		nb := len(cuts[j]) + 1
		gs, hs, cs := make([]float64, nb), make([]float64, nb), make([]int, nb)
		for _, i := range idx {
			b := bin[j][i]
			gs[b] += g[i]
			hs[b] += h[i]
			cs[b]++
		}
		var gl, hl float64
		cl := 0
		for b := 0; b < nb-1; b++ { // split: x <= cuts[j][b] goes left (bins 0..b)
			gl, hl, cl = gl+gs[b], hl+hs[b], cl+cs[b]
			cr := len(idx) - cl
			if cl < p.MinLeaf || cr < p.MinLeaf {
				continue
			}
			gr, hr := G-gl, H-hl
			if gain := gl*gl/(hl+p.Lambda) + gr*gr/(hr+p.Lambda) - parent; gain > bestGain {
				bestGain, bestJ, bestB = gain, j, b
			}
		}
	}
	if bestJ < 0 {
		return self
	}
	var left, right []int
	for _, i := range idx {
		if int(bin[bestJ][i]) <= bestB {
			left = append(left, i)
		} else {
			right = append(right, i)
		}
	}
	l := grow(t, left, depth+1, bin, cuts, g, h, p)
	r := grow(t, right, depth+1, bin, cuts, g, h, p)
	t.Nodes[self] = treeNode{Feature: bestJ, Threshold: cuts[bestJ][bestB], True: l, False: r}
	return self
}

func (t tree) eval(row []float64) float32 {
	n := 0
	for !t.Nodes[n].Leaf {
		nd := t.Nodes[n]
		if row[nd.Feature] <= float64(nd.Threshold) {
			n = nd.True
		} else {
			n = nd.False
		}
	}
	return t.Nodes[n].Value
}

// predict is the pure-Go evaluation: base scores plus every tree's leaf for
// its class, then softmax.
func (m gbt) predict(row []float64) [3]float64 {
	var l [3]float64
	for k := range 3 {
		l[k] = float64(m.Base[k])
	}
	for _, t := range m.Trees {
		l[t.Class] += float64(t.eval(row))
	}
	return Softmax(l)
}

// onnx exports the model as one ai.onnx.ml TreeEnsembleClassifier (opset 3)
// with a SOFTMAX post-transform; its Z output is the probabilities.
func (m gbt) onnx(width int) []byte {
	var (
		treeIDs, nodeIDs, featureIDs, trueIDs, falseIDs []int64
		values                                          []float32
		modes                                           []string
		cTree, cNode, cClass                            []int64
		cWeight                                         []float32
	)
	for ti, t := range m.Trees {
		for ni, nd := range t.Nodes {
			treeIDs, nodeIDs = append(treeIDs, int64(ti)), append(nodeIDs, int64(ni))
			if nd.Leaf {
				featureIDs, values, modes = append(featureIDs, 0), append(values, 0), append(modes, "LEAF")
				trueIDs, falseIDs = append(trueIDs, 0), append(falseIDs, 0)
				cTree, cNode, cClass = append(cTree, int64(ti)), append(cNode, int64(ni)), append(cClass, int64(t.Class))
				cWeight = append(cWeight, nd.Value)
				continue
			}
			featureIDs, values, modes = append(featureIDs, int64(nd.Feature)), append(values, nd.Threshold), append(modes, "BRANCH_LEQ")
			trueIDs, falseIDs = append(trueIDs, int64(nd.True)), append(falseIDs, int64(nd.False))
		}
	}
	ints := func(name string, v []int64) attribute { return attribute{name: name, kind: attrInts, ints: v} }
	floats := func(name string, v []float32) attribute { return attribute{name: name, kind: attrFloats, floats: v} }
	ens := node{opType: "TreeEnsembleClassifier", domain: "ai.onnx.ml", name: "trees",
		inputs: []string{"features"}, outputs: []string{"label", "probabilities"},
		attrs: []attribute{
			ints("classlabels_int64s", []int64{0, 1, 2}),
			ints("nodes_treeids", treeIDs), ints("nodes_nodeids", nodeIDs), ints("nodes_featureids", featureIDs),
			floats("nodes_values", values), {name: "nodes_modes", kind: attrStrings, strings: modes},
			ints("nodes_truenodeids", trueIDs), ints("nodes_falsenodeids", falseIDs),
			ints("class_treeids", cTree), ints("class_nodeids", cNode), ints("class_ids", cClass), floats("class_weights", cWeight),
			floats("base_values", m.Base[:]),
			{name: "post_transform", kind: attrString, s: "SOFTMAX"},
		}}
	g := graph{
		name:    "soccerpredict_gbt",
		nodes:   []node{ens},
		inputs:  []message{valueInfo("features", tensorDouble, []int64{-1, int64(width)})},
		outputs: []message{valueInfo("label", tensorInt64, []int64{-1}), valueInfo("probabilities", tensorFloat, []int64{-1, 3})},
	}
	return modelBytes(g, []opset{{"", 13}, {"ai.onnx.ml", 3}}, "gradient-boosted trees, home/draw/away")
}
