//! Tests across the modules of SecureBoost.
