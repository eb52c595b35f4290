// Package shim is the plugin's side of the protocol: serving a plugin binary,
// the Control service that configures it, and the gRPC servers that call a
// kind's Go implementation.
package shim

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// Serve runs a plugin binary of one kind until the host ends it.
func Serve(name, kind string, p goplugin.Plugin) {
	logger := Logger(name)
	go exitWithParent(logger)
	// A container runtime signals the whole process group on shutdown. The
	// host is draining its requests then and still needs its plugins; it
	// stops them itself afterwards (and they exit when it is gone).
	signal.Ignore(syscall.SIGTERM)
	traced, flush := tracing(logger)
	defer flush()
	defer removeFastDirs()
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: wire.Config,
		Plugins:         goplugin.PluginSet{kind: p},
		Logger:          logger,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, wire.ServerOptions()...)
			opts = append(opts, traced...)
			return grpc.NewServer(opts...)
		},
	})
}

// Logger is a plugin's logger: JSON lines on stderr, which go-plugin hands
// to the host's log under the plugin's name.
func Logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, JSONFormat: true, Output: os.Stderr})
}

// exitWithParent ends the plugin when the host is gone, even if the host was
// killed and could not say goodbye: no orphaned plugin processes.
func exitWithParent(logger hclog.Logger) {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			logger.Warn("host process is gone; exiting")
			removeFastDirs()
			os.Exit(3)
		}
	}
}

// ControlServer answers Configure for one kind.
type ControlServer[T any] struct {
	pb.UnimplementedControlServer
	// Name and Version are the plugin's, handed to its factory in plugin.Env.
	Name, Version string
	// Logger is handed to the factory (nil: the plugin's stderr logger).
	Logger hclog.Logger
	Impl   *Lazy[T]
	// Fast answers the kind's hot calls on a socket of their own (nil: none).
	Fast wire.FastHandler

	fastOnce sync.Once
	fastPath string
}

// Configure negotiates the API version and builds the implementation.
func (s *ControlServer[T]) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	mine := wire.APIVersions[s.Impl.Kind]
	if req.GetKind() != s.Impl.Kind {
		return nil, status.Errorf(codes.InvalidArgument, "host asked for a %s plugin, this is a %s plugin", req.GetKind(), s.Impl.Kind)
	}
	if err := wire.Negotiate(s.Impl.Kind, req.GetHostApiVersion(), mine); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	logger := s.Logger
	if logger == nil {
		logger = Logger(s.Name)
	}
	env := plugin.Env{Name: s.Name, Version: s.Version, Settings: plugin.NewSettings(req.GetConfigJson()), Logger: logger}
	impl, err := s.Impl.Factory(ctx, env)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "configure %s: %v", s.Name, err)
	}
	s.Impl.Set(impl)
	if s.Fast != nil {
		s.fastOnce.Do(func() {
			path, err := listenFast(s.Fast, logger)
			if err != nil {
				logger.Warn("no fast path; the host will use gRPC", "error", err)
			}
			s.fastPath = path
		})
	}
	return &pb.ConfigureResponse{Name: s.Name, ApiVersion: mine, FastPath: s.fastPath}, nil
}
