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
# and a short fuzz run of each fuzz target (FUZZTIME each, 20s by default; about
# a minute in all). scripts/bench.sh measures for real; docs/RELIABILITY.md gives
# the command of a long fuzz run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

STATICCHECK_VERSION=v0.8.2
FUZZTIME=${FUZZTIME:-20s}

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

echo "== fuzz ($FUZZTIME per target)"
go test -run='^$' -fuzz='^FuzzParseResponse$' -fuzztime="$FUZZTIME" .
go test -run='^$' -fuzz='^FuzzClientAuth$' -fuzztime="$FUZZTIME" .
go test -run='^$' -fuzz='^FuzzTokensJSON$' -fuzztime="$FUZZTIME" .
(cd redisstore && go test -run='^$' -fuzz='^FuzzOpen$' -fuzztime="$FUZZTIME" .)
go test -run='^$' -fuzz='^FuzzParseMetadata$' -fuzztime="$FUZZTIME" .
go test -run='^$' -fuzz='^FuzzClientAssertion$' -fuzztime="$FUZZTIME" .
go test -run='^$' -fuzz='^FuzzParseJWS$' -fuzztime="$FUZZTIME" ./refreshtest
(cd pgstore && go test -run='^$' -fuzz='^FuzzOpen$' -fuzztime="$FUZZTIME" .)

echo "== all checks passed"
