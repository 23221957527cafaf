#!/usr/bin/env bash
# FATE's example jobs of the modules FATE 1.11.4 no longer registers
# (FeldmanVerifiableSum, SecureInformationRetrieval): 1.11.4's example folders carry
# their DSL and conf but no testsuite, so the testsuites (which tables to upload) are
# kept in tests/conformance/fate-1.11.3/ and this script runs them through
# scripts/conformance.sh on a scratch examples root. Same environment variables.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EXAMPLES=${FATE_EXAMPLES:-$ROOT/../shared/fate-examples}
if [[ ! -d "$EXAMPLES/dsl/v2" ]]; then
    echo "SKIP: FATE's example jobs are not at $EXAMPLES (set FATE_EXAMPLES)"
    exit 0
fi
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
ln -s "$EXAMPLES/data" "$SCRATCH/data"
folders=()
for suite in "$ROOT"/tests/conformance/fate-1.11.3/*/; do
    folder=$(basename "$suite")
    mkdir -p "$SCRATCH/dsl/v2/$folder"
    cp "$EXAMPLES/dsl/v2/$folder"/*.json "$SCRATCH/dsl/v2/$folder/"
    cp "$suite"/*_testsuite.json "$SCRATCH/dsl/v2/$folder/"
    folders+=("$folder")
done
FATE_EXAMPLES=$SCRATCH bash "$ROOT/scripts/conformance.sh" "${folders[@]}"
