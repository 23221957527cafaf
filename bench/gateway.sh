#!/usr/bin/env bash
# Data-plane throughput between two sites on loopback (issue 5 bench): two release
# `fateflow server` processes, guest 9999 and host 10000, gateways over mutual TLS.
# A message of FATEFLOW_BENCH_MIB MiB (default 500) is pushed at the guest's site for
# the host, crosses the gateways in 1 MiB chunks into the host's mailbox (spilled to
# disk as it arrives), then is pulled back and checked byte by byte. Prints MiB/s of
# the push and the receiving server's peak RSS over its baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for mib in ${FATEFLOW_BENCH_SIZES:-64 500}; do
  FATEFLOW_BENCH_MIB=$mib cargo test --release --locked -p fateflow-server --test two_sites \
    a_500_mib_payload_streams_with_bounded_receiver_memory -- --nocapture 2>&1 \
    | grep -E "gateway transfer|test result"
done
