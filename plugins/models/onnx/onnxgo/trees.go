package onnxgo

import (
	"fmt"
	"math"
)

// treeNode is one node of a compiled tree: a branch comparing feature with
// value, or a leaf (feature < 0) whose weights are in the ensemble's leaf table.
type treeNode struct {
	feature     int
	mode        byte
	value       float64
	true, false int32
	missingTrue bool
	leaf        int // index into ensemble.leaves for a leaf
}

type leafWeight struct {
	class  int
	weight float64
}

type ensemble struct {
	trees   [][]treeNode
	leaves  [][]leafWeight
	classes int
	base    []float64
	post    string
	width   int // the highest feature index + 1
}

const (
	modeLeaf = iota
	modeLEQ
	modeLT
	modeGTE
	modeGT
	modeEQ
	modeNEQ
)

// compileTrees reads an ai.onnx.ml TreeEnsembleClassifier's attributes into
// an ensemble and returns its op: outputs label (the argmax class's index
// among the labels) and the scores, as float.
func compileTrees(n nodeProto) (op, error) {
	a := n.attrs
	labels := len(a["classlabels_int64s"].ints)
	if s := len(a["classlabels_strings"].strings); s > 0 {
		labels = s
	}
	if labels < 3 {
		return nil, fmt.Errorf("%d class labels: binary and empty classifiers are not supported (a home/draw/away model has 3)", labels)
	}
	treeIDs, nodeIDs := a["nodes_treeids"].ints, a["nodes_nodeids"].ints
	features, modes := a["nodes_featureids"].ints, a["nodes_modes"].strings
	trueIDs, falseIDs := a["nodes_truenodeids"].ints, a["nodes_falsenodeids"].ints
	values := make([]float64, 0, len(treeIDs))
	for _, v := range a["nodes_values"].floats {
		values = append(values, float64(v))
	}
	if t := a["nodes_values_as_tensor"].t; t != nil {
		v, err := t.values()
		if err != nil {
			return nil, err
		}
		values = v
	}
	missing := a["nodes_missing_value_tracks_true"].ints
	count := len(treeIDs)
	for name, l := range map[string]int{"nodes_nodeids": len(nodeIDs), "nodes_featureids": len(features), "nodes_modes": len(modes),
		"nodes_truenodeids": len(trueIDs), "nodes_falsenodeids": len(falseIDs), "nodes_values": len(values)} {
		if l != count {
			return nil, fmt.Errorf("%s has %d entries, nodes_treeids %d", name, l, count)
		}
	}
	if len(missing) != 0 && len(missing) != count {
		return nil, fmt.Errorf("nodes_missing_value_tracks_true has %d entries, nodes_treeids %d", len(missing), count)
	}
	e := &ensemble{classes: labels, post: a["post_transform"].s}
	switch e.post {
	case "":
		e.post = "NONE"
	case "NONE", "SOFTMAX", "LOGISTIC":
	default:
		return nil, fmt.Errorf("post_transform %q is not supported (NONE, SOFTMAX, LOGISTIC)", e.post)
	}
	for _, b := range a["base_values"].floats {
		e.base = append(e.base, float64(b))
	}
	if len(e.base) != 0 && len(e.base) != labels {
		return nil, fmt.Errorf("%d base_values for %d classes", len(e.base), labels)
	}
	// Trees and nodes are identified by ids; index them densely.
	treeIndex := map[int64]int{}
	nodeIndex := map[[2]int64]int{}
	for i := range count {
		t, ok := treeIndex[treeIDs[i]]
		if !ok {
			t = len(e.trees)
			treeIndex[treeIDs[i]] = t
			e.trees = append(e.trees, nil)
		}
		key := [2]int64{treeIDs[i], nodeIDs[i]}
		if _, dup := nodeIndex[key]; dup {
			return nil, fmt.Errorf("tree %d has node %d twice", treeIDs[i], nodeIDs[i])
		}
		nodeIndex[key] = len(e.trees[t])
		mode, ok := map[string]byte{"LEAF": modeLeaf, "BRANCH_LEQ": modeLEQ, "BRANCH_LT": modeLT, "BRANCH_GTE": modeGTE,
			"BRANCH_GT": modeGT, "BRANCH_EQ": modeEQ, "BRANCH_NEQ": modeNEQ}[modes[i]]
		if !ok {
			return nil, fmt.Errorf("node mode %q is not a TreeEnsemble mode", modes[i])
		}
		nd := treeNode{feature: int(features[i]), mode: mode, value: values[i], leaf: -1}
		if len(missing) > 0 {
			nd.missingTrue = missing[i] != 0
		}
		if mode != modeLeaf {
			if nd.feature < 0 {
				return nil, fmt.Errorf("tree %d node %d: feature %d", treeIDs[i], nodeIDs[i], nd.feature)
			}
			e.width = max(e.width, nd.feature+1)
		}
		e.trees[t] = append(e.trees[t], nd)
	}
	// Resolve children to dense indexes.
	for i := range count {
		t := treeIndex[treeIDs[i]]
		nd := &e.trees[t][nodeIndex[[2]int64{treeIDs[i], nodeIDs[i]}]]
		if nd.mode == modeLeaf {
			continue
		}
		tr, ok1 := nodeIndex[[2]int64{treeIDs[i], trueIDs[i]}]
		fa, ok2 := nodeIndex[[2]int64{treeIDs[i], falseIDs[i]}]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("tree %d node %d: a child (%d, %d) is not a node of the tree", treeIDs[i], nodeIDs[i], trueIDs[i], falseIDs[i])
		}
		nd.true, nd.false = int32(tr), int32(fa)
	}
	cTree, cNode, cClass, cWeight := a["class_treeids"].ints, a["class_nodeids"].ints, a["class_ids"].ints, a["class_weights"].floats
	if len(cNode) != len(cTree) || len(cClass) != len(cTree) || len(cWeight) != len(cTree) {
		return nil, fmt.Errorf("class_treeids, class_nodeids, class_ids and class_weights have %d, %d, %d and %d entries", len(cTree), len(cNode), len(cClass), len(cWeight))
	}
	for i := range cTree {
		t, ok := treeIndex[cTree[i]]
		var j int
		if ok {
			j, ok = nodeIndex[[2]int64{cTree[i], cNode[i]}]
		}
		if !ok || e.trees[t][j].mode != modeLeaf {
			return nil, fmt.Errorf("class weight %d names tree %d node %d, which is not a leaf", i, cTree[i], cNode[i])
		}
		if cClass[i] < 0 || int(cClass[i]) >= labels {
			return nil, fmt.Errorf("class weight %d is for class %d of %d", i, cClass[i], labels)
		}
		nd := &e.trees[t][j]
		if nd.leaf < 0 {
			nd.leaf = len(e.leaves)
			e.leaves = append(e.leaves, nil)
		}
		e.leaves[nd.leaf] = append(e.leaves[nd.leaf], leafWeight{class: int(cClass[i]), weight: float64(cWeight[i])})
	}
	// Every path must end: a child index is always a node of the same tree,
	// so a tree terminates unless it has a cycle, which Compile refuses.
	for ti, tr := range e.trees {
		if err := acyclic(tr); err != nil {
			return nil, fmt.Errorf("tree %d: %w", ti, err)
		}
	}
	return e.run, nil
}

func acyclic(tr []treeNode) error {
	state := make([]byte, len(tr)) // 0 new, 1 on the path, 2 done
	var walk func(i int32) error
	walk = func(i int32) error {
		switch state[i] {
		case 1:
			return fmt.Errorf("node %d is its own descendant", i)
		case 2:
			return nil
		}
		state[i] = 1
		if tr[i].mode != modeLeaf {
			if err := walk(tr[i].true); err != nil {
				return err
			}
			if err := walk(tr[i].false); err != nil {
				return err
			}
		}
		state[i] = 2
		return nil
	}
	for i := range tr {
		if err := walk(int32(i)); err != nil {
			return err
		}
	}
	return nil
}

func (e *ensemble) run(in []tensor) ([]tensor, error) {
	x := in[0]
	if len(x.shape) != 2 {
		return nil, fmt.Errorf("input of shape %v, want [N, features]", x.shape)
	}
	n, width := x.shape[0], x.shape[1]
	if width < e.width {
		return nil, fmt.Errorf("rows have %d features, the trees split on feature %d", width, e.width-1)
	}
	label := tensor{shape: []int{n}, data: make([]float64, n)}
	scores := tensor{shape: []int{n, e.classes}, data: make([]float64, n*e.classes), f32: true}
	acc := make([]float32, e.classes)
	sum64 := make([]float64, e.classes)
	for r := range n {
		row := x.data[r*width : (r+1)*width]
		// Scores are summed in double, base values first, then the
		// post-transform runs in float, as ONNX Runtime does for a double input.
		for k := range sum64 {
			sum64[k] = 0
			if e.base != nil {
				sum64[k] = e.base[k]
			}
		}
		for _, tr := range e.trees {
			i := int32(0)
			for {
				nd := &tr[i]
				if nd.mode == modeLeaf {
					break
				}
				x := row[nd.feature]
				switch {
				case nd.mode != modeLEQ || x != x: // another comparison, or a missing value
					i = next(nd, x)
				case x <= nd.value:
					i = nd.true
				default:
					i = nd.false
				}
			}
			if l := tr[i].leaf; l >= 0 {
				for _, w := range e.leaves[l] {
					sum64[w.class] += w.weight
				}
			}
		}
		for k, v := range sum64 {
			acc[k] = float32(v)
		}
		best := 0
		for k, v := range acc {
			if v > acc[best] {
				best = k
			}
		}
		switch e.post {
		case "SOFTMAX":
			hi := acc[best]
			var sum float32
			for k, v := range acc {
				acc[k] = float32(math.Exp(float64(v - hi)))
				sum += acc[k]
			}
			for k := range acc {
				acc[k] /= sum
			}
		case "LOGISTIC":
			for k, v := range acc {
				acc[k] = float32(1 / (1 + math.Exp(-float64(v))))
			}
		}
		out := scores.data[r*e.classes : (r+1)*e.classes]
		for k, v := range acc {
			out[k] = float64(v)
		}
		label.data[r] = float64(best)
	}
	return []tensor{label, scores}, nil
}

func next(nd *treeNode, x float64) int32 {
	if math.IsNaN(x) {
		if nd.missingTrue {
			return nd.true
		}
		return nd.false
	}
	v := nd.value
	var ok bool
	switch nd.mode {
	case modeLEQ:
		ok = x <= v
	case modeLT:
		ok = x < v
	case modeGTE:
		ok = x >= v
	case modeGT:
		ok = x > v
	case modeEQ:
		ok = x == v
	case modeNEQ:
		ok = x != v
	}
	if ok {
		return nd.true
	}
	return nd.false
}
