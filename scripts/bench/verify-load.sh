#!/usr/bin/env bash
# The load generator of `plinth verify` against wrk, in the same run, on the same target:
# `bash scripts/bench/verify-load.sh` from anywhere in the repository.
#
# It builds release binaries, serves examples/todo with `plinth serve` on SQLite (rate limits off,
# as scripts/bench/serve.sh does), registers a user through the API and imports BENCH_TASKS of
# their tasks into the database file, then:
#   1. closed loop: `plinth verify URL --load` at BENCH_CONNECTIONS connections for
#      BENCH_DURATION, and wrk with the same connections, duration and request mix (the paths
#      verify reports it sent, replayed by a generated wrk script), alternating verify, wrk,
#      verify, wrk; prints every run and the ratio of the means verify/wrk (target: >= 0.90);
#   2. open loop at 70% and at 120% of wrk's measured capacity: the requested and the achieved
#      rate and p50/p99 from the intended send times — below capacity the latency stays low,
#      above it the queue grows and the percentiles show it, which closed-loop numbers hide.
# Everything it starts is stopped on exit. Needs python3 and curl; installs wrk (Debian) if absent.
#
# Settings (environment): BENCH_DURATION (10, seconds), BENCH_CONNECTIONS (64), BENCH_THREADS (2,
# wrk threads), BENCH_TASKS (2000), BENCH_WARMUP (2, seconds).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
ROOT=$PWD
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"

DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
TASKS=${BENCH_TASKS:-2000}
WARMUP=${BENCH_WARMUP:-2}
SCHEMA=$ROOT/examples/todo/schema.plinth

die() {
    printf 'scripts/bench/verify-load.sh: %s\n' "$*" >&2
    exit 2
}
step() { printf '\n==> %s\n' "$*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/plinth-verify-load.XXXXXX") || die "cannot create a temporary directory"
SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
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
timeout 1800 cargo build --release --quiet -p plinth-cli || die "cargo build --release failed"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
PLINTH=$TARGET_DIR/release/plinth
"$PLINTH" verify --help 2>/dev/null | grep -q -- '--load' ||
    die "this plinth has no \`plinth verify --load\` yet"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE_URL=http://127.0.0.1:$PORT
export PLINTH_JWT_SECRET
PLINTH_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export PLINTH_ACCESS_TOKEN_TTL=3600
export PLINTH_RATE_LIMIT_PER_IP=off PLINTH_RATE_LIMIT_PER_USER=off PLINTH_RATE_LIMIT_AUTH_PER_IP=off

start_plinth() {
    "$PLINTH" serve "$SCHEMA" --db "sqlite://$WORK/plinth.db" --listen "127.0.0.1:$PORT" \
        >>"$WORK/plinth.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/plinth.log" >&2; die "plinth serve exited"; }
        curl -fsS -o /dev/null "$BASE_URL/readyz" 2>/dev/null && return 0
        sleep 0.1
    done
    die "plinth serve did not get ready within 30 s"
}

json_field() { python3 -c 'import json, sys; value = json.load(sys.stdin)
for key in sys.argv[1].split("."): value = value[key]
print(value)' "$1"; }

# --- data ----------------------------------------------------------------------------------------
step "creating the database: a user through the API, $TASKS of their tasks imported"
start_plinth
PASSWORD="correct horse battery staple"
ALICE_ID=$(curl -fsS -X POST "$BASE_URL/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d "{\"email\":\"alice@example.com\",\"password\":\"$PASSWORD\",\"name\":\"Alice\"}" |
    json_field user.id) || die "registering failed (see $WORK/plinth.log)"
stop_server
python3 - "$WORK/plinth.db" "$TASKS" "$ALICE_ID" <<'PY'
import random, sqlite3, string, sys
path, count, owner = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(7)
alphabet = string.ascii_lowercase + string.digits
rows = []
for number in range(count):
    stamp = "2024-%02d-%02dT%02d:%02d:00.000Z" % (1 + number % 12, 1 + number % 28, number % 24, number % 60)
    task_id = "c" + "".join(rng.choice(alphabet) for _ in range(24))
    rows.append((task_id, "Task number %d" % number, None, number % 2 == 0, None, owner, stamp, stamp))
connection = sqlite3.connect(path)
with connection:
    connection.executemany(
        'INSERT INTO "Task" ("id", "title", "notes", "done", "dueAt", "ownerId", "categoryId", '
        '"createdAt", "updatedAt") VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)', rows)
connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
connection.execute("ANALYZE")
connection.close()
PY
start_plinth
TOKEN=$(curl -fsS -X POST "$BASE_URL/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"alice@example.com\",\"password\":\"$PASSWORD\"}" | json_field access_token) ||
    die "login failed (see $WORK/plinth.log)"

# --- the two generators --------------------------------------------------------------------------
# verify_load NAME [RATE]: `plinth verify --load`, closed loop without RATE; the JSON report goes to
# $WORK/NAME.json, and its load section to $WORK/NAME-load.json.
verify_load() {
    local name=$1 rate=${2:-} extra=()
    [ -n "$rate" ] && extra=(--rate "$rate")
    timeout 600 "$PLINTH" verify "$BASE_URL" --user "alice:$TOKEN" --load \
        --connections "$CONNECTIONS" --duration "$DURATION" "${extra[@]}" \
        --json "$WORK/$name.json" >"$WORK/$name.out" 2>&1 || true
    python3 - "$WORK/$name.json" "$WORK/$name-load.json" <<'PY' || { cat "$WORK/$name.out" >&2; die "plinth verify --load gave no load report"; }
import json, sys
report = json.load(open(sys.argv[1]))
def find(value):
    # The load report is the object with a "percentiles" list and a "mode", wherever it is.
    if isinstance(value, dict):
        if "percentiles" in value and "mode" in value:
            return value
        for child in value.values():
            found = find(child)
            if found is not None:
                return found
    if isinstance(value, list):
        for child in value:
            found = find(child)
            if found is not None:
                return found
    return None
load = find(report)
if load is None:
    sys.exit(1)
json.dump(load, open(sys.argv[2], "w"))
PY
}

load_field() { python3 -c 'import json, sys; value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."): value = value[key]
print(value)' "$WORK/$1-load.json" "$2"; }

# The wrk script replays verify's mix: every path it sent, as often as its weight says.
cat >"$WORK/mix.lua" <<'LUA'
local token = os.getenv("BENCH_TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS_FILE")) do
  if line ~= "" then paths[#paths + 1] = line end
end
local next_index = 1
function init(args)
  local address = tonumber(string.match(tostring({}), "0x(%x+)") or "0", 16) or 0
  math.randomseed(os.time() + address)
  next_index = math.random(1, #paths)
end
function request()
  local path = paths[next_index]
  next_index = next_index % #paths + 1
  return wrk.format(nil, path)
end
LUA

to_ms() {
    awk -v value="$1" 'BEGIN {
        number = value + 0; unit = value; sub(/^[0-9.]+/, "", unit)
        if (unit == "us") number /= 1000; else if (unit == "s") number *= 1000;
        else if (unit == "m") number *= 60000;
        printf "%.2f", number }'
}

run_wrk() {
    local seconds=$1 output=$2
    BENCH_TOKEN=$TOKEN BENCH_PATHS_FILE=$WORK/paths.txt timeout 300 wrk -t"$THREADS" \
        -c"$CONNECTIONS" -d"${seconds}s" --timeout 5s --latency -s "$WORK/mix.lua" "$BASE_URL" \
        >"$output" 2>&1 || { cat "$output" >&2; die "wrk failed"; }
}

step "closed loop: plinth verify --load, $CONNECTIONS connections, ${DURATION} s"
verify_load closed
python3 - "$WORK/closed-load.json" "$WORK/paths.txt" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as paths:
    for request in load["requests"]:
        if request["method"] != "GET":
            sys.exit("the mix has a %s request; wrk replays GET only" % request["method"])
        for _ in range(max(1, min(int(request["weight"]), 100))):
            paths.write(request["path"] + "\n")
PY
[ -s "$WORK/paths.txt" ] || die "plinth verify --load reported no request"
printf '  mix: %s requests, e.g. %s\n' "$(wc -l <"$WORK/paths.txt")" "$(head -n 1 "$WORK/paths.txt")" >&2

wrk_figures() {
    local output=$1
    printf '%s %s %s %s\n' "$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$output")" \
        "$(to_ms "$(awk '$1 == "50%" {print $2}' "$output")")" \
        "$(to_ms "$(awk '$1 == "99%" {print $2}' "$output")")" \
        "$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {
            for (i = 3; i <= NF; i += 2) n += $(i + 1) + 0 } END {print n + 0}' "$output")"
}
ms() { awk -v value="$1" 'BEGIN { printf "%.2f", value / 1000 }'; }
verify_figures() {
    printf '%.0f %s %s %s\n' "$(load_field "$1" throughput)" "$(ms "$(load_field "$1" latency.p50)")" \
        "$(ms "$(load_field "$1" latency.p99)")" "$(load_field "$1" errors.total)"
}

step "closed loop: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, the same mix"
run_wrk "$WARMUP" "$WORK/wrk-warmup.txt"
run_wrk "$DURATION" "$WORK/wrk-1.txt"
# Alternate the two, so neither always runs on the warmer (or busier) machine.
step "closed loop: plinth verify --load again, then wrk again"
verify_load closed-again
run_wrk "$DURATION" "$WORK/wrk-2.txt"
read -r VERIFY_RPS_1 VERIFY_P50_1 VERIFY_P99_1 VERIFY_ERRORS_1 < <(verify_figures closed)
read -r VERIFY_RPS_2 VERIFY_P50_2 VERIFY_P99_2 VERIFY_ERRORS_2 < <(verify_figures closed-again)
read -r WRK_RPS_1 WRK_P50_1 WRK_P99_1 WRK_ERRORS_1 < <(wrk_figures "$WORK/wrk-1.txt")
read -r WRK_RPS_2 WRK_P50_2 WRK_P99_2 WRK_ERRORS_2 < <(wrk_figures "$WORK/wrk-2.txt")
WRK_RPS=$(( (WRK_RPS_1 + WRK_RPS_2) / 2 ))
VERIFY_RPS=$(( (VERIFY_RPS_1 + VERIFY_RPS_2) / 2 ))
VERIFY_P99=$VERIFY_P99_2

# --- open loop -----------------------------------------------------------------------------------
RATE_LOW=$(awk -v c="$WRK_RPS" 'BEGIN { printf "%.0f", c * 0.7 }')
RATE_HIGH=$(awk -v c="$WRK_RPS" 'BEGIN { printf "%.0f", c * 1.2 }')
step "open loop at 70% of capacity: $RATE_LOW req/s"
verify_load open-low "$RATE_LOW"
step "open loop at 120% of capacity: $RATE_HIGH req/s"
verify_load open-high "$RATE_HIGH"

# --- report --------------------------------------------------------------------------------------
step "results: GET mix from the contract, $CONNECTIONS connections, ${DURATION} s, loopback, $(nproc) CPUs"
printf '%-30s %12s %10s %10s %8s\n' generator 'req/s' 'p50 ms' 'p99 ms' errors
printf '%-30s %12s %10s %10s %8s\n' "plinth verify (closed), run 1" "$VERIFY_RPS_1" "$VERIFY_P50_1" "$VERIFY_P99_1" "$VERIFY_ERRORS_1"
printf '%-30s %12s %10s %10s %8s\n' "wrk -t$THREADS (closed), run 1" "$WRK_RPS_1" "$WRK_P50_1" "$WRK_P99_1" "$WRK_ERRORS_1"
printf '%-30s %12s %10s %10s %8s\n' "plinth verify (closed), run 2" "$VERIFY_RPS_2" "$VERIFY_P50_2" "$VERIFY_P99_2" "$VERIFY_ERRORS_2"
printf '%-30s %12s %10s %10s %8s\n' "wrk -t$THREADS (closed), run 2" "$WRK_RPS_2" "$WRK_P50_2" "$WRK_P99_2" "$WRK_ERRORS_2"
RATIO=$(awk -v a="$VERIFY_RPS" -v b="$WRK_RPS" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
VERDICT=$(awk -v r="$RATIO" 'BEGIN { if (r + 0 >= 0.9) print "at least 90% of wrk: target met"; else print "MORE than 10% below wrk" }')
printf 'throughput ratio verify/wrk (means of two runs each): %s (%s)\n\n' "$RATIO" "$VERDICT"
printf '%-30s %12s %12s %10s %10s %10s %8s\n' 'open loop' 'requested' 'achieved' 'p50 ms' 'p99 ms' 'max ms' late
for name in open-low open-high; do
    label="70% of capacity"
    [ "$name" = open-high ] && label="120% of capacity"
    printf '%-30s %12s %12s %10s %10s %10s %8s\n' "$label" \
        "$(printf '%.0f' "$(load_field "$name" open_loop.requested_rate)")" \
        "$(printf '%.0f' "$(load_field "$name" open_loop.achieved_rate)")" \
        "$(ms "$(load_field "$name" latency.p50)")" "$(ms "$(load_field "$name" latency.p99)")" \
        "$(ms "$(load_field "$name" latency.max)")" "$(load_field "$name" open_loop.late)"
done
printf '(open-loop latency counts from each request'"'"'s intended send time; closed-loop p99 above: %s ms)\n' "$VERIFY_P99"
