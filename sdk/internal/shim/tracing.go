package shim

import (
	"context"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
)

// tracing records a span for every call the host makes to this plugin, as a
// child of the host's span, when the host traces: it then sets
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (and OTEL_SERVICE_NAME) in the plugin's
// environment. A plugin author writes nothing for it; the spans of their own
// code can be added with otel.Tracer as in any Go program, under the same
// context. Only work the host traces is recorded (a call without a sampled
// parent is not). It returns the server options that do it and the function
// that flushes the spans at exit; none while the host does not trace.
func tracing(logger hclog.Logger) ([]grpc.ServerOption, func()) {
	if os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		return nil, func() {}
	}
	exp, err := otlptracegrpc.New(context.Background()) // configured by the OTEL_ environment
	if err != nil {
		logger.Warn("tracing is off: cannot make the OTLP exporter", "error", err)
		return nil, func() {}
	}
	name := os.Getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "soccerpredict-plugin"
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(plainMerge(resource.Environment(), resource.NewSchemaless(attribute.String("service.name", name), attribute.Int("process.pid", os.Getpid())))),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(prop)
	opts := []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop)))}
	return opts, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			logger.Warn("tracing: spans not flushed at exit", "error", err)
		}
	}
}

// plainMerge is a merged with b (b's values win), or b alone when they cannot merge.
func plainMerge(a, b *resource.Resource) *resource.Resource {
	if r, err := resource.Merge(a, b); err == nil {
		return r
	}
	return b
}
