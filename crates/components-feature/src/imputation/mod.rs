//! `FeatureImputation`: fills missing cells of feature columns, fit then transform.
//!
//! Purely local. Parameters and defaults are FATE 1.x `FeatureImputationParam`'s:
//!
//! - `missing_fill_method` (`min`, `max`, `mean`, `designated`; default none) is every
//!   column's method, `col_missing_fill_method` (`{column: method}`) overrides it per
//!   column; a column with neither is not imputed, so by default nothing is (FATE's
//!   behaviour). `median` is accepted too (FATE's imputer has it, its parameter check
//!   refuses it).
//! - `default_value` (0): the `designated` value, one number or one per feature column.
//! - `missing_impute`: the values that count as missing. By default FATE's list
//!   (`''`, `none`, `null`, `na`, `None`, NaN), which in a numeric table means the NaN
//!   cells; given, exactly the numbers listed (NaN only if `"nan"` is listed).
//!
//! Fit: one pass for the statistics the methods need (over each column's values that are
//! neither missing nor NaN; median from FATE's quantile summary, as `DataStatistics`),
//! then one pass writing the output, record batch by record batch, the missing cells of
//! imputed columns replaced by their column's value. Transform (a `FeatureImputation`
//! model among the model inputs): the model's values, missing list and skipped columns
//! are applied; the task's parameters are ignored.
//!
//! Outputs: the data (same schema, sids and partitions), the model (FATE's
//! `FeatureImputationMeta` / `FeatureImputationParam`), and in fit the summary FATE sets:
//! `missing_value`, `missing_impute_value` (every column's value, 0 for skipped ones),
//! `missing_impute_rate` (share of rows filled per column), `skip_cols`.
//!
//! Departures from FATE: text fill values are refused (the tables hold numbers); a
//! column whose statistic has no value (every cell missing) fails naming it.

pub mod model;
pub(crate) mod param;

use fateflow_tables::{TableId, TableInfo};
use serde_json::{json, Map, Value};

use crate::context::{Component, ModelInput, TaskContext};
use crate::error::{Error, Result};
use crate::statistics::param::Metric;
use crate::statistics::{describe, Describe};
use crate::table_io::{feature_header, open_first_input, write_mapped_columns};

pub use model::ImputationModel;
use model::{ImputerMeta, ImputerParam, ModelMeta, ModelParam, MODULE};
use param::{python_float, Fill, ImputationParam, Missing};

/// Input data keys tried in order.
const INPUT_KEYS: [&str; 2] = ["data", "train_data"];

/// FATE's quantile error for the median.
const QUANTILE_ERROR: f64 = 1e-4;

/// FATE's `FeatureImputation` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeatureImputation;

impl Component for FeatureImputation {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let (id, info, rows) = open_first_input(ctx, MODULE, &INPUT_KEYS)?;
        match ctx.models_of(MODULE).next() {
            Some(model) => transform(ctx, &id, &info, rows, model),
            None => fit(ctx, &id, &info, rows),
        }
    }
}

fn fit(ctx: &TaskContext<'_>, id: &TableId, info: &TableInfo, rows: u64) -> Result<()> {
    let param = ImputationParam::parse(&ctx.parameters)?;
    let header = feature_header(&info.schema);
    let methods = param.methods(&header)?;
    let table_col = |f: usize| {
        info.schema
            .column_index(&header[f])
            .expect("a feature is a header column")
    };
    // Statistics, only for the columns whose method needs one.
    let wanted: Vec<usize> = (0..header.len())
        .filter(|&f| methods[f].is_some_and(Fill::needs_statistics))
        .collect();
    let abnormal: Vec<f64> = match &param.missing {
        Missing::Default => Vec::new(),
        Missing::Given { numbers, .. } => numbers.clone(),
    };
    let columns: Vec<(usize, &str)> = wanted
        .iter()
        .map(|&f| (table_col(f), header[f].as_str()))
        .collect();
    let mut described = if columns.is_empty() {
        Vec::new()
    } else {
        let median = methods.contains(&Some(Fill::Median));
        let how = Describe {
            abnormal: &abnormal,
            quantile_error: median.then_some(QUANTILE_ERROR),
            bias: true,
        };
        describe(ctx, id, info, rows, &columns, &how)?
    };
    let mut values = vec![0.0; header.len()];
    let mut types = vec!["int"; header.len()];
    for (f, method) in methods.iter().enumerate() {
        let Some(method) = method else { continue };
        let (value, kind) = match method {
            Fill::Designated => (param.designated(f), param.designated_type(f)),
            m => {
                let k = wanted.iter().position(|&w| w == f).expect("described");
                let stat = match m {
                    Fill::Min => Metric::Min,
                    Fill::Max => Metric::Max,
                    Fill::Mean => Metric::Mean,
                    _ => Metric::Median,
                };
                let v = described[k].value(stat).ok_or_else(|| Error::NoStatistic {
                    table: id.to_string(),
                    column: header[f].clone(),
                    statistic: m.as_str(),
                    parameter: "missing_fill_method",
                })?;
                (v, "float64")
            }
        };
        values[f] = value;
        types[f] = kind;
    }
    let fills: Vec<(usize, usize, f64)> = methods
        .iter()
        .enumerate()
        .filter(|(_, m)| m.is_some())
        .map(|(f, _)| (f, table_col(f), values[f]))
        .collect();
    ctx.tracker.info(&format!(
        "feature_imputation: filling {} of {} feature columns of {id} ({rows} rows)",
        fills.len(),
        header.len()
    ));
    let started = std::time::Instant::now();
    let filled = impute(ctx, id, info, rows, &fills, &param.missing, header.len())?;
    ctx.tracker.info(&format!(
        "feature_imputation: output written in {:.2} s",
        started.elapsed().as_secs_f64()
    ));
    let rates: Vec<f64> = filled.iter().map(|&c| c as f64 / rows as f64).collect();
    let skip_cols: Vec<String> = methods
        .iter()
        .zip(&header)
        .filter(|(m, _)| m.is_none())
        .map(|(_, h)| h.clone())
        .collect();
    let listed = param.missing.listed();
    let model = ImputationModel {
        param: ModelParam {
            header: header.clone(),
            imputer_param: ImputerParam {
                missing_replace_value: fills
                    .iter()
                    .map(|&(f, _, v)| (header[f].clone(), fill_text(v, types[f])))
                    .collect(),
                missing_replace_value_type: fills
                    .iter()
                    .map(|&(f, _, _)| (header[f].clone(), types[f].to_owned()))
                    .collect(),
                missing_value_ratio: header.iter().cloned().zip(rates.iter().copied()).collect(),
                cols_replace_method: header
                    .iter()
                    .zip(&methods)
                    .map(|(h, m)| (h.clone(), m.map_or("None", Fill::as_str).to_owned()))
                    .collect(),
                skip_cols: skip_cols.clone(),
            },
        },
        meta: ModelMeta {
            need_run: true,
            imputer_meta: ImputerMeta {
                is_imputer: true,
                strategy: String::new(),
                missing_value: listed.iter().map(|(v, _)| v.clone()).collect(),
                missing_value_type: listed.iter().map(|(_, t)| (*t).to_owned()).collect(),
            },
        },
    };
    ctx.tracker.save_model(
        ctx.first_output_model_name("model"),
        &model.to_component_model(),
    )?;
    let by_column = |xs: &[f64]| -> Map<String, Value> {
        header
            .iter()
            .cloned()
            .zip(xs.iter().map(|&x| json!(x)))
            .collect()
    };
    ctx.tracker.set_summary(json!({
        "missing_value": listed.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>(),
        "missing_impute_value": by_column(&values),
        "missing_impute_rate": by_column(&rates),
        "skip_cols": skip_cols,
    }))
}

/// A fill value as FATE's model records it: Python's `str()` of an `int` or a float.
fn fill_text(v: f64, kind: &str) -> String {
    if kind == "int" && v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        python_float(v)
    }
}

fn transform(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
    rows: u64,
    input: &ModelInput,
) -> Result<()> {
    let bad_model = |reason: String| Error::InvalidModel {
        component: input.component.clone(),
        alias: input.alias.clone(),
        module: MODULE.into(),
        reason,
    };
    let model = ImputationModel::from_component_model(&input.model)
        .map_err(|e| bad_model(e.to_string()))?;
    let p = &model.param.imputer_param;
    let missing = Missing::from_listed(
        &model.meta.imputer_meta.missing_value,
        &model.meta.imputer_meta.missing_value_type,
    );
    let header = feature_header(&info.schema);
    let mut fills = Vec::new();
    for (column, text) in &p.missing_replace_value {
        let value: f64 = text.parse().map_err(|_| {
            bad_model(format!(
                "column `{column}`: fill value `{text}` is not a number"
            ))
        })?;
        let f = header
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| Error::MissingColumn {
                table: id.to_string(),
                column: column.clone(),
                why: "the imputation model fills it".into(),
            })?;
        let col = info
            .schema
            .column_index(column)
            .expect("a feature is a header column");
        fills.push((f, col, value));
    }
    fills.sort_by_key(|&(f, _, _)| f);
    ctx.tracker.info(&format!(
        "feature_imputation: filling {} columns of {id} ({rows} rows) with the model of {}",
        fills.len(),
        input.component
    ));
    impute(ctx, id, info, rows, &fills, &missing, header.len())?;
    ctx.tracker
        .save_model(ctx.first_output_model_name("model"), &input.model)
}

/// Writes the output with the missing cells of each `(feature, table column, value)`
/// replaced; returns the number of cells filled per feature column.
fn impute(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
    rows: u64,
    fills: &[(usize, usize, f64)],
    missing: &Missing,
    features: usize,
) -> Result<Vec<u64>> {
    let mut filled = vec![0u64; features];
    write_mapped_columns(ctx, id, info, rows, &info.schema, |_, columns| {
        for &(f, col, value) in fills {
            for cell in columns[col].iter_mut() {
                if missing.is_missing(*cell) {
                    *cell = value;
                    filled[f] += 1;
                }
            }
        }
        Ok(())
    })?;
    Ok(filled)
}

#[cfg(test)]
mod tests;
