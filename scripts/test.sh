#!/usr/bin/env bash
# The whole test suite, from a fresh clone: unit, property and end-to-end tests
# (cargo), FATE's own Python `flow` client against our server, and the Board in
# Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-tests.sh
cargo test --workspace --locked
cargo build --locked -p fateflow-server --bin fateflow
bash tests/compat/fate_client.sh
bash tests/board/run.sh
