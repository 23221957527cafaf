#!/usr/bin/env bash
# Compatibility test: FATE's own Python CLI (`flow` from fate-client 1.11.x) against
# the `fateflow` server.
#
#   tests/compat/fate_client.sh
#
# Environment (all optional):
#   FATEFLOW_BIN            server binary (default: ${CARGO_TARGET_DIR:-target}/debug/fateflow,
#                           built with `cargo build -p fateflow-server` when missing)
#   FATEFLOW_COMPAT_VENV    Python venv holding fate-client (default /tmp/fateflow-compat-venv;
#                           reused when it already holds the wanted version)
#   FATE_CLIENT_VERSION     fate-client version to install (default 1.11.3)
#   FATEFLOW_COMPAT_AUTH    1 (default): run the server with client authentication and
#                           let `flow` sign its requests (HMAC); 0: no authentication
#   FATEFLOW_COMPAT_TIMEOUT seconds a job may take (default 120)
#   FATEFLOW_COMPAT_KEEP    1: keep the temp dir (server data dir, logs, outputs)
#   FATEFLOW_TEST_TASK_DELAY_MS  passed to the server (default 3000): each task holds
#                           that long so that `flow job stop` meets a live job
#   PIP_INDEX_URL           honoured by pip and by the reachability probe
#
# Exits 0 on success, non-zero with the failing command's output on the first failure,
# and 0 with a `SKIP: ...` line when fate-client must be installed but PyPI is unreachable.
#
# Note: `flow init` writes its settings into the venv's site-packages, so two runs must
# not share one venv at the same time.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/compat/venv.sh
source "$ROOT/tests/compat/venv.sh"
VENV=${FATEFLOW_COMPAT_VENV:-/tmp/fateflow-compat-venv}
CLIENT_VERSION=${FATE_CLIENT_VERSION:-1.11.3}
BIN=${FATEFLOW_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/fateflow}
AUTH=${FATEFLOW_COMPAT_AUTH:-1}
TIMEOUT=${FATEFLOW_COMPAT_TIMEOUT:-120}
GUEST=9999
HOST=10000

T0=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fateflow-compat.XXXXXX")
# `flow` downloads its tar.gz attachments into the current directory.
cd "$WORK"
SERVER_PID=
STEP=0

step() {
    STEP=$((STEP + 1))
    printf '\n[compat %2d +%3ss] %s\n' "$STEP" "$(($(date +%s) - T0))" "$*"
}

cleanup() {
    local rc=$?
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "${FATEFLOW_COMPAT_KEEP:-0}" == 1 || $rc -ne 0 ]]; then
        echo "[compat] work dir kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo
    echo "FAIL: $1"
    if [[ -n "${2:-}" && -f "$2" ]]; then
        echo "----- output -----"
        cat "$2"
        echo "------------------"
    fi
    if [[ -f "$WORK/server.log" ]]; then
        echo "----- server log (last 40 lines) -----"
        tail -n 40 "$WORK/server.log"
        echo "--------------------------------------"
    fi
    exit 1
}

# ---------------------------------------------------------------------------------
# JSON helper: `flow` prints an "Import torch failed ..." line (and sometimes a
# progress bar) before its JSON; take the first line opening a JSON object and decode
# from there.
cat >"$WORK/fj.py" <<'PY'
import json, sys

def load(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    dec = json.JSONDecoder()
    pos = 0
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("{"):
            try:
                obj, _ = dec.raw_decode(text[pos:].lstrip())
                if isinstance(obj, dict):
                    return obj
            except ValueError:
                pass
        pos += len(line)
    raise SystemExit("no JSON object in the output")

mode, path = sys.argv[1], sys.argv[2]
r = load(path)
if mode == "extract":
    json.dump(r, sys.stdout, indent=1)
elif mode == "check":
    # argv[3]: a Python expression over `r` that must be truthy
    ok = False
    try:
        ok = eval(sys.argv[3], {"r": r, "json": json})
    except Exception as e:  # noqa: BLE001
        raise SystemExit("check `%s` raised %r" % (sys.argv[3], e))
    if not ok:
        raise SystemExit("check failed: %s" % sys.argv[3])
elif mode == "get":
    v = eval(sys.argv[3], {"r": r, "json": json})
    print(v if isinstance(v, str) else json.dumps(v))
PY

# flow NAME ARGS...: runs `flow ARGS...`, output in $WORK/NAME.out; fails unless it
# exits 0 and prints a JSON object with retcode 0.
flow() {
    local name=$1
    shift
    echo "\$ flow $*"
    if ! "$VENV/bin/flow" "$@" >"$WORK/$name.out" 2>&1; then
        fail "flow $* exited non-zero" "$WORK/$name.out"
    fi
    python3 "$WORK/fj.py" check "$WORK/$name.out" 'isinstance(r.get("retcode"), int)' 2>"$WORK/$name.err" \
        || fail "flow $*: output is not a FATE JSON envelope ($(cat "$WORK/$name.err"))" "$WORK/$name.out"
    python3 "$WORK/fj.py" check "$WORK/$name.out" 'r["retcode"] == 0' 2>/dev/null \
        || fail "flow $*: retcode is not 0" "$WORK/$name.out"
}

# expect NAME EXPR MESSAGE: asserts a Python expression over the JSON `r` of NAME.
expect() {
    python3 "$WORK/fj.py" check "$WORK/$1.out" "$2" 2>"$WORK/$1.err" \
        || fail "$3 ($(cat "$WORK/$1.err"))" "$WORK/$1.out"
}

# get NAME EXPR: prints a value from NAME's JSON.
get() {
    python3 "$WORK/fj.py" get "$WORK/$1.out" "$2"
}

# ---------------------------------------------------------------------------------
step "fate-client $CLIENT_VERSION in $VENV"
rc=0
fate_client_venv "$VENV" "$CLIENT_VERSION" "$WORK" || rc=$?
if [[ $rc == 2 ]]; then
    echo "SKIP: PyPI (${PIP_INDEX_URL:-https://pypi.org/simple}) is unreachable; cannot install fate-client $CLIENT_VERSION"
    trap - EXIT
    rm -rf "$WORK"
    exit 0
elif [[ $rc != 0 ]]; then
    fail "pip install fate-client==$CLIENT_VERSION 'urllib3<2'" "$WORK/pip.out"
fi
"$VENV/bin/pip" list --disable-pip-version-check 2>/dev/null | grep -iE '^(fate-client|urllib3|requests) ' || true

# ---------------------------------------------------------------------------------
step "fateflow binary"
if [[ ! -x "$BIN" ]]; then
    echo "building $BIN"
    (cd "$ROOT" && cargo build -p fateflow-server) >"$WORK/build.out" 2>&1 \
        || fail "cargo build -p fateflow-server" "$WORK/build.out"
    [[ -x "$BIN" ]] || fail "cargo build did not produce $BIN (set FATEFLOW_BIN)"
fi
echo "$BIN"

step "start the server"
server_args=(server --listen 127.0.0.1:0 --data-dir "$WORK/data" --parties "$GUEST,$HOST")
init_args=()
if [[ "$AUTH" == 1 ]]; then
    APP_KEY="compat-app-$$"
    SECRET_KEY="compat-secret-$RANDOM$RANDOM"
    server_args+=(--app-key "$APP_KEY" --secret-key "$SECRET_KEY")
    init_args+=(--app-key "$APP_KEY" --secret-key "$SECRET_KEY")
    echo "client authentication on (app key $APP_KEY)"
fi
# Makes every task take a while (when the executor supports it) so that `job stop`
# meets a running job; unknown to builds without the hook.
FATEFLOW_TEST_TASK_DELAY_MS=${FATEFLOW_TEST_TASK_DELAY_MS:-3000} \
    "$BIN" "${server_args[@]}" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 300); do
    PORT=$(sed -n 's#^fateflow listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$WORK/server.log" | head -n1)
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited during start-up"
    sleep 0.1
done
[[ -n "$PORT" ]] || fail "the server did not print its address within 30 s"
echo "server pid $SERVER_PID on port $PORT"

step "flow init"
flow init_reset init --reset
flow init init --ip 127.0.0.1 --port "$PORT" "${init_args[@]}"

# ---------------------------------------------------------------------------------
step "flow data upload (guest and host tables)"
for side in guest host; do
    cat >"$WORK/upload_$side.json" <<EOF
{
  "file": "$ROOT/examples/data/breast_hetero_$side.csv",
  "head": 1,
  "partition": 4,
  "work_mode": 0,
  "namespace": "experiment",
  "table_name": "breast_hetero_$side"
}
EOF
    flow "upload_$side" data upload -c "$WORK/upload_$side.json"
    expect "upload_$side" 'r["data"]["table_name"] == "breast_hetero_'$side'" and r["data"]["namespace"] == "experiment"' \
        "upload answer names the table"
done
flow table_info table info -t breast_hetero_guest -n experiment
expect table_info 'int(r["data"]["count"]) == 569 and r["data"]["exist"] == 1' "guest table holds 569 rows"

step "re-upload without --drop is refused, with --drop accepted"
echo "\$ flow data upload -c upload_guest.json   (expect retcode != 0)"
"$VENV/bin/flow" data upload -c "$WORK/upload_guest.json" >"$WORK/reupload.out" 2>&1 \
    || fail "flow data upload exited non-zero" "$WORK/reupload.out"
expect reupload 'r["retcode"] != 0 and "--drop" in r["retmsg"]' "re-upload without --drop must be refused"
flow reupload_drop data upload -c "$WORK/upload_guest.json" --drop

# ---------------------------------------------------------------------------------
DSL=$ROOT/examples/jobs/reader_transform/dsl.json
CONF=$ROOT/examples/jobs/reader_transform/conf.json

# wait_job NAME JOB_ID: polls `flow job query` until the job ends; sets $STATUS.
wait_job() {
    local name=$1 id=$2 deadline=$(($(date +%s) + TIMEOUT)) last=
    while :; do
        flow "$name" job query -j "$id" -r guest -p "$GUEST" >/dev/null
        expect "$name" 'len(r["data"]) == 1 and r["data"][0]["f_job_id"] == "'"$id"'"' \
            "job query returns the guest row of $id"
        STATUS=$(get "$name" 'r["data"][0]["f_status"]')
        [[ "$STATUS" == "$last" ]] || echo "job $id: $STATUS"
        last=$STATUS
        case "$STATUS" in
        success | failed | canceled | timeout) return 0 ;;
        esac
        (($(date +%s) < deadline)) || fail "job $id still $STATUS after ${TIMEOUT}s" "$WORK/$name.out"
        sleep 2
    done
}

step "flow job submit"
flow submit job submit -d "$DSL" -c "$CONF"
JOB=$(get submit 'r.get("jobId") or r["data"]["job_id"]')
expect submit 'r["data"]["model_info"]["model_id"] and r["data"]["model_info"]["model_version"] == "'"$JOB"'"' \
    "submit answer carries model_info"
echo "job id $JOB"

step "flow job query until the job ends (timeout ${TIMEOUT}s)"
wait_job query "$JOB"
[[ "$STATUS" == success ]] || fail "job $JOB ended $STATUS" "$WORK/query.out"
flow query_all job query -j "$JOB"
expect query_all 'sorted((d["f_role"], str(d["f_party_id"]), d["f_status"]) for d in r["data"]) == [("guest", "'$GUEST'", "success"), ("host", "'$HOST'", "success")]' \
    "job query -j lists guest and host rows in success"

step "flow task query / task list"
flow task_query task query -j "$JOB"
expect task_query 'sorted((t["f_component_name"], t["f_role"], str(t["f_party_id"])) for t in r["data"]) == sorted([(c, ro, p) for c in ("reader_0", "data_transform_0") for ro, p in (("guest", "'$GUEST'"), ("host", "'$HOST'"))])' \
    "task query lists 2 components x 2 parties"
expect task_query 'all(t["f_status"] == "success" for t in r["data"])' "all 4 tasks in success"
flow task_query_cpn task query -j "$JOB" -r guest -p "$GUEST" -cpn data_transform_0 -s success
expect task_query_cpn 'len(r["data"]) == 1' "task query with every filter finds one task"
flow task_list task list -l 100
expect task_list 'sum(1 for t in r["data"]["tasks"] if t["job_id"] == "'"$JOB"'" and t["status"] == "success") == 4' \
    "task list shows the job's 4 tasks in success"

step "flow job config / job log / job list"
flow job_config job config -j "$JOB" -r guest -p "$GUEST" -o "$WORK/config"
[[ -s "$WORK/config/job_${JOB}_config/dsl.json" && -s "$WORK/config/job_${JOB}_config/runtime_conf.json" ]] \
    || fail "job config did not write dsl.json / runtime_conf.json" "$WORK/job_config.out"
flow job_log job log -j "$JOB" -o "$WORK/logs"
[[ -d "$WORK/logs/job_${JOB}_log" ]] || fail "job log did not extract job_${JOB}_log" "$WORK/job_log.out"
flow job_list job list -l 10
expect job_list 'any(j["job_id"] == "'"$JOB"'" for j in r["data"]["jobs"])' "job list shows the job"

step "flow tracking"
flow cpn_list component list -j "$JOB"
expect cpn_list 'sorted(r["data"]["components"]) == ["data_transform_0", "reader_0"]' "component list"
flow output_data tracking output-data -j "$JOB" -r guest -p "$GUEST" -cpn data_transform_0 -o "$WORK/output"
csv_dir="$WORK/output/job_${JOB}_data_transform_0_guest_${GUEST}_output_data"
csv=$(find "$csv_dir" -name '*.csv' 2>/dev/null | head -n1)
[[ -n "$csv" ]] || fail "no CSV under $csv_dir" "$WORK/output_data.out"
rows=$(($(wc -l <"$csv") - 1))
echo "$csv: header + $rows rows"
[[ "$rows" == 569 ]] || fail "output data has $rows rows, expected 569" "$csv"
head -n1 "$csv" | grep -q '^id,y,' || fail "output CSV header is not id,y,..." "$csv"
flow metrics tracking metrics -j "$JOB" -r guest -p "$GUEST" -cpn data_transform_0
flow metric_all tracking metric-all -j "$JOB" -r guest -p "$GUEST" -cpn data_transform_0
flow parameters tracking parameters -j "$JOB" -r guest -p "$GUEST" -cpn data_transform_0
flow output_model tracking output-model -j "$JOB" -r guest -p "$GUEST" -cpn data_transform_0
flow output_table tracking output-data-table -j "$JOB" -r guest -p "$GUEST" -cpn data_transform_0
expect output_table 'r["data"][0]["data_name"] == "data" and r["data"][0]["table_name"]' "output-data-table names the output table"

# ---------------------------------------------------------------------------------
step "flow model deploy / get-model-info / load"
MODEL_ID=$(get submit 'r["data"]["model_info"]["model_id"]')
flow deploy model deploy --model-id "$MODEL_ID" --model-version "$JOB"
expect deploy 'r["data"]["guest"]["'$GUEST'"] == 0 and r["data"]["host"]["'$HOST'"] == 0 and r["data"]["model_version"] != "'"$JOB"'"' \
    "deploy reached guest and host and made a new version"
CHILD=$(get deploy 'r["data"]["model_version"]')
echo "deployed version $CHILD"
flow model_info model get-model-info --model-id "$MODEL_ID" --model-version "$CHILD"
expect model_info 'sorted(m["f_role"] for m in r["data"]) == ["guest", "host"] and all(m["f_parent"] is False and m["f_parent_info"]["parent_model_version"] == "'"$JOB"'" for m in r["data"])' \
    "get-model-info lists the deployed children of guest and host"
flow model_detail model get-model-info --model-id "$MODEL_ID" --model-version "$CHILD" -r guest -p "$GUEST" --detail
expect model_detail 'r["data"][0]["f_inference_dsl"]["components"]["data_transform_0"]["input"]["model"] == ["pipeline.data_transform_0.model"]' \
    "the inference DSL reads the data transform's model from the pipeline"
flow model_load model load -j "$CHILD"
expect model_load '"predict jobs" in r["retmsg"]' "load says where predictions come from"

step "flow model get-predict-dsl / get-predict-conf, predict job"
flow predict_dsl model get-predict-dsl --model-id "$MODEL_ID" --model-version "$CHILD" -o "$WORK/predict"
flow predict_conf model get-predict-conf --model-id "$MODEL_ID" --model-version "$CHILD" -o "$WORK/predict"
python3 - "$WORK/predict" <<'PY' || fail "the predict conf template cannot be filled"
import glob, json, sys
d = sys.argv[1]
dsl = json.load(open(glob.glob(d + "/predict_dsl_*.json")[0]))
assert "data_transform_0" in dsl["components"], dsl
conf = json.load(open(glob.glob(d + "/predict_conf_*.json")[0]))
for side in ("guest", "host"):
    conf["component_parameters"]["role"][side]["0"]["reader_0"]["table"] = {
        "name": "breast_hetero_" + side, "namespace": "experiment"}
json.dump(conf, open(d + "/predict.json", "w"), indent=1)
PY
flow predict_submit job submit -c "$WORK/predict/predict.json"
PJOB=$(get predict_submit 'r.get("jobId") or r["data"]["job_id"]')
wait_job predict_query "$PJOB"
[[ "$STATUS" == success ]] || fail "predict job $PJOB ended $STATUS" "$WORK/predict_query.out"

step "flow model export / import"
cat >"$WORK/export.json" <<EOF
{"model_id": "$MODEL_ID", "model_version": "$CHILD", "role": "guest", "party_id": $GUEST, "output_path": "$WORK/export"}
EOF
flow model_export model export -c "$WORK/export.json"
ARCHIVE=$(get model_export 'r["file"]')
[[ -s "$ARCHIVE" && "$(basename "$ARCHIVE")" == "guest#$GUEST#${MODEL_ID}_$CHILD.zip" ]] \
    || fail "export did not save guest#$GUEST#${MODEL_ID}_$CHILD.zip" "$WORK/model_export.out"
for force in 0 1; do
    cat >"$WORK/import_$force.json" <<EOF
{"model_id": "$MODEL_ID", "model_version": "$CHILD", "role": "guest", "party_id": $GUEST, "file": "$ARCHIVE", "force_update": $force}
EOF
done
echo "\$ flow model import -c import_0.json   (expect 409: the model exists)"
"$VENV/bin/flow" model import -c "$WORK/import_0.json" >"$WORK/import_0.out" 2>&1 \
    || fail "flow model import exited non-zero" "$WORK/import_0.out"
expect import_0 'r["retcode"] == 409' "importing over an existing model without force_update is refused"
flow import_1 model import -c "$WORK/import_1.json"
flow model_info2 model get-model-info --model-id "$MODEL_ID" --model-version "$CHILD" -r guest -p "$GUEST" --detail
expect model_info2 'r["data"][0]["f_imported"] == 1' "the imported model is marked imported"

# ---------------------------------------------------------------------------------
step "submit a second job and stop it"
flow submit2 job submit -d "$DSL" -c "$CONF"
JOB2=$(get submit2 'r.get("jobId") or r["data"]["job_id"]')
echo "job id $JOB2"
flow stop job stop -j "$JOB2"
STOP_MSG=$(get stop 'r["retmsg"]')
echo "stop: $STOP_MSG"
wait_job query2 "$JOB2"
STATUS2=$STATUS
if [[ "$STOP_MSG" == *"already ended"* ]]; then
    echo "(the job had finished before the stop arrived)"
else
    [[ "$STATUS2" == canceled ]] || fail "stopped job $JOB2 ended $STATUS2, expected canceled" "$WORK/query2.out"
fi
echo "\$ flow job stop -j $JOB2   (again, on the ended job)"
"$VENV/bin/flow" job stop -j "$JOB2" >"$WORK/stop_again.out" 2>&1 \
    || fail "flow job stop exited non-zero" "$WORK/stop_again.out"
expect stop_again 'isinstance(r["retcode"], int) and isinstance(r["retmsg"], str)' "stop of an ended job answers an envelope"
for i in $(seq 10); do
    flow task_query2 task query -j "$JOB2" >/dev/null
    python3 "$WORK/fj.py" check "$WORK/task_query2.out" \
        'all(t["f_party_status"] != "running" for t in r["data"])' 2>/dev/null && break
    ((i < 10)) || fail "a task of the stopped job $JOB2 is still running" "$WORK/task_query2.out"
    sleep 2
done
echo "tasks: $(get task_query2 '" ".join("%s/%s:%s" % (t["f_component_name"], t["f_role"], t["f_party_status"]) for t in r["data"])')"

# ---------------------------------------------------------------------------------
step "flow privilege grant / query / delete (FATE's permission verbs)"
cat >"$WORK/grant.json" <<EOF
{"party_id": 9998, "component": "reader,dataio,heterolr",
 "dataset": [{"namespace": "experiment", "name": "breast_hetero_guest"}]}
EOF
flow grant privilege grant -c "$WORK/grant.json"
flow grant_query privilege query -p 9998
expect grant_query 'sorted(r["data"]["component"]) == ["datatransform", "heterolr", "reader"] and r["data"]["dataset"] == [{"namespace": "experiment", "name": "breast_hetero_guest"}]' \
    "the grant is listed (dataio stored as its module, datatransform)"
cat >"$WORK/revoke.json" <<EOF
{"party_id": 9998, "component": "*", "dataset": "*"}
EOF
flow revoke privilege delete -c "$WORK/revoke.json"
flow revoke_query privilege query -p 9998
expect revoke_query 'r["data"] == {"component": [], "dataset": []}' "delete with * removed every grant"

# ---------------------------------------------------------------------------------
step "flow model load / bind on a HeteroLR model (online inference)"
python3 - "$ROOT/examples/jobs/hetero_lr" "$WORK" <<'PY' || fail "cannot write the LR job"
import json, sys
src, out = sys.argv[1], sys.argv[2]
dsl = json.load(open(src + "/dsl.json"))
conf = json.load(open(src + "/conf.json"))
conf["component_parameters"]["common"]["hetero_lr_0"]["max_iter"] = 3
json.dump(dsl, open(out + "/lr_dsl.json", "w"))
json.dump(conf, open(out + "/lr_conf.json", "w"))
PY
flow lr_submit job submit -d "$WORK/lr_dsl.json" -c "$WORK/lr_conf.json"
LR_JOB=$(get lr_submit 'r.get("jobId") or r["data"]["job_id"]')
wait_job lr_query "$LR_JOB"
[[ "$STATUS" == success ]] || fail "LR job $LR_JOB ended $STATUS" "$WORK/lr_query.out"
LR_MODEL=$(get lr_submit 'r["data"]["model_info"]["model_id"]')
flow lr_deploy model deploy --model-id "$LR_MODEL" --model-version "$LR_JOB" \
    --cpn-list reader_0,data_transform_0,intersection_0,hetero_feature_binning_0,hetero_feature_selection_0,hetero_lr_0
LR_CHILD=$(get lr_deploy 'r["data"]["model_version"]')
flow lr_load model load -j "$LR_CHILD"
cat >"$WORK/bind.json" <<EOF
{"service_id": "compat-lr", "initiator": {"party_id": "$GUEST", "role": "guest"},
 "role": {"guest": ["$GUEST"], "host": ["$HOST"], "arbiter": ["$HOST"]},
 "job_parameters": {"model_id": "$LR_MODEL", "model_version": "$LR_CHILD"}}
EOF
flow lr_bind model bind -c "$WORK/bind.json"
expect lr_bind 'r["retmsg"] == "service id is compat-lr"' "bind answers FATE's message"
cat >"$WORK/bind2.json" <<EOF
{"service_id": "compat-lr-2"}
EOF
flow lr_bind2 model bind -c "$WORK/bind2.json" -j "$LR_CHILD"
expect lr_bind2 'r["retmsg"] == "service id is compat-lr-2"' "bind -j names the model by its deployed version"

step "done"
echo "PASS: fate-client $CLIENT_VERSION against $BIN in $(($(date +%s) - T0)) s"
