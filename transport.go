package refresh

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// Transport is an [http.RoundTripper] that sends each request with
// "Authorization: Bearer <access token>" from its [Source], refreshing the token
// as the Source decides. Any token type but DPoP is sent as Bearer (providers
// spell it "bearer", leave it out or send odd values). A DPoP token (RFC 9449) is
// sent as "Authorization: DPoP <token>" with a proof made by the Source's
// Client.DPoP, and replayed once when the server asks for a new nonce; without a
// Client.DPoP it is refused with a [*ConfigError]. Put it in an [http.Client]:
//
//	hc := &http.Client{Transport: &refresh.Transport{Source: src}}
//
// It follows the RoundTripper contract: the caller's request is never modified,
// its body is closed on every path, and an error is returned only when there is
// no response. The token is fetched with the request's context.
//
// The token is sent only to the scheme and host of the request the caller made: a
// redirect hop to another host (or from https to http) passes through without
// it. When the server answers 401 and its WWW-Authenticate names invalid_token,
// or names no error at all, Transport invalidates the token that request carried
// (see [Source.Invalidate]), gets a newer one and sends the request once more,
// provided its body can be replayed (no body, or [http.Request.GetBody] set);
// otherwise the 401 is returned as it is, its body unread. Before a replay it
// reads what arrives of the 401's body within 50 ms, so that the connection can
// be reused, then closes it. A 403 is never retried.
//
// A Transport is safe for concurrent use.
type Transport struct {
	// Source supplies the tokens. Required.
	Source *Source
	// Base sends the requests. Nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip authorises req with the Source's token and sends it through Base,
// replaying it once with a newer token after a 401 as described on [Transport].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Source == nil {
		closeBody(req)
		return nil, &ConfigError{Field: "Transport.Source", Reason: "nil"}
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if !sameOrigin(req) {
		// A redirect hop away from the original host: no token from us.
		return base.RoundTrip(req)
	}
	c, err := t.Source.state(req.Context())
	if err == nil && c.dpop {
		return t.roundTripDPoP(req, base, c) // dpop.go
	}
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := base.RoundTrip(authorize(req, c.authz))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !tokenRejected(resp.Header) {
		return resp, err
	}
	// The token is rejected whether or not this request can be sent again.
	t.Source.Invalidate(c.tok)
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody && req.GetBody == nil {
		return resp, nil
	}
	next, err := t.Source.state(req.Context())
	if err != nil || next.dpop || next.tok.AccessToken == c.tok.AccessToken {
		// No newer token, or one refreshed into DPoP (see above): the 401 as it is.
		return resp, nil
	}
	r := authorize(req, next.authz)
	if hasBody {
		if r.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	discard(resp)
	return base.RoundTrip(r)
}

// drainTimeout bounds how long Transport reads a 401 it replays. Reading the body
// to its end lets the connection be reused, and a short 401 body usually came with
// its headers; one that has not arrived by then is stalled or far away, and a new
// connection costs less than waiting for it.
const drainTimeout = 50 * time.Millisecond

// discard reads what is left of resp's body, up to 4 KiB and for at most
// drainTimeout, and closes it. Closing an http body unblocks a pending Read, so a
// body that stalls is closed by the timer. A body declared longer than 4 KiB is
// closed at once: its connection cannot be reused anyway.
func discard(resp *http.Response) {
	const limit = 4 << 10
	if resp.ContentLength <= limit {
		timer := time.AfterFunc(drainTimeout, func() { resp.Body.Close() })
		_, _ = io.CopyN(io.Discard, resp.Body, limit)
		if !timer.Stop() {
			return // the timer closed the body
		}
	}
	resp.Body.Close()
}

// authorize returns a shallow copy of req with its own header map holding
// Authorization. The other header values are shared with req, clipped so that an
// append by the base transport cannot write into req's arrays.
func authorize(req *http.Request, authz []string) *http.Request {
	r := new(http.Request)
	*r = *req
	h := make(http.Header, len(req.Header)+1)
	for k, v := range req.Header {
		h[k] = v[:len(v):len(v)]
	}
	h["Authorization"] = authz
	r.Header = h
	return r
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// sameOrigin reports whether req goes to the scheme and host of the first request
// of its redirect chain. A chain it cannot follow to its start is not trusted.
func sameOrigin(req *http.Request) bool {
	if req.Response == nil {
		return true
	}
	first := req
	for first.Response != nil {
		if first.Response.Request == nil {
			return false // the chain is broken: the origin is unknown
		}
		first = first.Response.Request
	}
	if req.URL == nil || first.URL == nil {
		return false
	}
	return strings.EqualFold(req.URL.Scheme, first.URL.Scheme) && strings.EqualFold(req.URL.Host, first.URL.Host)
}

// tokenRejected reports whether a 401's WWW-Authenticate challenges call for a new
// token: a Bearer or DPoP challenge whose error is invalid_token (RFC 6750 §3.1,
// RFC 9449 §7.1) or that names no error, or no challenge at all.
func tokenRejected(h http.Header) bool {
	vals := h.Values("Www-Authenticate")
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		for _, ch := range parseChallenges(v) {
			if (strings.EqualFold(ch.scheme, "Bearer") || strings.EqualFold(ch.scheme, "DPoP")) &&
				(ch.err == "" || ch.err == "invalid_token") {
				return true
			}
		}
	}
	return false
}

// challenge is one auth challenge of a WWW-Authenticate value (RFC 9110 §11.6.1):
// its scheme and its error parameter.
type challenge struct{ scheme, err string }

// parseChallenges splits a WWW-Authenticate value into its challenges. It reads
// what tokenRejected needs and tolerates malformed input.
func parseChallenges(v string) []challenge {
	var out []challenge
	for _, item := range splitOutsideQuotes(v) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, rest, spaced := strings.Cut(item, " ")
		if eq := strings.IndexByte(name, '='); eq >= 0 || !spaced && strings.Contains(item, "=") {
			// An auth-param of the current challenge: name=value.
			if len(out) == 0 {
				continue
			}
			k, val, _ := strings.Cut(item, "=")
			if strings.EqualFold(strings.TrimSpace(k), "error") {
				out[len(out)-1].err = unquote(strings.TrimSpace(val))
			}
			continue
		}
		// A new challenge: a scheme, then nothing, a token68 or its first param.
		out = append(out, challenge{scheme: name})
		rest = strings.TrimSpace(rest)
		if k, val, ok := strings.Cut(rest, "="); ok && strings.EqualFold(strings.TrimSpace(k), "error") {
			out[len(out)-1].err = unquote(strings.TrimSpace(val))
		}
	}
	return out
}

// splitOutsideQuotes splits v at the commas that are not inside a quoted string.
func splitOutsideQuotes(v string) []string {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				parts = append(parts, v[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, v[start:])
}

// unquote removes the quotes of a quoted-string and its backslash escapes.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
