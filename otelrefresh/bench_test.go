package otelrefresh_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/otelrefresh"
)

// BenchmarkRunEvents is what the hooks cost per run of a Source: its start
// and end events, recorded with the SDK (a manual reader, every span sampled
// and handed to a no-op exporter) and with spans only.
func BenchmarkRunEvents(b *testing.B) {
	start := refresh.RefreshStart{Reason: refresh.ReasonExpiry, AuthMethod: "client_secret_basic"}
	end := refresh.RefreshEnd{Reason: refresh.ReasonExpiry, Outcome: refresh.OutcomeRefreshed, Sent: true,
		Duration: 120 * time.Millisecond, AuthMethod: "client_secret_basic"}
	b.Run("sdk", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
		defer mp.Shutdown(context.Background())
		defer tp.Shutdown(context.Background())
		h, err := otelrefresh.Hooks(mp, tp)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			h.OnRefreshStart(start)
			h.OnRefreshEnd(end)
		}
	})
	b.Run("spans-only", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
		defer tp.Shutdown(context.Background())
		h, err := otelrefresh.Hooks(nil, tp)
		if err != nil {
			b.Fatal(err)
		}
		if h.OnRefreshStart != nil {
			b.Fatal("OnRefreshStart is set without a MeterProvider")
		}
		b.ReportAllocs()
		for b.Loop() {
			h.OnRefreshEnd(end)
		}
	})
}
