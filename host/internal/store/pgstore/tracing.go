package pgstore

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
)

// queryTracer gives each statement run inside a traced operation (a
// request, a job) a client span: the store's share of a slow prediction
// shows in its trace. Statements of untraced background loops get none.
type queryTracer struct{}

type querySpanKey struct{}

func (queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	sql := strings.TrimSpace(d.SQL)
	verb, _, _ := strings.Cut(sql, " ")
	if len(sql) > 2000 {
		sql = sql[:2000]
	}
	ctx, span := tracing.Span(ctx, "postgres "+strings.ToUpper(verb), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", sql)))
	return context.WithValue(ctx, querySpanKey{}, span)
}

func (queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	span, ok := ctx.Value(querySpanKey{}).(trace.Span)
	if !ok {
		return
	}
	tracing.Fail(span, d.Err)
	span.SetAttributes(attribute.Int64("db.response.rows", d.CommandTag.RowsAffected()))
	span.End()
}
