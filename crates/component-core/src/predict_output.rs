//! The numeric shape of a model component's prediction output, as `Evaluation` reads it
//! and as the server renders it into FATE's columns.
//!
//! FATE's model components output one row per sample with `label`, `predict_result`,
//! `predict_score`, `predict_detail` (a JSON string) and `type` (`"train"`, `"validate"`
//! or `"predict"`). Our tables hold numbers only, so the contract is:
//!
//! | column | meaning |
//! |---|---|
//! | [`LABEL`] | the true label (the table's `label_name`) |
//! | [`PREDICT_RESULT`] | the predicted label (binary: `1` when the score is above the threshold; multi-class: the predicted class; regression: the prediction) |
//! | [`PREDICT_SCORE`] | binary: the probability of class 1; multi-class: the score of the predicted class; regression: the prediction |
//! | [`TYPE`] | optional: which data set the row came from, a [`DataType`] code (`0` train, `1` validate, `2` test) |
//! | `predict_detail.<key>` | optional, after [`TYPE`]: one column per key of FATE's `predict_detail` dict, in the dict's order (see below) |
//!
//! Sample ids must be unique across the whole table, train and validate rows included.
//!
//! # `predict_detail`
//!
//! FATE's `predict_detail` is a JSON object from a key to a number. We store each entry
//! as its own numeric column named [`DETAIL_PREFIX`] followed by the key
//! ([`detail_column`]), in the order FATE writes the keys:
//!
//! - binary classifiers: `predict_detail.0` = 1 − p, `predict_detail.1` = p
//!   ([`binary_row`], keys [`BINARY_DETAIL_KEYS`]);
//! - multi-class (one-vs-rest): `predict_detail.<class>` = the raw score of that class's
//!   model, one column per class in the model's class order, class names as FATE prints
//!   them (`str(label)`: an integer label `3` is `"3"`) ([`multi_class_row`],
//!   [`class_key`]);
//! - regression: `predict_detail.label` = the prediction ([`regression_row`]).
//!
//! To render a row as FATE does, take the detail columns in table order, strip the
//! prefix from each name, and write `{"<key>": value, ...}` (JSON object, keys as
//! strings, values as JSON numbers) into one `predict_detail` column placed between
//! `predict_score` and `type`; `type` is rendered with [`DataType::as_str`]. A table
//! without detail columns (written before they existed) has no `predict_detail` to
//! show. Readers that do not care (`Evaluation`) ignore the extra columns.
//!
//! [`to_frame`] builds such a table from [`PredictRow`]s and the detail keys; the
//! `*_row` helpers fill one row the way FATE's models do.

use fateflow_tables::Frame;

/// The true label column.
pub const LABEL: &str = "label";
/// The predicted label (or prediction) column.
pub const PREDICT_RESULT: &str = "predict_result";
/// The score column: probability of class 1 for binary models, the prediction for
/// regression.
pub const PREDICT_SCORE: &str = "predict_score";
/// The data-set column, holding [`DataType`] codes.
pub const TYPE: &str = "type";

/// The columns of a prediction output, in order.
pub const COLUMNS: [&str; 4] = [LABEL, PREDICT_RESULT, PREDICT_SCORE, TYPE];

/// Which data set a prediction row belongs to (FATE's `type` column). The code is what
/// the table stores; the name is FATE's and becomes the metric namespace of
/// `Evaluation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataType {
    /// Rows of the training data (`"train"`, code 0).
    Train,
    /// Rows of the validation data (`"validate"`, code 1).
    Validate,
    /// Rows predicted by a predict job (`"predict"`, code 2).
    Test,
}

impl DataType {
    /// Every data type, in code order.
    pub const ALL: [DataType; 3] = [DataType::Train, DataType::Validate, DataType::Test];

    /// The number stored in the [`TYPE`] column.
    pub fn code(self) -> f64 {
        match self {
            DataType::Train => 0.0,
            DataType::Validate => 1.0,
            DataType::Test => 2.0,
        }
    }

    /// The data type stored as `code`, if it is one.
    pub fn from_code(code: f64) -> Option<DataType> {
        DataType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// FATE's name (`"train"`, `"validate"`, `"predict"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Train => "train",
            DataType::Validate => "validate",
            DataType::Test => "predict",
        }
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The prefix of the `predict_detail` columns: `predict_detail.<key>`.
pub const DETAIL_PREFIX: &str = "predict_detail.";

/// The `predict_detail` keys of a binary classifier (FATE's `{"0": 1 - p, "1": p}`).
pub const BINARY_DETAIL_KEYS: [&str; 2] = ["0", "1"];

/// The `predict_detail` key of a regression (FATE's `{"label": prediction}`).
pub const REGRESSION_DETAIL_KEY: &str = "label";

/// The column holding the `predict_detail` entry `key`.
pub fn detail_column(key: &str) -> String {
    format!("{DETAIL_PREFIX}{key}")
}

/// The `predict_detail` key of a numeric class label as FATE prints it (`str(label)`
/// of an integer label; other numbers in Rust's shortest form).
pub fn class_key(class: f64) -> String {
    if class.fract() == 0.0 && class.abs() < 1e15 {
        format!("{}", class as i64)
    } else {
        format!("{class}")
    }
}

/// One prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictRow {
    /// The sample id.
    pub sid: String,
    /// The true label.
    pub label: f64,
    /// The predicted label (or the prediction for regression).
    pub predict_result: f64,
    /// The score (probability of class 1, the winning class's score, or the prediction
    /// for regression).
    pub predict_score: f64,
    /// The data set the sample came from.
    pub data_type: DataType,
    /// The values of FATE's `predict_detail`, one per detail key of the table (see
    /// [`to_frame`]); empty for a table without detail columns.
    pub detail: Vec<f64>,
}

impl PredictRow {
    /// Appends the row's values in the [`to_frame`] column order (the sid aside).
    fn extend_values(&self, out: &mut Vec<f64>) {
        out.extend([
            self.label,
            self.predict_result,
            self.predict_score,
            self.data_type.code(),
        ]);
        out.extend_from_slice(&self.detail);
    }
}

/// A binary classifier's row: `predict_result` is 1 when `score > threshold`, else 0,
/// as FATE's classifiers decide (threshold 0.5 by default); detail `[1 - score, score]`
/// for [`BINARY_DETAIL_KEYS`].
pub fn binary_row(
    sid: impl Into<String>,
    label: f64,
    score: f64,
    threshold: f64,
    data_type: DataType,
) -> PredictRow {
    PredictRow {
        sid: sid.into(),
        label,
        predict_result: if score > threshold { 1.0 } else { 0.0 },
        predict_score: score,
        data_type,
        detail: vec![1.0 - score, score],
    }
}

/// A regression's row: result and score are the prediction; detail `[prediction]` for
/// [`REGRESSION_DETAIL_KEY`].
pub fn regression_row(
    sid: impl Into<String>,
    label: f64,
    prediction: f64,
    data_type: DataType,
) -> PredictRow {
    PredictRow {
        sid: sid.into(),
        label,
        predict_result: prediction,
        predict_score: prediction,
        data_type,
        detail: vec![prediction],
    }
}

/// A multi-class row from one score per class (`classes` and `scores` in the model's
/// class order, same length, at least one): as FATE's `predict_score_to_output`,
/// `predict_result` is the class of the highest score (the first one on a tie, as
/// `numpy.argmax`), `predict_score` that score, unnormalised, and the detail every
/// score (keys: [`class_key`] of each class).
pub fn multi_class_row(
    sid: impl Into<String>,
    label: f64,
    classes: &[f64],
    scores: &[f64],
    data_type: DataType,
) -> PredictRow {
    debug_assert_eq!(classes.len(), scores.len());
    let mut best = 0;
    for (i, s) in scores.iter().enumerate() {
        if *s > scores[best] {
            best = i;
        }
    }
    PredictRow {
        sid: sid.into(),
        label,
        predict_result: classes.get(best).copied().unwrap_or(f64::NAN),
        predict_score: scores.get(best).copied().unwrap_or(f64::NAN),
        data_type,
        detail: scores.to_vec(),
    }
}

/// A prediction table: columns [`COLUMNS`] in that order, then one
/// [`detail_column`] per key of `detail_keys` (may be empty), label column [`LABEL`].
/// Fails when sids repeat or are empty, when keys repeat, or when a row's `detail` does
/// not have one value per key.
pub fn to_frame<K: AsRef<str>>(
    sid_name: &str,
    detail_keys: &[K],
    rows: impl IntoIterator<Item = PredictRow>,
) -> fateflow_tables::Result<Frame> {
    let width = COLUMNS.len() + detail_keys.len();
    let mut sids = Vec::new();
    let mut values = Vec::new();
    for row in rows {
        if row.detail.len() != detail_keys.len() {
            return Err(fateflow_tables::Error::InvalidFrame {
                reason: format!(
                    "prediction of sample `{}` has {} predict_detail values for {} keys",
                    row.sid,
                    row.detail.len(),
                    detail_keys.len()
                ),
            });
        }
        values.reserve(width);
        row.extend_values(&mut values);
        sids.push(row.sid);
    }
    let mut columns: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    for key in detail_keys {
        let column = detail_column(key.as_ref());
        if columns.contains(&column) {
            return Err(fateflow_tables::Error::InvalidFrame {
                reason: format!("predict_detail key `{}` repeats", key.as_ref()),
            });
        }
        columns.push(column);
    }
    Frame::new(sid_name, columns, sids, values)?.with_label(LABEL)
}

/// Writes `rows` as the task's first output data (FATE's `union` of train and validate
/// predictions keeps the first row of a repeated id), naming `table` (the input the
/// rows came from) in an error.
pub fn write_rows(
    ctx: &crate::TaskContext<'_>,
    sid_name: &str,
    table: &str,
    detail_keys: &[String],
    rows: Vec<PredictRow>,
) -> crate::Result<()> {
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<PredictRow> = rows
        .into_iter()
        .filter(|r| seen.insert(r.sid.clone()))
        .collect();
    let frame = to_frame(sid_name, detail_keys, rows).map_err(|e| crate::Error::InvalidValue {
        table: table.into(),
        sid: String::new(),
        column: sid_name.into(),
        reason: format!("predictions could not be written: {e}"),
    })?;
    crate::table_io::write_output_frame(ctx, &frame)
}

/// Writes prediction rows as they come as the task's first output data, holding a
/// bounded buffer: the streaming form of [`write_rows`] for callers whose rows have
/// distinct ids (a table's rows, then validation rows without the train ids).
pub struct PredictWriter<'c> {
    ctx: &'c crate::TaskContext<'c>,
    writer: fateflow_tables::FrameWriter<'c, dyn fateflow_tables::TableStore + 'c>,
    name: String,
    target: crate::context::TableRef,
    id: fateflow_tables::TableId,
    table: String,
    keys: usize,
    row: Vec<f64>,
}

impl std::fmt::Debug for PredictWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PredictWriter")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<'c> PredictWriter<'c> {
    /// Starts the task's first output table with the [`to_frame`] columns for
    /// `detail_keys`; `table` (the input the rows come from) is named in errors.
    pub fn create(
        ctx: &'c crate::TaskContext<'c>,
        sid_name: &str,
        table: &str,
        detail_keys: &[String],
    ) -> crate::Result<PredictWriter<'c>> {
        let name = ctx.first_output_data_name("data").to_owned();
        let target = ctx.output_table(&name);
        let id = target.to_id("output")?;
        let schema = to_frame(sid_name, detail_keys, std::iter::empty())
            .map_err(|e| crate::Error::table(&id, e))?
            .schema();
        let writer = fateflow_tables::FrameWriter::create(
            ctx.tables,
            &id,
            schema,
            4,
            fateflow_tables::WriteMode::Replace,
        )
        .map_err(|e| crate::Error::table(&id, e))?;
        Ok(PredictWriter {
            ctx,
            writer,
            name,
            target,
            id,
            table: table.into(),
            keys: detail_keys.len(),
            row: Vec::new(),
        })
    }

    /// Appends one prediction.
    pub fn push(&mut self, row: PredictRow) -> crate::Result<()> {
        if row.detail.len() != self.keys {
            return Err(crate::Error::InvalidValue {
                table: self.table.clone(),
                sid: row.sid,
                column: "predict_detail".into(),
                reason: format!(
                    "{} predict_detail values for {} keys",
                    row.detail.len(),
                    self.keys
                ),
            });
        }
        self.row.clear();
        row.extend_values(&mut self.row);
        self.writer
            .push(&row.sid, &self.row)
            .map_err(|e| crate::Error::table(&self.id, e))
    }

    /// Appends every prediction of `rows`, in order.
    pub fn push_all(&mut self, rows: Vec<PredictRow>) -> crate::Result<()> {
        rows.into_iter().try_for_each(|r| self.push(r))
    }

    /// Publishes the table and records it as the task's output.
    pub fn finish(self) -> crate::Result<()> {
        self.writer
            .finish()
            .map_err(|e| crate::Error::table(&self.id, e))?;
        self.ctx.tracker.save_output_data(&self.name, &self.target)
    }
}

/// The `predict_detail` keys of a prediction table's columns, in order (empty when it
/// has none).
pub fn detail_keys(frame: &Frame) -> Vec<&str> {
    frame
        .columns()
        .iter()
        .filter_map(|c| c.strip_prefix(DETAIL_PREFIX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for t in DataType::ALL {
            assert_eq!(DataType::from_code(t.code()), Some(t));
        }
        assert_eq!(DataType::from_code(0.5), None);
        assert_eq!(DataType::from_code(f64::NAN), None);
        assert_eq!(DataType::Validate.to_string(), "validate");
    }

    #[test]
    fn frames_have_the_contract_columns() {
        let frame = to_frame(
            "id",
            &BINARY_DETAIL_KEYS,
            [
                binary_row("a", 1.0, 0.75, 0.5, DataType::Train),
                binary_row("b", 0.0, 0.5, 0.5, DataType::Validate),
            ],
        )
        .unwrap();
        assert_eq!(
            frame.columns(),
            [
                LABEL,
                PREDICT_RESULT,
                PREDICT_SCORE,
                TYPE,
                "predict_detail.0",
                "predict_detail.1"
            ]
        );
        assert_eq!(frame.label_name(), Some(LABEL));
        assert_eq!(frame.row(0), &[1.0, 1.0, 0.75, 0.0, 0.25, 0.75]);
        // A score equal to the threshold is class 0.
        assert_eq!(frame.row(1), &[0.0, 0.0, 0.5, 1.0, 0.5, 0.5]);
        assert_eq!(detail_keys(&frame), ["0", "1"]);
        let twice = binary_row("a", 1.0, 0.2, 0.5, DataType::Train);
        assert!(to_frame("id", &BINARY_DETAIL_KEYS, [twice.clone(), twice]).is_err());
        // Detail values must match the keys.
        let row = binary_row("a", 1.0, 0.2, 0.5, DataType::Train);
        let e = to_frame::<&str>("id", &[], [row]).unwrap_err().to_string();
        assert!(e.contains("2 predict_detail values for 0 keys"), "{e}");
        let row = regression_row("r", 2.0, 2.5, DataType::Test);
        let frame = to_frame("id", &[REGRESSION_DETAIL_KEY], [row]).unwrap();
        assert_eq!(frame.columns()[4], "predict_detail.label");
        assert_eq!(frame.row(0), &[2.0, 2.5, 2.5, 2.0, 2.5]);
    }

    #[test]
    fn multi_class_rows_take_the_first_highest_score() {
        let classes = [0.0, 1.0, 2.0, 3.0];
        let row = multi_class_row("a", 2.0, &classes, &[0.1, 0.7, 0.7, 0.2], DataType::Test);
        assert_eq!(row.predict_result, 1.0);
        assert_eq!(row.predict_score, 0.7);
        assert_eq!(row.detail, [0.1, 0.7, 0.7, 0.2]);
        let keys: Vec<String> = classes.iter().map(|&c| class_key(c)).collect();
        assert_eq!(keys, ["0", "1", "2", "3"]);
        let frame = to_frame("id", &keys, [row]).unwrap();
        assert_eq!(detail_keys(&frame), ["0", "1", "2", "3"]);
        assert_eq!(frame.column_index("predict_detail.3"), Some(7));
        assert_eq!(class_key(-2.0), "-2");
        assert_eq!(class_key(1.5), "1.5");
        // Repeated keys are refused.
        let row = multi_class_row("a", 0.0, &[0.0, 0.0], &[0.5, 0.5], DataType::Test);
        assert!(to_frame("id", &["0", "0"], [row]).is_err());
    }
}
