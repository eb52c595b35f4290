package forecast

import (
	"context"
	"time"
)

// Origin says where forecasts were asked for, for the forecast log: the
// route ("sync", "batch", "async", "oip-rest", "oip-grpc", "fixtures",
// "batch-predict", "backfill") and the caller's API key ID. At, when set,
// is the time the forecasts count as made (a backfill's as-of time);
// otherwise the time they were served.
type Origin struct {
	Route string
	KeyID string
	At    time.Time
}

type originKey struct{}

// WithOrigin tells the forecast log where the forecasts made under ctx come from.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginOf is the origin set on ctx; route "other" when none was.
func OriginOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	if o.Route == "" {
		o.Route = "other"
	}
	return o
}

// Recorder is told every forecast the predictor serves, cached ones
// included. It must not block: the predictor calls it on the request path.
type Recorder interface {
	Record(o Origin, preds []Prediction)
}
