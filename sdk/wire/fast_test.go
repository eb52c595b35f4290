package wire

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
)

// fastServer serves h on a Unix socket for the test and returns a client of it.
func fastServer(t *testing.T, h FastHandler) (*fastClient, net.Listener) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fast.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	code := func(err error) (codes.Code, string) {
		if st, ok := status.FromError(err); ok {
			return st.Code(), st.Message()
		}
		if errors.Is(err, plugin.ErrNotFound) {
			return codes.NotFound, err.Error()
		}
		return codes.Unknown, err.Error()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go ServeFast(c, h, code)
		}
	}()
	return newFastClient(path), ln
}

// Calls cross the fast path whole, many at once, and a plugin's typed
// error keeps its kind.
func TestFastPathCalls(t *testing.T) {
	f, _ := fastServer(t, func(ctx context.Context, method byte, b []byte) (proto.Message, error) {
		var req pb.PredictRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			return nil, err
		}
		if req.GetColumns() < 0 {
			return nil, plugin.NotFound("no model for %d columns", req.GetColumns())
		}
		return &pb.PredictResponse{Probabilities: []float64{req.GetValues()[0], 1, 2}}, nil
	})
	ctx := context.Background()
	errs := make(chan error, 32)
	for i := range 32 {
		go func() {
			var resp pb.PredictResponse
			err := f.call(ctx, FastPredict, &pb.PredictRequest{Columns: 1, Values: []float64{float64(i)}}, &resp)
			if err == nil && resp.GetProbabilities()[0] != float64(i) {
				err = errors.New("another call's answer")
			}
			errs <- err
		}()
	}
	for range 32 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	err := f.call(ctx, FastPredict, &pb.PredictRequest{Columns: -1}, &pb.PredictResponse{})
	if !errors.Is(err, plugin.ErrNotFound) || err.(*RemoteError).Message != "no model for -1 columns" {
		t.Fatalf("a typed error: %v", err)
	}
	if len(f.idle) == 0 {
		t.Fatal("no connection was kept for the next call")
	}
}

// A call honours its context's deadline and cancellation; a plugin that is
// gone is Unavailable, which the host answers by relaunching it.
func TestFastPathDeadlinesAndOutages(t *testing.T) {
	release := make(chan struct{})
	f, ln := fastServer(t, func(ctx context.Context, method byte, b []byte) (proto.Message, error) {
		if _, ok := ctx.Deadline(); !ok {
			return nil, errors.New("no deadline reached the plugin")
		}
		<-release
		return &pb.PredictResponse{}, nil
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := f.call(ctx, FastPredict, &pb.PredictRequest{}, &pb.PredictResponse{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a call past its deadline: %v", err)
	}
	ln.Close()
	f.idle = make(chan *fastConn, fastPoolSize) // connections of the old listener aside
	if err := f.call(context.Background(), FastPredict, &pb.PredictRequest{}, &pb.PredictResponse{}); !IsUnavailable(err) {
		t.Fatalf("a plugin that is gone: %v, want unavailable", err)
	}
	var none *fastClient
	if err := none.call(context.Background(), FastPredict, &pb.PredictRequest{}, &pb.PredictResponse{}); !errors.Is(err, errNoFast) {
		t.Fatalf("no fast path: %v", err)
	}
}
