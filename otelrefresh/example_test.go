package otelrefresh_test

import (
	"context"
	"fmt"
	"log"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/otelrefresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

// Example records a Source's first refresh, against refreshtest, with the
// SDK's in-memory reader and exporter standing in for a real pipeline.
func Example() {
	srv := refreshtest.NewServer(refreshtest.WithClient(refreshtest.Client{ID: "app", Method: refreshtest.AuthNone}))
	defer srv.Close()

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer mp.Shutdown(context.Background())
	defer tp.Shutdown(context.Background())

	hooks, err := otelrefresh.Hooks(mp, tp)
	if err != nil {
		log.Fatal(err)
	}
	client := &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.PublicClient("app"), HTTPClient: srv.Client()}
	src := refresh.NewSource(client, &refresh.Tokens{RefreshToken: srv.IssueRefreshToken("app")}, refresh.WithHooks(hooks))
	if _, err := src.Token(context.Background()); err != nil {
		log.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
			p := h.DataPoints[0]
			outcome, _ := p.Attributes.Value(otelrefresh.KeyOutcome)
			reason, _ := p.Attributes.Value(otelrefresh.KeyReason)
			method, _ := p.Attributes.Value(otelrefresh.KeyAuthMethod)
			fmt.Printf("%s: %d run, outcome=%s reason=%s auth_method=%s\n", m.Name, p.Count, outcome.String(), reason.String(), method.String())
		}
	}
	for _, s := range spans.GetSpans() {
		fmt.Printf("span %q, root: %t\n", s.Name, !s.Parent.IsValid())
	}
	// Output:
	// refresh.duration: 1 run, outcome=refreshed reason=first_use auth_method=none
	// span "refresh", root: true
}
