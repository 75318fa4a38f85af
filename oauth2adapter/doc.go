// Package oauth2adapter connects package refresh to golang.org/x/oauth2, in both
// directions. It lives in a module of its own, so that importers of refresh
// never download x/oauth2.
//
// # From refresh to x/oauth2
//
// Many Go APIs take an [oauth2.TokenSource]: Google API clients
// (option.WithTokenSource), gRPC per-RPC credentials (oauth.TokenSource), or an
// [oauth2.Transport]. [TokenSource] hands them the tokens of a [refresh.Source],
// converted by [ToToken]:
//
//	src := refresh.NewSource(c, tokens, refresh.WithStore(store))
//	ts := oauth2adapter.TokenSource(ctx, src) // ctx: the lifetime of the component, see TokenSource
//	hc := &http.Client{Transport: &oauth2.Transport{Source: ts}}
//
// The Source still does the work: one refresh for all callers, refresh-ahead,
// backoff, rotated refresh tokens saved to the Store. Where you build the
// http.Client yourself, prefer [refresh.Transport]: unlike oauth2.Transport it
// fetches the token with each request's context, keeps the token off redirects
// to other hosts, and refreshes and replays once after a 401 invalid_token.
//
// # From x/oauth2 to refresh
//
// Code that holds an [oauth2.Config] and an [*oauth2.Token] starts a Source from
// them with [NewSource], or builds the parts with [Client], [Auth] and
// [FromToken]. The Config's Endpoint.AuthStyle picks the client authentication:
//
//	AuthStyleInHeader   → refresh.ClientSecretBasic (the same Authorization header)
//	AuthStyleInParams   → refresh.ClientSecretPost
//	empty ClientSecret  → refresh.PublicClient, whatever the AuthStyle
//	AuthStyleAutoDetect → an error wrapping ErrAuthStyleAutoDetect
//
// Auto-detect has no equivalent on purpose. x/oauth2 tries Basic first and,
// after any failure, posts the same refresh token again in the body. A server
// that rotates refresh tokens with reuse detection (Okta, Auth0, ory/fosite;
// RFC 9700 §4.14.2) may take that second post as a stolen token and revoke the
// user's whole grant. Name the style your server wants in Endpoint.AuthStyle.
//
// Basic credentials: x/oauth2 url.QueryEscapes the client ID and secret before
// Basic encoding, and [refresh.ClientSecretBasic] form-encodes them as RFC 6749
// §2.3.1 says. The two encodings are the same function (letters, digits and
// "-._~" kept, a space becomes '+', every other byte %XX), so the Authorization
// header is byte for byte what x/oauth2 sent, and a server that worked with
// x/oauth2 works here. A server that decodes only percent escapes reads a '+'
// as a plus sign and so rejects a secret with a space, with either library. For
// servers that want the credentials unencoded (Cloud Foundry UAA, Epic), which
// x/oauth2 cannot serve, build the Client yourself with
// [refresh.ClientSecretBasicRaw].
//
// What changes on the wire: refresh also sends Accept: application/json and a
// User-Agent, never follows a redirect from the token endpoint, and does not
// send Config.Scopes on refresh (nor does x/oauth2); use [refresh.WithScopes]
// through [refresh.Client.Refresh] to narrow a refresh. The HTTP client is
// Client.HTTPClient, not a value in a context.
//
// # Secrets
//
// No error of this package and no String or %v of its values shows a client
// secret or a token. An [*oauth2.Token] itself does print its tokens under %v:
// log the [refresh.Tokens] instead, whose String and LogValue are redacted.
package oauth2adapter
