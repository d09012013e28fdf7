#!/usr/bin/env bash
# Start N Attendance server processes on ports BASE_PORT..BASE_PORT+N-1, all sharing Redis,
# for nginx (deploy/nginx.conf) to balance. Stops them all on Ctrl-C / SIGTERM.
#   DATABASE_URL=postgresql://... SECRET_KEY=... deploy/run-cluster.sh 2
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-2}"
base="${BASE_PORT:-5001}"
: "${DATABASE_URL:?set DATABASE_URL (PostgreSQL: several processes need a real server database)}"
: "${SECRET_KEY:?set SECRET_KEY (the same for every process)}"
export SOCKETIO_MESSAGE_QUEUE="${SOCKETIO_MESSAGE_QUEUE:-redis://127.0.0.1:6379/0}"
export SOCKETIO_ASYNC_MODE="${SOCKETIO_ASYNC_MODE:-eventlet}"  # README: "Which async mode"
export ATTENDANCE_ENV="${ATTENDANCE_ENV:-production}"
# nginx (deploy/nginx.conf) stands in front: believe its X-Forwarded-For/-Proto, so login
# throttling counts each client's own address and HSTS knows the request came over HTTPS.
export PROXY_COUNT="${PROXY_COUNT:-1}"

.venv/bin/flask --app wsgi db upgrade
pids=()
for ((i = 0; i < count; i++)); do
    .venv/bin/flask --app wsgi serve --host 127.0.0.1 --port $((base + i)) &
    pids+=($!)
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM
wait
