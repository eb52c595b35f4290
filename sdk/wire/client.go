package wire

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
)

// Plugins is the go-plugin plugin set a host launches plugins with: one
// client-side entry per kind. Dispensing a kind gives its client
// (*SourceClient, *FeaturesClient or *ModelClient), which implements the
// kind's interface and Configurer.
func Plugins() goplugin.PluginSet {
	return goplugin.PluginSet{
		KindSource:   &ClientPlugin{Kind: KindSource},
		KindFeatures: &ClientPlugin{Kind: KindFeatures},
		KindModel:    &ClientPlugin{Kind: KindModel},
	}
}

// ClientPlugin is the host's half of a kind's go-plugin glue: it makes
// clients and serves nothing.
type ClientPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	Kind string
}

// GRPCServer refuses: the host never serves a plugin kind.
func (p *ClientPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("wire: the host side of a plugin cannot serve it; plugins use package serve")
}

// GRPCClient returns the kind's client on the connection.
func (p *ClientPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewClient(p.Kind, c)
}

// NewClient returns the client of a kind on a gRPC connection.
func NewClient(kind string, c grpc.ClientConnInterface) (any, error) {
	control := pb.NewControlClient(c)
	switch kind {
	case KindSource:
		return &SourceClient{control: control, source: pb.NewSourceClient(c)}, nil
	case KindFeatures:
		return &FeaturesClient{control: control, features: pb.NewFeaturesClient(c)}, nil
	case KindModel:
		return &ModelClient{control: control, model: pb.NewModelClient(c)}, nil
	}
	return nil, fmt.Errorf("wire: no plugin kind %q", kind)
}

// configure calls a plugin's Control service and checks the API version it
// answers; fast, when set, gets the plugin's fast path (none: gRPC only).
func configure(ctx context.Context, c pb.ControlClient, kind string, settings plugin.Settings, fast *atomic.Pointer[fastClient]) (Identity, error) {
	host := APIVersions[kind]
	resp, err := c.Configure(ctx, &pb.ConfigureRequest{Kind: kind, HostApiVersion: host, ConfigJson: settings.JSON()})
	if err != nil {
		return Identity{}, fmt.Errorf("configure %s plugin: %w", kind, FromStatus(err))
	}
	if err := Negotiate(kind, host, resp.GetApiVersion()); err != nil {
		return Identity{}, err
	}
	id := Identity{Name: resp.GetName(), APIVersion: resp.GetApiVersion(), Transport: "grpc"}
	if fast != nil {
		f := newFastClient(resp.GetFastPath())
		fast.Store(f)
		id.Transport = f.transport()
	}
	return id, nil
}

// FromStatus turns a gRPC error into a RemoteError with the plugin's message.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return &RemoteError{Code: st.Code(), Message: st.Message()}
}
