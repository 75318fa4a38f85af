package refreshtest

import (
	"encoding/json"
	"net/http"
)

// MetadataPath is the path of the server's metadata document (RFC 8414 §3),
// below [Server.URL]. The server's issuer identifier is its URL, which has no
// path, so the document sits at the root's well-known path.
const MetadataPath = "/.well-known/oauth-authorization-server"

// Issuer returns the server's issuer identifier (RFC 8414 §2): [Server.URL].
func (s *Server) Issuer() string { return s.URL }

// MetadataURL returns the URL of the metadata document: URL + [MetadataPath].
// A GET there answers a JSON object with the issuer, token_endpoint,
// revocation_endpoint, grant_types_supported (refresh_token), and
// token_endpoint_auth_methods_supported and
// revocation_endpoint_auth_methods_supported (client_secret_basic,
// client_secret_post, none, private_key_jwt and client_secret_jwt: the
// registered names of the methods a [Client] can be registered with).
func (s *Server) MetadataURL() string { return s.URL + MetadataPath }

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	methods := []AuthMethod{AuthClientSecretBasic, AuthClientSecretPost, AuthNone, AuthPrivateKeyJWT, AuthClientSecretJWT}
	doc, _ := json.Marshal(struct {
		Issuer                   string       `json:"issuer"`
		TokenEndpoint            string       `json:"token_endpoint"`
		RevocationEndpoint       string       `json:"revocation_endpoint"`
		GrantTypes               []string     `json:"grant_types_supported"`
		TokenEndpointAuthMethods []AuthMethod `json:"token_endpoint_auth_methods_supported"`
		RevocationAuthMethods    []AuthMethod `json:"revocation_endpoint_auth_methods_supported"`
	}{s.Issuer(), s.TokenURL(), s.RevocationURL(), []string{"refresh_token"}, methods, methods})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(doc, '\n'))
}
