//! `Intersection`: the rows whose ids every party holds (PSI).
//!
//! Methods: `raw` (FATE 1.x `RawIntersect`: ids travel in plain text), the only one wired today. `rsa` and `ecdh`
//! (FATE's defaults) use the PSI primitives of the crypto crate and give a clear
//! "not supported yet" error until they are wired.
//!
//! Flow (`join_role` guest, FATE's default): each host sends its ids to the guest;
//! the guest intersects them with its own; with `sync_intersect_ids` (default true)
//! it sends the intersection back to every host. Each party then outputs its own rows
//! whose id is in the intersection (`only_output_key` keeps the ids only).
//!
//! Metrics (namespace `train`, name `intersection`): `intersect_count` and
//! `intersect_rate` (count / this party's rows), as FATE logs them.

use crate::context::{Component, Metric, TaskContext};
use crate::error::{Error, Result};
use fateflow_domain::Role;
use fateflow_federation::FederationExt;
use fateflow_tables::{Frame, WriteMode};
use serde_json::{json, Value};
use std::collections::HashSet;

/// The component.
#[derive(Debug, Default, Clone, Copy)]
pub struct Intersection;

fn str_param<'a>(ctx: &'a TaskContext<'_>, key: &str, default: &'a str) -> &'a str {
    ctx.parameters
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or(default)
}

fn bool_param(ctx: &TaskContext<'_>, key: &str, default: bool) -> bool {
    ctx.parameters
        .get(key)
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

impl Component for Intersection {
    fn run(&self, ctx: &TaskContext<'_>) -> Result<()> {
        let method = str_param(ctx, "intersect_method", "rsa").to_ascii_lowercase();
        if method != "raw" {
            return Err(Error::Unsupported {
                parameter: "intersect_method".into(),
                value: method,
                supported: "raw (rsa and ecdh arrive with the PSI crypto)".into(),
            });
        }
        let raw = ctx
            .parameters
            .get("raw_params")
            .cloned()
            .unwrap_or(Value::Null);
        let join_role = raw
            .get("join_role")
            .and_then(Value::as_str)
            .or(ctx.parameters.get("join_role").and_then(Value::as_str))
            .unwrap_or("guest");
        if join_role != "guest" {
            return Err(Error::Unsupported {
                parameter: "raw_params.join_role".into(),
                value: join_role.into(),
                supported: "guest".into(),
            });
        }
        if raw
            .get("use_hash")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            return Err(Error::Unsupported {
                parameter: "raw_params.use_hash".into(),
                value: "true".into(),
                supported: "false".into(),
            });
        }
        let sync = bool_param(ctx, "sync_intersect_ids", true);
        let only_key = bool_param(ctx, "only_output_key", false);

        let input = ctx
            .inputs
            .first_table(&["data", "train_data", "test_data"])
            .ok_or_else(|| Error::MissingInput {
                component: "Intersection".into(),
                what: "an input data table (input key `data`)".into(),
            })?
            .clone();
        let id = input.to_id("input.data")?;
        let frame = fateflow_tables::read_all(ctx.tables, &id).map_err(|e| Error::table(&id, e))?;
        let encode = |sid: &str| sid.to_string();
        let fed = ctx.federation()?;
        let tag = "intersect";
        let keep: HashSet<String> = match ctx.role {
            Role::Guest => {
                let mut common: HashSet<String> = frame.sids().iter().map(|s| encode(s)).collect();
                let hosts = ctx.parties_of(Role::Host);
                if hosts.is_empty() {
                    return Err(Error::param("role", "Intersection needs at least one host"));
                }
                for host in &hosts {
                    let ids: Vec<String> = fed.get("host_ids", tag, *host)?;
                    ctx.tracker
                        .info(&format!("received {} ids from {host}", ids.len()));
                    let theirs: HashSet<String> = ids.into_iter().collect();
                    common.retain(|i| theirs.contains(i));
                }
                if sync {
                    let mut ids: Vec<&String> = common.iter().collect();
                    ids.sort();
                    fed.remote("intersect_ids", tag, &ids, &hosts)?;
                }
                common
            }
            Role::Host => {
                let guest = *ctx
                    .parties_of(Role::Guest)
                    .first()
                    .ok_or_else(|| Error::param("role", "Intersection needs a guest"))?;
                let mut ids: Vec<String> = frame.sids().iter().map(|s| encode(s)).collect();
                ids.sort();
                fed.remote("host_ids", tag, &ids, &[guest])?;
                if sync {
                    let ids: Vec<String> = fed.get("intersect_ids", tag, guest)?;
                    ids.into_iter().collect()
                } else {
                    // Without sync the host learns nothing and keeps its rows (FATE's behaviour).
                    frame.sids().iter().map(|s| encode(s)).collect()
                }
            }
            other => {
                return Err(Error::param(
                    "role",
                    format!("Intersection does not run at {other}"),
                ))
            }
        };

        // Output this party's rows in the intersection.
        let ncols = if only_key { 0 } else { frame.ncols() };
        let mut sids = Vec::new();
        let mut values = Vec::new();
        for (i, sid) in frame.sids().iter().enumerate() {
            if keep.contains(&encode(sid)) {
                sids.push(sid.clone());
                if !only_key {
                    values.extend_from_slice(frame.row(i));
                }
            }
        }
        let columns = if only_key {
            Vec::new()
        } else {
            frame.columns().to_vec()
        };
        let count = sids.len();
        let mut out = Frame::new(frame.sid_name(), columns, sids, values)
            .map_err(|e| Error::table(&id, e))?;
        if let (Some(label), false) = (frame.label_name(), only_key) {
            out = out.with_label(label).map_err(|e| Error::table(&id, e))?;
        }
        debug_assert_eq!(out.ncols(), ncols);
        let data_name = ctx.first_output_data_name("data").to_string();
        let target = ctx.output_table(&data_name);
        let target_id = target.to_id("output")?;
        let partitions = ctx.tables.info(&id).map(|i| i.partitions).unwrap_or(4);
        fateflow_tables::write_frame(ctx.tables, &target_id, &out, partitions, WriteMode::Replace)
            .map_err(|e| Error::table(&target_id, e))?;
        ctx.tracker.save_output_data(&data_name, &target)?;
        let total = frame.nrows();
        let rate = if total == 0 {
            0.0
        } else {
            count as f64 / total as f64
        };
        ctx.tracker.log_metric(Metric {
            namespace: "train".into(),
            name: "intersection".into(),
            data: vec![(json!("intersect_count"), json!(count)), (json!("intersect_rate"), json!(rate))],
            meta: json!({"metric_type": "INTERSECTION", "intersect_method": "raw", "join_role": join_role}),
        })?;
        ctx.tracker.set_summary(
            json!({"intersect_num": count, "intersect_rate": rate, "cardinality_only": false}),
        )?;
        ctx.tracker
            .info(&format!("intersection: {count} of {total} rows kept"));
        Ok(())
    }
}
