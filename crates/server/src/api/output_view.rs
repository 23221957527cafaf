//! A component's output table as FATE-Flow shows it (`flow component output-data`,
//! `/tracking/component/output/data`, the pipeline SDK's `get_output_data`).
//!
//! Most tables read as stored: the sid, then the columns. A prediction table
//! (`fateflow_component_core::predict_output`: `label`, `predict_result`,
//! `predict_score`, optional `predict_detail.<class>` columns, `type`) reads as FATE
//! writes it: `label, predict_result, predict_score, predict_detail, type`, where
//! `predict_detail` is FATE's quoted dict string (`"{'0': 0.2, '1': 0.8}"`, which the SDK
//! parses back) and `type` is `train`, `validate` or `predict`.
//!
//! Where a table has no `predict_detail.<class>` columns the detail is derived as FATE
//! does: `{"label": prediction}` for regression modules, `{"0": 1 - p, "1": p}` else.

use fateflow_tables::{RowView, TableInfo};
use std::fmt::Write as _;

/// Modules whose predictions are regressions (their detail is `{"label": prediction}`).
const REGRESSION_MODULES: &[&str] = &["HeteroLinR", "HeteroPoisson", "HeteroSSHELinR"];

/// Prefix of the per-class score columns of a multi-class prediction.
const DETAIL_PREFIX: &str = "predict_detail.";

/// One rendered value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Num(f64),
    Text(String),
}

impl Cell {
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Num(v) if v.is_finite() => serde_json::json!(v),
            Cell::Num(v) => serde_json::json!(v.to_string()),
            Cell::Text(t) => serde_json::json!(t),
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Num(v) => write!(f, "{v}"),
            Cell::Text(t) => f.write_str(t),
        }
    }
}

#[derive(Debug)]
enum Detail {
    /// `predict_detail.<class>` columns: (class, column index).
    Columns(Vec<(String, usize)>),
    Binary,
    Regression,
}

#[derive(Debug)]
struct Predict {
    label: usize,
    result: usize,
    score: usize,
    ty: Option<usize>,
    detail: Detail,
}

/// How to show the rows of one table.
#[derive(Debug)]
pub(crate) struct OutputView {
    header: Vec<String>,
    predict: Option<Predict>,
}

impl OutputView {
    /// The view of a table written by a task of `module`.
    pub(crate) fn new(info: &TableInfo, module: &str) -> Self {
        let schema = &info.schema;
        let col = |name: &str| schema.column_index(name);
        let predict = match (col("label"), col("predict_result"), col("predict_score")) {
            (Some(label), Some(result), Some(score)) => {
                let classes: Vec<(String, usize)> = schema
                    .header
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| Some((c.strip_prefix(DETAIL_PREFIX)?.to_owned(), i)))
                    .collect();
                let detail = if !classes.is_empty() {
                    Detail::Columns(classes)
                } else if REGRESSION_MODULES.contains(&module) {
                    Detail::Regression
                } else {
                    Detail::Binary
                };
                Some(Predict {
                    label,
                    result,
                    score,
                    ty: col("type"),
                    detail,
                })
            }
            _ => None,
        };
        let mut header = vec![schema.sid.clone()];
        match &predict {
            Some(_) => header.extend(
                [
                    "label",
                    "predict_result",
                    "predict_score",
                    "predict_detail",
                    "type",
                ]
                .map(String::from),
            ),
            None => header.extend(schema.header.iter().cloned()),
        }
        OutputView { header, predict }
    }

    /// The column names, the sid's first.
    pub(crate) fn header(&self) -> &[String] {
        &self.header
    }

    /// Whether rows are rewritten into FATE's prediction columns.
    pub(crate) fn is_prediction(&self) -> bool {
        self.predict.is_some()
    }

    /// One row, the sid first.
    pub(crate) fn row(&self, row: RowView<'_>) -> Vec<Cell> {
        match row {
            RowView::Text(sid, line) => vec![Cell::Text(sid.into()), Cell::Text(line.into())],
            RowView::Values(sid, values) => {
                let mut out = vec![Cell::Text(sid.into())];
                match &self.predict {
                    None => out.extend(values.iter().map(|v| Cell::Num(*v))),
                    Some(p) => {
                        let score = values[p.score];
                        let detail: Vec<(String, f64)> = match &p.detail {
                            Detail::Columns(c) => {
                                c.iter().map(|(k, i)| (k.clone(), values[*i])).collect()
                            }
                            Detail::Binary => {
                                vec![("0".into(), 1.0 - score), ("1".into(), score)]
                            }
                            Detail::Regression => vec![("label".into(), values[p.result])],
                        };
                        out.push(Cell::Num(values[p.label]));
                        out.push(Cell::Num(values[p.result]));
                        out.push(Cell::Num(score));
                        out.push(Cell::Text(detail_text(&detail)));
                        out.push(Cell::Text(
                            p.ty.map_or("train", |i| type_name(values[i])).into(),
                        ));
                    }
                }
                out
            }
        }
    }
}

/// FATE's `predict_detail_dict_to_str`: the JSON dict with `'` for `"`, in quotes.
fn detail_text(detail: &[(String, f64)]) -> String {
    let mut s = String::from("\"{");
    for (i, (k, v)) in detail.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let v = if v.is_finite() {
            python_float(*v)
        } else {
            "NaN".into()
        };
        let _ = write!(s, "'{}': {v}", k.replace(['\'', '"'], ""));
    }
    s.push_str("}\"");
    s
}

/// A float as Python's `repr` writes it (`1.0`, not `1`).
fn python_float(v: f64) -> String {
    let s = format!("{v}");
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// FATE's data-set names of the `type` column's codes (0 train, 1 validate, 2 predict).
fn type_name(code: f64) -> &'static str {
    match code as i64 {
        1 => "validate",
        2 => "predict",
        _ => "train",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fateflow_tables::{RowLayout, TableOrigin, TableSchema};

    fn info(header: &[&str]) -> TableInfo {
        TableInfo {
            schema: TableSchema::new("id", header.iter().map(|h| h.to_string()).collect()),
            partitions: 1,
            id_delimiter: ",".into(),
            have_head: true,
            extend_sid: false,
            origin: TableOrigin::Output,
            layout: RowLayout::Columns,
        }
    }

    fn csv(cells: &[Cell]) -> String {
        cells
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The pipeline SDK's `to_pandas` parse of one CSV line of a prediction table.
    fn sdk_detail(line: &str, header_len: usize) -> serde_json::Value {
        let cols: Vec<&str> = line.split(',').collect();
        let joined = cols[header_len - 2..cols.len() - 1].join(",");
        let inner = &joined[1..joined.len() - 1];
        serde_json::from_str(&inner.replace('\'', "\"")).unwrap()
    }

    #[test]
    fn a_binary_prediction_reads_as_fate_writes_it() {
        let view = OutputView::new(
            &info(&["label", "predict_result", "predict_score", "type"]),
            "HeteroLR",
        );
        assert!(view.is_prediction());
        assert_eq!(
            view.header(),
            [
                "id",
                "label",
                "predict_result",
                "predict_score",
                "predict_detail",
                "type"
            ]
        );
        let row = view.row(RowView::Values("7", &[1.0, 1.0, 0.75, 1.0]));
        let line = csv(&row);
        assert_eq!(line, "7,1,1,0.75,\"{'0': 0.25, '1': 0.75}\",validate");
        assert_eq!(
            sdk_detail(&line, view.header().len()),
            serde_json::json!({"0": 0.25, "1": 0.75})
        );
    }

    #[test]
    fn regression_and_multi_class_details() {
        let reg = OutputView::new(
            &info(&["label", "predict_result", "predict_score", "type"]),
            "HeteroLinR",
        );
        let line = csv(&reg.row(RowView::Values("a", &[2.5, 3.0, 3.0, 2.0])));
        assert_eq!(line, "a,2.5,3,3,\"{'label': 3.0}\",predict");
        let multi = OutputView::new(
            &info(&[
                "label",
                "predict_result",
                "predict_score",
                "predict_detail.1",
                "predict_detail.2",
                "predict_detail.3",
                "type",
            ]),
            "HeteroLR",
        );
        let line = csv(&multi.row(RowView::Values("b", &[2.0, 3.0, 0.5, 0.2, 0.3, 0.5, 0.0])));
        assert_eq!(
            sdk_detail(&line, multi.header().len()),
            serde_json::json!({"1": 0.2, "2": 0.3, "3": 0.5})
        );
        assert!(line.ends_with(",train"), "{line}");
    }

    #[test]
    fn other_tables_read_as_stored() {
        let view = OutputView::new(&info(&["x0", "x1"]), "DataTransform");
        assert!(!view.is_prediction());
        assert_eq!(view.header(), ["id", "x0", "x1"]);
        assert_eq!(
            view.row(RowView::Values("1", &[0.5, -2.0])),
            vec![Cell::Text("1".into()), Cell::Num(0.5), Cell::Num(-2.0)]
        );
    }
}
