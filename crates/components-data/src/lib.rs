//! FATE's data components: `Reader`, `DataTransform` (alias `DataIO`), `FeatureScale`,
//! `Union`, `FederatedSample`, `HeteroDataSplit` (alias `DataSplit`), `Intersection` and
//! `CacheLoader`, `LabelTransform`, `ColumnExpand`, `SampleWeight` and
//! `PositiveUnlabeled`.
#![warn(missing_docs)]

use fateflow_domain::module::ModuleSchema;

pub mod column_expand;
pub mod data_split;
pub mod data_transform;
pub mod feature_scale;
pub mod intersection;
pub mod label_transform;
pub mod model_loader;
pub mod positive_unlabeled;
pub mod reader;
pub mod sample;
pub mod sample_weight;
pub mod sir;
pub mod testing;
pub mod union;

use fateflow_component_core::{context, error, params, rng, table_io};

pub use data_transform::{DataTransform, DataTransformModel};
pub use feature_scale::{FeatureScale, FeatureScaleModel};
pub use reader::Reader;

/// This family's parameter schemas.
pub const SCHEMAS: &[ModuleSchema] = &[
    reader::SCHEMA,
    data_transform::param::SCHEMA,
    feature_scale::param::SCHEMA,
    intersection::SCHEMA,
    intersection::cache_loader::SCHEMA,
    data_split::SCHEMA,
    data_split::HOMO_SCHEMA,
    union::SCHEMA,
    sample::SCHEMA,
    label_transform::SCHEMA,
    column_expand::SCHEMA,
    sample_weight::SCHEMA,
    positive_unlabeled::SCHEMA,
    model_loader::SCHEMA,
    sir::SCHEMA,
];

/// This family's components.
pub const COMPONENTS: fateflow_component_core::Components = &[
    ("Reader", &Reader),
    ("DataTransform", &DataTransform),
    ("FeatureScale", &FeatureScale),
    ("Intersection", &intersection::Intersection),
    ("CacheLoader", &intersection::cache_loader::CacheLoader),
    ("HeteroDataSplit", &data_split::DataSplit),
    ("HomoDataSplit", &data_split::HomoDataSplit),
    ("Union", &union::Union),
    ("FederatedSample", &sample::FederatedSample),
    ("LabelTransform", &label_transform::LabelTransform),
    ("ColumnExpand", &column_expand::ColumnExpand),
    ("SampleWeight", &sample_weight::SampleWeight),
    ("PositiveUnlabeled", &positive_unlabeled::PositiveUnlabeled),
    ("ModelLoader", &model_loader::ModelLoader),
    (
        "SecureInformationRetrieval",
        &sir::SecureInformationRetrieval,
    ),
];

#[cfg(test)]
mod tests {
    use fateflow_component_core::testing::{
        context, default_drift, unread_implemented_keys, RecordingTracker,
    };
    use fateflow_domain::module::ModuleSchema;
    use fateflow_tables::LocalTableStore;
    use serde_json::{json, Map, Value};

    use crate::data_split::SplitParam;
    use crate::data_transform::param::DataTransformParam;
    use crate::error::Result;
    use crate::feature_scale::param::ScaleParam;
    use crate::intersection::IntersectParam;
    use crate::sample::SampleParam;
    use crate::union::UnionParam;
    use crate::Reader;

    type Parse<'a> = &'a dyn Fn(&Map<String, Value>) -> Result<String>;

    /// Every module of the family: its schema, confs reaching keys read only under
    /// another key's value, and its parser (the parsed value as Debug text).
    fn check(each: &mut dyn FnMut(&ModuleSchema, &[Value], Parse)) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalTableStore::open(dir.path()).unwrap();
        let reader = |map: &Map<String, Value>| {
            let tracker = RecordingTracker::new();
            let ctx = context(
                "reader_0",
                "Reader",
                Value::Object(map.clone()),
                &store,
                &tracker,
            );
            Reader::input_table(&ctx).map(|t| format!("{t:?}"))
        };
        // FATE has no default table: the Reader stops at a missing name.
        let table = [json!({"table.name": "t", "table.namespace": "n"})];
        fn debug<T: std::fmt::Debug>(r: Result<T>) -> Result<String> {
            r.map(|v| format!("{v:?}"))
        }
        each(&crate::reader::SCHEMA, &table, &reader);
        each(&crate::data_transform::param::SCHEMA, &[], &|map| {
            debug(DataTransformParam::parse(map))
        });
        each(&crate::feature_scale::param::SCHEMA, &[], &|map| {
            debug(ScaleParam::parse(map))
        });
        each(&crate::intersection::SCHEMA, &[], &|map| {
            debug(IntersectParam::parse(map))
        });
        let names = [json!({"job_id": "j", "component_name": "c", "cache_name": "x"})];
        each(&crate::intersection::cache_loader::SCHEMA, &names, &|map| {
            debug(crate::intersection::cache_loader::CacheLoaderParam::parse(
                map,
            ))
        });
        each(&crate::data_split::SCHEMA, &[], &|map| {
            debug(SplitParam::parse(map))
        });
        each(&crate::data_split::HOMO_SCHEMA, &[], &|map| {
            debug(SplitParam::parse(map))
        });
        each(&crate::union::SCHEMA, &[], &|map| {
            debug(UnionParam::parse(map))
        });
        each(&crate::sample::SCHEMA, &[], &|map| {
            debug(SampleParam::parse(map))
        });
        each(&crate::label_transform::SCHEMA, &[], &|map| {
            debug(crate::label_transform::LabelTransformParam::parse(map))
        });
        each(&crate::column_expand::SCHEMA, &[], &|map| {
            debug(crate::column_expand::ColumnExpandParam::parse(map))
        });
        each(&crate::sample_weight::SCHEMA, &[], &|map| {
            debug(crate::sample_weight::SampleWeightParam::parse(map))
        });
        each(&crate::model_loader::SCHEMA, &[], &|map| {
            let p = crate::params::Params::with_schema(map, &crate::model_loader::SCHEMA);
            debug(
                ["model_id", "model_version", "component_name", "model_alias"]
                    .iter()
                    .map(|k| p.opt_str(k).map(|v| v.map(str::to_owned)))
                    .collect::<Result<Vec<_>>>(),
            )
        });
        each(&crate::sir::SCHEMA, &[], &|map| {
            debug(crate::sir::SirParam::parse(map))
        });
        each(&crate::positive_unlabeled::SCHEMA, &[], &|map| {
            debug(crate::positive_unlabeled::Strategy::parse(map))
        });
    }

    #[test]
    fn every_module_is_checked() {
        let mut checked = Vec::new();
        check(&mut |schema, _, _| checked.push(schema.name));
        for schema in super::SCHEMAS {
            assert!(
                checked.contains(&schema.name),
                "{} is not checked here",
                schema.name
            );
        }
    }

    #[test]
    fn every_key_marked_implemented_is_read() {
        check(&mut |schema, overlays, parse| {
            let unread = unread_implemented_keys(schema, overlays, &|map| {
                let _ = parse(map);
            });
            assert!(unread.is_empty(), "{}: never read: {unread:?}", schema.name);
        });
    }

    #[test]
    fn parsers_default_as_the_schemas_say() {
        let mut problems = Vec::new();
        check(&mut |schema, overlays, parse| {
            problems.extend(default_drift(schema, overlays, parse));
        });
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
