#!/usr/bin/env bash
# Intersection throughput (issue 6 bench): guest and host each hold IDS ids (default
# 1,000,000), half of them shared; runs reader → data transform → intersection on a
# standalone site once per method (ECDH on curve25519, RSA blind signatures with a
# 2048-bit key) and reports the intersection task's time and ids per second.
#
# Knobs: IDS (1000000), METHODS ("ecdh rsa"), PARTITIONS (8).
set -euo pipefail
cd "$(dirname "$0")/.."
IDS=${IDS:-1000000}
METHODS=${METHODS:-ecdh rsa}
PARTITIONS=${PARTITIONS:-8}
bash scripts/setup.sh
cargo build --release --locked -p fateflow-server --bin fateflow
BIN=${CARGO_TARGET_DIR:-target}/release/fateflow
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fateflow-psi-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Guest ids 0..IDS-1, host ids IDS/2..IDS/2+IDS-1: IDS/2 shared.
awk -v n="$IDS" 'BEGIN { print "id,x0"; for (i = 0; i < n; i++) printf "u%d,%d\n", i, i % 97 }' > "$WORK/guest.csv"
awk -v n="$IDS" 'BEGIN { print "id,x0"; s = int(n / 2); for (i = s; i < s + n; i++) printf "u%d,%d\n", i, i % 89 }' > "$WORK/host.csv"
expected=$(( IDS - IDS / 2 ))

for method in $METHODS; do
  sed "s/METHOD/$method/" bench/jobs/intersection/conf.json > "$WORK/conf_$method.json"
  echo "== $method: $IDS x $IDS ids, $expected shared"
  "$BIN" run -d bench/jobs/intersection/dsl.json -c "$WORK/conf_$method.json" \
    --file-root "$WORK" --data-dir "$WORK/site_$method" --json \
    --upload "bench.psi_guest=guest.csv:$PARTITIONS" --upload "bench.psi_host=host.csv:$PARTITIONS" \
    | tee "$WORK/run_$method.log" | grep -v '^RUN_RESULT'
  result=$(grep '^RUN_RESULT ' "$WORK/run_$method.log" | sed 's/^RUN_RESULT //')
  python3 - "$result" "$IDS" "$expected" "$method" "$WORK/site_$method" <<'PY'
import json, sys
r, ids, expected, method, site = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
assert r["status"] == "success", r
ms = r["component_ms"]["intersection_0"]
print(f"{method}: intersection_0 {ms / 1000:.1f} s for {ids} x {ids} ids -> "
      f"{2 * ids / (ms / 1000):,.0f} ids/s (both parties' ids), {ids / (ms / 1000):,.0f} ids/s per party")
got = r["guest_summary"]["intersection_0"]["intersect_num"]
assert got == expected, f"intersection kept {got} ids, expected {expected}"
PY
  rm -rf "$WORK/site_$method"
done
