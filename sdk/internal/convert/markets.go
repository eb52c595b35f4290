package convert

import (
	"time"

	pb "github.com/soccerpredict/soccerpredict/sdk/internal/pb/soccerv1"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// MarketsToProto converts a goals model's markets to the wire.
func MarketsToProto(ms []soccer.GoalMarkets) []*pb.GoalMarkets {
	if len(ms) == 0 {
		return nil
	}
	out := make([]*pb.GoalMarkets, len(ms))
	for i, m := range ms {
		g := &pb.GoalMarkets{ExpectedHomeGoals: m.ExpectedHomeGoals, ExpectedAwayGoals: m.ExpectedAwayGoals, Over_2_5: m.Over25, BothScore: m.BothScore,
			Scorelines: make([]*pb.Scoreline, len(m.Scorelines))}
		for j, s := range m.Scorelines {
			g.Scorelines[j] = &pb.Scoreline{Home: int32(s.Home), Away: int32(s.Away), Probability: s.Probability}
		}
		out[i] = g
	}
	return out
}

// MarketsFromProto converts markets from the wire (nil for none).
func MarketsFromProto(ms []*pb.GoalMarkets) []soccer.GoalMarkets {
	if len(ms) == 0 {
		return nil
	}
	out := make([]soccer.GoalMarkets, len(ms))
	for i, g := range ms {
		m := soccer.GoalMarkets{ExpectedHomeGoals: g.GetExpectedHomeGoals(), ExpectedAwayGoals: g.GetExpectedAwayGoals(), Over25: g.GetOver_2_5(),
			BothScore: g.GetBothScore(), Scorelines: make([]soccer.Scoreline, len(g.GetScorelines()))}
		for j, s := range g.GetScorelines() {
			m.Scorelines[j] = soccer.Scoreline{Home: int(s.GetHome()), Away: int(s.GetAway()), Probability: s.GetProbability()}
		}
		out[i] = m
	}
	return out
}

// PlayedToProto converts a training row's match to the wire.
func PlayedToProto(p model.Played) *pb.Played {
	return &pb.Played{KickoffUnix: p.Kickoff.Unix(), HomeGoals: int32(p.HomeGoals), AwayGoals: int32(p.AwayGoals)}
}

// PlayedFromProto converts a training row's match from the wire.
func PlayedFromProto(p *pb.Played) model.Played {
	return model.Played{Kickoff: time.Unix(p.GetKickoffUnix(), 0).UTC(), HomeGoals: int(p.GetHomeGoals()), AwayGoals: int(p.GetAwayGoals())}
}
