#!/usr/bin/env bash
# SSHE-LR speed (issue 21 bench): reader → data transform → ECDH intersection →
# HeteroSSHELR (guest and one host, no arbiter) → evaluation on default_credit (30,000
# rows, 13 + 10 features), ITERS full-batch epochs; then, in the same run, FATE 2.2's
# SSHELR (reader → PSI → SSHELR → evaluation) through the FATE 2.2 that
# ../shared/peers/fate2.sh installs, and the ratio. Also each party's bytes sent per
# epoch (from our task logs).
#
# Parameters on both sides: full batch, ITERS epochs, zeros init with an intercept,
# SGD at a constant learning rate LR, no penalty (FATE 2.2's SSHELR has none), no
# early stop (tol 0), the weights kept in shares between epochs (REVEAL=false: our
# reveal_every_iter, FATE 2.2's reveal_every_epoch; REVEAL=true reveals them).
# Our Paillier keys are KEY bits; FATE 2.2's SSHELR takes no key length.
#
# Knobs: ITERS (10), LR (0.15), KEY (1024), REVEAL (false), DATASET (default_credit_hetero),
#        FATE (1; 0 skips FATE), PEER_DIR (/tmp/fate-peer), FATE_PORT (9380, the port the peer script initialised FATE-Flow with).
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${ITERS:-10}
LR=${LR:-0.15}
KEY=${KEY:-1024}
REVEAL=${REVEAL:-false}
DATASET=${DATASET:-default_credit_hetero}
FATE=${FATE:-1}
FATE_PEER=${FATE_PEER:-../shared/peers/fate2.sh}
PEER_DIR=${PEER_DIR:-/tmp/fate-peer}
FATE_PORT=${FATE_PORT:-9380}
bash scripts/setup.sh
[ -n "${BIN:-}" ] || { cargo build --release --locked -p fateflow-server --bin fateflow; BIN=${CARGO_TARGET_DIR:-target}/release/fateflow; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fateflow-sshe-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SUMMARY=$WORK/summary.txt
: > "$SUMMARY"

sed -e "s/KEY/$KEY/; s/ITERS/$ITERS/; s/REVEAL/$REVEAL/; s/DATASET/$DATASET/g; s/\"learning_rate\": 0.15/\"learning_rate\": $LR/" \
  bench/jobs/sshe/conf.json > "$WORK/conf.json"
echo "== fateflow-rs: $DATASET, $ITERS epochs, $KEY-bit keys, reveal_every_iter $REVEAL"
"$BIN" run -d bench/jobs/sshe/dsl.json -c "$WORK/conf.json" \
  --file-root examples/data --data-dir "$WORK/site" --json \
  --upload "bench.${DATASET}_guest=${DATASET}_guest.csv:4" --upload "bench.${DATASET}_host=${DATASET}_host.csv:4" \
  | tee "$WORK/run.log" | grep -v '^RUN_RESULT'
python3 - "$(grep '^RUN_RESULT ' "$WORK/run.log" | sed 's/^RUN_RESULT //')" "$WORK/site" >> "$SUMMARY" <<'PY'
import glob, json, re, sys
r, site = json.loads(sys.argv[1]), sys.argv[2]
assert r["status"] == "success", r
def epochs(role):
    for f in glob.glob(f"{site}/logs/{r['job_id']}/{role}/**/hetero_sshe_lr_0/**/INFO.log", recursive=True) + \
             glob.glob(f"{site}/logs/{r['job_id']}/{role}/**/hetero_sshe_lr_0/INFO.log", recursive=True):
        return [(float(s), float(mb)) for s, mb in re.findall(r"epoch \d+[^\n]*\(([\d.]+) s, sent ([\d.]+) MB\)", open(f).read())]
    return []
g, h = epochs("guest"), epochs("host")
ev = r["guest_summary"]["evaluation_0"]["hetero_sshe_lr_0"]["train"]
print(json.dumps({"impl": "fateflow-rs", "job_s": round(r["wall_ms"] / 1000, 2),
                  "sshe_s": round(r["component_ms"]["hetero_sshe_lr_0"] / 1000, 2),
                  "per_epoch_s": round(sum(s for s, _ in g) / max(len(g), 1), 3),
                  "guest_mb_per_epoch": round(sum(m for _, m in g) / max(len(g), 1), 2),
                  "host_mb_per_epoch": round(sum(m for _, m in h) / max(len(h), 1), 2),
                  "auc": ev["auc"], "ks": ev["ks"]}))
PY
tail -1 "$SUMMARY"

if [ "$FATE" = 1 ] && [ -f "$FATE_PEER" ]; then
  echo "== FATE 2.2 SSHELR: $DATASET, $ITERS epochs, reveal_every_epoch $REVEAL (peer script $FATE_PEER)"
  # The peer script installs FATE 2.2 and starts its server; a one-epoch LR on breast
  # is its warm-up, then the server stays up for our driver.
  PEER_DIR=$PEER_DIR PORT=$FATE_PORT KEEP_SERVER=1 DATASET=breast_hetero EPOCHS=1 \
    DATA_DIR=examples/data bash "$FATE_PEER" > "$WORK/fate_warmup.log" 2>&1 || { tail -20 "$WORK/fate_warmup.log"; exit 1; }
  stop_fate() { pid=$(lsof -t -iTCP:"$FATE_PORT" -sTCP:LISTEN 2>/dev/null | head -1); [ -z "$pid" ] || kill "$pid"; }
  trap 'stop_fate; rm -rf "$WORK"' EXIT
  "$PEER_DIR/fate2/bin/python" bench/fate2_sshe.py examples/data "$FATE_PORT" "$DATASET" "$ITERS" "$LR" "$REVEAL" \
    > "$WORK/fate.log" 2>&1 || { tail -30 "$WORK/fate.log"; exit 1; }
  python3 - "$(grep '^FATE2_SSHE ' "$WORK/fate.log" | sed 's/^FATE2_SSHE //')" >> "$SUMMARY" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(json.dumps({"impl": "FATE 2.2", "job_s": r["job_wall_s"], "sshe_s": r["sshe_s"],
                  "per_epoch_s": round(r["sshe_s"] / r["epochs"], 3), "auc": r["auc"], "ks": r["ks"]}))
PY
  tail -1 "$SUMMARY"
elif [ "$FATE" = 1 ]; then
  echo "(FATE peer script not found at $FATE_PEER: FATE side skipped)"
fi

echo
echo "== summary ($DATASET, $ITERS epochs, full batch, reveal $REVEAL)"
python3 - "$SUMMARY" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{'impl':<12} {'job s':>8} {'SSHE s':>8} {'s/epoch':>8} {'AUC':>8} {'KS':>8}  MB sent/epoch (guest, host)")
for r in rows:
    mb = f"{r['guest_mb_per_epoch']}, {r['host_mb_per_epoch']}" if "guest_mb_per_epoch" in r else "n/a"
    print(f"{r['impl']:<12} {r['job_s']:>8} {r['sshe_s']:>8} {r['per_epoch_s']:>8} {r['auc']:>8.4f} {r['ks']:>8.4f}  {mb}")
if len(rows) == 2:
    o, f = rows
    print(f"SSHE task {f['sshe_s'] / o['sshe_s']:.1f}x faster, job {f['job_s'] / o['job_s']:.1f}x faster, "
          f"AUC {o['auc']:.4f} vs {f['auc']:.4f}")
PY
