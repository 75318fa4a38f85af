package otelrefresh_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/otelrefresh"
	"github.com/tokenrefresh/refresh/refreshtest"
)

const (
	clientID     = "otel-client-7c1d"
	clientSecret = "otel-secret-55aa01"
	userID       = "user-42-alice@example.com" // what a service would name the grant by
)

var testClient = refreshtest.Client{ID: clientID, Secret: clientSecret, Method: refreshtest.AuthClientSecretBasic}

// telemetry is an SDK meter and tracer provider over in-memory readers.
type telemetry struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.InMemoryExporter
	mp     *sdkmetric.MeterProvider
	tp     *sdktrace.TracerProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{reader: sdkmetric.NewManualReader(), spans: tracetest.NewInMemoryExporter()}
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(tel.spans))
	t.Cleanup(func() {
		_ = tel.mp.Shutdown(context.Background())
		_ = tel.tp.Shutdown(context.Background())
	})
	return tel
}

// points flattens what the reader collected to one line per data point:
// name{attributes} and the count (histograms) or the sum (counters).
func (tel *telemetry) points(t *testing.T) (lines []string, attrs []attribute.KeyValue) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelrefresh.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, otelrefresh.ScopeName)
		}
		for _, m := range sm.Metrics {
			add := func(set attribute.Set, v any) {
				attrs = append(attrs, set.ToSlice()...)
				lines = append(lines, fmt.Sprintf("%s{%s} %v", m.Name, set.Encoded(attribute.DefaultEncoder()), v))
			}
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.Count)
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.Value)
				}
			default:
				t.Errorf("metric %s has data of type %T", m.Name, m.Data)
			}
		}
	}
	slices.Sort(lines)
	return lines, attrs
}

// scenario plays one real case against refreshtest with hooks h; it returns
// the tokens that took part.
type scenario func(t *testing.T, srv *refreshtest.Server, h refresh.Hooks, tel *telemetry) []string

func newClient(srv *refreshtest.Server) *refresh.Client {
	return &refresh.Client{TokenURL: srv.TokenURL(), Auth: refresh.ClientSecretBasic(clientID, clientSecret), HTTPClient: srv.Client()}
}

// wantSpan is what TestHooks checks of the refresh span.
type wantSpan struct {
	Attrs  string
	Status codes.Code
}

func TestHooks(t *testing.T) {
	tests := []struct {
		name   string
		play   scenario
		points []string
		span   wantSpan
	}{
		{
			name: "a request through a Transport inside a caller's span refreshes in a root span of its own",
			play: func(t *testing.T, srv *refreshtest.Server, h refresh.Hooks, tel *telemetry) []string {
				rt := srv.IssueRefreshToken(clientID)
				src := refresh.NewSource(newClient(srv), &refresh.Tokens{RefreshToken: rt}, refresh.WithHooks(h))
				api := httptest.NewServer(srv.Resource(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
				t.Cleanup(api.Close)
				ctx, caller := tel.tp.Tracer("caller").Start(t.Context(), "caller")
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/api", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := (&http.Client{Transport: &refresh.Transport{Source: src}}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				caller.End()
				var callerSpan, refreshSpan tracetest.SpanStub
				for _, s := range tel.spans.GetSpans() {
					switch s.Name {
					case "caller":
						callerSpan = s
					case "refresh":
						refreshSpan = s
					}
				}
				if refreshSpan.Parent.IsValid() || refreshSpan.SpanContext.TraceID() == callerSpan.SpanContext.TraceID() {
					t.Errorf("the refresh span has parent %v in trace %v; want a root span in a trace of its own, not the caller's %v",
						refreshSpan.Parent.SpanID(), refreshSpan.SpanContext.TraceID(), callerSpan.SpanContext.TraceID())
				}
				tok, err := src.Token(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				return []string{rt, tok.AccessToken, tok.RefreshToken}
			},
			points: []string{
				"refresh.duration{refresh.auth_method=client_secret_basic,refresh.dpop=false,refresh.outcome=refreshed,refresh.reason=first_use} 1",
				"refresh.runs.active{} 0",
			},
			span: wantSpan{Attrs: "refresh.auth_method=client_secret_basic,refresh.dpop=false,refresh.outcome=refreshed,refresh.reason=first_use,refresh.sent=true"},
		},
		{
			name: "an invalid_grant is counted and the span is an error",
			play: func(t *testing.T, srv *refreshtest.Server, h refresh.Hooks, _ *telemetry) []string {
				rt := srv.IssueRefreshToken(clientID)
				srv.Revoke(rt)
				_, err := refresh.NewSource(newClient(srv), &refresh.Tokens{RefreshToken: rt}, refresh.WithHooks(h)).Token(t.Context())
				if !errors.Is(err, refresh.ErrInvalidGrant) {
					t.Fatalf("Token = %v, want invalid_grant", err)
				}
				return []string{rt}
			},
			points: []string{
				"refresh.duration{error.type=invalid_grant,refresh.auth_method=client_secret_basic,refresh.dpop=false,refresh.outcome=failed,refresh.reason=first_use} 1",
				"refresh.invalid_grant{refresh.auth_method=client_secret_basic,refresh.reason=first_use} 1",
				"refresh.runs.active{} 0",
			},
			span: wantSpan{Attrs: "error.type=invalid_grant,refresh.auth_method=client_secret_basic,refresh.dpop=false,refresh.outcome=failed,refresh.reason=first_use,refresh.sent=true",
				Status: codes.Error},
		},
		{
			name: "a DPoP nonce retry is counted",
			play: func(t *testing.T, srv *refreshtest.Server, h refresh.Hooks, _ *telemetry) []string {
				d, err := refresh.NewDPoP(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
				if err != nil {
					t.Fatal(err)
				}
				rt := srv.IssueRefreshToken(clientID)
				c := newClient(srv)
				c.DPoP = d
				tok, err := refresh.NewSource(c, &refresh.Tokens{RefreshToken: rt}, refresh.WithHooks(h)).Token(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				return []string{rt, tok.AccessToken, tok.RefreshToken}
			},
			points: []string{
				"refresh.dpop.nonce_retries{refresh.endpoint=token} 1",
				"refresh.duration{refresh.auth_method=client_secret_basic,refresh.dpop=true,refresh.outcome=refreshed,refresh.reason=first_use} 1",
				"refresh.runs.active{} 0",
			},
			span: wantSpan{Attrs: "refresh.auth_method=client_secret_basic,refresh.dpop=true,refresh.outcome=refreshed,refresh.reason=first_use,refresh.sent=true"},
		},
		{
			name: "a lease wait and a fenced conflict are recorded",
			play: func(t *testing.T, srv *refreshtest.Server, h refresh.Hooks, _ *telemetry) []string {
				rt := srv.IssueRefreshToken(clientID)
				store := refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: rt})
				c := newClient(srv)
				// A writer that ignores the lease saves while the refresh is
				// under way, so that the lease's save is fenced out.
				c.HTTPClient = &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
					if err := store.Save(req.Context(), &refresh.Tokens{RefreshToken: "rt-written-behind-the-lease"}); err != nil {
						return nil, err
					}
					return srv.Client().Transport.RoundTrip(req)
				})}
				_, err := refresh.NewSource(c, nil, refresh.WithStore(store), refresh.WithHooks(h)).Token(t.Context())
				if !errors.Is(err, refresh.ErrVersionConflict) {
					t.Fatalf("Token = %v, want a version conflict", err)
				}
				return []string{rt}
			},
			points: []string{
				"refresh.duration{error.type=store,refresh.auth_method=client_secret_basic,refresh.dpop=false,refresh.outcome=unsaved,refresh.reason=first_use} 1",
				"refresh.lease.wait{refresh.lease.acquired=true,refresh.reason=first_use} 1",
				"refresh.runs.active{} 0",
				"refresh.store.conflicts{refresh.store.operation=save} 1",
				"refresh.store.failures{refresh.store.operation=save} 1",
			},
			span: wantSpan{Attrs: "error.type=store,refresh.auth_method=client_secret_basic,refresh.dpop=false,refresh.outcome=unsaved,refresh.reason=first_use,refresh.sent=true",
				Status: codes.Error},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := refreshtest.NewServer(refreshtest.WithClient(testClient), refreshtest.WithRotation(refreshtest.RotateRefreshTokens),
				refreshtest.WithAccessTokenLifetime(time.Hour), refreshtest.WithDPoPNonces(1))
			t.Cleanup(srv.Close)
			tel := newTelemetry(t)
			h, err := otelrefresh.Hooks(tel.mp, tel.tp)
			if err != nil {
				t.Fatal(err)
			}
			tokens := tt.play(t, srv, h, tel)

			points, attrs := tel.points(t)
			if diff := cmp.Diff(tt.points, points); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
			var got []wantSpan
			for _, s := range tel.spans.GetSpans() {
				if s.Name != "refresh" {
					continue
				}
				if s.Parent.IsValid() || s.SpanKind != trace.SpanKindInternal {
					t.Errorf("refresh span: parent %v, kind %v; want a root internal span", s.Parent, s.SpanKind)
				}
				attrs = append(attrs, s.Attributes...)
				set := attribute.NewSet(s.Attributes...)
				got = append(got, wantSpan{Attrs: set.Encoded(attribute.DefaultEncoder()), Status: s.Status.Code})
			}
			if diff := cmp.Diff([]wantSpan{tt.span}, got); diff != "" {
				t.Errorf("refresh spans (-want +got):\n%s", diff)
			}
			checkAttributes(t, attrs, append(tokens, clientID, clientSecret, userID))
		})
	}
}

// allowedKeys are the only attribute keys the hooks may record.
var allowedKeys = []attribute.Key{
	otelrefresh.KeyOutcome, otelrefresh.KeyReason, otelrefresh.KeyAuthMethod, otelrefresh.KeyDPoP, otelrefresh.KeySent,
	otelrefresh.KeyErrorType, otelrefresh.KeyEndpoint, otelrefresh.KeyStoreOp, otelrefresh.KeyAcquired,
}

// checkAttributes enumerates every recorded attribute: its key must be one of
// allowedKeys, and neither key nor value may hold a token, the client's
// credentials or the user's identifier.
func checkAttributes(t *testing.T, attrs []attribute.KeyValue, secrets []string) {
	t.Helper()
	if len(attrs) == 0 {
		t.Fatal("no attribute recorded")
	}
	for _, kv := range attrs {
		if !slices.Contains(allowedKeys, kv.Key) {
			t.Errorf("attribute %s=%s: key not among the documented ones", kv.Key, kv.Value.String())
		}
		for _, s := range secrets {
			if s != "" && (strings.Contains(string(kv.Key), s) || strings.Contains(kv.Value.String(), s)) {
				t.Errorf("attribute %s=%s holds %q", kv.Key, kv.Value.String(), s)
			}
		}
	}
}

// TestWithAttributes checks that constant attributes reach every measurement
// and span.
func TestWithAttributes(t *testing.T) {
	srv := refreshtest.NewServer(refreshtest.WithClient(testClient))
	t.Cleanup(srv.Close)
	tel := newTelemetry(t)
	h, err := otelrefresh.Hooks(tel.mp, tel.tp, otelrefresh.WithAttributes(attribute.String("refresh.provider", "example")))
	if err != nil {
		t.Fatal(err)
	}
	rt := srv.IssueRefreshToken(clientID)
	if _, err := refresh.NewSource(newClient(srv), &refresh.Tokens{RefreshToken: rt}, refresh.WithHooks(h)).Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	points, _ := tel.points(t)
	want := []string{
		"refresh.duration{refresh.auth_method=client_secret_basic,refresh.dpop=false,refresh.outcome=refreshed,refresh.provider=example,refresh.reason=first_use} 1",
		"refresh.runs.active{refresh.provider=example} 0",
	}
	if diff := cmp.Diff(want, points); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	spans := tel.spans.GetSpans()
	if len(spans) != 1 || !slices.Contains(spans[0].Attributes, attribute.String("refresh.provider", "example")) {
		t.Errorf("spans %+v, want one with refresh.provider", spans)
	}
}

// TestNilProviders checks that nil providers leave out what they would
// record: no hook at all without either, only the span without metrics.
func TestNilProviders(t *testing.T) {
	srv := refreshtest.NewServer(refreshtest.WithClient(testClient))
	t.Cleanup(srv.Close)
	h, err := otelrefresh.Hooks(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.OnRefreshStart != nil || h.OnRefreshEnd != nil || h.OnLeaseWait != nil || h.OnStoreFailure != nil || h.OnNonceRetry != nil {
		t.Errorf("Hooks(nil, nil) set hooks with nothing to record")
	}
	tel := newTelemetry(t)
	h, err = otelrefresh.Hooks(nil, tel.tp)
	if err != nil {
		t.Fatal(err)
	}
	rt := srv.IssueRefreshToken(clientID)
	if _, err := refresh.NewSource(newClient(srv), &refresh.Tokens{RefreshToken: rt}, refresh.WithHooks(h)).Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if spans := tel.spans.GetSpans(); len(spans) != 1 || spans[0].Name != "refresh" {
		t.Errorf("spans with a nil MeterProvider: %+v, want one refresh span", spans)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestHooksThroughAManager gives one set of hooks to the Sources of a
// Manager's three grants, keyed by user: each first use is one run on the
// same series, and no attribute names a user.
func TestHooksThroughAManager(t *testing.T) {
	srv := refreshtest.NewServer(refreshtest.WithClient(testClient), refreshtest.WithRotation(refreshtest.RotateRefreshTokens))
	t.Cleanup(srv.Close)
	tel := newTelemetry(t)
	h, err := otelrefresh.Hooks(tel.mp, tel.tp)
	if err != nil {
		t.Fatal(err)
	}
	users := []string{userID, "user-43-bob@example.com", "user-44-carol@example.com"}
	stores := map[string]*refresh.MemoryStore{}
	for _, u := range users {
		stores[u] = refresh.NewMemoryStore(&refresh.Tokens{RefreshToken: srv.IssueRefreshToken(clientID)})
	}
	m, err := refresh.NewManager(newClient(srv), func(key string) (refresh.Grant, error) {
		return refresh.Grant{Store: stores[key], Options: []refresh.SourceOption{refresh.WithHooks(h)}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	secrets := slices.Clone(users)
	for _, u := range users {
		tok, err := m.Token(t.Context(), u)
		if err != nil {
			t.Fatalf("Token(%s): %v", u, err)
		}
		secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
	}
	points, attrs := tel.points(t)
	want := []string{
		"refresh.duration{refresh.auth_method=client_secret_basic,refresh.dpop=false,refresh.outcome=refreshed,refresh.reason=first_use} 3",
		"refresh.lease.wait{refresh.lease.acquired=true,refresh.reason=first_use} 3",
		"refresh.runs.active{} 0",
	}
	if diff := cmp.Diff(want, points); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	for _, s := range tel.spans.GetSpans() {
		attrs = append(attrs, s.Attributes...)
	}
	if n := len(tel.spans.GetSpans()); n != 3 {
		t.Errorf("%d spans, want one per grant's run", n)
	}
	checkAttributes(t, attrs, append(secrets, clientID, clientSecret))
}
