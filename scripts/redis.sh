#!/usr/bin/env bash
# redis-server for the redisstore module:
#   bash scripts/redis.sh install        # install redis-server when it is not on PATH
#   bash scripts/redis.sh run CMD ARGS…  # start one, run CMD with REDIS_ADDR set, stop it
# The redisstore tests start their own redis-server from PATH (on a free
# loopback port, in a temporary directory, persistence off) and stop it, so
# `go test ./...` in redisstore needs only `install`; scripts/test.sh runs it.
# `run` is for anything else that wants a throwaway server, such as the
# package's example:
#   bash scripts/redis.sh run sh -c 'echo "$REDIS_ADDR"; redis-cli -u "redis://$REDIS_ADDR" ping'
# Installing uses Debian's package (apt-get, as root, as CI runs); elsewhere,
# install Redis yourself (the tests
# use 7.0, Debian 12's).
set -euo pipefail

install_redis() {
  if command -v redis-server >/dev/null 2>&1; then
    return
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "redis-server is not on PATH and apt-get is missing: install Redis yourself" >&2
    exit 1
  fi
  echo "== installing redis-server (Debian package)"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q redis-server
  # The package may start a system service on 6379; the tests never use it.
}

run_redis() {
  install_redis
  # global: the EXIT trap reads them after the function returns
  dir=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000)))
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
    --daemonize no --logfile "$dir/redis.log" &
  pid=$!
  trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
  for _ in $(seq 200); do
    if grep -qs 'Ready to accept connections' "$dir/redis.log"; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$dir/redis.log" >&2; exit 1; fi
    sleep 0.05
  done
  grep -qs 'Ready to accept connections' "$dir/redis.log" || { cat "$dir/redis.log" >&2; exit 1; }
  export REDIS_ADDR="127.0.0.1:$port"
  echo "== redis-server at $REDIS_ADDR (pid $pid, dir $dir)"
  "$@"
}

case "${1:-}" in
install) install_redis ;;
run)
  shift
  [ $# -gt 0 ] || { echo "usage: $0 run CMD [ARGS…]" >&2; exit 2; }
  run_redis "$@"
  ;;
*)
  echo "usage: $0 install | run CMD [ARGS…]" >&2
  exit 2
  ;;
esac
