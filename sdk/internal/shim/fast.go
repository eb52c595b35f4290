package shim

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

// fastDirs are the private directories of this process's fast-path
// sockets, removed when it ends.
var fastDirs struct {
	sync.Mutex
	dirs []string
}

// removeFastDirs removes the fast-path sockets (at exit).
func removeFastDirs() {
	fastDirs.Lock()
	defer fastDirs.Unlock()
	for _, d := range fastDirs.dirs {
		os.RemoveAll(d)
	}
	fastDirs.dirs = nil
}

// listenFast serves h on a Unix socket in a directory only this user can
// enter, and returns the socket's path (see wire.ServeFast).
func listenFast(h wire.FastHandler, logger hclog.Logger) (string, error) {
	dir, err := os.MkdirTemp("", "soccerpredict-plugin-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "fast.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	fastDirs.Lock()
	fastDirs.dirs = append(fastDirs.dirs, dir)
	fastDirs.Unlock()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if err := wire.ServeFast(conn, h, fastStatus); err != nil && logger != nil {
					logger.Debug("fast-path connection ended", "error", err)
				}
			}()
		}
	}()
	return path, nil
}

// fastStatus is an implementation's error as gRPC would carry it.
func fastStatus(err error) (codes.Code, string) {
	st, _ := status.FromError(ToStatus(err))
	return st.Code(), st.Message()
}

// fast answers a model's fast-path calls as Predict does.
func (s *modelServer) fast(ctx context.Context, method byte, b []byte) (proto.Message, error) {
	if method != wire.FastPredict {
		return nil, status.Errorf(codes.Unimplemented, "a model plugin has no fast-path method %d", method)
	}
	var req pb.PredictRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "predict: the request does not decode: %v", err)
	}
	return s.Predict(ctx, &req)
}

// fast answers a feature plugin's fast-path calls as Compute does.
func (s *featuresServer) fast(ctx context.Context, method byte, b []byte) (proto.Message, error) {
	if method != wire.FastCompute {
		return nil, status.Errorf(codes.Unimplemented, "a feature plugin has no fast-path method %d", method)
	}
	var req pb.ComputeRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "compute: the request does not decode: %v", err)
	}
	return s.Compute(ctx, &req)
}
