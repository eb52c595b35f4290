package onnxgo_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/soccerpredict/soccerpredict/plugins/models/onnx/onnxgo"
	"github.com/soccerpredict/soccerpredict/plugins/models/onnx/trainer"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/model/modeltest"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/plugin/plugintest"
)

func TestConformance(t *testing.T) {
	modeltest.Run(t, onnxgo.New, modeltest.Options{}) // trains the default (logreg)
	req := modeltest.TrainingSet(5, 800, 3)
	req.Params = []byte(`{"algorithm": "gbt", "rounds": 20}`)
	f, err := trainer.Train(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.Run(t, onnxgo.New, modeltest.Options{Artifact: f.Artifact, Signature: f.Signature})
}

func TestSettingsAreRefused(t *testing.T) {
	if _, err := onnxgo.New(context.Background(), env(t, map[string]any{"library": "x.so"})); err == nil || !strings.Contains(err.Error(), "library") {
		t.Fatalf("a setting for another runtime: %v", err)
	}
}

// A small ONNX writer for graphs the trainer does not make.
type msg []byte

func (m msg) str(n protowire.Number, s string) msg { return m.bytes(n, []byte(s)) }
func (m msg) bytes(n protowire.Number, b []byte) msg {
	return protowire.AppendBytes(protowire.AppendTag(m, n, protowire.BytesType), b)
}
func (m msg) varint(n protowire.Number, v int64) msg {
	return protowire.AppendVarint(protowire.AppendTag(m, n, protowire.VarintType), uint64(v))
}
func (m msg) float(n protowire.Number, f float32) msg {
	return protowire.AppendFixed32(protowire.AppendTag(m, n, protowire.Fixed32Type), math.Float32bits(f))
}

func node(op, domain string, in, out []string, attrs ...msg) msg {
	var m msg
	for _, s := range in {
		m = m.str(1, s)
	}
	for _, s := range out {
		m = m.str(2, s)
	}
	m = m.str(3, op+"_node").str(4, op)
	for _, a := range attrs {
		m = m.bytes(5, a)
	}
	if domain != "" {
		m = m.str(7, domain)
	}
	return m
}

// floatTensor stores its data as raw little-endian bytes, as most exporters do.
func floatTensor(name string, dims []int64, data []float32) msg {
	var raw []byte
	for _, f := range data {
		raw = protowire.AppendFixed32(raw, math.Float32bits(f))
	}
	m := msg(nil)
	for _, d := range dims {
		m = m.varint(1, d)
	}
	return m.varint(2, 1).str(8, name).bytes(9, raw)
}

func value(name string, elem int64, dims ...int64) msg {
	var shape msg
	for _, d := range dims {
		if d < 0 {
			shape = shape.bytes(1, msg(nil).str(2, "N"))
		} else {
			shape = shape.bytes(1, msg(nil).varint(1, d))
		}
	}
	return msg(nil).str(1, name).bytes(2, msg(nil).bytes(1, msg(nil).varint(1, elem).bytes(2, shape)))
}

func modelOf(opset int64, nodes []msg, inits []msg, inputs, outputs []msg) []byte {
	var g msg
	for _, n := range nodes {
		g = g.bytes(1, n)
	}
	g = g.str(2, "test")
	for _, t := range inits {
		g = g.bytes(5, t)
	}
	for _, v := range inputs {
		g = g.bytes(11, v)
	}
	for _, v := range outputs {
		g = g.bytes(12, v)
	}
	return msg(nil).varint(1, 8).bytes(7, g).bytes(8, msg(nil).str(1, "").varint(2, opset))
}

// A float graph as a typical converter writes it: Gemm with a transposed
// weight matrix, then Softmax; the runtime feeds it float32 values.
func TestGemmSoftmaxFloatGraph(t *testing.T) {
	w := []float32{0.5, -1, 2, 0, 1, -0.5} // [3 classes, 2 features], transB
	b := []float32{0.1, 0, -0.1}
	art := modelOf(11,
		[]msg{
			node("Gemm", "", []string{"features", "W", "B"}, []string{"logits_"}, msg(nil).str(1, "transB").varint(3, 1).varint(20, 2), msg(nil).str(1, "alpha").float(2, 1).varint(20, 1)),
			node("Softmax", "", []string{"logits_"}, []string{"probabilities"}),
		},
		[]msg{floatTensor("W", []int64{3, 2}, w), floatTensor("B", []int64{3}, b)},
		[]msg{value("features", 1, -1, 2)}, []msg{value("probabilities", 1, -1, 3)})
	m, _ := onnxgo.New(context.Background(), env(t, nil))
	sig := model.Signature{Inputs: modeltest.TrainingSet(2, 1, 1).Columns, Outputs: model.Outputs}
	if err := m.Load(context.Background(), model.LoadRequest{Artifact: art, Signature: sig}); err != nil {
		t.Fatal(err)
	}
	x := []float64{0.3, -1.2}
	resp, err := m.Predict(context.Background(), model.PredictRequest{Rows: [][]float64{x}})
	if err != nil {
		t.Fatal(err)
	}
	var l [3]float64
	for k := range 3 {
		l[k] = float64(b[k]) + float64(w[2*k])*x[0] + float64(w[2*k+1])*x[1]
	}
	want := trainer.Softmax(l)
	got := resp.Probabilities[0]
	for k, g := range []float64{got.Home, got.Draw, got.Away} {
		if math.Abs(g-want[k]) > 1e-6 {
			t.Fatalf("class %d: %v, want %v", k, g, want[k])
		}
	}
}

func TestRefusals(t *testing.T) {
	cols := modeltest.TrainingSet(2, 1, 1).Columns
	sig := model.Signature{Inputs: cols, Outputs: model.Outputs}
	for name, c := range map[string]struct {
		artifact []byte
		want     string
	}{
		"garbage": {[]byte("definitely not protobuf \xff\xff"), "not an ONNX model"},
		"unknown operator": {modelOf(13, []msg{node("LSTM", "", []string{"features"}, []string{"probabilities"})}, nil,
			[]msg{value("features", 11, -1, 2)}, []msg{value("probabilities", 11, -1, 3)}), "operator LSTM is not implemented"},
		"no such input": {modelOf(13, []msg{node("Softmax", "", []string{"x"}, []string{"probabilities"})}, nil,
			[]msg{value("x", 11, -1, 2)}, []msg{value("probabilities", 11, -1, 3)}), `no input "features"`},
		"wrong width": {modelOf(13, []msg{node("Softmax", "", []string{"features"}, []string{"probabilities"})}, nil,
			[]msg{value("features", 11, -1, 5)}, []msg{value("probabilities", 11, -1, 3)}), "takes 5 features"},
		"dangling value": {modelOf(13, []msg{node("Add", "", []string{"features", "nowhere"}, []string{"probabilities"})}, nil,
			[]msg{value("features", 11, -1, 2)}, []msg{value("probabilities", 11, -1, 3)}), `"nowhere" is neither`},
		"foreign opset": {append(modelOf(13, []msg{node("Softmax", "", []string{"features"}, []string{"probabilities"})}, nil,
			[]msg{value("features", 11, -1, 2)}, []msg{value("probabilities", 11, -1, 3)}), msg(nil).bytes(8, msg(nil).str(1, "com.microsoft").varint(2, 1))...), `"com.microsoft"`},
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := onnxgo.New(context.Background(), env(t, nil))
			err := m.Load(context.Background(), model.LoadRequest{Artifact: c.artifact, Signature: sig})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	m, _ := onnxgo.New(context.Background(), env(t, nil))
	if _, err := m.Predict(context.Background(), model.PredictRequest{Rows: [][]float64{{1, 2}}}); err == nil {
		t.Fatal("predicted with no model loaded")
	}
}

// Whatever bytes it is given, Compile returns a program or an error; it never
// panics or hangs, and a program runs or errors on rows of any width.
func FuzzCompile(f *testing.F) {
	req := modeltest.TrainingSet(3, 300, 1)
	for _, p := range []string{`{}`, `{"algorithm": "gbt", "rounds": 3}`} {
		req.Params = []byte(p)
		r, err := trainer.Train(context.Background(), req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(r.Artifact)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := onnxgo.Compile(b, "features", "logits", "probabilities")
		if err != nil {
			return
		}
		for _, w := range []int{0, 1, 3, 7} {
			row := make([]float64, w)
			p.Run([][]float64{row, row})
		}
	})
}

// env is the plugin.Env the host would give for these settings.
func env(t testing.TB, settings any) plugin.Env { return plugintest.Env(t, "onnxgo", settings) }
