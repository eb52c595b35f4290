package onnxgo

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file reads the part of the ONNX protobuf format (onnx.proto) a
// runtime needs: the model's opsets and graph; the graph's nodes,
// initializers, inputs and outputs; nodes' attributes; tensors. Field
// numbers are onnx.proto's. Unknown fields are skipped, as protobuf says.

// ONNX TensorProto.DataType values this runtime handles.
const (
	typeFloat  = 1
	typeInt32  = 6
	typeInt64  = 7
	typeDouble = 11
)

type modelProto struct {
	opsets map[string]int64
	graph  graphProto
}

type graphProto struct {
	nodes        []nodeProto
	initializers []tensorProto
	inputs       []valueInfo
	outputs      []valueInfo
}

type nodeProto struct {
	name, opType, domain string
	inputs, outputs      []string
	attrs                map[string]attrProto
}

type attrProto struct {
	f       float32
	i       int64
	s       string
	t       *tensorProto
	floats  []float32
	ints    []int64
	strings []string
}

type tensorProto struct {
	name     string
	dims     []int64
	dataType int64
	floats   []float32
	doubles  []float64
	ints     []int64
	raw      []byte
	external bool
}

type valueInfo struct {
	name     string
	elemType int64
	// dims are the declared dimensions; -1 is a symbolic or unknown one.
	dims []int64
}

// field is one decoded protobuf field: v for varint and fixed values, b for
// length-delimited ones.
type field struct {
	num protowire.Number
	typ protowire.Type
	v   uint64
	b   []byte
}

// each calls fn for every field of a message.
func each(msg []byte, what string, fn func(f field) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return fmt.Errorf("%s: %w", what, protowire.ParseError(n))
		}
		msg = msg[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(msg)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(msg)
			f.v = uint64(v)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(msg)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(msg)
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if n < 0 {
			return fmt.Errorf("%s: field %d: %w", what, num, protowire.ParseError(n))
		}
		msg = msg[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// varints appends a repeated int64 field, packed or not.
func varints(dst []int64, f field) ([]int64, error) {
	if f.typ == protowire.VarintType {
		return append(dst, int64(f.v)), nil
	}
	b := f.b
	for len(b) > 0 {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		dst, b = append(dst, int64(v)), b[n:]
	}
	return dst, nil
}

// float32s appends a repeated float field, packed or not.
func float32s(dst []float32, f field) ([]float32, error) {
	if f.typ == protowire.Fixed32Type {
		return append(dst, math.Float32frombits(uint32(f.v))), nil
	}
	if len(f.b)%4 != 0 {
		return nil, fmt.Errorf("packed floats of %d bytes", len(f.b))
	}
	for i := 0; i < len(f.b); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(f.b[i:])))
	}
	return dst, nil
}

// float64s appends a repeated double field, packed or not.
func float64s(dst []float64, f field) ([]float64, error) {
	if f.typ == protowire.Fixed64Type {
		return append(dst, math.Float64frombits(f.v)), nil
	}
	if len(f.b)%8 != 0 {
		return nil, fmt.Errorf("packed doubles of %d bytes", len(f.b))
	}
	for i := 0; i < len(f.b); i += 8 {
		dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(f.b[i:])))
	}
	return dst, nil
}

func decodeModel(b []byte) (modelProto, error) {
	m := modelProto{opsets: map[string]int64{}}
	sawGraph := false
	err := each(b, "model", func(f field) error {
		switch f.num {
		case 7:
			g, err := decodeGraph(f.b)
			m.graph, sawGraph = g, true
			return err
		case 8:
			var domain string
			var version int64
			if err := each(f.b, "opset_import", func(f field) error {
				switch f.num {
				case 1:
					domain = string(f.b)
				case 2:
					version = int64(f.v)
				}
				return nil
			}); err != nil {
				return err
			}
			if domain == "ai.onnx" {
				domain = ""
			}
			m.opsets[domain] = version
		}
		return nil
	})
	if err == nil && !sawGraph {
		err = fmt.Errorf("model: no graph (is this an ONNX file?)")
	}
	return m, err
}

func decodeGraph(b []byte) (graphProto, error) {
	var g graphProto
	err := each(b, "graph", func(f field) error {
		switch f.num {
		case 1:
			n, err := decodeNode(f.b)
			g.nodes = append(g.nodes, n)
			return err
		case 5:
			t, err := decodeTensor(f.b)
			g.initializers = append(g.initializers, t)
			return err
		case 11, 12:
			v, err := decodeValueInfo(f.b)
			if f.num == 11 {
				g.inputs = append(g.inputs, v)
			} else {
				g.outputs = append(g.outputs, v)
			}
			return err
		}
		return nil
	})
	return g, err
}

func decodeNode(b []byte) (nodeProto, error) {
	n := nodeProto{attrs: map[string]attrProto{}}
	err := each(b, "node", func(f field) error {
		switch f.num {
		case 1:
			n.inputs = append(n.inputs, string(f.b))
		case 2:
			n.outputs = append(n.outputs, string(f.b))
		case 3:
			n.name = string(f.b)
		case 4:
			n.opType = string(f.b)
		case 5:
			name, a, err := decodeAttr(f.b)
			n.attrs[name] = a
			return err
		case 7:
			n.domain = string(f.b)
		}
		return nil
	})
	if n.domain == "ai.onnx" {
		n.domain = ""
	}
	if err != nil {
		return n, fmt.Errorf("node %q: %w", n.name, err)
	}
	return n, nil
}

func decodeAttr(b []byte) (string, attrProto, error) {
	var (
		name string
		a    attrProto
		err  error
	)
	err = each(b, "attribute", func(f field) error {
		switch f.num {
		case 1:
			name = string(f.b)
		case 2:
			a.f = math.Float32frombits(uint32(f.v))
		case 3:
			a.i = int64(f.v)
		case 4:
			a.s = string(f.b)
		case 5:
			t, err := decodeTensor(f.b)
			a.t = &t
			return err
		case 7:
			a.floats, err = float32s(a.floats, f)
		case 8:
			a.ints, err = varints(a.ints, f)
		case 9:
			a.strings = append(a.strings, string(f.b))
		}
		return err
	})
	if err != nil {
		return name, a, fmt.Errorf("attribute %q: %w", name, err)
	}
	return name, a, nil
}

func decodeTensor(b []byte) (tensorProto, error) {
	var (
		t   tensorProto
		err error
	)
	err = each(b, "tensor", func(f field) error {
		switch f.num {
		case 1:
			t.dims, err = varints(t.dims, f)
		case 2:
			t.dataType = int64(f.v)
		case 4:
			t.floats, err = float32s(t.floats, f)
		case 5, 7:
			t.ints, err = varints(t.ints, f)
		case 8:
			t.name = string(f.b)
		case 9:
			t.raw = f.b
		case 10:
			t.doubles, err = float64s(t.doubles, f)
		case 13:
			t.external = true
		}
		return err
	})
	if err != nil {
		return t, fmt.Errorf("tensor %q: %w", t.name, err)
	}
	return t, nil
}

func decodeValueInfo(b []byte) (valueInfo, error) {
	var v valueInfo
	err := each(b, "value_info", func(f field) error {
		switch f.num {
		case 1:
			v.name = string(f.b)
		case 2: // TypeProto
			return each(f.b, "type", func(f field) error {
				if f.num != 1 { // tensor_type; sequences and maps are not tensors
					return nil
				}
				return each(f.b, "tensor_type", func(f field) error {
					switch f.num {
					case 1:
						v.elemType = int64(f.v)
					case 2:
						return each(f.b, "shape", func(f field) error {
							if f.num != 1 {
								return nil
							}
							d := int64(-1)
							err := each(f.b, "dim", func(f field) error {
								if f.num == 1 {
									d = int64(f.v)
								}
								return nil
							})
							v.dims = append(v.dims, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return v, err
}

// values returns a tensor's data as float64s, whichever way it was stored.
func (t tensorProto) values() ([]float64, error) {
	if t.external {
		return nil, fmt.Errorf("tensor %q: data stored outside the model file is not supported", t.name)
	}
	n := 1
	for _, d := range t.dims {
		if d < 0 {
			return nil, fmt.Errorf("tensor %q: negative dimension %d", t.name, d)
		}
		n *= int(d)
	}
	var out []float64
	switch t.dataType {
	case typeFloat:
		if t.raw != nil {
			f, err := float32s(nil, field{typ: protowire.BytesType, b: t.raw})
			if err != nil {
				return nil, err
			}
			t.floats = f
		}
		for _, v := range t.floats {
			out = append(out, float64(v))
		}
	case typeDouble:
		out = t.doubles
		if t.raw != nil {
			f, err := float64s(nil, field{typ: protowire.BytesType, b: t.raw})
			if err != nil {
				return nil, err
			}
			out = f
		}
	case typeInt64, typeInt32:
		ints := t.ints
		if t.raw != nil {
			size := 8
			if t.dataType == typeInt32 {
				size = 4
			}
			if len(t.raw)%size != 0 {
				return nil, fmt.Errorf("tensor %q: raw data of %d bytes", t.name, len(t.raw))
			}
			for i := 0; i < len(t.raw); i += size {
				if size == 8 {
					ints = append(ints, int64(binary.LittleEndian.Uint64(t.raw[i:])))
				} else {
					ints = append(ints, int64(int32(binary.LittleEndian.Uint32(t.raw[i:]))))
				}
			}
		}
		for _, v := range ints {
			out = append(out, float64(v))
		}
	default:
		return nil, fmt.Errorf("tensor %q: data type %d is not a number type this runtime handles (float, double, int32, int64)", t.name, t.dataType)
	}
	if len(out) != n {
		return nil, fmt.Errorf("tensor %q: %d values for dimensions %v", t.name, len(out), t.dims)
	}
	return out, nil
}
