// Command soccer-features-ratings is the ratings feature plugin binary; the
// host launches it.
package main

import (
	"github.com/soccerpredict/soccerpredict/plugins/features/ratings"
	"github.com/soccerpredict/soccerpredict/sdk/serve"
)

func main() { serve.Features("ratings", ratings.New) }
