// Command soccer-source-openfootball is the openfootball source plugin binary;
// the host launches it, a person never needs to.
package main

import (
	"github.com/soccerpredict/soccerpredict/plugins/sources/openfootball"
	"github.com/soccerpredict/soccerpredict/sdk/serve"
)

func main() { serve.Source("openfootball", openfootball.New) }
