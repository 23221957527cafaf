#!/usr/bin/env bash
# Feature engineering speed (issue 20): DataStatistics (the basic set, count, variance,
# 95 %), FeatureImputation (mean) and PSI (20 bins) on ROWS rows × 20 columns (about
# 5 % of the cells missing), and OneHotEncoder on ROWS rows × 20 columns of integers
# 0..9 (200 columns out), each a real task process of a standalone `fateflow run`.
# Prints each component's wall time (process start to end) and its own run time and
# peak RSS from its task log.
#
# Knobs: ROWS (1000000), SCALE_DATA (the data cache, default $TMPDIR/fateflow-feature-data),
# BIN_DIR (a directory holding a prebuilt `fateflow`: no build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
DATA=${SCALE_DATA:-${TMPDIR:-/tmp}/fateflow-feature-data}
bash scripts/setup.sh
if [ -n "${BIN_DIR:-}" ]; then
  BIN=$BIN_DIR/fateflow
else
  cargo build --release --locked -p fateflow-server --bin fateflow
  BIN=${CARGO_TARGET_DIR:-target}/release/fateflow
fi
mkdir -p "$DATA"
for t in expect actual categories; do
  f=$DATA/${t}_$ROWS.csv
  if [ ! -s "$f" ]; then
    echo "== generating $f"
    shift=0; seed=1; cat=0
    [ "$t" = actual ] && shift=0.3 && seed=2
    [ "$t" = categories ] && seed=3 && cat=1
    awk -v n="$ROWS" -v shift="$shift" -v seed="$seed" -v categories="$cat" -f bench/jobs/feature/gen.awk > "$f.tmp" && mv "$f.tmp" "$f"
  fi
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fateflow-feature-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"$BIN" run -d bench/jobs/feature/dsl.json -c bench/jobs/feature/conf.json \
  --file-root "$DATA" --data-dir "$WORK/site" --json \
  --upload "bench.expect=expect_$ROWS.csv:4" --upload "bench.actual=actual_$ROWS.csv:4" \
  --upload "bench.categories=categories_$ROWS.csv:4" \
  | tee "$WORK/run.log" | grep -v '^RUN_RESULT'
python3 - "$(grep '^RUN_RESULT ' "$WORK/run.log" | sed 's/^RUN_RESULT //')" "$WORK/site" "$ROWS" <<'PY'
import glob, json, re, sys
r, site, rows = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
assert r["status"] == "success", r
print(f"\n== {rows:,} rows × 20 columns")
print(f"{'component':<16} {'wall s':>8} {'run s':>8} {'peak MB':>8}")
for cpn in ["data_transform_0", "statistic_0", "imputation_0", "psi_0", "data_transform_2", "one_hot_0"]:
    run, peak = "", ""
    for f in glob.glob(f"{site}/logs/{r['job_id']}/*/*/{cpn}/INFO.log"):
        m = re.search(r"component ran ([0-9.]+) s; peak memory \(RSS\) (\d+) MB", open(f).read())
        if m:
            run, peak = m.group(1), m.group(2)
    print(f"{cpn:<16} {r['component_ms'][cpn] / 1000:>8.2f} {run:>8} {peak:>8}")
PY
