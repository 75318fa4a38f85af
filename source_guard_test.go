package refresh

// Tests of what guards a Source's refresh run against its callers and its user
// code (source.go): the run's own context, panics, a Store that ignores ctx,
// fenced save retries, a store outage, and refresh amplification. Names start
// with "guard" or "TestSourceGuard".

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

type guardKey struct{}

func TestSourceGuardRunCarriesNoCallerValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := srcNewEndpoint(srcRotating)
		st := srcNewStore(nil)
		var loadCtx context.Context
		var mu sync.Mutex
		src := NewSource(e.client(), srcExpired("at-0", "rt-0"), WithStore(guardCtxStore{st, &mu, &loadCtx}))
		var headers []string
		trace := &httptrace.ClientTrace{WroteHeaderField: func(k string, _ []string) { headers = append(headers, k) }}
		ctx := httptrace.WithClientTrace(context.WithValue(t.Context(), guardKey{}, "caller"), trace)
		if _, err := src.Token(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		for name, c := range map[string]context.Context{"token request": e.lastContext(), "Store.Load": loadCtx} {
			if v := c.Value(guardKey{}); v != nil {
				t.Errorf("the %s's context carries the caller's value %v", name, v)
			}
			if httptrace.ContextClientTrace(c) != nil {
				t.Errorf("the %s's context carries the caller's trace", name)
			}
		}
		if len(headers) != 0 {
			t.Errorf("the caller's trace saw the token request's headers %q", headers)
		}
	})
}

// guardCtxStore records the context of Load.
type guardCtxStore struct {
	*srcStore
	mu  *sync.Mutex
	ctx *context.Context
}

func (s guardCtxStore) Load(ctx context.Context) (*Tokens, error) {
	s.mu.Lock()
	*s.ctx = ctx
	s.mu.Unlock()
	return s.srcStore.Load(ctx)
}

// guardPanicStore panics in Load or Save.
type guardPanicStore struct{ inLoad, inSave bool }

func (s guardPanicStore) Load(context.Context) (*Tokens, error) {
	if s.inLoad {
		panic("boom")
	}
	return nil, nil
}

func (s guardPanicStore) Save(context.Context, *Tokens) error {
	if s.inSave {
		panic("boom")
	}
	return nil
}

// guardPanicHandler is a slog handler that panics.
type guardPanicHandler struct{ slog.Handler }

func (guardPanicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (guardPanicHandler) Handle(context.Context, slog.Record) error { panic("boom") }

func TestSourceGuardPanicReachesTheWaiters(t *testing.T) {
	unavailable := func(int, string) srcAnswer { return srcAnswer{status: http.StatusServiceUnavailable, body: "busy"} }
	tests := []struct {
		name   string
		answer func(int, string) srcAnswer
		setup  func(c *Client) []SourceOption
		// kept: the tokens the refresh got are still handed out afterwards
		kept bool
		// empty: the Source starts without tokens (else with expired ones)
		empty bool
	}{
		{name: "in Store.Load of a Source without tokens", answer: srcRotating, empty: true, setup: func(*Client) []SourceOption {
			return []SourceOption{WithStore(guardPanicStore{inLoad: true})}
		}},
		{name: "in Store.Save, the new tokens kept", answer: srcRotating, kept: true, setup: func(*Client) []SourceOption {
			return []SourceOption{WithStore(guardPanicStore{inSave: true})}
		}},
		{name: "in Auth", answer: srcRotating, setup: func(c *Client) []SourceOption {
			c.Auth = AuthFunc(func(*AuthRequest) error { panic("boom") })
			return nil
		}},
		{name: "in CheckRetry", answer: unavailable, setup: func(c *Client) []SourceOption {
			c.CheckRetry = func(context.Context, RetryAttempt) bool { panic("boom") }
			return nil
		}},
		{name: "in Backoff", answer: unavailable, setup: func(c *Client) []SourceOption {
			c.Backoff = func(RetryAttempt) time.Duration { panic("boom") }
			return nil
		}},
		{name: "in the slog handler", answer: srcRotating, setup: func(*Client) []SourceOption {
			return []SourceOption{WithLogger(slog.New(guardPanicHandler{}))}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := srcNewEndpoint(tt.answer)
				c := e.client()
				initial := srcExpired("at-0", "rt-0")
				if tt.empty {
					initial = nil
				}
				src := NewSource(c, initial, tt.setup(c)...)
				// All three wait for the run: a caller that came later
				// would get the tokens kept after a panic in Save.
				e.hold()
				g := srcCall(t.Context(), src, 3)
				synctest.Wait()
				e.release()
				res := g.wait()
				for _, r := range res {
					var pe *PanicError
					if !errors.As(r.err, &pe) {
						t.Fatalf("Token error = %v, want a *PanicError", r.err)
					}
					if pe.Value != "boom" || !strings.Contains(string(pe.Stack), "guard") {
						t.Errorf("PanicError{Value: %v, Stack: %d bytes}, want boom and the stack of the panicking code", pe.Value, len(pe.Stack))
					}
				}
				if tt.kept {
					if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
						t.Errorf("Token after the panic = %q, want the kept at-1", got)
					}
					srcWantRequests(t, e, 1)
				}
			})
		})
	}
}

// guardStuckStore is a Store whose first Load ignores ctx and blocks until
// release is closed.
type guardStuckStore struct {
	*srcStore
	release chan struct{}
}

func (s guardStuckStore) Load(ctx context.Context) (*Tokens, error) {
	if s.loads.Load() == 0 {
		s.loads.Add(1)
		<-s.release
		return nil, nil
	}
	return s.srcStore.Load(ctx)
}

func TestSourceGuardStoreIgnoringCtxIsAbandoned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := srcNewEndpoint(srcRotating)
		st := guardStuckStore{srcNewStore(nil), make(chan struct{})}
		defer close(st.release)
		var log srcLogBuffer
		src := NewSource(e.client(), srcExpired("at-0", "rt-0"), WithStore(st),
			WithRefreshTimeout(10*time.Second), WithLogger(slog.New(slog.NewTextHandler(&log, nil))))

		callers := srcCall(t.Context(), src, 2)
		setErr := make(chan error, 1)
		synctest.Wait()
		go func() { setErr <- src.SetTokens(t.Context(), srcExpired("at-set", "rt-set")) }()
		for _, r := range callers.wait() {
			if !errors.Is(r.err, context.DeadlineExceeded) {
				t.Errorf("Token error = %v, want one that matches context.DeadlineExceeded", r.err)
			}
		}
		if err := <-setErr; err != nil {
			t.Errorf("SetTokens after the stuck run: %v", err)
		}
		if !strings.Contains(log.String(), "abandoned") {
			t.Errorf("the log does not report the abandoned run:\n%s", log.String())
		}
		if got := srcAccessToken(srcMustToken(t, src)); got != "at-1" {
			t.Errorf("Token after the stuck run = %q, want at-1 from a new run", got)
		}
		srcWantSent(t, e, "rt-set")
	})
}

func TestSourceGuardSaveRetryNeverReplacesNewerTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Replica a rotates rt-0 and cannot save. The user then signs in again
		// on replica b. When a's store recovers, its save retry must not put
		// its older tokens over b's.
		e := srcNewEndpoint(srcRotating)
		st := srcNewStore(srcExpired("at-0", "rt-0"))
		st.setSaveErr(errSrcSave)
		a := NewSource(e.client(), nil, WithStore(st))
		if _, err := a.Token(t.Context()); !errors.As(err, new(*StoreError)) {
			t.Fatalf("Token error = %v, want a *StoreError", err)
		}
		time.Sleep(time.Second)
		b := NewSource(e.client(), nil, WithStore(st.mem))
		signIn := &Tokens{RefreshToken: "rt-new"}
		if err := b.SetTokens(t.Context(), signIn); err != nil {
			t.Fatal(err)
		}
		if !signIn.IssuedAt.IsZero() {
			t.Errorf("SetTokens modified the caller's Tokens")
		}
		if stored, _ := st.mem.Load(t.Context()); stored.IssuedAt.IsZero() {
			t.Errorf("SetTokens saved tokens without IssuedAt")
		}

		st.setSaveErr(nil)
		time.Sleep(minBackoff)
		if got := srcAccessToken(srcMustToken(t, a)); got != "at-1" {
			t.Errorf("a's Token = %q, want its still-valid at-1", got)
		}
		synctest.Wait()
		for _, saved := range st.savedTokens()[1:] {
			if saved.RefreshToken == "rt-1" {
				t.Errorf("a's save retry wrote rt-1 over the newer rt-new")
			}
		}
		srcWantSent(t, e, "rt-0", "rt-new")
	})
}

func TestSourceGuardStoreOutageKeepsRefreshing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := srcNewEndpoint(srcRotating)
		st := srcNewStore(nil)
		st.setLoadErr(errSrcLoad)
		st.setSaveErr(errSrcSave)
		src := NewSource(e.client(), srcExpired("at-0", "rt-0"), WithStore(st))
		if _, err := src.Token(t.Context()); !errors.As(err, new(*StoreError)) {
			t.Fatalf("Token error = %v, want the *StoreError of the failed save", err)
		}
		// An hour of calls while the store is down; at-1 expires at its end
		// and must be refreshed then, not refused for a backoff.
		for range 360 {
			time.Sleep(10 * time.Second)
			before := e.requests()
			_, err := src.Token(t.Context())
			if err != nil && (!errors.As(err, new(*StoreError)) || e.requests() == before) {
				t.Fatalf("Token while the store is down: %v, after %d token requests", err, e.requests())
			}
			synctest.Wait()
		}
		if got := srcAccessToken(srcMustToken(t, src)); got != "at-2" {
			t.Errorf("Token = %q, want at-2", got)
		}
		srcWantSent(t, e, "rt-0", "rt-1")
	})
}

func TestSourceGuardAlways401CostsOneRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := srcNewEndpoint(srcRotating)
		var log srcLogBuffer
		src := NewSource(e.client(), srcTokens("at-0", "rt-0", time.Now(), time.Hour),
			WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
		rejectAll := srcRoundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusUnauthorized, Request: r, Body: http.NoBody,
				Header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}}, nil
		})
		hc := &http.Client{Transport: &Transport{Source: src, Base: rejectAll}}
		for range 64 {
			resp, err := hc.Get("https://api.example/v1/me")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want the resource's 401", resp.StatusCode)
			}
		}
		srcWantSent(t, e, "rt-0")
		if !strings.Contains(log.String(), "reason=rejected") {
			t.Errorf("the refresh's log line does not say a resource rejected the token:\n%s", log.String())
		}
		time.Sleep(minRefreshInterval)
		resp, err := hc.Get("https://api.example/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srcWantSent(t, e, "rt-0", "rt-1")
	})
}

func TestSourceGuardTokenExpiredOnArrivalIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := srcNewEndpoint(func(n int, _ string) srcAnswer {
			time.Sleep(time.Millisecond) // the answer takes longer than the lifetime it grants
			return srcAnswer{status: http.StatusOK, contentType: "application/json",
				body: `{"access_token":"at-µs","token_type":"Bearer","expires_in":0.000001}`}
		})
		src := NewSource(e.client(), &Tokens{RefreshToken: "rt-0"})
		for range 100 {
			tok, err := src.Token(t.Context())
			var re *ResponseError
			if !errors.As(err, &re) || re.Field != "expires_in" {
				t.Fatalf("Token = (%v, %v), want a *ResponseError for expires_in", tok, err)
			}
		}
		srcWantRequests(t, e, 1)
	})
}

func TestSourceGuardRequestOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var forms []url.Values
		var headers []string
		var mu sync.Mutex
		c := &Client{TokenURL: srcTokenURL, HTTPClient: &http.Client{Transport: srcRoundTripFunc(func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(b))
			mu.Lock()
			forms = append(forms, form)
			headers = append(headers, r.Header.Get("Origin"))
			mu.Unlock()
			body := `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})}}
		src := NewSource(c, &Tokens{RefreshToken: "rt-0"}, WithRequestOptions(
			WithScopes("read"), WithParam("resource", "https://api.example/"), WithHeader("Origin", "https://app.example")))
		srcMustToken(t, src)
		want := []url.Values{{"grant_type": {"refresh_token"}, "refresh_token": {"rt-0"}, "scope": {"read"}, "resource": {"https://api.example/"}}}
		if diff := cmp.Diff(want, forms); diff != "" {
			t.Errorf("token request bodies (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"https://app.example"}, headers); diff != "" {
			t.Errorf("Origin headers (-want +got):\n%s", diff)
		}

		bad := NewSource(c, &Tokens{RefreshToken: "rt-0"}, WithRequestOptions(WithParam("refresh_token", "x")))
		if _, err := bad.Token(t.Context()); !errors.As(err, new(*ConfigError)) {
			t.Errorf("Token with a reserved parameter: %v, want a *ConfigError", err)
		}
	})
}
