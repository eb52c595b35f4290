package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
)

// While tracing is on, a statement run inside traced work is a child span
// of it, named as SQLite; one run outside (a background loop) has none.
func TestStatementsOfTracedWorkHaveSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	stop := tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)), "")
	defer stop(context.Background())
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp.Reset() // the migrations ran untraced anyway
	if _, err := s.Matches(context.Background(), store.MatchQuery{Competition: "E0"}); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans from a statement outside traced work", n)
	}
	ctx, request := tracing.Span(context.Background(), "request")
	if _, err := s.Matches(ctx, store.MatchQuery{Competition: "E0"}); err != nil {
		t.Fatal(err)
	}
	request.End()
	var statements int
	for _, sp := range exp.GetSpans() {
		if sp.Name == "request" {
			continue
		}
		statements++
		sqlite := false
		for _, a := range sp.Attributes {
			sqlite = sqlite || a.Key == "db.system.name" && a.Value.AsString() == "sqlite"
		}
		if sp.Parent.SpanID() != request.SpanContext().SpanID() || !sqlite {
			t.Errorf("span %q (parent %s, attributes %v) is not the request's SQLite statement", sp.Name, sp.Parent.SpanID(), sp.Attributes)
		}
	}
	if statements == 0 {
		t.Fatal("no span for the statement run inside the request")
	}
}
