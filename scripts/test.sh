#!/usr/bin/env bash
# The whole test suite, from a fresh clone: unit, property and end-to-end tests
# (cargo), FATE's own Python `flow` client against our server, and the Board in
# Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-tests.sh
cargo test --workspace --locked
# The crypto again on its GMP path, as on CPUs without AVX-512 IFMA.
FATEFLOW_NO_IFMA=1 cargo test --locked -p fateflow-crypto
cargo build --locked -p fateflow-server --bin fateflow
bash tests/compat/fate_client.sh
bash tests/board/run.sh
