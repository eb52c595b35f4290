// Command soccer-model-onnx is the ONNX model plugin binary; the host launches it.
package main

import (
	"github.com/soccerpredict/soccerpredict/plugins/models/onnx"
	"github.com/soccerpredict/soccerpredict/sdk/model"
)

func main() { model.Serve("onnx", onnx.New) }
