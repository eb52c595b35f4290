package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// The fast path: besides gRPC, a plugin built with this sdk answers its
// kind's hot calls on a Unix socket it names in ConfigureResponse.fast_path,
// one frame each way:
//
//	request:  length uint32 | method byte | deadline int64 (Unix ns, 0: none) | protobuf message
//	response: length uint32 | code byte (a gRPC code) | protobuf message, or the error's text
//
// lengths count what follows them, big-endian. A call is one write and one
// read on a connection of its own from a small pool, in the caller's
// goroutine: gRPC's HTTP/2 framing, flow control and goroutine hand-offs
// cost a plugin round trip about 200 µs on a 2-core machine, a framed
// socket about 30 µs. Errors keep their gRPC codes, so the kinds of plugin
// error (plugin.ErrInvalid and the rest) read the same either way. Calls
// carrying a sampled trace take gRPC, which traces them.
//
// A connection's first frame may be fastAttach, with a file descriptor
// attached (SCM_RIGHTS): a shared memory region where the plugin may put its
// answers while the host watches for them (answers.go). The plugin answers
// it with OK and an empty message once the region is mapped; a plugin built
// before regions existed answers Unimplemented, and its connections carry
// every answer on the socket.

// Fast-path methods.
const (
	FastPredict byte = 1 // a model's Predict: PredictRequest → PredictResponse
	FastCompute byte = 2 // a feature set's Compute: ComputeRequest → ComputeResponse
	fastAttach  byte = 3 // a connection's answer region: an empty request with its file attached
)

// maxFrame bounds a frame each way, as MaxMessageBytes bounds a gRPC message.
const maxFrame = MaxMessageBytes

// fastPoolSize bounds the idle connections a client keeps.
const fastPoolSize = 16

// fastClient calls a plugin's fast path.
type fastClient struct {
	path string
	idle chan *fastConn
	// noRegions: the plugin answered an attach Unimplemented (an older sdk).
	noRegions atomic.Bool
	// recent is a moving average of how long watched answers took (ns): a
	// call watches its answer region only while they come back within
	// spinMax, and one call in probeEvery made while they are slow
	// (slowCalls counts those) watches anyway. An answer that was not watched is not counted: its time holds
	// the wake-up of the host, so a plugin whose answers were once slow
	// (a large batch, a machine whose wake-ups are slow) would never be
	// watched again.
	recent    atomic.Int64
	slowCalls atomic.Uint32
}

// probeEvery: while recent answers are slow, one call in probeEvery still
// watches for its answer, so the average follows the plugin when it is
// quick again.
const probeEvery = 16

type fastConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte
	// region is where the plugin may answer; nil: always on the socket.
	region *answerRegion
}

func (c *fastConn) close() {
	c.c.Close()
	c.region.close()
}

func newFastClient(path string) *fastClient {
	if path == "" {
		return nil
	}
	return &fastClient{path: path, idle: make(chan *fastConn, fastPoolSize)}
}

// transport names how a client's hot calls travel: "fast" or "grpc".
func (f *fastClient) transport() string {
	if f == nil {
		return "grpc"
	}
	return "fast"
}

// fastInFlight counts the process's fast-path calls in flight.
var fastInFlight atomic.Int32

// errNoFast sends a call to gRPC.
var errNoFast = errors.New("no fast path")

// call sends req by method and reads the answer into resp. A client
// without a fast path, or a call carrying a sampled trace, is errNoFast.
func (f *fastClient) call(ctx context.Context, method byte, req, resp proto.Message) error {
	if f == nil || trace.SpanContextFromContext(ctx).IsSampled() {
		return errNoFast
	}
	if err := ctx.Err(); err != nil {
		return &RemoteError{Code: codeOf(err), Message: err.Error()}
	}
	conn, err := f.get()
	if err != nil {
		return &RemoteError{Code: codes.Unavailable, Message: fmt.Sprintf("fast path %s: %v", f.path, err)}
	}
	// Watch for the answer only when it is the process's one call in
	// flight and such answers come back soon: a watching goroutine keeps
	// its thread, and the Go scheduler does not poll the network while it
	// can run it, so with more calls in flight it would delay theirs.
	alone := fastInFlight.Add(1) == 1
	defer fastInFlight.Add(-1)
	watch := conn.region != nil && alone && (time.Duration(f.recent.Load()) <= spinMax || f.slowCalls.Add(1)%probeEvery == 0)
	start := time.Now()
	code, body, err := conn.roundTrip(ctx, method, req, watch)
	if err != nil {
		conn.close()
		if ctx.Err() != nil {
			return &RemoteError{Code: codeOf(ctx.Err()), Message: ctx.Err().Error()}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) { // the context's deadline, a moment before ctx.Err says so
			return &RemoteError{Code: codes.DeadlineExceeded, Message: context.DeadlineExceeded.Error()}
		}
		return &RemoteError{Code: codes.Unavailable, Message: fmt.Sprintf("fast path %s: %v", f.path, err)}
	}
	if watch {
		f.recent.Store((7*f.recent.Load() + int64(time.Since(start))) / 8)
	}
	defer f.put(conn)
	if code != codes.OK {
		return &RemoteError{Code: code, Message: string(body)}
	}
	if err := proto.Unmarshal(body, resp); err != nil {
		return fmt.Errorf("fast path: the plugin's answer does not decode: %w", err)
	}
	return nil
}

func codeOf(err error) codes.Code {
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded
	}
	return codes.Canceled
}

func (f *fastClient) get() (*fastConn, error) {
	select {
	case c := <-f.idle:
		return c, nil
	default:
	}
	c, err := net.DialTimeout("unix", f.path, 5*time.Second)
	if err != nil {
		return nil, err
	}
	conn := &fastConn{c: c, r: bufio.NewReaderSize(c, 16<<10)}
	if !f.noRegions.Load() {
		if err := f.attach(conn); err != nil {
			conn.close()
			return nil, err
		}
	}
	return conn, nil
}

// attach offers a new connection an answer region. A plugin that has no use
// for it (Unimplemented) is not offered one again; a region that cannot be
// made leaves the connection without one.
func (f *fastClient) attach(c *fastConn) error {
	region, file, err := newAnswerRegion()
	if err != nil {
		return nil
	}
	defer file.Close()
	b := append(c.buf[:0], 0, 0, 0, 9, fastAttach)
	b = binary.BigEndian.AppendUint64(b, 0)
	c.c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.c.SetDeadline(time.Time{})
	if err := sendWithFile(c.c, b, file); err != nil {
		region.close()
		return err
	}
	body, err := readFrame(c.r, &c.buf)
	if err != nil {
		region.close()
		return err
	}
	switch {
	case len(body) > 0 && codes.Code(body[0]) == codes.OK:
		c.region = region
	case len(body) > 0 && codes.Code(body[0]) == codes.Unimplemented:
		f.noRegions.Store(true)
		region.close()
	default:
		region.close()
	}
	return nil
}

func (f *fastClient) put(c *fastConn) {
	select {
	case f.idle <- c:
	default:
		c.close()
	}
}

// roundTrip writes one request and reads its answer, within ctx: its
// deadline is the connection's, and cancelling it interrupts the read. With
// watch, the answer region is watched for the answer first.
func (c *fastConn) roundTrip(ctx context.Context, method byte, req proto.Message, watch bool) (codes.Code, []byte, error) {
	var deadline int64
	if d, ok := ctx.Deadline(); ok {
		deadline = d.UnixNano()
		c.c.SetDeadline(d)
	} else {
		c.c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	b := append(c.buf[:0], 0, 0, 0, 0, method)
	b = binary.BigEndian.AppendUint64(b, uint64(deadline))
	b, err := proto.MarshalOptions{}.MarshalAppend(b, req)
	if err != nil {
		return 0, nil, err
	}
	if len(b)-4 > maxFrame {
		return 0, nil, fmt.Errorf("a request of %d bytes is over the %d-byte limit", len(b)-4, maxFrame)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	c.buf = b
	if c.region != nil {
		c.region.expect(watch)
	}
	if _, err := c.c.Write(b); err != nil {
		return 0, nil, err
	}
	body, ok := []byte(nil), false
	if watch {
		if body, ok, err = c.region.await(&c.buf); err != nil {
			return 0, nil, err
		}
	}
	if !ok {
		if body, err = readFrame(c.r, &c.buf); err != nil {
			return 0, nil, err
		}
	}
	if len(body) == 0 {
		return 0, nil, errors.New("an empty answer")
	}
	return codes.Code(body[0]), body[1:], nil
}

// readFrame reads one length-prefixed frame into *buf (grown as needed).
func readFrame(r *bufio.Reader, buf *[]byte) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return nil, fmt.Errorf("a frame of %d bytes is over the %d-byte limit", size, maxFrame)
	}
	if cap(*buf) < int(size) {
		*buf = make([]byte, size)
	}
	b := (*buf)[:size]
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// FastHandler answers one fast-path call: the method, the request's
// protobuf bytes, and the answer's (or an error with a gRPC status).
type FastHandler func(ctx context.Context, method byte, req []byte) (proto.Message, error)

// ServeFast answers fast-path calls on conn with h until the connection
// closes or fails: the plugin's side of the fast path, one call at a time
// per connection (the host keeps several). code is how an error's gRPC code
// is read.
func ServeFast(conn net.Conn, h FastHandler, code func(error) (codes.Code, string)) error {
	defer conn.Close()
	fr := newFileReader(conn)
	r := bufio.NewReaderSize(fr, 16<<10)
	var region *answerRegion
	defer func() { region.close() }()
	var in, out []byte
	for first := true; ; first = false {
		frame, err := readFrame(r, &in)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(frame) < 9 {
			return fmt.Errorf("fast path: a request of %d bytes has no header", len(frame))
		}
		if first {
			fd := takeFD(fr)
			if frame[0] == fastAttach {
				answer := []byte{byte(codes.OK)}
				if fd < 0 {
					answer = append([]byte{byte(codes.InvalidArgument)}, "an attach without a file"...)
				} else if region, err = mapAnswerRegion(fd); err != nil {
					answer = append([]byte{byte(codes.Unavailable)}, err.Error()...)
				}
				if fd >= 0 {
					closeFD(fd)
				}
				out = binary.BigEndian.AppendUint32(out[:0], uint32(len(answer)))
				if _, err := conn.Write(append(out, answer...)); err != nil {
					return err
				}
				continue
			}
			if fd >= 0 {
				closeFD(fd)
			}
		}
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if d := int64(binary.BigEndian.Uint64(frame[1:9])); d != 0 && d < math.MaxInt64 {
			ctx, cancel = context.WithDeadline(ctx, time.Unix(0, d))
		}
		resp, herr := h(ctx, frame[0], frame[9:])
		cancel()
		out = append(out[:0], 0, 0, 0, 0, byte(codes.OK))
		if herr != nil {
			c, msg := code(herr)
			out = append(out[:4], byte(c))
			out = append(out, msg...)
		} else if out, err = (proto.MarshalOptions{}).MarshalAppend(out, resp); err != nil {
			c, msg := codes.Internal, "fast path: the answer does not encode: "+err.Error()
			out = append(append(out[:4], byte(c)), msg...)
		}
		if region != nil && region.offer(out[4:]) {
			continue
		}
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := conn.Write(out); err != nil {
			return err
		}
	}
}
