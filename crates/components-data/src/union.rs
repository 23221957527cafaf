//! `Union`: the rows of several tables with the same columns, one after the other.
//!
//! Inputs: every table under input key `data` (FATE: `{"data": {"data": ["a.data",
//! "b.data"]}}`). Each party unions its own tables; no federation. A later table's
//! row with an id already seen is dropped, unless `keep_duplicate` (then its id gets
//! the suffix `_<table index>`, as FATE renames duplicates). Tables must have the same
//! columns, unless `allow_missing`, which fills absent columns with NaN. Metric
//! `train`/`union`: rows taken per input and in total.

use crate::context::{Component, Metric, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use fateflow_domain::module::Kind::Bool;
use fateflow_domain::module::{param, ModuleSchema, Param};
use fateflow_tables::{Frame, RowLayout, WriteMode};
use serde_json::{json, Value};
use std::collections::HashSet;

/// FATE 1.11's `Union` parameters.
const UNION_PARAMS: &[Param] = &[
    param("need_run", Bool, "true", true),
    param("allow_missing", Bool, "false", true),
    param("keep_duplicate", Bool, "false", true),
];

/// `Union`'s parameter schema: what submit-time validation checks and this component reads.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: "Union",
    params: &[UNION_PARAMS],
    conditions: &[],
    supported: &[],
};

/// The component.
#[derive(Debug, Default, Clone, Copy)]
pub struct Union;

/// The parsed parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnionParam {
    pub(crate) keep_duplicate: bool,
    pub(crate) allow_missing: bool,
}

impl UnionParam {
    /// Parses the parameters, with the schema's defaults.
    pub(crate) fn parse(map: &serde_json::Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        Ok(UnionParam {
            keep_duplicate: p.get_bool("keep_duplicate")?,
            allow_missing: p.get_bool("allow_missing")?,
        })
    }
}

impl Component for Union {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let UnionParam {
            keep_duplicate,
            allow_missing,
        } = UnionParam::parse(&ctx.parameters)?;
        let inputs = ctx.inputs.data.get("data").cloned().unwrap_or_default();
        if inputs.is_empty() {
            return Err(Error::MissingInput {
                component: "Union".into(),
                what: "one or more input tables (input key `data`)".into(),
            });
        }
        let mut layouts = Vec::new();
        for t in &inputs {
            let id = t.to_id("input.data")?;
            let info = ctx.tables.info(&id).map_err(|e| Error::table(&id, e))?;
            layouts.push(info.layout == RowLayout::Text);
        }
        if layouts.iter().all(|text| *text) {
            return union_text(ctx, &inputs, keep_duplicate);
        }
        if let Some(k) = layouts.iter().position(|text| *text) {
            return Err(Error::param(
                "data",
                format!(
                    "table {} holds raw text lines and table {} numeric columns: Union takes \
                     tables of one kind (put a DataTransform before it for the text ones)",
                    inputs[k],
                    inputs[layouts.iter().position(|text| !*text).unwrap_or(0)]
                ),
            ));
        }
        let mut frames = Vec::new();
        for t in &inputs {
            let id = t.to_id("input.data")?;
            frames.push((
                t.clone(),
                fateflow_tables::read_all(ctx.tables, &id).map_err(|e| Error::table(&id, e))?,
            ));
        }
        let first = &frames[0].1;
        let mut columns: Vec<String> = first.columns().to_vec();
        for (t, f) in &frames[1..] {
            if f.columns() != first.columns() {
                if !allow_missing {
                    return Err(Error::param(
                        "allow_missing",
                        format!("table {t} has columns {:?}, the first table has {:?}; set allow_missing to fill the gaps", f.columns(), first.columns()),
                    ));
                }
                for c in f.columns() {
                    if !columns.contains(c) {
                        columns.push(c.clone());
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        let (mut sids, mut values, mut points) = (Vec::new(), Vec::new(), Vec::new());
        for (k, (t, f)) in frames.iter().enumerate() {
            let map: Vec<Option<usize>> = columns.iter().map(|c| f.column_index(c)).collect();
            let mut taken = 0usize;
            for i in 0..f.nrows() {
                let mut sid = f.sids()[i].clone();
                if !seen.insert(sid.clone()) {
                    if !keep_duplicate {
                        continue;
                    }
                    sid = format!("{sid}_{k}");
                    if !seen.insert(sid.clone()) {
                        continue;
                    }
                }
                sids.push(sid);
                values.extend(map.iter().map(|m| m.map_or(f64::NAN, |c| f.get(i, c))));
                taken += 1;
            }
            points.push((json!(t.to_string()), json!(taken)));
        }
        let total = sids.len();
        points.push((json!("total"), json!(total)));
        let mut out = Frame::new(first.sid_name(), columns, sids, values)
            .map_err(|e| Error::param("data", e.to_string()))?;
        out = out
            .with_roles_of(&first.schema())
            .map_err(|e| Error::param("data", e.to_string()))?;
        let name = ctx.first_output_data_name("data").to_string();
        let target = ctx.output_table(&name);
        let target_id = target.to_id("output")?;
        let partitions = ctx
            .tables
            .info(&frames[0].0.to_id("input.data")?)
            .map(|i| i.partitions)
            .unwrap_or(4);
        fateflow_tables::write_frame(ctx.tables, &target_id, &out, partitions, WriteMode::Replace)
            .map_err(|e| Error::table(&target_id, e))?;
        report(ctx, &name, &target, points, total)
    }
}

/// Records the output table, FATE's `union` metric (rows taken per input, total) and
/// the summary.
fn report(
    ctx: &TaskContext<'_>,
    name: &str,
    target: &crate::context::TableRef,
    points: Vec<(Value, Value)>,
    total: usize,
) -> Result<()> {
    ctx.tracker.save_output_data(name, target)?;
    ctx.tracker.log_metric(Metric {
        namespace: "train".into(),
        name: "union".into(),
        data: points,
        meta: json!({"metric_type": "UNION"}),
    })?;
    ctx.tracker.set_summary(json!({"total": total}))?;
    Ok(())
}

/// The union of raw-text tables (FATE's union of uploaded sparse or tag tables, which
/// DataTransform parses afterwards): lines kept as stored, ids as for numeric tables.
fn union_text(
    ctx: &TaskContext<'_>,
    inputs: &[crate::context::TableRef],
    keep_duplicate: bool,
) -> Result<()> {
    let first = inputs[0].to_id("input.data")?;
    let info = ctx
        .tables
        .info(&first)
        .map_err(|e| Error::table(&first, e))?;
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    let mut points = Vec::new();
    for (k, t) in inputs.iter().enumerate() {
        let id = t.to_id("input.data")?;
        let mut taken = 0usize;
        for batch in
            fateflow_tables::scan_text(ctx.tables, &id).map_err(|e| Error::table(&id, e))?
        {
            for (mut sid, line) in batch.map_err(|e| Error::table(&id, e))? {
                if !seen.insert(sid.clone()) {
                    if !keep_duplicate {
                        continue;
                    }
                    sid = format!("{sid}_{k}");
                    if !seen.insert(sid.clone()) {
                        continue;
                    }
                }
                rows.push(Ok((sid, line)));
                taken += 1;
            }
        }
        points.push((json!(t.to_string()), json!(taken)));
    }
    let total = rows.len();
    points.push((json!("total"), json!(total)));
    let name = ctx.first_output_data_name("data").to_string();
    let target = ctx.output_table(&name);
    let target_id = target.to_id("output")?;
    fateflow_tables::write_text(ctx.tables, &target_id, &info, rows, WriteMode::Replace)
        .map_err(|e| Error::table(&target_id, e))?;
    report(ctx, &name, &target, points, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::TableRef;
    use crate::testing::{context, RecordingTracker};
    use fateflow_tables::{LocalTableStore, TableId};

    fn table(
        store: &LocalTableStore,
        name: &str,
        cols: &[&str],
        rows: &[(&str, &[f64])],
    ) -> TableRef {
        let sids = rows.iter().map(|(s, _)| s.to_string()).collect();
        let values = rows.iter().flat_map(|(_, v)| v.iter().copied()).collect();
        let f = Frame::new(
            "id",
            cols.iter().map(|c| c.to_string()).collect(),
            sids,
            values,
        )
        .unwrap();
        fateflow_tables::write_frame(
            store,
            &TableId::new("t", name).unwrap(),
            &f,
            1,
            WriteMode::Replace,
        )
        .unwrap();
        TableRef::new("t", name)
    }

    fn run_union(store: &LocalTableStore, inputs: Vec<TableRef>, params: Value) -> Result<Frame> {
        let tracker = RecordingTracker::new();
        let mut ctx = context("union_0", "Union", params, store, &tracker);
        ctx.inputs.data.insert("data".into(), inputs);
        Union.run(&ctx)?;
        let (_, out) = tracker.output_data().pop().unwrap();
        Ok(fateflow_tables::read_all(store, &out.to_id("o").unwrap()).unwrap())
    }

    #[test]
    fn duplicates_dropped_or_renamed_and_missing_columns_filled() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalTableStore::open(dir.path()).unwrap();
        let a = table(&store, "a", &["x"], &[("1", &[1.0]), ("2", &[2.0])]);
        let b = table(&store, "b", &["x"], &[("2", &[20.0]), ("3", &[3.0])]);
        let out = run_union(&store, vec![a.clone(), b.clone()], json!({})).unwrap();
        assert_eq!(out.sids(), ["1", "2", "3"]);
        assert_eq!(
            out.column(0),
            vec![1.0, 2.0, 3.0],
            "the first table's row wins"
        );
        let out = run_union(&store, vec![a.clone(), b], json!({"keep_duplicate": true})).unwrap();
        assert_eq!(out.sids(), ["1", "2", "2_1", "3"]);
        let c = table(&store, "c", &["x", "z"], &[("9", &[9.0, 90.0])]);
        let err = run_union(&store, vec![a.clone(), c.clone()], json!({})).unwrap_err();
        assert!(err.to_string().contains("allow_missing"), "{err}");
        let out = run_union(&store, vec![a, c], json!({"allow_missing": true})).unwrap();
        assert_eq!(out.columns(), ["x", "z"]);
        assert!(out.get(0, 1).is_nan() && out.get(2, 1) == 90.0);
    }

    /// Stores lines as FATE's upload stores sparse and tag files: the id, then the rest.
    fn text(store: &LocalTableStore, name: &str, csv: &str) -> TableRef {
        let opts = fateflow_tables::UploadOptions::new("experiment", name);
        fateflow_tables::upload_text(store, csv.as_bytes(), &opts).unwrap();
        TableRef::new("experiment", name)
    }

    #[test]
    fn raw_text_tables_union_as_lines_and_do_not_mix_with_numeric_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalTableStore::open(dir.path()).unwrap();
        let t1 = text(&store, "tag1", "id,tags\n1,a:1\n2,b:2\n");
        let t2 = text(&store, "tag2", "id,tags\n2,c:3\n3,d:4\n");
        let tracker = RecordingTracker::new();
        let mut ctx = context(
            "union_0",
            "Union",
            json!({"keep_duplicate": true}),
            &store,
            &tracker,
        );
        ctx.inputs.data.insert("data".into(), vec![t1.clone(), t2]);
        Union.run(&ctx).unwrap();
        let (_, out) = tracker.output_data().pop().unwrap();
        let mut rows: Vec<(String, String)> =
            fateflow_tables::scan_text(&store, &out.to_id("o").unwrap())
                .unwrap()
                .flat_map(|b| b.unwrap())
                .collect();
        rows.sort();
        let want: Vec<(String, String)> =
            [("1", "a:1"), ("2", "b:2"), ("2_1", "c:3"), ("3", "d:4")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        assert_eq!(rows, want);
        assert_eq!(tracker.summary().unwrap()["total"], 4);
        let numeric = table(&store, "n", &["x"], &[("9", &[9.0])]);
        let e = run_union(&store, vec![t1, numeric], json!({})).unwrap_err();
        assert!(e.to_string().contains("one kind"), "{e}");
    }
}
