#!/usr/bin/env bash
# The hardening probes of issue #9 at full size: `bash bench/probes.sh` from the repository root.
# Builds the release binary, starts it with its defaults on 127.0.0.1 (plus a plain-HTTP
# listener for the raw probes), runs bench/probes.py against it, and stops it. Needs python3,
# about 1.5 GB free under /tmp, and room for 4,200 open files (it raises its own limit).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet --bin binspector
DATA=$(mktemp -d /tmp/binspector-probes.XXXXXX)
HTTPS_PORT=${HTTPS_PORT:-18643}
HTTP_PORT=${HTTP_PORT:-18680}
ulimit -n 20000
./target/release/binspector --listen "127.0.0.1:$HTTPS_PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
    --data-dir "$DATA" --static-dir static >"$DATA.log" 2>&1 &
PID=$!
trap 'kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA" "$DATA.log"' EXIT
for _ in $(seq 100); do
    curl -ks "https://127.0.0.1:$HTTPS_PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
python3 bench/probes.py "$HTTP_PORT" "https://127.0.0.1:$HTTPS_PORT" "$PID"
