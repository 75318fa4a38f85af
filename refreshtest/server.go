// Package refreshtest provides a fake OAuth 2.0 authorization server for tests of
// code that refreshes access tokens, in the spirit of net/http/httptest.
//
// [NewServer] starts a [Server] on an ephemeral port of 127.0.0.1. It has a token
// endpoint ([Server.TokenURL]) that answers refresh_token grants (RFC 6749 §6)
// for registered clients ([Client], with any of the client authentication
// methods [AuthClientSecretBasic], [AuthClientSecretBasicRaw],
// [AuthClientSecretPost], [AuthNone], and the signed assertions
// [AuthPrivateKeyJWT] and [AuthClientSecretJWT]), and a protected resource
// ([Server.ResourceURL], or [Server.Resource] around a handler of your own) that
// accepts the access tokens it issued and answers 401 with
// `WWW-Authenticate: Bearer error="invalid_token"` for expired, revoked or
// unknown ones. A revocation endpoint ([Server.RevocationURL], RFC 7009) and a
// metadata document ([Server.MetadataURL], RFC 8414) complete it.
//
// A test starts from a refresh token minted with [Server.IssueRefreshToken]. The
// server then behaves as a strict, modern provider:
//
//   - it rotates refresh tokens (or keeps them, see [WithRotation]) and treats a
//     second use of a rotated token as theft: it answers invalid_grant and
//     revokes the whole grant, every refresh and access token issued from it
//     (RFC 9700 §4.14.2, as Auth0 and Okta do), unless the reuse falls within a
//     grace period ([WithReuseGrace]);
//   - it narrows scope: a refresh may ask for a subset of the granted scopes,
//     and anything wider is invalid_scope;
//   - access tokens (and, with [WithRefreshTokenLifetime], refresh tokens)
//     expire on the server's clock, which a test controls with [WithClock] and
//     [Clock], or with testing/synctest;
//   - it checks the request strictly: POST, a form body, no repeated
//     parameter, one client authentication method, the method the client was
//     registered with; a client assertion's signature, aud, exp and jti
//     (replays are refused);
//   - it takes DPoP proofs (RFC 9449) at the token endpoint and the resource,
//     binds the tokens it issues to the proof's key, and requires nonces that
//     rotate when asked to ([WithDPoPNonces]).
//
// Every token request is recorded ([Server.Requests]) with its form and the
// client credentials as the server decoded them, so a test can compare them.
// On demand the server misbehaves as real ones do: [Quirks] for GitHub-style
// errors with HTTP 200, form-encoded bodies or numbers as strings and latency,
// and [Server.FailNext] with a [Fault] (a status, an HTML page from a proxy,
// truncated JSON, a closed connection) for the next requests.
//
// [NewServer] listens on a real socket. In a testing/synctest bubble, where a
// socket keeps fake time from advancing, use [NewInMemoryServer], whose
// [Server.Client] serves requests in memory.
//
// The package speaks only HTTP and uses only the standard library; it does not
// import package refresh. Tokens it issues are random and opaque; the server
// never logs them and its errors never contain them. A Server is safe for
// concurrent use.
package refreshtest

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Paths of the server's endpoints, below [Server.URL].
const (
	TokenPath    = "/token"
	ResourcePath = "/resource"
)

// DefaultAccessTokenLifetime is the lifetime of access tokens when
// [WithAccessTokenLifetime] is not given.
const DefaultAccessTokenLifetime = time.Hour

// AuthMethod is a client authentication method (RFC 6749 §2.3), named as in the
// token_endpoint_auth_method registry (RFC 7591 §2).
type AuthMethod string

// The client authentication methods a [Client] can be registered with.
const (
	// AuthClientSecretBasic: HTTP Basic with the client id and secret
	// form-encoded first (RFC 6749 §2.3.1), so "a b" arrives as "a+b".
	AuthClientSecretBasic AuthMethod = "client_secret_basic"
	// AuthClientSecretBasicRaw: HTTP Basic with the raw id and secret (RFC 7617),
	// as Cloud Foundry UAA and Epic expect. Not a registered method name.
	AuthClientSecretBasicRaw AuthMethod = "client_secret_basic_raw"
	// AuthClientSecretPost: client_id and client_secret in the form body.
	AuthClientSecretPost AuthMethod = "client_secret_post"
	// AuthNone: a public client, which sends only client_id in the form body.
	AuthNone AuthMethod = "none"
)

// Client is a client registered with a [Server].
type Client struct {
	ID     string
	Secret string // ignored for AuthNone; the HS256 key for AuthClientSecretJWT
	// Method is how the client must authenticate; the server answers
	// invalid_client to any other. Empty means AuthClientSecretBasic.
	Method AuthMethod
	// PublicKey verifies the assertions of an AuthPrivateKeyJWT client: an
	// *ecdsa.PublicKey, an *rsa.PublicKey or an ed25519.PublicKey.
	PublicKey crypto.PublicKey
}

// String describes c without its secret.
func (c Client) String() string {
	return fmt.Sprintf("refreshtest.Client{ID:%q, Method:%q}", c.ID, c.method())
}

// GoString is String, so that %#v shows no secret either.
func (c Client) GoString() string { return c.String() }

// Format writes String for every verb, so that no verb prints the secret.
func (c Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue gives slog what String shows, so that no handler logs the secret.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("method", string(c.method())))
}

func (c Client) method() AuthMethod {
	if c.Method == "" {
		return AuthClientSecretBasic
	}
	return c.Method
}

// Rotation says what the server does with a refresh token when it is used.
type Rotation int

const (
	// RotateRefreshTokens (the default): every refresh answers with a new
	// refresh token, and the one used is spent. Using a spent token again is
	// reuse (see [WithReuseDetection] and [WithReuseGrace]).
	RotateRefreshTokens Rotation = iota
	// KeepRefreshTokens: the refresh token stays valid and the response carries
	// none (as Google does); the client keeps the one it has.
	KeepRefreshTokens
	// EchoRefreshTokens: the refresh token stays valid and the response carries
	// it again, unchanged.
	EchoRefreshTokens
)

// String returns the constant's name.
func (r Rotation) String() string {
	switch r {
	case RotateRefreshTokens:
		return "RotateRefreshTokens"
	case KeepRefreshTokens:
		return "KeepRefreshTokens"
	case EchoRefreshTokens:
		return "EchoRefreshTokens"
	}
	return fmt.Sprintf("Rotation(%d)", int(r))
}

// Option configures a [Server] in [NewServer] or [NewInMemoryServer].
type Option func(*options)

// options is a Server's configuration. It is fixed after the Server is
// created, except clients and quirks, which change under Server.mu.
type options struct {
	clients         map[string]Client
	quirks          Quirks
	rotation        Rotation
	reuseDetection  bool
	reuseGrace      time.Duration
	accessLifetime  time.Duration
	refreshLifetime time.Duration
	now             func() time.Time
	dpopNonceEvery  int // dpop.go
}

// WithClient registers a client. It may be given many times; a later
// registration of the same ID replaces the earlier one.
func WithClient(c Client) Option {
	return func(s *options) { s.clients[c.ID] = c }
}

// WithRotation sets what the server does with a refresh token when it is used;
// [RotateRefreshTokens] by default.
func WithRotation(r Rotation) Option {
	return func(s *options) { s.rotation = r }
}

// WithReuseDetection turns reuse detection on (the default) or off. On, a second
// use of a rotated refresh token (outside the grace period) answers
// invalid_grant and revokes the grant: every refresh and access token issued
// from it. Off, it answers invalid_grant and revokes nothing.
func WithReuseDetection(on bool) Option {
	return func(s *options) { s.reuseDetection = on }
}

// WithReuseGrace sets a grace period after a refresh token is rotated, during
// which using it again is not treated as reuse: the server answers as for a
// successful refresh, with a new access token and the grant's current refresh
// token (the newest one: no new refresh token is minted, so the grant keeps a
// single live refresh token), and revokes nothing. Auth0 ("reuse interval") and
// Okta ("grace period") offer such a window, so that a client that lost a
// response, or replicas that raced, can recover; what they return within it is
// their own, this server's answer is the one above. Zero (the default) means
// no grace: the reuse is detected however soon it comes.
func WithReuseGrace(d time.Duration) Option {
	return func(s *options) { s.reuseGrace = d }
}

// WithAccessTokenLifetime sets the lifetime of issued access tokens, sent as
// expires_in in whole seconds; [DefaultAccessTokenLifetime] by default. Zero or
// a negative d makes access tokens that never expire, and responses without
// expires_in (which clients take as an unknown lifetime).
func WithAccessTokenLifetime(d time.Duration) Option {
	return func(s *options) { s.accessLifetime = d }
}

// WithRefreshTokenLifetime makes refresh tokens expire d after they were issued
// (each rotated token gets a fresh d), and responses carry
// refresh_token_expires_in (as GitHub sends it). Zero (the default) means
// refresh tokens do not expire.
func WithRefreshTokenLifetime(d time.Duration) Option {
	return func(s *options) { s.refreshLifetime = d }
}

// WithClock sets the server's clock, used for expiry and for recorded request
// times; time.Now by default (which a testing/synctest bubble fakes). A
// [Clock] gives one that a test moves by hand: WithClock(clock.Now).
func WithClock(now func() time.Time) Option {
	return func(s *options) { s.now = now }
}

// WithQuirks sets how the server departs from RFC 6749 in every response;
// [Server.SetQuirks] changes it later.
func WithQuirks(q Quirks) Option {
	return func(s *options) { s.quirks = q }
}

// Server is a fake authorization server with a token endpoint and a protected
// resource, listening on 127.0.0.1. Create it with [NewServer] and stop it with
// [Server.Close]. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of the server, http://127.0.0.1:port, without a
	// trailing slash.
	URL string

	ts        *httptest.Server
	closed    chan struct{} // closed by Close: ends latency waits
	closeOnce sync.Once

	options

	mu       sync.Mutex
	faults   []Fault
	requests []Request
	grants   []*grant
	refresh  map[string]*refreshToken
	access   map[string]*accessToken

	revocations []Request      // requests to RevocationPath, under mu
	assertions  assertionState // assertion.go
	dpop        dpopState      // dpop.go
}

// NewServer starts a Server with the given options. The caller must call Close
// when done with it, typically with t.Cleanup(srv.Close).
func NewServer(opts ...Option) *Server {
	s := newServer(opts...)
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// NewInMemoryServer returns a Server that does not listen on a socket, for
// tests in a testing/synctest bubble (where a real socket keeps fake time from
// advancing) or tests that want no network at all. Its URL is
// "http://127.0.0.1", where nothing listens: reach it through
// [Server.Transport] or [Server.Client], which serve requests in memory. Close
// only ends the waits of held-back responses.
func NewInMemoryServer(opts ...Option) *Server {
	s := newServer(opts...)
	s.URL = "http://127.0.0.1"
	return s
}

func newServer(opts ...Option) *Server {
	s := &Server{
		options: options{
			clients:        map[string]Client{},
			reuseDetection: true,
			accessLifetime: DefaultAccessTokenLifetime,
			now:            time.Now,
		},
		closed:  make(chan struct{}),
		refresh: map[string]*refreshToken{},
		access:  map[string]*accessToken{},
	}
	for _, o := range opts {
		if o != nil {
			o(&s.options)
		}
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Close shuts the server down and blocks until all outstanding requests on it
// have completed; responses held back by [Quirks.Latency] or [Fault.Delay] are
// sent at once. For a server from [NewInMemoryServer] it only ends such
// waits. Close may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	if s.ts != nil {
		s.ts.Close()
	}
}

// Client returns an HTTP client that sends requests to the server. For a
// server from [NewServer] any *http.Client reaches it too, as it listens on
// 127.0.0.1; for one from [NewInMemoryServer] the client's Transport is
// [Server.Transport].
func (s *Server) Client() *http.Client {
	if s.ts != nil {
		return s.ts.Client()
	}
	return &http.Client{Transport: s.Transport()}
}

// TokenURL returns the URL of the token endpoint: URL + [TokenPath].
func (s *Server) TokenURL() string { return s.URL + TokenPath }

// ResourceURL returns the URL of the built-in protected resource: URL +
// [ResourcePath]. With a valid access token it answers 200 with a JSON object
// {"client_id": ..., "scope": ...} describing the token; see [Server.Resource]
// for the answers without one.
func (s *Server) ResourceURL() string { return s.URL + ResourcePath }

// ServeHTTP answers a request to [TokenPath], [ResourcePath], [RevocationPath]
// or [MetadataPath]; other paths get 404. It lets a test mount the server in a
// mux of its own or call it without a network, as [Server.Transport] does.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case TokenPath:
		s.serveToken(w, r)
	case ResourcePath:
		s.Resource(http.HandlerFunc(s.serveResource)).ServeHTTP(w, r)
	case RevocationPath:
		s.serveRevocation(w, r)
	case MetadataPath:
		s.serveMetadata(w, r)
	default:
		http.NotFound(w, r)
	}
}

// AddClient registers a client, as [WithClient] does, after the server started.
func (s *Server) AddClient(c Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c
}

// SetQuirks replaces the server's [Quirks] for the requests that follow.
func (s *Server) SetQuirks(q Quirks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quirks = q
}

// FailNext makes the next n requests to the token endpoint get f instead of
// the server's answer (n <= 0 adds nothing). Calls add up: FailNext(1, a) then
// FailNext(2, b) fails the next request with a and the two after it with b. A
// request that gets a Fault is recorded like any other and, unless
// f.AfterRefresh, changes nothing at the server.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// Requests returns a copy of every request the token endpoint received, in
// order of arrival. Requests to the resource are not recorded.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.clone()
	}
	return out
}

// String describes the server by its URL; it shows no token or secret.
func (s *Server) String() string { return "refreshtest.Server{URL:" + s.URL + "}" }

// sleep waits for d, or until ctx ends or the server is closed.
func (s *Server) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-s.closed:
	}
}

// joinScopes is the RFC 6749 §3.3 form of a scope list.
func joinScopes(scopes []string) string { return strings.Join(scopes, " ") }

// Transport returns an http.RoundTripper that serves every request in memory
// with [Server.ServeHTTP], in the caller's goroutine, whatever host the
// request names. A [Fault] that closes the connection makes RoundTrip return
// an error wrapping io.ErrUnexpectedEOF; a request whose context ends gets the
// context's error.
func (s *Server) Transport() http.RoundTripper { return memTransport{s} }

type memTransport struct{ s *Server }

func (t memTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	var body []byte
	if req.Body != nil {
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	sreq := req.Clone(req.Context())
	sreq.Body = io.NopCloser(bytes.NewReader(body))
	sreq.ContentLength = int64(len(body))
	sreq.Host = req.URL.Host
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			resp, err = nil, fmt.Errorf("refreshtest: the server closed the connection: %w", io.ErrUnexpectedEOF)
		}
	}()
	t.s.ServeHTTP(rec, sreq)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	resp = rec.Result()
	resp.Request = req
	return resp, nil
}
