#!/usr/bin/env bash
# The project's whole test command, run by CI (.ci/run) and by anyone:
#   bash scripts/test.sh
# It needs Go, Node.js 20 or later and npm. It installs its own tools
# (staticcheck, pinned) from the Go module proxy into .bin/, and the npm packages
# of interop/oidc (oidc-provider, for the interop tests) with npm ci from the
# committed package-lock.json; without node the interop tests fail and say how to
# install it. For every module in the repository (the root and any nested
# go.mod): gofmt, go vet, staticcheck, go test -race. Then every benchmark once
# (-benchtime=1x, in each module that has one; a few seconds) so that none rots,
# and a short fuzz run of each fuzz target (a fixed number of executions each,
# about 20 s on a loaded 2-core machine; FUZZTIME=10m or FUZZTIME=1000000x sets
# every target's budget instead). scripts/bench.sh measures for real; docs/RELIABILITY.md gives
# the command of a long fuzz run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

STATICCHECK_VERSION=v0.8.2
FUZZTIME=${FUZZTIME:-}

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change these files (run gofmt -w .):"
  echo "$unformatted"
  exit 1
fi

echo "== installing staticcheck $STATICCHECK_VERSION"
GOBIN="$root/.bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  echo "== npm ci in interop/oidc"
  (cd interop/oidc && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "== node or npm not found: the oidc-provider interop tests will fail (they need Node.js 20+ and npm)"
fi

# redisstore's tests start their own redis-server from PATH: install it when
# missing (apt-get, Debian's redis-server package).
echo "== redis-server for redisstore"
bash "$root/scripts/redis.sh" install
# pgstore's tests start a PostgreSQL of their own (initdb in a temporary
# directory, as the user postgres when run as root); on Debian, install it.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing postgresql (Debian) for the pgstore tests"
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
  else
    echo "== PostgreSQL not found: the pgstore tests will fail (Debian: apt-get install -y postgresql)"
  fi
fi

modules=$(find . -name go.mod -not -path './.bin/*' -not -path '*/testdata/*' -not -path '*/node_modules/*' -exec dirname {} \; | sort)
for m in $modules; do
  echo "== module $m: go vet, staticcheck, go test -race"
  (
    cd "$m"
    go vet ./...
    "$root/.bin/staticcheck" ./...
    go test -race -count=1 ./...
  )
done

echo "== benchmarks, each run once"
for m in $modules; do
  if grep -rqs --include='*_test.go' '^func Benchmark' "$m"; then
    (cd "$m" && go test -run='^$' -bench=. -benchtime=1x ./...)
  fi
done

# The default budgets count executions rather than time: with a duration, Go's
# fuzzing coordinator can fail a run at its deadline with a bare "context
# deadline exceeded" when the machine is busy (a known race of its own), with no failing
# input found.
fuzz() { # dir, target, default number of executions
  echo "== fuzz $2 in $1 (${FUZZTIME:-$3x})"
  (cd "$1" && go test -run='^$' -fuzz="^$2\$" -fuzztime="${FUZZTIME:-$3x}" .)
}
fuzz . FuzzParseResponse 150000
fuzz . FuzzClientAuth 300000
fuzz . FuzzTokensJSON 300000
fuzz . FuzzParseMetadata 300000
fuzz . FuzzClientAssertion 300000
fuzz refreshtest FuzzParseJWS 300000
fuzz redisstore FuzzOpen 300000
fuzz pgstore FuzzOpen 100000

echo "== all checks passed"
