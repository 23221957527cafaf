//! FATE's feature engineering components: `HeteroFeatureBinning` and
//! `HeteroFeatureSelection` (whose IV filters read a binning model of this crate).
#![warn(missing_docs)]

use fateflow_domain::module::ModuleSchema;

pub mod binning;
pub mod selection;

use fateflow_component_core::{context, error, params, table_io, wire};

pub use binning::{FeatureBinningModel, HeteroFeatureBinning};
pub use selection::{FeatureSelectionModel, HeteroFeatureSelection};

/// This family's parameter schemas.
pub const SCHEMAS: &[ModuleSchema] = &[binning::param::SCHEMA, selection::param::SCHEMA];

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components = &[
    ("HeteroFeatureBinning", &HeteroFeatureBinning),
    ("HeteroFeatureSelection", &HeteroFeatureSelection),
];

#[cfg(test)]
mod tests {
    use fateflow_component_core::testing::{default_drift, unread_implemented_keys};
    use serde_json::json;

    use crate::binning::param::BinningParam;
    use crate::selection::param::{SelectionParam, SUPPORTED};

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
        assert_eq!(
            super::SCHEMAS.len(),
            2,
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
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
