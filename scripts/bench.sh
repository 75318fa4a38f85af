#!/usr/bin/env bash
# Benchmarks of refresh side by side with golang.org/x/oauth2 (what `make bench`
# would be):
#   bash scripts/bench.sh
# It needs only Go; it installs benchstat (golang.org/x/perf/cmd/benchstat, pinned)
# from the Go module proxy into .bin/. It runs the root module's benchmarks and
# the bench/ module's (which holds both libraries) COUNT times (10 by default),
# writes the raw results to OUT (a new temporary directory unless set), and
# prints benchstat tables with the libraries side by side. It takes about 6
# minutes on 2 cores. BENCHMARKS.md explains the method and shows the results.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
COUNT=${COUNT:-10}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

echo "== installing benchstat $BENCHSTAT_VERSION"
GOBIN="$root/.bin" go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"

echo "== go version: $(go version)"
echo "== cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), $(nproc 2>/dev/null) cores"
echo "== started $(date -u '+%Y-%m-%d %H:%M UTC'); raw results in $OUT"

# Each group runs with a -benchtime that gives steady numbers without taking
# minutes: the herd and many-sources benchmarks do a lot in one operation.
run() { # file, dir, go test flags...
  local file=$1 dir=$2
  shift 2
  (cd "$dir" && go test -run='^$' -count="$COUNT" "$@" .) | tee "$OUT/$file"
}
run root.txt . -bench=. -cpu=1,2
run canned.txt bench -bench='^BenchmarkCannedRefresh$'
run loopback.txt bench -bench='^BenchmarkLoopbackRefresh$'
run hotpath.txt bench -bench='^BenchmarkTransportHotPath$' -cpu=1,2
# The same with garbage collection 20 times rarer: the benchmark's live heap is
# tiny, so at the default GOGC the collector runs every few thousand requests
# and, more than the code, decides how the hot path scales from 1 to 2 procs.
(export GOGC=2000; run hotpath-gogc2000.txt bench -bench='^BenchmarkTransportHotPath$' -cpu=1,2)
run herd.txt bench -bench='^(BenchmarkHerd|BenchmarkHerdFailing)$' -benchtime=20x
run sources.txt bench -bench='^BenchmarkManySources$' -benchtime=3x
run concurrent.txt bench -bench='^BenchmarkConcurrentRefresh$' -benchtime=3000x
run dpop.txt bench -bench='^(BenchmarkDPoPTransport|BenchmarkAssertion)$' -benchtime=3000x
run manager.txt bench -bench='^BenchmarkManager' -benchtime=3x
run shared.txt bench -bench='^(BenchmarkReplicaRevocations|BenchmarkSharedHerd|BenchmarkTransportHotPathSharedStore)$' -benchtime=1x

stat() { "$root/.bin/benchstat" "$@"; }
echo
echo "== refresh, root module"
stat "$OUT/root.txt"
for f in canned loopback hotpath herd sources concurrent; do
  echo
  echo "== $f: x/oauth2 (base) against refresh"
  stat -col '/lib@(oauth2 refresh)' "$OUT/$f.txt"
done
echo
echo "== loopback: the bare net/http floor (base) against both"
stat -col '/lib@(floor oauth2 refresh)' -filter '/client:explicit' "$OUT/loopback.txt"
echo
echo "== hotpath: the copying floor (base) against both"
stat -col '/lib@(floor oauth2 refresh)' "$OUT/hotpath.txt"
echo
echo "== hotpath: 1 against 2 procs"
stat -col /gomaxprocs "$OUT/hotpath.txt"
echo
echo "== hotpath with GOGC=2000: 1 against 2 procs"
stat -col /gomaxprocs "$OUT/hotpath-gogc2000.txt"
echo
echo "== DPoP: the Bearer path, one bare Sign and the DPoP path, per alg (target: dpop <= 1.2 x (sign + bearer))"
stat -col '/path@(bearer sign dpop)' -filter '.name:DPoPTransport' "$OUT/dpop.txt"
echo
echo "== client assertions: a request built with each method"
stat -filter '.name:Assertion' "$OUT/dpop.txt"
echo
echo "== the grant Manager: memory per active and evicted grant, a cold grant, its hot path"
stat "$OUT/manager.txt"
echo
echo "== replicas sharing a store: revocations over 200 rotations, the herd, the hot path with a SharedStore"
stat "$OUT/shared.txt"
echo "== finished $(date -u '+%Y-%m-%d %H:%M UTC')"
