//! `DataTransform` (alias `DataIO`): turns a dense table into labelled instances.
//!
//! # Fit (no `DataTransform` model among the task's model inputs)
//!
//! Parameters and defaults are FATE 1.x `DataTransformParam`'s (the private `param`
//! module's tests pin them).
//! `input_format` `dense`, `sparse` (svmlight) and `tag` (plain or `tag_with_value`) are
//! supported; sparse and tag data, and any file upload kept as raw text lines, are
//! parsed by the [`text`] module into `[label] + features` (dense text: the upload's
//! header columns) before the steps below. `data_type` is a float type; other values
//! fail with a "not supported yet" error naming the parameter. `output_format: sparse`
//! is recorded in the model and gives the same table as `dense`: our tables are
//! columnar, and FATE-Flow itself shows a sparse output as dense rows; the values every
//! downstream component sees are the same as FATE's sparse instances hold (zeros
//! included).
//!
//! - The input is the first table under input key `data` (or `train_data`). Its sid
//!   column stays the sid. With `with_label`, the column `label_name` (matched exactly,
//!   else case-insensitively as FATE lower-cases it) is the label, cast by `label_type`:
//!   `int`/`int64`/`long` need an integral value, `float`/`float64`/`double` take any
//!   number, `str` keeps the stored number. A missing (NaN) or non-integral label fails
//!   naming the row's sid. With `with_match_id`, the column `match_id_name` (FATE: the
//!   first column when no name is given) is left out of the features (the tables have
//!   no slot to carry it); sparse and tag lines carry it as their first field.
//!   Every other column is a feature, in input order.
//! - `missing_fill`: a cell is missing when it is NaN (the tables store empty, `NA`,
//!   `NULL`, ... cells as NaN) or equals a number listed in `missing_impute` (textual
//!   entries of that list mean NaN). The fill value per column is the column's `min`,
//!   `max` or `mean` over its non-missing cells (`missing_fill_method`), or
//!   `default_value` (`designated` or no method), a number or a list with one number per
//!   feature.
//! - `outlier_replace` then works the same way on the filled data: outliers are the
//!   values in `outlier_impute` (NaN when it is not given, as FATE's imputer falls back
//!   to its missing-value list), replaced by the column's `min`/`max`/`mean` over
//!   non-outlier, non-NaN cells or by `outlier_replace_value`.
//!
//! # Predict / transform (a `DataTransform` model is among the model inputs)
//!
//! The model's header, label, fill values and outlier values are applied and the
//! task's own parameters are ignored, as in FATE. Every header column must be in the new
//! data (a missing one fails naming it); other columns are dropped. When the model has a
//! label but the data lacks that column, the output has no label.
//!
//! # Outputs
//!
//! - Output data (first output data name, default `data`): a table in
//!   [`TaskContext::output_table`] with the input's sid and partitioning, whose schema
//!   header is `[label] + features` with `label_name` set to the label column (the
//!   tables crate keeps the label as a header column; [`feature_header`](fateflow_component_core::feature_header) removes it).
//! - Model (first output model name, default `model`): a [`DataTransformModel`] (in
//!   predict mode, the input model unchanged).
//! - Metrics, when enabled: namespace `train` (fit) or `predict` (transform), names
//!   `missing_fill` and `outlier_replace`; points `[column, replaced cell count]` in
//!   header order; meta `{"metric_type": "DATA_TRANSFORM", "method", "values",
//!   "replace_value": {column: value}, "rate": {column: share}, "count": rows}`.
//! - Summary, when missing fill or outlier replace is on: FATE's shape,
//!   `{"missing_fill_info": {"missing_value", "missing_impute_value",
//!   "missing_impute_rate"}, "outlier_replace_rate": {"outlier_value",
//!   "outlier_replace_value", "outlier_replace_rate"}}`.

pub mod model;
pub(crate) mod param;
mod text;
mod writer;

use std::collections::BTreeMap;

use fateflow_tables::{
    read_blocks, scan_text, Frame, RowLayout, TableId, TableInfo, TableOrigin, TableSchema,
};
use serde_json::{json, Map, Value};

use crate::context::{Component, Metric, ModelInput, TableRef, TaskContext};
use crate::error::{Error, Result};
use crate::table_io::open_first_input;

pub use model::DataTransformModel;
use model::{ImputerMeta, ImputerParam, ModelMeta, ModelParam, OutlierMeta, OutlierParam};
use param::{
    DataTransformParam, LabelKind, Marker, ReplaceMethod, Replacement, DEFAULT_MISSING_VALUES,
};
use text::{Columns, TextFormat, TextReader};
use writer::OutputWriter;

/// Input data keys tried in order.
const INPUT_KEYS: [&str; 2] = ["data", "train_data"];

/// FATE's `DataTransform` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct DataTransform;

impl Component for DataTransform {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let (src, info, rows) = open_first_input(ctx, model::MODULE, &INPUT_KEYS)?;
        let mut input = Input {
            id: src,
            info,
            rows,
            text: None,
        };
        match ctx.models_of(model::MODULE).next() {
            Some(model) => {
                let m = DataTransformModel::from_component_model(&model.model).map_err(|e| {
                    Error::InvalidModel {
                        component: model.component.clone(),
                        alias: model.alias.clone(),
                        module: model.model.module.clone(),
                        reason: e.to_string(),
                    }
                })?;
                let format = TextSettings {
                    input_format: m.meta.input_format.clone(),
                    delimiter: m.meta.delimitor.clone(),
                    tag_with_value: m.meta.tag_with_value,
                    tag_value_delimiter: m.meta.tag_value_delimitor.clone(),
                    with_label: m.meta.with_label,
                    label_name: m.param.label_name.clone().unwrap_or_default(),
                    with_match_id: m.meta.with_match_id,
                    match_id_name: m.meta.match_id_name.clone(),
                };
                input.prepare(ctx, &format, Some(&m.param.header))?;
                transform(ctx, &input, model, m)
            }
            None => {
                let p = DataTransformParam::parse(&ctx.parameters)?;
                let format = TextSettings {
                    input_format: p.input_format.into(),
                    delimiter: p.delimitor.clone(),
                    tag_with_value: p.tag_with_value,
                    tag_value_delimiter: p.tag_value_delimitor.clone(),
                    with_label: p.with_label,
                    label_name: p.label_name.clone(),
                    with_match_id: p.with_match_id,
                    match_id_name: p.match_id_name.clone(),
                };
                input.prepare(ctx, &format, None)?;
                fit(ctx, &input, p)
            }
        }
    }
}

/// The input table.
struct Input {
    id: TableId,
    /// For a text table, the columns its lines parse into.
    info: TableInfo,
    rows: u64,
    /// How to parse a text table's lines.
    text: Option<(TextReader, Columns)>,
}

/// What says how a text table's lines are laid out: the parameters at fit, the model's
/// meta when transforming.
struct TextSettings {
    input_format: String,
    delimiter: String,
    tag_with_value: bool,
    tag_value_delimiter: String,
    with_label: bool,
    label_name: String,
    with_match_id: bool,
    match_id_name: String,
}

impl Input {
    /// Checks the input format against the table and, for a text table, sets up its
    /// parsing: `features` are the model's when transforming, found by a scan at fit.
    fn prepare(
        &mut self,
        ctx: &TaskContext<'_>,
        s: &TextSettings,
        features: Option<&[String]>,
    ) -> Result<()> {
        let format = match s.input_format.as_str() {
            "dense" => TextFormat::Dense,
            "sparse" | "svmlight" => TextFormat::Sparse,
            "tag" => TextFormat::Tag {
                with_value: s.tag_with_value,
                value_delimiter: s.tag_value_delimiter.clone(),
            },
            other => {
                return Err(Error::param(
                    "input_format",
                    format!("unknown input format `{other}` (expected dense, sparse or tag)"),
                ))
            }
        };
        if self.info.layout == RowLayout::Columns {
            if format == TextFormat::Dense {
                return Ok(());
            }
            return Err(Error::param(
                "input_format",
                format!(
                    "`{}` needs a table of text lines, but table {} was uploaded as dense \
                     numeric columns",
                    s.input_format, self.id
                ),
            ));
        }
        let dense = format == TextFormat::Dense;
        let reader = TextReader {
            format,
            delimiter: s.delimiter.clone(),
            with_label: s.with_label && !dense,
            with_match_id: s.with_match_id && !dense,
            table: self.name(),
        };
        let (columns, names) = if dense {
            let header = self.info.schema.header.clone();
            let skip = match_id_column(s.with_match_id, &s.match_id_name, &header);
            (Columns::new(header.clone(), skip), header)
        } else {
            let features = match features {
                Some(f) => f.to_vec(),
                None => {
                    let id = &self.id;
                    let batches = scan_text(ctx.tables, id).map_err(|e| Error::table(id, e))?;
                    reader.fit_features(batches.map(|b| b.map_err(|e| Error::table(id, e))))?
                }
            };
            // FATE lower-cases the label name of sparse and tag data.
            let label = s.label_name.to_lowercase();
            let names = reader
                .with_label
                .then_some(label)
                .into_iter()
                .chain(features.iter().cloned())
                .collect();
            (Columns::new(features, None), names)
        };
        ctx.tracker.info(&format!(
            "data_transform: {} holds text lines; parsing them as {} into {} columns",
            self.id,
            s.input_format,
            names.len()
        ));
        self.info.schema = TableSchema::new(self.info.schema.sid.clone(), names);
        self.info.layout = RowLayout::Columns;
        self.text = Some((reader, columns));
        Ok(())
    }
}

/// The dense column FATE takes as the match id: `match_id_name`, else the first column.
fn match_id_column(with_match_id: bool, name: &str, header: &[String]) -> Option<usize> {
    if !with_match_id || header.is_empty() {
        return None;
    }
    if name.is_empty() {
        return Some(0);
    }
    find_column(header, name)
}

impl Input {
    fn name(&self) -> String {
        self.id.to_string()
    }

    /// Calls `f` with the rows in blocks of bounded size, in scan order (partition
    /// after partition, each in its stored order): a numeric table in blocks sized from
    /// the task's memory budget, a text table a stored record batch at a time, parsed.
    fn for_each_block(
        &self,
        ctx: &TaskContext<'_>,
        mut f: impl FnMut(Frame) -> Result<()>,
    ) -> Result<()> {
        let width = self.info.schema.header.len();
        let Some((reader, columns)) = &self.text else {
            let blocks = read_blocks(ctx.tables, &self.id, block_rows(ctx, width))
                .map_err(|e| Error::table(&self.id, e))?;
            for block in blocks {
                f(block.map_err(|e| Error::table(&self.id, e))?)?;
            }
            return Ok(());
        };
        let batches = scan_text(ctx.tables, &self.id).map_err(|e| Error::table(&self.id, e))?;
        let mut row = Vec::with_capacity(width);
        for rows in batches {
            let rows = rows.map_err(|e| Error::table(&self.id, e))?;
            let mut values = Vec::with_capacity(rows.len() * width);
            let mut sids = Vec::with_capacity(rows.len());
            for (sid, line) in rows {
                reader.parse(&sid, &line, columns, &mut row)?;
                values.extend_from_slice(&row);
                sids.push(sid);
            }
            let frame = Frame::new(
                self.info.schema.sid.clone(),
                self.info.schema.header.clone(),
                sids,
                values,
            )
            .map_err(|e| Error::table(&self.id, e))?;
            f(frame)?;
        }
        Ok(())
    }
}

/// Rows per block of a table `width` values wide: a block, its output rows and the
/// write buffers take a small share of the task's memory budget.
fn block_rows(ctx: &TaskContext<'_>, width: usize) -> usize {
    // A sid (its `String` and bytes) and the values, read and written.
    let bytes_per_row = 2 * (48 + 8 * width);
    ctx.memory.block_rows(bytes_per_row, 16)
}

/// The label column of the input.
#[derive(Debug, Clone)]
struct Label {
    index: usize,
    name: String,
    kind: LabelKind,
    type_name: String,
}

/// Where the label and the features are in the input.
#[derive(Debug, Clone)]
struct Layout {
    sid_name: String,
    label: Option<Label>,
    /// Input column index of each feature.
    features: Vec<usize>,
    /// Feature names, in output order.
    header: Vec<String>,
}

impl Layout {
    fn output_schema(&self) -> TableSchema {
        let label = self.label.as_ref().map(|l| l.name.clone());
        TableSchema {
            sid: self.sid_name.clone(),
            header: label.iter().cloned().chain(self.header.clone()).collect(),
            label_name: label,
            weight_name: None,
        }
    }

    /// Copies the features of `row` into `out`.
    fn features_into(&self, row: &[f64], out: &mut Vec<f64>) {
        out.extend(self.features.iter().map(|&i| row[i]));
    }
}

/// Finds `name` in `header`: exactly, else case-insensitively when that is unambiguous.
fn find_column(header: &[String], name: &str) -> Option<usize> {
    if let Some(i) = header.iter().position(|c| c == name) {
        return Some(i);
    }
    let mut matches = header
        .iter()
        .enumerate()
        .filter(|(_, c)| c.eq_ignore_ascii_case(name));
    match (matches.next(), matches.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// One replacement step (missing fill or outlier replace) with its fitted values.
#[derive(Debug, Clone)]
struct Replacer {
    markers: Vec<Marker>,
    /// One value per feature.
    values: Vec<f64>,
}

impl Replacer {
    fn is_marked(&self, v: f64) -> bool {
        self.markers.iter().any(|m| m.matches(v))
    }

    /// Replaces marked cells and counts them per feature.
    fn apply(&self, features: &mut [f64], counts: &mut [u64]) {
        for ((v, replacement), count) in features.iter_mut().zip(&self.values).zip(counts) {
            if self.is_marked(*v) {
                *v = *replacement;
                *count += 1;
            }
        }
    }
}

/// Running min, max and sum of one column.
#[derive(Debug, Clone, Copy)]
struct ColumnStats {
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for ColumnStats {
    fn default() -> Self {
        ColumnStats {
            n: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl ColumnStats {
    fn add(&mut self, v: f64) {
        self.n += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    fn get(&self, method: ReplaceMethod) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        match method {
            ReplaceMethod::Min => Some(self.min),
            ReplaceMethod::Max => Some(self.max),
            ReplaceMethod::Mean => Some(self.sum / self.n as f64),
            ReplaceMethod::Designated => None,
        }
    }
}

/// Which replacement a fit step is for, with its parameter names.
#[derive(Debug, Clone, Copy)]
struct Step {
    method_param: &'static str,
    value_param: &'static str,
}

const MISSING: Step = Step {
    method_param: "missing_fill_method",
    value_param: "default_value",
};
const OUTLIER: Step = Step {
    method_param: "outlier_replace_method",
    value_param: "outlier_replace_value",
};

/// Fits one replacement step. `before` is applied to each row first (missing fill
/// before outlier statistics), and NaN cells never enter a statistic.
fn fit_replacer(
    ctx: &TaskContext<'_>,
    input: &Input,
    layout: &Layout,
    r: &Replacement,
    step: Step,
    before: Option<&Replacer>,
    always_nan: bool,
) -> Result<Option<Replacer>> {
    if !r.enabled {
        return Ok(None);
    }
    let mut markers = r.markers.clone();
    if always_nan && !markers.contains(&Marker::Nan) {
        markers.push(Marker::Nan);
    }
    let values = match r.method {
        None | Some(ReplaceMethod::Designated) => {
            r.value.per_column(step.value_param, &layout.header)?
        }
        Some(method) => {
            let candidate = Replacer {
                markers: markers.clone(),
                values: Vec::new(),
            };
            let mut stats = vec![ColumnStats::default(); layout.header.len()];
            let mut features = Vec::with_capacity(layout.header.len());
            let mut ignored = vec![0; layout.header.len()];
            input.for_each_block(ctx, |frame| {
                for row in frame.rows() {
                    features.clear();
                    layout.features_into(row, &mut features);
                    if let Some(before) = before {
                        before.apply(&mut features, &mut ignored);
                    }
                    for (s, &v) in stats.iter_mut().zip(&features) {
                        if !v.is_nan() && !candidate.is_marked(v) {
                            s.add(v);
                        }
                    }
                }
                Ok(())
            })?;
            layout
                .header
                .iter()
                .zip(&stats)
                .map(|(column, s)| {
                    s.get(method).unwrap_or_else(|| {
                        // FATE's statistics of a column without values: the mean is
                        // 0/0 (NaN), the min +inf and the max -inf; it fills with them.
                        let v = match method {
                            ReplaceMethod::Min => f64::INFINITY,
                            ReplaceMethod::Max => f64::NEG_INFINITY,
                            _ => f64::NAN,
                        };
                        ctx.tracker.info(&format!(
                            "column `{column}` of {} has no value to compute the {} from \
                             ({}): its cells are filled with {v}, as FATE does",
                            input.name(),
                            method.as_str(),
                            step.method_param
                        ));
                        v
                    })
                })
                .collect::<Vec<_>>()
        }
    };
    Ok(Some(Replacer { markers, values }))
}

/// Cells replaced per feature by each step.
#[derive(Debug, Clone, Default)]
struct Counts {
    missing: Vec<u64>,
    outlier: Vec<u64>,
}

/// The label, checked against its type.
fn label_value(input: &Input, sid: &str, label: &Label, v: f64) -> Result<f64> {
    let fail = |reason: String| Error::InvalidValue {
        table: input.name(),
        sid: sid.to_owned(),
        column: label.name.clone(),
        reason,
    };
    if v.is_nan() {
        return Err(fail("the label is missing".into()));
    }
    match label.kind {
        LabelKind::Int if v.fract() != 0.0 || !v.is_finite() => Err(fail(format!(
            "label {v} is not an integer (label_type `{}`)",
            label.type_name
        ))),
        _ => Ok(v),
    }
}

/// Applies the layout and both steps to every row and writes the output table, block
/// by block in the input's order, with the input's partition count.
fn write_output(
    ctx: &TaskContext<'_>,
    input: &Input,
    layout: &Layout,
    missing: Option<&Replacer>,
    outlier: Option<&Replacer>,
    output: &TableRef,
) -> Result<Counts> {
    let dest = output.to_id("output table")?;
    let schema = layout.output_schema();
    let info = TableInfo {
        schema: schema.clone(),
        partitions: input.info.partitions,
        id_delimiter: input.info.id_delimiter.clone(),
        have_head: true,
        extend_sid: input.info.extend_sid,
        origin: TableOrigin::Output,
        layout: fateflow_tables::RowLayout::Columns,
    };
    let nfeatures = layout.header.len();
    let mut counts = Counts {
        missing: vec![0; nfeatures],
        outlier: vec![0; nfeatures],
    };
    let mut out = OutputWriter::create(ctx.tables, &dest, &info)?;
    let mut features = Vec::with_capacity(nfeatures);
    let mut row_out = Vec::with_capacity(schema.header.len());
    let mut done = 0u64;
    let mut shown = 0u8;
    input.for_each_block(ctx, |frame| {
        let width = frame.ncols();
        let (_, sids, values) = frame.into_parts();
        for (i, sid) in sids.into_iter().enumerate() {
            let row = &values[i * width..(i + 1) * width];
            row_out.clear();
            if let Some(label) = &layout.label {
                row_out.push(label_value(input, &sid, label, row[label.index])?);
            }
            features.clear();
            layout.features_into(row, &mut features);
            if let Some(missing) = missing {
                missing.apply(&mut features, &mut counts.missing);
            }
            if let Some(outlier) = outlier {
                outlier.apply(&mut features, &mut counts.outlier);
            }
            row_out.extend_from_slice(&features);
            out.push(sid, &row_out)?;
        }
        done = out.rows();
        let percent = (done.min(input.rows) * 100 / input.rows.max(1)) as u8;
        if percent != shown {
            shown = percent;
            ctx.tracker.progress(percent);
        }
        Ok(())
    })?;
    out.finish(input.rows)?;
    Ok(counts)
}

fn fit(ctx: &TaskContext<'_>, input: &Input, param: DataTransformParam) -> Result<()> {
    let schema = &input.info.schema;
    let why_label = "`label_name`, with `with_label` true";
    let label = if param.with_label {
        let index =
            find_column(&schema.header, &param.label_name).ok_or_else(|| Error::MissingColumn {
                table: input.name(),
                column: param.label_name.clone(),
                why: why_label.into(),
            })?;
        Some(Label {
            index,
            name: schema.header[index].clone(),
            kind: LabelKind::from_name(param.label_type).expect("label_type was checked"),
            type_name: param.label_type.into(),
        })
    } else {
        None
    };
    let dense = param.input_format == "dense";
    let match_id = if dense && param.with_match_id {
        let index =
            match_id_column(true, &param.match_id_name, &schema.header).ok_or_else(|| {
                Error::MissingColumn {
                    table: input.name(),
                    column: param.match_id_name.clone(),
                    why: "`match_id_name`, with `with_match_id` true".into(),
                }
            })?;
        ctx.tracker.info(&format!(
            "data_transform: match id column `{}` is left out of the features",
            schema.header[index]
        ));
        Some(index)
    } else {
        None
    };
    let features: Vec<usize> = (0..schema.header.len())
        .filter(|&i| Some(i) != label.as_ref().map(|l| l.index) && Some(i) != match_id)
        .collect();
    let layout = Layout {
        sid_name: schema.sid.clone(),
        header: features.iter().map(|&i| schema.header[i].clone()).collect(),
        label,
        features,
    };
    ctx.tracker.info(&format!(
        "data_transform: fitting on {} ({} rows), label {}, {} features",
        input.id,
        input.rows,
        layout
            .label
            .as_ref()
            .map_or("none".to_owned(), |l| format!("`{}`", l.name)),
        layout.header.len()
    ));

    let missing = fit_replacer(ctx, input, &layout, &param.missing, MISSING, None, true)?;
    let outlier = fit_replacer(
        ctx,
        input,
        &layout,
        &param.outlier,
        OUTLIER,
        missing.as_ref(),
        false,
    )?;

    let data_name = ctx.first_output_data_name("data");
    let output = ctx.output_table(data_name);
    let counts = write_output(
        ctx,
        input,
        &layout,
        missing.as_ref(),
        outlier.as_ref(),
        &output,
    )?;
    ctx.tracker.save_output_data(data_name, &output)?;

    let rates = |counts: &[u64]| -> Vec<f64> {
        counts
            .iter()
            .map(|&c| c as f64 / input.rows as f64)
            .collect()
    };
    let by_column = |values: &[f64]| -> BTreeMap<String, f64> {
        layout
            .header
            .iter()
            .cloned()
            .zip(values.iter().copied())
            .collect()
    };
    let markers_or_default = |given: &Option<Vec<Value>>| -> Vec<Value> {
        given.clone().unwrap_or_else(|| {
            DEFAULT_MISSING_VALUES
                .iter()
                .map(|s| Value::from(*s))
                .collect()
        })
    };
    let model = DataTransformModel {
        param: ModelParam {
            header: layout.header.clone(),
            sid_name: layout.sid_name.clone(),
            label_name: layout.label.as_ref().map(|l| l.name.clone()),
            with_label: layout.label.is_some(),
            imputer_param: match &missing {
                Some(m) => ImputerParam {
                    missing_replace_value: by_column(&m.values),
                    missing_value_ratio: by_column(&rates(&counts.missing)),
                },
                None => ImputerParam::default(),
            },
            outlier_param: match &outlier {
                Some(o) => OutlierParam {
                    outlier_replace_value: by_column(&o.values),
                    outlier_value_ratio: by_column(&rates(&counts.outlier)),
                },
                None => OutlierParam::default(),
            },
        },
        meta: ModelMeta {
            input_format: param.input_format.into(),
            delimitor: param.delimitor.clone(),
            tag_with_value: param.tag_with_value,
            tag_value_delimitor: param.tag_value_delimitor.clone(),
            data_type: param.data_type.into(),
            with_label: param.with_label,
            label_name: param.with_label.then(|| param.label_name.clone()),
            label_type: param.with_label.then(|| param.label_type.to_owned()),
            output_format: param.output_format.into(),
            with_match_id: param.with_match_id,
            match_id_name: param.match_id_name.clone(),
            need_run: true,
            imputer_meta: ImputerMeta {
                is_imputer: param.missing.enabled,
                strategy: param.missing.method.map(|m| m.as_str().to_owned()),
                missing_value: if param.missing.enabled {
                    markers_or_default(&param.missing.markers_given)
                } else {
                    Vec::new()
                },
            },
            outlier_meta: OutlierMeta {
                is_outlier: param.outlier.enabled,
                strategy: param.outlier.method.map(|m| m.as_str().to_owned()),
                outlier_value: if param.outlier.enabled {
                    markers_or_default(&param.outlier.markers_given)
                } else {
                    Vec::new()
                },
            },
        },
    };
    let alias = ctx.first_output_model_name("model");
    ctx.tracker.save_model(alias, &model.to_component_model())?;
    report(ctx, "train", input.rows, &layout, &model, &counts)
}

fn transform(
    ctx: &TaskContext<'_>,
    input: &Input,
    model_input: &ModelInput,
    model: DataTransformModel,
) -> Result<()> {
    let bad_model = |reason: String| Error::InvalidModel {
        component: model_input.component.clone(),
        alias: model_input.alias.clone(),
        module: model_input.model.module.clone(),
        reason,
    };
    let schema = &input.info.schema;
    let features = model
        .param
        .header
        .iter()
        .map(|column| {
            schema
                .column_index(column)
                .ok_or_else(|| Error::MissingColumn {
                    table: input.name(),
                    column: column.clone(),
                    why: format!(
                        "a feature of model `{}` from component `{}`",
                        model_input.alias, model_input.component
                    ),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let label = match (&model.param.label_name, model.param.with_label) {
        (Some(name), true) => match find_column(&schema.header, name) {
            Some(index) => {
                let type_name = model
                    .meta
                    .label_type
                    .clone()
                    .unwrap_or_else(|| "int".into());
                let kind = LabelKind::from_name(&type_name)
                    .ok_or_else(|| bad_model(format!("unknown label_type `{type_name}`")))?;
                Some(Label {
                    index,
                    name: schema.header[index].clone(),
                    kind,
                    type_name,
                })
            }
            None => {
                ctx.tracker.info(&format!(
                    "data_transform: the data has no label column `{name}`; the output has no label"
                ));
                None
            }
        },
        _ => None,
    };
    let layout = Layout {
        sid_name: schema.sid.clone(),
        label,
        features,
        header: model.param.header.clone(),
    };
    ctx.tracker.info(&format!(
        "data_transform: transforming {} ({} rows) with model `{}` of component `{}`",
        input.id, input.rows, model_input.alias, model_input.component
    ));

    let replacer = |enabled: bool,
                    what: &str,
                    markers: &[Value],
                    values: &BTreeMap<String, f64>,
                    always_nan: bool|
     -> Result<Option<Replacer>> {
        if !enabled {
            return Ok(None);
        }
        let mut markers =
            Marker::parse_list(what, markers).map_err(|e| bad_model(e.to_string()))?;
        if always_nan && !markers.contains(&Marker::Nan) {
            markers.push(Marker::Nan);
        }
        let values = layout
            .header
            .iter()
            .map(|c| {
                values
                    .get(c)
                    .copied()
                    .ok_or_else(|| bad_model(format!("{what}: no value for column `{c}`")))
            })
            .collect::<Result<_>>()?;
        Ok(Some(Replacer { markers, values }))
    };
    let missing = replacer(
        model.meta.imputer_meta.is_imputer,
        "imputer_meta.missing_value",
        &model.meta.imputer_meta.missing_value,
        &model.param.imputer_param.missing_replace_value,
        true,
    )?;
    let outlier = replacer(
        model.meta.outlier_meta.is_outlier,
        "outlier_meta.outlier_value",
        &model.meta.outlier_meta.outlier_value,
        &model.param.outlier_param.outlier_replace_value,
        false,
    )?;

    let data_name = ctx.first_output_data_name("data");
    let output = ctx.output_table(data_name);
    let counts = write_output(
        ctx,
        input,
        &layout,
        missing.as_ref(),
        outlier.as_ref(),
        &output,
    )?;
    ctx.tracker.save_output_data(data_name, &output)?;
    let alias = ctx.first_output_model_name("model");
    ctx.tracker.save_model(alias, &model_input.model)?;
    report(ctx, "predict", input.rows, &layout, &model, &counts)
}

/// Logs the replacement metrics and sets the summary.
fn report(
    ctx: &TaskContext<'_>,
    namespace: &str,
    rows: u64,
    layout: &Layout,
    model: &DataTransformModel,
    counts: &Counts,
) -> Result<()> {
    let meta = &model.meta;
    let param = &model.param;
    let mut summary = Map::new();
    let steps = [
        (
            meta.imputer_meta.is_imputer,
            "missing_fill",
            &meta.imputer_meta.strategy,
            &meta.imputer_meta.missing_value,
            &param.imputer_param.missing_replace_value,
            &counts.missing,
        ),
        (
            meta.outlier_meta.is_outlier,
            "outlier_replace",
            &meta.outlier_meta.strategy,
            &meta.outlier_meta.outlier_value,
            &param.outlier_param.outlier_replace_value,
            &counts.outlier,
        ),
    ];
    for (enabled, name, strategy, markers, values, counts) in steps {
        if !enabled {
            continue;
        }
        let mut replace_value = Map::new();
        let mut rate = Map::new();
        for (column, &count) in layout.header.iter().zip(counts) {
            replace_value.insert(column.clone(), json!(values.get(column)));
            rate.insert(column.clone(), json!(count as f64 / rows as f64));
        }
        ctx.log_metric(Metric {
            namespace: namespace.into(),
            name: name.into(),
            data: layout
                .header
                .iter()
                .zip(counts)
                .map(|(column, &count)| (json!(column), json!(count)))
                .collect(),
            meta: json!({
                "metric_type": "DATA_TRANSFORM",
                "method": strategy,
                "values": markers,
                "replace_value": replace_value,
                "rate": rate,
                "count": rows,
            }),
        })?;
        if name == "missing_fill" {
            summary.insert(
                "missing_fill_info".into(),
                json!({
                    "missing_value": markers,
                    "missing_impute_value": replace_value,
                    "missing_impute_rate": rate,
                }),
            );
        } else {
            summary.insert(
                "outlier_replace_rate".into(),
                json!({
                    "outlier_value": markers,
                    "outlier_replace_value": replace_value,
                    "outlier_replace_rate": rate,
                }),
            );
        }
    }
    if !summary.is_empty() {
        ctx.tracker.set_summary(Value::Object(summary))?;
    }
    ctx.tracker
        .info(&format!("data_transform: wrote {rows} rows"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn columns_match_exactly_then_case_insensitively() {
        let header = names(&["Y", "x0", "X0"]);
        assert_eq!(find_column(&header, "Y"), Some(0));
        assert_eq!(find_column(&header, "y"), Some(0));
        assert_eq!(find_column(&header, "x0"), Some(1));
        // Ambiguous without an exact match.
        let header = names(&["x0", "X0"]);
        assert_eq!(find_column(&header, "x0"), Some(0));
        assert_eq!(find_column(&header, "X0"), Some(1));
        let header = names(&["Ab", "aB"]);
        assert_eq!(find_column(&header, "ab"), None);
    }

    #[test]
    fn replacer_counts_what_it_replaces() {
        let r = Replacer {
            markers: vec![Marker::Nan, Marker::Value(-1.0)],
            values: vec![10.0, 20.0, 30.0],
        };
        let mut row = [f64::NAN, 5.0, -1.0];
        let mut counts = [0, 0, 0];
        r.apply(&mut row, &mut counts);
        assert_eq!(row, [10.0, 5.0, 30.0]);
        assert_eq!(counts, [1, 0, 1]);
    }

    /// Runs DataTransform on `input` with a budget of `memory_mb`; returns the output
    /// table and the model.
    fn run_with_budget(
        store: &fateflow_tables::LocalTableStore,
        input: &TableRef,
        params: Value,
        memory_mb: u64,
    ) -> (Frame, Value) {
        use crate::testing::{ctx, frame, RecordingTracker};
        let tracker = RecordingTracker::new();
        let mut c = ctx(store, &tracker, "data_transform_0", "DataTransform", params);
        c.memory = fateflow_component_core::memory::MemoryBudget::from_mb(memory_mb);
        c.inputs.data.insert("data".into(), vec![input.clone()]);
        DataTransform.run(&c).unwrap();
        let out = frame(store, &c.output_table("data"));
        let model = serde_json::to_value(&tracker.models()[0].1).unwrap();
        (out, model)
    }

    #[test]
    fn many_small_blocks_give_the_output_and_model_of_one_block_in_input_order() {
        let (_dir, store) = crate::testing::temp_store();
        let mut csv = String::from("id,y,x0,x1\n");
        for i in 0..5000 {
            let x0 = if i % 13 == 0 {
                "NA".to_owned()
            } else {
                format!("{}", i % 97)
            };
            let x1 = if i % 17 == 0 {
                "-1".to_owned()
            } else {
                format!("{}.5", i % 31)
            };
            csv.push_str(&format!("s{i},{},{x0},{x1}\n", i % 2));
        }
        let input = crate::testing::upload(&store, "blocks", &csv);
        let params = json!({
            "with_label": true, "label_name": "y",
            "missing_fill": true, "missing_fill_method": "mean",
            "outlier_replace": true, "outlier_impute": [-1], "outlier_replace_method": "max",
        });
        // 1 MB: blocks of the minimum size, 1024 rows; the default: one block.
        let (small, small_model) = run_with_budget(&store, &input, params.clone(), 1);
        let (whole, whole_model) = run_with_budget(&store, &input, params, 0);
        assert_eq!(small.sids(), whole.sids());
        assert_eq!(small.values(), whole.values());
        assert_eq!(small_model, whole_model);
        // The input's scan order, partitions and all.
        let id = TableId::new(&input.namespace, &input.name).unwrap();
        let scanned = fateflow_tables::read_all(&store, &id).unwrap();
        assert_eq!(small.sids(), scanned.sids());
        assert_eq!(small.nrows(), 5000);
        assert!(small.values().iter().all(|v| v.is_finite() && *v != -1.0));
    }

    #[test]
    fn statistics() {
        let mut s = ColumnStats::default();
        assert_eq!(s.get(ReplaceMethod::Mean), None);
        for v in [1.0, 4.0, -2.0] {
            s.add(v);
        }
        assert_eq!(s.get(ReplaceMethod::Min), Some(-2.0));
        assert_eq!(s.get(ReplaceMethod::Max), Some(4.0));
        assert_eq!(s.get(ReplaceMethod::Mean), Some(1.0));
    }
}
