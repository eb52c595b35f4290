package source

import (
	"context"
	"errors"
	"io"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/soccerpredict/soccerpredict/sdk/handshake"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/internal/shim"
)

// chunkSize is how many matches one streamed Fetch message carries.
const chunkSize = 500

// Plugin is the go-plugin glue of a source. The host registers it with a nil
// Factory; a plugin binary gets it from Serve.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Name    string
	Factory Factory
}

// GRPCServer registers the source and its Control service.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	impl := &shim.Lazy[Source]{Kind: handshake.KindSource, Factory: p.Factory}
	pb.RegisterControlServer(s, &shim.ControlServer[Source]{Name: p.Name, Impl: impl})
	pb.RegisterSourceServer(s, &server{impl: impl})
	return nil
}

// GRPCClient returns a *Client, which implements Source and handshake.Configurer.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Client{control: pb.NewControlClient(c), source: pb.NewSourceClient(c)}, nil
}

type server struct {
	pb.UnimplementedSourceServer
	impl *shim.Lazy[Source]
}

func (s *server) Describe(ctx context.Context, _ *pb.DescribeSourceRequest) (*pb.DescribeSourceResponse, error) {
	src, err := s.impl.Get()
	if err != nil {
		return nil, err
	}
	d, err := src.Describe(ctx)
	if err != nil {
		return nil, shim.ToStatus(err)
	}
	return &pb.DescribeSourceResponse{Name: d.Name, Version: d.Version, Description: d.Description, Competitions: d.Competitions}, nil
}

func (s *server) Fetch(req *pb.FetchRequest, stream grpc.ServerStreamingServer[pb.FetchChunk]) error {
	src, err := s.impl.Get()
	if err != nil {
		return err
	}
	resp, err := src.Fetch(stream.Context(), FetchRequest{Competitions: req.GetCompetitions(), Seasons: req.GetSeasons()})
	if err != nil {
		return shim.ToStatus(err)
	}
	first := &pb.FetchChunk{}
	for _, f := range resp.Files {
		first.Files = append(first.Files, &pb.SourceFile{Name: f.Name, Sha256: f.SHA256, Rows: int32(f.Rows)})
	}
	for _, r := range resp.Rejects {
		first.Rejects = append(first.Rejects, &pb.Reject{File: r.File, Line: int32(r.Line), Column: r.Column, Message: r.Message, Raw: r.Raw})
	}
	if err := stream.Send(first); err != nil {
		return err
	}
	for i := 0; i < len(resp.Matches); i += chunkSize {
		end := min(i+chunkSize, len(resp.Matches))
		if err := stream.Send(&pb.FetchChunk{Matches: shim.MatchesToProto(resp.Matches[i:end])}); err != nil {
			return err
		}
	}
	return nil
}

// Client is the host's side of a source plugin.
type Client struct {
	control pb.ControlClient
	source  pb.SourceClient
}

var (
	_ Source               = (*Client)(nil)
	_ handshake.Configurer = (*Client)(nil)
)

// Configure negotiates the API version and hands the plugin its settings.
func (c *Client) Configure(ctx context.Context, settings handshake.Settings) (handshake.Identity, error) {
	return shim.Configure(ctx, c.control, handshake.KindSource, settings)
}

// Describe implements Source.
func (c *Client) Describe(ctx context.Context) (Description, error) {
	d, err := c.source.Describe(ctx, &pb.DescribeSourceRequest{})
	if err != nil {
		return Description{}, shim.FromStatus(err)
	}
	return Description{Name: d.GetName(), Version: d.GetVersion(), Description: d.GetDescription(), Competitions: d.GetCompetitions()}, nil
}

// Fetch implements Source, reassembling the streamed chunks.
func (c *Client) Fetch(ctx context.Context, req FetchRequest) (FetchResponse, error) {
	stream, err := c.source.Fetch(ctx, &pb.FetchRequest{Competitions: req.Competitions, Seasons: req.Seasons})
	if err != nil {
		return FetchResponse{}, shim.FromStatus(err)
	}
	var out FetchResponse
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return FetchResponse{}, shim.FromStatus(err)
		}
		for _, f := range chunk.GetFiles() {
			out.Files = append(out.Files, File{Name: f.GetName(), SHA256: f.GetSha256(), Rows: int(f.GetRows())})
		}
		for _, r := range chunk.GetRejects() {
			out.Rejects = append(out.Rejects, Reject{File: r.GetFile(), Line: int(r.GetLine()), Column: r.GetColumn(), Message: r.GetMessage(), Raw: r.GetRaw()})
		}
		out.Matches = append(out.Matches, shim.MatchesFromProto(chunk.GetMatches())...)
	}
}
