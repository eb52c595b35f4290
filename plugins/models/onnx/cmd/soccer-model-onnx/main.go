// Command soccer-model-onnx is the ONNX model plugin binary; the host launches it.
package main

import (
	"github.com/soccerpredict/soccerpredict/plugins/models/onnx"
	"github.com/soccerpredict/soccerpredict/sdk/serve"
)

func main() { serve.Model("onnx", onnx.New) }
