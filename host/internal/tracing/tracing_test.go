package tracing

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{Endpoint: "http://collector:4317", SampleRatio: 1}, ""},
		{Config{Endpoint: "collector:4317", Insecure: true, SampleRatio: 0.1}, ""},
		{Config{Endpoint: "ftp://collector:4317", SampleRatio: 1}, "tracing.endpoint"},
		{Config{Endpoint: "http://", SampleRatio: 1}, "tracing.endpoint"},
		{Config{Endpoint: "http://collector:4317", SampleRatio: 0}, "tracing.sample_ratio"},
		{Config{Endpoint: "http://collector:4317", SampleRatio: 1.5}, "tracing.sample_ratio"},
	} {
		err := c.cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	u, _ := Config{Endpoint: "collector:4317", Insecure: true}.target()
	if u.String() != "http://collector:4317" {
		t.Fatalf("an insecure endpoint without a scheme is %s", u)
	}
}

// Off, tracing costs the hot path nothing: no allocation, no span, no
// options, no plugin environment.
func TestOffIsFree(t *testing.T) {
	if Enabled() {
		t.Fatal("tracing is on without Start")
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		c, span := Span(ctx, "x")
		span.End()
		_ = Caller(c)
		_, g := Gathered(ctx, "batch", []trace.SpanContext{{}})
		g.End()
		_ = Inject(ctx)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per traced step while tracing is off", allocs)
	}
	if DialOptions() != nil || ServerOptions() != nil || PluginEnv("ratings") != nil {
		t.Fatal("options or plugin environment while tracing is off")
	}
	stop, err := Start(ctx, Config{}, "serve", "test")
	if err != nil || Enabled() || stop(ctx) != nil {
		t.Fatalf("Start without an endpoint: %v, enabled %v", err, Enabled())
	}
}
