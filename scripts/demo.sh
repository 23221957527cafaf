#!/usr/bin/env bash
# Builds and runs the standalone demo on the embedded defaults, from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run --release --locked -p fateflow-server --bin fateflow -- demo "$@"
