//! `ColumnExpand`: appends constant columns to a raw table (before `DataTransform`).
//!
//! Purely local. Parameters and defaults are FATE 1.x `ColumnExpandParam`'s:
//! `append_header` (the new columns' names; none: the data passes unchanged),
//! `method` `manual` (the only one), `fill_value` (default 1e-8, FATE's `FLOAT_ZERO`):
//! one value repeated for every new column, or one per column.
//!
//! A numeric table gets one column per name, every cell the fill value; a text table
//! (svmlight, tag, tag:value uploads) gets `,v1,v2,...` appended to every line (FATE's
//! delimiter is always `,`) and the names appended to its header. Record batch by record
//! batch for numeric tables. With a `ColumnExpand` model among the model inputs
//! (predict), the model's columns and values are appended.
//!
//! Outputs: the data (same sids and partitions), the model (FATE's `ColumnExpandMeta`
//! `{append_header, method, fill_value (as text), need_run}` and `ColumnExpandParam`
//! `{header}`, the header after expansion).
//!
//! Departures from FATE: a numeric table needs numeric fill values; a new name that is
//! already a column is refused.

use fateflow_domain::module::Kind::{Any, Bool, List, Str};
use fateflow_domain::module::{describe_value, param, ModuleSchema, Param};
use fateflow_tables::{RowLayout, TableId, TableInfo, TableSchema, WriteMode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::context::{Component, ComponentModel, ModelError, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::table_io::{open_first_input, write_mapped_columns};

/// The module name recorded in the model.
pub const MODULE: &str = "ColumnExpand";

const COLUMN_EXPAND_PARAMS: &[Param] = &[
    param("append_header", List, "null", true),
    param("method", Str, "\"manual\"", true),
    param("fill_value", Any, "1e-08", true),
    param("need_run", Bool, "true", true),
];

/// `ColumnExpand`'s parameter schema.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: MODULE,
    params: &[COLUMN_EXPAND_PARAMS],
    conditions: &[],
    supported: &[("method", &["manual"])],
};

/// The parameters, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnExpandParam {
    /// The new columns.
    pub append_header: Vec<String>,
    /// One text per new column, as Python's `str()` writes the fill values.
    pub fill_text: Vec<String>,
}

impl ColumnExpandParam {
    /// Parses `parameters`, naming the parameter in every error.
    pub fn parse(map: &Map<String, Value>) -> Result<Self> {
        let p = Params::with_schema(map, &SCHEMA);
        p.get_choice("method", &["manual"])?;
        let append_header: Vec<String> = p
            .list("append_header")?
            .into_iter()
            .flatten()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    Error::param(
                        "append_header",
                        format!("expected column names, found {}", describe_value(v)),
                    )
                })
            })
            .collect::<Result<_>>()?;
        let fills: Vec<Value> = match p.value("fill_value") {
            None => vec![p.schema_default("fill_value")],
            Some(Value::Array(items)) => items.clone(),
            Some(v) => vec![v.clone()],
        };
        let texts: Vec<String> = fills
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
                Value::Number(n) => Ok(python_float(n.as_f64().unwrap_or(f64::NAN))),
                other => Err(Error::param(
                    "fill_value",
                    format!("expected numbers or texts, found {}", describe_value(other)),
                )),
            })
            .collect::<Result<_>>()?;
        let fill_text = match texts.len() {
            1 => vec![texts[0].clone(); append_header.len()],
            n if n == append_header.len() => texts,
            n => {
                return Err(Error::param(
                    "fill_value",
                    format!(
                        "{n} values given for the {} columns of append_header",
                        append_header.len()
                    ),
                ))
            }
        };
        Ok(ColumnExpandParam {
            append_header,
            fill_text,
        })
    }
}

/// Python's `str()` of a float (`1e-08`, `0.2`, `1.0`).
fn python_float(x: f64) -> String {
    let s = format!("{x:?}");
    // Rust writes `1e-8`, Python `1e-08`.
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("+", e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// Settings (FATE's `ColumnExpandMeta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The new columns.
    pub append_header: Vec<String>,
    /// `manual`.
    pub method: String,
    /// The fill values as text, one per new column (or one for all).
    pub fill_value: Vec<String>,
    /// Always true: a task that does not run saves no model.
    pub need_run: bool,
}

/// Fitted values (FATE's `ColumnExpandParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParam {
    /// The header after expansion.
    pub header: Vec<String>,
}

/// A typed `ColumnExpand` model.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnExpandModel {
    /// Fitted values.
    pub param: ModelParam,
    /// Settings.
    pub meta: ModelMeta,
}

impl ColumnExpandModel {
    /// The model as the executor stores it.
    pub fn to_component_model(&self) -> ComponentModel {
        ComponentModel::from_parts(MODULE, &self.param, &self.meta)
    }

    /// Reads a stored model; the error says which part does not parse.
    pub fn from_component_model(model: &ComponentModel) -> std::result::Result<Self, ModelError> {
        let (param, meta) = model.parts()?;
        Ok(ColumnExpandModel { param, meta })
    }
}

/// FATE's `ColumnExpand` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColumnExpand;

impl Component for ColumnExpand {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let (id, info, rows) = open_first_input(ctx, MODULE, &["data"])?;
        let (names, texts) = match ctx.models_of(MODULE).next() {
            Some(input) => {
                let model = ColumnExpandModel::from_component_model(&input.model).map_err(|e| {
                    Error::InvalidModel {
                        component: input.component.clone(),
                        alias: input.alias.clone(),
                        module: MODULE.into(),
                        reason: e.to_string(),
                    }
                })?;
                let n = model.meta.append_header.len();
                let texts = match model.meta.fill_value.len() {
                    1 => vec![model.meta.fill_value[0].clone(); n],
                    _ => model.meta.fill_value.clone(),
                };
                (model.meta.append_header, texts)
            }
            None => {
                let p = ColumnExpandParam::parse(&ctx.parameters)?;
                (p.append_header, p.fill_text)
            }
        };
        for name in &names {
            if info.schema.header.contains(name) || *name == info.schema.sid {
                return Err(Error::param(
                    "append_header",
                    format!("`{name}` is already a column of {id}"),
                ));
            }
        }
        let mut schema = info.schema.clone();
        schema.header.extend(names.iter().cloned());
        ctx.tracker.info(&format!(
            "column_expand: appending {} to {id} ({rows} rows)",
            names
                .iter()
                .zip(&texts)
                .map(|(n, t)| format!("{n}={t}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        match info.layout {
            RowLayout::Columns => {
                let values: Vec<f64> = texts
                    .iter()
                    .zip(&names)
                    .map(|(t, n)| {
                        t.trim().parse::<f64>().map_err(|_| {
                            Error::param(
                                "fill_value",
                                format!("`{t}` for column `{n}` is not a number, and {id} holds numeric columns"),
                            )
                        })
                    })
                    .collect::<Result<_>>()?;
                let first = info.schema.header.len();
                write_mapped_columns(ctx, &id, &info, rows, &schema, |_, columns| {
                    for (k, &v) in values.iter().enumerate() {
                        columns[first + k].iter_mut().for_each(|c| *c = v);
                    }
                    Ok(())
                })?;
            }
            RowLayout::Text => expand_text(ctx, &id, &info, &schema, &texts)?,
        }
        let model = ColumnExpandModel {
            param: ModelParam {
                header: schema.header.clone(),
            },
            meta: ModelMeta {
                append_header: names,
                method: "manual".into(),
                fill_value: texts,
                need_run: true,
            },
        };
        ctx.tracker.save_model(
            ctx.first_output_model_name("model"),
            &model.to_component_model(),
        )
    }
}

/// Appends `,t1,t2,...` to every line of a text table.
fn expand_text(
    ctx: &TaskContext<'_>,
    id: &TableId,
    info: &TableInfo,
    schema: &TableSchema,
    texts: &[String],
) -> Result<()> {
    let suffix = texts.join(",");
    let data_name = ctx.first_output_data_name("data").to_owned();
    let output = ctx.output_table(&data_name);
    let dest = output.to_id("output table")?;
    let out_info = TableInfo {
        schema: schema.clone(),
        origin: fateflow_tables::TableOrigin::Output,
        ..info.clone()
    };
    let rows = fateflow_tables::scan_text(ctx.tables, id)
        .map_err(|e| Error::table(id, e))?
        .flat_map(|batch| match batch {
            Ok(rows) => rows.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        })
        .map(|row| {
            row.map(|(sid, line)| {
                let line = if line.is_empty() || suffix.is_empty() {
                    format!("{line}{suffix}")
                } else {
                    format!("{line},{suffix}")
                };
                (sid, line)
            })
        });
    fateflow_tables::write_text(ctx.tables, &dest, &out_info, rows, WriteMode::Replace)
        .map_err(|e| Error::table(&dest, e))?;
    ctx.tracker.save_output_data(&data_name, &output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ctx, frame, rows, temp_store, upload, RecordingTracker};
    use serde_json::json;

    #[test]
    fn numeric_tables_get_constant_columns() {
        let (_dir, store) = temp_store();
        let t = upload(&store, "ce", "id,y,x0\na,1,0.5\nb,0,1.5\n");
        let tracker = RecordingTracker::new();
        let mut c = ctx(
            &store,
            &tracker,
            "column_expand_0",
            MODULE,
            json!({"append_header": ["x_0", "x_1"], "fill_value": [0, 0.2]}),
        );
        c.inputs.data.insert("data".into(), vec![t]);
        ColumnExpand.run(&c).unwrap();
        let out = tracker.output_data().pop().unwrap().1;
        let f = frame(&store, &out);
        assert_eq!(f.columns(), ["y", "x0", "x_0", "x_1"]);
        assert_eq!(rows(&f)["b"], [0.0, 1.5, 0.0, 0.2]);
        let (_, m) = tracker.models().pop().unwrap();
        let m = ColumnExpandModel::from_component_model(&m).unwrap();
        assert_eq!(m.meta.fill_value, ["0", "0.2"]);
        assert_eq!(m.param.header, ["y", "x0", "x_0", "x_1"]);
    }

    #[test]
    fn defaults_and_bad_values() {
        let p = ColumnExpandParam::parse(json!({"append_header": ["a", "b"]}).as_object().unwrap())
            .unwrap();
        assert_eq!(p.fill_text, ["1e-08", "1e-08"]);
        let e = ColumnExpandParam::parse(
            json!({"append_header": ["a", "b"], "fill_value": [1, 2, 3]})
                .as_object()
                .unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("fill_value") && e.contains("3 values"), "{e}");
        assert_eq!(python_float(0.5), "0.5");
        assert_eq!(python_float(1.0), "1.0");
    }
}
