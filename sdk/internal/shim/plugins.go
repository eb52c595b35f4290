package shim

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// Plugin is the plugin side of one kind's go-plugin glue. Register installs
// the kind's services on the server; GRPCClient gives the host's client, so
// one value also connects both ends in-process (the conformance suites).
type Plugin[T any] struct {
	goplugin.NetRPCUnsupportedPlugin
	Name, Version string
	Kind          string
	Factory       func(context.Context, plugin.Env) (T, error)
	// Register installs the kind's service and returns its fast-path
	// handler (nil: the kind has no hot calls).
	Register func(s *grpc.Server, impl *Lazy[T], p *Plugin[T]) wire.FastHandler
}

// GRPCServer registers the kind and its Control service.
func (p *Plugin[T]) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	impl := &Lazy[T]{Kind: p.Kind, Factory: p.Factory}
	control := &ControlServer[T]{Name: p.Name, Version: p.Version, Impl: impl}
	pb.RegisterControlServer(s, control)
	control.Fast = p.Register(s, impl, p)
	return nil
}

// GRPCClient returns the host's client of the kind.
func (p *Plugin[T]) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return wire.NewClient(p.Kind, c)
}
