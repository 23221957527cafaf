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
# --workspace keeps the features the tests were built with, so nothing is rebuilt.
cargo build --workspace --locked --bins
bash tests/compat/fate_client.sh
# FATE's pipeline SDK: upload, fit, summary, metrics, output data, deploy, predict,
# checked against plaintext computations.
bash tests/pipeline/run.sh
# A representative subset of FATE's own example jobs through FATE's flow (the full
# run: bash scripts/conformance.sh).
FATEFLOW_BIN=${CARGO_TARGET_DIR:-target}/debug/fateflow CONFORMANCE_EXPECT=tests/conformance/ci.expect \
    CONFORMANCE_ONLY=match_id,union-data-transform,dh_intersect_w_preprocess,rsa_cardinality,ecdh_cache,woe_binning,multi_host_bucket,optim_gini,multiclass,iv_selection,manually-left,ovr_validate,linr_sparse,linr-warm-start,homo_data_split,train_binary,warm_start_train,layered_mode_binary,mix_mode_multi,multi_with_mo,train_multi_host,partial_column_missing,diff-method-per-column,label-transform-encoder-without-label-list,column-expand-anonymous,psi,hetero_lr_feature_engineering,sample-weight-class-dict,sample-weight-transform,poisson-train,linr-stepwise,positive_unlabeled_lr,positive_unlabeled_secureboost,kmeans_multi_host,mix_rand,host_only,hetero_feature_selection_pearson,hetero_feature_selection_vif,compute_loss_not_reveal,hetero_lr_encrypted_reveal_in_host,hetero_linr_validate \
    bash scripts/conformance.sh data_transform data_split union intersect hetero_feature_binning hetero_feature_selection hetero_logistic_regression hetero_linear_regression hetero_secureboost data_statistics feature_imputation label_transform column_expand psi sample_weight hetero_poisson_regression hetero_stepwise positive_unlabeled hetero_kmeans hetero_pearson hetero_sshe_lr hetero_sshe_linr
# FeldmanVerifiableSum and SecureInformationRetrieval, registered by FATE 1.11.3 only.
FATEFLOW_BIN=${CARGO_TARGET_DIR:-target}/debug/fateflow CONFORMANCE_EXPECT=tests/conformance/fate-1.11.3.expect \
    bash scripts/conformance-1.11.3.sh
bash tests/board/run.sh
