// Package tracing is the host's OpenTelemetry tracing: off unless an OTLP
// endpoint is configured, and then one trace follows a prediction from the
// HTTP or gRPC request through the coalesced batch into both plugin
// processes, and an async job from its submission through the outbox relay
// and the broker to the worker that computes it. W3C trace context
// (traceparent, tracestate) is read from callers and carried to plugins (gRPC
// metadata), the broker (message headers) and the job record.
//
// Everything here is a no-op while tracing is off, without allocating: the
// synchronous path pays for tracing only when an operator turns it on.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
)

// Config turns tracing on and says where spans go.
type Config struct {
	// Endpoint is an OTLP/gRPC collector: "http://collector:4317" (plain
	// text), "https://collector:4317", or "collector:4317" (TLS unless
	// Insecure). Empty: tracing is off.
	Endpoint string `koanf:"endpoint"`
	// Insecure sends spans without TLS to an endpoint given without a scheme.
	Insecure bool `koanf:"insecure"`
	// SampleRatio is the share of new traces recorded (0 < r ≤ 1); a
	// caller's sampled traceparent is always followed.
	SampleRatio float64 `koanf:"sample_ratio"`
}

// Validate names what is wrong with a tracing configuration.
func (c Config) Validate() error {
	if c.Endpoint == "" {
		return nil
	}
	if _, err := c.target(); err != nil {
		return err
	}
	if c.SampleRatio <= 0 || c.SampleRatio > 1 {
		return fmt.Errorf("tracing.sample_ratio %v: must be above 0 and at most 1", c.SampleRatio)
	}
	return nil
}

// target is the endpoint as a URL with its scheme.
func (c Config) target() (*url.URL, error) {
	raw := c.Endpoint
	if !strings.Contains(raw, "://") {
		scheme := "https"
		if c.Insecure {
			scheme = "http"
		}
		raw = scheme + "://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("tracing.endpoint %q: want an OTLP/gRPC address such as http://collector:4317", c.Endpoint)
	}
	return u, nil
}

// ServiceName is the host's service in every span it exports.
const ServiceName = "soccerpredict"

var (
	enabled atomic.Bool
	tracer  trace.Tracer = noop.NewTracerProvider().Tracer("")
	// endpoint is the collector's URL, handed to plugin processes.
	endpoint string
)

// Enabled says whether spans are recorded in this process.
func Enabled() bool { return enabled.Load() }

// Start turns tracing on for this process as the given command (serve,
// worker, …) when cfg names an endpoint, and returns the function that
// flushes and stops it. With no endpoint it does nothing.
func Start(ctx context.Context, cfg Config, command, version string) (func(context.Context) error, error) {
	if cfg.Endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := cfg.target()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(u.String()))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", u, err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", ServiceName),
		attribute.String("service.version", version),
		attribute.String("process.command", command),
		attribute.Int("process.pid", os.Getpid()))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(mergeResources(resource.Environment(), res)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))))
	return Use(tp, u.String()), nil
}

// Use turns tracing on with a tracer provider made elsewhere (Start makes
// one for OTLP; a test passes one with an in-memory exporter), handing
// plugins the OTLP endpoint when there is one. It returns what flushes and
// stops it.
func Use(tp *sdktrace.TracerProvider, otlpEndpoint string) func(context.Context) error {
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator)
	tracer = tp.Tracer("github.com/soccerpredict/soccerpredict/host")
	endpoint = otlpEndpoint
	enabled.Store(true)
	return func(ctx context.Context) error {
		enabled.Store(false)
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return errors.Join(tp.ForceFlush(ctx), tp.Shutdown(ctx))
	}
}

// Propagator reads and writes W3C trace context.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Span starts a span under ctx's; while tracing is off it returns ctx and a
// span that does nothing, allocating nothing.
func Span(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !enabled.Load() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return tracer.Start(ctx, name, opts...)
}

// Fail marks a span failed with err (nothing when err is nil).
func Fail(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(otelcodes.Error, err.Error())
	}
}

// Carrier is a W3C trace context as text: what a job record keeps of the
// request that submitted it.
type Carrier map[string]string

// Inject returns ctx's trace context as a Carrier (nil when there is none
// or tracing is off).
func Inject(ctx context.Context) Carrier {
	if !enabled.Load() || !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := Carrier{}
	Propagator.Inject(ctx, propagation.MapCarrier(c))
	return c
}

// Extract returns ctx carrying the span context c holds, as a remote parent.
func Extract(ctx context.Context, c Carrier) context.Context {
	if len(c) == 0 {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier(c))
}

// DialOptions instrument the host's gRPC connections to its plugins: a span
// per call, its context in the call's metadata, so a plugin built with the
// sdk records its own spans as children. None while tracing is off.
func DialOptions() []grpc.DialOption {
	if !enabled.Load() {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithPropagators(Propagator)))}
}

// ServerOptions instrument a gRPC server the host serves (the Open
// Inference Protocol): a span per call, a caller's traceparent followed.
func ServerOptions() []grpc.ServerOption {
	if !enabled.Load() {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithPropagators(Propagator)))}
}

// PluginEnv is what a plugin process needs in its environment to export
// its spans where the host's go, under its own service name: the OTLP
// endpoint, and every OTEL_ variable of the host's environment (batching,
// headers, timeouts). Nothing while tracing is off.
func PluginEnv(plugin string) []string {
	if !enabled.Load() || endpoint == "" {
		return nil
	}
	// A model plugin's process serves one generation: "onnx@g3" is the
	// service soccerpredict-plugin-onnx, its instance named as an attribute.
	name, _, _ := strings.Cut(plugin, "@")
	set := map[string]string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
		"OTEL_SERVICE_NAME":                  ServiceName + "-plugin-" + name,
		"OTEL_RESOURCE_ATTRIBUTES":           "service.instance.id=" + plugin,
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, mine := set[k]; strings.HasPrefix(k, "OTEL_") && !mine {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// Gathered starts the span of work done for many callers at once (a
// coalesced batch, an outbox page): a child of the first caller's span, so a
// caller alone has one trace from end to end, and linked to every caller's,
// so each one's trace leads to the work it shared. It is a root span when
// no caller was traced. ctx gives the span nothing but its values.
func Gathered(ctx context.Context, name string, callers []trace.SpanContext, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !enabled.Load() {
		return ctx, trace.SpanFromContext(ctx)
	}
	links := make([]trace.Link, 0, len(callers))
	parent := trace.SpanContext{}
	for _, sc := range callers {
		if !sc.IsValid() {
			continue
		}
		if !parent.IsValid() {
			parent = sc
		}
		links = append(links, trace.Link{SpanContext: sc})
	}
	opts = append(opts, trace.WithLinks(links...), trace.WithAttributes(attribute.Int("batch.callers", len(callers))))
	if parent.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, parent)
	} else {
		opts = append(opts, trace.WithNewRoot())
	}
	return tracer.Start(ctx, name, opts...)
}

// Caller is ctx's span context while tracing is on (the zero one otherwise).
func Caller(ctx context.Context) trace.SpanContext {
	if !enabled.Load() {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(ctx)
}

// mergeResources is a merged with b (b's values win), or b alone when they cannot merge.
func mergeResources(a, b *resource.Resource) *resource.Resource {
	if r, err := resource.Merge(a, b); err == nil {
		return r
	}
	return b
}
