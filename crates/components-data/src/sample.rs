//! `FederatedSample`: a random or stratified sample of the rows.
//!
//! Parameters (FATE 1.x `SampleParam`): `mode` `random` (default), `stratified` or
//! `exact_by_weight` (every row with a weight above FATE's `FLOAT_ZERO` repeated
//! `ceil(weight)` times, the others dropped; the table needs `SampleWeight` upstream);
//! `method` `downsample` (default, without replacement) or `upsample` (with
//! replacement; repeated rows get new ids `<id>_<k>`); `fractions`: a number for
//! `random` (downsample ≤ 1), or `[[label, fraction], ...]` for `stratified`;
//! `random_state` (seed). In a hetero job the guest draws (it holds the labels) and
//! sends each host the `(id, new id)` pairs; every party writes its own rows.

use crate::context::{Component, Metric, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::rng::SplitMix;
use crate::table_io::{read_first_input, write_rows};
use fateflow_domain::module::Kind::{Any, Bool, Int, Str};
use fateflow_domain::module::{param, ModuleSchema, Param};
use fateflow_domain::Role;
use fateflow_federation::FederationExt;
use fateflow_tables::Frame;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// FATE 1.11's `FederatedSample` parameters.
const FEDERATED_SAMPLE_PARAMS: &[Param] = &[
    param("mode", Str, "\"random\"", true),
    param("method", Str, "\"downsample\"", true),
    param("fractions", Any, "null", true),
    param("random_state", Int, "null", true),
    param("task_type", Str, "\"hetero\"", false),
    param("need_run", Bool, "true", true),
];

/// `FederatedSample`'s parameter schema: what submit-time validation checks and this component reads.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: "FederatedSample",
    params: &[FEDERATED_SAMPLE_PARAMS],
    conditions: &[],
    supported: &[],
};

/// The component.
#[derive(Debug, Default, Clone, Copy)]
pub struct FederatedSample;

/// Draws `k` of `rows`: without replacement (downsample) or with (upsample).
fn draw(rng: &mut SplitMix, rows: &[usize], k: usize, upsample: bool) -> Vec<usize> {
    if rows.is_empty() {
        return Vec::new();
    }
    if upsample {
        return (0..k).map(|_| rows[rng.below(rows.len())]).collect();
    }
    let mut pool = rows.to_vec();
    let k = k.min(pool.len());
    for i in 0..k {
        let j = i + rng.below(pool.len() - i);
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool.sort_unstable();
    pool
}

fn fraction(v: &Value, what: &str, upsample: bool) -> Result<f64> {
    let f = v
        .as_f64()
        .ok_or_else(|| Error::param(what, format!("expected a number, found {v}")))?;
    if f < 0.0 || (!upsample && f > 1.0) {
        return Err(Error::param(
            what,
            format!(
                "{f} is not a valid fraction (downsample needs 0..=1; upsample allows more than 1)"
            ),
        ));
    }
    Ok(f)
}

/// The parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SampleParam {
    mode: &'static str,
    upsample: bool,
    /// Checked against the data when drawing.
    fractions: Value,
    random_state: Option<u64>,
}

impl SampleParam {
    /// Parses the parameters, with the schema's defaults.
    pub(crate) fn parse(map: &serde_json::Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let mode = p.get_choice("mode", &["random", "stratified", "exact_by_weight"])?;
        let upsample = p.get_choice("method", &["downsample", "upsample"])? == "upsample";
        let random_state = match p.value("random_state") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                Error::param(
                    "random_state",
                    format!("expected a non-negative integer, found {v}"),
                )
            })?),
        };
        Ok(SampleParam {
            mode,
            upsample,
            fractions: p.value("fractions").cloned().unwrap_or(Value::Null),
            random_state,
        })
    }
}

/// The guest's draw: `(row, new id)` pairs in output order.
fn sample(param: &SampleParam, frame: &Frame) -> Result<Vec<(usize, String)>> {
    let SampleParam {
        mode,
        upsample,
        ref fractions,
        random_state,
    } = *param;
    let mut rng = SplitMix::seeded(random_state);
    let picked: Vec<usize> = match mode {
        "random" => {
            let f = if fractions.is_null() {
                1.0
            } else {
                fraction(fractions, "fractions", upsample)?
            };
            let all: Vec<usize> = (0..frame.nrows()).collect();
            draw(
                &mut rng,
                &all,
                (f * frame.nrows() as f64).round() as usize,
                upsample,
            )
        }
        "exact_by_weight" => {
            let weight = frame
                .weight_name()
                .and_then(|w| frame.column_index(w))
                .ok_or_else(|| {
                    Error::param(
                        "mode",
                        "exact_by_weight repeats rows by their sample weight; this table has none (put SampleWeight before FederatedSample)",
                    )
                })?;
            let mut out = Vec::new();
            for i in 0..frame.nrows() {
                let w = frame.get(i, weight);
                if w > 1e-8 {
                    out.extend(std::iter::repeat_n(i, w.ceil() as usize));
                }
            }
            out
        }
        // `stratified`, the only other choice.
        _ => {
            let label = frame
                .label_name()
                .and_then(|l| frame.column_index(l))
                .ok_or_else(|| {
                    Error::param(
                        "mode",
                        "stratified sampling needs a label column (with_label in DataTransform)",
                    )
                })?;
            let pairs = fractions.as_array().ok_or_else(|| {
                Error::param(
                    "fractions",
                    "stratified mode expects [[label, fraction], ...]",
                )
            })?;
            let mut by_label: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for i in 0..frame.nrows() {
                by_label
                    .entry(frame.get(i, label).to_bits())
                    .or_default()
                    .push(i);
            }
            let mut out = Vec::new();
            for pair in pairs {
                let (Some(l), Some(f)) = (pair.get(0).and_then(Value::as_f64), pair.get(1)) else {
                    return Err(Error::param(
                        "fractions",
                        format!("expected [label, fraction], found {pair}"),
                    ));
                };
                let f = fraction(f, "fractions", upsample)?;
                let rows = by_label.get(&l.to_bits()).cloned().unwrap_or_default();
                out.extend(draw(
                    &mut rng,
                    &rows,
                    (f * rows.len() as f64).round() as usize,
                    upsample,
                ));
            }
            out
        }
    };
    let mut times: HashMap<usize, usize> = HashMap::new();
    Ok(picked
        .into_iter()
        .map(|i| {
            let k = times.entry(i).or_insert(0);
            let id = if *k == 0 {
                frame.sids()[i].clone()
            } else {
                format!("{}_{k}", frame.sids()[i])
            };
            *k += 1;
            (i, id)
        })
        .collect())
}

impl Component for FederatedSample {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = SampleParam::parse(&ctx.parameters)?;
        let (id, frame) = read_first_input(ctx, "FederatedSample", &["data", "train_data"])?;
        let tag = "sample";
        let chosen: Vec<(usize, String)> = match ctx.role {
            Role::Host => {
                let guest = ctx
                    .parties_of(Role::Guest)
                    .first()
                    .copied()
                    .ok_or_else(|| Error::param("role", "FederatedSample needs a guest"))?;
                let pairs: Vec<(String, String)> =
                    ctx.federation()?.get("sample_ids", tag, guest)?;
                let row_of: HashMap<&str, usize> = frame
                    .sids()
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.as_str(), i))
                    .collect();
                pairs
                    .into_iter()
                    .filter_map(|(orig, new)| row_of.get(orig.as_str()).map(|&i| (i, new)))
                    .collect()
            }
            _ => {
                let chosen = sample(&param, &frame)?;
                let hosts = ctx.parties_of(Role::Host);
                if ctx.role == Role::Guest && !hosts.is_empty() {
                    let pairs: Vec<(&str, &str)> = chosen
                        .iter()
                        .map(|(i, new)| (frame.sids()[*i].as_str(), new.as_str()))
                        .collect();
                    ctx.federation()?
                        .remote("sample_ids", tag, &pairs, &hosts)?;
                }
                chosen
            }
        };
        let count = chosen.len();
        let name = ctx.first_output_data_name("data").to_string();
        write_rows(ctx, &id, &frame, &chosen, false, &name)?;
        ctx.tracker.log_metric(Metric {
            namespace: "train".into(),
            name: "sample".into(),
            data: vec![
                (json!("sample_count"), json!(count)),
                (json!("original_count"), json!(frame.nrows())),
            ],
            meta: json!({"metric_type": "SAMPLE"}),
        })?;
        ctx.tracker.set_summary(json!({"sample_count": count}))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Frame {
        let sids = (0..n).map(|i| i.to_string()).collect();
        let values = (0..n)
            .flat_map(|i| [f64::from(u8::from(i % 4 == 0)), i as f64])
            .collect();
        Frame::new("id", vec!["y".into(), "x".into()], sids, values)
            .unwrap()
            .with_label("y")
            .unwrap()
    }

    fn run(params: Value, n: usize) -> Result<Vec<(usize, String)>> {
        sample(&SampleParam::parse(params.as_object().unwrap())?, &frame(n))
    }

    #[test]
    fn random_downsample_is_seeded_and_without_repeats() {
        let a = run(json!({"fractions": 0.3, "random_state": 5}), 100).unwrap();
        let b = run(json!({"fractions": 0.3, "random_state": 5}), 100).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 30);
        let mut rows: Vec<usize> = a.iter().map(|(i, _)| *i).collect();
        rows.dedup();
        assert_eq!(rows.len(), 30, "no row twice");
        assert!(run(json!({"fractions": 1.5}), 10)
            .unwrap_err()
            .to_string()
            .contains("fraction"));
    }

    #[test]
    fn stratified_upsample_renames_repeats() {
        let s = run(json!({"mode": "stratified", "method": "upsample", "fractions": [[1, 2.0], [0, 0.5]], "random_state": 1}), 100).unwrap();
        let positives = s.iter().filter(|(i, _)| i % 4 == 0).count();
        assert_eq!(positives, 50, "25 positives × 2");
        assert_eq!(s.len() - positives, 38, "75 negatives × 0.5, rounded");
        let mut ids: Vec<&String> = s.iter().map(|(_, id)| id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), s.len(), "repeated rows get new ids");
        assert!(run(json!({"mode": "stratified", "fractions": 0.5}), 10).is_err());
        assert!(run(json!({"mode": "bogus"}), 10)
            .unwrap_err()
            .to_string()
            .contains("mode"));
    }
}
