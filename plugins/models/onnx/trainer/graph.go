package trainer

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file writes the small subset of the ONNX protobuf format (onnx.proto,
// IR version 8) that the exported models use, with protowire: a model, its
// graph, nodes, attributes, tensors and typed inputs/outputs. Field numbers
// are onnx.proto's.

const (
	irVersion = 8

	tensorFloat  = 1
	tensorInt64  = 7
	tensorDouble = 11

	attrFloat   = 1
	attrInt     = 2
	attrString  = 3
	attrFloats  = 6
	attrInts    = 7
	attrStrings = 8
)

type message []byte

func (m message) bytes(field protowire.Number, b []byte) message {
	m = protowire.AppendTag(m, field, protowire.BytesType)
	return protowire.AppendBytes(m, b)
}

func (m message) str(field protowire.Number, s string) message { return m.bytes(field, []byte(s)) }

func (m message) varint(field protowire.Number, v int64) message {
	m = protowire.AppendTag(m, field, protowire.VarintType)
	return protowire.AppendVarint(m, uint64(v))
}

func (m message) float32(field protowire.Number, f float32) message {
	m = protowire.AppendTag(m, field, protowire.Fixed32Type)
	return protowire.AppendFixed32(m, math.Float32bits(f))
}

func (m message) packedFloats(field protowire.Number, fs []float32) message {
	var b []byte
	for _, f := range fs {
		b = protowire.AppendFixed32(b, math.Float32bits(f))
	}
	return m.bytes(field, b)
}

func (m message) packedDoubles(field protowire.Number, fs []float64) message {
	var b []byte
	for _, f := range fs {
		b = protowire.AppendFixed64(b, math.Float64bits(f))
	}
	return m.bytes(field, b)
}

func (m message) packedInts(field protowire.Number, is []int64) message {
	var b []byte
	for _, i := range is {
		b = protowire.AppendVarint(b, uint64(i))
	}
	return m.bytes(field, b)
}

// attribute is a NodeProto attribute.
type attribute struct {
	name    string
	kind    int
	f       float32
	i       int64
	s       string
	floats  []float32
	ints    []int64
	strings []string
}

func (a attribute) encode() message {
	m := message(nil).str(1, a.name)
	switch a.kind {
	case attrFloat:
		m = m.float32(2, a.f)
	case attrInt:
		m = m.varint(3, a.i)
	case attrString:
		m = m.str(4, a.s)
	case attrFloats:
		m = m.packedFloats(7, a.floats)
	case attrInts:
		m = m.packedInts(8, a.ints)
	case attrStrings:
		for _, s := range a.strings {
			m = m.str(9, s)
		}
	}
	return m.varint(20, int64(a.kind))
}

type node struct {
	opType, domain, name string
	inputs, outputs      []string
	attrs                []attribute
}

func (n node) encode() message {
	var m message
	for _, in := range n.inputs {
		m = m.str(1, in)
	}
	for _, out := range n.outputs {
		m = m.str(2, out)
	}
	m = m.str(3, n.name).str(4, n.opType)
	for _, a := range n.attrs {
		m = m.bytes(5, a.encode())
	}
	if n.domain != "" {
		m = m.str(7, n.domain)
	}
	return m
}

// doubleTensor is an initializer of doubles.
func doubleTensor(name string, dims []int64, data []float64) message {
	return message(nil).packedInts(1, dims).varint(2, tensorDouble).packedDoubles(10, data).str(8, name)
}

// valueInfo is a typed graph input or output; a dim of -1 is variable ("N").
func valueInfo(name string, elemType int64, dims []int64) message {
	var shape message
	for _, d := range dims {
		var dim message
		if d < 0 {
			dim = dim.str(2, "N")
		} else {
			dim = dim.varint(1, d)
		}
		shape = shape.bytes(1, dim)
	}
	tensor := message(nil).varint(1, elemType).bytes(2, shape)
	typ := message(nil).bytes(1, tensor)
	return message(nil).str(1, name).bytes(2, typ)
}

type graph struct {
	name         string
	nodes        []node
	initializers []message
	inputs       []message
	outputs      []message
}

type opset struct {
	domain  string
	version int64
}

// modelBytes encodes a ModelProto.
func modelBytes(g graph, opsets []opset, doc string) []byte {
	var gm message
	for _, n := range g.nodes {
		gm = gm.bytes(1, n.encode())
	}
	gm = gm.str(2, g.name)
	for _, t := range g.initializers {
		gm = gm.bytes(5, t)
	}
	for _, in := range g.inputs {
		gm = gm.bytes(11, in)
	}
	for _, out := range g.outputs {
		gm = gm.bytes(12, out)
	}
	m := message(nil).varint(1, irVersion).str(2, "soccerpredict").str(3, ProducerVersion).str(6, doc).bytes(7, gm)
	for _, o := range opsets {
		m = m.bytes(8, message(nil).str(1, o.domain).varint(2, o.version))
	}
	return m
}
