#!/usr/bin/env bash
# Scheduling overhead of a standalone site (issue 3 bench): submit → first task
# start, and the scheduler's overhead per component. FATE's 2 s tick costs about
# 2 s per component; the target here is under 1 s. An optional argument is the
# server's --database URL (an empty PostgreSQL or MySQL/MariaDB database); without
# it the metadata is the data dir's SQLite file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p fateflow-server --bin fateflow --example sched_bench
"${CARGO_TARGET_DIR:-target}/release/examples/sched_bench" "$@"
