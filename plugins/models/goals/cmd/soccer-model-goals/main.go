// Command soccer-model-goals is the goals model plugin binary (pure Go);
// the host launches it.
package main

import (
	"github.com/soccerpredict/soccerpredict/plugins/models/goals"
	"github.com/soccerpredict/soccerpredict/sdk/serve"
)

func main() { serve.Model("goals", goals.New) }
