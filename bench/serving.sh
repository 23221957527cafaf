#!/usr/bin/env bash
# Online inference speed (issue 23): two real sites on loopback (guest 9999, host
# 10000), gateways over mutual TLS, a HeteroLR model trained on the breast tables,
# deployed, loaded and bound (MODEL=sbt: a 50-tree depth-5 HeteroSecureBoost instead;
# EINI=1: trained with EINI_inference, served with EINI); then FATE-Serving single
# requests from several threads
# and batches of 1,000 rows, the host's features from its local table.
# Prints SERVING_RESULT lines: p50/p90/p99 latency and throughput.
#
# Knobs: THREADS (8), REQUESTS (30000), DURATION (30 s per run), BATCH (1000), BATCHES (50),
# REDIS (host:port: the host reads its features from Redis, loaded by this script under
# its own key prefix and removed at the end; needs redis-cli),
# BIN_DIR (a directory holding prebuilt `fateflow` and `serving_load`: no build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
MODEL=${MODEL:-lr}
EINI=${EINI:-0}
THREADS=${THREADS:-8}
REQUESTS=${REQUESTS:-30000}
SECONDS_MAX=${DURATION:-30}
BATCH=${BATCH:-1000}
BATCHES=${BATCHES:-50}
if [ -n "${BIN_DIR:-}" ]; then
  bin=$BIN_DIR/fateflow; load=$BIN_DIR/serving_load
else
  cargo build --release --locked -p fateflow-server --bin fateflow --example serving_load
  target=${CARGO_TARGET_DIR:-target}
  bin=$target/release/fateflow; load=$target/release/examples/serving_load
fi
work=$(mktemp -d /tmp/fateflow-serving-bench-XXXXXX)
pids=()
prefix="fateflow-bench-$$:"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"
  if [ -n "${REDIS:-}" ]; then
    redis-cli -h "${REDIS%:*}" -p "${REDIS#*:}" --scan --pattern "$prefix*" | xargs -r -n 500 redis-cli -h "${REDIS%:*}" -p "${REDIS#*:}" del >/dev/null
  fi
}
trap cleanup EXIT
mkdir -p "$work/files"
cp examples/data/breast_hetero_guest.csv examples/data/breast_hetero_host.csv "$work/files/"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
site() { # party peer gateway_port peer_gateway_port
  local party=$1 peer=$2 gport=$3 pport=$4 dir=$work/site-$1
  mkdir -p "$dir"
  "$bin" cert --out "$dir/data/gateway" >/dev/null
  echo "$dir"
}
gport_g=$(free_port); gport_h=$(free_port)
dg=$(site 9999 10000 "$gport_g" "$gport_h"); dh=$(site 10000 9999 "$gport_h" "$gport_g")
printf '{"parties": {"10000": {"address": "127.0.0.1:%s", "certificate": "%s"}}}' "$gport_h" "$dh/data/gateway/site.crt" > "$dg/routes.json"
printf '{"parties": {"9999": {"address": "127.0.0.1:%s", "certificate": "%s"}}}' "$gport_g" "$dg/data/gateway/site.crt" > "$dh/routes.json"
extra_host=()
if [ -n "${REDIS:-}" ]; then
  python3 - "$work/files/breast_hetero_host.csv" "$prefix" <<'PY' | redis-cli -h "${REDIS%:*}" -p "${REDIS#*:}" --pipe >/dev/null
import sys
rows = open(sys.argv[1]).read().split()
header = rows[0].split(",")
for line in rows[1:]:
    cells = line.split(",")
    args = ["HSET", sys.argv[2] + cells[0]] + [x for h, v in zip(header[1:], cells[1:]) for x in (h, v)]
    sys.stdout.write("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args))
PY
  extra_host=(--serving-feature-redis "$REDIS" --serving-feature-redis-prefix "$prefix")
  echo "host features from Redis $REDIS (prefix $prefix)"
fi
start() { # dir party gateway_port [extra args]
  local dir=$1 party=$2 port=$3; shift 3
  "$bin" server --listen 127.0.0.1:0 --data-dir "$dir/data" --parties "$party" --routes "$dir/routes.json" \
    --gateway-listen "127.0.0.1:$port" --file-root "$work/files" --tick-seconds 1 "$@" > "$dir/stdout" 2> "$dir/server.log" &
  pids+=($!)
}
url_of() {
  for _ in $(seq 100); do grep -q 'listening on' "$1/stdout" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/^fateflow listening on //p' "$1/stdout" | head -1
}
start "$dh" 10000 "$gport_h" "${extra_host[@]}"; start "$dg" 9999 "$gport_g"
host_url=$(url_of "$dh"); guest_url=$(url_of "$dg")
[ -n "$host_url" ] && [ -n "$guest_url" ] || { tail -5 "$dh/server.log" "$dg/server.log"; exit 1; }
echo "guest at $guest_url, host at $host_url"
post() { # url path json -> prints response
  curl -sf -X POST "$1/v1/$2" -H 'Content-Type: application/json' -d "$3"
}
field() { python3 -c "import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
post "$guest_url" data/upload '{"file": "breast_hetero_guest.csv", "head": 1, "partition": 4, "namespace": "experiment", "table_name": "breast_hetero_guest", "use_local_data": 0}' >/dev/null
post "$host_url" data/upload '{"file": "breast_hetero_host.csv", "head": 1, "partition": 4, "namespace": "experiment", "table_name": "breast_hetero_host", "use_local_data": 0}' >/dev/null
post "$host_url" permission/grant '{"party_id": 9999, "component": "*", "dataset": "*"}' >/dev/null
post "$guest_url" permission/grant '{"party_id": 10000, "component": "*", "dataset": "*"}' >/dev/null
case $MODEL in
  lr) example=hetero_lr; cpns='"reader_0", "data_transform_0", "intersection_0", "hetero_feature_binning_0", "hetero_feature_selection_0", "hetero_lr_0"' ;;
  sbt) example=hetero_secureboost; cpns='"reader_0", "data_transform_0", "intersection_0", "hetero_secure_boost_0"' ;;
  *) echo "MODEL is lr or sbt, not $MODEL"; exit 2 ;;
esac
job=$(python3 - "$root/examples/jobs/$example" "$MODEL" "$EINI" <<'PY'
import json, sys
d, model, eini = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
dsl = json.load(open(d + "/dsl.json")); conf = json.load(open(d + "/conf.json"))
common = conf["component_parameters"]["common"]
if model == "lr":
    common["hetero_lr_0"]["max_iter"] = 5
else:
    common["hetero_secure_boost_0"].update({"num_trees": 50, "tree_param": {"max_depth": 5},
        "EINI_inference": eini, "EINI_random_mask": eini})
print(json.dumps({"job_dsl": dsl, "job_runtime_conf": conf}))
PY
)
train=$(post "$guest_url" job/submit "$job" | field 'r["jobId"]')
echo "training job $train"
for _ in $(seq 1800); do
  st=$(post "$guest_url" job/query "{\"job_id\": \"$train\", \"role\": \"guest\", \"party_id\": 9999}" | field 'r["data"][0]["f_status"]')
  case $st in success) break ;; failed|canceled|timeout) echo "training $st"; exit 1 ;; esac
  sleep 1
done
model_id=$(post "$guest_url" job/query "{\"job_id\": \"$train\", \"role\": \"guest\", \"party_id\": 9999}" | field 'r["data"][0]["f_model_id"]')
child=$(post "$guest_url" model/deploy "{\"model_id\": \"$model_id\", \"model_version\": \"$train\", \"cpn_list\": [$cpns]}" | field 'r["data"]["model_version"]')
post "$guest_url" model/load "{\"job_id\": \"$child\"}" | field 'r["retmsg"]'
post "$guest_url" model/bind "{\"service_id\": \"bench-$MODEL\", \"job_id\": \"$child\"}" | field 'r["retmsg"]'
base=${guest_url%/}
echo "== single requests: $THREADS threads, up to $REQUESTS requests or ${SECONDS_MAX}s"
"$load" --url "$base" --service bench-$MODEL --rows "$work/files/breast_hetero_guest.csv" \
  --threads "$THREADS" --requests "$REQUESTS" --seconds "$SECONDS_MAX"
echo "== batches of $BATCH rows: 1 thread, $BATCHES batches"
"$load" --url "$base" --service bench-$MODEL --rows "$work/files/breast_hetero_guest.csv" \
  --threads 1 --requests "$BATCHES" --seconds "$SECONDS_MAX" --batch "$BATCH" --warmup 5
echo "== one thread, sequential single requests (latency without queueing)"
"$load" --url "$base" --service bench-$MODEL --rows "$work/files/breast_hetero_guest.csv" \
  --threads 1 --requests 5000 --seconds "$SECONDS_MAX"
