// Package otelrefresh turns the [refresh.Hooks] of a [refresh.Source] into
// OpenTelemetry metrics and spans.
//
//	hooks, err := otelrefresh.Hooks(meterProvider, tracerProvider)
//	if err != nil { ... }
//	src := refresh.NewSource(client, tokens, refresh.WithHooks(hooks))
//
// One set of hooks may serve any number of Sources: it keeps no state of its
// own beyond its instruments. It records:
//
//   - refresh.duration, a histogram in seconds of every run of a Source, by
//     refresh.outcome, refresh.reason, refresh.auth_method, refresh.dpop and,
//     when the run failed, error.type (a [refresh.ErrorKind]);
//   - refresh.invalid_grant, a counter of runs that ended with invalid_grant
//     (the grant is dead until the user signs in again), by refresh.reason and
//     refresh.auth_method;
//   - refresh.dpop.nonce_retries, a counter of requests sent again with a new
//     DPoP nonce, by refresh.endpoint ("token" or "resource");
//   - refresh.store.failures, a counter of failed Store calls by
//     refresh.store.operation, and refresh.store.conflicts, a counter of fenced
//     saves that found a newer version;
//   - refresh.lease.wait, a histogram in seconds of the waits for a
//     SharedStore's lease, by refresh.reason and refresh.lease.acquired;
//   - refresh.runs.active, the runs under way;
//   - a span named "refresh" per run, with the attributes of refresh.duration
//     and refresh.sent, and an error status when the run failed. It is a root
//     span of its own (trace.WithNewRoot): a run serves every caller waiting for
//     it, not the request that happened to start it, and it runs on a context
//     that carries none of the callers' values.
//
// No attribute names a user, a grant or a client, and none holds a token: the
// events of package refresh carry none, and this package adds only the
// constant attributes given with [WithAttributes]. Do not put a user
// identifier there either: it would make every metric a series per user.
package otelrefresh

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/tokenrefresh/refresh"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/tokenrefresh/refresh/otelrefresh"

// The attribute keys this package records.
const (
	KeyOutcome    = attribute.Key("refresh.outcome")
	KeyReason     = attribute.Key("refresh.reason")
	KeyAuthMethod = attribute.Key("refresh.auth_method") // "other" for a user's own Auth or none
	KeyDPoP       = attribute.Key("refresh.dpop")
	KeySent       = attribute.Key("refresh.sent") // a token request was made (spans only)
	KeyErrorType  = attribute.Key("error.type")
	KeyEndpoint   = attribute.Key("refresh.endpoint")
	KeyStoreOp    = attribute.Key("refresh.store.operation")
	KeyAcquired   = attribute.Key("refresh.lease.acquired")
)

// Option configures [Hooks].
type Option func(*options)

type options struct {
	attrs []attribute.KeyValue
}

// WithAttributes adds attrs to every measurement and span, such as the name
// of the authorization server when a service talks to several. They must be
// constant and few: never a user or grant identifier, never a secret.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return func(o *options) { o.attrs = append(o.attrs, attrs...) }
}

// recorder holds the instruments the hooks record with.
type recorder struct {
	attrs        []attribute.KeyValue
	metrics      bool         // a MeterProvider was given
	tracer       trace.Tracer // nil: no spans
	duration     metric.Float64Histogram
	invalidGrant metric.Int64Counter
	nonceRetries metric.Int64Counter
	storeFails   metric.Int64Counter
	conflicts    metric.Int64Counter
	leaseWait    metric.Float64Histogram
	active       metric.Int64UpDownCounter
}

// Hooks returns the hooks that record a Source's events with mp's meter and
// tp's tracer, as the package documentation lists. A nil mp records no
// metrics, a nil tp no spans, and the funcs with nothing to record are left
// nil, so that they cost nothing. The error is an instrument mp could not
// create.
// The hooks are safe for concurrent use by any number of Sources.
func Hooks(mp metric.MeterProvider, tp trace.TracerProvider, opts ...Option) (refresh.Hooks, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	r := &recorder{attrs: o.attrs, metrics: mp != nil}
	if tp != nil {
		r.tracer = tp.Tracer(ScopeName)
	}
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	m := mp.Meter(ScopeName)
	var err error
	seconds := metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
	if r.duration, err = m.Float64Histogram("refresh.duration", metric.WithUnit("s"), seconds,
		metric.WithDescription("How long a run of a Source took: a refresh, a store load or a save.")); err != nil {
		return refresh.Hooks{}, err
	}
	if r.invalidGrant, err = m.Int64Counter("refresh.invalid_grant", metric.WithUnit("{run}"),
		metric.WithDescription("Runs that ended with invalid_grant: the grant needs the user to sign in again.")); err != nil {
		return refresh.Hooks{}, err
	}
	if r.nonceRetries, err = m.Int64Counter("refresh.dpop.nonce_retries", metric.WithUnit("{request}"),
		metric.WithDescription("Requests sent again with a new DPoP nonce.")); err != nil {
		return refresh.Hooks{}, err
	}
	if r.storeFails, err = m.Int64Counter("refresh.store.failures", metric.WithUnit("{call}"),
		metric.WithDescription("Store and lease calls that failed.")); err != nil {
		return refresh.Hooks{}, err
	}
	if r.conflicts, err = m.Int64Counter("refresh.store.conflicts", metric.WithUnit("{save}"),
		metric.WithDescription("Fenced saves that found a newer version in the store.")); err != nil {
		return refresh.Hooks{}, err
	}
	if r.leaseWait, err = m.Float64Histogram("refresh.lease.wait", metric.WithUnit("s"), seconds,
		metric.WithDescription("How long a run waited for the grant's lease in a shared store.")); err != nil {
		return refresh.Hooks{}, err
	}
	if r.active, err = m.Int64UpDownCounter("refresh.runs.active", metric.WithUnit("{run}"),
		metric.WithDescription("Runs of Sources under way.")); err != nil {
		return refresh.Hooks{}, err
	}
	switch {
	case r.metrics:
		return refresh.Hooks{
			OnRefreshStart: r.start,
			OnRefreshEnd:   r.end,
			OnLeaseWait:    r.lease,
			OnStoreFailure: r.storeFailure,
			OnNonceRetry:   r.nonceRetry,
		}, nil
	case r.tracer != nil:
		return refresh.Hooks{OnRefreshEnd: r.end}, nil
	}
	return refresh.Hooks{}, nil // nothing to record: no hooks, no cost
}

// with returns the constant attributes followed by kv.
func (r *recorder) with(kv ...attribute.KeyValue) metric.MeasurementOption {
	return metric.WithAttributes(append(append([]attribute.KeyValue(nil), r.attrs...), kv...)...)
}

// authMethod is the attribute value of an auth method.
func authMethod(name string) attribute.KeyValue {
	if name == "" {
		name = "other"
	}
	return KeyAuthMethod.String(name)
}

func (r *recorder) start(refresh.RefreshStart) {
	r.active.Add(context.Background(), 1, r.with())
}

func (r *recorder) end(e refresh.RefreshEnd) {
	ctx := context.Background()
	kv := []attribute.KeyValue{KeyOutcome.String(string(e.Outcome)), KeyReason.String(string(e.Reason)),
		authMethod(e.AuthMethod), KeyDPoP.Bool(e.DPoP)}
	if e.ErrorKind != refresh.ErrorKindNone {
		kv = append(kv, KeyErrorType.String(string(e.ErrorKind)))
	}
	if r.metrics {
		r.active.Add(ctx, -1, r.with())
		r.duration.Record(ctx, e.Duration.Seconds(), r.with(kv...))
		if e.ErrorKind == refresh.ErrorKindInvalidGrant {
			r.invalidGrant.Add(ctx, 1, r.with(KeyReason.String(string(e.Reason)), authMethod(e.AuthMethod)))
		}
	}
	if r.tracer == nil {
		return
	}

	// The span is made now, from the run's duration: the events carry no run
	// identity to pair a start with its end across the Sources these hooks
	// serve.
	now := time.Now()
	attrs := append(append(append([]attribute.KeyValue(nil), r.attrs...), kv...), KeySent.Bool(e.Sent))
	_, span := r.tracer.Start(ctx, "refresh", trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(now.Add(-e.Duration)), trace.WithAttributes(attrs...))
	if e.ErrorKind != refresh.ErrorKindNone {
		span.SetStatus(codes.Error, string(e.ErrorKind))
	}
	span.End(trace.WithTimestamp(now))
}

func (r *recorder) lease(e refresh.LeaseWait) {
	r.leaseWait.Record(context.Background(), e.Duration.Seconds(),
		r.with(KeyReason.String(string(e.Reason)), KeyAcquired.Bool(e.Acquired)))
}

func (r *recorder) storeFailure(e refresh.StoreFailure) {
	ctx := context.Background()
	r.storeFails.Add(ctx, 1, r.with(KeyStoreOp.String(e.Op)))
	if e.Conflict {
		r.conflicts.Add(ctx, 1, r.with(KeyStoreOp.String(e.Op)))
	}
}

func (r *recorder) nonceRetry(e refresh.NonceRetry) {
	r.nonceRetries.Add(context.Background(), 1, r.with(KeyEndpoint.String(e.Endpoint)))
}
