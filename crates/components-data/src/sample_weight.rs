//! `SampleWeight`: gives every row a weight that the models downstream honour.
//!
//! Parameters and defaults are FATE 1.x `SampleWeightParam`'s: `class_weight` (none,
//! `"balanced"`, or `{label: weight}`), `sample_weight_name` (a column holding the
//! weights; it wins over `class_weight`), `normalize` (false: divide the named column by
//! its mean), `need_run`. With neither set the data passes unchanged, as in FATE.
//!
//! - `balanced`: class `c` weighs `n / (classes · count(c))`.
//! - a dict: a row whose label is not a key weighs 1 (FATE's `get(str(label), 1)`); keys
//!   match the label as text (`"1"`) or as a number (`"1.0"`).
//! - `sample_weight_name`: that column becomes the weight and leaves the features.
//!
//! The output keeps every row, sid and partition. The weight is a column of the table
//! marked as such in its schema (`weight_name`, FATE's `schema["sample_weight"]`): the
//! named column, or a new column `weight` (another name when that one is taken); the
//! components downstream pass it on like the label and no feature reads it. HeteroLR and
//! HeteroLinR weight their residuals by it, HeteroSecureBoost its gradients and loss, and
//! `FederatedSample` (`exact_by_weight`) repeats rows by it. A weight column already in
//! the input is replaced.
//!
//! With a `SampleWeight` model among the model inputs (transform or predict), the model's
//! mode and class weights are applied; a named column missing from the data leaves the
//! data unchanged (FATE logs a warning and does the same).
//!
//! Outputs: the data; the model (FATE's `SampleWeightModelMeta` `{sample_weight_name,
//! normalize, need_run}` and `SampleWeightModelParam` `{header, weight_mode,
//! class_weight}`); the metric `train/sample_weight` with FATE's meta (`weight_mode`,
//! `class_weight`, `classes`, `sample_weight_name`).

use std::collections::BTreeMap;

use fateflow_domain::module::Kind::{Any, Bool, Str};
use fateflow_domain::module::{describe_value, param, ModuleSchema, Param};
use fateflow_tables::{TableId, TableInfo, TableSchema};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::{Component, ComponentModel, Metric, ModelError, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::table_io::{
    copy_as_output, feature_header, open_first_input, scan_columns, write_derived_columns,
};
use fateflow_component_core::predict_output::class_key;

/// The module name recorded in the model.
pub const MODULE: &str = "SampleWeight";

const SAMPLE_WEIGHT_PARAMS: &[Param] = &[
    param("class_weight", Any, "null", true),
    param("sample_weight_name", Str, "null", true),
    param("normalize", Bool, "false", true),
    param("need_run", Bool, "true", true),
];

/// `SampleWeight`'s parameter schema.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[SAMPLE_WEIGHT_PARAMS],
    conditions: &[],
    supported: &[],
};

/// FATE's `weight_mode` for class weights.
const CLASS_WEIGHT: &str = "class weight";
/// FATE's `weight_mode` for a weight column.
const WEIGHT_NAME: &str = "sample weight name";

/// `class_weight` as given.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassWeight {
    /// `n / (classes · count)` per class, from the data.
    Balanced,
    /// Given weights by label text.
    Given(BTreeMap<String, f64>),
}

/// The parameters, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleWeightParam {
    /// `class_weight`.
    pub class_weight: Option<ClassWeight>,
    /// `sample_weight_name`.
    pub sample_weight_name: Option<String>,
    /// `normalize`.
    pub normalize: bool,
}

impl SampleWeightParam {
    /// Parses `parameters`, naming the parameter in every error.
    pub fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let class_weight = match p.value("class_weight") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("balanced") => {
                Some(ClassWeight::Balanced)
            }
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::Object(m)) if m.is_empty() => None,
            Some(Value::Object(m)) => {
                let mut weights = BTreeMap::new();
                for (k, v) in m {
                    let w = v.as_f64().ok_or_else(|| {
                        Error::param(
                            "class_weight",
                            format!(
                                "the weight of class `{k}` must be a number, found {}",
                                describe_value(v)
                            ),
                        )
                    })?;
                    weights.insert(k.clone(), w);
                }
                Some(ClassWeight::Given(weights))
            }
            Some(other) => {
                return Err(Error::param(
                    "class_weight",
                    format!(
                        "expected \"balanced\" or a dict {{label: weight}}, found {}",
                        describe_value(other)
                    ),
                ))
            }
        };
        let sample_weight_name = p
            .opt_str("sample_weight_name")?
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Ok(SampleWeightParam {
            class_weight,
            sample_weight_name,
            normalize: p.get_bool("normalize")?,
        })
    }
}

/// Settings (FATE's `SampleWeightModelMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The weight column, when weights come from one.
    #[serde(default)]
    pub sample_weight_name: Option<String>,
    /// Whether the column's weights are divided by their mean.
    #[serde(default)]
    pub normalize: bool,
    /// Always true: a task that does not run saves no model.
    pub need_run: bool,
}

/// Fitted values (FATE's `SampleWeightModelParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// The input's feature header (the weight column included, as FATE records it).
    pub header: Vec<String>,
    /// `class weight` or `sample weight name`.
    pub weight_mode: String,
    /// The class weights (class mode).
    #[serde(default)]
    pub class_weight: BTreeMap<String, f64>,
}

/// A typed `SampleWeight` model.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleWeightModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl SampleWeightModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> std::result::Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(SampleWeightModel { param, meta })
    }
}

/// A class-weight lookup: by exact text, else by numeric value.
fn class_weight_of(weights: &BTreeMap<String, f64>, label: f64) -> f64 {
    if label.is_nan() {
        return 1.0;
    }
    if let Some(w) = weights.get(&class_key(label)) {
        return *w;
    }
    weights
        .iter()
        .find(|(k, _)| k.trim().parse::<f64>().ok() == Some(label))
        .map_or(1.0, |(_, w)| *w)
}

/// What one run applies.
enum Plan {
    /// Weights by label.
    Classes(BTreeMap<String, f64>),
    /// The column at this header index, divided by `base`.
    Column { index: usize, base: f64 },
}

/// FATE's `SampleWeight` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct SampleWeight;

impl Component for SampleWeight {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let (id, info, rows) = open_first_input(ctx, MODULE, &["data"])?;
        let loaded = match ctx.models_of(MODULE).next() {
            Some(input) => Some(
                SampleWeightModel::from_component_model(&input.model).map_err(|e| {
                    Error::InvalidModel {
                        component: input.component.clone(),
                        alias: input.alias.clone(),
                        module: MODULE.into(),
                        reason: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        let (mode, name, normalize, given) = match &loaded {
            Some(m) => {
                let mode = match m.param.weight_mode.as_str() {
                    CLASS_WEIGHT => CLASS_WEIGHT,
                    WEIGHT_NAME => WEIGHT_NAME,
                    other => {
                        return Err(Error::InvalidModel {
                            component: ctx.component.clone(),
                            alias: "model".into(),
                            module: MODULE.into(),
                            reason: format!(
                                "unknown weight_mode `{other}` (expected `{CLASS_WEIGHT}` or `{WEIGHT_NAME}`)"
                            ),
                        })
                    }
                };
                (
                    Some(mode),
                    m.meta.sample_weight_name.clone(),
                    m.meta.normalize,
                    Some(ClassWeight::Given(m.param.class_weight.clone())),
                )
            }
            None => {
                let p = SampleWeightParam::parse(&ctx.parameters)?;
                let mode = if p.sample_weight_name.is_some() {
                    if p.class_weight.is_some() {
                        ctx.tracker.info(
                            "sample_weight: both sample_weight_name and class_weight are set; \
                             only the weight column is used (as FATE)",
                        );
                    }
                    Some(WEIGHT_NAME)
                } else if p.class_weight.is_some() {
                    Some(CLASS_WEIGHT)
                } else {
                    None
                };
                (mode, p.sample_weight_name, p.normalize, p.class_weight)
            }
        };
        let schema = &info.schema;
        let Some(mode) = mode else {
            ctx.tracker.info(
                "sample_weight: neither class_weight nor sample_weight_name is set; the data passes unchanged",
            );
            copy_as_output(ctx, &id, &info, rows)?;
            return Ok(());
        };
        let plan = if mode == WEIGHT_NAME {
            let name = name.unwrap_or_default();
            let Some(index) = schema
                .column_index(&name)
                .filter(|_| schema.label_name.as_deref() != Some(name.as_str()))
            else {
                if loaded.is_some() {
                    ctx.tracker.info(&format!(
                        "sample_weight: the model's weight column `{name}` is not in {id}; the data passes unchanged (as FATE)"
                    ));
                    copy_as_output(ctx, &id, &info, rows)?;
                    return Ok(());
                }
                return Err(Error::MissingColumn {
                    table: id.to_string(),
                    column: name.clone(),
                    why: format!(
                        "sample_weight_name names it; the table's columns are {}",
                        schema.header.join(", ")
                    ),
                });
            };
            let base = if normalize {
                let (sum, count) = column_sum(ctx, &id, &info, index, &name)?;
                if count == 0 || sum == 0.0 {
                    return Err(Error::param(
                        "normalize",
                        format!("the weights of column `{name}` sum to {sum}; they cannot be normalized"),
                    ));
                }
                sum / count as f64
            } else {
                1.0
            };
            Plan::Column { index, base }
        } else {
            let weights = match given {
                Some(ClassWeight::Given(w)) => w,
                Some(ClassWeight::Balanced) => balanced(ctx, &id, &info)?,
                None => BTreeMap::new(),
            };
            Plan::Classes(weights)
        };
        let (out_schema, sources) = output_layout(schema, &plan);
        let label = schema
            .label_name
            .as_deref()
            .and_then(|l| schema.column_index(l));
        let weight_slot = out_schema
            .weight_index()
            .expect("the output has a weight column");
        let mut negative = 0u64;
        write_derived_columns(ctx, &id, &info, rows, &out_schema, |sids, columns| {
            let n = columns.first().map_or(0, |c| c.len());
            let weights: Vec<f64> = match &plan {
                Plan::Classes(w) => (0..n)
                    .map(|i| label.map_or(1.0, |l| class_weight_of(w, columns[l][i])))
                    .collect(),
                Plan::Column { index, base } => {
                    let col = columns[*index];
                    if let Some(i) = col.iter().position(|v| !v.is_finite()) {
                        return Err(Error::InvalidValue {
                            table: id.to_string(),
                            sid: sids.value(i).to_owned(),
                            column: schema.header[*index].clone(),
                            reason: format!("the sample weight {} is not a finite number", col[i]),
                        });
                    }
                    col.iter().map(|v| v / base).collect()
                }
            };
            negative += weights.iter().filter(|w| **w < 0.0).count() as u64;
            let mut out: Vec<Vec<f64>> = sources
                .iter()
                .map(|s| s.map_or_else(Vec::new, |c| columns[c].to_vec()))
                .collect();
            out[weight_slot] = weights;
            Ok(out)
        })?;
        if negative > 0 {
            ctx.tracker.info(&format!(
                "sample_weight: warning: {negative} rows have a negative weight"
            ));
        }
        let class_weight = match &plan {
            Plan::Classes(w) => w.clone(),
            Plan::Column { .. } => BTreeMap::new(),
        };
        let classes: Vec<&String> = class_weight.keys().collect();
        ctx.tracker.log_metric(Metric {
            namespace: "train".into(),
            name: "sample_weight".into(),
            data: vec![(json!("sample_weight"), json!(0))],
            meta: json!({
                "metric_type": "SAMPLE_WEIGHT",
                "weight_mode": mode,
                "class_weight": if class_weight.is_empty() { Value::Null } else { json!(class_weight) },
                "classes": if classes.is_empty() { Value::Null } else { json!(classes) },
                "sample_weight_name": name_of(&plan, schema),
            }),
        })?;
        ctx.tracker.set_summary(json!({
            "weight_mode": mode,
            "class_weight": class_weight,
            "sample_weight_name": name_of(&plan, schema),
            "weight_column": out_schema.weight_name,
            "negative_weights": negative,
        }))?;
        ctx.tracker.info(&format!(
            "sample_weight: {mode} on {id} ({rows} rows) -> weight column `{}`",
            out_schema.weight_name.as_deref().unwrap_or_default()
        ));
        let model = SampleWeightModel {
            param: ModelParam {
                header: feature_header(schema),
                weight_mode: mode.into(),
                class_weight,
            },
            meta: ModelMeta {
                sample_weight_name: name_of(&plan, schema),
                normalize,
                need_run: true,
            },
        };
        ctx.tracker.save_model(
            ctx.first_output_model_name("model"),
            &model.to_component_model(),
        )
    }
}

fn name_of(plan: &Plan, schema: &TableSchema) -> Option<String> {
    match plan {
        Plan::Column { index, .. } => Some(schema.header[*index].clone()),
        Plan::Classes(_) => None,
    }
}

/// The output schema and, per output column, the input column it copies (`None`: the
/// new weight column). The weight column is the named one, else the input's own weight
/// column, else a new one at the end; a previous weight column is dropped otherwise.
fn output_layout(schema: &TableSchema, plan: &Plan) -> (TableSchema, Vec<Option<usize>>) {
    let old = schema.weight_index();
    let keep = |c: usize| match plan {
        Plan::Column { index, .. } => c == *index || Some(c) != old,
        Plan::Classes(_) => true,
    };
    let mut header = Vec::new();
    let mut sources = Vec::new();
    for (c, name) in schema.header.iter().enumerate().filter(|(c, _)| keep(*c)) {
        header.push(name.clone());
        sources.push(Some(c));
    }
    let weight_name = match (plan, old) {
        (Plan::Column { index, .. }, _) => schema.header[*index].clone(),
        (Plan::Classes(_), Some(c)) => schema.header[c].clone(),
        (Plan::Classes(_), None) => {
            let taken = |n: &str| n == schema.sid || schema.header.iter().any(|h| h == n);
            let name = ["weight", "sample_weight"]
                .into_iter()
                .map(str::to_owned)
                .chain((1..).map(|k| format!("sample_weight_{k}")))
                .find(|n| !taken(n))
                .expect("an unused name");
            header.push(name.clone());
            sources.push(None);
            name
        }
    };
    let out = TableSchema {
        header,
        weight_name: Some(weight_name),
        ..schema.clone()
    };
    (out, sources)
}

/// The sum and count of a column's values (for `normalize`); a non-finite value is
/// refused naming its row.
fn column_sum(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
    index: usize,
    name: &str,
) -> Result<(f64, u64)> {
    let (mut sum, mut count) = (0.0, 0u64);
    scan_columns(ctx, id, info, |_, sids, columns| {
        for (i, v) in columns[index].iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::InvalidValue {
                    table: id.to_string(),
                    sid: sids.value(i).to_owned(),
                    column: name.to_owned(),
                    reason: format!("the sample weight {v} is not a finite number"),
                });
            }
            sum += v;
        }
        count += columns[index].len() as u64;
        Ok(())
    })?;
    Ok((sum, count))
}

/// FATE's balanced class weights: `n / (classes · count(c))`, by label text.
fn balanced(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
) -> Result<BTreeMap<String, f64>> {
    let schema = &info.schema;
    let label = schema
        .label_name
        .as_deref()
        .and_then(|l| schema.column_index(l))
        .ok_or_else(|| Error::MissingColumn {
            table: id.to_string(),
            column: "label".into(),
            why:
                "class_weight `balanced` counts the classes (DataTransform with `with_label: true`)"
                    .into(),
        })?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut n = 0u64;
    scan_columns(ctx, id, info, |_, _, columns| {
        for v in columns[label] {
            *counts.entry(class_key(*v)).or_default() += 1;
        }
        n += columns[label].len() as u64;
        Ok(())
    })?;
    let classes = counts.len() as f64;
    Ok(counts
        .into_iter()
        .map(|(k, c)| (k, n as f64 / (classes * c as f64)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<SampleWeightParam> {
        SampleWeightParam::parse(v.as_object().unwrap())
    }

    #[test]
    fn parameters_follow_fate() {
        let p = parse(json!({})).unwrap();
        assert_eq!(p.class_weight, None);
        assert!(!p.normalize);
        assert_eq!(
            parse(json!({"class_weight": "Balanced"}))
                .unwrap()
                .class_weight,
            Some(ClassWeight::Balanced)
        );
        let p = parse(json!({"class_weight": {"0": 1, "1": 2.5}})).unwrap();
        assert_eq!(
            p.class_weight,
            Some(ClassWeight::Given(
                [("0".to_string(), 1.0), ("1".to_string(), 2.5)].into()
            ))
        );
        for bad in [
            json!({"class_weight": "weighted"}),
            json!({"class_weight": {"0": "x"}}),
            json!({"class_weight": 3}),
            json!({"normalize": "yes"}),
        ] {
            let e = parse(bad.clone()).unwrap_err().to_string();
            assert!(
                e.contains("class_weight") || e.contains("normalize"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn class_weights_match_label_text_or_value() {
        let w: BTreeMap<String, f64> = [("0".into(), 1.0), ("1.0".into(), 2.0)].into();
        assert_eq!(class_weight_of(&w, 0.0), 1.0);
        assert_eq!(class_weight_of(&w, 1.0), 2.0);
        assert_eq!(class_weight_of(&w, 7.0), 1.0);
        assert_eq!(class_key(1.0), "1");
        assert_eq!(class_key(0.5), "0.5");
    }

    #[test]
    fn the_weight_column_is_new_named_or_reused() {
        let mut s = TableSchema::new("id", vec!["y".into(), "x0".into(), "weight".into()]);
        s.label_name = Some("y".into());
        let (out, src) = output_layout(&s, &Plan::Classes(BTreeMap::new()));
        assert_eq!(out.weight_name.as_deref(), Some("sample_weight"));
        assert_eq!(src, vec![Some(0), Some(1), Some(2), None]);
        let (out, src) = output_layout(
            &s,
            &Plan::Column {
                index: 1,
                base: 1.0,
            },
        );
        assert_eq!(out.weight_name.as_deref(), Some("x0"));
        assert_eq!(src, vec![Some(0), Some(1), Some(2)]);
        // An input weight column is reused by class weights, dropped by a named column.
        let mut w = s.clone();
        w.weight_name = Some("weight".into());
        let (out, _) = output_layout(&w, &Plan::Classes(BTreeMap::new()));
        assert_eq!(out.header, s.header);
        assert_eq!(out.weight_name.as_deref(), Some("weight"));
        let (out, _) = output_layout(
            &w,
            &Plan::Column {
                index: 1,
                base: 1.0,
            },
        );
        assert_eq!(out.header, vec!["y".to_string(), "x0".into()]);
        assert_eq!(out.weight_name.as_deref(), Some("x0"));
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;
    use crate::context::ModelInput;
    use crate::testing::{ctx, frame, rows, temp_store, transform, upload, RecordingTracker};
    use fateflow_component_core::TableRef;
    use fateflow_tables::LocalTableStore;

    const CSV: &str =
        "id,y,x0,x1\na,0,1.0,2\nb,0,2.0,2\nc,0,3.0,4\nd,0,4.0,4\ne,1,5.0,8\nf,1,6.0,16\n";

    fn labeled(store: &LocalTableStore) -> TableRef {
        let raw = upload(store, "sw", CSV);
        let (t, r) = transform(
            store,
            "data_transform_0",
            &raw,
            json!({"with_label": true}),
            None,
        );
        r.unwrap();
        t.output_data().pop().unwrap().1
    }

    fn run(
        store: &LocalTableStore,
        input: &TableRef,
        params: Value,
        model: Option<ModelInput>,
    ) -> (RecordingTracker, Result<()>) {
        let tracker = RecordingTracker::new();
        let result = {
            let mut c = ctx(store, &tracker, "sample_weight_0", MODULE, params);
            c.inputs.data.insert("data".into(), vec![input.clone()]);
            c.inputs.model.extend(model);
            SampleWeight.run(&c)
        };
        (tracker, result)
    }

    #[test]
    fn balanced_weights_are_n_over_classes_times_count_and_a_model_replays_them() {
        let (_dir, store) = temp_store();
        let t = labeled(&store);
        let (tracker, r) = run(&store, &t, json!({"class_weight": "balanced"}), None);
        r.unwrap();
        let out = frame(&store, &tracker.output_data().pop().unwrap().1);
        assert_eq!(out.weight_name(), Some("weight"));
        assert_eq!(crate::table_io::feature_header(&out.schema()), ["x0", "x1"]);
        let w = out.column_index("weight").unwrap();
        // 6 rows, 2 classes: class 0 (4 rows) 6/8, class 1 (2 rows) 6/4.
        for (sid, row) in rows(&out) {
            let want = if row[0] == 1.0 { 1.5 } else { 0.75 };
            assert_eq!(row[w], want, "{sid}");
        }
        let (_, m) = tracker.models().pop().unwrap();
        let model = SampleWeightModel::from_component_model(&m).unwrap();
        assert_eq!(model.param.weight_mode, CLASS_WEIGHT);
        assert_eq!(model.param.class_weight["1"], 1.5);
        let metric = tracker.metric("train", "sample_weight").unwrap();
        assert_eq!(metric.meta["classes"], json!(["0", "1"]));
        // Transform with the fitted model: the same weights, not recounted.
        let other = upload(&store, "sw2", "id,y,x0,x1\nz,1,0,0\n");
        let (t2, r) = transform(
            &store,
            "data_transform_1",
            &other,
            json!({"with_label": true}),
            None,
        );
        r.unwrap();
        let input = ModelInput {
            component: "sample_weight_0".into(),
            alias: "model".into(),
            model: m,
        };
        let (tracker, r) = run(
            &store,
            &t2.output_data().pop().unwrap().1,
            json!({}),
            Some(input),
        );
        r.unwrap();
        let out = frame(&store, &tracker.output_data().pop().unwrap().1);
        assert_eq!(rows(&out)["z"][3], 1.5);
        // A downstream feature component leaves the weight alone and passes it on.
        let scaled = {
            let tracker2 = RecordingTracker::new();
            let mut c = ctx(
                &store,
                &tracker2,
                "scale_0",
                "FeatureScale",
                json!({"method": "min_max_scale"}),
            );
            c.inputs
                .data
                .insert("data".into(), vec![tracker.output_data().pop().unwrap().1]);
            crate::FeatureScale.run(&c).unwrap();
            frame(&store, &tracker2.output_data().pop().unwrap().1)
        };
        assert_eq!(scaled.weight_name(), Some("weight"));
        assert_eq!(rows(&scaled)["z"][3], 1.5);
    }

    #[test]
    fn a_weight_column_leaves_the_features_and_can_be_normalized() {
        let (_dir, store) = temp_store();
        let t = labeled(&store);
        let (tracker, r) = run(
            &store,
            &t,
            json!({"sample_weight_name": "x1", "normalize": true, "class_weight": "balanced"}),
            None,
        );
        r.unwrap();
        let out = frame(&store, &tracker.output_data().pop().unwrap().1);
        assert_eq!(out.weight_name(), Some("x1"));
        assert_eq!(crate::table_io::feature_header(&out.schema()), ["x0"]);
        // Mean of 2, 2, 4, 4, 8, 16 is 6.
        assert_eq!(rows(&out)["f"][2], 16.0 / 6.0);
        assert_eq!(rows(&out)["a"][2], 2.0 / 6.0);
        // exact_by_weight repeats rows ceil(weight) times: f (2.67) three times, a once.
        let sampled = {
            let t2 = RecordingTracker::new();
            let mut c = ctx(
                &store,
                &t2,
                "sample_0",
                "FederatedSample",
                json!({"mode": "exact_by_weight"}),
            );
            c.inputs
                .data
                .insert("data".into(), vec![tracker.output_data().pop().unwrap().1]);
            crate::sample::FederatedSample.run(&c).unwrap();
            frame(&store, &t2.output_data().pop().unwrap().1)
        };
        let ids: Vec<&str> = sampled.sids().iter().map(String::as_str).collect();
        assert_eq!(ids.iter().filter(|s| s.starts_with('f')).count(), 3);
        assert_eq!(ids.iter().filter(|s| s.starts_with('a')).count(), 1);
        assert_eq!(sampled.weight_name(), Some("x1"));
        let (_, r) = run(&store, &t, json!({"sample_weight_name": "nope"}), None);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("x0, x1"), "{e}");
        // Neither parameter: the data passes unchanged.
        let (tracker, r) = run(&store, &t, json!({}), None);
        r.unwrap();
        assert_eq!(
            frame(&store, &tracker.output_data().pop().unwrap().1),
            frame(&store, &t)
        );
    }
}
