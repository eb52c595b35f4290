// Command soccer-model-onnxgo is the pure-Go ONNX model plugin binary (no
// cgo); the host launches it.
package main

import (
	"github.com/soccerpredict/soccerpredict/plugins/models/onnx/onnxgo"
	"github.com/soccerpredict/soccerpredict/sdk/serve"
)

func main() { serve.Model("onnxgo", onnxgo.New) }
