// Package jwsverify checks, with an independent JOSE library
// (github.com/go-jose/go-jose/v4), everything refresh signs: the client
// assertions of PrivateKeyJWT and ClientSecretJWT for every algorithm, and the
// DPoP proofs of the token requests and of Transport, with their JWK
// thumbprints. It is a separate module so that the library's go.mod stays free
// of go-jose; it holds tests only and has no API. Run
//
//	go test -race ./...
//
// in this directory (scripts/test.sh does, as for every module).
package jwsverify
