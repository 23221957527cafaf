#!/usr/bin/env bash
# FATE's pipeline SDK (the `pipeline` package of fate-client 1.11) against a `fateflow`
# site: each tests/pipeline/test_*.py uploads, fits, reads summaries, metrics and
# output data, deploys and predicts as FATE's users do, and checks the results against
# plaintext computations.
#
#   bash tests/pipeline/run.sh [test_name ...]
#
# Environment (all optional):
#   FATEFLOW_BIN            server binary (default ${CARGO_TARGET_DIR:-target}/debug/fateflow,
#                           built when missing)
#   FATEFLOW_PIPELINE_VENV  venv holding fate-client (default /tmp/fateflow-pipeline-venv;
#                           `pipeline init` writes its settings there, so one run at a time
#                           per venv: the run takes a lock on it)
#   FATE_CLIENT_VERSION, PIP_INDEX_URL: as tests/compat/fate_client.sh
#   PIPELINE_KEEP=1         keep the work dir (server data and log)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/compat/venv.sh
source "$ROOT/tests/compat/venv.sh"
BIN=${FATEFLOW_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/fateflow}
VENV=${FATEFLOW_PIPELINE_VENV:-/tmp/fateflow-pipeline-venv}
CLIENT_VERSION=${FATE_CLIENT_VERSION:-1.11.3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fateflow-pipeline.XXXXXX")
SERVER_PID=
cleanup() {
    local rc=$?
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "${PIPELINE_KEEP:-0}" == 1 || $rc -ne 0 ]]; then
        echo "[pipeline] work dir kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT

exec 9>"$VENV.lock"
flock 9
rc=0
fate_client_venv "$VENV" "$CLIENT_VERSION" "$WORK" || rc=$?
if [[ $rc == 2 ]]; then
    echo "SKIP: PyPI is unreachable; cannot install fate-client $CLIENT_VERSION"
    exit 0
elif [[ $rc != 0 ]]; then
    cat "$WORK/pip.out"
    exit 1
fi
if [[ ! -x "$BIN" ]]; then
    (cd "$ROOT" && cargo build -p fateflow-server)
fi

"$BIN" server --listen 127.0.0.1:0 --data-dir "$WORK/data" --parties 9999,10000 \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 300); do
    PORT=$(sed -n 's#^fateflow listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$WORK/server.log" | head -n1)
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
    sleep 0.1
done
[[ -n "$PORT" ]] || { echo "the server did not start"; exit 1; }
"$VENV/bin/pipeline" init --ip 127.0.0.1 --port "$PORT" -d "$WORK/pipeline-logs" >/dev/null

tests=("$@")
if [[ ${#tests[@]} == 0 ]]; then
    for f in "$ROOT"/tests/pipeline/test_*.py; do tests+=("$(basename "$f" .py)"); done
fi
failed=()
cd "$ROOT/tests/pipeline"
for t in "${tests[@]}"; do
    echo "==> $t"
    start=$(date +%s)
    if "$VENV/bin/python" "$t.py" >"$WORK/$t.log" 2>&1; then
        grep -E '^(ok|FAIL):' "$WORK/$t.log" || true
        echo "    passed in $(($(date +%s) - start)) s"
    else
        tail -n 40 "$WORK/$t.log"
        echo "    FAILED after $(($(date +%s) - start)) s (log: $WORK/$t.log)"
        failed+=("$t")
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "pipeline SDK: ${#failed[@]} failed: ${failed[*]}"
    tail -n 30 "$WORK/server.log"
    exit 1
fi
echo "pipeline SDK: ${#tests[@]} passed"
