// Package serve runs a plugin binary. A plugin's main is one line:
//
//	func main() { serve.Source("jsonfile", jsonfile.New) }
//
// The host launches the binary (a person who runs it gets a message saying
// so), configures it once with its settings, and ends it when done. The
// name given here is the plugin's name in Describe, in the host's log and in
// plugin.Env; its version comes from the binary's Go build information
// (plugin.BuildVersion), so neither needs repeating in the implementation.
package serve

import (
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/internal/shim"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// Source serves a data-source plugin until the host ends it.
func Source(name string, factory source.Factory) {
	shim.Serve(name, wire.KindSource, shim.SourcePlugin(name, plugin.BuildVersion(), factory))
}

// Features serves a feature plugin until the host ends it.
func Features(name string, factory features.Factory) {
	shim.Serve(name, wire.KindFeatures, shim.FeaturesPlugin(name, plugin.BuildVersion(), factory))
}

// Model serves a model plugin until the host ends it.
func Model(name string, factory model.Factory) {
	shim.Serve(name, wire.KindModel, shim.ModelPlugin(name, plugin.BuildVersion(), factory))
}
