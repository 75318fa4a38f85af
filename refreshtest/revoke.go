package refreshtest

import "net/http"

// RevocationPath is the path of the revocation endpoint (RFC 7009), below
// [Server.URL].
const RevocationPath = "/revoke"

// RevocationURL returns the URL of the revocation endpoint: URL +
// [RevocationPath].
//
// It takes a POST with a form body holding token (and optionally
// token_type_hint, which it does not need), authenticated as the token
// endpoint requires, and answers 200 with an empty body, also for a token it
// does not know (RFC 7009 §2.2). Revoking a refresh token revokes its whole
// grant, as [Server.Revoke] does, so that a later refresh with any of its
// refresh tokens is invalid_grant and its access tokens get 401 at the
// resource; revoking an access token revokes only that one. A token issued to
// another client is refused with invalid_request and stays valid. Errors are
// those of the token endpoint, shaped by the server's [Quirks]; [Server.FailNext]
// does not apply here.
func (s *Server) RevocationURL() string { return s.URL + RevocationPath }

// RevocationRequests returns a copy of every request the revocation endpoint
// received, in order of arrival.
func (s *Server) RevocationRequests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.revocations))
	for i, r := range s.revocations {
		out[i] = r.clone()
	}
	return out
}

func (s *Server) serveRevocation(w http.ResponseWriter, r *http.Request) {
	body, form, oerr := readForm(r, "revocation endpoint")
	s.mu.Lock()
	rec := Request{Time: s.now(), Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body), Form: form}
	c, authErr := s.authenticateLocked(r, &rec, form)
	switch {
	case oerr != nil:
	case authErr != nil:
		oerr = authErr
	default:
		oerr = s.revokeLocked(c, form.Get("token"))
	}
	s.revocations = append(s.revocations, rec)
	quirks := s.quirks
	s.mu.Unlock()

	if oerr != nil {
		writeError(w, quirks, oerr)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeLocked revokes token for client c, as RFC 7009 §2.1 says: a token
// the server does not know is no error.
func (s *Server) revokeLocked(c Client, token string) *oauthError {
	if token == "" {
		return errInvalidRequest("token is missing")
	}
	if t, ok := s.refresh[token]; ok {
		if t.g.clientID != c.ID {
			return errInvalidRequest("the token was issued to another client")
		}
		t.g.revoked = true
	}
	if t, ok := s.access[token]; ok {
		if t.g.clientID != c.ID {
			return errInvalidRequest("the token was issued to another client")
		}
		t.revoked = true
	}
	return nil
}
