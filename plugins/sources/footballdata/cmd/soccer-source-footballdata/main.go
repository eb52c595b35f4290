// Command soccer-source-footballdata is the footballdata source plugin binary;
// the host launches it, a person never needs to.
package main

import (
	"github.com/soccerpredict/soccerpredict/plugins/sources/footballdata"
	"github.com/soccerpredict/soccerpredict/sdk/serve"
)

func main() { serve.Source("footballdata", footballdata.New) }
