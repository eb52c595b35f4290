package mlmodel

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// TensorSpec is one input or output of an ONNX graph, as MLflow's tensor
// signature states it: a numpy dtype and a shape with -1 for a dimension of
// any size.
type TensorSpec struct {
	Name  string  `json:"name"`
	Dtype string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// onnxDtypes maps ONNX's TensorProto element types to numpy's names.
var onnxDtypes = map[uint64]string{1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64"}

// GraphIO reads the inputs and outputs of an ONNX model (a serialized
// ModelProto), so the MLmodel's signature says exactly what MLflow's ONNX
// flavor will feed and return. Initializers listed as inputs (older
// exporters do) are left out.
func GraphIO(artifact []byte) (inputs, outputs []TensorSpec, err error) {
	graph, ok := field(artifact, 7)
	if !ok {
		return nil, nil, errors.New("not an ONNX model: no graph")
	}
	initializers := map[string]bool{}
	var ins, outs [][]byte
	err = each(graph, func(num protowire.Number, v []byte) error {
		switch num {
		case 5: // initializer: TensorProto, name = 8
			if name, ok := field(v, 8); ok {
				initializers[string(name)] = true
			}
		case 11:
			ins = append(ins, v)
		case 12:
			outs = append(outs, v)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	for _, group := range []struct {
		raw  [][]byte
		dest *[]TensorSpec
	}{{ins, &inputs}, {outs, &outputs}} {
		for _, vi := range group.raw {
			spec, err := valueInfo(vi)
			if err != nil {
				return nil, nil, fmt.Errorf("not an ONNX model: %w", err)
			}
			if !initializers[spec.Name] {
				*group.dest = append(*group.dest, spec)
			}
		}
	}
	if len(inputs) == 0 || len(outputs) == 0 {
		return nil, nil, errors.New("not an ONNX model: the graph has no inputs or no outputs")
	}
	return inputs, outputs, nil
}

// valueInfo reads a ValueInfoProto: name 1, type 2 → tensor_type 1 →
// elem_type 1, shape 2 → dim 1 → dim_value 1 | dim_param 2.
func valueInfo(b []byte) (TensorSpec, error) {
	name, _ := field(b, 1)
	spec := TensorSpec{Name: string(name), Shape: []int64{}}
	typ, _ := field(b, 2)
	tensor, ok := field(typ, 1)
	if !ok {
		return spec, fmt.Errorf("%s is not a tensor", spec.Name)
	}
	err := each(tensor, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			n, _ := protowire.ConsumeVarint(v)
			spec.Dtype = onnxDtypes[n]
		case 2:
			return each(v, func(num protowire.Number, dim []byte) error {
				if num != 1 {
					return nil
				}
				size := int64(-1) // a named or unknown dimension
				if raw, ok := field(dim, 1); ok {
					n, _ := protowire.ConsumeVarint(raw)
					size = int64(n)
				}
				spec.Shape = append(spec.Shape, size)
				return nil
			})
		}
		return nil
	})
	if spec.Dtype == "" {
		return spec, fmt.Errorf("%s has an element type MLflow cannot name", spec.Name)
	}
	return spec, err
}

// each calls f for every field of a message: the raw bytes of a
// length-delimited field, the varint's encoding otherwise.
func each(b []byte, f func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		switch typ {
		case protowire.BytesType:
			val, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			v, n = val, m
		case protowire.VarintType:
			_, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			v, n = b[:m], m
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			n = m
		}
		if err := f(num, v); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// field returns the first value of field num (for a varint, its encoding).
func field(b []byte, num protowire.Number) ([]byte, bool) {
	var out []byte
	found := false
	each(b, func(n protowire.Number, v []byte) error {
		if n == num && !found {
			out, found = v, true
		}
		return nil
	})
	return out, found
}
