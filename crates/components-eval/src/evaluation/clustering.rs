//! `eval_type: clustering`: FATE's clustering metrics on the output of a clustering
//! component (`HeteroKmeans`).
//!
//! The table decides which metrics apply, as in FATE:
//!
//! - `label` and `predicted_label` (a client's output): with labels, the external
//!   metrics `jaccard_similarity_score` (weighted), `fowlkes_mallows_score`,
//!   `adjusted_rand_score` (single values) and `contingency_matrix`; where every label is
//!   missing (a host) nothing is computed;
//! - `cluster_inner_dist`, `max_radius` and `inter_cluster_dist.<j>` (the arbiter's
//!   cluster table, sid = cluster index): the internal metrics `davies_bouldin_index`
//!   (single value) and `distance_measure`;
//! - `predicted_cluster_index` (the arbiter's per-sample table): nothing, as in FATE.
//!
//! A requested metric that does not fit the table is skipped with a log line. Rows are
//! grouped by their `type` code (0 train, 1 validate, 2 predict), the namespace.
//!
//! Metrics, data set `N`, namespace `S`: `N` with metric type
//! `CLUSTERING_EVALUATION_SUMMARY` and points `[metric, value]`; `N_contingency_matrix`
//! (`CONTINGENCY_MATRIX`, meta `true_labels`, `predicted_labels`, `result_table`);
//! `N_distance_measure` (`DISTANCE_MEASURE`, meta `cluster_index`, `radius`,
//! `nearest_idx`). Departures: contingency rows are the distinct labels in ascending
//! order (FATE indexes rows by the label's value, which fails unless labels are
//! `0..n-1`); `distance_measure`'s `cluster_index` and `nearest_idx` are the clusters'
//! own indexes (FATE's are positions, the same when no cluster is empty).

use std::collections::BTreeMap;

use fateflow_tables::read_all;
use serde_json::{json, Map, Value};

use super::metrics::{self, Contingency};
use super::param::{EvaluationParam, MetricName};
use super::{class_json, Report};
use crate::context::{Metric, TableRef, TaskContext};
use crate::error::{Error, Result};
use crate::predict_output::{self, DataType};

const PREDICTED_LABEL: &str = "predicted_label";
const INNER: &str = "cluster_inner_dist";
const RADIUS: &str = "max_radius";
const INTER_PREFIX: &str = "inter_cluster_dist.";
const PER_SAMPLE: &str = "predicted_cluster_index";

/// Evaluates one table; returns its summary (`{namespace: {metric: value}}`).
pub(super) fn evaluate(
    ctx: &TaskContext<'_>,
    param: &EvaluationParam,
    name: &str,
    table: &TableRef,
) -> Result<Map<String, Value>> {
    let id = table.to_id("input data")?;
    let frame = read_all(ctx.tables, &id).map_err(|e| Error::table(&id, e))?;
    let table_name = id.to_string();
    if frame.nrows() == 0 {
        return Err(Error::EmptyTable {
            table: table_name,
            component: "Evaluation".into(),
        });
    }
    let ty = frame.column_index(predict_output::TYPE);
    let invalid = |row: usize, column: &str, reason: String| Error::InvalidValue {
        table: table_name.clone(),
        sid: frame.sids()[row].clone(),
        column: column.into(),
        reason,
    };
    // Row indexes by data type.
    let mut groups: BTreeMap<DataType, Vec<usize>> = BTreeMap::new();
    for (i, row) in frame.rows().enumerate() {
        let data_type = match ty {
            None => DataType::Train,
            Some(c) => DataType::from_code(row[c]).ok_or_else(|| {
                invalid(
                    i,
                    predict_output::TYPE,
                    format!(
                        "{} is not a data type code (0 train, 1 validate, 2 test)",
                        row[c]
                    ),
                )
            })?,
        };
        groups.entry(data_type).or_default().push(i);
    }
    let skip = |metric: MetricName, why: &str| {
        ctx.tracker.info(&format!(
            "evaluation: `{name}`: {} skipped: {why}",
            metric.as_str()
        ));
    };
    let mut summary = Map::new();
    if let (Some(label), Some(predicted)) = (
        frame.column_index(predict_output::LABEL),
        frame.column_index(PREDICTED_LABEL),
    ) {
        if frame.rows().all(|r| r[label].is_nan()) {
            ctx.tracker.info(&format!(
                "evaluation: `{name}` has no labels (a host's clustering result); nothing to evaluate"
            ));
            return Ok(summary);
        }
        for (data_type, rows) in &groups {
            let namespace = data_type.as_str();
            let mut labels = Vec::with_capacity(rows.len());
            let mut clusters = Vec::with_capacity(rows.len());
            for &i in rows {
                let row = frame.row(i);
                if row[label].is_nan() {
                    return Err(invalid(
                        i,
                        predict_output::LABEL,
                        "the value is missing".into(),
                    ));
                }
                let p = row[predicted];
                if !(p >= 0.0 && p.fract() == 0.0 && p < 1.0e6) {
                    return Err(invalid(
                        i,
                        PREDICTED_LABEL,
                        format!("{p} is not a cluster index"),
                    ));
                }
                labels.push(row[label]);
                clusters.push(p);
            }
            let mut report = Report {
                clustering: true,
                ..Report::default()
            };
            for &metric in &param.metrics {
                match metric {
                    MetricName::JaccardSimilarityScore => report.single(
                        metric,
                        metrics::jaccard_similarity_score(&labels, &clusters),
                    ),
                    MetricName::FowlkesMallowsScore => {
                        report.single(metric, metrics::fowlkes_mallows_score(&labels, &clusters))
                    }
                    MetricName::AdjustedRandScore => {
                        report.single(metric, metrics::adjusted_rand_score(&labels, &clusters))
                    }
                    MetricName::ContingencyMatrix => {
                        let c = Contingency::new(&labels, &clusters);
                        let metric_name = format!("{name}_contingency_matrix");
                        report.metrics.push(Metric {
                            namespace: namespace.into(),
                            name: metric_name.clone(),
                            data: Vec::new(),
                            meta: json!({
                                "name": metric_name,
                                "metric_type": "CONTINGENCY_MATRIX",
                                "true_labels": c.true_labels.iter().map(|&l| class_json(l)).collect::<Vec<_>>(),
                                "predicted_labels": c.predicted_labels,
                                "result_table": c.table,
                            }),
                        });
                    }
                    _ => skip(metric, "it needs the arbiter's cluster table"),
                }
            }
            summary.insert(
                namespace.into(),
                Value::Object(report.log(ctx, name, namespace)?),
            );
        }
        return Ok(summary);
    }
    if let (Some(inner), Some(radius)) = (frame.column_index(INNER), frame.column_index(RADIUS)) {
        let inter: Vec<(usize, usize)> = frame
            .columns()
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((c.strip_prefix(INTER_PREFIX)?.parse().ok()?, i)))
            .collect();
        for (data_type, rows) in &groups {
            let namespace = data_type.as_str();
            let mut clusters: Vec<(usize, usize)> = Vec::with_capacity(rows.len());
            for &i in rows {
                let sid = &frame.sids()[i];
                let c: usize = sid.parse().map_err(|_| {
                    invalid(i, frame.sid_name(), "the id is not a cluster index".into())
                })?;
                clusters.push((c, i));
            }
            clusters.sort_unstable();
            let k = clusters.len();
            let column_of = |c: usize| inter.iter().find(|(j, _)| *j == c).map(|(_, col)| *col);
            let mut pairs = Vec::with_capacity(k * k.saturating_sub(1));
            for &(ci, i) in &clusters {
                for &(cj, _) in clusters.iter().filter(|(cj, _)| *cj != ci) {
                    let col = column_of(cj).ok_or_else(|| Error::MissingColumn {
                        table: table_name.clone(),
                        column: format!("{INTER_PREFIX}{cj}"),
                        why: format!("cluster {ci}'s distance to cluster {cj}"),
                    })?;
                    pairs.push(frame.get(i, col));
                }
            }
            let avg: Vec<f64> = clusters.iter().map(|&(_, i)| frame.get(i, inner)).collect();
            let mut report = Report {
                clustering: true,
                ..Report::default()
            };
            for &metric in &param.metrics {
                match metric {
                    MetricName::DaviesBouldinIndex => {
                        report.single(metric, metrics::davies_bouldin_index(&avg, &pairs))
                    }
                    MetricName::DistanceMeasure => {
                        let nearest = metrics::nearest_clusters(k, &pairs);
                        let metric_name = format!("{name}_distance_measure");
                        report.metrics.push(Metric {
                            namespace: namespace.into(),
                            name: metric_name.clone(),
                            data: Vec::new(),
                            meta: json!({
                                "name": metric_name,
                                "metric_type": "DISTANCE_MEASURE",
                                "cluster_index": clusters.iter().map(|(c, _)| c).collect::<Vec<_>>(),
                                "radius": clusters.iter().map(|&(_, i)| frame.get(i, radius)).collect::<Vec<_>>(),
                                "nearest_idx": nearest.iter().map(|&p| clusters.get(p).map_or(0, |c| c.0)).collect::<Vec<_>>(),
                            }),
                        });
                    }
                    _ => skip(metric, "the cluster table has no labels"),
                }
            }
            summary.insert(
                namespace.into(),
                Value::Object(report.log(ctx, name, namespace)?),
            );
        }
        return Ok(summary);
    }
    if frame.column_index(PER_SAMPLE).is_some() {
        ctx.tracker.info(&format!(
            "evaluation: `{name}` is a per-sample distance table; FATE computes no metric from it"
        ));
        return Ok(summary);
    }
    Err(Error::MissingColumn {
        table: table_name,
        column: PREDICTED_LABEL.into(),
        why: "Evaluation with eval_type `clustering` needs a clustering component's output".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Component;
    use crate::testing::{context, RecordingTracker};
    use fateflow_tables::{write_frame, Frame, LocalTableStore, TableId, WriteMode};

    fn run(frame: Frame, params: Value) -> (RecordingTracker, Result<()>) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalTableStore::open(dir.path()).unwrap();
        let id = TableId::new(
            "output_data_test_job_hetero_kmeans_0_0",
            "data_0_guest_9999",
        )
        .unwrap();
        write_frame(&store, &id, &frame, 2, WriteMode::Replace).unwrap();
        let tracker = RecordingTracker::new();
        let mut ctx = context("evaluation_0", "Evaluation", params, &store, &tracker);
        ctx.inputs.data.insert(
            "data".into(),
            vec![TableRef::new(id.namespace(), id.name())],
        );
        let r = super::super::Evaluation.run(&ctx);
        (tracker, r)
    }

    fn sids(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn guest_output_gets_the_external_metrics() {
        let values = vec![
            0.0, 0.0, 0.0, //
            0.0, 0.0, 0.0, //
            1.0, 1.0, 0.0, //
            1.0, 2.0, 0.0,
        ];
        let cols = ["label", "predicted_label", "type"]
            .map(String::from)
            .to_vec();
        let frame = Frame::new("id", cols, sids(4), values).unwrap();
        let (tracker, r) = run(frame, json!({"eval_type": "clustering"}));
        r.unwrap();
        let m = tracker.metric("train", "hetero_kmeans_0").unwrap();
        assert_eq!(m.meta["metric_type"], "CLUSTERING_EVALUATION_SUMMARY");
        let values: BTreeMap<String, f64> = m
            .data
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.as_f64().unwrap()))
            .collect();
        assert!((values["adjusted_rand_score"] - 4.0 / 7.0).abs() < 1e-12);
        assert!((values["jaccard_similarity_score"] - 0.75).abs() < 1e-12);
        assert!((values["fowlkes_mallows_score"] - 0.5f64.sqrt()).abs() < 1e-12);
        assert!(!values.contains_key("davies_bouldin_index"));
        let c = tracker
            .metric("train", "hetero_kmeans_0_contingency_matrix")
            .unwrap();
        assert_eq!(c.meta["result_table"], json!([[2, 0, 0], [0, 1, 1]]));
        assert_eq!(c.meta["true_labels"], json!([0, 1]));
        assert_eq!(c.meta["predicted_labels"], json!([0, 1, 2]));
        let summary = tracker.summary().unwrap();
        assert!(summary["hetero_kmeans_0"]["train"]["adjusted_rand_score"].is_number());
    }

    #[test]
    fn host_output_without_labels_is_skipped() {
        let cols = ["label", "predicted_label", "type"]
            .map(String::from)
            .to_vec();
        let values = vec![f64::NAN, 0.0, 0.0, f64::NAN, 1.0, 0.0];
        let frame = Frame::new("id", cols, sids(2), values).unwrap();
        let (tracker, r) = run(frame, json!({"eval_type": "clustering"}));
        r.unwrap();
        assert!(tracker.metrics().is_empty());
    }

    #[test]
    fn arbiter_cluster_table_gets_the_internal_metrics() {
        let cols = [
            "cluster_sample_count",
            "cluster_inner_dist",
            "max_radius",
            "inter_cluster_dist.0",
            "inter_cluster_dist.1",
            "inter_cluster_dist.2",
            "type",
        ]
        .map(String::from)
        .to_vec();
        // Squared centroid distances (0,1)=1 (0,2)=16 (1,2)=4; means 1, 1, 2.
        let values = vec![
            5.0, 1.0, 2.5, 0.0, 1.0, 16.0, 0.0, //
            3.0, 1.0, 1.5, 1.0, 0.0, 4.0, 0.0, //
            2.0, 2.0, 4.5, 16.0, 4.0, 0.0, 0.0,
        ];
        let frame = Frame::new("cluster_index", cols, sids(3), values).unwrap();
        let (tracker, r) = run(frame, json!({"eval_type": "clustering"}));
        r.unwrap();
        let m = tracker.metric("train", "hetero_kmeans_0").unwrap();
        assert_eq!(m.data.len(), 1);
        assert_eq!(m.data[0].0, "davies_bouldin_index");
        assert!((m.data[0].1.as_f64().unwrap() - 5.5 / 3.0).abs() < 1e-12);
        let d = tracker
            .metric("train", "hetero_kmeans_0_distance_measure")
            .unwrap();
        assert_eq!(d.meta["metric_type"], "DISTANCE_MEASURE");
        assert_eq!(d.meta["cluster_index"], json!([0, 1, 2]));
        assert_eq!(d.meta["radius"], json!([2.5, 1.5, 4.5]));
        assert_eq!(d.meta["nearest_idx"], json!([1, 0, 1]));
    }

    #[test]
    fn other_tables_are_refused_by_column() {
        let cols = ["x"].map(String::from).to_vec();
        let frame = Frame::new("id", cols, sids(1), vec![1.0]).unwrap();
        let (_, r) = run(frame, json!({"eval_type": "clustering"}));
        let e = r.unwrap_err().to_string();
        assert!(e.contains("predicted_label"), "{e}");
    }
}
