#!/usr/bin/env bash
# Board browser test: a real site, real jobs, Debian's Chromium driven by
# playwright-core. Screenshots go to target/board-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin=${FATEFLOW_BIN:-$target/debug/fateflow}
[ -x "$bin" ] || cargo build -p fateflow-server --bin fateflow
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "board test: chromium is not installed (apt-get install chromium)" >&2
  exit 1
fi
node_dir=${BOARD_NODE_DIR:-/tmp/fateflow-board-node}
if [ ! -d "$node_dir/node_modules/playwright-core" ]; then
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund playwright-core@1)
fi
data=$(mktemp -d /tmp/fateflow-board-XXXXXX)
shots="$target/board-screenshots"
mkdir -p "$shots"
log="$data/server.log"
mkdir -p "$data/files"
cp examples/data/breast_hetero_guest.csv examples/data/breast_hetero_host.csv "$data/files/"
# Predictions to evaluate: a label and a score that mostly agrees with it.
awk 'BEGIN { srand(7); print "id,label,predict_score";
  for (i = 0; i < 300; i++) { y = (rand() < 0.4); s = y ? 0.35 + 0.65 * rand() : 0.7 * rand(); printf "%d,%d,%.6f\n", i, y, s } }' \
  > "$data/files/predictions.csv"
FATEFLOW_TEST_TASK_DELAY_MS=4000 "$bin" server --listen 127.0.0.1:0 --data-dir "$data/site" \
  --file-root "$data/files" --tick-seconds 1 --detect-seconds 1 > "$data/stdout" 2> "$log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q 'listening on' "$data/stdout" 2>/dev/null && break
  sleep 0.1
done
base=$(sed -n 's/^fateflow listening on //p' "$data/stdout" | head -1)
[ -n "$base" ] || { echo "server did not start"; cat "$log"; exit 1; }
echo "site at $base"
NODE_PATH="$node_dir/node_modules" BOARD_BASE="$base" BOARD_SHOTS="$shots" CHROMIUM="$chromium" \
  node tests/board/board.test.mjs
echo "screenshots in $shots:"
ls -1 "$shots"
