package shim

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
	"github.com/soccerpredict/soccerpredict/sdk/wire"
)

type bigSource struct{ n int }

func (b bigSource) Describe(context.Context) (source.Description, error) {
	return source.Description{Name: "big"}, nil
}

func (b bigSource) Fetch(_ context.Context, _ source.FetchRequest, out source.Sink) error {
	k := time.Date(2000, 8, 1, 14, 0, 0, 0, time.UTC)
	for i := range b.n {
		out.Match(soccer.Match{ID: fmt.Sprintf("x-%06d", i), Competition: "X1", Season: "0001", Kickoff: k.Add(time.Duration(i) * time.Minute),
			HomeTeam: fmt.Sprintf("Home %d", i), AwayTeam: fmt.Sprintf("Away %d", i), Status: soccer.Finished, HomeGoals: i % 4, AwayGoals: i % 3,
			Result: [...]soccer.Result{soccer.HomeWin, soccer.Draw, soccer.AwayWin}[i%3], Origin: fmt.Sprintf("X1/0001.csv:%d", i+2),
			Odds: []soccer.Odds{{Bookmaker: "PS", Home: 2.1, Draw: 3.4, Away: 3.6}, {Bookmaker: "PS", Closing: true, Home: 2.0, Draw: 3.5, Away: 3.7}}})
	}
	return nil
}

// A fetch many times gRPC's default message limit (4 MiB) arrives whole
// and in order: the plugin side sends it in chunks of 500 matches.
func TestFetchStreamsPastTheMessageLimit(t *testing.T) {
	impl := &Lazy[source.Source]{Kind: "source"}
	impl.Set(bigSource{n: 60000})
	ln := bufconn.Listen(1 << 20)
	s := grpc.NewServer() // default limits
	pb.RegisterSourceServer(s, &sourceServer{impl: impl})
	go s.Serve(ln)
	defer s.Stop()
	conn, err := grpc.NewClient("passthrough:///buf", grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return ln.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := wire.NewClient(wire.KindSource, conn)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := source.Collect(context.Background(), c.(source.Source), source.FetchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Matches) != 60000 || resp.Matches[59999].ID != "x-059999" || len(resp.Matches[123].Odds) != 2 {
		t.Fatalf("%d matches arrived", len(resp.Matches))
	}
	for i, m := range resp.Matches {
		if m.ID != fmt.Sprintf("x-%06d", i) {
			t.Fatalf("match %d is %s: out of order", i, m.ID)
		}
	}
}
