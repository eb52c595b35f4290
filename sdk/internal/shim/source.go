package shim

import (
	"context"
	"sync"

	"google.golang.org/grpc"

	"github.com/soccerpredict/soccerpredict/sdk/internal/convert"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// FetchChunk is how many matches one streamed Fetch message carries.
const FetchChunk = 500

type sourceServer struct {
	pb.UnimplementedSourceServer
	impl          *Lazy[source.Source]
	name, version string
}

func (s *sourceServer) Describe(ctx context.Context, _ *pb.DescribeSourceRequest) (*pb.DescribeSourceResponse, error) {
	src, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	d, err := src.Describe(ctx)
	if err != nil {
		return nil, ToStatus(err)
	}
	d.Name, d.Version = orDefault(d.Name, s.name), orDefault(d.Version, s.version)
	return &pb.DescribeSourceResponse{Name: d.Name, Version: d.Version, Description: d.Description, Competitions: d.Competitions}, nil
}

func (s *sourceServer) Fetch(req *pb.FetchRequest, stream grpc.ServerStreamingServer[pb.FetchChunk]) error {
	src, err := s.impl.Get()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	out := &chunker{send: stream.Send, cancel: cancel}
	if err := src.Fetch(ctx, source.FetchRequest{Competitions: req.GetCompetitions(), Seasons: req.GetSeasons()}, out); err != nil {
		return ToStatus(err)
	}
	return out.flush()
}

// chunker is the Sink of a streamed fetch: it sends a message every
// FetchChunk matches or rejects, and whenever a file is sent, with what was
// met since the last one. The host reads a message's rows before its file.
type chunker struct {
	send   func(*pb.FetchChunk) error
	cancel context.CancelFunc

	mu    sync.Mutex
	chunk pb.FetchChunk
	err   error
}

func (c *chunker) Match(m soccer.Match) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.chunk.Matches = append(c.chunk.Matches, convert.MatchToProto(m))
	if len(c.chunk.Matches) >= FetchChunk {
		c.flushLocked()
	}
}

func (c *chunker) Reject(r source.Reject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunk.Rejects = append(c.chunk.Rejects, convert.RejectToProto(r))
	if len(c.chunk.Rejects) >= FetchChunk {
		c.flushLocked()
	}
}

func (c *chunker) File(f source.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunk.Files = append(c.chunk.Files, &pb.SourceFile{Name: f.Name, Sha256: f.SHA256, Rows: int32(f.Rows)})
	c.flushLocked() // a file ends its chunk: the host receives it after the rows sent before it
}

func (c *chunker) flushLocked() {
	if c.err != nil {
		return
	}
	msg := &pb.FetchChunk{Matches: c.chunk.Matches, Rejects: c.chunk.Rejects, Files: c.chunk.Files}
	c.chunk = pb.FetchChunk{}
	if err := c.send(msg); err != nil {
		c.err = err
		c.cancel()
	}
}

// flush sends what is left and reports the first send error.
func (c *chunker) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
	return c.err
}
