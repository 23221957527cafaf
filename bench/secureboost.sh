#!/usr/bin/env bash
# HeteroSecureBoost speed and memory: reader → data transform → ECDH intersection →
# HeteroSecureBoost (guest 9999 with the label, host 10000; Paillier; no arbiter) →
# evaluation on default_credit (30,000 rows, 13 + 10 features), TREES trees of depth
# DEPTH, once per key length; end to end, the SecureBoost task, per tree, train AUC/KS
# and peak RSS. In the same run, when ../shared/peers/fate2.sh exists (or FATE_PEER
# points to it), FATE 2.2's HeteroSecureBoost on the same data and parameters, and the
# ratios. With SCALE=1, also a synthetic 1,000,000-row set (20 guest + 20 host
# features, label drawn from a known logistic model), SCALE_TREES trees of depth
# SCALE_DEPTH at SCALE_KEY bits; the data is generated into the temporary work dir and
# removed with it.
#
# Parameters on both sides: binary cross-entropy, learning rate 0.3, 32 bins, max depth
# DEPTH, TREES trees, all built (ours: n_iter_no_change false; FATE 2's num_trees is a
# fixed count), Paillier with the given key length. Every other parameter is each
# side's default; the peer script prints FATE 2.2's as params_sent in its JSON line
# (gh_pack true, split_info_pack true, l2 0.1, min_child_weight 1, min_impurity_split
# 0.01, min_sample_split 2, min_leaf_node 1). FATE 1.x's (ours): l2 0.1 (criterion_params),
# min_child_weight 0, min_impurity_split 1e-3, cipher_compress true.
#
# Measures:
#   job s     wall time of the whole job (ours: RUN_RESULT wall_ms; FATE: pipeline.fit()).
#   SBT s     the SecureBoost task (ours: component_ms.hetero_secure_boost_0; FATE: sbt_0's
#             elapsed on the guest).
#   s/tree    mean gap between consecutive per-tree lines of the guest's SBT task log (first
#             to last, over n-1 gaps, so the first tree's setup — binning, keys — is left
#             out). Ours: `[<ms>] tree <i>` lines in INFO.log (nan when fewer than two; the
#             row's tree_logged_mean_s also averages the times those lines state, when they
#             read "... in <s> s (encrypt <s> s, own histograms and splits <s> s, waiting for
#             hosts <s> s, decrypt <s> s)");
#             FATE: "fitting guest decision tree iter <i>, dim 0 done" lines in
#             $PEER_DIR/fate2_home/logs/<job>/guest/9999/sbt_0/component/INFO (falls back
#             to SBT s / trees when fewer than two).
#   peak RSS  ours: a sampler (python3, every 0.2 s) sums VmRSS over every process whose
#             argv[0] is a `fateflow` binary and whose command line names this run's data
#             dir — the `fateflow run` site process and the per-task `fateflow task run`
#             children — and keeps the maximum of that sum (`/usr/bin/time -v` would give
#             only one process's maximum). FATE: the peer script's own sampler, the same
#             sum over python processes mentioning fate (server + task executors).
#
# Knobs: KEYS ("1024 2048"), TREES (5), DEPTH (3), DATASET (default_credit_hetero),
#        FATE (1; 0 skips FATE), SCALE (0; 1 = also the scale run), SCALE_ROWS (1000000),
#        SCALE_TREES (5), SCALE_DEPTH (4), SCALE_KEY (1024), SCALE_FATE ($FATE; 0 = scale
#        run on our side only — FATE 2.2 on 1M rows takes a long while), PARTITIONS (4),
#        FATE_PEER (../shared/peers/fate2.sh), FATE_PORT (19380), PEER_DIR (/tmp/fate-peer).
#        SKIP_BUILD (unset; set = no setup/cargo build) and BIN (target/release/fateflow) run a
#        binary built elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1024 2048}
TREES=${TREES:-5}
DEPTH=${DEPTH:-3}
DATASET=${DATASET:-default_credit_hetero}
FATE=${FATE:-1}
SCALE=${SCALE:-0}
SCALE_ROWS=${SCALE_ROWS:-1000000}
SCALE_TREES=${SCALE_TREES:-5}
SCALE_DEPTH=${SCALE_DEPTH:-4}
SCALE_KEY=${SCALE_KEY:-1024}
SCALE_FATE=${SCALE_FATE:-$FATE}
PARTITIONS=${PARTITIONS:-4}
FATE_PEER=${FATE_PEER:-../shared/peers/fate2.sh}
LR_RATE=0.3   # fixed in bench/jobs/secureboost/conf.json too
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fateflow-sbt-bench.XXXXXX")
SAMPLER=
cleanup() {
  if [ -n "$SAMPLER" ] && kill -0 "$SAMPLER" 2>/dev/null; then kill "$SAMPLER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
SUMMARY=$WORK/summary.txt
: > "$SUMMARY"
if [ -z "${SKIP_BUILD:-}" ]; then
  bash scripts/setup.sh
  cargo build --release --locked -p fateflow-server --bin fateflow
fi
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/fateflow}

# Peak RSS sampler: sums VmRSS (kB) of the fateflow processes of one run every 0.2 s
# until the stop file appears; writes {"peak_mb", "peak_one_mb", "samples"}.
cat > "$WORK/rss.py" <<'PY'
import json, os, sys, time
marker, out, stop = sys.argv[1], sys.argv[2], sys.argv[2] + ".stop"
me, peak, one, n = os.getpid(), 0, 0, 0
while True:
    done = os.path.exists(stop)   # checked before the sample, so the last sample follows the run
    tot = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if os.path.basename(argv[0]).decode(errors="replace") != "fateflow" \
                    or not any(marker.encode() in a for a in argv):
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        kb = int(line.split()[1]); tot += kb; one = max(one, kb); break
        except (OSError, IndexError, ValueError):
            pass
    peak, n = max(peak, tot), n + 1
    if done:
        break
    time.sleep(0.2)
json.dump({"peak_mb": round(peak / 1024), "peak_one_mb": round(one / 1024), "samples": n}, open(out, "w"))
PY

# Our side: run_ours <tag> <key> <trees> <depth> <dataset> <file root>; appends a summary row.
run_ours() {
  local tag=$1 key=$2 trees=$3 depth=$4 dataset=$5 root=$6
  local site=$WORK/site_$tag
  sed -e "s/KEY/$key/; s/TREES/$trees/; s/DEPTH/$depth/; s/DATASET/$dataset/g" \
    bench/jobs/secureboost/conf.json > "$WORK/conf_$tag.json"
  echo "== fateflow-rs: $dataset, $trees trees of depth $depth, $key-bit keys"
  rm -f "$WORK/rss_$tag.json.stop"
  python3 "$WORK/rss.py" "$site" "$WORK/rss_$tag.json" &
  SAMPLER=$!
  "$BIN" run -d bench/jobs/secureboost/dsl.json -c "$WORK/conf_$tag.json" \
    --file-root "$root" --data-dir "$site" --json --timeout 86400 \
    --upload "bench.${dataset}_guest=${dataset}_guest.csv:$PARTITIONS" \
    --upload "bench.${dataset}_host=${dataset}_host.csv:$PARTITIONS" \
    | tee "$WORK/run_$tag.log" | grep -v '^RUN_RESULT'
  touch "$WORK/rss_$tag.json.stop"
  wait "$SAMPLER"
  SAMPLER=
  python3 - "$(grep '^RUN_RESULT ' "$WORK/run_$tag.log" | sed 's/^RUN_RESULT //')" "$site" "$key" \
    "$WORK/rss_$tag.json" "$dataset" "$trees" "$depth" >> "$SUMMARY" <<'PY'
import glob, json, os, re, sys
r, site, key, rss, dataset, trees, depth = json.loads(sys.argv[1]), *sys.argv[2:]
assert r["status"] == "success", r
rss = json.load(open(rss))
comp = "hetero_secure_boost_0"
logs = glob.glob(f"{site}/logs/{r['job_id']}/guest/*/{comp}/INFO.log") or \
       glob.glob(f"{site}/logs/{r['job_id']}/**/guest/**/{comp}/**/INFO.log", recursive=True)
stamps, parts = [], []
for f in logs:
    text = open(f, errors="replace").read()
    stamps += [int(m.group(1)) for m in re.finditer(r"^\[(\d+)\] tree \d+", text, re.M)]
    # the component's own per-tree timing, when its line carries it (all n trees, first included)
    parts += [[float(x) for x in m.groups()] for m in re.finditer(
        r"^\[\d+\] tree \d+ .* in ([\d.]+) s \(encrypt ([\d.]+) s, own histograms and splits ([\d.]+) s, "
        r"waiting for hosts ([\d.]+) s, decrypt ([\d.]+) s\)", text, re.M)]
stamps.sort()
per_tree = (stamps[-1] - stamps[0]) / (len(stamps) - 1) / 1000 if len(stamps) > 1 else float("nan")
logged = {k: round(sum(p[i] for p in parts) / len(parts), 3)
          for i, k in enumerate(["tree", "encrypt", "own", "wait_hosts", "decrypt"])} if parts else None
ev = r["guest_summary"]["evaluation_0"][comp]["train"]
sbt = r["component_ms"][comp] / 1000
print(json.dumps({"impl": "fateflow-rs", "dataset": dataset, "key": int(key), "trees": int(trees), "depth": int(depth),
                  "job_s": round(r["wall_ms"] / 1000, 2), "sbt_s": round(sbt, 2), "per_tree_s": round(per_tree, 3),
                  "tree_lines": len(stamps), "tree_logged_mean_s": logged, "auc": ev["auc"], "ks": ev["ks"],
                  "rss_mb": rss["peak_mb"], "rss_one_mb": rss["peak_one_mb"]}))
PY
  tail -1 "$SUMMARY"
  rm -rf "$site"
}

# FATE 2.2 side: run_fate <tag> <key> <trees> <depth> <dataset> <data dir>; appends a summary row.
run_fate() {
  local tag=$1 key=$2 trees=$3 depth=$4 dataset=$5 dir=$6
  if [ ! -f "$FATE_PEER" ]; then
    echo "(FATE peer script not found at $FATE_PEER: FATE side skipped)"; return 0
  fi
  echo "== FATE 2.2 HeteroSecureBoost: $dataset, $trees trees of depth $depth, $key-bit keys (peer script $FATE_PEER)"
  ALGO=sbt PEER_DIR=${PEER_DIR:-/tmp/fate-peer} PORT=${FATE_PORT:-19380} DATASET=$dataset TREES=$trees DEPTH=$depth \
    LR_RATE=$LR_RATE KEY_LEN=$key DATA_DIR=$dir bash "$FATE_PEER" | tee "$WORK/fate_$tag.log"
  python3 - "$(grep '^{' "$WORK/fate_$tag.log" | tail -1)" "$key" "$dataset" "$trees" "$depth" \
    "${PEER_DIR:-/tmp/fate-peer}/fate2_home/logs" >> "$SUMMARY" <<'PY'
import datetime, glob, json, re, sys
r, key, dataset, trees, depth, logs = json.loads(sys.argv[1]), *sys.argv[2:]
sbt, trees = r["sbt_s"], int(trees)
# FATE 2.2's guest SBT log has one "fitting guest decision tree iter <i>, dim 0 done" line per tree
stamps = []
for f in glob.glob(f"{logs}/{r['job_id']}/guest/*/sbt_0/component/INFO"):
    for m in re.finditer(r"^\[INFO\]\[([0-9-]+ [0-9:]+,\d+)\].*fitting guest decision tree iter \d+, dim 0 done",
                         open(f, errors="replace").read(), re.M):
        stamps.append(datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp())
stamps.sort()
per_tree = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else sbt / trees
print(json.dumps({"impl": "FATE 2.2", "dataset": dataset, "key": int(key), "trees": trees, "depth": int(depth),
                  "job_s": r["job_wall_s"], "sbt_s": sbt, "per_tree_s": round(per_tree, 3), "tree_lines": len(stamps),
                  "trees_in_model": r.get("trees_in_model"), "auc": r["auc"], "ks": r["ks"],
                  "rss_mb": r["peak_rss_all_fate_procs_mb"], "rss_one_mb": r["peak_rss_one_proc_mb"]}))
PY
  tail -1 "$SUMMARY"
}

for key in $KEYS; do
  run_ours "$key" "$key" "$TREES" "$DEPTH" "$DATASET" examples/data
  if [ "$FATE" = 1 ]; then run_fate "$key" "$key" "$TREES" "$DEPTH" "$DATASET" examples/data; fi
done

if [ "$SCALE" = 1 ]; then
  # Synthetic hetero set: x ~ N(0, 1), 20 guest + 20 host features; y ~ Bernoulli(sigmoid(w·x + b))
  # with w, b fixed by the seed (logit std ≈ 2). numpy when python3 has it, else plain python.
  scale_name=sbt_scale_${SCALE_ROWS}
  echo "== generating $scale_name ($SCALE_ROWS rows, 20 + 20 features) in $WORK/data"
  mkdir -p "$WORK/data"
  t0=$(date +%s)
  python3 - "$WORK/data/${scale_name}_guest.csv" "$WORK/data/${scale_name}_host.csv" "$SCALE_ROWS" <<'PY'
import math, random, sys
gpath, hpath, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
F = 20
rng = random.Random(20240601)
w = [rng.gauss(0, 2 / math.sqrt(2 * F)) for _ in range(2 * F)]
b = -1.0
gh = "id,y," + ",".join(f"x{i}" for i in range(F)) + "\n"
hh = "id," + ",".join(f"x{i}" for i in range(F)) + "\n"
try:
    import numpy as np
except ImportError:
    np = None
with open(gpath, "w") as g, open(hpath, "w") as h:
    g.write(gh); h.write(hh)
    chunk = 50_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        if np is not None:
            r = np.random.default_rng(start)
            x = r.standard_normal((m, 2 * F))
            p = 1 / (1 + np.exp(-(x @ np.array(w) + b)))
            y = (r.random(m) < p).astype(int)
            rows = [([f"{v:.6f}" for v in x[i]], int(y[i])) for i in range(m)]
        else:
            r = random.Random(start)
            rows = []
            for _ in range(m):
                x = [r.gauss(0, 1) for _ in range(2 * F)]
                z = sum(a * c for a, c in zip(w, x)) + b
                y = 1 if r.random() < 1 / (1 + math.exp(-z)) else 0
                rows.append(([f"{v:.6f}" for v in x], y))
        g.write("".join(f"u{start + i},{y},{','.join(x[:F])}\n" for i, (x, y) in enumerate(rows)))
        h.write("".join(f"u{start + i},{','.join(x[F:])}\n" for i, (x, y) in enumerate(rows)))
PY
  echo "   generated in $(( $(date +%s) - t0 ))s: $(du -sh "$WORK/data" | cut -f1)"
  run_ours scale "$SCALE_KEY" "$SCALE_TREES" "$SCALE_DEPTH" "$scale_name" "$WORK/data"
  if [ "$SCALE_FATE" = 1 ]; then run_fate scale "$SCALE_KEY" "$SCALE_TREES" "$SCALE_DEPTH" "$scale_name" "$WORK/data"; fi
fi

echo
echo "== summary (SBT: learning rate $LR_RATE, 32 bins, Paillier)"
python3 - "$SUMMARY" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def f(v, fmt):
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)
print(f"{'impl':<12} {'dataset':<24} {'trees':>5} {'depth':>5} {'key':>5} {'job s':>8} {'SBT s':>8} {'s/tree':>8} "
      f"{'AUC':>7} {'KS':>7} {'RSS MB':>7}")
for r in rows:
    print(f"{r['impl']:<12} {r['dataset']:<24} {r['trees']:>5} {r['depth']:>5} {r['key']:>5} {f(r['job_s'], '.2f'):>8} "
          f"{f(r['sbt_s'], '.2f'):>8} {f(r['per_tree_s'], '.3f'):>8} {f(r['auc'], '.4f'):>7} {f(r['ks'], '.4f'):>7} "
          f"{r['rss_mb']:>7}")
for k in sorted({(r["dataset"], r["key"]) for r in rows}):
    ours = [r for r in rows if (r["dataset"], r["key"]) == k and r["impl"] == "fateflow-rs"]
    fate = [r for r in rows if (r["dataset"], r["key"]) == k and r["impl"] == "FATE 2.2"]
    if ours and fate:
        o, fa = ours[0], fate[0]
        print(f"{k[0]} {k[1]}-bit: FATE/ours SBT task {fa['sbt_s'] / o['sbt_s']:.1f}x, job {fa['job_s'] / o['job_s']:.1f}x, "
              f"peak RSS {fa['rss_mb'] / max(o['rss_mb'], 1):.1f}x; AUC {o['auc']:.4f} vs {fa['auc']:.4f}")
PY
