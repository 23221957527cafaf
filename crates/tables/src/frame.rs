//! A simple in-memory table for components: sids plus a row-major `f64` matrix.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::schema::TableSchema;

/// A whole table in memory: one sid per row and a dense row-major matrix of values.
///
/// Invariants (checked by the constructors): `values.len() == sids.len() * columns.len()`,
/// sids are non-empty and unique, column names are non-empty and unique and differ from
/// the sid column's name, and the label (if any) is one of the columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    sid_name: String,
    sids: Vec<String>,
    columns: Vec<String>,
    values: Vec<f64>,
    label_name: Option<String>,
    weight_name: Option<String>,
}

impl Frame {
    /// Builds a frame from row-major `values` (`values[row * columns.len() + col]`).
    pub fn new(
        sid_name: impl Into<String>,
        columns: Vec<String>,
        sids: Vec<String>,
        values: Vec<f64>,
    ) -> Result<Self> {
        let frame = Frame {
            sid_name: sid_name.into(),
            sids,
            columns,
            values,
            label_name: None,
            weight_name: None,
        };
        frame.check()?;
        Ok(frame)
    }

    /// A frame with columns and no rows.
    pub fn empty(sid_name: impl Into<String>, columns: Vec<String>) -> Result<Self> {
        Frame::new(sid_name, columns, Vec::new(), Vec::new())
    }

    /// Marks `label` (one of the columns) as the label column.
    pub fn with_label(mut self, label: impl Into<String>) -> Result<Self> {
        let label = label.into();
        if self.column_index(&label).is_none() {
            return Err(Error::InvalidFrame {
                reason: format!("label column `{label}` is not a column of the frame"),
            });
        }
        self.label_name = Some(label);
        Ok(self)
    }

    /// Marks `weight` (one of the columns, not the label) as the sample-weight column.
    pub fn with_weight(mut self, weight: impl Into<String>) -> Result<Self> {
        self.weight_name = Some(weight.into());
        if let Err(e) = self.schema().validate() {
            self.weight_name = None;
            return Err(e);
        }
        Ok(self)
    }

    /// Marks the label and weight columns of `like` that this frame also has.
    pub fn with_roles_of(mut self, like: &TableSchema) -> Result<Self> {
        if let Some(l) = like
            .label_name
            .as_ref()
            .filter(|l| self.column_index(l).is_some())
        {
            self = self.with_label(l.clone())?;
        }
        if let Some(w) = like
            .weight_name
            .as_ref()
            .filter(|w| self.column_index(w).is_some())
        {
            self = self.with_weight(w.clone())?;
        }
        Ok(self)
    }

    pub(crate) fn from_parts_unchecked(
        schema: TableSchema,
        sids: Vec<String>,
        values: Vec<f64>,
    ) -> Self {
        Frame {
            sid_name: schema.sid,
            sids,
            columns: schema.header,
            values,
            label_name: schema.label_name,
            weight_name: schema.weight_name,
        }
    }

    fn check(&self) -> Result<()> {
        let expected = self.sids.len().checked_mul(self.columns.len());
        if expected != Some(self.values.len()) {
            return Err(Error::InvalidFrame {
                reason: format!(
                    "{} values for {} rows of {} columns",
                    self.values.len(),
                    self.sids.len(),
                    self.columns.len()
                ),
            });
        }
        self.schema().validate()?;
        let mut seen = HashSet::with_capacity(self.sids.len());
        for (row, sid) in self.sids.iter().enumerate() {
            if sid.is_empty() {
                return Err(Error::InvalidFrame {
                    reason: format!("row {row}: the sid is empty"),
                });
            }
            if !seen.insert(sid.as_str()) {
                return Err(Error::InvalidFrame {
                    reason: format!("row {row}: duplicate sid `{sid}`"),
                });
            }
        }
        Ok(())
    }

    /// Name of the sid column.
    pub fn sid_name(&self) -> &str {
        &self.sid_name
    }

    /// The sample ids, one per row.
    pub fn sids(&self) -> &[String] {
        &self.sids
    }

    /// The column names (the sid column excluded).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The label column, if one was marked.
    pub fn label_name(&self) -> Option<&str> {
        self.label_name.as_deref()
    }

    /// The sample-weight column, if one was marked.
    pub fn weight_name(&self) -> Option<&str> {
        self.weight_name.as_deref()
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// All values, row-major, mutable (the shape cannot change).
    pub fn values_mut(&mut self) -> &mut [f64] {
        &mut self.values
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.sids.len()
    }

    /// Number of columns (the sid column excluded).
    pub fn ncols(&self) -> usize {
        self.columns.len()
    }

    /// Position of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The values of row `row`. Panics when `row >= nrows()`.
    pub fn row(&self, row: usize) -> &[f64] {
        let n = self.ncols();
        &self.values[row * n..(row + 1) * n]
    }

    /// Iterates the rows as slices.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        (0..self.nrows()).map(move |r| self.row(r))
    }

    /// The value at (`row`, `col`). Panics when out of range.
    pub fn get(&self, row: usize, col: usize) -> f64 {
        assert!(col < self.ncols(), "column {col} out of range");
        self.values[row * self.ncols() + col]
    }

    /// A copy of column `col`. Panics when `col >= ncols()`.
    pub fn column(&self, col: usize) -> Vec<f64> {
        assert!(col < self.ncols(), "column {col} out of range");
        self.values
            .iter()
            .skip(col)
            .step_by(self.ncols())
            .copied()
            .collect()
    }

    /// The table schema this frame is written with.
    pub fn schema(&self) -> TableSchema {
        TableSchema {
            sid: self.sid_name.clone(),
            header: self.columns.clone(),
            label_name: self.label_name.clone(),
            weight_name: self.weight_name.clone(),
        }
    }

    /// Takes the frame apart: `(schema, sids, row-major values)`.
    pub fn into_parts(self) -> (TableSchema, Vec<String>, Vec<f64>) {
        let schema = TableSchema {
            sid: self.sid_name,
            header: self.columns,
            label_name: self.label_name,
            weight_name: self.weight_name,
        };
        (schema, self.sids, self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn accessors() {
        let f = Frame::new(
            "id",
            cols(&["y", "x0"]),
            cols(&["a", "b", "c"]),
            vec![1.0, 0.5, 0.0, 1.5, 1.0, 2.5],
        )
        .unwrap()
        .with_label("y")
        .unwrap();
        assert_eq!((f.nrows(), f.ncols()), (3, 2));
        assert_eq!(f.row(1), &[0.0, 1.5]);
        assert_eq!(f.column(0), vec![1.0, 0.0, 1.0]);
        assert_eq!(f.column(1), vec![0.5, 1.5, 2.5]);
        assert_eq!(f.get(2, 1), 2.5);
        assert_eq!(f.rows().count(), 3);
        assert_eq!(f.label_name(), Some("y"));
        assert_eq!(f.schema().label_name.as_deref(), Some("y"));
    }

    #[test]
    fn zero_columns_is_fine() {
        let f = Frame::new("id", vec![], cols(&["a", "b"]), vec![]).unwrap();
        assert_eq!(f.row(1), &[] as &[f64]);
        assert_eq!(f.rows().count(), 2);
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(Frame::new("id", cols(&["x"]), cols(&["a"]), vec![]).is_err());
        assert!(Frame::new("id", cols(&["x"]), cols(&["a", "a"]), vec![1.0, 2.0]).is_err());
        assert!(Frame::new("id", cols(&["x"]), cols(&[""]), vec![1.0]).is_err());
        assert!(Frame::new("id", cols(&["id"]), cols(&["a"]), vec![1.0]).is_err());
        assert!(Frame::new("id", cols(&["x", "x"]), cols(&["a"]), vec![1.0, 2.0]).is_err());
        let f = Frame::new("id", cols(&["x"]), cols(&["a"]), vec![1.0]).unwrap();
        assert!(f.with_label("y").is_err());
    }
}
