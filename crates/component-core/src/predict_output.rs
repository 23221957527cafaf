//! The numeric shape of a model component's prediction output, as `Evaluation` reads it.
//!
//! FATE's model components output one row per sample with `label`, `predict_result`,
//! `predict_score`, `predict_detail` (a JSON string) and `type` (`"train"`, `"validate"`
//! or `"test"`). Our tables hold numbers only, so the contract is:
//!
//! | column | meaning |
//! |---|---|
//! | [`LABEL`] | the true label (the table's `label_name`) |
//! | [`PREDICT_RESULT`] | the predicted label (binary: `1` when the score is above the threshold; multi-class: the predicted class; regression: the prediction) |
//! | [`PREDICT_SCORE`] | binary: the probability of class 1; multi-class: the score of the predicted class; regression: the prediction |
//! | [`TYPE`] | optional: which data set the row came from, a [`DataType`] code (`0` train, `1` validate, `2` test) |
//!
//! `predict_detail` has no numeric form and is not carried. Sample ids must be unique
//! across the whole table, train and validate rows included.
//!
//! [`to_frame`] builds such a table from [`PredictRow`]s; [`binary_row`] fills one row
//! from a probability the way FATE's classifiers do.

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
    /// Rows predicted by a predict job (`"test"`, code 2).
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

    /// FATE's name (`"train"`, `"validate"`, `"test"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Train => "train",
            DataType::Validate => "validate",
            DataType::Test => "test",
        }
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    /// The score (probability of class 1, or the prediction for regression).
    pub predict_score: f64,
    /// The data set the sample came from.
    pub data_type: DataType,
}

/// A binary classifier's row: `predict_result` is 1 when `score > threshold`, else 0,
/// as FATE's classifiers decide (threshold 0.5 by default).
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
    }
}

/// A prediction table: columns [`COLUMNS`] in that order, label column [`LABEL`].
/// Fails when sids repeat or are empty.
pub fn to_frame(
    sid_name: &str,
    rows: impl IntoIterator<Item = PredictRow>,
) -> fateflow_tables::Result<Frame> {
    let mut sids = Vec::new();
    let mut values = Vec::new();
    for row in rows {
        values.extend([
            row.label,
            row.predict_result,
            row.predict_score,
            row.data_type.code(),
        ]);
        sids.push(row.sid);
    }
    let columns = COLUMNS.iter().map(|c| c.to_string()).collect();
    Frame::new(sid_name, columns, sids, values)?.with_label(LABEL)
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
            [
                binary_row("a", 1.0, 0.75, 0.5, DataType::Train),
                binary_row("b", 0.0, 0.5, 0.5, DataType::Validate),
            ],
        )
        .unwrap();
        assert_eq!(frame.columns(), COLUMNS);
        assert_eq!(frame.label_name(), Some(LABEL));
        assert_eq!(frame.row(0), &[1.0, 1.0, 0.75, 0.0]);
        // A score equal to the threshold is class 0.
        assert_eq!(frame.row(1), &[0.0, 0.0, 0.5, 1.0]);
        let twice = binary_row("a", 1.0, 0.2, 0.5, DataType::Train);
        assert!(to_frame("id", [twice.clone(), twice]).is_err());
    }
}
