#!/usr/bin/env bash
# The project's whole test command, run by CI (.ci/run) and by anyone:
#   bash scripts/test.sh
# It needs Go; it installs Node.js and npm, redis-server and PostgreSQL from
# Debian's packages when they are missing. It installs its own tools
# (staticcheck, pinned) from the Go module proxy into .bin/, and the npm packages
# of interop/oidc (oidc-provider, for the interop tests) with npm ci from the
# committed package-lock.json. For every module in the repository (the root and any nested
# go.mod): gofmt, go vet, staticcheck, go test -race. Then every benchmark once
# (-benchtime=1x, in each module that has one; a few seconds) so that none rots,
# and a short fuzz run of each fuzz target (a fixed number of executions each,
# about 20 s on a loaded 2-core machine; FUZZTIME=10m or FUZZTIME=1000000x sets
# every target's budget instead). scripts/bench.sh measures for real;
# docs/RELIABILITY.md gives the command of a long fuzz run.
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

# The tests start their own servers, each on a free loopback port, and stop
# them: oidc-provider under Node.js (interop/), redis-server (redisstore/) and
# PostgreSQL, run as an unprivileged user when this runs as root (pgstore/).
# What is missing is installed from Debian's packages, as root or with sudo.
have() { # any of the commands
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 && return 0; done
  return 1
}
install() { # Debian packages
  if ! have apt-get; then
    echo "== missing: $* (Debian package names); install them and run again" >&2
    exit 1
  fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "== installing $* (Debian packages)"
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}
missing=()
have node || missing+=(nodejs)
have redis-server || missing+=(redis-server)
have initdb /usr/lib/postgresql/*/bin/initdb || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then install "${missing[@]}"; fi
have npm || install npm # Debian's nodejs leaves npm out; NodeSource's brings it

echo "== npm ci in interop/oidc"
(cd interop/oidc && npm ci --no-audit --no-fund --loglevel=error)

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
