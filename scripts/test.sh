#!/usr/bin/env bash
# The project's whole test command, run by CI (.ci/run) and by anyone:
#   bash scripts/test.sh
# It needs only Go; it installs its own tools (staticcheck, pinned) from the Go
# module proxy into .bin/. For every module in the repository (the root and any
# nested go.mod): gofmt, go vet, staticcheck, go test -race. Then every benchmark
# once (-benchtime=1x, the root module and bench/; a few seconds) so that none
# rots, and a short fuzz run of each fuzz target (FUZZTIME each, 10s by default;
# about 20s in all). scripts/bench.sh measures for real.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

STATICCHECK_VERSION=v0.8.2
FUZZTIME=${FUZZTIME:-10s}

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change these files (run gofmt -w .):"
  echo "$unformatted"
  exit 1
fi

echo "== installing staticcheck $STATICCHECK_VERSION"
GOBIN="$root/.bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"

modules=$(find . -name go.mod -not -path './.bin/*' -not -path '*/testdata/*' -exec dirname {} \; | sort)
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
go test -run='^$' -bench=. -benchtime=1x ./...
(cd bench && go test -run='^$' -bench=. -benchtime=1x ./...)

echo "== fuzz ($FUZZTIME per target)"
go test -run='^$' -fuzz='^FuzzParseResponse$' -fuzztime="$FUZZTIME" .
go test -run='^$' -fuzz='^FuzzObject$' -fuzztime="$FUZZTIME" ./internal/wire

echo "== all checks passed"
