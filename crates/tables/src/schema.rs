//! Table schema and metadata types, and their mapping to the Arrow schema of the files.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::TableId;

/// Key under which [`TableInfo`] is stored, as JSON, in every Parquet footer.
pub(crate) const INFO_KEY: &str = "fateflow.table_info";

/// Version of the [`TableInfo`] JSON layout in the footers.
const INFO_FORMAT: u32 = 1;

/// The logical schema of a table: which column is the sample id, the other columns in
/// order, and optionally which of them is the label.
///
/// In the files the sid column is Utf8 and every header column is Float64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Name of the sample-id column (`"extend_sid"` when ids were generated).
    pub sid: String,
    /// All other columns, in file order.
    pub header: Vec<String>,
    /// The label column, one of `header`. Never set by an upload; `DataTransform` sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_name: Option<String>,
    /// The sample-weight column, one of `header` (FATE's instance weight). Never set by an
    /// upload; `SampleWeight` sets it, and components pass it on like the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_name: Option<String>,
}

impl TableSchema {
    /// A schema without label.
    pub fn new(sid: impl Into<String>, header: Vec<String>) -> Self {
        TableSchema {
            sid: sid.into(),
            header,
            label_name: None,
            weight_name: None,
        }
    }

    /// Position of `name` in [`header`](Self::header).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|c| c == name)
    }

    /// Whether header column `name` is a feature: neither the label nor the weight.
    pub fn is_feature(&self, name: &str) -> bool {
        self.label_name.as_deref() != Some(name) && self.weight_name.as_deref() != Some(name)
    }

    /// Position of the sample-weight column in the header, if the table has one.
    pub fn weight_index(&self) -> Option<usize> {
        self.weight_name
            .as_deref()
            .and_then(|w| self.column_index(w))
    }

    /// Checks that names are non-empty and unique and that the label is a header column.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Err(Error::InvalidSchema { reason });
        let mut seen = HashSet::with_capacity(self.header.len() + 1);
        for (index, column) in std::iter::once(&self.sid).chain(&self.header).enumerate() {
            if column.is_empty() {
                return invalid(format!(
                    "the name of column {} (1-based) is empty",
                    index + 1
                ));
            }
            if !seen.insert(column.as_str()) {
                return invalid(format!("column `{column}` appears more than once"));
            }
        }
        if let Some(label) = &self.label_name {
            if self.column_index(label).is_none() {
                return invalid(format!("label column `{label}` is not a header column"));
            }
        }
        if let Some(weight) = &self.weight_name {
            if self.column_index(weight).is_none() {
                return invalid(format!(
                    "sample-weight column `{weight}` is not a header column"
                ));
            }
            if self.label_name.as_ref() == Some(weight) {
                return invalid(format!(
                    "column `{weight}` cannot be both the label and the sample weight"
                ));
            }
        }
        Ok(())
    }

    /// The schema in FATE 1.x's shape: `{"sid": ..., "header": "a,b,c"}` with the header
    /// joined by `id_delimiter`, plus `label_name` when set. This is what
    /// `/v1/table/table_info` returns as `schema`.
    pub fn to_fate_json(&self, id_delimiter: &str) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert("sid".into(), self.sid.clone().into());
        map.insert("header".into(), self.header.join(id_delimiter).into());
        if let Some(label) = &self.label_name {
            map.insert("label_name".into(), label.clone().into());
        }
        if let Some(weight) = &self.weight_name {
            map.insert("sample_weight".into(), weight.clone().into());
        }
        serde_json::Value::Object(map)
    }

    /// The Arrow schema of the files: sid as non-null Utf8, the rest non-null Float64.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields = std::iter::once(Field::new(&self.sid, DataType::Utf8, false))
            .chain(
                self.header
                    .iter()
                    .map(|c| Field::new(c, DataType::Float64, false)),
            )
            .collect::<Vec<_>>();
        Arc::new(Schema::new(fields))
    }

    /// Whether `schema` has exactly the columns and types of [`arrow_schema`](Self::arrow_schema).
    pub(crate) fn matches_arrow(&self, schema: &Schema) -> bool {
        let fields = schema.fields();
        fields.len() == self.header.len() + 1
            && fields[0].name() == &self.sid
            && fields[0].data_type() == &DataType::Utf8
            && fields[1..]
                .iter()
                .zip(&self.header)
                .all(|(f, h)| f.name() == h && f.data_type() == &DataType::Float64)
    }
}

/// How a table's rows are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowLayout {
    /// One Float64 column per header column: dense numeric data, parsed at upload.
    #[default]
    Columns,
    /// The sid and the rest of the source line as text ([`TEXT_COLUMN`]), as FATE's
    /// upload stores every table: sparse (svmlight), tag and tag:value data, or any
    /// file that is not dense numeric. DataTransform parses it.
    Text,
}

impl RowLayout {
    /// Whether this is the default, [`RowLayout::Columns`].
    pub fn is_columns(&self) -> bool {
        *self == RowLayout::Columns
    }
}

/// The one value column of a [`RowLayout::Text`] table.
pub const TEXT_COLUMN: &str = "line";

/// Where a table came from (FATE's `f_origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableOrigin {
    /// `flow data upload`.
    Upload,
    /// A reader component's copy.
    Reader,
    /// A component's output data.
    Output,
}

/// What a table store needs to know to write a table, and what it keeps in the files
/// so that a table can be described without the metadata database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    /// The schema.
    pub schema: TableSchema,
    /// Number of partitions (files), `1..=1023`.
    pub partitions: u32,
    /// Field separator of the source file, used again by downloads.
    pub id_delimiter: String,
    /// Whether the source had a header line (downloads write one only then).
    pub have_head: bool,
    /// Whether the sids were generated.
    pub extend_sid: bool,
    /// Where the table came from.
    pub origin: TableOrigin,
    /// How rows are stored.
    #[serde(default, skip_serializing_if = "RowLayout::is_columns")]
    pub layout: RowLayout,
}

#[derive(Serialize, Deserialize)]
struct StoredInfo {
    format: u32,
    #[serde(flatten)]
    info: TableInfo,
}

impl TableInfo {
    /// The Arrow schema of the files: see [`TableSchema::arrow_schema`]; a text table
    /// has the sid and [`TEXT_COLUMN`], both non-null Utf8.
    pub fn arrow_schema(&self) -> SchemaRef {
        match self.layout {
            RowLayout::Columns => self.schema.arrow_schema(),
            RowLayout::Text => Arc::new(Schema::new(vec![
                Field::new(&self.schema.sid, DataType::Utf8, false),
                Field::new(TEXT_COLUMN, DataType::Utf8, false),
            ])),
        }
    }

    /// Whether `schema` is [`arrow_schema`](Self::arrow_schema).
    pub(crate) fn matches_arrow(&self, schema: &Schema) -> bool {
        match self.layout {
            RowLayout::Columns => self.schema.matches_arrow(schema),
            RowLayout::Text => {
                let f = schema.fields();
                f.len() == 2
                    && f[0].name() == &self.schema.sid
                    && f[0].data_type() == &DataType::Utf8
                    && f[1].name() == TEXT_COLUMN
                    && f[1].data_type() == &DataType::Utf8
            }
        }
    }

    /// Checks the schema. A text table's header is the source's header line as FATE
    /// keeps it (names may repeat or be empty: svmlight files have none), so only its
    /// sid name is checked.
    pub(crate) fn validate(&self) -> Result<()> {
        match self.layout {
            RowLayout::Columns => self.schema.validate(),
            RowLayout::Text if self.schema.sid.is_empty() => Err(Error::InvalidSchema {
                reason: "the name of the sid column is empty".into(),
            }),
            RowLayout::Text => Ok(()),
        }
    }

    pub(crate) fn to_footer_json(&self) -> String {
        serde_json::to_string(&StoredInfo {
            format: INFO_FORMAT,
            info: self.clone(),
        })
        .expect("TableInfo serializes to JSON")
    }

    /// The info stored in the footer of the file at `path`; a bad one is
    /// [`Error::Corrupt`](crate::Error::Corrupt) naming the file.
    pub(crate) fn from_footer_json(path: &std::path::Path, json: &str) -> crate::Result<Self> {
        let corrupt = |reason: String| crate::Error::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let stored: StoredInfo = serde_json::from_str(json)
            .map_err(|e| corrupt(format!("the table info in the footer does not parse: {e}")))?;
        if stored.format != INFO_FORMAT {
            return Err(corrupt(format!(
                "unknown table info format {} (expected {INFO_FORMAT})",
                stored.format
            )));
        }
        Ok(stored.info)
    }
}

/// Where a table's data lives (FATE's `f_address`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "engine", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TableAddress {
    /// A directory of Parquet files on the local file system.
    Local {
        /// The table directory.
        path: PathBuf,
    },
}

/// Maximum number of rows kept in [`TableMeta::part_of_data`].
pub const PART_OF_DATA_ROWS: usize = 100;

/// Everything the metadata store keeps about a table (`t_storage_table_meta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    /// Namespace.
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// Logical schema.
    pub schema: TableSchema,
    /// Number of rows, verified against the file footers.
    pub count: u64,
    /// Number of partitions.
    pub partitions: u32,
    /// Field separator of the source.
    pub id_delimiter: String,
    /// Whether the source had a header line.
    pub have_head: bool,
    /// Whether the sids were generated.
    pub extend_sid: bool,
    /// Where the table came from.
    pub origin: TableOrigin,
    /// How rows are stored.
    pub layout: RowLayout,
    /// Up to the first [`PART_OF_DATA_ROWS`] rows, each `[sid, value, ...]` as text
    /// (`[sid, line]` for a text table).
    pub part_of_data: Vec<Vec<String>>,
    /// Where the data lives.
    pub address: TableAddress,
}

impl TableMeta {
    pub(crate) fn from_parts(
        id: &TableId,
        info: TableInfo,
        count: u64,
        part_of_data: Vec<Vec<String>>,
        address: TableAddress,
    ) -> Self {
        TableMeta {
            namespace: id.namespace().to_owned(),
            name: id.name().to_owned(),
            schema: info.schema,
            count,
            partitions: info.partitions,
            id_delimiter: info.id_delimiter,
            have_head: info.have_head,
            extend_sid: info.extend_sid,
            origin: info.origin,
            layout: info.layout,
            part_of_data,
            address,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> TableInfo {
        TableInfo {
            schema: TableSchema::new("id", vec!["y".into(), "x0".into()]),
            partitions: 4,
            id_delimiter: ",".into(),
            have_head: true,
            extend_sid: false,
            origin: TableOrigin::Upload,
            layout: RowLayout::Columns,
        }
    }

    #[test]
    fn fate_json_shape() {
        let mut schema = info().schema;
        assert_eq!(
            schema.to_fate_json(","),
            serde_json::json!({"sid": "id", "header": "y,x0"})
        );
        schema.label_name = Some("y".into());
        assert_eq!(
            schema.to_fate_json("\t"),
            serde_json::json!({"sid": "id", "header": "y\tx0", "label_name": "y"})
        );
    }

    #[test]
    fn footer_json_round_trips() {
        let json = info().to_footer_json();
        assert!(json.contains("\"format\":1"));
        let path = std::path::Path::new("/t/0.parquet");
        assert_eq!(TableInfo::from_footer_json(path, &json).unwrap(), info());
        let e = TableInfo::from_footer_json(path, "{\"format\":99}").unwrap_err();
        assert!(matches!(e, crate::Error::Corrupt { .. }), "{e}");
    }

    #[test]
    fn arrow_schema_matches_itself() {
        let schema = info().schema;
        assert!(schema.matches_arrow(&schema.arrow_schema()));
        let other = TableSchema::new("id", vec!["y".into()]);
        assert!(!schema.matches_arrow(&other.arrow_schema()));
    }

    #[test]
    fn validate_catches_bad_schemas() {
        assert!(TableSchema::new("id", vec!["id".into()])
            .validate()
            .is_err());
        assert!(TableSchema::new("id", vec!["".into()]).validate().is_err());
        let mut s = TableSchema::new("id", vec!["x".into()]);
        s.label_name = Some("y".into());
        assert!(s.validate().is_err());
        s.label_name = Some("x".into());
        assert!(s.validate().is_ok());
    }

    #[test]
    fn address_serializes_with_engine_tag() {
        let a = TableAddress::Local {
            path: PathBuf::from("/d/tables/n/t"),
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"engine": "local", "path": "/d/tables/n/t"})
        );
    }
}
