// Package bench holds benchmarks that run refresh and golang.org/x/oauth2 side by
// side on the same work: a refresh through a canned RoundTripper, a refresh over
// loopback HTTP next to a bare net/http floor, the Transport hot path, a
// thundering herd at expiry, and many idle Sources. It is a separate module so
// that the library's go.mod stays free of x/oauth2. The package has no API: run
//
//	go test -run='^$' -bench=. ./...
//
// or scripts/bench.sh at the repository root, which repeats the runs and
// compares them with benchstat. BENCHMARKS.md explains the method and results.
package bench
