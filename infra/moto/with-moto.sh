#!/usr/bin/env bash
# with-moto.sh CMD...: runs CMD with JITSUDO_TEST_DYNAMODB_ENDPOINT pointing at
# moto's DynamoDB (moto_server, started here on a free loopback port) behind
# infra/serialproxy, which forwards one request at a time (see its doc: moto's
# transactions are not atomic under concurrent requests; DynamoDB's are).
# JITSUDO_TEST_MOTO_ENDPOINT is the same address (see infra/mototest).
# Both are stopped when CMD ends; CMD's exit code is ours.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v moto_server >/dev/null || { echo "moto_server not found: pip install 'moto[server]==5.2.1'"; exit 1; }
mkdir -p .bin
go build -o .bin/serialproxy ./infra/serialproxy
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tmp=$(mktemp -d)
moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 & moto=$!
.bin/serialproxy -listen 127.0.0.1:0 -upstream "http://127.0.0.1:$port" -addr-file "$tmp/proxy.addr" 2>"$tmp/proxy.log" & proxy=$!
trap 'kill $moto $proxy 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 300); do
  [ -s "$tmp/proxy.addr" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/moto-api/" && break
  kill -0 $moto 2>/dev/null || { cat "$tmp/moto.log"; exit 1; }
  sleep 0.2
done
curl -sf -o /dev/null "http://127.0.0.1:$port/moto-api/" || { echo "moto_server did not start"; cat "$tmp/moto.log"; exit 1; }
echo "moto $(python3 -c 'import moto; print(moto.__version__)') on 127.0.0.1:$port, serialized at $(cat "$tmp/proxy.addr")"
# JITSUDO_TEST_MOTO_ENDPOINT: the same moto for the tests that use its other
# APIs (infra/mototest), so the step starts one moto, not one per package.
JITSUDO_TEST_DYNAMODB_ENDPOINT="http://$(cat "$tmp/proxy.addr")" \
  JITSUDO_TEST_MOTO_ENDPOINT="http://$(cat "$tmp/proxy.addr")" "$@"
