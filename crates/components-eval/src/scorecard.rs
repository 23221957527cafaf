//! `Scorecard`: turns a binary model's predicted probabilities into credit scores.
//!
//! Purely local, on a prediction table (a model's output). Parameters and defaults are
//! FATE 1.x `ScorecardParam`'s: `method` `credit` (the only one), `offset` 500, `factor`
//! 20, `factor_base` 2, `upper_limit_ratio` 3, `lower_limit_value` 0.
//!
//! Per row, with `p = predict_score`: `p` within 1e-8 above 0 scores the upper limit
//! (`upper_limit_ratio · offset`), within 1e-8 of 1 the lower limit, outside `[0, 1]`
//! −1; otherwise `offset + factor / ln(factor_base) · ln((1 − p) / p)`. The score is
//! clipped to `[lower_limit_value, upper limit]` and rounded to 2 decimals (as Python's
//! `round`: the exact binary value, ties to even).
//!
//! Outputs: the data with FATE's columns `label`, `predict_result`, `predict_score`,
//! `credit_score` (same sids and partitions); the summary
//! `{"scorecard_compute_formula": "Score = 500 + 20 / ln(2) * ln(Odds)"}`. No model.

use fateflow_domain::module::Kind::{Bool, Number, Str};
use fateflow_domain::module::{param, ModuleSchema, Param};
use fateflow_tables::TableSchema;
use serde_json::{json, Map, Value};

use crate::context::{Component, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::predict_output::{LABEL, PREDICT_RESULT, PREDICT_SCORE};
use crate::table_io::{open_first_input, write_mapped_columns};

/// The module name.
pub const MODULE: &str = "Scorecard";

const SCORECARD_PARAMS: &[Param] = &[
    param("method", Str, "\"credit\"", true),
    param("offset", Number, "500", true),
    param("factor", Number, "20", true),
    param("factor_base", Number, "2", true),
    param("upper_limit_ratio", Number, "3", true),
    param("lower_limit_value", Number, "0", true),
    param("need_run", Bool, "true", true),
];

/// `Scorecard`'s parameter schema.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[SCORECARD_PARAMS],
    conditions: &[],
    supported: &[("method", &["credit"])],
};

/// FATE's `FLOAT_ZERO`.
const FLOAT_ZERO: f64 = 1e-8;

/// The parameters, defaults applied, each with the text Python prints for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorecardParam {
    /// `offset`.
    pub offset: f64,
    /// `factor`.
    pub factor: f64,
    /// `factor_base`.
    pub factor_base: f64,
    /// `upper_limit_ratio`.
    pub upper_limit_ratio: f64,
    /// `lower_limit_value`.
    pub lower_limit_value: f64,
    /// `Score = <offset> + <factor> / ln(<factor_base>) * ln(Odds)`, numbers as given.
    pub formula: String,
}

impl ScorecardParam {
    /// Parses `parameters`, naming the parameter in every error.
    pub fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        p.get_choice("method", &["credit"])?;
        let text = |name: &str| -> String {
            match p.value(name) {
                Some(Value::Number(n)) => n.to_string(),
                _ => p.schema_default(name).to_string(),
            }
        };
        let param = ScorecardParam {
            offset: p.get_float("offset")?,
            factor: p.get_float("factor")?,
            factor_base: p.get_float("factor_base")?,
            upper_limit_ratio: p.get_float("upper_limit_ratio")?,
            lower_limit_value: p.get_float("lower_limit_value")?,
            formula: format!(
                "Score = {} + {} / ln({}) * ln(Odds)",
                text("offset"),
                text("factor"),
                text("factor_base")
            ),
        };
        if !(param.factor_base > 0.0 && param.factor_base != 1.0) {
            return Err(Error::param(
                "factor_base",
                format!(
                    "expected a positive number other than 1 (it is a logarithm's base), found {}",
                    param.factor_base
                ),
            ));
        }
        Ok(param)
    }

    /// The credit score of predicted probability `p`.
    pub fn score(&self, p: f64) -> f64 {
        let upper = self.upper_limit_ratio * self.offset;
        let lower = self.lower_limit_value;
        let mut s = if (p - 0.0).abs() <= FLOAT_ZERO && p >= 0.0 {
            upper
        } else if (p - 1.0).abs() <= FLOAT_ZERO && p > 0.0 {
            lower
        } else if !(0.0..=1.0).contains(&p) {
            -1.0
        } else {
            let odds = (1.0 - p) / p;
            self.offset + self.factor / self.factor_base.ln() * odds.ln()
        };
        if s > upper {
            s = upper;
        }
        if s < lower {
            s = lower;
        }
        round2(s)
    }
}

/// Python's `round(x, 2)`: the exact binary value rounded to 2 decimals.
fn round2(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(x)
}

/// FATE's `Scorecard` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scorecard;

impl Component for Scorecard {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = ScorecardParam::parse(&ctx.parameters)?;
        let (id, info, rows) = open_first_input(ctx, MODULE, &["data", "test_data"])?;
        let header = &info.schema.header;
        if header.len() < 3
            || header[0] != LABEL
            || header[1] != PREDICT_RESULT
            || header[2] != PREDICT_SCORE
        {
            return Err(Error::MissingColumn {
                table: id.to_string(),
                column: PREDICT_SCORE.into(),
                why: format!(
                    "Scorecard reads a model's predictions (columns label, predict_result, predict_score, ...); this table has {}",
                    header.join(", ")
                ),
            });
        }
        let schema = TableSchema {
            header: [LABEL, PREDICT_RESULT, PREDICT_SCORE, "credit_score"]
                .map(String::from)
                .to_vec(),
            weight_name: None,
            ..info.schema.clone()
        };
        ctx.tracker.info(&format!(
            "scorecard: {} on {id} ({rows} rows)",
            param.formula
        ));
        write_mapped_columns(ctx, &id, &info, rows, &schema, |_, columns| {
            let scores: Vec<f64> = columns[2].iter().map(|&p| param.score(p)).collect();
            columns[3] = scores;
            Ok(())
        })?;
        ctx.tracker
            .set_summary(json!({"scorecard_compute_formula": param.formula}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ctx, frame, rows, temp_store, upload, RecordingTracker};

    fn param(v: Value) -> ScorecardParam {
        ScorecardParam::parse(v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn scores_follow_the_formula_and_its_limits() {
        let p = param(json!({}));
        assert_eq!(p.formula, "Score = 500 + 20 / ln(2) * ln(Odds)");
        // p = 0.2: odds 4, ln 4 / ln 2 = 2, so 500 + 40.
        assert_eq!(p.score(0.2), 540.0);
        assert_eq!(p.score(0.5), 500.0);
        assert_eq!(p.score(0.0), 1500.0);
        assert_eq!(p.score(1.0), 0.0);
        assert_eq!(p.score(1.5), 0.0);
        let hand = 500.0 + 20.0 / 2f64.ln() * (0.7f64 / 0.3).ln();
        assert_eq!(p.score(0.3), (hand * 100.0).round() / 100.0);
        // A tiny probability hits the upper limit.
        assert_eq!(p.score(1e-300), 1500.0);
        let q = param(json!({"offset": 600.5, "factor": 50, "lower_limit_value": 100}));
        assert_eq!(q.formula, "Score = 600.5 + 50 / ln(2) * ln(Odds)");
        assert_eq!(q.score(0.999_999), 100.0);
        assert!(ScorecardParam::parse(json!({"factor_base": 1}).as_object().unwrap()).is_err());
        assert!(ScorecardParam::parse(json!({"method": "fico"}).as_object().unwrap()).is_err());
    }

    #[test]
    fn the_output_has_fates_columns() {
        let (_dir, store) = temp_store();
        let t = upload(
            &store,
            "preds",
            "id,label,predict_result,predict_score,type,predict_detail.0,predict_detail.1\n\
             a,1,1,0.2,0,0.8,0.2\nb,0,0,0.5,0,0.5,0.5\n",
        );
        let tracker = RecordingTracker::new();
        let mut c = ctx(&store, &tracker, "scorecard_0", MODULE, json!({}));
        c.inputs.data.insert("data".into(), vec![t]);
        Scorecard.run(&c).unwrap();
        let out = tracker.output_data().pop().unwrap().1;
        let f = frame(&store, &out);
        assert_eq!(
            f.columns(),
            ["label", "predict_result", "predict_score", "credit_score"]
        );
        assert_eq!(rows(&f)["a"], [1.0, 1.0, 0.2, 540.0]);
        assert_eq!(
            tracker.summary().unwrap()["scorecard_compute_formula"],
            json!("Score = 500 + 20 / ln(2) * ln(Odds)")
        );
    }
}
