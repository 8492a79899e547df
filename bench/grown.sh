#!/usr/bin/env bash
# Does a capture cost more on a big database? `bash bench/grown.sh`, from the repository root.
#
# Runs the realistic load (examples/load.rs: 50 keep-alive HTTPS connections over 100 bins,
# Kaizala events with fresh random eventIds, 70/25/5 % of ~1/8/64 KB bodies, 2 % handshakes)
# for ROUNDS rounds against a binspector on a fresh database, then against one on a database
# already holding ROWS requests in the same 100 bins (~1 KB bodies with random event keys,
# written with sqlite3 straight into the table, ~2.7 GB for 2 million), and prints the CPU per
# capture of each round, their means, and the ratio against the target (within 10 %).
# See BENCHMARKS.md, "The database's size". Needs about 8 GB free under /tmp.
#
# Knobs (environment): ROWS (2000000), ROUNDS (3), DURATION (10s), PORT (21471).
set -euo pipefail

ROWS=${ROWS:-2000000}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
PORT=${PORT:-21471}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d /tmp/binspector-grown.XXXXXX)
PID=""
cleanup() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" && wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

command -v sqlite3 >/dev/null 2>&1 || {
    log "sqlite3 not found: installing Debian's sqlite3"
    apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null
}
log "building release binaries"
cargo build --release --quiet --bin binspector --example load
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BINSPECTOR="$TARGET_DIR/release/binspector"
LOAD="$TARGET_DIR/release/examples/load"

start() { # DATA_DIR: starts binspector on it and waits until it answers
    "$BINSPECTOR" --listen "127.0.0.1:$PORT" --data-dir "$1" --static-dir "$ROOT/static" \
        --workers 2 --max-requests-per-bin 0 --retention 0 --create-limit off \
        >>"$1.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        curl -sk -o /dev/null "https://127.0.0.1:$PORT/healthz" && return
        sleep 0.1
    done
    log "binspector did not start: $(tail -3 "$1.log")"
    exit 1
}
stop() {
    kill -TERM "$PID" && wait "$PID" 2>/dev/null || true
    PID=""
}
make_bins() { # prints 100 new bin ids, comma-separated
    for _ in $(seq 100); do
        curl -sk -X POST "https://127.0.0.1:$PORT/api/v1/bins" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
    done | paste -sd,
}
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
rounds() { # LABEL DATA_DIR BINS: one line per round, "LABEL ROUND CPU_US RPS P99 DB_MB"
    local round before after out
    for round in $(seq "$ROUNDS"); do
        before=$(cpu_ticks "$PID")
        out=$("$LOAD" --base "https://127.0.0.1:$PORT" --bins "$3" --duration "$DURATION")
        after=$(cpu_ticks "$PID")
        python3 - "$1" "$round" "$((after - before))" "$(getconf CLK_TCK)" \
            "$(du -sm "$2" | cut -f1)" "$out" <<'PY'
import json, sys
label, round_, ticks, hz, mb, out = sys.argv[1:]
r = json.loads(out)
cpu = int(ticks) / int(hz) * 1e6 / r["total"]
print(label, round_, f"{cpu:.1f}", round(r["steady_rps"]), f"{r['latency']['p99_ms']:.2f}", mb)
PY
    done
}

log "fresh database: $ROUNDS rounds of $DURATION"
start "$WORK/fresh"
rounds fresh "$WORK/fresh" "$(make_bins)" | tee "$WORK/results"
stop
rm -rf "$WORK/fresh"

log "filling a database with $ROWS requests"
start "$WORK/grown"
BINS=$(make_bins)
stop
sqlite3 "$WORK/grown/binspector.db" >/dev/null <<SQL
PRAGMA synchronous = OFF;
CREATE TEMP TABLE numbered AS SELECT row_number() OVER (ORDER BY key) - 1 AS n, key FROM bins;
WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < $ROWS - 1)
INSERT INTO requests (bin_key, seq, received_at, outcome, method, path, query, headers,
    content_type, body_size, kz_event_type, kz_event_id, kz_object_type, kz_object_id,
    kz_event_key, body_head, body_rest)
SELECT b.key, i.n / 100 + 1, 1764000000000 + i.n, 'stored', 'POST', '/', '',
    '[["host","127.0.0.1"],["content-type","application/json"],["content-length","1000"]]',
    'application/json', 1000, 'TextMessageCreated', lower(hex(randomblob(16))), 'Group',
    'group-1', random(), randomblob(1000), x''
FROM i JOIN numbered b ON b.n = i.n % 100;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
log "filled: $(du -sh "$WORK/grown" | cut -f1); $ROUNDS rounds of $DURATION on it"
start "$WORK/grown"
rounds grown "$WORK/grown" "$BINS" | tee -a "$WORK/results"
stop

python3 - "$WORK/results" "$ROWS" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
mean = {label: statistics.mean(float(r[2]) for r in rows if r[0] == label)
        for label in ("fresh", "grown")}
ratio = mean["grown"] / mean["fresh"]
verdict = "PASS" if ratio <= 1.10 else "FAIL"
print(f"CPU per capture: fresh {mean['fresh']:.1f} µs, on {int(sys.argv[2]):,} requests "
      f"{mean['grown']:.1f} µs: {ratio:.2f}x (target <= 1.10): {verdict}")
PY
