//! `LabelTransform`: re-encodes the label column, or decodes a model's predictions.
//!
//! Purely local; the guest runs it (hosts normally have `need_run: false`). Parameters
//! are FATE 1.x `LabelTransformParam`'s:
//!
//! - `label_encoder` (`{label: code}`, JSON keys are strings; default none): without it
//!   the distinct labels, sorted, map to 0, 1, ...; with it, labels of the data the
//!   encoder does not name map to themselves (FATE warns, so does the log).
//! - `label_list` (default none): the labels of the encoder's keys with their types;
//!   given, it must have as many entries as the encoder.
//!
//! Fit (no `LabelTransform` model among the model inputs): one pass collects the
//! distinct labels, a second writes the data with each label replaced. With a model,
//! the model's encoder is applied. On a prediction table (a model's output: `label`,
//! `predict_result`, `predict_score`, ... columns) the encoder is inverted and applied to
//! `label` and `predict_result`, and the `predict_detail.<class>` columns are renamed
//! to the decoded classes, as FATE decodes predictions; a regression's predictions pass
//! unchanged.
//!
//! Outputs: the data (same columns, sids and partitions), the model (FATE's
//! `LabelTransformMeta` / `LabelTransformParam`: `label_encoder` as strings with the key
//! and value types), the metric `train` / `label_transform` (type `LABEL_TRANSFORM`,
//! meta `label_encoder`).
//!
//! A party given no data (a host, whose model writes no predictions) writes nothing and
//! passes its model input on, if any, as FATE only loads the model there.
//!
//! Departures from FATE: codes must be numbers (the tables hold numbers); at most
//! [`MAX_CLASSES`] distinct labels.

use std::collections::BTreeMap;

use fateflow_domain::module::Kind::{Bool, List, Object};
use fateflow_domain::module::{describe_value, param, ModuleSchema, Param};
use fateflow_tables::{TableId, TableInfo, TableSchema};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::{Component, ComponentModel, Metric, ModelError, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::table_io::{open_first_input, scan_columns, write_mapped_columns};
use fateflow_component_core::predict_output::{
    class_key, detail_column, DETAIL_PREFIX, LABEL, PREDICT_RESULT, PREDICT_SCORE,
    REGRESSION_DETAIL_KEY,
};

/// The module name recorded in the model.
pub const MODULE: &str = "LabelTransform";

/// The most distinct labels a table may have.
pub const MAX_CLASSES: usize = 4096;

const LABEL_TRANSFORM_PARAMS: &[Param] = &[
    param("label_encoder", Object, "null", true),
    param("label_list", List, "null", true),
    param("need_run", Bool, "true", true),
];

/// `LabelTransform`'s parameter schema.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[LABEL_TRANSFORM_PARAMS],
    conditions: &[],
    supported: &[],
};

/// Input data keys tried in order.
const INPUT_KEYS: [&str; 2] = ["data", "train_data"];

/// The parameters, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelTransformParam {
    /// `label_encoder` as (label, code) pairs in the order given; `None` when absent or
    /// empty.
    pub encoder: Option<Vec<(f64, f64)>>,
    /// The Python type of each label key (`int`, `float`, `str`), from `label_list`
    /// when given.
    pub key_types: BTreeMap<String, String>,
    /// The Python type of each code.
    pub value_types: BTreeMap<String, String>,
}

impl LabelTransformParam {
    /// Parses `parameters`, naming the parameter in every error.
    pub fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let encoder = match p.value("label_encoder") {
            None => None,
            Some(Value::Object(m)) if m.is_empty() => None,
            Some(Value::Object(m)) => Some(m),
            Some(v) => {
                return Err(Error::param(
                    "label_encoder",
                    format!(
                        "expected an object of label → code, found {}",
                        describe_value(v)
                    ),
                ))
            }
        };
        let list = match p.list("label_list")? {
            Some(items) if !items.is_empty() => Some(items),
            _ => None,
        };
        let (Some(encoder), list) = (encoder, list) else {
            return Ok(LabelTransformParam {
                encoder: None,
                key_types: BTreeMap::new(),
                value_types: BTreeMap::new(),
            });
        };
        if let Some(list) = list {
            if list.len() != encoder.len() {
                return Err(Error::param(
                    "label_list",
                    format!(
                        "{} labels given for the {} keys of label_encoder",
                        list.len(),
                        encoder.len()
                    ),
                ));
            }
        }
        let mut pairs = Vec::with_capacity(encoder.len());
        let mut key_types = BTreeMap::new();
        let mut value_types = BTreeMap::new();
        for (key, code) in encoder {
            let label: f64 = key.trim().parse().map_err(|_| {
                Error::param(
                    format!("label_encoder.{key}"),
                    "the label is not a number (the tables hold numeric labels)",
                )
            })?;
            let code_value = match code {
                Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                other => {
                    return Err(Error::param(
                        format!("label_encoder.{key}"),
                        format!(
                            "expected a number for the code (the tables hold numbers), found {}",
                            describe_value(other)
                        ),
                    ))
                }
            };
            pairs.push((label, code_value));
            value_types.insert(key.clone(), json_type(code).into());
            let key_type = list
                .and_then(|l| l.iter().find(|v| python_key(v) == *key))
                .map_or_else(|| number_type(label), json_type);
            key_types.insert(key.clone(), key_type.into());
        }
        Ok(LabelTransformParam {
            encoder: Some(pairs),
            key_types,
            value_types,
        })
    }
}

/// Python's `str()` of a JSON label.
fn python_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        _ => "str",
    }
}

fn number_type(x: f64) -> &'static str {
    if x == x.trunc() {
        "int"
    } else {
        "float"
    }
}

/// Settings (FATE's `LabelTransformMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Always true: a task that does not run saves no model.
    pub need_run: bool,
}

/// Fitted values (FATE's `LabelTransformParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// Label → code, both as Python's `str()` writes them.
    pub label_encoder: BTreeMap<String, String>,
    /// Each label's Python type.
    pub encoder_key_type: BTreeMap<String, String>,
    /// Each code's Python type.
    pub encoder_value_type: BTreeMap<String, String>,
}

/// A typed `LabelTransform` model.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelTransformModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl LabelTransformModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> std::result::Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(LabelTransformModel { param, meta })
    }

    /// The encoder as numbers.
    fn pairs(&self) -> std::result::Result<Vec<(f64, f64)>, String> {
        self.param
            .label_encoder
            .iter()
            .map(|(k, v)| {
                let label = k
                    .parse::<f64>()
                    .map_err(|_| format!("label `{k}` is not a number"))?;
                let code = v
                    .parse::<f64>()
                    .map_err(|_| format!("code `{v}` of label `{k}` is not a number"))?;
                Ok((label, code))
            })
            .collect()
    }
}

/// FATE's `LabelTransform` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabelTransform;

impl Component for LabelTransform {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        // A party whose upstream wrote no data here (a host under a model's predictions)
        // has nothing to transform: FATE runs only the model loading there. A model
        // input is passed on; a host whose fitting LabelTransform did not run has none.
        if ctx.inputs.first_table(&INPUT_KEYS).is_none() {
            match ctx.models_of(MODULE).next() {
                Some(input) => {
                    ctx.tracker.info(&format!(
                        "label_transform: no input data at this party; passing on the model of {}",
                        input.component
                    ));
                    return ctx
                        .tracker
                        .save_model(ctx.first_output_model_name("model"), &input.model);
                }
                None => {
                    ctx.tracker.info(
                        "label_transform: no input data and no model at this party; nothing to do",
                    );
                    return Ok(());
                }
            }
        }
        let (id, info, rows) = open_first_input(ctx, MODULE, &INPUT_KEYS)?;
        let schema = &info.schema;
        let predictions = is_prediction(schema);
        let model = match ctx.models_of(MODULE).next() {
            Some(input) => {
                let bad = |reason: String| Error::InvalidModel {
                    component: input.component.clone(),
                    alias: input.alias.clone(),
                    module: MODULE.into(),
                    reason,
                };
                let model = LabelTransformModel::from_component_model(&input.model)
                    .map_err(|e| bad(e.to_string()))?;
                model.pairs().map_err(bad)?;
                model
            }
            None => fit(ctx, &id, &info, predictions)?,
        };
        let mut encoder: Vec<(f64, f64)> = model.pairs().expect("checked");
        if predictions {
            encoder = encoder.into_iter().map(|(k, v)| (v, k)).collect();
        }
        let lookup = |x: f64| encoder.iter().rev().find(|(k, _)| *k == x).map(|(_, v)| *v);
        let regression = predictions
            && schema
                .header
                .iter()
                .filter(|h| h.starts_with(DETAIL_PREFIX))
                .eq([&detail_column(REGRESSION_DETAIL_KEY)]);
        let mut out_schema = schema.clone();
        let mut mapped: Vec<usize> = Vec::new();
        if regression {
            ctx.tracker
                .info("label_transform: regression predictions pass unchanged");
        } else if predictions {
            mapped = [LABEL, PREDICT_RESULT]
                .iter()
                .filter_map(|c| schema.column_index(c))
                .collect();
            for h in out_schema.header.iter_mut() {
                if let Some(key) = h.strip_prefix(DETAIL_PREFIX) {
                    let class: f64 = key.parse().map_err(|_| Error::MissingColumn {
                        table: id.to_string(),
                        column: h.clone(),
                        why: "a predict_detail column of a classifier names a numeric class".into(),
                    })?;
                    let decoded = lookup(class).ok_or_else(|| Error::InvalidValue {
                        table: id.to_string(),
                        sid: "(header)".into(),
                        column: h.clone(),
                        reason: format!("class {key} is not a code of the label encoder"),
                    })?;
                    *h = detail_column(&class_key(decoded));
                }
            }
        } else {
            mapped.push(label_column(&id, schema)?);
        }
        ctx.tracker.info(&format!(
            "label_transform: {} {} of {id} ({rows} rows) with {{{}}}",
            if predictions {
                "decoding predictions"
            } else {
                "encoding the labels"
            },
            if predictions { "in" } else { "of" },
            encoder
                .iter()
                .map(|(k, v)| format!("{}: {}", class_key(*k), class_key(*v)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        write_mapped_columns(ctx, &id, &info, rows, &out_schema, |sids, columns| {
            for &c in &mapped {
                for (row, cell) in columns[c].iter_mut().enumerate() {
                    *cell = lookup(*cell).ok_or_else(|| Error::InvalidValue {
                        table: id.to_string(),
                        sid: sids.value(row).to_owned(),
                        column: schema.header[c].clone(),
                        reason: format!("{} is not a label of the encoder", class_key(*cell)),
                    })?;
                }
            }
            Ok(())
        })?;
        ctx.tracker.save_model(
            ctx.first_output_model_name("model"),
            &model.to_component_model(),
        )?;
        let shown: Map<String, Value> = model
            .param
            .label_encoder
            .iter()
            .map(|(k, v)| (k.clone(), v.parse::<f64>().map_or(json!(v), number_json)))
            .collect();
        ctx.log_metric(Metric {
            namespace: "train".into(),
            name: "label_transform".into(),
            data: vec![(json!("label_transform"), json!(0))],
            meta: json!({"name": "train", "metric_type": "LABEL_TRANSFORM", "label_encoder": shown}),
        })
    }
}

fn number_json(x: f64) -> Value {
    if x == x.trunc() && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Whether `schema` is a model's prediction output.
fn is_prediction(schema: &TableSchema) -> bool {
    schema.header.len() >= 3
        && schema.header[0] == LABEL
        && schema.header[1] == PREDICT_RESULT
        && schema.header[2] == PREDICT_SCORE
}

fn label_column(id: &TableId, schema: &TableSchema) -> Result<usize> {
    let label = schema.label_name.as_deref().ok_or_else(|| Error::MissingInput {
        component: MODULE.into(),
        what: format!(
            "a label column in {id} (DataTransform with `with_label: true`; a host without labels sets `need_run: false`)"
        ),
    })?;
    schema
        .column_index(label)
        .ok_or_else(|| Error::MissingColumn {
            table: id.to_string(),
            column: label.into(),
            why: "the table's label".into(),
        })
}

/// Builds the encoder from the data's labels and the parameters.
fn fit(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
    predictions: bool,
) -> Result<LabelTransformModel> {
    let param = LabelTransformParam::parse(&ctx.parameters)?;
    let columns: Vec<usize> = if predictions {
        [LABEL, PREDICT_RESULT]
            .iter()
            .filter_map(|c| info.schema.column_index(c))
            .collect()
    } else {
        vec![label_column(id, &info.schema)?]
    };
    let mut labels: Vec<f64> = Vec::new();
    scan_columns(ctx, id, info, |_, sids, values| {
        for &c in &columns {
            for (row, &v) in values[c].iter().enumerate() {
                if v.is_nan() {
                    return Err(Error::InvalidValue {
                        table: id.to_string(),
                        sid: sids.value(row).to_owned(),
                        column: info.schema.header[c].clone(),
                        reason: "the label is missing".into(),
                    });
                }
                if !labels.contains(&v) {
                    if labels.len() == MAX_CLASSES {
                        return Err(Error::InvalidValue {
                            table: id.to_string(),
                            sid: sids.value(row).to_owned(),
                            column: info.schema.header[c].clone(),
                            reason: format!("more than {MAX_CLASSES} distinct labels"),
                        });
                    }
                    labels.push(v);
                }
            }
        }
        Ok(())
    })?;
    labels.sort_by(f64::total_cmp);
    let mut pairs: Vec<(f64, f64)>;
    let mut key_types = param.key_types.clone();
    let mut value_types = param.value_types.clone();
    match param.encoder {
        None => {
            pairs = labels
                .iter()
                .enumerate()
                .map(|(i, &l)| (l, i as f64))
                .collect();
            for (i, &l) in labels.iter().enumerate() {
                key_types.insert(class_key(l), number_type(l).into());
                value_types.insert(class_key(l), number_type(i as f64).into());
            }
        }
        Some(given) => {
            pairs = given;
            let unmatched: Vec<f64> = labels
                .iter()
                .copied()
                .filter(|l| !pairs.iter().any(|(k, _)| k == l))
                .collect();
            if !unmatched.is_empty() {
                ctx.tracker.info(&format!(
                    "label_transform: labels {} of the data are not in label_encoder; they map to themselves",
                    unmatched.iter().map(|l| class_key(*l)).collect::<Vec<_>>().join(", ")
                ));
            }
            for l in unmatched {
                pairs.push((l, l));
                key_types.insert(class_key(l), number_type(l).into());
                value_types.insert(class_key(l), number_type(l).into());
            }
        }
    }
    let label_encoder = pairs
        .iter()
        .map(|&(k, v)| (class_key(k), class_key(v)))
        .collect();
    // Keys as the encoder writes them: re-key the types by the same strings.
    let rekey = |types: BTreeMap<String, String>| -> BTreeMap<String, String> {
        types
            .into_iter()
            .map(|(k, t)| (k.parse::<f64>().map_or(k, class_key), t))
            .collect()
    };
    Ok(LabelTransformModel {
        param: ModelParam {
            label_encoder,
            encoder_key_type: rekey(key_types),
            encoder_value_type: rekey(value_types),
        },
        meta: ModelMeta { need_run: true },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ctx, frame, rows, temp_store, upload};
    use fateflow_component_core::testing::RecordingTracker;
    use fateflow_component_core::{ModelInput, TableRef};
    use fateflow_tables::LocalTableStore;

    fn labelled(store: &LocalTableStore, name: &str, csv: &str) -> TableRef {
        let t = upload(store, name, csv);
        let (tracker, result) = crate::testing::transform(
            store,
            "data_transform_0",
            &t,
            json!({"with_label": true, "label_name": "y"}),
            None,
        );
        result.expect("data transform");
        tracker.output_data().pop().expect("output").1
    }

    fn run(
        store: &LocalTableStore,
        table: &TableRef,
        params: Value,
        model: Option<ModelInput>,
    ) -> Result<(RecordingTracker, TableRef)> {
        let tracker = RecordingTracker::new();
        {
            let mut c = ctx(store, &tracker, "label_transform_0", MODULE, params);
            c.inputs.data.insert("data".into(), vec![table.clone()]);
            c.inputs.model.extend(model);
            LabelTransform.run(&c)?;
        }
        let out = tracker.output_data().pop().expect("output").1;
        Ok((tracker, out))
    }

    #[test]
    fn labels_map_to_their_sorted_rank_by_default() {
        let (_dir, store) = temp_store();
        let t = labelled(&store, "lt", "id,y,x\na,7,1\nb,3,2\nc,7,3\nd,5,4\n");
        let (tracker, out) = run(&store, &t, json!({}), None).unwrap();
        let got = rows(&frame(&store, &out));
        let label = frame(&store, &out).column_index("y").unwrap();
        assert_eq!(
            ["a", "b", "c", "d"].map(|s| got[s][label]),
            [2.0, 0.0, 2.0, 1.0]
        );
        let (_, m) = tracker.models().pop().unwrap();
        let m = LabelTransformModel::from_component_model(&m).unwrap();
        assert_eq!(m.param.label_encoder["7"], "2");
        assert_eq!(m.param.encoder_key_type["3"], "int");
        let metric = tracker.metric("train", "label_transform").unwrap();
        assert_eq!(metric.meta["label_encoder"]["5"], json!(1));
    }

    #[test]
    fn a_given_encoder_swaps_and_unknown_labels_stay() {
        let (_dir, store) = temp_store();
        let t = labelled(&store, "lt2", "id,y,x\na,0,1\nb,1,2\nc,2,3\n");
        let (_, out) = run(
            &store,
            &t,
            json!({"label_encoder": {"0": 1, "1": 0}, "label_list": [0, 1]}),
            None,
        )
        .unwrap();
        let f = frame(&store, &out);
        let label = f.column_index("y").unwrap();
        let got = rows(&f);
        assert_eq!(["a", "b", "c"].map(|s| got[s][label]), [1.0, 0.0, 2.0]);
        let e = LabelTransformParam::parse(
            json!({"label_encoder": {"0": 1}, "label_list": [0, 1]})
                .as_object()
                .unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("label_list"), "{e}");
    }

    #[test]
    fn predictions_are_decoded_with_the_fitted_model() {
        let (_dir, store) = temp_store();
        let t = labelled(&store, "lt3", "id,y,x\na,0,1\nb,1,2\n");
        let (fitted, _) =
            run(&store, &t, json!({"label_encoder": {"0": 1, "1": 0}}), None).unwrap();
        let (_, model) = fitted.models().pop().unwrap();
        let preds = upload(
            &store,
            "preds",
            "id,label,predict_result,predict_score,type,predict_detail.0,predict_detail.1\n\
             a,1,1,0.9,0,0.1,0.9\nb,0,1,0.6,0,0.4,0.6\n",
        );
        let input = ModelInput {
            component: "label_transform_0".into(),
            alias: "model".into(),
            model,
        };
        let (_, out) = run(&store, &preds, json!({}), Some(input)).unwrap();
        let f = frame(&store, &out);
        assert_eq!(
            f.columns()[4..],
            [
                "predict_detail.1".to_string(),
                "predict_detail.0".to_string()
            ]
        );
        let got = rows(&f);
        assert_eq!(got["a"][..3], [0.0, 0.0, 0.9]);
        assert_eq!(got["b"][..2], [1.0, 0.0]);
    }

    #[test]
    fn without_data_the_model_is_passed_on() {
        let (_dir, store) = temp_store();
        let t = labelled(&store, "lt4", "id,y,x\na,0,1\nb,1,2\n");
        let (fitted, _) = run(&store, &t, json!({}), None).unwrap();
        let (_, model) = fitted.models().pop().unwrap();
        let tracker = RecordingTracker::new();
        let mut c = ctx(&store, &tracker, "label_transform_1", MODULE, json!({}));
        c.inputs.model.push(ModelInput {
            component: "label_transform_0".into(),
            alias: "model".into(),
            model: model.clone(),
        });
        LabelTransform.run(&c).unwrap();
        assert!(tracker.output_data().is_empty());
        assert_eq!(tracker.models().pop().unwrap().1, model);
        // Without a model either there is nothing to do, as at a host whose fitting
        // LabelTransform did not run.
        let tracker = RecordingTracker::new();
        let c = ctx(&store, &tracker, "label_transform_1", MODULE, json!({}));
        LabelTransform.run(&c).unwrap();
        assert!(tracker.output_data().is_empty() && tracker.models().is_empty());
    }

    #[test]
    fn a_table_without_labels_is_refused() {
        let (_dir, store) = temp_store();
        let t = upload(&store, "nolabel", "id,x\na,1\n");
        let e = run(&store, &t, json!({}), None).unwrap_err().to_string();
        assert!(e.contains("with_label"), "{e}");
    }
}
