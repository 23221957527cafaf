//! `Reader`: copies a stored table into the task's output table.
//!
//! Parameter: `table: {"name": ..., "namespace": ...}`. A missing table fails with
//! FATE's message `can not found table name: X namespace: Y`.
//!
//! The copy streams partition by partition, one record batch at a time, so memory stays
//! bounded whatever the table's size. The output keeps the input's schema (sid, header,
//! label), partitioning and delimiter, with origin `reader`. It is written to
//! [`TaskContext::output_table`] of the first output data name (`data` when the DSL
//! declares none) and replaces a leftover of an earlier attempt of the same task version.
//!
//! Recorded through the tracker:
//! - output data `<first output data name>` → the output table;
//! - metric namespace `reader_namespace`, name `reader_name`, points
//!   `[["count", n], ["table_name", name]]`, meta `{"name": "reader", "metric_type":
//!   "data_info", "table_name", "namespace", "count", "partitions", "storage_engine"}`
//!   (FATE keeps the same data in its metric meta);
//! - summary `{"count", "table_name", "namespace", "partitions"}`.

use fateflow_tables::{TableInfo, TableOrigin, WriteMode};
use serde_json::json;

use crate::context::{Component, Metric, TableRef, TaskContext};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::table_io::{percent, with_schema};
use fateflow_domain::module::Kind::{Bool, Object, Str};
use fateflow_domain::module::{param, ModuleSchema, Param};

/// FATE-Flow's `Reader`: the table to read.
const READER_PARAMS: &[Param] = &[
    param("table", Object, "null", true),
    param("table.name", Str, "null", true),
    param("table.namespace", Str, "null", true),
    param("need_run", Bool, "true", true),
];

/// `Reader`'s parameter schema: what submit-time validation checks and this component reads.
pub const SCHEMA: ModuleSchema = ModuleSchema {
    name: "Reader",
    params: &[READER_PARAMS],
    conditions: &[],
    supported: &[],
};

/// FATE's `Reader` component.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reader;

impl Reader {
    /// The input table named by the `table` parameter.
    pub(crate) fn input_table(ctx: &TaskContext<'_>) -> Result<TableRef> {
        let params = Params::with_schema(&ctx.parameters, &SCHEMA);
        let table = params.object("table")?.ok_or_else(|| {
            Error::param(
                "table",
                "missing; expected {\"name\": <table name>, \"namespace\": <namespace>}",
            )
        })?;
        let name = table
            .opt_str("name")?
            .ok_or_else(|| Error::param(table.name("name"), "missing"))?;
        let namespace = table
            .opt_str("namespace")?
            .ok_or_else(|| Error::param(table.name("namespace"), "missing"))?;
        Ok(TableRef::new(namespace, name))
    }
}

impl Component for Reader {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let source = Self::input_table(ctx)?;
        let not_found = || Error::TableNotFound {
            namespace: source.namespace.clone(),
            name: source.name.clone(),
        };
        // A name the store could never hold cannot name an existing table either.
        let Ok(src) = source.to_id("table") else {
            return Err(not_found());
        };
        let tables = ctx.tables;
        if !tables.exists(&src).map_err(|e| Error::table(&src, e))? {
            return Err(not_found());
        }
        let info = tables.info(&src).map_err(|e| Error::table(&src, e))?;
        let expected = tables.count(&src).map_err(|e| Error::table(&src, e))?;

        let data_name = ctx.first_output_data_name("data");
        let output = ctx.output_table(data_name);
        let dest = output.to_id("output table")?;
        ctx.tracker.info(&format!(
            "reader: copying table {source} ({expected} rows, {} partitions) to {output}",
            info.partitions
        ));

        let dest_info = TableInfo {
            origin: TableOrigin::Reader,
            ..info.clone()
        };
        let mut stage = tables
            .begin_write(&dest, &dest_info)
            .map_err(|e| Error::table(&dest, e))?;
        for partition in 0..info.partitions {
            let batches = tables
                .read_partition(&src, partition)
                .map_err(|e| Error::table(&src, e))?;
            for batch in batches {
                let batch = batch.map_err(|e| Error::table(&src, e))?;
                let batch = with_schema(&dest, &info, batch)?;
                stage
                    .write(partition, &batch)
                    .map_err(|e| Error::table(&dest, e))?;
            }
            ctx.tracker
                .progress(percent(partition + 1, info.partitions));
        }
        let count = stage
            .commit(WriteMode::Replace, expected)
            .map_err(|e| Error::table(&dest, e))?;

        ctx.tracker.save_output_data(data_name, &output)?;
        let engine = serde_json::to_value(tables.address(&dest))
            .ok()
            .and_then(|a| {
                a.get("engine")
                    .and_then(|e| e.as_str())
                    .map(str::to_uppercase)
            })
            .unwrap_or_default();
        ctx.log_metric(Metric {
            namespace: "reader_namespace".into(),
            name: "reader_name".into(),
            data: vec![
                (json!("count"), json!(count)),
                (json!("table_name"), json!(source.name)),
            ],
            meta: json!({
                "name": "reader",
                "metric_type": "data_info",
                "table_name": source.name,
                "namespace": source.namespace,
                "count": count,
                "partitions": info.partitions,
                "storage_engine": engine,
            }),
        })?;
        ctx.tracker.set_summary(json!({
            "count": count,
            "table_name": source.name,
            "namespace": source.namespace,
            "partitions": info.partitions,
        }))?;
        ctx.tracker
            .info(&format!("reader: wrote {count} rows to {output}"));
        Ok(())
    }
}
