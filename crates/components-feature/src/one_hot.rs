//! `OneHotEncoder`: replaces integer-valued columns by one 0/1 column per value. Purely
//! local: each party encodes its own columns.
//!
//! Parameters and defaults are FATE 1.x `OneHotEncoderParam`'s: `transform_col_indexes`
//! (`-1`: every feature column) and `transform_col_names`, unioned (indexes first; an
//! index or name outside the header is skipped and logged, as FATE does).
//!
//! Fit: one pass collects each selected column's distinct values, which must be
//! integers (FATE: "Onehot input data support integer or string only"), at most
//! [`ONE_HOT_LIMIT`] per column. Column `x` with values 1 and 3 becomes `x_1`, `x_3`,
//! in place, values ascending (FATE keeps Python's set order, which is ascending for
//! small non-negative integers). Transform (also with a `OneHotEncoder` model among the
//! model inputs): a value's column is 1, the others 0; a value the fit never saw gives
//! all zeros, as in FATE. One pass, record batch by record batch.
//!
//! Outputs: the data (the label and unselected columns unchanged), the model (FATE's
//! `OneHotMeta{transform_col_names, header, need_run}` and
//! `OneHotParam{col_map: {column: {values, transformed_headers}}, result_header}`), the
//! summary `{original_dimension, transferred_dimension}`.

use std::collections::{BTreeMap, BTreeSet};

use fateflow_domain::module::Kind::{Bool, IntOrList, List};
use fateflow_domain::module::{describe_value, param, ModuleSchema, Param};
use fateflow_tables::{TableId, TableInfo, TableSchema};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::{Component, ComponentModel, ModelError, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::table_io::{feature_header, open_first_input, scan_columns, write_derived_columns};

/// The module name recorded in the model.
pub const MODULE: &str = "OneHotEncoder";

/// FATE's `ONE_HOT_LIMIT`: the most distinct values a column may have.
pub const ONE_HOT_LIMIT: usize = 1024;

const ONE_HOT_PARAMS: &[Param] = &[
    param("transform_col_indexes", IntOrList, "-1", true),
    param("transform_col_names", List, "null", true),
    param("need_run", Bool, "true", true),
];

/// `OneHotEncoder`'s parameter schema.
pub(crate) const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[ONE_HOT_PARAMS],
    conditions: &[],
    supported: &[],
};

/// The parameters, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OneHotParam {
    /// `None` for `-1`: every feature column.
    pub(crate) indexes: Option<Vec<i64>>,
    pub(crate) names: Vec<String>,
}

impl OneHotParam {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let indexes = match p.raw("transform_col_indexes") {
            None => None,
            Some(Value::Null) => Some(Vec::new()),
            Some(v) if v.as_i64() == Some(-1) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|i| {
                        i.as_i64().ok_or_else(|| {
                            Error::param(
                                "transform_col_indexes",
                                format!("expected column indexes, found {}", describe_value(i)),
                            )
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
            Some(v) => {
                return Err(Error::param(
                    "transform_col_indexes",
                    format!(
                        "expected -1 or a list of column indexes, found {}",
                        describe_value(v)
                    ),
                ))
            }
        };
        let names = p
            .list("transform_col_names")?
            .into_iter()
            .flatten()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    Error::param(
                        "transform_col_names",
                        format!("expected column names, found {}", describe_value(v)),
                    )
                })
            })
            .collect::<Result<_>>()?;
        Ok(OneHotParam { indexes, names })
    }

    /// The selected feature columns (indexes into `header`) and what was skipped.
    fn selected(&self, header: &[String]) -> (Vec<usize>, Vec<String>) {
        let Some(indexes) = &self.indexes else {
            return ((0..header.len()).collect(), Vec::new());
        };
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        for &i in indexes {
            match usize::try_from(i).ok().filter(|&i| i < header.len()) {
                Some(i) if !out.contains(&i) => out.push(i),
                Some(_) => {}
                None => skipped.push(format!("transform_col_indexes {i}")),
            }
        }
        for name in &self.names {
            match header.iter().position(|h| h == name) {
                Some(i) if !out.contains(&i) => out.push(i),
                Some(_) => {}
                None => skipped.push(format!("transform_col_names `{name}`")),
            }
        }
        (out, skipped)
    }
}

/// One encoded column (FATE's `ColsMap`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColsMap {
    /// The values seen, as text, in column order.
    pub values: Vec<String>,
    /// The new columns, one per value.
    pub transformed_headers: Vec<String>,
}

/// Fitted values (FATE's `OneHotParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// Encoded column → its values and new columns.
    pub col_map: BTreeMap<String, ColsMap>,
    /// The feature header after encoding.
    pub result_header: Vec<String>,
}

/// Settings (FATE's `OneHotMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The encoded columns.
    pub transform_col_names: Vec<String>,
    /// The feature header before encoding.
    pub header: Vec<String>,
    /// Always true: a task that does not run saves no model.
    pub need_run: bool,
}

/// A typed `OneHotEncoder` model.
#[derive(Debug, Clone, PartialEq)]
pub struct OneHotModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl OneHotModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> std::result::Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(OneHotModel { param, meta })
    }
}

/// FATE's `OneHotEncoder` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneHotEncoder;

impl Component for OneHotEncoder {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let (id, info, rows) = open_first_input(ctx, MODULE, &["data", "train_data", "test_data"])?;
        let header = feature_header(&info.schema);
        let model = match ctx.models_of(MODULE).next() {
            Some(input) => OneHotModel::from_component_model(&input.model).map_err(|e| {
                Error::InvalidModel {
                    component: input.component.clone(),
                    alias: input.alias.clone(),
                    module: MODULE.into(),
                    reason: e.to_string(),
                }
            })?,
            None => fit(ctx, &id, &info, &header)?,
        };
        encode(ctx, &id, &info, rows, &model)?;
        ctx.tracker.save_model(
            ctx.first_output_model_name("model"),
            &model.to_component_model(),
        )?;
        ctx.tracker.set_summary(json!({
            "original_dimension": model.meta.header.len(),
            "transferred_dimension": model.param.result_header.len(),
        }))
    }
}

fn fit(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
    header: &[String],
) -> Result<OneHotModel> {
    let param = OneHotParam::parse(&ctx.parameters)?;
    let (selected, skipped) = param.selected(header);
    if !skipped.is_empty() {
        ctx.tracker.info(&format!(
            "one_hot: skipping {} (not among the feature columns {} of {id}), as FATE does",
            skipped.join(", "),
            header.join(", ")
        ));
    }
    let cols: Vec<usize> = selected
        .iter()
        .map(|&f| info.schema.column_index(&header[f]).expect("a feature"))
        .collect();
    let mut values: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); cols.len()];
    let started = std::time::Instant::now();
    scan_columns(ctx, id, info, |_, sids, columns| {
        // Columns in parallel; each reports its first bad row.
        let bad: Option<(usize, usize, String)> = values
            .par_iter_mut()
            .zip(cols.par_iter())
            .enumerate()
            .filter_map(|(k, (seen, &c))| {
                let mut last = f64::NAN;
                for (row, &v) in columns[c].iter().enumerate() {
                    if v == last {
                        continue;
                    }
                    if !v.is_finite() || v != v.trunc() || v.abs() > 9.0e15 {
                        return Some((k, row, format!(
                            "{v}: one-hot encoding takes integers (FATE: \"Onehot input data support integer or string only\")"
                        )));
                    }
                    seen.insert(v as i64);
                    last = v;
                    if seen.len() > ONE_HOT_LIMIT {
                        return Some((k, row, format!(
                            "more than {ONE_HOT_LIMIT} distinct values in the column (FATE's ONE_HOT_LIMIT)"
                        )));
                    }
                }
                None
            })
            .min_by_key(|(k, row, _)| (*row, *k));
        match bad {
            Some((k, row, reason)) => Err(Error::InvalidValue {
                table: id.to_string(),
                sid: sids.value(row).to_owned(),
                column: header[selected[k]].clone(),
                reason,
            }),
            None => Ok(()),
        }
    })?;
    ctx.tracker.info(&format!(
        "one_hot: distinct values found in {:.2} s",
        started.elapsed().as_secs_f64()
    ));
    let mut col_map = BTreeMap::new();
    let mut result_header = Vec::new();
    for (f, name) in header.iter().enumerate() {
        match selected.iter().position(|&s| s == f) {
            Some(k) => {
                let vs: Vec<String> = values[k].iter().map(i64::to_string).collect();
                let new: Vec<String> = vs.iter().map(|v| format!("{name}_{v}")).collect();
                result_header.extend(new.iter().cloned());
                col_map.insert(
                    name.clone(),
                    ColsMap {
                        values: vs,
                        transformed_headers: new,
                    },
                );
            }
            None => result_header.push(name.clone()),
        }
    }
    ctx.tracker.info(&format!(
        "one_hot: {} of {} feature columns of {id} encoded, {} feature columns after",
        selected.len(),
        header.len(),
        result_header.len()
    ));
    Ok(OneHotModel {
        param: ModelParam {
            col_map,
            result_header,
        },
        meta: ModelMeta {
            transform_col_names: selected.iter().map(|&f| header[f].clone()).collect(),
            header: header.to_vec(),
            need_run: true,
        },
    })
}

/// What each output column is made of.
enum Source {
    /// An input column, copied.
    Copy(usize),
    /// 1 where input column `.0` equals `.1`, else 0.
    Indicator(usize, f64),
}

fn encode(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
    rows: u64,
    model: &OneHotModel,
) -> Result<()> {
    let schema = &info.schema;
    let mut sources = Vec::new();
    let mut out_header = Vec::new();
    for (c, name) in schema.header.iter().enumerate() {
        let encoded = model
            .param
            .col_map
            .get(name)
            .filter(|_| schema.is_feature(name));
        match encoded {
            None => {
                sources.push(Source::Copy(c));
                out_header.push(name.clone());
            }
            Some(map) => {
                for (v, h) in map.values.iter().zip(&map.transformed_headers) {
                    let value: f64 = v.parse().map_err(|_| Error::InvalidModel {
                        component: ctx.component.clone(),
                        alias: ctx.first_output_model_name("model").into(),
                        module: MODULE.into(),
                        reason: format!("column `{name}`: value `{v}` is not a number"),
                    })?;
                    sources.push(Source::Indicator(c, value));
                    out_header.push(h.clone());
                }
            }
        }
    }
    for column in model.param.col_map.keys() {
        if schema.column_index(column).is_none() {
            return Err(Error::MissingColumn {
                table: id.to_string(),
                column: column.clone(),
                why: "the one-hot model encodes it".into(),
            });
        }
    }
    let out_schema = TableSchema {
        header: out_header,
        ..schema.clone()
    };
    let started = std::time::Instant::now();
    write_derived_columns(ctx, id, info, rows, &out_schema, |_, columns| {
        Ok(sources
            .par_iter()
            .map(|s| match *s {
                Source::Copy(c) => columns[c].to_vec(),
                Source::Indicator(c, v) => columns[c]
                    .iter()
                    .map(|&x| if x == v { 1.0 } else { 0.0 })
                    .collect(),
            })
            .collect())
    })?;
    ctx.tracker.info(&format!(
        "one_hot: output written in {:.2} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fateflow_component_core::testing::{
        ctx, frame, rows, temp_store, upload, RecordingTracker,
    };
    use fateflow_component_core::ModelInput;

    #[test]
    fn integer_columns_become_indicator_columns_in_place() {
        let (_dir, store) = temp_store();
        let t = upload(
            &store,
            "oh",
            "id,a,b,c\nr0,1,0.5,3\nr1,3,1.5,3\nr2,1,2.5,-1\n",
        );
        let tracker = RecordingTracker::new();
        let mut c = ctx(
            &store,
            &tracker,
            "one_hot_0",
            MODULE,
            json!({"transform_col_indexes": [0, 2]}),
        );
        c.inputs.data.insert("data".into(), vec![t.clone()]);
        OneHotEncoder.run(&c).unwrap();
        let out = tracker.output_data().pop().unwrap().1;
        let f = frame(&store, &out);
        assert_eq!(f.columns(), ["a_1", "a_3", "b", "c_-1", "c_3"]);
        assert_eq!(rows(&f)["r1"], [0.0, 1.0, 1.5, 0.0, 1.0]);
        assert_eq!(rows(&f)["r2"], [1.0, 0.0, 2.5, 1.0, 0.0]);
        assert_eq!(
            tracker.summary().unwrap(),
            json!({"original_dimension": 3, "transferred_dimension": 5})
        );
        // The model applied to data with an unseen value gives zeros for it.
        let (_, model) = tracker.models().pop().unwrap();
        let t2 = upload(&store, "oh2", "id,a,b,c\nq0,2,0.5,3\n");
        let tracker2 = RecordingTracker::new();
        let mut c2 = ctx(&store, &tracker2, "one_hot_1", MODULE, json!({}));
        c2.inputs.data.insert("data".into(), vec![t2]);
        c2.inputs.model.push(ModelInput {
            component: "one_hot_0".into(),
            alias: "model".into(),
            model,
        });
        OneHotEncoder.run(&c2).unwrap();
        let f2 = frame(&store, &tracker2.output_data().pop().unwrap().1);
        assert_eq!(rows(&f2)["q0"], [0.0, 0.0, 0.5, 0.0, 1.0]);
    }

    #[test]
    fn non_integers_are_named() {
        let (_dir, store) = temp_store();
        let t = upload(&store, "oh3", "id,a\nr0,1\nr1,1.5\n");
        let tracker = RecordingTracker::new();
        let mut c = ctx(&store, &tracker, "one_hot_0", MODULE, json!({}));
        c.inputs.data.insert("data".into(), vec![t]);
        let e = OneHotEncoder.run(&c).unwrap_err().to_string();
        assert!(e.contains("`r1`") && e.contains("integers"), "{e}");
    }
}
