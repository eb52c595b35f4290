package shim

import (
	"google.golang.org/grpc"

	"github.com/soccerpredict/soccerpredict/sdk/features"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// SourcePlugin is the go-plugin glue of a source plugin.
func SourcePlugin(name, version string, f source.Factory) *Plugin[source.Source] {
	return &Plugin[source.Source]{Name: name, Version: version, Kind: wire.KindSource, Factory: f,
		Register: func(s *grpc.Server, impl *Lazy[source.Source], p *Plugin[source.Source]) wire.FastHandler {
			pb.RegisterSourceServer(s, &sourceServer{impl: impl, name: p.Name, version: p.Version})
			return nil // a source's calls are streams of files, not hot
		}}
}

// FeaturesPlugin is the go-plugin glue of a feature plugin.
func FeaturesPlugin(name, version string, f features.Factory) *Plugin[features.FeatureSet] {
	return &Plugin[features.FeatureSet]{Name: name, Version: version, Kind: wire.KindFeatures, Factory: f,
		Register: func(s *grpc.Server, impl *Lazy[features.FeatureSet], _ *Plugin[features.FeatureSet]) wire.FastHandler {
			fs := &featuresServer{impl: impl}
			pb.RegisterFeaturesServer(s, fs)
			return fs.fast
		}}
}

// ModelPlugin is the go-plugin glue of a model plugin.
func ModelPlugin(name, version string, f model.Factory) *Plugin[model.Model] {
	return &Plugin[model.Model]{Name: name, Version: version, Kind: wire.KindModel, Factory: f,
		Register: func(s *grpc.Server, impl *Lazy[model.Model], p *Plugin[model.Model]) wire.FastHandler {
			ms := &modelServer{impl: impl, name: p.Name, version: p.Version}
			pb.RegisterModelServer(s, ms)
			return ms.fast
		}}
}
