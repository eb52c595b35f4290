package shim

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

type failing struct{ err error }

func (f failing) Describe(context.Context) (source.Description, error) {
	return source.Description{}, nil
}
func (f failing) Fetch(context.Context, source.FetchRequest, source.Sink) error {
	return f.err
}

// A plugin's kind of error survives the process boundary: errors.Is gives the
// same answer on the host, and the message is the plugin's.
func TestErrorKindsCrossTheWire(t *testing.T) {
	for _, kind := range []error{plugin.ErrInvalid, plugin.ErrNotFound, plugin.ErrUnsupported, plugin.ErrNotReady} {
		impl := &Lazy[source.Source]{Kind: wire.KindSource}
		impl.Set(failing{err: &plugin.Error{Kind: kind, Message: "season 9900 is not published"}})
		conn := bufDial(t, func(s *grpc.Server) { pb.RegisterSourceServer(s, &sourceServer{impl: impl}) })
		c, _ := wire.NewClient(wire.KindSource, conn)
		_, err := source.Collect(context.Background(), c.(source.Source), source.FetchRequest{})
		if !errors.Is(err, kind) || wire.IsUnavailable(err) {
			t.Fatalf("%v: host got %v", kind, err)
		}
		for _, other := range []error{plugin.ErrInvalid, plugin.ErrNotFound, plugin.ErrUnsupported, plugin.ErrNotReady} {
			if other != kind && errors.Is(err, other) {
				t.Errorf("%v: the host's error is also %v", kind, other)
			}
		}
		if want := "season 9900 is not published"; err.Error()[:len(want)] != want {
			t.Errorf("%v: message %q", kind, err)
		}
	}
}

// The version policy: a host talks to a plugin of an older minor version of
// its kind's API (and a newer one); only a different major is refused.
type fixedControl struct {
	pb.UnimplementedControlServer
	version string
}

func (f fixedControl) Configure(context.Context, *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	return &pb.ConfigureResponse{Name: "old", ApiVersion: f.version}, nil
}

func TestOlderMinorPluginsLoad(t *testing.T) {
	for version, ok := range map[string]bool{"1.0.0": true, "1.9.0": true, "2.0.0": false} {
		conn := bufDial(t, func(s *grpc.Server) { pb.RegisterControlServer(s, fixedControl{version: version}) })
		c, _ := wire.NewClient(wire.KindSource, conn)
		id, err := c.(wire.Configurer).Configure(context.Background(), plugin.Settings{})
		if (err == nil) != ok || (ok && id.APIVersion != version) {
			t.Errorf("plugin at %s against host at %s: %+v, %v", version, wire.APIVersions[wire.KindSource], id, err)
		}
	}
}
