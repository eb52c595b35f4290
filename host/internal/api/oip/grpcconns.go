package oip

import (
	"context"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
)

// firstCall closes a gRPC connection that has started no call within its
// deadline: a client that opens connections and sends nothing (or only the
// HTTP/2 preface) cannot hold them until the idle timeout. grpc-go, Triton's
// and KServe's clients connect when a call is waiting, so their first call
// follows the handshake at once. It is the gRPC server's stats handler,
// which sees every call start, and wraps its listener.
type firstCall struct {
	deadline time.Duration
	mu       sync.Mutex
	waiting  map[string]*time.Timer // remote address → the timer that closes it
}

func newFirstCall(d time.Duration) *firstCall {
	return &firstCall{deadline: d, waiting: map[string]*time.Timer{}}
}

// listener wraps ln: every accepted connection must start a call in time.
func (f *firstCall) listener(ln net.Listener) net.Listener { return firstCallListener{ln, f} }

type firstCallListener struct {
	net.Listener
	f *firstCall
}

func (l firstCallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	addr := c.RemoteAddr().String()
	t := time.AfterFunc(l.f.deadline, func() { c.Close() })
	l.f.mu.Lock()
	l.f.waiting[addr] = t
	l.f.mu.Unlock()
	return firstCallConn{c, l.f, addr}, nil
}

type firstCallConn struct {
	net.Conn
	f    *firstCall
	addr string
}

func (c firstCallConn) Close() error {
	c.f.called(c.addr)
	return c.Conn.Close()
}

// called stops the deadline of the connection from addr.
func (f *firstCall) called(addr string) {
	f.mu.Lock()
	t := f.waiting[addr]
	delete(f.waiting, addr)
	f.mu.Unlock()
	if t != nil {
		t.Stop()
	}
}

// stats.Handler: a call's start clears its connection's deadline.

func (f *firstCall) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (f *firstCall) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.Begin); !ok {
		return
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		f.called(p.Addr.String())
	}
}
func (f *firstCall) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (f *firstCall) HandleConn(context.Context, stats.ConnStats)                       {}
