// Package convert turns sdk values into their wire form and back; the host's
// clients (wire) and the plugin side (shim) share it.
package convert

import (
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// MatchToProto converts a match to its wire form.
func MatchToProto(m soccer.Match) *pb.Match {
	out := &pb.Match{
		Id: m.ID, Competition: m.Competition, Season: m.Season,
		Kickoff: timestamppb.New(m.Kickoff), KickoffTimeKnown: m.KickoffTimeKnown,
		HomeTeam: m.HomeTeam, AwayTeam: m.AwayTeam, Status: string(m.Status),
		HomeGoals: int32(m.HomeGoals), AwayGoals: int32(m.AwayGoals), Result: string(m.Result),
		Origin: m.Origin,
	}
	out.Odds = oddsToProto(m.Odds)
	out.Stats = statsToProto(m.Stats)
	return out
}

// MatchFromProto converts a match from its wire form.
func MatchFromProto(m *pb.Match) soccer.Match {
	out := soccer.Match{
		ID: m.GetId(), Competition: m.GetCompetition(), Season: m.GetSeason(),
		Kickoff: m.GetKickoff().AsTime().UTC(), KickoffTimeKnown: m.GetKickoffTimeKnown(),
		HomeTeam: m.GetHomeTeam(), AwayTeam: m.GetAwayTeam(), Status: soccer.Status(m.GetStatus()),
		HomeGoals: int(m.GetHomeGoals()), AwayGoals: int(m.GetAwayGoals()), Result: soccer.Result(m.GetResult()),
		Origin: m.GetOrigin(),
	}
	out.Odds = oddsFromProto(m.GetOdds())
	out.Stats = statsFromProto(m.GetStats())
	return out
}

// statsToProto is nil when no statistic is known, so a match without them
// costs nothing on the wire.
func statsToProto(s soccer.Stats) *pb.Stats {
	if s == (soccer.Stats{}) {
		return nil
	}
	count := func(c soccer.Count) *pb.Count {
		if !c.Known {
			return nil
		}
		return &pb.Count{Home: int32(c.Home), Away: int32(c.Away)}
	}
	return &pb.Stats{Shots: count(s.Shots), ShotsOnTarget: count(s.ShotsOnTarget), Corners: count(s.Corners), Fouls: count(s.Fouls),
		YellowCards: count(s.YellowCards), RedCards: count(s.RedCards), HalfTimeGoals: count(s.HalfTimeGoals)}
}

func statsFromProto(s *pb.Stats) soccer.Stats {
	if s == nil {
		return soccer.Stats{}
	}
	count := func(c *pb.Count) soccer.Count {
		if c == nil {
			return soccer.Count{}
		}
		return soccer.Counted(int(c.GetHome()), int(c.GetAway()))
	}
	return soccer.Stats{Shots: count(s.GetShots()), ShotsOnTarget: count(s.GetShotsOnTarget()), Corners: count(s.GetCorners()),
		Fouls: count(s.GetFouls()), YellowCards: count(s.GetYellowCards()), RedCards: count(s.GetRedCards()), HalfTimeGoals: count(s.GetHalfTimeGoals())}
}

// MatchesToProto converts matches to their wire form.
func MatchesToProto(ms []soccer.Match) []*pb.Match {
	out := make([]*pb.Match, len(ms))
	for i, m := range ms {
		out[i] = MatchToProto(m)
	}
	return out
}

// MatchesFromProto converts matches from their wire form.
func MatchesFromProto(ms []*pb.Match) []soccer.Match {
	out := make([]soccer.Match, len(ms))
	for i, m := range ms {
		out[i] = MatchFromProto(m)
	}
	return out
}

// FixturesToProto converts fixtures to their wire form.
func FixturesToProto(fs []soccer.Fixture) []*pb.Fixture {
	out := make([]*pb.Fixture, len(fs))
	for i, f := range fs {
		out[i] = &pb.Fixture{Id: f.ID, Competition: f.Competition, Season: f.Season,
			Kickoff: timestamppb.New(f.Kickoff), HomeTeam: f.HomeTeam, AwayTeam: f.AwayTeam, Odds: oddsToProto(f.Odds)}
	}
	return out
}

// FixturesFromProto converts fixtures from their wire form.
func FixturesFromProto(fs []*pb.Fixture) []soccer.Fixture {
	out := make([]soccer.Fixture, len(fs))
	for i, f := range fs {
		out[i] = soccer.Fixture{ID: f.GetId(), Competition: f.GetCompetition(), Season: f.GetSeason(),
			Kickoff: f.GetKickoff().AsTime().UTC(), HomeTeam: f.GetHomeTeam(), AwayTeam: f.GetAwayTeam(), Odds: oddsFromProto(f.GetOdds())}
	}
	return out
}

// ColumnsToProto converts columns to their wire form.
func ColumnsToProto(cs []soccer.Column) []*pb.Column {
	out := make([]*pb.Column, len(cs))
	for i, c := range cs {
		out[i] = &pb.Column{Name: c.Name, Type: c.Type}
	}
	return out
}

// ColumnsFromProto converts columns from their wire form.
func ColumnsFromProto(cs []*pb.Column) []soccer.Column {
	out := make([]soccer.Column, len(cs))
	for i, c := range cs {
		out[i] = soccer.Column{Name: c.GetName(), Type: c.GetType()}
	}
	return out
}

func oddsToProto(os []soccer.Odds) []*pb.Odds {
	var out []*pb.Odds
	for _, o := range os {
		out = append(out, &pb.Odds{Bookmaker: o.Bookmaker, Closing: o.Closing, Home: o.Home, Draw: o.Draw, Away: o.Away})
	}
	return out
}

func oddsFromProto(os []*pb.Odds) []soccer.Odds {
	var out []soccer.Odds
	for _, o := range os {
		out = append(out, soccer.Odds{Bookmaker: o.GetBookmaker(), Closing: o.GetClosing(), Home: o.GetHome(), Draw: o.GetDraw(), Away: o.GetAway()})
	}
	return out
}

// RejectToProto converts a reject to its wire form.
func RejectToProto(r source.Reject) *pb.Reject {
	return &pb.Reject{File: r.File, Line: int32(r.Line), Column: r.Column, Message: r.Message, Raw: r.Raw, Location: r.Location}
}

// RejectFromProto converts a reject from its wire form.
func RejectFromProto(r *pb.Reject) source.Reject {
	return source.Reject{File: r.GetFile(), Line: int(r.GetLine()), Column: r.GetColumn(), Message: r.GetMessage(), Raw: r.GetRaw(), Location: r.GetLocation()}
}

// Flatten lays rows out row-major, as the messages carry them.
func Flatten(rows [][]float64, width int) []float64 {
	out := make([]float64, 0, width*len(rows))
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// Unflatten cuts row-major values into rows of cols values.
func Unflatten(values []float64, cols int) ([][]float64, error) {
	if cols <= 0 {
		if len(values) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("%d values with %d columns", len(values), cols)
	}
	if len(values)%cols != 0 {
		return nil, fmt.Errorf("%d values are not whole rows of %d columns", len(values), cols)
	}
	rows := make([][]float64, len(values)/cols)
	for i := range rows {
		rows[i] = values[i*cols : (i+1)*cols : (i+1)*cols]
	}
	return rows, nil
}

// ResultIndex is a result's class index on the wire: 0 H, 1 D, 2 A.
func ResultIndex(r soccer.Result) (int32, error) {
	switch r {
	case soccer.HomeWin:
		return 0, nil
	case soccer.Draw:
		return 1, nil
	case soccer.AwayWin:
		return 2, nil
	}
	return 0, fmt.Errorf("%q is not H, D or A", r)
}

// SignatureToProto converts a model signature to its wire form.
func SignatureToProto(s model.Signature) *pb.Signature {
	return &pb.Signature{Inputs: ColumnsToProto(s.Inputs), Outputs: ColumnsToProto(s.Outputs)}
}

// SignatureFromProto converts a model signature from its wire form.
func SignatureFromProto(s *pb.Signature) model.Signature {
	return model.Signature{Inputs: ColumnsFromProto(s.GetInputs()), Outputs: ColumnsFromProto(s.GetOutputs())}
}
