package api

import (
	"net"

	"google.golang.org/grpc"

	"github.com/soccerpredict/soccerpredict/host/internal/api/oip"
	"github.com/soccerpredict/soccerpredict/host/internal/config"
)

// inference is the Open Inference Protocol's service, with the server's
// predictor, keys, metrics and limits.
func (s *Server) inference() *oip.Server {
	s.oipOnce.Do(func() {
		s.oip = &oip.Server{Predictor: s.Predictor, Auth: s.Auth, Metrics: s.Metrics, Logger: s.Logger, AccessLog: s.AccessLog,
			Version: s.Version, MaxBodyBytes: s.MaxBodyBytes}
	})
	return s.oip
}

// GRPCServer returns a gRPC server offering the Open Inference Protocol,
// health checks and reflection, and a function that stops its readiness
// watcher (oip.Server.GRPCServer).
func (s *Server) GRPCServer(l config.HTTPLimits) (*grpc.Server, func()) {
	return s.inference().GRPCServer(l)
}

// GRPCListener wraps the listener the GRPCServer serves: each connection
// must start a call within the header timeout. Call it after GRPCServer.
func (s *Server) GRPCListener(ln net.Listener) net.Listener { return s.inference().GRPCListener(ln) }
