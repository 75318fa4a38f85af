package refresh

import (
	"crypto/ed25519"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEndpointAuthMethod checks the RFC 7591 names that discovery matches
// against token_endpoint_auth_methods_supported.
func TestEndpointAuthMethod(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	got := map[string]string{}
	for name, a := range map[string]interface{ endpointAuthMethod() string }{
		"PrivateKeyJWT":   PrivateKeyJWT("c", key).(*assertionAuth),
		"ClientSecretJWT": ClientSecretJWT("c", "s").(*assertionAuth),
		"TLSClientAuth":   TLSClientAuth("c").(*tlsAuth),
	} {
		got[name] = a.endpointAuthMethod()
	}
	want := map[string]string{"PrivateKeyJWT": "private_key_jwt", "ClientSecretJWT": "client_secret_jwt", "TLSClientAuth": "tls_client_auth"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("endpointAuthMethod (-want +got):\n%s", diff)
	}
}
