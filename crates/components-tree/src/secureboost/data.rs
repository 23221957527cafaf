//! A party's rows as the trees use them: ids, label (guest), raw feature columns, and
//! the same features as quantile bin indices.

use fateflow_components_feature::binning::quantile::{
    bin_of, quantile_split_points, QuantileSummary,
};
use fateflow_tables::Frame;

use crate::error::{Error, Result};

/// FATE's `QuantileBinning` buffer settings (its `FeatureBinningParam` defaults).
const COMPRESS_THRES: usize = 10_000;
const HEAD_SIZE: usize = 10_000;

/// One party's data, column-major.
#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    pub(crate) table: String,
    pub(crate) sid_name: String,
    pub(crate) sids: Vec<String>,
    pub(crate) header: Vec<String>,
    pub(crate) label_name: Option<String>,
    pub(crate) y: Option<Vec<f64>>,
    /// The sample weights (`SampleWeight`), when the table has them.
    pub(crate) weight: Option<Vec<f64>>,
    /// One vector per feature, in `header` order; NaN is a missing value.
    pub(crate) columns: Vec<Vec<f64>>,
}

/// How missing values are read (`use_missing`, `zero_as_missing`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Missing {
    pub(crate) use_missing: bool,
    pub(crate) zero_as_missing: bool,
}

impl Dataset {
    /// The rows of `frame`; the label (when the table has one) is kept apart. A missing
    /// cell is an error unless `use_missing`; with `zero_as_missing` a zero is missing.
    pub(crate) fn from_frame(table: &str, frame: &Frame, missing: Missing) -> Result<Dataset> {
        let label = frame.label_name().and_then(|l| frame.column_index(l));
        let weight_col = frame.weight_name().and_then(|w| frame.column_index(w));
        let features: Vec<usize> = (0..frame.ncols())
            .filter(|c| Some(*c) != label && Some(*c) != weight_col)
            .collect();
        let header: Vec<String> = features
            .iter()
            .map(|&c| frame.columns()[c].clone())
            .collect();
        let mut columns: Vec<Vec<f64>> = features
            .iter()
            .map(|_| Vec::with_capacity(frame.nrows()))
            .collect();
        for (i, row) in frame.rows().enumerate() {
            for (j, &c) in features.iter().enumerate() {
                let mut v = row[c];
                if missing.zero_as_missing && v == 0.0 {
                    v = f64::NAN;
                }
                if v.is_infinite() || (v.is_nan() && !missing.use_missing) {
                    return Err(Error::InvalidValue {
                        table: table.into(),
                        sid: frame.sids()[i].clone(),
                        column: header[j].clone(),
                        reason: if v.is_nan() {
                            "missing value; set `use_missing: true` or fill it first \
                             (DataTransform missing_fill)"
                                .into()
                        } else {
                            "infinite value".into()
                        },
                    });
                }
                columns[j].push(v);
            }
        }
        let y = label.map(|l| frame.column(l));
        if let Some(y) = &y {
            if let Some(i) = y.iter().position(|v| !v.is_finite()) {
                return Err(Error::InvalidValue {
                    table: table.into(),
                    sid: frame.sids()[i].clone(),
                    column: frame.columns()[label.unwrap_or(0)].clone(),
                    reason: "the label is missing".into(),
                });
            }
        }
        let weight = weight_col.map(|c| frame.column(c));
        if let (Some(w), Some(c)) = (&weight, weight_col) {
            if let Some(i) = w.iter().position(|v| !v.is_finite()) {
                return Err(Error::InvalidValue {
                    table: table.into(),
                    sid: frame.sids()[i].clone(),
                    column: frame.columns()[c].clone(),
                    reason: "the sample weight is missing or infinite".into(),
                });
            }
        }
        Ok(Dataset {
            table: table.into(),
            sid_name: frame.sid_name().into(),
            sids: frame.sids().to_vec(),
            header,
            label_name: label.map(|l| frame.columns()[l].clone()),
            y,
            weight,
            columns,
        })
    }

    pub(crate) fn n(&self) -> usize {
        self.sids.len()
    }

    /// The rows in the order of `order` (indices into this dataset).
    pub(crate) fn reorder(&self, order: &[usize]) -> Dataset {
        Dataset {
            sids: order.iter().map(|&i| self.sids[i].clone()).collect(),
            y: self
                .y
                .as_ref()
                .map(|y| order.iter().map(|&i| y[i]).collect()),
            weight: self
                .weight
                .as_ref()
                .map(|w| order.iter().map(|&i| w[i]).collect()),
            columns: self
                .columns
                .iter()
                .map(|c| order.iter().map(|&i| c[i]).collect())
                .collect(),
            ..self.clone()
        }
    }

    /// The same rows with the columns of `header`, in its order (predict mode).
    pub(crate) fn select(&self, header: &[String]) -> Result<Dataset> {
        let columns = crate::table_io::model_columns(&self.table, &self.header, header)?
            .into_iter()
            .map(|j| self.columns[j].clone())
            .collect();
        Ok(Dataset {
            header: header.to_vec(),
            columns,
            ..self.clone()
        })
    }
}

/// Every feature as bin indices, column-major: bin `b < split_points.len()` holds values
/// `≤ split_points[b]` (and above the previous point); bin `split_points.len()` holds the
/// missing values.
#[derive(Debug, Clone)]
pub(crate) struct Binned {
    pub(crate) split_points: Vec<Vec<f64>>,
    pub(crate) bins: Vec<Vec<u16>>,
}

impl Binned {
    /// FATE's quantile binning of every column (`bin_num`, `error`).
    pub(crate) fn fit(data: &Dataset, bin_num: usize, error: f64) -> Binned {
        let split_points: Vec<Vec<f64>> = data
            .columns
            .iter()
            .map(|col| {
                let mut s = QuantileSummary::new(COMPRESS_THRES, HEAD_SIZE, error);
                for &v in col.iter().filter(|v| !v.is_nan()) {
                    s.insert(v);
                }
                quantile_split_points(&mut s, bin_num)
            })
            .collect();
        Binned::with_split_points(data, split_points)
    }

    /// Bins `data` with known split points.
    pub(crate) fn with_split_points(data: &Dataset, split_points: Vec<Vec<f64>>) -> Binned {
        let bins = data
            .columns
            .iter()
            .zip(&split_points)
            .map(|(col, sp)| col.iter().map(|&v| bin_of(sp, v) as u16).collect())
            .collect();
        Binned { split_points, bins }
    }

    /// Number of features.
    pub(crate) fn k(&self) -> usize {
        self.split_points.len()
    }

    /// The features whose values are all equal (no split possible).
    pub(crate) fn constant_features(&self) -> Vec<usize> {
        (0..self.k())
            .filter(|&f| self.split_points[f].len() <= 1)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_follow_split_points_and_missing_goes_last() {
        let data = Dataset {
            table: "t".into(),
            sid_name: "id".into(),
            sids: (0..6).map(|i| i.to_string()).collect(),
            header: vec!["x".into()],
            label_name: None,
            y: None,
            weight: None,
            columns: vec![vec![1.0, 2.0, 3.0, f64::NAN, 2.0, 10.0]],
        };
        let b = Binned::with_split_points(&data, vec![vec![1.5, 2.5, 10.0]]);
        assert_eq!(b.bins[0], vec![0, 1, 2, 3, 1, 2]);
        // `x ≤ split_points[b]` exactly when the bin is ≤ b.
        for (i, &v) in data.columns[0].iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            for (s, &sp) in b.split_points[0][..2].iter().enumerate() {
                assert_eq!(v <= sp, b.bins[0][i] as usize <= s);
            }
        }
    }
}
