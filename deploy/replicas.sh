#!/usr/bin/env bash
# N `streamlit run app.py` replicas and nginx in front of them, on this machine, on the loopback interface only.
#
#   deploy/replicas.sh [N]        (default 2; Ctrl+C stops them all)
#
# Environment: RNNVIZ_PORT (nginx's port, 8500), RNNVIZ_FIRST_PORT (the replicas take this port and the next N-1,
# 8601), RNNVIZ_RUN_DIR (config, logs and pids; a new temporary folder), NGINX (the binary), RNNVIZ_TRAIN_WORKERS
# (training threads per replica; the cores but one, shared out among the replicas).
# Prints the URL, and the pids for python -m tests.load.sessions --url URL --pids PIDS.
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-2}"
PORT="${RNNVIZ_PORT:-8500}"
FIRST="${RNNVIZ_FIRST_PORT:-8601}"
HOST=127.0.0.1
RUN="${RNNVIZ_RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/rnnviz-replicas.XXXXXX")}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
if [ ! -x "$NGINX" ]; then
    echo "nginx is missing: apt-get install -y nginx (Debian), or set NGINX." >&2
    exit 1
fi
mkdir -p "$RUN"

# Replicas on one machine share its cores: each gets its part of the training threads (rnnviz/scheduler.py).
CORES=$(nproc)
WORKERS=$(( (CORES - 1) / N ))
export RNNVIZ_TRAIN_WORKERS="${RNNVIZ_TRAIN_WORKERS:-$(( WORKERS > 0 ? WORKERS : 1 ))}"
export MALLOC_ARENA_MAX=2 OMP_NUM_THREADS=1  # README, Development: memory of closed sessions is reused

pids=()
stop() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

servers="" pinned="" routes="" names=""
for i in $(seq 0 $((N - 1))); do
    port=$((FIRST + i))
    "$PYTHON" -m streamlit run app.py --server.port "$port" --server.address "$HOST" --server.headless true \
        --server.fileWatcherType none >"$RUN/replica-$port.log" 2>&1 &
    pids+=("$!")
    servers+="        server $HOST:$port max_fails=0;\n"
    pinned+="    upstream rnnviz_r$i { server $HOST:$port max_fails=0; }\n"
    routes+="        r$i rnnviz_r$i;\n"
    names+="        $HOST:$port r$i;\n"
done

for i in $(seq 0 $((N - 1))); do  # each replica answers before nginx sends it anyone
    port=$((FIRST + i))
    until "$PYTHON" -c "import urllib.request as u; u.urlopen('http://$HOST:$port/_stcore/health', timeout=2)" \
        2>/dev/null; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            echo "replica on port $port exited:" >&2
            tail -20 "$RUN/replica-$port.log" >&2
            exit 1
        fi
        sleep 0.5
    done
done

awk -v servers="$servers" -v pinned="$pinned" -v routes="$routes" -v names="$names" -v run="$RUN" \
    -v listen="$HOST:$PORT" '
    /# \{\{servers\}\}/ { printf "%s", servers; next }
    /# \{\{pinned\}\}/ { printf "%s", pinned; next }
    /# \{\{routes\}\}/ { printf "%s", routes; next }
    /# \{\{names\}\}/ { printf "%s", names; next }
    { gsub(/\{\{run\}\}/, run); gsub(/\{\{listen\}\}/, listen); print }
' deploy/nginx.conf >"$RUN/nginx.conf"
"$NGINX" -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/error.log" -g "daemon off;" &
pids+=("$!")
echo "${pids[@]:0:$N}" >"$RUN/replica.pids"

echo "rnnviz: http://$HOST:$PORT (nginx) -> $N replicas on ports $FIRST-$((FIRST + N - 1)); files in $RUN"
echo "replica pids: ${pids[*]:0:$N}"
wait -n "${pids[@]}"  # one of them stopped: stop the rest
echo "a replica or nginx stopped; see $RUN" >&2
exit 1
