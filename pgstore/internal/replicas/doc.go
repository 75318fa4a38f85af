// Package replicas holds only tests: the replica scenarios of
// internal/replicatest (herd, sustained rotation, a killed lease holder, a
// database outage, and the wake-up latency benchmark) run against pgstore,
// with real worker processes sharing one PostgreSQL server that the tests
// start themselves. They live apart from pgstore's own tests because the test
// binary re-executes itself as the workers (replicatest.Main in TestMain).
package replicas
