#!/usr/bin/env bash
# Throughput of Plinth on PostgreSQL and Redis, 1 node against 3 nodes behind nginx running
# deploy/nginx.conf: `bash scripts/bench/cluster.sh` from anywhere in the repository.
#
# It builds `plinth` in release mode, creates a fresh database on PostgreSQL (the server in
# PLINTH_BENCH_POSTGRES_URL, else a throwaway one started here the way scripts/test does),
# starts Redis, lets one node create the schema, registers two users through the API and
# imports BENCH_TASKS tasks with psql (half each, half of them done). Then, with wrk on loopback,
# it measures GET /api/v1/tasks/{id} (spread over the caller's tasks) and the filtered page
# GET /api/v1/tasks?done=false&limit=50, with auth, against: one node directly, one node behind
# nginx, and three nodes behind nginx. For each it prints req/s, p50 and p99, and per request
# the PostgreSQL round trips and Redis calls the nodes made (the `plinth_db_queries_total` and
# `plinth_redis_calls_total` counters of every node's /metrics, read before and after the run,
# over the requests wrk completed), then the 3-node / 1-node ratio.
#
# Rate limits stay on (so every request makes its Redis call, as in production) but are set so
# high that they never refuse. Every process it starts is stopped on exit. Needs python3 and
# curl; installs wrk, redis-server and nginx (Debian) if absent and run as root.
#
# Settings (environment): BENCH_DURATION (10s), BENCH_CONNECTIONS (64), BENCH_THREADS (2, wrk
# threads), BENCH_TASKS (10000), BENCH_WARMUP (3s, once per setup and endpoint),
# BENCH_POOL_SIZE (8, PostgreSQL connections per node), PLINTH_BENCH_POSTGRES_URL.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
ROOT=$PWD
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"

DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
TASKS=${BENCH_TASKS:-10000}
WARMUP=${BENCH_WARMUP:-3s}
POOL_SIZE=${BENCH_POOL_SIZE:-8}
NODES=3
SCHEMA=$ROOT/examples/todo/schema.plinth
LUA=$ROOT/scripts/bench/auth.lua
NGINX_TEMPLATE=$ROOT/deploy/nginx.conf
PG_VERSION=15
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin

die() {
    printf 'scripts/bench/cluster.sh: %s\n' "$*" >&2
    exit 2
}
step() { printf '\n==> %s\n' "$*" >&2; }
as_root() { [ "$(id -u)" -eq 0 ]; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/plinth-bench-cluster.XXXXXX") || die "cannot create a temporary directory"
chmod 755 "$WORK"
declare -A NODE_PID=()
REDIS_PID=""
NGINX_PID=""
PG_DATA=$WORK/postgres-data
PG_STARTED=0
ADMIN_URL=""
DB_NAME=plinth_bench_$$

# stop_pid PID: SIGTERM, 10 s to finish, then SIGKILL.
stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

as_postgres() {
    if as_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cleanup() {
    stop_pid "$NGINX_PID"
    local number
    for number in "${!NODE_PID[@]}"; do
        stop_pid "${NODE_PID[$number]}"
    done
    stop_pid "$REDIS_PID"
    if [ -n "$ADMIN_URL" ] && [ -n "${PSQL:-}" ]; then
        "$PSQL" -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    if [ "$PG_STARTED" = 1 ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ---------------------------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 is required"
command -v curl >/dev/null || die "curl is required"
declare -a MISSING=()
command -v wrk >/dev/null || MISSING+=(wrk)
REDIS_SERVER=$(command -v redis-server || echo /usr/bin/redis-server)
[ -x "$REDIS_SERVER" ] || MISSING+=(redis-server)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || MISSING+=(nginx-light)
if [ "${#MISSING[@]}" -gt 0 ]; then
    as_root || die "${MISSING[*]} missing; install them (apt-get install ${MISSING[*]}) or run as root"
    step "installing ${MISSING[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq || die "apt-get update failed"
    # Do not let the packages start their own services: this script starts what it needs.
    POLICY_RC=/usr/sbin/policy-rc.d
    POLICY_RC_OURS=0
    if [ ! -e "$POLICY_RC" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod 755 "$POLICY_RC"
        POLICY_RC_OURS=1
    fi
    INSTALLED=0
    timeout 600 apt-get install -y -qq --no-install-recommends "${MISSING[@]}" >/dev/null || INSTALLED=$?
    [ "$POLICY_RC_OURS" = 1 ] && rm -f "$POLICY_RC"
    [ "$INSTALLED" = 0 ] || die "installing ${MISSING[*]} failed"
    REDIS_SERVER=$(command -v redis-server || echo /usr/bin/redis-server)
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi

step "building the release binary"
timeout 1800 cargo build --release --quiet -p plinth-cli || die "cargo build --release failed"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
PLINTH=$TARGET_DIR/release/plinth

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- PostgreSQL ----------------------------------------------------------------------------------
if [ -n "${PLINTH_BENCH_POSTGRES_URL:-}" ]; then
    ADMIN_URL=$PLINTH_BENCH_POSTGRES_URL
    PSQL=$(command -v psql || echo "$PG_BIN/psql")
    [ -x "$PSQL" ] || die "psql is required with PLINTH_BENCH_POSTGRES_URL (apt-get install postgresql-client)"
    step "PostgreSQL at $ADMIN_URL"
else
    step "starting a throwaway PostgreSQL $PG_VERSION"
    [ -x "$PG_BIN/initdb" ] || die "$PG_BIN/initdb is missing: set PLINTH_BENCH_POSTGRES_URL, or run bash scripts/test once as root to install PostgreSQL"
    PSQL=$PG_BIN/psql
    mkdir -p "$PG_DATA"
    as_root && chown postgres: "$PG_DATA"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --no-locale -E UTF8 \
        >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    PG_PORT=$(free_port)
    # Durable settings (fsync on), unlike the test database: this measures a real commit path.
    PG_OPTIONS="-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA -c max_connections=200"
    PG_OPTIONS="$PG_OPTIONS -c shared_buffers=256MB"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -o "$PG_OPTIONS" -l "$PG_DATA/server.log" -w -t 60 \
        start >/dev/null || { cat "$PG_DATA/server.log" >&2; die "PostgreSQL did not start"; }
    PG_STARTED=1
    ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
fi
"$PSQL" -q -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null ||
    die "cannot create database $DB_NAME"
DB_URL=$(python3 - "$ADMIN_URL" "$DB_NAME" <<'PY'
import sys, urllib.parse
parts = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit(parts._replace(path="/" + sys.argv[2])))
PY
)

# --- Redis ---------------------------------------------------------------------------------------
REDIS_PORT=$(free_port)
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
    sleep 0.1
done

# --- nodes ---------------------------------------------------------------------------------------
export PLINTH_DB=$DB_URL
export PLINTH_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export PLINTH_JWT_SECRET
PLINTH_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export PLINTH_ACCESS_TOKEN_TTL=3600
export PLINTH_POSTGRES_POOL_SIZE=$POOL_SIZE
export PLINTH_TRUSTED_PROXIES=127.0.0.1
export PLINTH_RATE_LIMIT_PER_IP=10000000/s PLINTH_RATE_LIMIT_PER_USER=10000000/s
export PLINTH_RATE_LIMIT_AUTH_PER_IP=off
# Logging stays at Plinth's default level (request logs on), as in production; PLINTH_LOG overrides.

declare -A NODE_PORT=()
for number in $(seq 1 "$NODES"); do
    NODE_PORT[$number]=$(free_port)
done

wait_ready() {
    local url=$1 pid=$2 log=$3
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "a process exited before it was ready ($log)"; }
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$log" >&2
    die "no answer from $url within 30 s"
}

start_node() {
    local number=$1 port=${NODE_PORT[$1]}
    "$PLINTH" serve "$SCHEMA" --listen "127.0.0.1:$port" >>"$WORK/node-$number.log" 2>&1 &
    NODE_PID[$number]=$!
    wait_ready "http://127.0.0.1:$port/readyz" "${NODE_PID[$number]}" "$WORK/node-$number.log"
}

# start_nginx PORT...: deploy/nginx.conf with its `# placeholder:` lines rewritten (the same
# contract as the multi-node test), balancing over the given node ports.
NGINX_PORT=$(free_port)
start_nginx() {
    stop_pid "$NGINX_PID"
    NGINX_PID=""
    mkdir -p "$WORK/nginx"
    python3 - "$NGINX_TEMPLATE" "$WORK/nginx" "$NGINX_PORT" "$(id -u)" "$@" >"$WORK/nginx/nginx.conf" <<'PY'
import sys
template, directory, listen_port, uid, node_ports = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
upstream_written = False
for line in open(template):
    line = line.rstrip("\n")
    if line.lstrip().startswith("#") or "# placeholder:" not in line:
        print(line)
        continue
    directive, name = line.split("# placeholder:", 1)
    name, directive = name.strip(), directive.strip()
    indent = line[: len(line) - len(line.lstrip())]
    words = directive.rstrip(";").split()
    if name == "user":
        # Workers run as root only because this script does; otherwise nginx keeps our user.
        out = ["user root;"] if uid == "0" else []
    elif name == "pid":
        out = [f"pid {directory}/nginx.pid;"]
    elif name == "error-log":
        out = [f"error_log {directory}/error.log warn;"]
    elif name == "temp-path":
        out = [f"{words[0]} {directory}/{words[0]};"]
    elif name == "access-log":
        # Off while measuring: the nodes log every request already.
        out = ["access_log off;"]
    elif name == "upstream":
        out = [] if upstream_written else [
            " ".join([f"server 127.0.0.1:{port}"] + words[2:]) + ";" for port in node_ports]
        upstream_written = True
    elif name == "listen":
        out = [f"listen 127.0.0.1:{listen_port};"]
    else:
        sys.exit(f"unknown placeholder {name} in {template}")
    for text in out:
        print(indent + text)
PY
    "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
        -g 'daemon off;' >>"$WORK/nginx/stderr.log" 2>&1 &
    NGINX_PID=$!
    wait_ready "http://127.0.0.1:$NGINX_PORT/readyz" "$NGINX_PID" "$WORK/nginx/error.log"
}

json_field() { python3 -c 'import json, sys; value = json.load(sys.stdin)
for key in sys.argv[1].split("."): value = value[key]
print(value)' "$1"; }

BASE_1=http://127.0.0.1:${NODE_PORT[1]}
register() {
    curl -fsS -X POST "$BASE_1/api/v1/auth/register" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"correct horse battery staple\",\"name\":\"$2\"}" ||
        die "registering $1 failed (see $WORK/node-1.log)"
}

# --- data ----------------------------------------------------------------------------------------
step "creating the database: node 1 creates the schema, 2 users through the API, $TASKS tasks imported"
start_node 1
ALICE_ID=$(register alice@example.com Alice | json_field user.id)
BOB_ID=$(register bob@example.com Bob | json_field user.id)
python3 - "$TASKS" "$ALICE_ID" "$BOB_ID" "$WORK/alice-ids.txt" >"$WORK/tasks.sql" <<'PY'
import random, string, sys
count, alice, bob, ids_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rng = random.Random(7)
alphabet = string.ascii_lowercase + string.digits
alice_ids = []
print('COPY "Task" ("id", "title", "notes", "done", "dueAt", "ownerId", "categoryId", "createdAt", "updatedAt") FROM stdin;')
for number in range(count):
    owner = alice if number % 2 == 0 else bob
    task_id = "c" + "".join(rng.choice(alphabet) for _ in range(24))
    if owner == alice:
        alice_ids.append(task_id)
    stamp = "2024-%02d-%02d %02d:%02d:%02d.%03d" % (
        1 + number % 12, 1 + number % 28, number % 24, number % 60, (number * 7) % 60, number % 1000)
    due = "\\N" if number % 3 == 0 else "2025-%02d-%02d 09:00:00.000" % (1 + number % 12, 1 + number % 28)
    notes = "\\N" if number % 4 else "Remember the details of task %d." % number
    done = "t" if rng.random() < 0.5 else "f"
    print("\t".join([task_id, "Task number %d" % number, notes, done, due, owner, "\\N", stamp, stamp]))
print("\\.")
print("ANALYZE;")
with open(ids_path, "w") as ids_file:
    ids_file.write("\n".join(alice_ids) + "\n")
PY
"$PSQL" -q -v ON_ERROR_STOP=1 "$DB_URL" -f "$WORK/tasks.sql" >/dev/null || die "importing the tasks failed"

TOKEN=$(curl -fsS -X POST "$BASE_1/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"alice@example.com","password":"correct horse battery staple"}' |
    json_field access_token) || die "login failed (see $WORK/node-1.log)"
export BENCH_TOKEN=$TOKEN
FIRST_ID=$(head -n 1 "$WORK/alice-ids.txt")
LIST_PATH="/api/v1/tasks?done=false&limit=50"
curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE_1/api/v1/tasks/$FIRST_ID" >/dev/null ||
    die "GET by id failed"
curl -fsS -g -H "Authorization: Bearer $TOKEN" "$BASE_1$LIST_PATH" >/dev/null || die "the list failed"

# --- measuring -----------------------------------------------------------------------------------
declare -A RPS P50 P99 ERRORS DB_PER REDIS_PER

to_ms() {
    awk -v value="$1" 'BEGIN {
        number = value + 0; unit = value; sub(/^[0-9.]+/, "", unit)
        if (unit == "us") number /= 1000; else if (unit == "s") number *= 1000;
        else if (unit == "m") number *= 60000;
        printf "%.2f", number }'
}

# counter_sum NAME: the counter summed over every running node's /metrics.
counter_sum() {
    local name=$1 number total=0 value
    for number in "${!NODE_PID[@]}"; do
        value=$(curl -fsS "http://127.0.0.1:${NODE_PORT[$number]}/metrics" 2>/dev/null |
            awk -v name="$name" '$1 == name || index($1, name "{") == 1 {s += $NF} END {printf "%.0f", s}')
        total=$((total + ${value:-0}))
    done
    echo "$total"
}

# measure SETUP BASE_URL ENDPOINT
measure() {
    local setup=$1 base=$2 endpoint=$3 url ids_file="" output
    case $endpoint in
        by-id) url="$base/api/v1/tasks/" ids_file=$WORK/alice-ids.txt ;;
        list) url="$base$LIST_PATH" ;;
    esac
    # Warm the caches (PostgreSQL buffers, statement caches, connection pools, nginx keepalive).
    BENCH_IDS_FILE=$ids_file timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$LUA" \
        "$url" >/dev/null 2>&1 || true
    local db_before redis_before
    db_before=$(counter_sum plinth_db_queries_total)
    redis_before=$(counter_sum plinth_redis_calls_total)
    output=$WORK/wrk-$setup-$endpoint.txt
    BENCH_IDS_FILE=$ids_file timeout 300 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        --timeout 5s --latency -s "$LUA" "$url" >"$output" 2>&1 || {
        cat "$output" >&2
        die "wrk failed against $setup"
    }
    local db_after redis_after requests
    db_after=$(counter_sum plinth_db_queries_total)
    redis_after=$(counter_sum plinth_redis_calls_total)
    requests=$(awk '/requests in/ {print $1; exit}' "$output")
    local key=$setup/$endpoint
    RPS[$key]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$output")
    P50[$key]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$output")")
    P99[$key]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$output")")
    ERRORS[$key]=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {
        for (i = 3; i <= NF; i += 2) n += $(i + 1) + 0 } END {print n + 0}' "$output")
    DB_PER[$key]=$(awk -v d=$((db_after - db_before)) -v r="${requests:-0}" \
        'BEGIN { if (r > 0) printf "%.2f", d / r; else print "n/a" }')
    REDIS_PER[$key]=$(awk -v d=$((redis_after - redis_before)) -v r="${requests:-0}" \
        'BEGIN { if (r > 0) printf "%.2f", d / r; else print "n/a" }')
    printf '%-16s %-6s %9s req/s  p50 %7s ms  p99 %7s ms  errors %s  db/req %s  redis/req %s\n' \
        "$setup" "$endpoint" "${RPS[$key]}" "${P50[$key]}" "${P99[$key]}" "${ERRORS[$key]}" \
        "${DB_PER[$key]}" "${REDIS_PER[$key]}" >&2
}

run_setup() {
    local setup=$1 base=$2
    measure "$setup" "$base" by-id
    measure "$setup" "$base" list
}

NGINX_URL=http://127.0.0.1:$NGINX_PORT
step "1 node, direct"
run_setup 1-node-direct "$BASE_1"
step "1 node behind nginx"
start_nginx "${NODE_PORT[1]}"
run_setup 1-node-nginx "$NGINX_URL"
step "$NODES nodes behind nginx"
for number in $(seq 2 "$NODES"); do
    start_node "$number"
done
PORTS=()
for number in $(seq 1 "$NODES"); do
    PORTS+=("${NODE_PORT[$number]}")
done
start_nginx "${PORTS[@]}"
run_setup "$NODES-nodes-nginx" "$NGINX_URL"

# --- report --------------------------------------------------------------------------------------
CORES=$(nproc)
step "results: $TASKS tasks, wrk -t$THREADS -c$CONNECTIONS -d$DURATION on loopback, pool $POOL_SIZE per node"
echo "This machine has $CORES CPU cores, shared by wrk, nginx, every node, PostgreSQL and Redis:"
echo "the $NODES-node figures show what scaling out costs on one host, not what separate hosts gain."
printf '%-40s %-16s | %9s %8s %8s %7s | %7s %9s\n' endpoint setup 'req/s' 'p50 ms' 'p99 ms' errors \
    'db/req' 'redis/req'
for endpoint in by-id list; do
    label="GET /api/v1/tasks/{id}"
    [ "$endpoint" = list ] && label="GET $LIST_PATH"
    for setup in 1-node-direct 1-node-nginx "$NODES-nodes-nginx"; do
        key=$setup/$endpoint
        printf '%-40s %-16s | %9s %8s %8s %7s | %7s %9s\n' "$label" "$setup" "${RPS[$key]}" \
            "${P50[$key]}" "${P99[$key]}" "${ERRORS[$key]}" "${DB_PER[$key]}" "${REDIS_PER[$key]}"
    done
    ratio=$(awk -v a="${RPS[$NODES-nodes-nginx/$endpoint]:-0}" -v b="${RPS[1-node-nginx/$endpoint]:-0}" \
        'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    echo "  $endpoint: $NODES nodes / 1 node (both behind nginx) = $ratio x req/s"
done
echo "db/req: PostgreSQL statements per request (plinth_db_queries_total); redis/req: Redis calls"
echo "per request (plinth_redis_calls_total, including each node's 1/s health ping), summed over nodes."
