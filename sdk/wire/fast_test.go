package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// answeredBy calls once and says how the answer came back: "region" when
// the plugin put it in the connection's answer region, else the state the
// region was left in (or "no region").
func answeredBy(t *testing.T, f *fastClient, req *pb.PredictRequest, resp *pb.PredictResponse) string {
	t.Helper()
	if err := f.call(context.Background(), FastPredict, req, resp); err != nil {
		t.Fatal(err)
	}
	conn := <-f.idle
	defer func() { f.idle <- conn }()
	if conn.region == nil {
		return "no region"
	}
	switch atomic.LoadUint32(conn.region.state()) {
	case answerIdle:
		return "region"
	case answerSleeping:
		return "socket, not watched"
	case answerOnSocket:
		return "socket, too large"
	}
	return "?"
}

// An answer that comes back soon is put in the connection's shared region
// while the host watches for it; one too large for the region, and one
// that takes longer than the host watches, come on the socket; and a host
// whose recent answers were slow sleeps on the socket at once. Every
// answer is whole either way.
func TestFastPathAnswersInSharedMemory(t *testing.T) {
	defer func(d time.Duration) { spinMax = d }(spinMax)
	spinMax = 200 * time.Millisecond // answers here are quick, even under -race
	f, _ := fastServer(t, func(ctx context.Context, method byte, b []byte) (proto.Message, error) {
		var req pb.PredictRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			return nil, err
		}
		switch req.GetColumns() {
		case 2:
			time.Sleep(3 * spinMax)
		case 3:
			large := make([]float64, answerRegionSize/8)
			large[len(large)-1] = 7
			return &pb.PredictResponse{Probabilities: large}, nil
		}
		return &pb.PredictResponse{Probabilities: req.GetValues()}, nil
	})
	var resp pb.PredictResponse
	for i := range 3 {
		if how := answeredBy(t, f, &pb.PredictRequest{Columns: 1, Values: []float64{float64(i)}}, &resp); how != "region" || resp.GetProbabilities()[0] != float64(i) {
			t.Fatalf("a quick small answer came by %s: %v", how, resp.GetProbabilities())
		}
	}
	if how := answeredBy(t, f, &pb.PredictRequest{Columns: 3}, &resp); how != "socket, too large" || len(resp.GetProbabilities()) != answerRegionSize/8 || resp.GetProbabilities()[answerRegionSize/8-1] != 7 {
		t.Fatalf("an answer larger than the region came by %s with %d values", how, len(resp.GetProbabilities()))
	}
	f.recent.Store(int64(spinMax)) // still watched, at the edge
	if how := answeredBy(t, f, &pb.PredictRequest{Columns: 2, Values: []float64{5}}, &resp); how != "socket, not watched" || resp.GetProbabilities()[0] != 5 {
		t.Fatalf("a slow answer came by %s: %v", how, resp.GetProbabilities())
	}
	if time.Duration(f.recent.Load()) <= spinMax {
		t.Fatalf("recent answers average %v after a slow one", time.Duration(f.recent.Load()))
	}
	if how := answeredBy(t, f, &pb.PredictRequest{Columns: 1, Values: []float64{6}}, &resp); how != "socket, not watched" || resp.GetProbabilities()[0] != 6 {
		t.Fatalf("after slow answers, an answer came by %s: %v", how, resp.GetProbabilities())
	}
	// Quick answers again: one call in probeEvery watches anyway, the
	// average of watched answers falls, and the calls are watched again.
	// Answers that were not watched are not counted (their time holds the
	// host's own wake-up), so they cannot keep it slow.
	f.recent.Store(int64(10 * spinMax))
	var probes int
	quick := -1 // the first call after which the average was quick again
	for i := range 64 * probeEvery {
		how := answeredBy(t, f, &pb.PredictRequest{Columns: 1, Values: []float64{float64(i)}}, &resp)
		if resp.GetProbabilities()[0] != float64(i) {
			t.Fatalf("call %d answered %v", i, resp.GetProbabilities())
		}
		switch {
		case quick >= 0 && how != "region":
			t.Fatalf("call %d, with quick answers again, came by %s", i, how)
		case quick < 0 && how == "region":
			probes++
		}
		if quick < 0 && time.Duration(f.recent.Load()) <= spinMax {
			quick = i
		}
	}
	if quick < 0 || quick > 32*probeEvery || probes == 0 || probes > quick/probeEvery+1 {
		t.Fatalf("quick again after call %d, with %d answers in the region before (average %v)", quick, probes, time.Duration(f.recent.Load()))
	}
}

// A plugin built before answer regions answers the attach Unimplemented, as
// any method it does not know: its calls all go through the socket, and
// no connection offers it a region again.
func TestFastPathPluginWithoutRegions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	attaches := make(chan byte, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // the fast path as plugins built before regions serve it
				defer c.Close()
				r := bufio.NewReader(c)
				var in []byte
				for {
					frame, err := readFrame(r, &in)
					if err != nil {
						return
					}
					answer := []byte{byte(codes.OK)}
					if frame[0] == fastAttach {
						attaches <- frame[0]
						answer = append([]byte{byte(codes.Unimplemented)}, "a model plugin has no fast-path method 3"...)
					} else {
						var req pb.PredictRequest
						proto.Unmarshal(frame[9:], &req)
						answer, _ = proto.MarshalOptions{}.MarshalAppend(answer, &pb.PredictResponse{Probabilities: req.GetValues()})
					}
					c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(answer))), answer...))
				}
			}()
		}
	}()
	f := newFastClient(path)
	var resp pb.PredictResponse
	if how := answeredBy(t, f, &pb.PredictRequest{Columns: 1, Values: []float64{3}}, &resp); how != "no region" || resp.GetProbabilities()[0] != 3 {
		t.Fatalf("an older plugin's answer came by %s: %v", how, resp.GetProbabilities())
	}
	if !f.noRegions.Load() || len(attaches) != 1 {
		t.Fatalf("after an Unimplemented attach: noRegions %v, %d attaches", f.noRegions.Load(), len(attaches))
	}
	second, err := f.get() // the pool holds one; a second connection is dialled
	if err != nil {
		t.Fatal(err)
	}
	defer second.close()
	if len(attaches) != 1 || second.region != nil {
		t.Fatalf("a second connection offered a region again: %d attaches", len(attaches))
	}
}

// A plugin that says its answer is in the region but gives a length past
// the region's end gets a clear error at once, not a wait for the socket.
func TestFastPathRegionThatLies(t *testing.T) {
	defer func(d time.Duration) { spinMax = d }(spinMax)
	spinMax = 10 * time.Second // the host watches until the liar has spoken
	path := filepath.Join(t.TempDir(), "liar.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fr := newFileReader(c)
		r := bufio.NewReader(fr)
		var in []byte
		if _, err := readFrame(r, &in); err != nil { // the attach
			return
		}
		region, err := mapAnswerRegion(takeFD(fr))
		if err != nil {
			return
		}
		defer region.close()
		c.Write([]byte{0, 0, 0, 1, byte(codes.OK)})
		if _, err := readFrame(r, &in); err != nil {
			return
		}
		atomic.StoreUint32(region.size(), uint32(region.room()+1))
		atomic.StoreUint32(region.state(), answerHere)
		readFrame(r, &in) // until the host hangs up
	}()
	f := newFastClient(path)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = f.call(ctx, FastPredict, &pb.PredictRequest{}, &pb.PredictResponse{})
	if !IsUnavailable(err) || !strings.Contains(err.Error(), "answer region says") || ctx.Err() != nil {
		t.Fatalf("a lying region: %v", err)
	}
}
