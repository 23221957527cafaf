//! `PositiveUnlabeled`: relabels unlabeled rows (label 0) that a first model scores as
//! likely positives, for positive-unlabeled learning.
//!
//! Inputs (`data.data`): the training table and a model's predictions of it (the table
//! whose header has `predict_score`), in either order. Parameters and defaults are FATE
//! 1.x `PositiveUnlabeledParam`'s: `strategy` and `threshold` (0.9):
//!
//! - `probability`: rows labelled 0 with score ≥ threshold become 1;
//! - `quantity`: the first `int(threshold)` rows labelled 0, by descending score;
//! - `proportion`: rows labelled 0 among the first `int(n·threshold)` rows by score;
//! - `distribution`: rows labelled 0 among the first `int(n0/n·threshold)` rows (`n0`
//!   the rows labelled 0; FATE's formula, kept as it is).
//!
//! Ties in score keep the prediction table's row order (FATE's stable sort). The guest
//! writes the training table with the new labels (same rows, sids and partitions); a
//! host passes its table on. Summary and metric `train/positive_unlabeled` (`PU_MODEL`):
//! `count of converted unlabeled`.
//!
//! Memory: the sorting strategies hold a score and a label per prediction row (9 bytes)
//! to rank them, and the sids of the converted rows; probability streams.

use std::collections::HashSet;

use fateflow_domain::module::Kind::{Bool, Number, Str};
use fateflow_domain::module::{param, ModuleSchema, Param};
use fateflow_domain::Role;
use fateflow_tables::{TableId, TableInfo};
use serde_json::{json, Map, Value};

use crate::context::{Component, Metric, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::table_io::{copy_as_output, scan_columns, write_mapped_columns};
use fateflow_component_core::predict_output::{LABEL, PREDICT_SCORE};

/// The module name.
pub const MODULE: &str = "PositiveUnlabeled";

const POSITIVE_UNLABELED_PARAMS: &[Param] = &[
    param("strategy", Str, "\"probability\"", true),
    param("threshold", Number, "0.9", true),
    param("need_run", Bool, "true", true),
];

/// `PositiveUnlabeled`'s parameter schema.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[POSITIVE_UNLABELED_PARAMS],
    conditions: &[],
    supported: &[],
};

/// How rows are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// Score at least the threshold.
    Probability(f64),
    /// A number of rows.
    Quantity(usize),
    /// A share of all rows.
    Proportion(f64),
    /// FATE's `distribution`.
    Distribution(f64),
}

impl Strategy {
    /// Parses `strategy` and `threshold` with FATE's checks.
    pub fn parse(map: &Map<String, Value>) -> Result<Strategy> {
        let p = Params::with_schema(map, &SCHEMA);
        let strategy = p.get_choice(
            "strategy",
            &["probability", "quantity", "proportion", "distribution"],
        )?;
        let t = p.get_float("threshold")?;
        let bad = |expected: &str| {
            Error::param(
                "threshold",
                format!("strategy `{strategy}` needs {expected}, found {t}"),
            )
        };
        Ok(match strategy {
            "probability" if t > 0.0 && t < 1.0 => Strategy::Probability(t),
            "proportion" if t > 0.0 && t < 1.0 => Strategy::Proportion(t),
            "probability" | "proportion" => return Err(bad("a number between 0 and 1")),
            "quantity" if t >= 1.0 && t.fract() == 0.0 => Strategy::Quantity(t as usize),
            "quantity" => return Err(bad("a positive integer")),
            _ if t > 0.0 => Strategy::Distribution(t),
            _ => return Err(bad("a positive number")),
        })
    }
}

/// The rows (positions in scan order) of `rows` (label, score) that become positive.
fn converted(strategy: Strategy, rows: &[(f64, f64)]) -> Vec<usize> {
    let unlabeled = |i: &usize| rows[*i].0 == 0.0;
    if let Strategy::Probability(t) = strategy {
        return (0..rows.len())
            .filter(|i| unlabeled(i) && rows[*i].1 >= t)
            .collect();
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    // Stable: equal scores keep the table's order.
    order.sort_by(|a, b| rows[*b].1.total_cmp(&rows[*a].1));
    let n = rows.len() as f64;
    let top = match strategy {
        Strategy::Quantity(k) => {
            return order.into_iter().filter(unlabeled).take(k).collect();
        }
        Strategy::Proportion(t) => (n * t) as usize,
        Strategy::Distribution(t) => {
            let n0 = rows.iter().filter(|r| r.0 == 0.0).count() as f64;
            (n0 / n * t) as usize
        }
        Strategy::Probability(_) => unreachable!("handled above"),
    };
    order.into_iter().take(top).filter(unlabeled).collect()
}

/// FATE's `PositiveUnlabeled` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct PositiveUnlabeled;

impl Component for PositiveUnlabeled {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let strategy = Strategy::parse(&ctx.parameters)?;
        let tables: Vec<(TableId, TableInfo)> = ctx
            .inputs
            .data
            .get("data")
            .into_iter()
            .flatten()
            .map(|t| {
                let id = t.to_id("input.data")?;
                let info = ctx.tables.info(&id).map_err(|e| Error::table(&id, e))?;
                Ok((id, info))
            })
            .collect::<Result<_>>()?;
        let is_prediction = |info: &TableInfo| info.schema.column_index(PREDICT_SCORE).is_some();
        let train = tables.iter().find(|(_, i)| !is_prediction(i));
        let prediction = tables.iter().find(|(_, i)| is_prediction(i));
        let (train_id, train_info) = train.ok_or_else(|| Error::MissingInput {
            component: MODULE.into(),
            what: "the training table (input `data`, the one without predict_score)".into(),
        })?;
        let rows = ctx
            .tables
            .count(train_id)
            .map_err(|e| Error::table(train_id, e))?;
        if ctx.role != Role::Guest {
            // A host passes its table on.
            copy_as_output(ctx, train_id, train_info, rows)?;
            return Ok(());
        }
        let (pred_id, pred_info) = prediction.ok_or_else(|| Error::MissingInput {
            component: MODULE.into(),
            what: "a model's predictions of the training table (input `data`, a table with predict_score)".into(),
        })?;
        let label_col = train_info
            .schema
            .label_name
            .as_deref()
            .and_then(|l| train_info.schema.column_index(l))
            .ok_or_else(|| Error::MissingColumn {
                table: train_id.to_string(),
                column: "label".into(),
                why: "PositiveUnlabeled relabels the guest's training table".into(),
            })?;
        let (p_label, p_score) = match (
            pred_info.schema.column_index(LABEL),
            pred_info.schema.column_index(PREDICT_SCORE),
        ) {
            (Some(l), Some(s)) => (l, s),
            _ => {
                return Err(Error::MissingColumn {
                    table: pred_id.to_string(),
                    column: LABEL.into(),
                    why: format!(
                        "PositiveUnlabeled reads label and predict_score; the table has {}",
                        pred_info.schema.header.join(", ")
                    ),
                })
            }
        };
        // The prediction rows' (label, score), then the sids of the converted ones.
        let mut scored: Vec<(f64, f64)> = Vec::new();
        scan_columns(ctx, pred_id, pred_info, |_, _, cols| {
            scored.extend(
                cols[p_label]
                    .iter()
                    .zip(cols[p_score])
                    .map(|(l, s)| (*l, *s)),
            );
            Ok(())
        })?;
        let picked = converted(strategy, &scored);
        drop(scored);
        let mut wanted = vec![false; 0];
        if let Some(&max) = picked.iter().max() {
            wanted = vec![false; max + 1];
            for &i in &picked {
                wanted[i] = true;
            }
        }
        let mut sids: HashSet<String> = HashSet::with_capacity(picked.len());
        let mut position = 0usize;
        scan_columns(ctx, pred_id, pred_info, |_, batch_sids, cols| {
            for i in 0..cols.first().map_or(0, |c| c.len()) {
                if wanted.get(position + i) == Some(&true) {
                    sids.insert(batch_sids.value(i).to_owned());
                }
            }
            position += cols.first().map_or(0, |c| c.len());
            Ok(())
        })?;
        let mut count = 0u64;
        write_mapped_columns(
            ctx,
            train_id,
            train_info,
            rows,
            &train_info.schema,
            |batch_sids, cols| {
                for (i, label) in cols[label_col].iter_mut().enumerate() {
                    if sids.contains(batch_sids.value(i)) {
                        *label = 1.0;
                        count += 1;
                    }
                }
                Ok(())
            },
        )?;
        ctx.tracker.info(&format!(
            "positive_unlabeled: {strategy:?} converted {count} unlabeled rows of {train_id} ({rows} rows) to 1"
        ));
        ctx.tracker.log_metric(Metric {
            namespace: "train".into(),
            name: "positive_unlabeled".into(),
            data: vec![(json!("count of converted unlabeled"), json!(count))],
            meta: json!({"metric_type": "PU_MODEL"}),
        })?;
        ctx.tracker
            .set_summary(json!({"count of converted unlabeled": count}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Strategy> {
        Strategy::parse(v.as_object().unwrap())
    }

    #[test]
    fn parameters_follow_fate() {
        assert_eq!(parse(json!({})).unwrap(), Strategy::Probability(0.9));
        assert_eq!(
            parse(json!({"strategy": "quantity", "threshold": 10})).unwrap(),
            Strategy::Quantity(10)
        );
        for bad in [
            json!({"strategy": "quantity", "threshold": 0.5}),
            json!({"strategy": "proportion", "threshold": 1.5}),
            json!({"strategy": "probability", "threshold": 0}),
            json!({"strategy": "distribution", "threshold": -1}),
        ] {
            let e = parse(bad.clone()).unwrap_err().to_string();
            assert!(e.contains("threshold"), "{bad}: {e}");
        }
        assert!(parse(json!({"strategy": "random"}))
            .unwrap_err()
            .to_string()
            .contains("strategy"));
    }

    #[test]
    fn strategies_pick_as_fate() {
        // (label, score) in table order.
        let rows = [
            (0.0, 0.95),
            (1.0, 0.99),
            (0.0, 0.5),
            (0.0, 0.95),
            (0.0, 0.1),
        ];
        assert_eq!(converted(Strategy::Probability(0.9), &rows), vec![0, 3]);
        // Two unlabeled by score; ties keep table order.
        assert_eq!(converted(Strategy::Quantity(2), &rows), vec![0, 3]);
        assert_eq!(converted(Strategy::Quantity(9), &rows), vec![0, 3, 2, 4]);
        // The top int(5·0.4) = 2 rows are 1 (labelled) and 0.
        assert_eq!(converted(Strategy::Proportion(0.4), &rows), vec![0]);
        // int(4/5·3) = 2 rows.
        assert_eq!(converted(Strategy::Distribution(3.0), &rows), vec![0]);
    }
}
