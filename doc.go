// Package refresh refreshes OAuth 2.0 access tokens (RFC 6749 §6) over net/http.
//
// A [Client] names the token endpoint, the client authentication ([Auth]) and the
// *http.Client to use; [Client.Refresh] exchanges a refresh token for [Tokens]:
//
//	c := &refresh.Client{
//		TokenURL: "https://example.com/oauth2/token",
//		Auth:     refresh.ClientSecretBasic(clientID, clientSecret),
//	}
//	tok, err := c.Refresh(ctx, refreshToken)
//
// Errors are typed. An [*OAuthError] is the server's answer (RFC 6749 §5.2), even
// one sent with HTTP 200; errors.Is matches its code against [ErrInvalidGrant] and
// the other [ErrorCode] values. A [*ResponseError] is an answer that is not a token
// response (a proxy's HTML page, a missing access_token). A [*ConfigError] means
// nothing was sent. Anything else is the transport's error, wrapped.
//
// For servers that take no shared secret, [PrivateKeyJWT] and [ClientSecretJWT]
// sign a new client assertion (RFC 7523) for every request, with any
// crypto.Signer (a KMS or HSM key included), and [TLSClientAuth] leaves the
// authentication to the TLS client certificate of Client.HTTPClient (RFC 8705).
// Client.DPoP, made with [NewDPoP], adds a DPoP proof (RFC 9449) to every token
// request and lets Transport send the DPoP-bound tokens it gets, learning the
// servers' nonces as it goes.
//
// The two halves are usable on their own: [Client.NewRequest] builds the request,
// [Client.ParseResponse] reads any token endpoint's answer, lenient where real
// providers differ (string numbers, scope arrays, form bodies) and strict where a
// mistake would lose or corrupt a token.
//
// A failed attempt is retried only when that cannot replay a refresh token the
// server may have spent (RFC 9700 §4.14.2): when the request provably did not
// reach the server, or after a 429 or 503 ([DefaultCheckRetry]), within
// Client.MaxAttempts, Client.MaxRetryWait and ctx. [RetryAmbiguous] also retries
// after a timeout, a reset or a 502/504, for servers with a reuse grace period.
// After more than one attempt the error is a [*RetryError] wrapping the last one.
//
// For an access token that many goroutines share, [NewSource] returns a [Source]:
// it caches the tokens of one grant, refreshes them before they expire with one
// request however many callers ask, backs off after a failure, and hands every
// new set of tokens to a [Store] before any caller sees them, so that a rotated
// refresh token is never lost. A [Transport] puts the Source's token on the
// requests of an *http.Client, never on a redirect to another host, and after a
// 401 invalid_token refreshes and sends the request once more:
//
//	src := refresh.NewSource(c, &refresh.Tokens{RefreshToken: refreshToken}, refresh.WithStore(store))
//	hc := &http.Client{Transport: &refresh.Transport{Source: src}}
//
// Replicas of a service that hold one grant share a [SharedStore] ([MemoryStore]
// in one process; the redisstore and pgstore modules across processes): each
// refresh then runs under the grant's lease, with fenced writes, so that no two
// replicas ever present the same refresh token.
//
// [Discover] reads an authorization server's metadata (RFC 8414, or OpenID
// Connect Discovery), checking that its issuer is exactly the one asked for, and
// [Metadata.NewClient] makes a Client of it. [Client.Revoke] revokes a token
// (RFC 7009); [Source.Revoke] signs a grant out: it revokes the refresh token,
// forgets the tokens and clears the Store.
//
// [WithHooks] makes a Source report its runs, lease waits, store failures and
// DPoP nonce retries to [Hooks] funcs, with no secret in any event; the
// otelrefresh module turns them into OpenTelemetry metrics and spans.
//
// No value of this package prints a secret: [Tokens], every [Auth] it provides and
// every error show neither tokens nor client secrets under fmt or log/slog.
package refresh
