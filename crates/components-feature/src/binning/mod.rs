//! `HeteroFeatureBinning`: split every selected feature column into bins, and at the guest
//! compute each bin's WOE and each column's IV — for its own columns in plaintext and for
//! the hosts' columns through Paillier encryption, without the hosts learning anything
//! about the labels (the protocol is described in `binning/federated.rs`). No arbiter.
//!
//! # Fit (no `HeteroFeatureBinning` model among the task's model inputs)
//!
//! Parameters and defaults are FATE 1.x `HeteroFeatureBinningParam`'s:
//!
//! - `method`: `quantile` (default; a Greenwald–Khanna summary per partition, merged —
//!   see `binning/quantile.rs`), `bucket` (equal width between the column's minimum and
//!   maximum) or `optimal` (below).
//! - `optimal_binning_param` (checked whatever the method, as FATE does): `metric_method`
//!   (`iv`, `gini`, `chi_square` / `chi-square`, `ks`), `init_bin_nums` (1000),
//!   `init_bucket_method` (`quantile` or `bucket`, guest only: FATE's host always starts
//!   from quantile buckets), `mixture` (true), `min_bin_pct` (0.05), `max_bin_pct` (1.0,
//!   `ceil(1 / max_bin_pct)` must not exceed `bin_num`); `max_bin` and `adjustment_factor`
//!   are set by FATE from `bin_num` and `adjustment_factor`, so another value is refused.
//!   The guest fits `init_bin_nums` initial buckets per numeric column, counts their
//!   labels and merges them as FATE's `OptimalBinning` does (`binning/optimal.rs`); the
//!   model records the metric in `optimal_metric_method` and each column's final scores
//!   in `optimal_metric_array`. A host fits `init_bin_nums` quantile buckets, the guest
//!   merges them on the decrypted per-bucket counts and sends back which initial split
//!   points to keep (`binning/federated.rs`). As in FATE the host announces
//!   `init_bin_nums` as its bin number, so its columns are merged by the mixture and size
//!   passes only, down to at most `init_bin_nums` bins. Optimal binning needs a label of
//!   0 and 1 at the guest (1 = event) and fails on a missing value in a numeric binned
//!   column, at either party, as FATE does; with manual split points it does nothing
//!   (the split points are used as given, at the guest and at the hosts).
//! - `bin_num` (10, at least 2), `error` (1e-4), `compress_thres` (10000), `head_size`
//!   (10000): the summary's settings. Quantile split points are the summary's answers for
//!   `i/bin_num` (`i = 1..bin_num`) and 1, deduplicated, so a column may get fewer bins;
//!   the last split point is the column maximum. Up to ~10 000 rows they are exactly the
//!   `ceil(q·n)`-th smallest values.
//! - `bin_indexes` (`-1`: every feature column) and `bin_names` (added to the indexes);
//!   indexes count feature columns, the label excluded.
//! - `category_indexes` / `category_names` (none by default; `-1` means all): categorical
//!   columns, binned by value — their split points are the sorted distinct values, so each
//!   value is its own bin.
//! - `split_points_by_index` / `split_points_by_col_name`: split points given by the user
//!   instead of fitted (increasing lists); as in FATE they must cover exactly the binned
//!   non-categorical columns.
//! - `adjustment_factor` (0.5): added to both counts of a bin where either is zero.
//! - `local_only` (false): the guest computes its own columns only; hosts only bin.
//! - `skip_static` (false): split points only, no label statistics and no federation.
//! - `encrypt_param.key_length` (2048, FATE 1.11.4's default),
//!   `encrypt_param.method` must be Paillier.
//! - `transform_param`: `transform_cols` (`-1`, the default: every binned column; a list
//!   of feature indexes; an explicit `null`: none), `transform_names` (added),
//!   `transform_type`: `bin_num` (default), `woe` (guest only) or `null` (no transform).
//!
//! **What FATE does with the output data by default** (read in FATE 1.x
//! `federatedml/param/feature_binning_param.py` and `feature/hetero_feature_binning/`):
//! `TransformParam()` defaults to `transform_cols = -1` and `transform_type = "bin_num"`,
//! and both guest and host `fit` end by transforming their data. So by default the output
//! data holds, for every binned column, the bin index of each value instead of the value;
//! only `transform_type: null` passes the data through. This component does the same.
//!
//! Labels (guest): any finite numbers; a missing label fails naming the sample. The label
//! classes are taken in FATE's order, decreasing (`labels` in the model). With two
//! classes the first (the larger: 1 of 0/1) is the event. With another number of classes
//! (at most 256) WOE / IV are computed one-vs-rest for every class, at the guest and for
//! the hosts' columns (each packed label then has one slot per class):
//! `multi_class_result` holds every class's results, `binning_result` / `host_results`
//! the first class's, as FATE's model does; `woe` transform is refused, as in FATE.
//!
//! Bins: a value `x` falls in bin `bisect_left(split_points[..len − 1], x)`; a missing
//! value (NaN) in the missing bin, index `len(split_points)`, which the label statistics
//! count separately (see [`model`] for how the model stores it). Infinite values are refused.
//!
//! # Transform (a `HeteroFeatureBinning` model is among the model inputs)
//!
//! The model's split points (and, for `woe`, its WOE arrays) are applied with the model's
//! transform settings, exactly as in the fit, so transforming the fitting data reproduces
//! the fit output; nothing is refitted and no party talks to another. A model input from
//! another module is refused.
//!
//! # Outputs
//!
//! - Output data (first output data name, default `data`): the input's schema, sids, label
//!   and partitioning; each transformed cell becomes its bin index (`bin_num`; a missing
//!   value the missing bin's index) or its bin's WOE (`woe`; a missing value the missing
//!   bin's WOE, or NaN when the fitting data had no missing value in that column).
//! - Model (first output model name, default `model`): a [`FeatureBinningModel`]; in
//!   transform mode the input model unchanged.
//! - Summary (fit): guest `{"labels": [...], "iv": {column: iv}, "host_iv": {party_id:
//!   {anonymous: iv}}, "split_points": {column: [...]}}` (the first class's IVs), plus
//!   `"multi_class": {label: {"iv", "host_iv"}}` with more than two classes; hosts and
//!   `skip_static` only `split_points`.
//! - Metric (fit, guest with statistics; ours, FATE has none): namespace `train`, name
//!   `iv` (`iv_label_<label>`, one per class, with more than two classes), one point per
//!   column (host columns by anonymous name), meta
//!   `{"metric_type": "BINNING", "unit_name": "feature"}`.
//! - Progress reports and log lines with the time of each step.
//!
//! # Departures from FATE
//!
//! - Missing values get their own bin in the statistics and in the transform (FATE's
//!   dense path puts NaN through `bisect`, which lands in bin 0).
//! - A numeric column without any value gets the split points `[0]` (FATE's quantile
//!   summary answers 0 when empty; its bucket binning gets NaN split points), so every
//!   sample is in the missing bin; a categorical one fails.
//! - Per-bin arrays always hold `len(split_points)` value bins (FATE's stop at the highest
//!   non-empty bin, which differs only for empty top bins); `is_woe_monotonic` ignores
//!   the missing bin.
//! - Names in `bin_names` / `category_names` that are not feature columns fail (FATE logs
//!   a warning and ignores them).
//! - The host checks that the guest's sample ids are exactly its own (per block by an id
//!   digest when the tables are aligned, else by id), and re-randomizes the compressed
//!   sums before sending them.
//!
//! # Memory
//!
//! The table is never held whole. The fit reads it once partition by partition (the
//! summaries follow the partitions, so the split points are those of a whole-table
//! read), keeping per column a summary, the extremes or the distinct categorical values,
//! and at the guest the label classes. The label counts, the optimal-binning buckets
//! and the transform output each take one more pass, block by block in scan order (the
//! output written with a `FrameWriter` as it goes). Between parties, the encrypted
//! labels stream block by block when the tables are aligned, and the host holds one
//! block of ciphertexts and its per-bin sums; otherwise they go by sample id, all at
//! once, if that fits the task's memory budget, else the host refuses, saying to run
//! Intersection first (`binning/federated.rs`).
//! - Transform mode computes no statistics on the new data (FATE's
//!   `transform_binning_result`).
//! - After optimal binning, the guest's counts of a host column are those of the host's
//!   final bins (FATE's are its merged buckets', which differ only when a KS split of a
//!   single bucket, possible with `min_bin_pct` 0, repeats a bucket).
//! - Optimal binning of a guest with labels other than 0 and 1 fails (FATE counts label
//!   1 as event and everything else as non-event against totals of the 0s only).

pub(crate) mod federated;
pub mod model;
pub(crate) mod optimal;
pub(crate) mod param;
pub mod quantile;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use arrow_array::StringArray;
use fateflow_domain::Role;
use fateflow_tables::{
    read_blocks, sid_digest, Frame, FrameWriter, RecordBatch, RowLayout, TableId, TableInfo,
    TableSchema, WriteMode,
};
use rayon::prelude::*;
use serde_json::{json, Map, Value};

use crate::context::{Component, Metric, ModelInput, TableRef, TaskContext};
use crate::error::{Error, Result};
use crate::table_io::feature_header;
use crate::table_io::open_first_input;

use federated::{ms, GuestLabels, GuestSession, HostColumn, HostOptimal, HostTable};

/// Host results by party id (as a string) and anonymous column name.
type HostResults = BTreeMap<String, BTreeMap<String, ColumnBinResult>>;
use model::{anonymous_name, MODULE};
pub use model::{
    ColumnBinResult, FeatureBinningModel, ModelMeta, ModelParam, MultiClassResult, TransformMeta,
};
use param::{check_max_bin_pct, BinningParam, Indexes, InitBucketMethod, Method, TransformType};
use quantile::{bin_of, bucket_split_points, quantile_split_points, QuantileSummary};

/// Input data keys tried in order.
const INPUT_KEYS: [&str; 3] = ["data", "train_data", "test_data"];

/// FATE's `HeteroFeatureBinning` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeteroFeatureBinning;

impl Component for HeteroFeatureBinning {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        if !matches!(ctx.role, Role::Guest | Role::Host) {
            return Err(Error::param(
                "role",
                format!(
                    "{MODULE} runs at the guest and the hosts, not at {}",
                    ctx.role
                ),
            ));
        }
        let model = ctx.models_of(MODULE).next();
        if let (None, Some(other)) = (model, ctx.inputs.model.first()) {
            return Err(Error::InvalidModel {
                component: other.component.clone(),
                alias: other.alias.clone(),
                module: other.model.module.clone(),
                reason: format!("{MODULE} transforms with a {MODULE} model only"),
            });
        }
        let data = Data::read(ctx)?;
        ctx.tracker.progress(10);
        match model {
            Some(model) => transform(ctx, &data, model),
            None => fit(ctx, &data),
        }
    }
}

/// The input table. It is never held whole: every pass reads it partition by partition
/// (the fit, whose summaries follow the partitions) or block by block in scan order.
struct Data {
    id: TableId,
    info: TableInfo,
    rows: usize,
}

impl Data {
    fn read(ctx: &TaskContext<'_>) -> Result<Data> {
        let (id, info, rows) = open_first_input(ctx, MODULE, &INPUT_KEYS)?;
        if info.layout == RowLayout::Text {
            return Err(Error::table(
                &id,
                fateflow_tables::Error::TextTable {
                    table: id.to_string(),
                },
            ));
        }
        Ok(Data {
            id,
            info,
            rows: rows as usize,
        })
    }

    fn name(&self) -> String {
        self.id.to_string()
    }

    fn schema(&self) -> &TableSchema {
        &self.info.schema
    }

    /// Table columns (label included).
    fn width(&self) -> usize {
        self.info.schema.header.len()
    }

    /// Calls `f` with each block of `rows_per_block` rows (and its index), in scan order.
    fn for_each_block(
        &self,
        ctx: &TaskContext<'_>,
        rows_per_block: usize,
        mut f: impl FnMut(usize, Frame) -> Result<()>,
    ) -> Result<()> {
        let table = |e| Error::table(&self.id, e);
        for (b, block) in read_blocks(ctx.tables, &self.id, rows_per_block)
            .map_err(table)?
            .enumerate()
        {
            f(b, block.map_err(table)?)?;
        }
        Ok(())
    }

    /// Rows per block of a pass that holds a few copies of a block's values.
    fn block_rows(&self, ctx: &TaskContext<'_>) -> usize {
        ctx.memory.block_rows(16 * self.width() + 64, 8)
    }

    /// The sid array and the value column slices of one record batch of this table.
    fn batch_columns<'b>(
        &self,
        batch: &'b RecordBatch,
    ) -> Result<(&'b StringArray, Vec<&'b [f64]>)> {
        fateflow_tables::batch_columns(&self.info.schema, batch)
            .map_err(|e| Error::table(&self.id, e))
    }
}

/// A column to bin.
#[derive(Debug, Clone)]
struct BinColumn {
    name: String,
    /// Index in the feature header (label excluded).
    feature: usize,
    /// Index in the table's columns.
    col: usize,
    category: bool,
}

/// Which columns are binned and transformed.
#[derive(Debug)]
struct Plan {
    header: Vec<String>,
    columns: Vec<BinColumn>,
    /// Feature indexes of the transformed columns, increasing.
    transform: Vec<usize>,
    /// Manual split points by feature index.
    manual: BTreeMap<usize, Vec<f64>>,
}

fn plan(param: &BinningParam, data: &Data) -> Result<Plan> {
    let schema = data.schema();
    let header = feature_header(schema);
    let n = header.len();
    let index = |field: &str, i: usize| -> Result<usize> {
        if i < n {
            Ok(i)
        } else {
            Err(Error::param(
                field,
                format!(
                    "index {i} is out of range: table {} has {n} feature columns",
                    data.id
                ),
            ))
        }
    };
    let named = |field: &str, name: &str| -> Result<usize> {
        header.iter().position(|h| h == name).ok_or_else(|| {
            Error::param(
                field,
                format!(
                    "`{name}` is not a feature column of table {} (feature columns: {})",
                    data.id,
                    preview(&header)
                ),
            )
        })
    };
    let mut binned = vec![false; n];
    match &param.bin_indexes {
        Indexes::All => binned.iter_mut().for_each(|b| *b = true),
        Indexes::List(list) => {
            for &i in list {
                binned[index("bin_indexes", i)?] = true;
            }
        }
    }
    for name in &param.bin_names {
        binned[named("bin_names", name)?] = true;
    }
    let mut category = vec![false; n];
    match &param.category_indexes {
        None => {}
        Some(Indexes::All) => category.iter_mut().for_each(|c| *c = true),
        Some(Indexes::List(list)) => {
            for &i in list {
                category[index("category_indexes", i)?] = true;
            }
        }
    }
    for name in &param.category_names {
        category[named("category_names", name)?] = true;
    }
    let columns: Vec<BinColumn> = (0..n)
        .filter(|&f| binned[f] || category[f])
        .map(|f| BinColumn {
            name: header[f].clone(),
            feature: f,
            col: schema
                .column_index(&header[f])
                .expect("a feature is a header column"),
            category: category[f],
        })
        .collect();

    let mut transform: Vec<usize> = match &param.transform.cols {
        Indexes::All => columns.iter().map(|c| c.feature).collect(),
        Indexes::List(list) => list
            .iter()
            .map(|&i| index("transform_param.transform_cols", i))
            .collect::<Result<_>>()?,
    };
    for name in &param.transform.names {
        transform.push(named("transform_param.transform_names", name)?);
    }
    transform.sort_unstable();
    transform.dedup();
    if let Some(&f) = transform.iter().find(|&&f| !(binned[f] || category[f])) {
        return Err(Error::param(
            "transform_param.transform_cols",
            format!(
                "column `{}` is not binned (bin_indexes, bin_names, category_indexes, category_names)",
                header[f]
            ),
        ));
    }

    let mut manual = BTreeMap::new();
    for (&i, points) in &param.split_points_by_index {
        manual.insert(index("split_points_by_index", i)?, points.clone());
    }
    for (name, points) in &param.split_points_by_col_name {
        let f = named("split_points_by_col_name", name)?;
        if manual.insert(f, points.clone()).is_some() {
            return Err(Error::param(
                "split_points_by_col_name",
                format!("split points of `{name}` are also given in split_points_by_index"),
            ));
        }
    }
    if param.manual() {
        for c in &columns {
            if !c.category && !manual.contains_key(&c.feature) {
                return Err(Error::param(
                    "split_points_by_col_name",
                    format!(
                        "no split points for the binned column `{}`: give them for every binned column, or for none",
                        c.name
                    ),
                ));
            }
        }
        for &f in manual.keys() {
            if !binned[f] || category[f] {
                return Err(Error::param(
                    "split_points_by_col_name",
                    format!(
                        "split points given for `{}`, which is not a binned numeric column",
                        header[f]
                    ),
                ));
            }
        }
    }
    Ok(Plan {
        header,
        columns,
        transform,
        manual,
    })
}

/// The first names of a long list, for messages.
fn preview(names: &[String]) -> String {
    const SHOWN: usize = 12;
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!("{}, … ({} in all)", names[..SHOWN].join(", "), names.len())
    }
}

/// A fitted column: its split points and whether the data had missing values in it.
#[derive(Debug, Clone)]
struct ColumnFit {
    split_points: Vec<f64>,
    missing: bool,
}

/// `x`'s position in `f64::total_cmp` order, as an unsigned key.
pub(crate) fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

/// The value of an [`order_key`].
pub(crate) fn from_order_key(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// One column's fit state while the table streams by: a Greenwald–Khanna summary per
/// partition merged into the running one (quantile), the extremes (bucket), or the
/// distinct values (categorical). Bounded by the summary size or the distinct count.
struct ColumnScan {
    quantile: bool,
    missing: bool,
    count: usize,
    summary: Option<QuantileSummary>,
    part: QuantileSummary,
    min: f64,
    max: f64,
    distinct: Option<BTreeSet<u64>>,
    /// The first infinite value and its sid.
    infinite: Option<(String, f64)>,
}

impl ColumnScan {
    fn feed(&mut self, sids: &StringArray, values: &[f64]) {
        if self.infinite.is_some() {
            return;
        }
        for (row, &v) in values.iter().enumerate() {
            if v.is_nan() {
                self.missing = true;
                continue;
            }
            if v.is_infinite() {
                self.infinite = Some((sids.value(row).to_owned(), v));
                return;
            }
            self.count += 1;
            if let Some(d) = &mut self.distinct {
                d.insert(order_key(v));
            } else if self.quantile {
                self.part.insert(v);
            } else {
                self.min = self.min.min(v);
                self.max = self.max.max(v);
            }
        }
    }

    /// Compresses the partition's summary and merges it into the running one, in
    /// partition order (as the whole-table fit did).
    fn end_partition(&mut self, fresh: QuantileSummary) {
        if !self.quantile {
            return;
        }
        let mut s = std::mem::replace(&mut self.part, fresh);
        s.compress();
        self.summary = Some(match self.summary.take() {
            None => s,
            Some(acc) => acc.merge(s),
        });
    }

    fn finish(
        self,
        param: &BinningParam,
        data: &Data,
        plan: &Plan,
        c: &BinColumn,
    ) -> Result<ColumnFit> {
        let missing = self.missing;
        if self.count == 0 && !c.category && !plan.manual.contains_key(&c.feature) {
            // FATE's quantile summary answers 0 for every quantile of a column without a
            // value, so its split points are [0] and every sample is in the missing bin.
            // (FATE's bucket binning gets NaN split points there; this one gives [0] too.)
            return Ok(ColumnFit {
                split_points: vec![0.0],
                missing,
            });
        }
        if self.count == 0 && c.category {
            return Err(Error::NoStatistic {
                table: data.name(),
                column: c.name.clone(),
                statistic: "split points",
                parameter: "category_indexes",
            });
        }
        let split_points = if let Some(points) = plan.manual.get(&c.feature) {
            points.clone()
        } else if let Some(d) = self.distinct {
            let mut values: Vec<f64> = d.into_iter().map(from_order_key).collect();
            values.dedup();
            values
        } else {
            match (param.method, self.summary) {
                (Method::Quantile, Some(mut s)) => quantile_split_points(&mut s, param.bin_num),
                _ => bucket_split_points(self.min, self.max, param.bin_num),
            }
        };
        Ok(ColumnFit {
            split_points,
            missing,
        })
    }
}

/// The guest's label while the table streams by: its distinct values and their counts.
struct LabelScan {
    col: usize,
    name: String,
    classes: Vec<f64>,
    counts: Vec<u64>,
    first_sid: Option<String>,
    /// The first row whose label is not a finite number.
    invalid: Option<(String, f64)>,
    too_many: bool,
}

impl LabelScan {
    fn feed(&mut self, sids: &StringArray, values: &[f64]) {
        if self.first_sid.is_none() && !values.is_empty() {
            self.first_sid = Some(sids.value(0).to_owned());
        }
        if self.invalid.is_some() {
            return;
        }
        for (row, &v) in values.iter().enumerate() {
            if !v.is_finite() {
                self.invalid = Some((sids.value(row).to_owned(), v));
                return;
            }
            match self.classes.iter().position(|&c| c == v) {
                Some(i) => {
                    self.counts[i] += 1;
                    // 0 and -0 are one class, named as the larger in total order.
                    if v.total_cmp(&self.classes[i]).is_gt() {
                        self.classes[i] = v;
                    }
                }
                None if self.classes.len() < MAX_CLASSES => {
                    self.classes.push(v);
                    self.counts.push(1);
                }
                None => self.too_many = true,
            }
        }
    }

    fn finish(self, data: &Data) -> Result<Labels> {
        if let Some((sid, v)) = self.invalid {
            return Err(Error::InvalidValue {
                table: data.name(),
                sid,
                column: self.name,
                reason: if v.is_nan() {
                    "the label is missing".into()
                } else {
                    format!("label {v} is not a finite number")
                },
            });
        }
        if self.too_many {
            return Err(Error::InvalidValue {
                table: data.name(),
                sid: self.first_sid.unwrap_or_default(),
                column: self.name,
                reason: format!(
                    "the label has more than {MAX_CLASSES} distinct values, more than the {MAX_CLASSES} classes {MODULE} takes (WOE / IV are per label class)"
                ),
            });
        }
        let mut order: Vec<usize> = (0..self.classes.len()).collect();
        order.sort_by(|&a, &b| self.classes[b].total_cmp(&self.classes[a]));
        Ok(Labels {
            col: self.col,
            classes: order.iter().map(|&i| self.classes[i]).collect(),
            counts: order.iter().map(|&i| self.counts[i]).collect(),
        })
    }
}

/// The label column's index, or why the guest has none.
fn label_column(data: &Data) -> Result<(usize, String)> {
    let schema = data.schema();
    let label = schema
        .label_name
        .as_deref()
        .ok_or_else(|| Error::MissingInput {
            component: MODULE.into(),
            what: "a label column at the guest for WOE and IV (DataTransform with `with_label: true`; or set skip_static)".into(),
        })?;
    let col = schema
        .column_index(label)
        .ok_or_else(|| Error::MissingColumn {
            table: data.name(),
            column: label.into(),
            why: "the table's label".into(),
        })?;
    Ok((col, label.to_owned()))
}

/// Split points of every planned column, in one pass over the table, partition by
/// partition (columns in parallel within each record batch), and, given the label
/// column, the label classes.
fn fit_columns(
    ctx: &TaskContext<'_>,
    param: &BinningParam,
    data: &Data,
    plan: &Plan,
    label: Option<(usize, String)>,
) -> Result<(Vec<ColumnFit>, Option<LabelScan>)> {
    let fresh = || QuantileSummary::new(param.compress_thres, param.head_size, param.error);
    let mut scans: Vec<ColumnScan> = plan
        .columns
        .iter()
        .map(|c| ColumnScan {
            quantile: !c.category
                && param.method == Method::Quantile
                && !plan.manual.contains_key(&c.feature),
            missing: false,
            count: 0,
            summary: None,
            part: fresh(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            distinct: c.category.then(BTreeSet::new),
            infinite: None,
        })
        .collect();
    let mut labels = label.map(|(col, name)| LabelScan {
        col,
        name,
        classes: Vec::new(),
        counts: Vec::new(),
        first_sid: None,
        invalid: None,
        too_many: false,
    });
    for partition in 0..data.info.partitions {
        let batches = ctx
            .tables
            .read_partition(&data.id, partition)
            .map_err(|e| Error::table(&data.id, e))?;
        for batch in batches {
            let batch = batch.map_err(|e| Error::table(&data.id, e))?;
            let (sids, columns) = data.batch_columns(&batch)?;
            scans
                .par_iter_mut()
                .zip(plan.columns.par_iter())
                .for_each(|(s, c)| s.feed(sids, columns[c.col]));
            if let Some((s, c)) = scans
                .iter()
                .zip(&plan.columns)
                .find(|(s, _)| s.infinite.is_some())
            {
                let (sid, v) = s.infinite.clone().expect("found");
                return Err(Error::InvalidValue {
                    table: data.name(),
                    sid,
                    column: c.name.clone(),
                    reason: format!(
                        "{v} cannot be binned (binning takes finite values, or NaN for missing)"
                    ),
                });
            }
            if let Some(l) = &mut labels {
                l.feed(sids, columns[l.col]);
            }
        }
        for s in &mut scans {
            s.end_partition(fresh());
        }
    }
    let fits = scans
        .into_par_iter()
        .zip(plan.columns.par_iter())
        .map(|(s, c)| s.finish(param, data, plan, c))
        .collect::<Result<Vec<_>>>()?;
    Ok((fits, labels))
}

/// The guest's labels: the distinct label values in FATE's order (decreasing) and the
/// rows of each.
struct Labels {
    col: usize,
    classes: Vec<f64>,
    counts: Vec<u64>,
}

impl Labels {
    /// FATE's label strings (`1`, not `1.0`).
    fn names(&self) -> Vec<String> {
        self.classes.iter().map(|c| format!("{c}")).collect()
    }

    /// The class of every row of a block.
    fn classes_of(&self, data: &Data, block: &Frame) -> Result<Vec<u32>> {
        let width = block.columns().len();
        block
            .values()
            .chunks(width.max(1))
            .zip(block.sids())
            .map(|(row, sid)| {
                let v = row[self.col];
                self.classes
                    .iter()
                    .position(|&c| c == v)
                    .map(|c| c as u32)
                    .ok_or_else(|| Error::InvalidValue {
                        table: data.name(),
                        sid: sid.clone(),
                        column: data.schema().header[self.col].clone(),
                        reason: format!("label {v} was not in the table when it was first read"),
                    })
            })
            .collect()
    }
}

/// Most label classes a fit takes (each is a packed slot of every encrypted label).
const MAX_CLASSES: usize = 256;

/// The labels of an optimal fit: 0 and 1 only (FATE has no multi-class optimal binning,
/// and counts label 1 as the event).
fn check_optimal_labels(data: &Data, labels: &Labels) -> Result<()> {
    if federated::binary_classes(&labels.classes).is_none() {
        return Err(Error::param(
            "method",
            format!(
                "optimal binning needs a label of 0 and 1 (FATE has no multi-class optimal binning); table {} has labels {}",
                data.id,
                labels.names().join(", ")
            ),
        ));
    }
    Ok(())
}

/// Optimal binning of the guest's own numeric columns: `fits` hold the initial split
/// points; each becomes the merged split points. Returns the metric array of each column
/// (empty for categorical and manual columns). One pass over the table counts the
/// events of every initial bucket.
fn optimal_fit(
    ctx: &TaskContext<'_>,
    param: &BinningParam,
    data: &Data,
    plan: &Plan,
    fits: &mut [ColumnFit],
    labels: &Labels,
) -> Result<Vec<Vec<f64>>> {
    let start = Instant::now();
    check_max_bin_pct(
        param.optimal.max_bin_pct,
        param.bin_num,
        "optimal_binning_param.max_bin_pct",
    )?;
    let settings = param
        .optimal
        .settings(param.bin_num, param.adjustment_factor);
    let event_total: u64 = labels
        .classes
        .iter()
        .zip(&labels.counts)
        .filter(|(&c, _)| c == 1.0)
        .map(|(_, &n)| n)
        .sum();
    let non_event_total = data.rows as u64 - event_total;
    let mut buckets: Vec<Vec<optimal::InitBucket>> = plan
        .columns
        .iter()
        .zip(fits.iter())
        .map(|(c, f)| {
            if c.category {
                return Vec::new();
            }
            let sps = &f.split_points;
            sps.iter()
                .enumerate()
                .map(|(i, &sp)| optimal::InitBucket {
                    left: if i == 0 {
                        f64::NEG_INFINITY
                    } else {
                        sps[i - 1]
                    },
                    right: sp,
                    events: 0,
                    non_events: 0,
                })
                .collect()
        })
        .collect();
    let event_class: Vec<bool> = labels.classes.iter().map(|&c| c == 1.0).collect();
    data.for_each_block(ctx, data.block_rows(ctx), |_, block| {
        let classes = labels.classes_of(data, &block)?;
        let width = block.columns().len();
        let values = block.values();
        plan.columns
            .par_iter()
            .zip(fits.par_iter())
            .zip(buckets.par_iter_mut())
            .filter(|((c, _), _)| !c.category)
            .for_each(|((c, f), buckets)| {
                for (r, &class) in classes.iter().enumerate() {
                    let v = values[r * width + c.col];
                    let bucket = &mut buckets[bin_of(&f.split_points, v)];
                    if event_class[class as usize] {
                        bucket.events += 1;
                    } else {
                        bucket.non_events += 1;
                    }
                    if v > bucket.right {
                        bucket.right = v;
                    }
                }
            });
        Ok(())
    })?;
    let out: Vec<(Vec<f64>, Vec<f64>)> = plan
        .columns
        .par_iter()
        .zip(fits.par_iter())
        .zip(buckets.par_iter())
        .map(|((c, f), buckets)| {
            if c.category {
                return (f.split_points.clone(), Vec::new());
            }
            let merged =
                optimal::merge(buckets, event_total, non_event_total, data.rows, &settings);
            (merged.split_points(), merged.metric_array)
        })
        .collect();
    let mut metrics = Vec::with_capacity(out.len());
    for (f, (sp, metric)) in fits.iter_mut().zip(out) {
        f.split_points = sp;
        metrics.push(metric);
    }
    ctx.tracker.info(&format!(
        "binning: optimal binning ({}) of {} columns from up to {} initial buckets in {}",
        param.optimal.metric.as_str(),
        plan.columns.iter().filter(|c| !c.category).count(),
        param.optimal.init_bin_nums,
        ms(start.elapsed())
    ));
    Ok(metrics)
}

/// Fails naming the first numeric column with a missing value (FATE: "Optimal Binning
/// do not support missing value now").
fn refuse_missing(
    ctx: &TaskContext<'_>,
    data: &Data,
    plan: &Plan,
    fits: &[ColumnFit],
) -> Result<()> {
    let Some((c, _)) = plan
        .columns
        .iter()
        .zip(fits)
        .find(|(c, f)| !c.category && f.missing)
    else {
        return Ok(());
    };
    let mut sid = None;
    data.for_each_block(ctx, data.block_rows(ctx), |_, block| {
        if sid.is_none() {
            sid = block
                .sids()
                .iter()
                .zip(block.rows())
                .find(|(_, row)| row[c.col].is_nan())
                .map(|(s, _)| s.clone());
        }
        Ok(())
    })?;
    Err(Error::InvalidValue {
        table: data.name(),
        sid: sid.unwrap_or_default(),
        column: c.name.clone(),
        reason: "optimal binning does not support missing values (as FATE); fill them first, or leave the column out of bin_indexes".into(),
    })
}

/// Per bin of one column, the rows of each label class.
type ClassCounts = Vec<Vec<u64>>;

/// The guest's statistics pass: per-bin class counts of its own columns (value bins,
/// then the missing bin when present), block by block; with `hosts` to evaluate, each
/// block's labels are encrypted and sent as the block is read. Returns the counts and
/// what the hosts sent back.
fn guest_statistics(
    ctx: &TaskContext<'_>,
    param: &BinningParam,
    data: &Data,
    plan: &Plan,
    fits: &[ColumnFit],
    labels: &Labels,
    hosts: &[fateflow_domain::Party],
) -> Result<(Vec<ClassCounts>, Option<federated::HostCounts>)> {
    let k = labels.classes.len();
    let mut counts: Vec<ClassCounts> = fits
        .iter()
        .map(|f| vec![vec![0u64; k]; f.split_points.len() + usize::from(f.missing)])
        .collect();
    let guest_labels = GuestLabels {
        classes: &labels.classes,
        counts: &labels.counts,
    };
    // A block of ciphertexts in flight (plaintexts, ciphertexts and their encoding).
    let rows_per_block = if hosts.is_empty() {
        data.block_rows(ctx)
    } else {
        ctx.memory.block_rows(
            (4 * federated::cipher_bytes(param.key_length)) as usize + 16 * data.width() + 64,
            8,
        )
    };
    let mut session: Option<GuestSession<'_>> = None;
    let start = Instant::now();
    data.for_each_block(ctx, rows_per_block, |b, block| {
        let classes = labels.classes_of(data, &block)?;
        if b == 0 && !hosts.is_empty() {
            session = Some(GuestSession::start(
                ctx,
                hosts,
                param.key_length,
                &guest_labels,
                rows_per_block,
                sid_digest(block.sids()),
            )?);
        }
        if let Some(s) = &mut session {
            s.block(block.sids(), &classes)?;
        }
        let width = block.columns().len();
        let values = block.values();
        plan.columns
            .par_iter()
            .zip(fits.par_iter())
            .zip(counts.par_iter_mut())
            .for_each(|((c, f), counts)| {
                for (r, &class) in classes.iter().enumerate() {
                    let bin = bin_of(&f.split_points, values[r * width + c.col]);
                    counts[bin][class as usize] += 1;
                }
            });
        ctx.tracker.progress(
            30 + (30 * ((b + 1) * rows_per_block).min(data.rows) / data.rows.max(1)) as u8,
        );
        Ok(())
    })?;
    ctx.tracker.info(&format!(
        "binning: label counts of {} guest columns{} in {}",
        plan.columns.len(),
        if hosts.is_empty() {
            ""
        } else {
            ", with the labels encrypted and sent,"
        },
        ms(start.elapsed())
    ));
    let host_counts = match session {
        Some(s) => Some(s.finish(&guest_labels, param.adjustment_factor)?),
        None => None,
    };
    Ok((counts, host_counts))
}

fn fit(ctx: &TaskContext<'_>, data: &Data) -> Result<()> {
    let param = BinningParam::parse(&ctx.parameters)?;
    if ctx.role == Role::Host && param.transform.kind == Some(TransformType::Woe) {
        return Err(Error::param(
            "transform_param.transform_type",
            "`woe` is available at the guest only (hosts never learn the WOE of their columns); set it in the guest's role parameters",
        ));
    }
    let plan = plan(&param, data)?;
    let optimal = param.method == Method::Optimal && !param.manual();
    ctx.tracker.info(&format!(
        "binning at {} {}: {} of {} ({} rows), {} of {} feature columns ({} categorical), method {}, bin_num {}",
        ctx.role,
        ctx.party_id,
        if param.manual() { "manual split points" } else { "fitting" },
        data.id,
        data.rows,
        plan.columns.len(),
        plan.header.len(),
        plan.columns.iter().filter(|c| c.category).count(),
        param.method.as_str(),
        param.bin_num
    ));
    let start = Instant::now();
    // Optimal binning starts from `init_bin_nums` buckets: quantile or equal-width at
    // the guest, always quantile at a host (FATE's host bins with QuantileBinning).
    let init_param;
    let fit_param = if optimal {
        let mut p = param.clone();
        p.bin_num = param.optimal.init_bin_nums;
        p.method = match (ctx.role, param.optimal.init_bucket_method) {
            (Role::Guest, InitBucketMethod::Bucket) => Method::Bucket,
            _ => Method::Quantile,
        };
        init_param = p;
        &init_param
    } else {
        &param
    };
    let statistics = !param.skip_static;
    // The guest reads its label in the same pass (an error about it waits its turn).
    let label = (ctx.role == Role::Guest && statistics).then(|| label_column(data));
    let (mut fits, label_scan) = fit_columns(
        ctx,
        fit_param,
        data,
        &plan,
        label.as_ref().and_then(|l| l.as_ref().ok().cloned()),
    )?;
    if param.method == Method::Optimal {
        refuse_missing(ctx, data, &plan, &fits)?;
    }
    ctx.tracker.info(&format!(
        "binning: {} of {} columns in {}",
        if optimal {
            "initial buckets"
        } else {
            "split points"
        },
        plan.columns.len(),
        ms(start.elapsed())
    ));
    ctx.tracker.progress(30);

    let mut binning_result = BTreeMap::new();
    let mut host_results = HostResults::new();
    let mut label_names = Vec::new();
    let mut multi_class_result = None;
    match ctx.role {
        Role::Guest if statistics => {
            let start = Instant::now();
            let labels = match (label, label_scan) {
                (Some(Err(e)), _) => return Err(e),
                (_, Some(scan)) => scan.finish(data)?,
                _ => unreachable!("the guest's label is read with statistics"),
            };
            let mut metrics = vec![Vec::new(); plan.columns.len()];
            if optimal {
                check_optimal_labels(data, &labels)?;
                metrics = optimal_fit(ctx, &param, data, &plan, &mut fits, &labels)?;
            }
            let k = labels.classes.len();
            let n_results = if k == 2 { 1 } else { k };
            let hosts = ctx.parties_of(Role::Host);
            let evaluated: &[fateflow_domain::Party] = if param.local_only {
                ctx.tracker
                    .info("binning: local_only, host columns are not evaluated");
                &[]
            } else if hosts.is_empty() {
                ctx.tracker
                    .info("binning: the job has no host, only guest columns are evaluated");
                &[]
            } else {
                &hosts
            };
            let (own_counts, host_counts) =
                guest_statistics(ctx, &param, data, &plan, &fits, &labels, evaluated)?;
            let mut per_class: Vec<BTreeMap<String, ColumnBinResult>> =
                vec![BTreeMap::new(); n_results];
            for (((c, f), counts), metric) in plan
                .columns
                .iter()
                .zip(&fits)
                .zip(&own_counts)
                .zip(&metrics)
            {
                let results = ColumnBinResult::from_class_counts(
                    f.split_points.len(),
                    counts,
                    param.adjustment_factor,
                );
                for (class, r) in results.into_iter().enumerate() {
                    let mut r = r.with_split_points(f.split_points.clone());
                    r.optimal_metric_array =
                        metric.iter().map(|&m| m.is_finite().then_some(m)).collect();
                    per_class[class].insert(c.name.clone(), r);
                }
            }
            ctx.tracker.info(&format!(
                "binning: WOE / IV of {} guest columns (labels {} with {:?} samples{}) in {}",
                plan.columns.len(),
                labels.names().join(", "),
                labels.counts,
                if k == 2 {
                    ""
                } else {
                    ", one-vs-rest per label"
                },
                ms(start.elapsed())
            ));
            let mut host_per_class: BTreeMap<String, Vec<BTreeMap<String, ColumnBinResult>>> =
                BTreeMap::new();
            for (party, columns) in host_counts.unwrap_or_default() {
                let mut classes = vec![BTreeMap::new(); n_results];
                for (name, col) in columns {
                    let results = ColumnBinResult::from_class_counts(
                        col.bins,
                        &col.counts,
                        param.adjustment_factor,
                    );
                    for (class, r) in results.into_iter().enumerate() {
                        classes[class].insert(name.clone(), r);
                    }
                }
                host_per_class.insert(party, classes);
            }
            binning_result = per_class[0].clone();
            host_results = host_per_class
                .iter()
                .map(|(party, classes)| (party.clone(), classes[0].clone()))
                .collect();
            label_names = labels.names();
            if k != 2 {
                multi_class_result = Some(MultiClassResult {
                    labels: label_names.clone(),
                    results: per_class,
                    host_results: host_per_class,
                });
            }
        }
        _ => {
            if ctx.role == Role::Host && statistics && !param.local_only {
                let guest = ctx
                    .parties_of(Role::Guest)
                    .first()
                    .copied()
                    .ok_or_else(|| Error::param("role", format!("{MODULE} needs a guest")))?;
                let columns: Vec<HostColumn<'_>> = plan
                    .columns
                    .iter()
                    .zip(&fits)
                    .map(|(c, f)| HostColumn {
                        anonymous: anonymous_name(Role::Host, ctx.party_id, c.feature),
                        split_points: &f.split_points,
                        missing: f.missing,
                        category: c.category,
                        col: c.col,
                    })
                    .collect();
                let host_optimal = optimal.then(|| HostOptimal {
                    metric_method: param.optimal.metric.as_str().into(),
                    // FATE's host replaces its bin_num by init_bin_nums before
                    // announcing it, so its columns merge down to init_bin_nums bins.
                    bin_num: param.optimal.init_bin_nums,
                    mixture: param.optimal.mixture,
                    max_bin_pct: param.optimal.max_bin_pct,
                    min_bin_pct: param.optimal.min_bin_pct,
                });
                let kept = federated::host(
                    ctx,
                    guest,
                    &HostTable {
                        id: &data.id,
                        rows: data.rows,
                        width: data.width(),
                    },
                    &columns,
                    param.method.as_str(),
                    host_optimal,
                )?;
                drop(columns);
                if let Some(kept) = kept {
                    for (c, f) in plan.columns.iter().zip(fits.iter_mut()) {
                        let name = anonymous_name(Role::Host, ctx.party_id, c.feature);
                        if let (false, Some(idx)) = (c.category, kept.get(&name)) {
                            f.split_points = idx.iter().map(|&i| f.split_points[i]).collect();
                        }
                    }
                    ctx.tracker.info(&format!(
                        "binning: the guest's optimal binning kept {} split points over {} columns",
                        kept.values().map(Vec::len).sum::<usize>(),
                        kept.len()
                    ));
                }
            }
            for (c, f) in plan.columns.iter().zip(&fits) {
                binning_result.insert(
                    c.name.clone(),
                    ColumnBinResult::unlabeled(f.split_points.clone()),
                );
            }
        }
    }

    let model = FeatureBinningModel {
        param: ModelParam {
            header_anonymous: (0..plan.header.len())
                .map(|i| anonymous_name(ctx.role, ctx.party_id, i))
                .collect(),
            header: plan.header.clone(),
            binning_result,
            host_results,
            labels: label_names,
            multi_class_result,
        },
        meta: ModelMeta {
            method: param.method.as_str().into(),
            optimal_metric_method: optimal.then(|| param.optimal.metric.as_str().to_owned()),
            bin_num: if optimal && ctx.role == Role::Host {
                param.optimal.init_bin_nums
            } else {
                param.bin_num
            },
            compress_thres: param.compress_thres,
            head_size: param.head_size,
            error: param.error,
            cols: names_of(&plan, |c| !c.category),
            category_cols: names_of(&plan, |c| c.category),
            adjustment_factor: param.adjustment_factor,
            local_only: param.local_only,
            skip_static: param.skip_static,
            need_run: true,
            transform_param: TransformMeta {
                transform_cols: plan.transform.clone(),
                transform_names: plan
                    .transform
                    .iter()
                    .map(|&f| plan.header[f].clone())
                    .collect(),
                transform_type: param.transform.kind.map(|k| k.as_str().to_owned()),
            },
        },
    };
    let transforms = transformer(&model, data.schema(), param.transform.kind, |reason| {
        Error::InvalidModel {
            component: ctx.component.clone(),
            alias: ctx.first_output_model_name("model").into(),
            module: MODULE.into(),
            reason,
        }
    })
    .map_err(|e| match e {
        TransformError::Model(e) => e,
        TransformError::MissingColumn(column) => Error::MissingColumn {
            table: data.name(),
            column,
            why: "a transformed column".into(),
        },
    })?;
    let output = write_output(ctx, data, &transforms)?;
    ctx.tracker.save_model(
        ctx.first_output_model_name("model"),
        &model.to_component_model(),
    )?;
    report(ctx, &model)?;
    ctx.tracker.info(&format!(
        "binning done: {} columns binned, {} transformed ({}), {} rows written to {output}",
        plan.columns.len(),
        if param.transform.kind.is_some() {
            transforms.len()
        } else {
            0
        },
        param
            .transform
            .kind
            .map_or("no transform", TransformType::as_str),
        data.rows
    ));
    ctx.tracker.progress(100);
    Ok(())
}

fn names_of(plan: &Plan, keep: impl Fn(&BinColumn) -> bool) -> Vec<String> {
    plan.columns
        .iter()
        .filter(|c| keep(c))
        .map(|c| c.name.clone())
        .collect()
}

/// The IVs of one class: guest columns by name, and per host by anonymous name.
fn iv_maps(
    own: &BTreeMap<String, ColumnBinResult>,
    hosts: &HostResults,
) -> (Map<String, Value>, Map<String, Value>) {
    let iv = own.iter().map(|(c, r)| (c.clone(), json!(r.iv))).collect();
    let host_iv = hosts
        .iter()
        .map(|(party, cols)| {
            let cols: Map<String, Value> =
                cols.iter().map(|(c, r)| (c.clone(), json!(r.iv))).collect();
            (party.clone(), Value::Object(cols))
        })
        .collect();
    (iv, host_iv)
}

/// The IV metric points of one class: guest columns in header order, then each host's
/// in column order.
fn iv_points(
    header: &[String],
    own: &BTreeMap<String, ColumnBinResult>,
    hosts: &HostResults,
) -> Vec<(Value, Value)> {
    let mut points: Vec<(Value, Value)> = header
        .iter()
        .filter_map(|h| own.get(h).map(|r| (json!(h), json!(r.iv))))
        .collect();
    for cols in hosts.values() {
        let mut cols: Vec<(&String, &ColumnBinResult)> = cols.iter().collect();
        // Anonymous names in column order (x2 before x10).
        cols.sort_by_key(|(name, _)| anonymous_index(name));
        points.extend(cols.into_iter().map(|(c, r)| (json!(c), json!(r.iv))));
    }
    points
}

/// Logs the IV metric (one per label class with more than two labels) and sets the
/// summary.
fn report(ctx: &TaskContext<'_>, model: &FeatureBinningModel) -> Result<()> {
    let p = &model.param;
    let split_points: Map<String, Value> = p
        .binning_result
        .iter()
        .map(|(c, r)| (c.clone(), json!(r.split_points)))
        .collect();
    let labeled = ctx.role == Role::Guest && !model.meta.skip_static;
    if !labeled {
        return ctx
            .tracker
            .set_summary(json!({ "split_points": split_points }));
    }
    let meta = json!({"name": "iv", "metric_type": "BINNING", "unit_name": "feature"});
    let (iv, host_iv) = iv_maps(&p.binning_result, &p.host_results);
    let Some(multi) = &p.multi_class_result else {
        ctx.log_metric(Metric {
            namespace: "train".into(),
            name: "iv".into(),
            data: iv_points(&p.header, &p.binning_result, &p.host_results),
            meta,
        })?;
        return ctx.tracker.set_summary(json!({
            "labels": p.labels,
            "iv": iv,
            "host_iv": host_iv,
            "split_points": split_points,
        }));
    };
    let mut per_label = Map::new();
    for (class, label) in multi.labels.iter().enumerate() {
        let own = &multi.results[class];
        let hosts: HostResults = multi
            .host_results
            .iter()
            .map(|(party, classes)| (party.clone(), classes[class].clone()))
            .collect();
        let name = format!("iv_label_{label}");
        ctx.log_metric(Metric {
            namespace: "train".into(),
            name: name.clone(),
            data: iv_points(&p.header, own, &hosts),
            meta: json!({"name": name, "metric_type": "BINNING", "unit_name": "feature", "label": label}),
        })?;
        let (iv, host_iv) = iv_maps(own, &hosts);
        per_label.insert(label.clone(), json!({"iv": iv, "host_iv": host_iv}));
    }
    ctx.tracker.set_summary(json!({
        "labels": p.labels,
        "iv": iv,
        "host_iv": host_iv,
        "split_points": split_points,
        "multi_class": per_label,
    }))
}

/// `7` of `host_10000_x7` (names that do not parse sort last).
fn anonymous_index(name: &str) -> usize {
    name.rsplit_once("_x")
        .and_then(|(_, i)| i.parse().ok())
        .unwrap_or(usize::MAX)
}

/// How one transformed column is rewritten.
#[derive(Debug, Clone)]
struct ColumnTransform {
    /// Index in the table's columns.
    col: usize,
    split_points: Vec<f64>,
    /// The WOE per bin, for `woe`.
    woe: Option<Vec<f64>>,
}

impl ColumnTransform {
    fn apply(&self, v: f64) -> f64 {
        let bin = bin_of(&self.split_points, v);
        match &self.woe {
            None => bin as f64,
            Some(woe) => woe.get(bin).copied().unwrap_or(f64::NAN),
        }
    }
}

/// Why transforms cannot be built from a model.
enum TransformError {
    Model(Error),
    MissingColumn(String),
}

/// The transforms of `model`'s transform columns for a table with `schema` (none when
/// `kind` is `None`).
fn transformer(
    model: &FeatureBinningModel,
    schema: &TableSchema,
    kind: Option<TransformType>,
    bad_model: impl Fn(String) -> Error,
) -> std::result::Result<Vec<ColumnTransform>, TransformError> {
    let Some(kind) = kind else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in &model.meta.transform_param.transform_names {
        let r = model.param.binning_result.get(name).ok_or_else(|| {
            TransformError::Model(bad_model(format!(
                "transformed column `{name}` has no binning result"
            )))
        })?;
        if r.split_points.is_empty() || r.split_points.len() != r.bin_nums {
            return Err(TransformError::Model(bad_model(format!(
                "column `{name}` has {} split points for {} bins",
                r.split_points.len(),
                r.bin_nums
            ))));
        }
        let col = schema
            .column_index(name)
            .filter(|_| schema.is_feature(name))
            .ok_or_else(|| TransformError::MissingColumn(name.clone()))?;
        let woe = match kind {
            TransformType::BinNum => None,
            TransformType::Woe => {
                if model.param.multi_class_result.is_some() {
                    return Err(TransformError::Model(bad_model(
                        "WOE transform of multi-class-labeled data is not supported (as in FATE): a WOE per label class".into(),
                    )));
                }
                if r.woe_array.len() < r.bin_nums {
                    return Err(TransformError::Model(bad_model(format!(
                        "column `{name}` has no WOE to transform with (a host's model, or fitted with skip_static)"
                    ))));
                }
                Some(r.woe_array.clone())
            }
        };
        out.push(ColumnTransform {
            col,
            split_points: r.split_points.clone(),
            woe,
        });
    }
    Ok(out)
}

fn transform(ctx: &TaskContext<'_>, data: &Data, input: &ModelInput) -> Result<()> {
    let bad_model = |reason: String| Error::InvalidModel {
        component: input.component.clone(),
        alias: input.alias.clone(),
        module: input.model.module.clone(),
        reason,
    };
    let model = FeatureBinningModel::from_component_model(&input.model)
        .map_err(|e| bad_model(e.to_string()))?;
    let kind = match model.meta.transform_param.transform_type.as_deref() {
        None => None,
        Some(name) => Some(TransformType::from_name(name).ok_or_else(|| {
            bad_model(format!(
                "unknown transform_type `{name}` (expected bin_num, woe or null)"
            ))
        })?),
    };
    let transforms = transformer(&model, data.schema(), kind, bad_model).map_err(|e| match e {
        TransformError::Model(e) => e,
        TransformError::MissingColumn(column) => Error::MissingColumn {
            table: data.name(),
            column,
            why: format!(
                "transformed by model `{}` of component `{}`",
                input.alias, input.component
            ),
        },
    })?;
    ctx.tracker.info(&format!(
        "binning: transforming {} ({} rows) with model `{}` of component `{}`: {} columns, {}",
        data.id,
        data.rows,
        input.alias,
        input.component,
        transforms.len(),
        kind.map_or("no transform", TransformType::as_str)
    ));
    let output = write_output(ctx, data, &transforms)?;
    ctx.tracker
        .save_model(ctx.first_output_model_name("model"), &input.model)?;
    ctx.tracker
        .info(&format!("binning: wrote {} rows to {output}", data.rows));
    ctx.tracker.progress(100);
    Ok(())
}

/// Rewrites the transformed columns of every row and writes the output table, block by
/// block in scan order (same partition count as the input); returns it.
fn write_output(
    ctx: &TaskContext<'_>,
    data: &Data,
    transforms: &[ColumnTransform],
) -> Result<TableRef> {
    let start = Instant::now();
    let data_name = ctx.first_output_data_name("data");
    let output = ctx.output_table(data_name);
    let dest = output.to_id("output table")?;
    let table = |e| Error::table(&dest, e);
    let mut writer = FrameWriter::create(
        ctx.tables,
        &dest,
        data.schema().clone(),
        data.info.partitions,
        WriteMode::Replace,
    )
    .map_err(table)?;
    let ncols = data.width();
    data.for_each_block(ctx, data.block_rows(ctx), |_, block| {
        if ncols == 0 {
            for sid in block.sids() {
                writer.push(sid, &[]).map_err(table)?;
            }
            return Ok(());
        }
        let mut values = block.values().to_vec();
        values.par_chunks_mut(ncols).for_each(|row| {
            for t in transforms {
                row[t.col] = t.apply(row[t.col]);
            }
        });
        for (sid, row) in block.sids().iter().zip(values.chunks(ncols)) {
            writer.push(sid, row).map_err(table)?;
        }
        Ok(())
    })?;
    writer.finish().map_err(table)?;
    ctx.tracker.save_output_data(data_name, &output)?;
    ctx.tracker.info(&format!(
        "binning: output {} written in {}",
        output,
        ms(start.elapsed())
    ));
    ctx.tracker.progress(95);
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_map_values_to_bins_or_woe() {
        let t = ColumnTransform {
            col: 0,
            split_points: vec![1.0, 2.0, 3.0],
            woe: None,
        };
        assert_eq!(t.apply(0.5), 0.0);
        assert_eq!(t.apply(2.0), 1.0);
        assert_eq!(t.apply(9.0), 2.0);
        assert_eq!(t.apply(f64::NAN), 3.0);
        let w = ColumnTransform {
            woe: Some(vec![-1.0, 0.0, 1.0]),
            ..t.clone()
        };
        assert_eq!(w.apply(2.5), 1.0);
        assert!(w.apply(f64::NAN).is_nan());
        let m = ColumnTransform {
            woe: Some(vec![-1.0, 0.0, 1.0, 7.0]),
            ..t
        };
        assert_eq!(m.apply(f64::NAN), 7.0);
    }

    #[test]
    fn anonymous_indexes_sort_numerically() {
        assert_eq!(anonymous_index("host_10000_x12"), 12);
        assert_eq!(anonymous_index("weird"), usize::MAX);
    }
}
