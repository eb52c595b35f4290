// Package shim holds what the gRPC shims of every plugin kind share: serving
// a plugin binary, the Control service that configures it, and the
// conversions between sdk values and their wire form.
package shim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/soccerpredict/soccerpredict/sdk/handshake"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
)

// Serve runs a plugin binary of one kind until the host ends it.
func Serve(name, kind string, p plugin.Plugin) {
	logger := hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, JSONFormat: true, Output: os.Stderr})
	go exitWithParent(logger)
	// A container runtime signals the whole process group on shutdown. The
	// host is draining its requests then and still needs its plugins; it
	// stops them itself afterwards (and they exit when it is gone).
	signal.Ignore(syscall.SIGTERM)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake.Config,
		Plugins:         plugin.PluginSet{kind: p},
		Logger:          logger,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, handshake.ServerOptions()...)
			return grpc.NewServer(opts...)
		},
	})
}

// exitWithParent ends the plugin when the host is gone, even if the host was
// killed and could not say goodbye: no orphaned plugin processes.
func exitWithParent(logger hclog.Logger) {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			logger.Warn("host process is gone; exiting")
			os.Exit(3)
		}
	}
}

// Lazy holds a plugin implementation that exists only once the host has
// configured the plugin with its settings.
type Lazy[T any] struct {
	Kind    string
	Factory func(handshake.Settings) (T, error)

	mu   sync.RWMutex
	impl T
	ok   bool
}

// Get returns the configured implementation, or FailedPrecondition.
func (l *Lazy[T]) Get() (T, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if !l.ok {
		var zero T
		return zero, status.Error(codes.FailedPrecondition, "plugin is not configured: the host must call Configure first")
	}
	return l.impl, nil
}

// Set installs an implementation directly (in-process use and tests).
func (l *Lazy[T]) Set(impl T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.impl, l.ok = impl, true
}

// ControlServer answers Configure for one kind.
type ControlServer[T any] struct {
	pb.UnimplementedControlServer
	Name string
	Impl *Lazy[T]
}

// Configure negotiates the API version and builds the implementation.
func (s *ControlServer[T]) Configure(_ context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	mine := handshake.APIVersions[s.Impl.Kind]
	if req.GetKind() != s.Impl.Kind {
		return nil, status.Errorf(codes.InvalidArgument, "host asked for a %s plugin, this is a %s plugin", req.GetKind(), s.Impl.Kind)
	}
	if err := handshake.Negotiate(s.Impl.Kind, req.GetHostApiVersion(), mine); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	impl, err := s.Impl.Factory(handshake.NewSettings(req.GetConfigJson()))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "configure %s: %v", s.Name, err)
	}
	s.Impl.Set(impl)
	return &pb.ConfigureResponse{Name: s.Name, ApiVersion: mine}, nil
}

// Configure calls a plugin's Control service and checks the API version it answers.
func Configure(ctx context.Context, c pb.ControlClient, kind string, settings handshake.Settings) (handshake.Identity, error) {
	host := handshake.APIVersions[kind]
	resp, err := c.Configure(ctx, &pb.ConfigureRequest{Kind: kind, HostApiVersion: host, ConfigJson: settings.JSON()})
	if err != nil {
		return handshake.Identity{}, fmt.Errorf("configure %s plugin: %w", kind, FromStatus(err))
	}
	if err := handshake.Negotiate(kind, host, resp.GetApiVersion()); err != nil {
		return handshake.Identity{}, err
	}
	return handshake.Identity{Name: resp.GetName(), APIVersion: resp.GetApiVersion()}, nil
}

// ToStatus turns an implementation's error into a gRPC status, keeping its text.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
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
	return &handshake.RemoteError{Code: st.Code(), Message: st.Message()}
}
