//! FATE's feature engineering components: `HeteroFeatureBinning`,
//! `HeteroFeatureSelection` (whose IV filters read a binning model of this crate) and
//! `DataStatistics`, `FeatureImputation` and `PSI` (on binning's quantile summary), and
//! `OneHotEncoder`, `HeteroKmeans` and `HeteroPearson`.
#![warn(missing_docs)]

use fateflow_domain::module::ModuleSchema;

pub mod binning;
pub mod feldman_sum;
pub mod imputation;
pub mod kmeans;
pub mod one_hot;
pub mod pearson;
pub mod psi;
pub mod selection;
pub mod statistics;

use fateflow_component_core::{context, error, params, table_io, wire};

pub use binning::{FeatureBinningModel, HeteroFeatureBinning};
pub use imputation::{FeatureImputation, ImputationModel};
pub use kmeans::{HeteroKmeans, KmeansModel};
pub use pearson::{HeteroPearson, PearsonModel};
pub use selection::{FeatureSelectionModel, HeteroFeatureSelection};
pub use statistics::{DataStatistics, StatisticsModel};

/// This family's parameter schemas.
pub const SCHEMAS: &[ModuleSchema] = &[
    binning::param::SCHEMA,
    selection::param::SCHEMA,
    statistics::param::SCHEMA,
    imputation::param::SCHEMA,
    psi::SCHEMA,
    one_hot::SCHEMA,
    feldman_sum::SCHEMA,
    kmeans::param::SCHEMA,
    pearson::param::SCHEMA,
];

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components = &[
    ("HeteroFeatureBinning", &HeteroFeatureBinning),
    ("HeteroFeatureSelection", &HeteroFeatureSelection),
    ("DataStatistics", &DataStatistics),
    ("FeatureImputation", &FeatureImputation),
    ("PSI", &psi::Psi),
    ("OneHotEncoder", &one_hot::OneHotEncoder),
    ("FeldmanVerifiableSum", &feldman_sum::FeldmanVerifiableSum),
    ("HeteroKmeans", &HeteroKmeans),
    ("HeteroPearson", &HeteroPearson),
];

#[cfg(test)]
mod tests {
    use fateflow_component_core::testing::{default_drift, unread_implemented_keys};
    use serde_json::json;

    use crate::binning::param::BinningParam;
    use crate::imputation::param::ImputationParam;
    use crate::selection::param::{SelectionParam, SUPPORTED};
    use crate::statistics::param::StatisticsParam;

    #[test]
    fn every_key_marked_implemented_is_read() {
        let unread = unread_implemented_keys(&crate::binning::param::SCHEMA, &[], &|map| {
            let _ = BinningParam::parse(map);
        });
        assert!(
            unread.is_empty(),
            "HeteroFeatureBinning: never read: {unread:?}"
        );
        // A filter's parameters are read only when the filter runs.
        let one_filter_each: Vec<_> = SUPPORTED
            .iter()
            .map(|m| json!({ "filter_methods": [m] }))
            .collect();
        let unread =
            unread_implemented_keys(&crate::selection::param::SCHEMA, &one_filter_each, &|map| {
                let _ = SelectionParam::parse(map);
            });
        assert!(
            unread.is_empty(),
            "HeteroFeatureSelection: never read: {unread:?}"
        );
        let unread = unread_implemented_keys(&crate::statistics::param::SCHEMA, &[], &|map| {
            let _ = StatisticsParam::parse(map);
        });
        assert!(unread.is_empty(), "DataStatistics: never read: {unread:?}");
        let unread = unread_implemented_keys(&crate::imputation::param::SCHEMA, &[], &|map| {
            let _ = ImputationParam::parse(map);
        });
        assert!(
            unread.is_empty(),
            "FeatureImputation: never read: {unread:?}"
        );
        let unread = unread_implemented_keys(&crate::psi::SCHEMA, &[], &|map| {
            let _ = crate::psi::PsiParam::parse(map);
        });
        assert!(unread.is_empty(), "PSI: never read: {unread:?}");
        let unread = unread_implemented_keys(&crate::one_hot::SCHEMA, &[], &|map| {
            let _ = crate::one_hot::OneHotParam::parse(map);
        });
        assert!(unread.is_empty(), "OneHotEncoder: never read: {unread:?}");
        let unread = unread_implemented_keys(&crate::feldman_sum::SCHEMA, &[], &|map| {
            let _ = crate::feldman_sum::FeldmanParam::parse(map);
        });
        assert!(
            unread.is_empty(),
            "FeldmanVerifiableSum: never read: {unread:?}"
        );
        let unread = unread_implemented_keys(&crate::kmeans::param::SCHEMA, &[], &|map| {
            let _ = crate::kmeans::param::KmeansParam::parse(map);
        });
        assert!(unread.is_empty(), "HeteroKmeans: never read: {unread:?}");
        let unread = unread_implemented_keys(
            &crate::pearson::param::SCHEMA,
            &[json!({"column_indexes": -1})],
            &|map| {
                let _ = crate::pearson::param::PearsonParam::parse(map);
            },
        );
        assert!(unread.is_empty(), "HeteroPearson: never read: {unread:?}");
        assert_eq!(
            super::SCHEMAS.len(),
            9,
            "a schema of this family is not checked here"
        );
    }

    #[test]
    fn parsers_default_as_the_schemas_say() {
        let mut problems = default_drift(
            &crate::binning::param::SCHEMA,
            &[json!({"method": "bucket"})],
            &BinningParam::parse,
        );
        // A filter's parameters are read only when the filter runs.
        let one_filter_each: Vec<_> = SUPPORTED
            .iter()
            .map(|m| json!({ "filter_methods": [m] }))
            .collect();
        problems.extend(default_drift(
            &crate::selection::param::SCHEMA,
            &one_filter_each,
            &SelectionParam::parse,
        ));
        problems.extend(default_drift(
            &crate::statistics::param::SCHEMA,
            &[],
            &StatisticsParam::parse,
        ));
        problems.extend(default_drift(
            &crate::imputation::param::SCHEMA,
            &[],
            &ImputationParam::parse,
        ));
        problems.extend(default_drift(
            &crate::psi::SCHEMA,
            &[],
            &crate::psi::PsiParam::parse,
        ));
        problems.extend(default_drift(
            &crate::one_hot::SCHEMA,
            &[],
            &crate::one_hot::OneHotParam::parse,
        ));
        problems.extend(default_drift(
            &crate::kmeans::param::SCHEMA,
            &[],
            &crate::kmeans::param::KmeansParam::parse,
        ));
        problems.extend(default_drift(
            &crate::pearson::param::SCHEMA,
            &[json!({"column_indexes": -1})],
            &crate::pearson::param::PearsonParam::parse,
        ));
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
