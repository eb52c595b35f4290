package wire

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
)

// MaxMessageBytes bounds one gRPC message each way; large payloads are also
// chunked by the shims, so this is a safety margin, not a design limit.
const MaxMessageBytes = 64 << 20

// WindowBytes is the fixed HTTP/2 flow-control window of a plugin
// connection. A plugin talks to its host over a local socket, where gRPC's
// bandwidth-delay estimation has nothing to learn and only adds a PING frame
// (and a wake-up of both processes) to calls; a fixed window turns it off.
const WindowBytes = 4 << 20

// DialOptions are the client-side gRPC options a host should give go-plugin.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithInitialWindowSize(WindowBytes), grpc.WithInitialConnWindowSize(WindowBytes),
	}
}

// ServerOptions are the plugin-side counterparts of DialOptions.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.InitialWindowSize(WindowBytes), grpc.InitialConnWindowSize(WindowBytes),
	}
}

// RemoteError is an error a plugin call returned, with its gRPC code.
type RemoteError struct {
	Code    codes.Code
	Message string
}

func (e *RemoteError) Error() string {
	if e.Code == codes.Unknown {
		return e.Message
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

// Unwrap maps codes to the errors callers test for: the context errors, and
// the kinds of plugin error (plugin.ErrInvalid and the rest), so errors.Is
// answers the same on the host as inside the plugin.
func (e *RemoteError) Unwrap() error {
	switch e.Code {
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	case codes.Canceled:
		return context.Canceled
	case codes.InvalidArgument:
		return plugin.ErrInvalid
	case codes.NotFound:
		return plugin.ErrNotFound
	case codes.Unimplemented:
		return plugin.ErrUnsupported
	case codes.FailedPrecondition:
		return plugin.ErrNotReady
	}
	return nil
}

// IsUnavailable reports whether err means the plugin process could not be
// reached: it crashed, was killed, or is not up yet.
func IsUnavailable(err error) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Code == codes.Unavailable
}
