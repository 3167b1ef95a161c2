#!/usr/bin/env bash
# Throughput of `plinth serve` against a hand-written axum server doing the same work
# (benches/baseline-todo): `bash scripts/bench/serve.sh` from anywhere in the repository.
#
# It builds both in release mode, lets `plinth serve` create a SQLite database for examples/todo,
# registers two users through the API, imports BENCH_TASKS tasks straight into the database file
# (half each, half of them done), then runs wrk on loopback against Plinth and then against the
# baseline on a copy of the same file: GET /api/v1/tasks/{id} (spread over the caller's tasks) and
# the filtered page GET /api/v1/tasks?done=false&limit=50, at each connection count, each run
# BENCH_DURATION long. It prints req/s, p50 and p99 for both and the ratio plinth/baseline.
# Rate limits are switched off for the run: they would measure the limiter, not the server.
# Everything it starts is stopped on exit. Needs python3 and curl; installs wrk (Debian) if absent.
#
# Settings (environment): BENCH_DURATION (10s), BENCH_CONNECTIONS ("64 256"), BENCH_THREADS
# (2, wrk threads), BENCH_TASKS (10000), BENCH_WARMUP (3s, once per server and endpoint).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
ROOT=$PWD
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"

DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-"64 256"}
THREADS=${BENCH_THREADS:-2}
TASKS=${BENCH_TASKS:-10000}
WARMUP=${BENCH_WARMUP:-3s}
SCHEMA=$ROOT/examples/todo/schema.plinth
LUA=$ROOT/scripts/bench/auth.lua

die() {
    printf 'scripts/bench/serve.sh: %s\n' "$*" >&2
    exit 2
}
step() { printf '\n==> %s\n' "$*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/plinth-bench.XXXXXX") || die "cannot create a temporary directory"
SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        # Give it 10 s to drain, then insist.
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ---------------------------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 is required"
command -v curl >/dev/null || die "curl is required"
if ! command -v wrk >/dev/null; then
    [ "$(id -u)" -eq 0 ] || die "wrk is missing; install it (apt-get install wrk) or run as root"
    step "installing wrk"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq || die "apt-get update failed"
    timeout 600 apt-get install -y -qq --no-install-recommends wrk >/dev/null || die "installing wrk failed"
fi

step "building release binaries"
timeout 1800 cargo build --release --quiet -p plinth-cli -p plinth-bench-baseline ||
    die "cargo build --release failed"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
PLINTH=$TARGET_DIR/release/plinth
BASELINE=$TARGET_DIR/release/plinth-bench-baseline

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
BASE_URL=http://127.0.0.1:$PORT

# Same secret for both servers: the baseline verifies Plinth's tokens.
export PLINTH_JWT_SECRET
PLINTH_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export PLINTH_ACCESS_TOKEN_TTL=3600
export PLINTH_RATE_LIMIT_PER_IP=off PLINTH_RATE_LIMIT_PER_USER=off PLINTH_RATE_LIMIT_AUTH_PER_IP=off
# Logging stays at Plinth's default level (request logs on), as in production; PLINTH_LOG overrides.

wait_ready() {
    local url=$1 log=$2
    for _ in $(seq 1 300); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$log" >&2
            die "the server exited before it was ready"
        fi
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    cat "$log" >&2
    die "no answer from $url within 30 s"
}

start_plinth() {
    "$PLINTH" serve "$SCHEMA" --db "sqlite://$WORK/plinth.db" --listen "127.0.0.1:$PORT" \
        >>"$WORK/plinth.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "$BASE_URL/readyz" "$WORK/plinth.log"
}

start_baseline() {
    BASELINE_DB=$WORK/baseline.db BASELINE_LISTEN=127.0.0.1:$PORT "$BASELINE" \
        >>"$WORK/baseline.log" 2>&1 &
    SERVER_PID=$!
    # No health route in the baseline: any HTTP answer (401 without a token) means it is up.
    for _ in $(seq 1 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/baseline.log" >&2; die "the baseline exited"; }
        curl -sS -o /dev/null "$BASE_URL/api/v1/tasks" 2>/dev/null && return 0
        sleep 0.1
    done
    die "the baseline did not answer within 30 s"
}

json_field() { python3 -c 'import json, sys; value = json.load(sys.stdin)
for key in sys.argv[1].split("."): value = value[key]
print(value)' "$1"; }

register() {
    local email=$1 name=$2
    curl -fsS -X POST "$BASE_URL/api/v1/auth/register" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"correct horse battery staple\",\"name\":\"$name\"}" ||
        die "registering $email failed (see $WORK/plinth.log)"
}

# --- data ----------------------------------------------------------------------------------------
step "creating the database: 2 users through the API, $TASKS tasks imported"
start_plinth
ALICE_ID=$(register alice@example.com Alice | json_field user.id)
BOB_ID=$(register bob@example.com Bob | json_field user.id)
stop_server

python3 - "$WORK/plinth.db" "$TASKS" "$ALICE_ID" "$BOB_ID" "$WORK/alice-ids.txt" <<'PY'
import random, sqlite3, string, sys
path, count, alice, bob, ids_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rng = random.Random(7)
alphabet = string.ascii_lowercase + string.digits
def cuid_like():
    return "c" + "".join(rng.choice(alphabet) for _ in range(24))
rows, alice_ids = [], []
for number in range(count):
    owner = alice if number % 2 == 0 else bob
    task_id = cuid_like()
    if owner == alice:
        alice_ids.append(task_id)
    stamp = "2024-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        1 + number % 12, 1 + number % 28, number % 24, number % 60, (number * 7) % 60, number % 1000)
    due = None if number % 3 == 0 else "2025-%02d-%02dT09:00:00.000Z" % (1 + number % 12, 1 + number % 28)
    notes = None if number % 4 else "Remember the details of task %d." % number
    rows.append((task_id, "Task number %d" % number, notes, rng.random() < 0.5, due, owner, stamp, stamp))
connection = sqlite3.connect(path)
with connection:
    connection.executemany(
        'INSERT INTO "Task" ("id", "title", "notes", "done", "dueAt", "ownerId", "categoryId", '
        '"createdAt", "updatedAt") VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)', rows)
connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
connection.execute("ANALYZE")
connection.close()
with open(ids_path, "w") as ids_file:
    ids_file.write("\n".join(alice_ids) + "\n")
PY
cp "$WORK/plinth.db" "$WORK/baseline.db"

start_plinth
TOKEN=$(curl -fsS -X POST "$BASE_URL/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"alice@example.com","password":"correct horse battery staple"}' |
    json_field access_token) || die "login failed (see $WORK/plinth.log)"
export BENCH_TOKEN=$TOKEN
FIRST_ID=$(head -n 1 "$WORK/alice-ids.txt")
LIST_PATH="/api/v1/tasks?done=false&limit=50"

# The answers both servers give, to compare (the baseline must do the same work, not less).
fetch() { curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_URL$1"; }
fetch "/api/v1/tasks/$FIRST_ID" >"$WORK/plinth-one.json" || die "GET by id failed on plinth"
fetch "$LIST_PATH" >"$WORK/plinth-list.json" || die "the list failed on plinth"

declare -A RPS P50 P99 ERRORS

# to_ms VALUE: wrk's latency (`812.00us`, `1.23ms`, `1.01s`, `1.5m`) in milliseconds.
to_ms() {
    awk -v value="$1" 'BEGIN {
        number = value + 0; unit = value; sub(/^[0-9.]+/, "", unit)
        if (unit == "us") number /= 1000; else if (unit == "s") number *= 1000;
        else if (unit == "m") number *= 60000;
        printf "%.2f", number }'
}

# measure SERVER ENDPOINT CONNECTIONS
measure() {
    local server=$1 endpoint=$2 connections=$3 url ids_file="" output
    case $endpoint in
        by-id) url="$BASE_URL/api/v1/tasks/" ids_file=$WORK/alice-ids.txt ;;
        list) url="$BASE_URL$LIST_PATH" ;;
    esac
    output=$WORK/wrk-$server-$endpoint-$connections.txt
    BENCH_IDS_FILE=$ids_file timeout 300 wrk -t"$THREADS" -c"$connections" -d"$DURATION" \
        --timeout 5s --latency -s "$LUA" "$url" >"$output" 2>&1 || {
        cat "$output" >&2
        die "wrk failed against $server"
    }
    local key=$server/$endpoint/$connections
    RPS[$key]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$output")
    P50[$key]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$output")")
    P99[$key]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$output")")
    ERRORS[$key]=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {
        for (i = 3; i <= NF; i += 2) n += $(i + 1) + 0 } END {print n + 0}' "$output")
    printf '%-9s %-6s c=%-4s %9s req/s  p50 %7s ms  p99 %7s ms  errors %s\n' "$server" \
        "$endpoint" "$connections" "${RPS[$key]}" "${P50[$key]}" "${P99[$key]}" "${ERRORS[$key]}" >&2
}

run_all() {
    local server=$1
    for endpoint in by-id list; do
        # Warm the page cache, the statement caches and the allocator before measuring.
        local warm_url="$BASE_URL$LIST_PATH"
        [ "$endpoint" = by-id ] && warm_url="$BASE_URL/api/v1/tasks/"
        BENCH_IDS_FILE=$([ "$endpoint" = by-id ] && echo "$WORK/alice-ids.txt") timeout 120 \
            wrk -t"$THREADS" -c64 -d"$WARMUP" -s "$LUA" "$warm_url" >/dev/null 2>&1 || true
        for connections in $CONNECTIONS; do
            measure "$server" "$endpoint" "$connections"
        done
    done
}

step "plinth serve (SQLite, auth and policies on, rate limits off)"
run_all plinth
stop_server

step "baseline (hand-written axum + rusqlite, same database file)"
start_baseline
fetch "/api/v1/tasks/$FIRST_ID" >"$WORK/baseline-one.json" || die "GET by id failed on the baseline"
fetch "$LIST_PATH" >"$WORK/baseline-list.json" || die "the list failed on the baseline"
python3 - "$WORK" <<'PY' >&2
import json, sys
work = sys.argv[1]
for name in ("one", "list"):
    plinth = json.load(open(f"{work}/plinth-{name}.json"))
    baseline = json.load(open(f"{work}/baseline-{name}.json"))
    if name == "list":
        # Cursors are opaque and each server encodes its own; the rows must be the same.
        plinth.pop("next_cursor", None), baseline.pop("next_cursor", None)
    if plinth != baseline:
        print(f"warning: the {name} answers differ:\n  plinth:   {json.dumps(plinth)[:400]}\n"
              f"  baseline: {json.dumps(baseline)[:400]}")
    else:
        print(f"same answer from both servers for {name}")
PY
run_all baseline
stop_server

# --- report --------------------------------------------------------------------------------------
step "results: $TASKS tasks, wrk -t$THREADS -d$DURATION on loopback, $(nproc) CPUs"
printf '%-38s %5s | %10s %8s %8s | %10s %8s %8s | %6s\n' endpoint conns \
    'plinth r/s' 'p50 ms' 'p99 ms' 'base r/s' 'p50 ms' 'p99 ms' ratio
for endpoint in by-id list; do
    label="GET /api/v1/tasks/{id}"
    [ "$endpoint" = list ] && label="GET $LIST_PATH"
    for connections in $CONNECTIONS; do
        plinth=plinth/$endpoint/$connections baseline=baseline/$endpoint/$connections
        ratio=$(awk -v a="${RPS[$plinth]:-0}" -v b="${RPS[$baseline]:-0}" \
            'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        printf '%-38s %5s | %10s %8s %8s | %10s %8s %8s | %6s\n' "$label" "$connections" \
            "${RPS[$plinth]}" "${P50[$plinth]}" "${P99[$plinth]}" \
            "${RPS[$baseline]}" "${P50[$baseline]}" "${P99[$baseline]}" "$ratio"
        if [ "${ERRORS[$plinth]}" != 0 ] || [ "${ERRORS[$baseline]}" != 0 ]; then
            echo "  (non-2xx or socket errors: plinth ${ERRORS[$plinth]}, baseline ${ERRORS[$baseline]})"
        fi
    done
done
