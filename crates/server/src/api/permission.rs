//! `/v1/permission/*` (FATE's `flow privilege grant|delete|query`): which component
//! modules and tables of this site each partner party may use, and `/v1/audit/*`: the
//! hash-chained log of what partners asked and what the operator changed.

use super::{body_object, internal, now_ms, post_route, require, respond, typed, AppState, Reply};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::Router;
use fateflow_api_types::requests::{AuditQuery, PermissionChange};
use fateflow_domain::ident::{check, IdKind};
use fateflow_domain::module::{closest, lookup_ignore_case};
use fateflow_domain::retcode::RetCode;
use fateflow_scheduler::permission::canonical_module;
use fateflow_storage::{
    sha256_hex, AuditDraft, AuditFilter, AuditRecord, Direction, Grant, GrantRecord,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/permission/grant", post_route(grant))
        .route("/permission/delete", post_route(delete))
        .route("/permission/query", post_route(query))
        .route("/permission/list", post_route(list))
        .route("/audit/query", post_route(audit_query))
        .route("/audit/verify", post_route(audit_verify))
        .route("/audit/digest", post_route(audit_digest))
}

fn arg_err(msg: impl Into<String>) -> Reply {
    Reply::err(RetCode::ArgumentError, msg)
}

fn party_of(p: Option<&str>) -> Result<u64, Reply> {
    let p = p.unwrap_or_default();
    p.parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        arg_err(format!(
            "party_id: expected a party id (a positive integer), got `{p}`"
        ))
    })
}

/// A grant request's grants, every problem named; `*` stands for every module or
/// every table.
fn grants_of(c: &PermissionChange) -> Result<Vec<Grant>, Reply> {
    let mut grants = Vec::new();
    let mut problems = Vec::new();
    if let Some(list) = c.component.as_deref() {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" {
                grants.push(Grant::all_components());
            } else if lookup_ignore_case(name).is_some() {
                grants.push(Grant::Component {
                    name: canonical_module(name),
                });
            } else {
                let hint = closest(name)
                    .map(|c| format!(" (did you mean `{}`?)", c.to_ascii_lowercase()))
                    .unwrap_or_default();
                problems.push(format!(
                    "component `{name}` is not a FATE component module{hint}"
                ));
            }
        }
    }
    let dataset = |v: &Value, at: String, problems: &mut Vec<String>| -> Option<Grant> {
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
        let (namespace, name) = (field("namespace"), field("name"));
        if !v.is_object() || namespace.is_empty() || name.is_empty() {
            problems.push(format!(
                "{at}: expected {{\"namespace\": ..., \"name\": ...}} with both set, got {v}"
            ));
            return None;
        }
        for (kind, value) in [(IdKind::Namespace, namespace), (IdKind::TableName, name)] {
            if let Err(e) = check(kind, value) {
                problems.push(format!("{at}: {e}"));
                return None;
            }
        }
        Some(Grant::Dataset {
            namespace: namespace.into(),
            name: name.into(),
        })
    };
    match &c.dataset {
        Value::Null => {}
        Value::String(s) if s == "*" => grants.push(Grant::all_datasets()),
        Value::String(s) if s.is_empty() => {}
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                grants.extend(dataset(v, format!("dataset[{i}]"), &mut problems));
            }
        }
        v @ Value::Object(_) => grants.extend(dataset(v, "dataset".into(), &mut problems)),
        other => problems.push(format!(
            "dataset: expected a list of {{\"namespace\", \"name\"}}, one such object, or \"*\"; got {other}"
        )),
    }
    if !problems.is_empty() {
        return Err(arg_err(problems.join("; ")));
    }
    if grants.is_empty() {
        return Err(arg_err(
            "nothing named: give `component` (comma-separated modules or \"*\") and/or `dataset` (a list of {\"namespace\", \"name\"} or \"*\")",
        ));
    }
    grants.sort();
    grants.dedup();
    Ok(grants)
}

fn describe(grants: &[Grant]) -> String {
    grants
        .iter()
        .map(|g| match g {
            Grant::Component { name } => format!("component {name}"),
            Grant::Dataset { namespace, name } => format!("dataset {namespace}.{name}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn operator_entry(s: &AppState, command: &str, party_id: u64, detail: String, body: &Bytes) {
    let entry = AuditDraft {
        time: now_ms(),
        direction: Direction::Operator,
        party_id,
        role: String::new(),
        local_party_id: 0,
        fingerprint: String::new(),
        command: command.into(),
        job_id: String::new(),
        datasets: String::new(),
        decision: "ok".into(),
        detail,
        body_sha256: sha256_hex(body),
    };
    if let Err(e) = s.store.append_audit(&entry).await {
        tracing::error!(command, party_id, error = %e, "could not write the audit log entry");
    }
}

/// A request's party and, for grant and delete, its grants.
fn change_of(body: &serde_json::Map<String, Value>) -> Result<(u64, PermissionChange), Reply> {
    require(body, &["party_id"])?;
    let c: PermissionChange = typed(body)?;
    Ok((party_of(c.party_id.as_deref())?, c))
}

async fn grant(State(s): State<AppState>, raw: Bytes) -> Response {
    let body = body_object(&raw);
    respond(
        async {
            let (party, c) = change_of(&body)?;
            let grants = grants_of(&c)?;
            let mut warnings = Vec::new();
            if s.controller.hosts(party) {
                warnings.push(format!(
                    "party {party} is hosted by this site; its own jobs are never checked"
                ));
            }
            for g in &grants {
                if let Grant::Dataset { namespace, name } = g {
                    if !g.is_wildcard()
                        && s.store.get_table_meta(namespace, name).await.map_err(internal)?.is_none()
                    {
                        warnings.push(format!(
                            "table {namespace}.{name} does not exist at this site (yet); the grant is kept"
                        ));
                    }
                }
            }
            let added = s
                .store
                .grant_permissions(party, &grants, now_ms())
                .await
                .map_err(internal)?;
            s.permissions.grants_changed();
            let what = describe(&grants);
            tracing::info!(party_id = party, grants = %what, added, "permission granted");
            operator_entry(&s, "permission/grant", party, what, &raw).await;
            let mut msg = "success".to_string();
            if !s.permissions.enabled() {
                warnings.push("permission checks are off at this site (--permission off); grants take effect when they are on".into());
            }
            if !warnings.is_empty() {
                msg = format!("success; warning: {}", warnings.join("; "));
            }
            Ok(Reply::ok(json!({"added": added, "warnings": warnings})).msg(msg))
        }
        .await,
    )
}

async fn delete(State(s): State<AppState>, raw: Bytes) -> Response {
    let body = body_object(&raw);
    respond(
        async {
            let (party, c) = change_of(&body)?;
            let grants = grants_of(&c)?;
            let removed = s
                .store
                .revoke_permissions(party, &grants)
                .await
                .map_err(internal)?;
            s.permissions.grants_changed();
            let what = describe(&grants);
            tracing::info!(party_id = party, grants = %what, removed, "permission deleted");
            operator_entry(&s, "permission/delete", party, what, &raw).await;
            let msg = if removed == 0 {
                format!("success; warning: party {party} held none of these grants")
            } else {
                "success".into()
            };
            Ok(Reply::ok(json!({"removed": removed})).msg(msg))
        }
        .await,
    )
}

/// FATE's query answer: `{"component": [...], "dataset": [{namespace, name}, ...]}`.
fn grants_json(records: &[GrantRecord]) -> Value {
    let mut component = Vec::new();
    let mut dataset = Vec::new();
    for r in records {
        match &r.grant {
            Grant::Component { name } => component.push(Value::from(name.clone())),
            Grant::Dataset { namespace, name } => {
                dataset.push(json!({"namespace": namespace, "name": name}))
            }
        }
    }
    json!({"component": component, "dataset": dataset})
}

async fn query(State(s): State<AppState>, raw: Bytes) -> Response {
    let body = body_object(&raw);
    respond(
        async {
            let (party, _) = change_of(&body)?;
            let records = s
                .store
                .query_permissions(Some(party))
                .await
                .map_err(internal)?;
            Ok(Reply::ok(grants_json(&records)))
        }
        .await,
    )
}

/// Every party's grants (the Board's view), and whether checks are on.
async fn list(State(s): State<AppState>) -> Response {
    respond(
        async {
            let records = s.store.query_permissions(None).await.map_err(internal)?;
            let mut by_party: BTreeMap<u64, Vec<GrantRecord>> = BTreeMap::new();
            for r in records {
                by_party.entry(r.src_party_id).or_default().push(r);
            }
            let parties: Vec<Value> = by_party
                .iter()
                .map(|(p, rs)| {
                    let mut v = grants_json(rs);
                    v["party_id"] = json!(p);
                    v
                })
                .collect();
            Ok(Reply::ok(json!({
                "enabled": s.permissions.enabled(),
                "local_parties": s.controller.config().parties,
                "parties": parties,
            })))
        }
        .await,
    )
}

async fn audit_query(State(s): State<AppState>, raw: Bytes) -> Response {
    let body = body_object(&raw);
    respond(
        async {
            let q: AuditQuery = typed(&body)?;
            let party_id = match q.party_id.as_deref() {
                None => None,
                p => Some(party_of(p)?),
            };
            let limit = q.limit.unwrap_or(100);
            if !(1..=1000).contains(&limit) {
                return Err(arg_err(format!("limit: expected 1 to 1000, got {limit}")));
            }
            let offset = q.offset.unwrap_or(0);
            if offset < 0 {
                return Err(arg_err(format!("offset: expected 0 or more, got {offset}")));
            }
            let (entries, total) = s
                .store
                .query_audit(&AuditFilter {
                    job_id: q.job_id,
                    party_id,
                    command: q.command,
                    refused_only: q.refused.unwrap_or(false),
                    limit: limit as u64,
                    offset: offset as u64,
                    ascending: false,
                })
                .await
                .map_err(internal)?;
            Ok(Reply::ok(json!({"entries": entries, "total": total})))
        }
        .await,
    )
}

async fn audit_verify(State(s): State<AppState>) -> Response {
    respond(
        async {
            let check = s.store.verify_audit().await.map_err(internal)?;
            if !check.ok {
                tracing::error!(first_bad_seq = ?check.first_bad_seq, problem = ?check.problem, "the audit log's hash chain does not verify");
            }
            Ok(Reply::ok(json!(check)))
        }
        .await,
    )
}

/// One direction of a job's commands with one partner: the commands in order and one
/// hash over them. The initiator's `sent` digest for a partner equals that partner's
/// `received` digest for the initiator when each command arrived exactly once.
fn digest_of(entries: &[&AuditRecord]) -> Value {
    let mut text = String::new();
    let commands: Vec<Value> = entries
        .iter()
        .map(|r| {
            text.push_str(&r.entry.command);
            text.push(' ');
            text.push_str(&r.entry.body_sha256);
            text.push('\n');
            json!({
                "seq": r.seq,
                "time": r.entry.time,
                "command": r.entry.command,
                "body_sha256": r.entry.body_sha256,
                "decision": r.entry.decision,
            })
        })
        .collect();
    json!({
        "count": commands.len(),
        "digest": sha256_hex(text.as_bytes()),
        "commands": commands,
    })
}

async fn audit_digest(State(s): State<AppState>, raw: Bytes) -> Response {
    let body = body_object(&raw);
    respond(
        async {
            require(&body, &["job_id"])?;
            let q: AuditQuery = typed(&body)?;
            let job_id = q.job_id.unwrap_or_default();
            let mut all = Vec::new();
            loop {
                let (page, _) = s
                    .store
                    .query_audit(&AuditFilter {
                        job_id: Some(job_id.clone()),
                        limit: 1000,
                        offset: all.len() as u64,
                        ascending: true,
                        ..Default::default()
                    })
                    .await
                    .map_err(internal)?;
                let done = page.len() < 1000;
                all.extend(page);
                if done {
                    break;
                }
            }
            // Commands only: reports and refused data-plane messages carry no command
            // body both ends hash; a command that never reached its party is not one it
            // received.
            let mut by_party: BTreeMap<u64, (Vec<&AuditRecord>, Vec<&AuditRecord>)> =
                BTreeMap::new();
            for r in &all {
                let e = &r.entry;
                if e.body_sha256.is_empty() || e.command == "report" {
                    continue;
                }
                let slot = by_party.entry(e.party_id).or_default();
                match e.direction {
                    Direction::Sent if e.decision != "unreachable" => slot.0.push(r),
                    Direction::Received => slot.1.push(r),
                    _ => {}
                }
            }
            let parties: Vec<Value> = by_party
                .iter()
                .map(|(p, (sent, received))| {
                    json!({
                        "party_id": p,
                        "sent": digest_of(sent),
                        "received": digest_of(received),
                    })
                })
                .collect();
            Ok(Reply::ok(json!({
                "job_id": job_id,
                "local_parties": s.controller.config().parties,
                "parties": parties,
            })))
        }
        .await,
    )
}
