//! Tables of raw text lines (FATE's upload format: the sid, then the rest of the line)
//! parsed into numeric rows, as FATE 1.11's DataTransform readers do:
//!
//! - `dense`: the line split on `delimitor`, one value per header column (the upload's
//!   header line); missing markers are NaN, anything else must be a number.
//! - `sparse` (svmlight): `[match_id,] [label,] idx:val ...`; features `x0 ..= x{max}`,
//!   the largest index over the whole table at fit; absent indices are 0.
//! - `tag`: `[match_id,] [label,] t1, t2, ...` (1 where a tag is present) or, with
//!   `tag_with_value`, `t:v` pairs split on `tag_value_delimitor`; features are the
//!   sorted set of tags seen at fit (tags are not trimmed, as in FATE); tags unseen at
//!   fit are ignored when transforming. FATE also keeps the empty tag that a trailing
//!   delimiter makes; a column cannot be nameless here, so it is dropped.
//!
//! The parsed row is `[label] + features` for sparse and tag data, and the header
//! columns for dense data, so that the rest of DataTransform treats every format alike.

use std::collections::{BTreeSet, HashMap};

use crate::error::{Error, Result};

/// Feature-name prefix of svmlight columns (FATE's `x0`, `x1`, ...).
const SVMLIGHT_PREFIX: &str = "x";

/// The stored layout of a text table's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextFormat {
    Dense,
    Sparse,
    Tag {
        with_value: bool,
        value_delimiter: String,
    },
}

/// How to read the lines of one text table.
#[derive(Debug, Clone)]
pub(crate) struct TextReader {
    pub(crate) format: TextFormat,
    pub(crate) delimiter: String,
    /// Sparse and tag lines: a label field comes first (after the match id).
    pub(crate) with_label: bool,
    /// Sparse and tag lines: the first field is a match id, skipped.
    pub(crate) with_match_id: bool,
    /// The table, for error messages.
    pub(crate) table: String,
}

impl TextReader {
    fn fields<'l>(&self, line: &'l str) -> std::str::Split<'l, &str> {
        line.split(self.delimiter.as_str())
    }

    /// Fields before the features of a sparse or tag line.
    fn offset(&self) -> usize {
        usize::from(self.with_match_id) + usize::from(self.with_label)
    }

    fn bad(&self, sid: &str, column: &str, reason: String) -> Error {
        Error::InvalidValue {
            table: self.table.clone(),
            sid: sid.to_owned(),
            column: column.to_owned(),
            reason,
        }
    }

    /// Fit: the feature names of a sparse or tag table, from every line (none for
    /// dense text).
    pub(crate) fn fit_features<I>(&self, batches: I) -> Result<Vec<String>>
    where
        I: IntoIterator<Item = Result<Vec<(String, String)>>>,
    {
        match &self.format {
            // Dense text takes its columns from the upload's header.
            TextFormat::Dense => Ok(Vec::new()),
            TextFormat::Sparse => {
                let mut max: Option<usize> = None;
                for batch in batches {
                    for (sid, line) in batch? {
                        for field in self.fields(&line).skip(self.offset()) {
                            let (index, _) = self.pair(&sid, field, ":")?;
                            let index = self.index(&sid, index)?;
                            max = Some(max.map_or(index, |m| m.max(index)));
                        }
                    }
                }
                let max = max.ok_or_else(|| {
                    self.bad(
                        "-",
                        "features",
                        "no `index:value` pair in any row: not svmlight data".into(),
                    )
                })?;
                Ok((0..=max).map(|i| format!("{SVMLIGHT_PREFIX}{i}")).collect())
            }
            TextFormat::Tag {
                with_value,
                value_delimiter,
            } => {
                let mut tags = BTreeSet::new();
                for batch in batches {
                    for (sid, line) in batch? {
                        for field in self.fields(&line).skip(self.offset()) {
                            let tag = if *with_value {
                                self.pair(&sid, field, value_delimiter)?.0
                            } else {
                                field
                            };
                            if !tag.is_empty() && !tags.contains(tag) {
                                tags.insert(tag.to_owned());
                            }
                        }
                    }
                }
                if tags.is_empty() {
                    return Err(self.bad("-", "features", "no tag in any row".into()));
                }
                Ok(tags.into_iter().collect())
            }
        }
    }

    fn pair<'f>(&self, sid: &str, field: &'f str, sep: &str) -> Result<(&'f str, &'f str)> {
        field.split_once(sep).ok_or_else(|| {
            self.bad(
                sid,
                "features",
                format!("`{}` is not `name{sep}value`", shorten(field)),
            )
        })
    }

    fn index(&self, sid: &str, index: &str) -> Result<usize> {
        index.trim().parse::<usize>().map_err(|_| {
            self.bad(
                sid,
                "features",
                format!(
                    "feature index `{}` is not a non-negative integer",
                    shorten(index)
                ),
            )
        })
    }

    fn number(&self, sid: &str, column: &str, text: &str) -> Result<f64> {
        let t = text.trim();
        if fateflow_tables::MISSING_MARKERS.contains(&t) {
            return Ok(f64::NAN);
        }
        t.parse::<f64>().map_err(|_| {
            self.bad(
                sid,
                column,
                format!("value `{}` is not a number", shorten(t)),
            )
        })
    }

    /// Parses one line into `out`: the dense header's columns (`columns`, whose entries
    /// in `skip` are stored as NaN unparsed: a match id), or `[label] + features` for
    /// sparse and tag lines (`columns` are then the features, `index` their positions).
    pub(crate) fn parse(
        &self,
        sid: &str,
        line: &str,
        columns: &Columns,
        out: &mut Vec<f64>,
    ) -> Result<()> {
        out.clear();
        match &self.format {
            TextFormat::Dense => {
                let mut n = 0;
                for (i, field) in self.fields(line).enumerate() {
                    let Some(column) = columns.names.get(i) else {
                        return Err(self.bad(
                            sid,
                            "-",
                            format!(
                                "{} fields, but the header has {} columns",
                                self.fields(line).count(),
                                columns.names.len()
                            ),
                        ));
                    };
                    out.push(if columns.skip == Some(i) {
                        f64::NAN
                    } else {
                        self.number(sid, column, field)?
                    });
                    n += 1;
                }
                if n != columns.names.len() {
                    return Err(self.bad(
                        sid,
                        &columns.names[n.min(columns.names.len() - 1)],
                        format!(
                            "{n} fields, but the header has {} columns",
                            columns.names.len()
                        ),
                    ));
                }
            }
            TextFormat::Sparse | TextFormat::Tag { .. } => {
                let mut fields = self.fields(line);
                if self.with_match_id {
                    fields.next();
                }
                if self.with_label {
                    let label = fields
                        .next()
                        .ok_or_else(|| self.bad(sid, "label", "the line has no label".into()))?;
                    out.push(self.number(sid, "label", label)?);
                }
                let start = out.len();
                out.resize(start + columns.names.len(), 0.0);
                for field in fields {
                    match &self.format {
                        TextFormat::Sparse => {
                            let (index, value) = self.pair(sid, field, ":")?;
                            let index = self.index(sid, index)?;
                            let column = columns.names.get(index).ok_or_else(|| {
                                self.bad(
                                    sid,
                                    "features",
                                    format!(
                                        "feature index {index} is beyond the {} features fitted",
                                        columns.names.len()
                                    ),
                                )
                            })?;
                            out[start + index] = self.number(sid, column, value)?;
                        }
                        TextFormat::Tag {
                            with_value: true,
                            value_delimiter,
                        } => {
                            let (tag, value) = self.pair(sid, field, value_delimiter)?;
                            if let Some(&i) = columns.index.get(tag) {
                                out[start + i] = self.number(sid, tag, value)?;
                            }
                        }
                        TextFormat::Tag { .. } => {
                            if let Some(&i) = columns.index.get(field) {
                                out[start + i] = 1.0;
                            }
                        }
                        TextFormat::Dense => unreachable!("handled above"),
                    }
                }
            }
        }
        Ok(())
    }
}

/// The columns lines parse into, with a lookup for tags.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    pub(crate) names: Vec<String>,
    index: HashMap<String, usize>,
    /// Dense: a column left unparsed (the match id).
    skip: Option<usize>,
}

impl Columns {
    pub(crate) fn new(names: Vec<String>, skip: Option<usize>) -> Self {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Columns { names, index, skip }
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(format: TextFormat, delimiter: &str, with_label: bool) -> TextReader {
        TextReader {
            format,
            delimiter: delimiter.into(),
            with_label,
            with_match_id: false,
            table: "experiment.t".into(),
        }
    }

    fn rows(lines: &[(&str, &str)]) -> Vec<Result<Vec<(String, String)>>> {
        vec![Ok(lines
            .iter()
            .map(|(s, l)| (s.to_string(), l.to_string()))
            .collect())]
    }

    #[test]
    fn svmlight_with_label() {
        let r = reader(TextFormat::Sparse, ",", true);
        let lines = [("1", "1,0:-0.5,3:2"), ("2", "0,1:0.25")];
        let features = r.fit_features(rows(&lines)).unwrap();
        assert_eq!(features, ["x0", "x1", "x2", "x3"]);
        let cols = Columns::new(features, None);
        let mut out = Vec::new();
        r.parse("1", lines[0].1, &cols, &mut out).unwrap();
        assert_eq!(out, [1.0, -0.5, 0.0, 0.0, 2.0]);
        r.parse("2", lines[1].1, &cols, &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0, 0.25, 0.0, 0.0]);
        let e = r.parse("3", "1,9:1", &cols, &mut out).unwrap_err();
        assert!(e.to_string().contains("feature index 9"), "{e}");
        let e = r.parse("3", "1,a", &cols, &mut out).unwrap_err();
        assert!(e.to_string().contains("`a` is not `name:value`"), "{e}");
    }

    #[test]
    fn tags_plain_and_with_values() {
        let r = reader(
            TextFormat::Tag {
                with_value: false,
                value_delimiter: ":".into(),
            },
            ",",
            false,
        );
        let lines = [("0", " b, a, c,"), ("1", " a")];
        let features = r.fit_features(rows(&lines)).unwrap();
        assert_eq!(
            features,
            [" a", " b", " c"],
            "sorted, untrimmed, no empty tag"
        );
        let cols = Columns::new(features, None);
        let mut out = Vec::new();
        r.parse("1", " a, zz", &cols, &mut out).unwrap();
        assert_eq!(out, [1.0, 0.0, 0.0], "unseen tags are ignored");

        let r = reader(
            TextFormat::Tag {
                with_value: true,
                value_delimiter: ":".into(),
            },
            ";",
            false,
        );
        let lines = [("0", "x1:0.5;x0:2"), ("1", "x2:-1")];
        let features = r.fit_features(rows(&lines)).unwrap();
        assert_eq!(features, ["x0", "x1", "x2"]);
        let cols = Columns::new(features, None);
        r.parse("0", lines[0].1, &cols, &mut out).unwrap();
        assert_eq!(out, [2.0, 0.5, 0.0]);
        let e = r.parse("0", "x1:abc", &cols, &mut out).unwrap_err();
        assert!(e.to_string().contains("`abc` is not a number"), "{e}");
    }

    #[test]
    fn dense_lines_follow_the_header() {
        let r = reader(TextFormat::Dense, ",", true);
        let cols = Columns::new(vec!["mid".into(), "y".into(), "x0".into()], Some(0));
        let mut out = Vec::new();
        r.parse("7", "abc,1,NA", &cols, &mut out).unwrap();
        assert!(out[0].is_nan() && out[2].is_nan());
        assert_eq!(out[1], 1.0);
        let e = r.parse("7", "abc,1", &cols, &mut out).unwrap_err();
        assert!(
            e.to_string().contains("2 fields, but the header has 3"),
            "{e}"
        );
        let e = r.parse("7", "abc,1,2,3", &cols, &mut out).unwrap_err();
        assert!(e.to_string().contains("header has 3"), "{e}");
        let e = r.parse("7", "abc,one,2", &cols, &mut out).unwrap_err();
        assert!(e.to_string().contains("`one` is not a number"), "{e}");
    }

    #[test]
    fn match_id_and_label_come_first() {
        let mut r = reader(TextFormat::Sparse, ",", true);
        r.with_match_id = true;
        let features = r.fit_features(rows(&[("a", "m1,1,0:3")])).unwrap();
        let cols = Columns::new(features, None);
        let mut out = Vec::new();
        r.parse("a", "m1,1,0:3", &cols, &mut out).unwrap();
        assert_eq!(out, [1.0, 3.0]);
    }
}
