//! `HeteroDataSplit` (alias `DataSplit`) and `HomoDataSplit`: train, validate and test
//! sets.
//!
//! Hetero: the guest decides (it holds the labels, for `stratified`) and sends each host
//! the ids of every set; each party then writes its own rows. Homo: no communication,
//! every party splits its own rows with the same rules (its own labels for `stratified`). Outputs follow the DSL's
//! output data names: names containing `train`, `validate`/`eval` and `test` get those
//! sets; otherwise the first three names are train, validate, test in that order.
//!
//! Sizes follow FATE 1.x (`DataSplitParam`): `train_size`, `validate_size`,
//! `test_size` as fractions (floats) or counts (integers), not mixed. With none given:
//! 80 % train, 20 % validate, no test. Missing sizes take what is left, train first.
//! `shuffle` (default true) with `random_state` (a seed; default: random), and
//! `stratified` (per label class, guest side).

use crate::context::{Component, Metric, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::rng::SplitMix;
use crate::table_io::{read_first_input, write_rows};
use fateflow_domain::module::Kind::{Bool, Int, List, Number};
use fateflow_domain::module::{param, ModuleSchema, Param};
use fateflow_domain::Role;
use fateflow_federation::FederationExt;
use fateflow_tables::Frame;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// FATE 1.11's `HeteroDataSplit` parameters.
const HETERO_DATA_SPLIT_PARAMS: &[Param] = &[
    param("random_state", Int, "null", true),
    param("test_size", Number, "null", true),
    param("train_size", Number, "null", true),
    param("validate_size", Number, "null", true),
    param("stratified", Bool, "false", true),
    param("shuffle", Bool, "true", true),
    param("split_points", List, "null", true),
    param("need_run", Bool, "true", true),
];

/// `HeteroDataSplit`'s parameter schema: what submit-time validation checks and this component reads.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: "HeteroDataSplit",
    params: &[HETERO_DATA_SPLIT_PARAMS],
    conditions: &[],
    supported: &[],
};

/// `HomoDataSplit`'s parameter schema: the same parameters, each party on its own.
pub const HOMO_SCHEMA: ModuleSchema = ModuleSchema {
    name: "HomoDataSplit",
    params: &[HETERO_DATA_SPLIT_PARAMS],
    conditions: &[],
    supported: &[],
};

/// The component (`HeteroDataSplit`).
#[derive(Debug, Default, Clone, Copy)]
pub struct DataSplit;

/// `HomoDataSplit`: every party splits its own rows.
#[derive(Debug, Default, Clone, Copy)]
pub struct HomoDataSplit;

impl Component for HomoDataSplit {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = SplitParam::parse(&ctx.parameters)?;
        let (id, frame) = read_first_input(ctx, "HomoDataSplit", &["data", "train_data"])?;
        let assignment = assign(&param, &frame)?;
        write_sets(ctx, &id, &frame, &assignment)
    }
}

/// Which set a row goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    Train,
    Validate,
    Test,
}

/// The ids of each set, as the guest sends them.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Assignment {
    train: Vec<String>,
    validate: Vec<String>,
    test: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Size {
    Fraction(f64),
    Count(usize),
}

fn size_param(p: &Params<'_>, key: &str) -> Result<Option<Size>> {
    match p.value(key) {
        None => Ok(None),
        Some(Value::Number(n)) if n.is_u64() => {
            Ok(Some(Size::Count(n.as_u64().unwrap_or(0) as usize)))
        }
        Some(Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(-1.0);
            if (0.0..=1.0).contains(&f) {
                Ok(Some(Size::Fraction(f)))
            } else {
                Err(Error::param(
                    key,
                    format!("a fraction must be between 0 and 1, got {f}"),
                ))
            }
        }
        Some(other) => Err(Error::param(
            key,
            format!("expected a number, found {other}"),
        )),
    }
}

/// The parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SplitParam {
    /// Train, validate and test sizes, as given.
    sizes: [Option<Size>; 3],
    shuffle: bool,
    stratified: bool,
    random_state: Option<u64>,
    /// `split_points`, sorted: with `stratified`, a continuous label is stratified by
    /// the bin it falls in (FATE: `bisect_left` over the points; NaN after the last).
    split_points: Vec<f64>,
}

impl SplitParam {
    /// Parses the parameters, with the schema's defaults.
    pub(crate) fn parse(map: &serde_json::Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        let random_state = match p.value("random_state") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                Error::param(
                    "random_state",
                    format!("expected a non-negative integer, found {v}"),
                )
            })?),
        };
        let split_points = match p.value("split_points") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut points = items
                    .iter()
                    .map(|v| {
                        v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
                            Error::param("split_points", format!("expected numbers, found {v}"))
                        })
                    })
                    .collect::<Result<Vec<f64>>>()?;
                points.sort_by(f64::total_cmp);
                points
            }
            Some(v) => {
                return Err(Error::param(
                    "split_points",
                    format!("expected a list of numbers, found {v}"),
                ))
            }
        };
        Ok(SplitParam {
            split_points,
            sizes: [
                size_param(&p, "train_size")?,
                size_param(&p, "validate_size")?,
                size_param(&p, "test_size")?,
            ],
            shuffle: p.get_bool("shuffle")?,
            stratified: p.get_bool("stratified")?,
            random_state,
        })
    }
}

/// Counts of (train, validate, test) for `n` rows.
fn counts(param: &SplitParam, n: usize) -> Result<(usize, usize, usize)> {
    let sizes = param.sizes;
    let fractions = sizes
        .iter()
        .flatten()
        .filter(|s| matches!(s, Size::Fraction(_)))
        .count();
    let given = sizes.iter().flatten().count();
    if fractions != 0 && fractions != given {
        return Err(Error::param(
            "train_size",
            "train_size, validate_size and test_size must all be fractions or all counts",
        ));
    }
    if given == 0 {
        let validate = (0.2 * n as f64).ceil() as usize;
        return Ok((n - validate.min(n), validate.min(n), 0));
    }
    let count = |s: Option<Size>| -> Option<usize> {
        s.map(|s| match s {
            Size::Fraction(f) => (f * n as f64).round() as usize,
            Size::Count(c) => c,
        })
    };
    let (tr, va, te) = (count(sizes[0]), count(sizes[1]), count(sizes[2]));
    let fixed: usize = [tr, va, te].iter().flatten().sum();
    if fixed > n {
        return Err(Error::param(
            "train_size",
            format!("the sizes ask for {fixed} rows but the data has {n}"),
        ));
    }
    let left = n - fixed;
    Ok(match (tr, va, te) {
        (None, va, te) => (left, va.unwrap_or(0), te.unwrap_or(0)),
        (Some(tr), None, te) => (tr, left, te.unwrap_or(0)),
        (Some(tr), Some(va), None) => (tr, va, left),
        (Some(tr), Some(va), Some(te)) => (tr, va, te),
    })
}

fn assign(param: &SplitParam, frame: &Frame) -> Result<Assignment> {
    let SplitParam {
        shuffle,
        stratified,
        random_state,
        ..
    } = *param;
    let points = &param.split_points;
    let mut rng = SplitMix::seeded(random_state);
    // Groups of row indices: one per label class when stratified, else one.
    let groups: Vec<Vec<usize>> = if stratified {
        let label = frame
            .label_name()
            .and_then(|l| frame.column_index(l))
            .ok_or_else(|| {
                Error::param(
                    "stratified",
                    "stratified splitting needs a label column (with_label in DataTransform)",
                )
            })?;
        let mut by_class: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for i in 0..frame.nrows() {
            let y = frame.get(i, label);
            let class = if points.is_empty() {
                y.to_bits()
            } else if y.is_nan() {
                points.len() as u64
            } else {
                points.partition_point(|p| *p < y) as u64
            };
            by_class.entry(class).or_default().push(i);
        }
        by_class.into_values().collect()
    } else {
        vec![(0..frame.nrows()).collect()]
    };
    let (n_train, n_validate, _) = counts(param, frame.nrows())?;
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    let train_shares = apportion(n_train, &sizes);
    let remaining: Vec<usize> = sizes
        .iter()
        .zip(&train_shares)
        .map(|(s, t)| s - t)
        .collect();
    let validate_shares = apportion(n_validate, &remaining);
    let mut out = Assignment::default();
    for (g, mut rows) in groups.into_iter().enumerate() {
        if shuffle {
            rng.shuffle(&mut rows);
        }
        let (tr, va) = (train_shares[g], validate_shares[g]);
        for (k, &i) in rows.iter().enumerate() {
            let sid = frame.sids()[i].clone();
            if k < tr {
                out.train.push(sid);
            } else if k < tr + va {
                out.validate.push(sid);
            } else {
                out.test.push(sid);
            }
        }
    }
    Ok(out)
}

/// Splits `total` over groups in proportion to their sizes, exactly (largest
/// remainders), never giving a group more than it has.
fn apportion(total: usize, sizes: &[usize]) -> Vec<usize> {
    let all: usize = sizes.iter().sum();
    if all == 0 {
        return vec![0; sizes.len()];
    }
    let total = total.min(all);
    let exact: Vec<f64> = sizes
        .iter()
        .map(|&s| total as f64 * s as f64 / all as f64)
        .collect();
    let mut shares: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut left = total - shares.iter().sum::<usize>();
    for g in order.into_iter().cycle().take(sizes.len() * 2) {
        if left == 0 {
            break;
        }
        if shares[g] < sizes[g] {
            shares[g] += 1;
            left -= 1;
        }
    }
    shares
}

/// The output data name of each set.
fn output_names(ctx: &TaskContext<'_>) -> [(Set, Option<String>); 3] {
    let names = &ctx.output_data_names;
    let find = |keys: &[&str]| {
        names
            .iter()
            .find(|n| keys.iter().any(|k| n.contains(k)))
            .cloned()
    };
    let by_name = [
        find(&["train"]),
        find(&["validate", "eval"]),
        find(&["test"]),
    ];
    if by_name.iter().any(Option::is_some) {
        [
            (Set::Train, by_name[0].clone()),
            (Set::Validate, by_name[1].clone()),
            (Set::Test, by_name[2].clone()),
        ]
    } else {
        let at = |i: usize| names.get(i).cloned();
        [
            (Set::Train, at(0)),
            (Set::Validate, at(1)),
            (Set::Test, at(2)),
        ]
    }
}

impl Component for DataSplit {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let param = SplitParam::parse(&ctx.parameters)?;
        let (id, frame) = read_first_input(ctx, "HeteroDataSplit", &["data", "train_data"])?;
        let tag = "data_split";
        let assignment = match ctx.role {
            Role::Guest => {
                let a = assign(&param, &frame)?;
                let hosts = ctx.parties_of(Role::Host);
                if !hosts.is_empty() {
                    ctx.federation()?.remote("split_ids", tag, &a, &hosts)?;
                }
                a
            }
            Role::Host => {
                let guest = ctx
                    .parties_of(Role::Guest)
                    .first()
                    .copied()
                    .ok_or_else(|| Error::param("role", "HeteroDataSplit needs a guest"))?;
                ctx.federation()?
                    .get::<Assignment>("split_ids", tag, guest)?
            }
            // A single-party (local) split decides for itself.
            _ => assign(&param, &frame)?,
        };
        write_sets(ctx, &id, &frame, &assignment)
    }
}

/// Writes each set's rows under its output name, with FATE's metric and summary.
fn write_sets(
    ctx: &TaskContext<'_>,
    id: &fateflow_tables::TableId,
    frame: &Frame,
    assignment: &Assignment,
) -> Result<()> {
    let row_of: HashMap<&str, usize> = frame
        .sids()
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut points = Vec::new();
    for (set, name) in output_names(ctx) {
        let ids = match set {
            Set::Train => &assignment.train,
            Set::Validate => &assignment.validate,
            Set::Test => &assignment.test,
        };
        let label = match set {
            Set::Train => "train",
            Set::Validate => "validate",
            Set::Test => "test",
        };
        let rows: Vec<usize> = ids
            .iter()
            .filter_map(|s| row_of.get(s.as_str()).copied())
            .collect();
        points.push((json!(label), json!(rows.len())));
        let Some(name) = name else {
            if !rows.is_empty() {
                ctx.tracker.info(&format!(
                    "{} {label} rows dropped: the DSL declares no output for them",
                    rows.len()
                ));
            }
            continue;
        };
        let rows: Vec<(usize, String)> = rows
            .into_iter()
            .map(|i| (i, frame.sids()[i].clone()))
            .collect();
        write_rows(ctx, id, frame, &rows, false, &name)?;
    }
    ctx.tracker.log_metric(Metric {
        namespace: "train".into(),
        name: "data_split".into(),
        data: points.clone(),
        meta: json!({"metric_type": "DATA_SPLIT"}),
    })?;
    let summary: serde_json::Map<String, Value> = points
        .iter()
        .map(|(k, v)| (format!("{}_count", k.as_str().unwrap_or("")), v.clone()))
        .collect();
    ctx.tracker.set_summary(Value::Object(summary))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homo_split_runs_at_each_party_without_talking_to_the_others() {
        use crate::context::TaskInputs;
        use crate::testing::{context, temp_store, upload, RecordingTracker};
        let (_dir, store) = temp_store();
        let csv: String = std::iter::once("id,y,x0\n".to_string())
            .chain((0..100).map(|i| format!("{i},{},{i}\n", i % 2)))
            .collect();
        let table = upload(&store, "homo", &csv);
        for role in [Role::Guest, Role::Host] {
            let tracker = RecordingTracker::new();
            let mut ctx = context(
                "homo_data_split_0",
                "HomoDataSplit",
                json!({"test_size": 0.3, "validate_size": 0.2, "random_state": 7}),
                &store,
                &tracker,
            );
            ctx.role = role;
            ctx.party_id = if role == Role::Guest { 9999 } else { 10000 };
            ctx.roles = BTreeMap::from([(Role::Guest, vec![9999]), (Role::Host, vec![10000])]);
            ctx.output_data_names = vec![
                "train_data".into(),
                "validate_data".into(),
                "test_data".into(),
            ];
            ctx.inputs = TaskInputs {
                data: BTreeMap::from([("data".to_string(), vec![table.clone()])]),
                ..Default::default()
            };
            // No federation in the context: a homo split must not need one.
            HomoDataSplit.run(&ctx).unwrap();
            let outputs: Vec<String> = tracker.output_data().into_iter().map(|(n, _)| n).collect();
            assert_eq!(
                outputs,
                ["train_data", "validate_data", "test_data"],
                "{role:?}"
            );
            let summary = tracker.summary().unwrap();
            assert_eq!(
                (
                    &summary["train_count"],
                    &summary["validate_count"],
                    &summary["test_count"]
                ),
                (&json!(50), &json!(20), &json!(30)),
                "{role:?}"
            );
        }
    }

    #[test]
    fn split_points_stratify_a_continuous_label_by_its_bin() {
        // Labels 0.00, 0.01, ..., 0.99; points 0.2 and 0.5 make bins of 21, 30 and 49
        // (bisect_left: 0.2 belongs to the first bin, 0.5 to the second).
        let n = 100;
        let sids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let values: Vec<f64> = (0..n).flat_map(|i| [i as f64 / 100.0, 1.0]).collect();
        let frame = Frame::new("id", vec!["y".into(), "x0".into()], sids, values)
            .unwrap()
            .with_label("y")
            .unwrap();
        let params = json!({"random_state": 3, "stratified": true, "test_size": 0.3, "split_points": [0.5, 0.2]});
        let param = SplitParam::parse(params.as_object().unwrap()).unwrap();
        assert_eq!(param.split_points, [0.2, 0.5]);
        let a = assign(&param, &frame).unwrap();
        let bin = |s: &String| match s.parse::<f64>().unwrap() / 100.0 {
            y if y <= 0.2 => 0,
            y if y <= 0.5 => 1,
            _ => 2,
        };
        let mut test = [0; 3];
        for s in &a.test {
            test[bin(s)] += 1;
        }
        // 30 test rows shared 21:30:49 → 6.3, 9, 14.7 → 6, 9, 15 (largest remainders).
        assert_eq!(test.iter().sum::<usize>(), 30);
        for (got, size) in test.iter().zip([21.0, 30.0, 49.0]) {
            assert!((*got as f64 - size * 0.3).abs() <= 1.0, "{test:?}");
        }
        let e = SplitParam::parse(json!({"split_points": ["a"]}).as_object().unwrap()).unwrap_err();
        assert!(e.to_string().contains("split_points"), "{e}");
    }

    #[test]
    fn sizes_follow_fate_rules() {
        let c = |p: Value| counts(&SplitParam::parse(p.as_object().unwrap())?, 100);
        assert_eq!(c(json!({})).unwrap(), (80, 20, 0));
        assert_eq!(c(json!({"test_size": 0.3})).unwrap(), (70, 0, 30));
        assert_eq!(c(json!({"validate_size": 0.25})).unwrap(), (75, 25, 0));
        assert_eq!(
            c(json!({"train_size": 0.6, "validate_size": 0.2})).unwrap(),
            (60, 20, 20)
        );
        assert_eq!(
            c(json!({"train_size": 50, "test_size": 10})).unwrap(),
            (50, 40, 10)
        );
        assert!(c(json!({"train_size": 0.5, "test_size": 10}))
            .unwrap_err()
            .to_string()
            .contains("all be fractions or all counts"));
        assert!(c(json!({"train_size": 90, "test_size": 20}))
            .unwrap_err()
            .to_string()
            .contains("110 rows"));
        assert!(c(json!({"test_size": 1.5})).is_err());
    }

    #[test]
    fn same_seed_same_split_and_stratified_keeps_class_shares() {
        let n = 200;
        let sids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let values: Vec<f64> = (0..n)
            .flat_map(|i| [f64::from(u8::from(i % 4 == 0)), i as f64])
            .collect();
        let frame = Frame::new("id", vec!["y".into(), "x0".into()], sids, values)
            .unwrap()
            .with_label("y")
            .unwrap();
        let params = json!({"random_state": 42, "stratified": true, "test_size": 0.25});
        let param = SplitParam::parse(params.as_object().unwrap()).unwrap();
        let a = assign(&param, &frame).unwrap();
        let b = assign(&param, &frame).unwrap();
        assert_eq!(a.train, b.train);
        assert_eq!(
            (a.train.len(), a.validate.len(), a.test.len()),
            (150, 0, 50)
        );
        let positives = |ids: &[String]| {
            ids.iter()
                .filter(|s| s.parse::<usize>().unwrap() % 4 == 0)
                .count()
        };
        assert_eq!(
            positives(&a.test),
            13,
            "train takes 37.5 of the 50 positives: the tied remainder goes to the first class (label 0), so 37 train, 13 test"
        );
        assert_eq!(apportion(5, &[1, 1, 8]), vec![1, 0, 4]);
        assert_eq!(
            apportion(99, &[2, 3]),
            vec![2, 3],
            "never more than a group has"
        );
        let mut all: Vec<&String> = a.train.iter().chain(&a.test).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "every row in exactly one set");
    }
}
