#!/usr/bin/env bash
# FATE conformance: FATE 1.11's own example jobs, unchanged, through FATE's `flow`.
#
#   bash scripts/conformance.sh [FOLDER ...]     (default: the folders of our modules)
#
# Starts a standalone site hosting parties 9998, 9999 and 10000, uploads the tables
# each testsuite lists (with its upload options), submits every DSL/conf pair, waits,
# and writes a results table (job, status, seconds, headline metrics or the reason).
#
# Environment (all optional):
#   FATE_EXAMPLES        the corpus (default ../shared/fate-examples next to the repo)
#   FATEFLOW_BIN         server binary (default target/release/fateflow, built if absent)
#   CONFORMANCE_OUT      results folder (default target/conformance)
#   CONFORMANCE_TIMEOUT  seconds per job before it counts as hung (default 600)
#   CONFORMANCE_ONLY     comma-separated substrings: run only jobs whose name has one
#   CONFORMANCE_KEEP     1: keep the site's data dir (its path is printed at the end)
#   CONFORMANCE_EXPECT   a file of `folder/job status` lines: exit 1 unless every
#                        listed job ends so (CI runs tests/conformance/ci.expect)
#   FATEFLOW_COMPAT_VENV, FATE_CLIENT_VERSION, PIP_INDEX_URL: as tests/compat/fate_client.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/compat/venv.sh
source "$ROOT/tests/compat/venv.sh"
EXAMPLES=${FATE_EXAMPLES:-$ROOT/../shared/fate-examples}
BIN=${FATEFLOW_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/fateflow}
OUT=${CONFORMANCE_OUT:-${CARGO_TARGET_DIR:-$ROOT/target}/conformance}
VENV=${FATEFLOW_COMPAT_VENV:-/tmp/fateflow-conformance-venv}
CLIENT_VERSION=${FATE_CLIENT_VERSION:-1.11.3}
FOLDERS=("$@")
if [[ ${#FOLDERS[@]} == 0 ]]; then
    FOLDERS=(data_transform data_split union feature_scale intersect hetero_feature_binning
        hetero_feature_selection hetero_logistic_regression hetero_linear_regression
        hetero_secureboost data_statistics feature_imputation label_transform column_expand
        psi scorecard local_baseline sample_weight hetero_poisson_regression hetero_stepwise
        positive_unlabeled hetero_kmeans hetero_pearson multi_model_pipeline hetero_sshe_lr hetero_sshe_linr)
fi

if [[ ! -d "$EXAMPLES/dsl/v2" ]]; then
    echo "SKIP: FATE's example corpus is absent ($EXAMPLES/dsl/v2); set FATE_EXAMPLES"
    exit 0
fi
EXAMPLES=$(cd "$EXAMPLES" && pwd)
EXPECT=
[[ -n "${CONFORMANCE_EXPECT:-}" ]] && EXPECT=$(realpath "$CONFORMANCE_EXPECT")
rm -rf "$OUT"
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fateflow-conformance.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "${CONFORMANCE_KEEP:-0}" == 1 ]]; then
        echo "site data dir kept: $WORK/data"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# `flow init` writes its settings into the venv: one run per venv at a time.
exec 9>"$VENV.lock"
if ! flock -n 9; then
    echo "==> another run holds $VENV; waiting for it"
    flock 9
fi

echo "==> fate-client $CLIENT_VERSION"
rc=0
fate_client_venv "$VENV" "$CLIENT_VERSION" "$OUT" || rc=$?
if [[ $rc == 2 ]]; then
    echo "SKIP: PyPI is unreachable; cannot install fate-client $CLIENT_VERSION"
    exit 0
elif [[ $rc != 0 ]]; then
    cat "$OUT/pip.out"
    exit 1
fi

if [[ ! -x "$BIN" ]]; then
    echo "==> building $BIN"
    (cd "$ROOT" && cargo build --release -p fateflow-server)
fi

echo "==> site with parties 9998, 9999, 10000"
"$BIN" server --listen 127.0.0.1:0 --data-dir "$WORK/data" --parties 9998,9999,10000 \
    >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 300); do
    PORT=$(sed -n 's#^fateflow listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$OUT/server.log" | head -n1)
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.log"; exit 1; }
    sleep 0.1
done
[[ -n "$PORT" ]] || { echo "the server did not start"; exit 1; }
"$VENV/bin/flow" init --reset >/dev/null
"$VENV/bin/flow" init --ip 127.0.0.1 --port "$PORT" >/dev/null

only=()
if [[ -n "${CONFORMANCE_ONLY:-}" ]]; then
    IFS=, read -ra parts <<<"$CONFORMANCE_ONLY"
    for p in "${parts[@]}"; do only+=(--only "$p"); done
fi
echo "==> jobs (flow log: $OUT/flow.log, server log: $OUT/server.log)"
cd "$WORK"
"$VENV/bin/python" "$ROOT/tests/conformance/run.py" --flow "$VENV/bin/flow" \
    --examples "$EXAMPLES" --out "$OUT" --timeout "${CONFORMANCE_TIMEOUT:-600}" \
    ${EXPECT:+--expect "$EXPECT"} "${only[@]}" "${FOLDERS[@]}"
