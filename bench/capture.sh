#!/usr/bin/env bash
# binspector capture benchmark: one command, `bash bench/capture.sh`, from the repository root.
#
# Builds release binaries, starts binspector and a bare actix-web + rustls control server
# (examples/bare.rs, same TLS stack, same certificate, same worker count, stores nothing) on
# 127.0.0.1, drives both with the same HTTPS load from oha (a ~1 KB Kaizala TextMessageCreated
# POST), alternating control and binspector each round, and prints throughput, CPU per request,
# latency percentiles, the validation handshake under load, memory, stored-count correctness,
# inspect-page timings on a 100,000-request bin and startup time on a 1,000,000-request
# database, then a table with PASS/FAIL against the targets. See BENCHMARKS.md.
#
# The saturated phase also drives a third server, the floor (examples/floor.rs): the issue's
# reference design of a single writer with group commit and multi-row INSERTs into a table with
# no index, trigger or parsing. Its figures are shown for reference, not judged: they say what
# durable capture itself costs on this stack and machine.
#
# Knobs (environment): ROUNDS (3), DURATION (10s), CONNS (50), WORKERS (2), WARMUP (3s),
# FILL_ROWS (100000), STARTUP_ROWS (1000000), BIN_PORT (18443), BARE_PORT (19443),
# FLOOR_PORT (20443), FULL_PORT (17443: a second binspector with --sync full, for the realistic
# phase), REAL_BINS (100),
# STEADY_SKIP (1: seconds at the start of each fixed-rate run left out of the second p99),
# SWEEP_SECONDS (20: endless load into one bin capped at 10,000, while the sweeper trims),
# KEEP_RESULTS=1 keeps the raw oha JSON (its directory is printed).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
WORKERS=${WORKERS:-2}
WARMUP=${WARMUP:-3s}
FILL_ROWS=${FILL_ROWS:-100000}
STARTUP_ROWS=${STARTUP_ROWS:-1000000}
BIN_PORT=${BIN_PORT:-18443}
BARE_PORT=${BARE_PORT:-19443}
FLOOR_PORT=${FLOOR_PORT:-20443}
FULL_PORT=${FULL_PORT:-17443}
REAL_BINS=${REAL_BINS:-100}
KEEP_RESULTS=${KEEP_RESULTS:-0}
STEADY_SKIP=${STEADY_SKIP:-1}
SWEEP_SECONDS=${SWEEP_SECONDS:-20}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SUMMARIZE=(python3 "$ROOT/bench/summarize.py")
LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- processes we start, and cleanup ----------------------------------------------------
WORK=$(mktemp -d /tmp/binspector-bench.XXXXXX)
RES="$WORK/results"
mkdir -p "$RES/oha"
PIDS=()
BIN_PID=""
FULL_PID=""
BARE_PID=""
FLOOR_PID=""

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ "$KEEP_RESULTS" == 1 ]]; then
        rm -rf "$WORK/data" "$WORK/startup"
        log "raw results kept in $RES"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. build ----------------------------------------------------------------------------
log "building release binaries"
cargo build --release --quiet --bin binspector --example bare --example floor --example load
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BINSPECTOR="$TARGET_DIR/release/binspector"
BARE="$TARGET_DIR/release/examples/bare"
FLOOR="$TARGET_DIR/release/examples/floor"
LOAD="$TARGET_DIR/release/examples/load"

# --- 2. the load generator -----------------------------------------------------------------
if ! command -v oha >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/oha" ]]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v oha >/dev/null 2>&1; then
    log "oha not found: installing it from crates.io (takes a few minutes)"
    # oha 1.16.0 is the version this script was written and run with.
    cargo install oha --locked ||
        die "could not install oha (wrk cannot produce the fixed-rate, corrected figures)"
    PATH="$HOME/.cargo/bin:$PATH"
fi
command -v sqlite3 >/dev/null 2>&1 || {
    log "sqlite3 not found: installing Debian's sqlite3"
    apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null
}
command -v curl >/dev/null 2>&1 || die "curl is needed"
log "oha: $(oha --version)"

# --- helpers --------------------------------------------------------------------------------
BODY="$WORK/kaizala-text-message.json"
cat >"$BODY" <<'JSON'
{"subscriptionId":"3f9d2b7e-6c41-4a8e-9b1d-0e5f7a2c8d14","objectId":"a61c2e9f-8b3d-4f07-95e2-1d4c7b8e0f36@1","objectType":"Group","eventType":"TextMessageCreated","eventId":"b2e4f6a8-1c3d-4e5f-8a9b-0c1d2e3f4a5b","data":{"messageId":"9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","groupId":"a61c2e9f-8b3d-4f07-95e2-1d4c7b8e0f36@1","groupName":"District Health Volunteers - North Block","text":"Reminder: the health camp starts at 9:00 tomorrow at the community hall. Please bring your registration slips, the vaccination register and the new BP monitor. Reply in the group survey to confirm attendance before 18:00 today so we can plan the transport.","sentAt":1718012345678,"messageType":"Text","isForwarded":false,"mentions":["+919812345670","+919845612307"]},"context":"webhook-registration-7f3e","fromUser":"+919876543210","fromUserId":"c7d8e9f0-1a2b-4c3d-9e8f-7a6b5c4d3e2f","fromUserName":"Asha Verma","fromUserProfilePic":"https://kaizala.example/profile/c7d8e9f0-1a2b-4c3d-9e8f-7a6b5c4d3e2f/photo.jpg","isBotfromUser":false}
JSON
BODY_BYTES=$(wc -c <"$BODY")

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES/records.tsv"; }

cpu_ticks() { # utime+stime of a process, in clock ticks
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
thread_ticks() { # PID: "CLASS TICKS" for each of its threads, named by what it runs
    # sqlx names every SQLite worker thread alike; binspector opens the writer's connection
    # first and the checkpointer's second, so their thread ids come in that order.
    local pid=$1 t sqlx=0
    for t in $(ls "/proc/$pid/task" | sort -n); do
        local comm class
        comm=$(cat "/proc/$pid/task/$t/comm" 2>/dev/null) || continue
        case $comm in
            actix-rt*) class=workers ;;
            sqlx-sqlite-wor*)
                sqlx=$((sqlx + 1))
                case $sqlx in 1) class=sqlite_writer ;; 2) class=checkpointer ;; *) class=sqlite_readers ;; esac
                ;;
            *) if [[ $t == "$pid" ]]; then class=main; else class=other; fi ;;
        esac
        echo "$class $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/task/$t/stat" 2>/dev/null || echo 0)"
    done | awk '{ sum[$1] += $2 } END { for (c in sum) print c, sum[c] }'
}
status_kib() { # a field of /proc/PID/status, in KiB
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

wait_https() { # wait until https://127.0.0.1:PORT/PATH answers 200 (max ~30 s)
    local port=$1 path=$2 pid=$3 i
    for ((i = 0; i < 3000; i++)); do
        kill -0 "$pid" 2>/dev/null || die "server (pid $pid) exited early"
        if [[ $(curl -ks -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port$path" 2>/dev/null) == 200 ]]; then
            return 0
        fi
        sleep 0.01
    done
    die "https://127.0.0.1:$port$path did not answer 200"
}

start_binspector() { # DATA_DIR [extra flags...]; sets BIN_PID
    local data=$1
    shift
    RUST_LOG=warn "$BINSPECTOR" --listen "127.0.0.1:$BIN_PORT" --data-dir "$data" \
        --static-dir "$ROOT/static" --workers "$WORKERS" "$@" \
        >>"$WORK/binspector.log" 2>&1 &
    BIN_PID=$!
    PIDS+=("$BIN_PID")
}

stop_pid() { # graceful stop of one process we started
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

api() { curl -ksS --fail "$@"; }

create_bin() {
    api -X POST "https://127.0.0.1:$BIN_PORT/api/v1/bins" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

request_count() {
    api "https://127.0.0.1:$BIN_PORT/api/v1/bins/$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["request_count"])'
}

port_of() { case $1 in bin) echo "$BIN_PORT" ;; binfull) echo "$FULL_PORT" ;; floor) echo "$FLOOR_PORT" ;; *) echo "$BARE_PORT" ;; esac; }
pid_of() { case $1 in bin) echo "$BIN_PID" ;; binfull) echo "$FULL_PID" ;; floor) echo "$FLOOR_PID" ;; *) echo "$BARE_PID" ;; esac; }

oha_post() { # OUT URL [oha flags...]: capture load, POST of the Kaizala body over HTTPS
    local out=$1 url=$2
    shift 2
    oha --no-tui --output-format json --insecure --wait-ongoing-requests-after-deadline \
        -m POST -T application/json -D "$BODY" "$@" "$url" >"$out" 2> >(grep -v '^Storing results' >&2)
}

oha_get() { # OUT URL [oha flags...]
    local out=$1 url=$2
    shift 2
    oha --no-tui --output-format json --insecure --wait-ongoing-requests-after-deadline \
        "$@" "$url" >"$out" 2> >(grep -v '^Storing results' >&2)
}

# Fills DB with NBINS new bins of ROWS_PER_BIN Kaizala requests each, in one transaction,
# exactly as the writer would have stored them (ids grow, each bin numbers its requests from 1;
# the schema's triggers keep the per-bin counts and last numbers). Prints the bin ids.
fill_db() {
    local db=$1 nbins=$2 per_bin=$3 now_ms base bins
    now_ms=$(date +%s%3N)
    base=$(sqlite3 "$db" 'SELECT COALESCE(MAX(id), 0) FROM requests;')
    bins=$(python3 -c "import uuid; [print(uuid.uuid4()) for _ in range($nbins)]")
    local template
    template=$(sed -e 's/"eventType":"TextMessageCreated"/"eventType":"@TYPE@"/' \
        -e 's/"eventId":"[^"]*"/"eventId":"@EID@"/' "$BODY" | tr -d '\n' | sed "s/'/''/g")
    {
        echo "PRAGMA foreign_keys = OFF;"
        echo "BEGIN;"
        echo "CREATE TEMP TABLE fill_bins (k INTEGER PRIMARY KEY, bin_key INTEGER NOT NULL);"
        local k=0 b
        for b in $bins; do
            echo "INSERT INTO bins (id, created_at, request_count) VALUES ('$b', $now_ms - 86400000, 0);"
            echo "INSERT INTO fill_bins SELECT $k, key FROM bins WHERE id = '$b';"
            k=$((k + 1))
        done
        cat <<SQL
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $nbins * $per_bin - 1),
rows AS (
    SELECT i,
        (SELECT bin_key FROM fill_bins WHERE k = i / $per_bin) AS bin_key,
        CASE i % 8
            WHEN 0 THEN 'TextMessageCreated' WHEN 1 THEN 'SurveyResponse'
            WHEN 2 THEN 'TextMessageCreated' WHEN 3 THEN 'JobResponse'
            WHEN 4 THEN 'ActionResponse'     WHEN 5 THEN 'AttachmentCreated'
            WHEN 6 THEN 'TextMessageCreated' ELSE 'MemberAdded' END AS event_type,
        printf('evt-%010d', $base + i + 1) AS event_id
    FROM n
)
INSERT INTO requests (id, bin_key, seq, received_at, outcome, method, path, query, headers,
    content_type, body_size, remote_addr, kz_event_type, kz_event_id, kz_object_type,
    kz_object_id, body_head, body_rest)
SELECT $base + i + 1, bin_key, i % $per_bin + 1, $now_ms - 3600000 + i / 10, 'stored', 'POST',
    '/', '',
    '[["host","127.0.0.1:$BIN_PORT"],["user-agent","Kaizala-Webhook/1.0"],["accept","*/*"],["content-type","application/json"],["content-length","$BODY_BYTES"]]',
    'application/json', length(b), '127.0.0.1', event_type, event_id, 'Group',
    'a61c2e9f-8b3d-4f07-95e2-1d4c7b8e0f36@1', b, x''
FROM (SELECT i, bin_key, event_type, event_id,
        CAST(replace(replace('$template', '@TYPE@', event_type), '@EID@', event_id) AS BLOB) AS b
      FROM rows);
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
    } | sqlite3 "$db" >/dev/null
    echo "$bins"
}

# --- 3. start the servers -------------------------------------------------------------------
DATA="$WORK/data"
start_binspector "$DATA" --max-requests-per-bin 0 --retention 0 --create-limit off
wait_https "$BIN_PORT" /healthz "$BIN_PID"
# The same binspector with --sync full (each batch's WAL flushed before its answers), for the
# realistic phase: the price of surviving a power cut.
RUST_LOG=warn "$BINSPECTOR" --listen "127.0.0.1:$FULL_PORT" --data-dir "$WORK/data-full" \
    --static-dir "$ROOT/static" --workers "$WORKERS" --max-requests-per-bin 0 --retention 0 \
    --create-limit off --sync full >>"$WORK/binspector-full.log" 2>&1 &
FULL_PID=$!
PIDS+=("$FULL_PID")
wait_https "$FULL_PORT" /healthz "$FULL_PID"
"$BARE" --listen "127.0.0.1:$BARE_PORT" --cert "$DATA/tls/cert.pem" --key "$DATA/tls/key.pem" \
    --workers "$WORKERS" >>"$WORK/bare.log" 2>&1 &
BARE_PID=$!
PIDS+=("$BARE_PID")
wait_https "$BARE_PORT" / "$BARE_PID"
"$FLOOR" --listen "127.0.0.1:$FLOOR_PORT" --cert "$DATA/tls/cert.pem" --key "$DATA/tls/key.pem" \
    --workers "$WORKERS" --database "$WORK/floor.db" >>"$WORK/floor.log" 2>&1 &
FLOOR_PID=$!
PIDS+=("$FLOOR_PID")
wait_https "$FLOOR_PORT" / "$FLOOR_PID"
# The readiness probe above was stored too; the correctness check leaves it out.
record stored_floor_probe floor 0 "$(sqlite3 "$WORK/floor.db" 'SELECT count(*) FROM requests;')"
sleep 1
record rss_idle bin 0 "$(status_kib "$BIN_PID" VmRSS)"
record rss_idle bare 0 "$(status_kib "$BARE_PID" VmRSS)"
log "binspector pid $BIN_PID on :$BIN_PORT, control pid $BARE_PID on :$BARE_PORT," \
    "floor pid $FLOOR_PID on :$FLOOR_PORT, body $BODY_BYTES bytes"

PHASES=(sat q1k q10k val)
declare -A BIN_OF
for phase in warm "${PHASES[@]}"; do
    BIN_OF[$phase]=$(create_bin)
done

# The realistic phase's bins: REAL_BINS on each binspector; the floor takes any path.
REAL_BIN_LIST=$(for ((i = 0; i < REAL_BINS; i++)); do create_bin; done | paste -sd,)
REAL_FULL_LIST=$(for ((i = 0; i < REAL_BINS; i++)); do
    api -X POST "https://127.0.0.1:$FULL_PORT/api/v1/bins" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
done | paste -sd,)
mkdir -p "$RES/real"

run_real() { # SERVER ROUND: the realistic saturated load (examples/load.rs)
    local server=$1 round=$2 pid t0 t1 bins out
    pid=$(pid_of "$server")
    out="$RES/real/real-$server-r$round.json"
    case $server in
        bin) bins=(--bins "$REAL_BIN_LIST") ;;
        binfull) bins=(--bins "$REAL_FULL_LIST") ;;
        *) bins=(--random-bins "$REAL_BINS") ;;
    esac
    t0=$(cpu_ticks "$pid")
    "$LOAD" --base "https://127.0.0.1:$(port_of "$server")" "${bins[@]}" --connections "$CONNS" \
        --duration "$DURATION" --skip "${STEADY_SKIP}s" >"$out"
    t1=$(cpu_ticks "$pid")
    record real_cpu_ticks "$server" "$round" "$((t1 - t0))"
    printf '  round %s  real  %-10s %s\n' "$round" "$server" \
        "$("${SUMMARIZE[@]}" real_line "$out" "$CLK_TCK" "$((t1 - t0))")" >&2
}

url_of() { # SERVER PHASE [query]
    echo "https://127.0.0.1:$(port_of "$1")/${BIN_OF[$2]}${3:-}"
}

# --- 4. load, alternating control and binspector ----------------------------------------------
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
log "load average at start $LOAD_START, before the load phases $LOAD_BEFORE"
log "warm-up: $WARMUP each"
for server in bare floor bin; do
    oha_post "$RES/warmup-$server.json" "$(url_of "$server" warm)" -c "$CONNS" -z "$WARMUP"
done
FULL_WARM=$(api -X POST "https://127.0.0.1:$FULL_PORT/api/v1/bins" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$LOAD" --base "https://127.0.0.1:$FULL_PORT" --bins "$FULL_WARM" --connections "$CONNS" \
    --duration "$WARMUP" >/dev/null

# Fixed-rate runs: latency is measured from each request's scheduled start (oha
# --latency-correction), so a stall is charged for the queue it causes. oha also stores every
# request (--db-url) so a second p99 can leave out the first STEADY_SKIP seconds, while oha is
# still opening its TLS connections (~35 ms client-side per connection here). The table's
# verdict uses oha's own whole-run p99; the steady one is shown beside it.
FIXED=(--latency-correction)
steady() { # OUT DB
    "${SUMMARIZE[@]}" steady "$2" "$1" "$STEADY_SKIP"
    rm -f "$2"
}

run_phase() { # PHASE SERVER ROUND
    local phase=$1 server=$2 round=$3 out url t0 t1 db
    out="$RES/oha/$phase-$server-r$round.json"
    db="$WORK/$phase-$server-r$round.db"
    url=$(url_of "$server" "$phase")
    case $phase in
        sat)
            local pid before
            pid=$(pid_of "$server")
            t0=$(cpu_ticks "$pid")
            before=$(thread_ticks "$pid")
            oha_post "$out" "$url" -c "$CONNS" -z "$DURATION"
            t1=$(cpu_ticks "$pid")
            record cpu_ticks "$server" "$round" "$((t1 - t0))"
            local class ticks
            while read -r class ticks; do
                local was
                was=$(awk -v c="$class" '$1 == c { print $2 }' <<<"$before")
                record "cpu_ticks_$class" "$server" "$round" "$((ticks - ${was:-0}))"
            done < <(thread_ticks "$pid")
            ;;
        q1k)
            oha_post "$out" "$url" -c 10 -q 1000 "${FIXED[@]}" --db-url "$db" -z "$DURATION"
            steady "$out" "$db"
            ;;
        q10k)
            oha_post "$out" "$url" -c "$CONNS" -q 10000 "${FIXED[@]}" --db-url "$db" -z "$DURATION"
            steady "$out" "$db"
            ;;
        val)
            local tok="$RES/oha/valtok-$server-r$round.json"
            oha_post "$out" "$url" -c "$CONNS" -z "$DURATION" &
            local load=$!
            PIDS+=("$load")
            oha_get "$tok" "$url?validationToken=abc" -c 5 -q 100 "${FIXED[@]}" --db-url "$db" \
                -z "$DURATION"
            wait "$load"
            steady "$tok" "$db"
            ;;
    esac
    printf '  round %s  %-5s %-10s %s\n' "$round" "$phase" "$server" \
        "$("${SUMMARIZE[@]}" line "$out" "$CLK_TCK" "$RES/records.tsv" "$server" "$round")" >&2
}

for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order=(bare floor bin); else order=(bin floor bare); fi
    log "round $round of $ROUNDS (order: ${order[*]})"
    # The main saturated phase: realistic traffic, binspector (both --sync modes) and the floor.
    if ((round % 2)); then real_order=(floor bin binfull); else real_order=(binfull bin floor); fi
    for server in "${real_order[@]}"; do
        run_real "$server" "$round"
    done
    for phase in "${PHASES[@]}"; do
        for server in "${order[@]}"; do
            # The floor takes only the saturated load: it has no bins, handshakes or pages.
            [[ $server == floor && $phase != sat ]] && continue
            run_phase "$phase" "$server" "$round"
        done
    done
done

record rss_peak bin 0 "$(status_kib "$BIN_PID" VmHWM)"
record wal_bytes bin 0 "$(stat -c %s "$DATA/binspector.db-wal" 2>/dev/null || echo 0)"
record rss_peak bare 0 "$(status_kib "$BARE_PID" VmHWM)"
for phase in "${PHASES[@]}"; do
    record stored "$phase" 0 "$(request_count "${BIN_OF[$phase]}")"
done
real_stored() { # PORT LIST: requests stored in the realistic phase's bins
    local port=$1 total=0 id
    for id in ${2//,/ }; do
        total=$((total + $(api "https://127.0.0.1:$port/api/v1/bins/$id" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["request_count"])')))
    done
    echo "$total"
}
record stored_real bin 0 "$(real_stored "$BIN_PORT" "$REAL_BIN_LIST")"
record stored_real binfull 0 "$(real_stored "$FULL_PORT" "$REAL_FULL_LIST")"
stop_pid "$FULL_PID"
stop_pid "$BARE_PID"
stop_pid "$FLOOR_PID"
record stored_floor floor 0 "$(sqlite3 "$WORK/floor.db" 'SELECT count(*) FROM requests;')"
rm -f "$WORK"/floor.db*

# --- inspect pages on a 100,000-request bin ------------------------------------------------------
log "stopping binspector to fill a bin with $FILL_ROWS requests"
stop_pid "$BIN_PID"
INSPECT_BIN=$(fill_db "$DATA/binspector.db" 1 "$FILL_ROWS")
MID=$(sqlite3 "$DATA/binspector.db" \
    "SELECT seq FROM requests WHERE bin_key = (SELECT key FROM bins WHERE id = '$INSPECT_BIN') ORDER BY seq LIMIT 1 OFFSET $((FILL_ROWS / 2));")
start_binspector "$DATA" --max-requests-per-bin 0 --retention 0
wait_https "$BIN_PORT" /healthz "$BIN_PID"
[[ $(request_count "$INSPECT_BIN") == "$FILL_ROWS" ]] || die "the filled bin does not hold $FILL_ROWS requests"
declare -A PAGES=(
    [inspect_first]="/inspect/$INSPECT_BIN"
    [inspect_before]="/inspect/$INSPECT_BIN?before=$MID"
    [inspect_event]="/inspect/$INSPECT_BIN?event=SurveyResponse"
    [api_list]="/api/v1/bins/$INSPECT_BIN/requests"
    [api_list_before]="/api/v1/bins/$INSPECT_BIN/requests?before=$MID"
)
log "timing pages (oha -n 100 -c 1, $ROUNDS rounds)"
for name in inspect_first inspect_before inspect_event api_list api_list_before; do
    oha_get /dev/null "https://127.0.0.1:$BIN_PORT${PAGES[$name]}" -n 20 -c 1
    for ((round = 1; round <= ROUNDS; round++)); do
        oha_get "$RES/oha/page-$name-r$round.json" "https://127.0.0.1:$BIN_PORT${PAGES[$name]}" -n 100 -c 1
    done
    printf '  %-16s %s\n' "$name" "$("${SUMMARIZE[@]}" line "$RES/oha/page-$name-r1.json")" >&2
done
stop_pid "$BIN_PID"

# --- startup on a 1,000,000-request database -------------------------------------------------------
STARTUP="$WORK/startup"
log "building a database with $STARTUP_ROWS requests (100 bins at the default cap of $((STARTUP_ROWS / 100)))"
start_binspector "$STARTUP"
wait_https "$BIN_PORT" /healthz "$BIN_PID"
stop_pid "$BIN_PID"
fill_db "$STARTUP/binspector.db" 100 $((STARTUP_ROWS / 100)) >/dev/null
log "database: $(du -sh "$STARTUP/binspector.db" | cut -f1); timing $ROUNDS starts to /healthz 200"
for ((round = 1; round <= ROUNDS; round++)); do
    t0=$(date +%s%N)
    start_binspector "$STARTUP"
    while :; do
        kill -0 "$BIN_PID" 2>/dev/null || die "binspector exited during startup"
        if [[ $(curl -ks -o /dev/null -w '%{http_code}' "https://127.0.0.1:$BIN_PORT/healthz" 2>/dev/null) == 200 ]]; then
            break
        fi
        sleep 0.01
        (($(date +%s%N) - t0 < 30000000000)) || die "no /healthz 200 within 30 s"
    done
    t1=$(date +%s%N)
    record startup_ms bin "$round" "$(((t1 - t0) / 1000000))"
    printf '  start %s: %s ms\n' "$round" "$(((t1 - t0) / 1000000))" >&2
    stop_pid "$BIN_PID"
done

# --- sweeping under endless load into one capped bin ----------------------------------------------
SWEEP="$WORK/sweep"
log "endless load into one bin at the default cap of 10,000 for $SWEEP_SECONDS s: p99 while the sweeper trims, database size"
start_binspector "$SWEEP" # the defaults: --max-requests-per-bin 10000, --retention 30d
wait_https "$BIN_PORT" /healthz "$BIN_PID"
SWEEP_BIN=$(create_bin)
(
    for ((s = 1; s <= SWEEP_SECONDS; s++)); do
        sleep 1
        record sweep_db_bytes bin "$s" "$(stat -c %s "$SWEEP/binspector.db")"
    done
) &
SAMPLER=$!
PIDS+=("$SAMPLER")
oha_post "$RES/oha/sweep-bin-r1.json" "https://127.0.0.1:$BIN_PORT/$SWEEP_BIN" -c "$CONNS" -z "${SWEEP_SECONDS}s"
wait "$SAMPLER"
sleep 2 # one more sweep after the load
record sweep_kept bin 0 "$(request_count "$SWEEP_BIN")"
printf '  sweep: %s; kept %s requests\n' "$("${SUMMARIZE[@]}" line "$RES/oha/sweep-bin-r1.json")" \
    "$(request_count "$SWEEP_BIN")" >&2
stop_pid "$BIN_PID"

# --- 5. the table ------------------------------------------------------------------------------
echo
echo "binspector capture benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), kernel $(uname -r)"
echo "load average (1/5/15 min) at script start: $LOAD_START, before the load phases: $LOAD_BEFORE; rounds: $ROUNDS x $DURATION, c=$CONNS, workers=$WORKERS, body $BODY_BYTES B, $(oha --version)"
FILL_ROWS=$FILL_ROWS STARTUP_ROWS=$STARTUP_ROWS STEADY_SKIP=$STEADY_SKIP \
    "${SUMMARIZE[@]}" table "$RES" "$CLK_TCK" "$ROUNDS"
