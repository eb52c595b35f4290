package wire

import (
	"context"
	"errors"
	"io"

	"github.com/soccerpredict/soccerpredict/sdk/internal/convert"
	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// SourceClient is the host's side of a source plugin.
type SourceClient struct {
	control pb.ControlClient
	source  pb.SourceClient
}

var (
	_ source.Source = (*SourceClient)(nil)
	_ Configurer    = (*SourceClient)(nil)
)

// Configure negotiates the API version and hands the plugin its settings.
func (c *SourceClient) Configure(ctx context.Context, settings plugin.Settings) (Identity, error) {
	return configure(ctx, c.control, KindSource, settings, nil)
}

// Describe implements source.Source.
func (c *SourceClient) Describe(ctx context.Context) (source.Description, error) {
	d, err := c.source.Describe(ctx, &pb.DescribeSourceRequest{})
	if err != nil {
		return source.Description{}, FromStatus(err)
	}
	return source.Description{Name: d.GetName(), Version: d.GetVersion(), Description: d.GetDescription(), Competitions: d.GetCompetitions()}, nil
}

// Fetch implements source.Source, passing each streamed chunk on to out as
// it arrives. On an error, out may have received part of the fetch: the
// caller discards it (source.Collect does).
func (c *SourceClient) Fetch(ctx context.Context, req source.FetchRequest, out source.Sink) error {
	stream, err := c.source.Fetch(ctx, &pb.FetchRequest{Competitions: req.Competitions, Seasons: req.Seasons})
	if err != nil {
		return FromStatus(err)
	}
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return FromStatus(err)
		}
		// A chunk's rows come before its files: the plugin side ends a chunk
		// with each file it sends, so a file arrives after the rows sent
		// before it.
		for _, r := range chunk.GetRejects() {
			out.Reject(convert.RejectFromProto(r))
		}
		for _, m := range chunk.GetMatches() {
			out.Match(convert.MatchFromProto(m))
		}
		for _, f := range chunk.GetFiles() {
			out.File(source.File{Name: f.GetName(), SHA256: f.GetSha256(), Rows: int(f.GetRows())})
		}
	}
}
