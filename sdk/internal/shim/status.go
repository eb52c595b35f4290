package shim

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
)

// ToStatus turns an implementation's error into a gRPC status, keeping its text.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, plugin.ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, plugin.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, plugin.ErrUnsupported):
		code = codes.Unimplemented
	case errors.Is(err, plugin.ErrNotReady):
		code = codes.FailedPrecondition
	}
	return status.Error(code, err.Error())
}

// orDefault is v, or fallback when v is empty.
func orDefault(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}
