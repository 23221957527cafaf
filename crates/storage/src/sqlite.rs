//! The SQLite implementation of [`MetadataStore`].

use crate::audit::*;
use crate::records::*;
use crate::{Error, MetadataStore, Result};
use async_trait::async_trait;
use fateflow_domain::status::{job_transition_allowed_with_signal, task_transition_allowed};
use fateflow_domain::{ErrorKind, Role, Status};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The metadata store on a SQLite file (WAL mode, so readers never block the writer).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

mod audit_rows;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// A private in-memory database, for tests.
    pub async fn memory() -> Result<Self> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")?;
        // One connection: every connection to :memory: is a different database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Runs SQL statements as they are: tests install triggers that watch an
    /// invariant with it.
    pub async fn execute_script(&self, sql: &str) -> Result<()> {
        sqlx::raw_sql(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

fn parse_json(table: &'static str, s: &str) -> Result<Value> {
    serde_json::from_str(s).map_err(|e| Error::Corrupt {
        table,
        detail: format!("bad JSON: {e}"),
    })
}

fn parse_status(table: &'static str, s: &str) -> Result<Status> {
    s.parse()
        .map_err(|e: fateflow_domain::status::UnknownStatus| Error::Corrupt {
            table,
            detail: e.to_string(),
        })
}

fn parse_role(table: &'static str, s: &str) -> Result<Role> {
    s.parse()
        .map_err(|e: fateflow_domain::UnknownRole| Error::Corrupt {
            table,
            detail: e.to_string(),
        })
}

fn pid(v: i64) -> u64 {
    u64::try_from(v).unwrap_or_default()
}

fn pid_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn map_unique(e: sqlx::Error, what: impl FnOnce() -> String) -> Error {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return Error::AlreadyExists(what());
        }
    }
    Error::Database(e)
}

fn job_from_row(r: &SqliteRow) -> Result<JobRecord> {
    const T: &str = "job";
    Ok(JobRecord {
        job_id: r.try_get("job_id")?,
        role: parse_role(T, r.try_get("role")?)?,
        party_id: pid(r.try_get("party_id")?),
        is_initiator: r.try_get("is_initiator")?,
        initiator_role: parse_role(T, r.try_get("initiator_role")?)?,
        initiator_party_id: pid(r.try_get("initiator_party_id")?),
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        tag: r.try_get("tag")?,
        dsl: parse_json(T, r.try_get("dsl")?)?,
        runtime_conf: parse_json(T, r.try_get("runtime_conf")?)?,
        runtime_conf_on_party: parse_json(T, r.try_get("runtime_conf_on_party")?)?,
        train_runtime_conf: parse_json(T, r.try_get("train_runtime_conf")?)?,
        roles: parse_json(T, r.try_get("roles")?)?,
        status: parse_status(T, r.try_get("status")?)?,
        status_code: r.try_get("status_code")?,
        progress: r.try_get("progress")?,
        ready_signal: r.try_get("ready_signal")?,
        ready_time: r.try_get("ready_time")?,
        cancel_signal: r.try_get("cancel_signal")?,
        cancel_time: r.try_get("cancel_time")?,
        rerun_signal: r.try_get("rerun_signal")?,
        cores: r.try_get("cores")?,
        memory: r.try_get("memory")?,
        remaining_cores: r.try_get("remaining_cores")?,
        remaining_memory: r.try_get("remaining_memory")?,
        resource_in_use: r.try_get("resource_in_use")?,
        apply_resource_time: r.try_get("apply_resource_time")?,
        return_resource_time: r.try_get("return_resource_time")?,
        model_id: r.try_get("model_id")?,
        model_version: r.try_get("model_version")?,
        error_report: r.try_get("error_report")?,
        create_time: r.try_get("create_time")?,
        update_time: r.try_get("update_time")?,
        start_time: r.try_get("start_time")?,
        end_time: r.try_get("end_time")?,
        elapsed: r.try_get("elapsed")?,
    })
}

fn task_from_row(r: &SqliteRow) -> Result<TaskRecord> {
    const T: &str = "task";
    Ok(TaskRecord {
        job_id: r.try_get("job_id")?,
        task_id: r.try_get("task_id")?,
        task_version: r.try_get("task_version")?,
        role: parse_role(T, r.try_get("role")?)?,
        party_id: pid(r.try_get("party_id")?),
        component_name: r.try_get("component_name")?,
        component_module: r.try_get("component_module")?,
        initiator_role: parse_role(T, r.try_get("initiator_role")?)?,
        initiator_party_id: pid(r.try_get("initiator_party_id")?),
        federated_mode: r.try_get("federated_mode")?,
        federated_status_collect_type: r.try_get("federated_status_collect_type")?,
        status: parse_status(T, r.try_get("status")?)?,
        party_status: parse_status(T, r.try_get("party_status")?)?,
        status_code: r.try_get("status_code")?,
        auto_retries: r.try_get("auto_retries")?,
        auto_retry_delay: r.try_get("auto_retry_delay")?,
        run_on_this_party: r.try_get("run_on_this_party")?,
        worker_id: r.try_get("worker_id")?,
        cmd: r.try_get("cmd")?,
        run_ip: r.try_get("run_ip")?,
        run_port: r.try_get("run_port")?,
        run_pid: r.try_get("run_pid")?,
        provider_info: parse_json(T, r.try_get("provider_info")?)?,
        component_parameters: parse_json(T, r.try_get("component_parameters")?)?,
        engine_conf: parse_json(T, r.try_get("engine_conf")?)?,
        kill_status: r.try_get("kill_status")?,
        error_report: r.try_get("error_report")?,
        error_kind: r
            .try_get::<Option<String>, _>("error_kind")?
            .map(|k| ErrorKind::from_name(&k)),
        heartbeat_time: r.try_get("heartbeat_time")?,
        create_time: r.try_get("create_time")?,
        update_time: r.try_get("update_time")?,
        start_time: r.try_get("start_time")?,
        end_time: r.try_get("end_time")?,
        elapsed: r.try_get("elapsed")?,
    })
}

fn table_from_row(r: &SqliteRow) -> Result<TableMetaRecord> {
    const T: &str = "storage_table_meta";
    Ok(TableMetaRecord {
        namespace: r.try_get("namespace")?,
        name: r.try_get("name")?,
        address: parse_json(T, r.try_get("address")?)?,
        engine: r.try_get("engine")?,
        store_type: r.try_get("store_type")?,
        partitions: r.try_get("partitions")?,
        id_delimiter: r.try_get("id_delimiter")?,
        have_head: r.try_get("have_head")?,
        extend_sid: r.try_get("extend_sid")?,
        schema: parse_json(T, r.try_get("schema_json")?)?,
        count: r.try_get("count")?,
        part_of_data: parse_json(T, r.try_get("part_of_data")?)?,
        origin: r.try_get("origin")?,
        disable: r.try_get("disable")?,
        description: r.try_get("description")?,
        create_time: r.try_get("create_time")?,
        update_time: r.try_get("update_time")?,
    })
}

fn model_from_row(r: &SqliteRow) -> Result<ComponentModelRecord> {
    const T: &str = "component_model";
    Ok(ComponentModelRecord {
        owner: owner_from_row(T, r)?,
        model_alias: r.try_get("model_alias")?,
        module: r.try_get("module")?,
        model: parse_json(T, r.try_get("model")?)?,
        create_time: r.try_get("create_time")?,
    })
}

fn model_info_from_row(r: &SqliteRow) -> Result<ModelInfoRecord> {
    const T: &str = "model_info";
    Ok(ModelInfoRecord {
        model_id: r.try_get("model_id")?,
        model_version: r.try_get("model_version")?,
        role: parse_role(T, r.try_get("role")?)?,
        party_id: pid(r.try_get("party_id")?),
        job_id: r.try_get("job_id")?,
        roles: parse_json(T, r.try_get("roles")?)?,
        initiator_role: parse_role(T, r.try_get("initiator_role")?)?,
        initiator_party_id: pid(r.try_get("initiator_party_id")?),
        train_dsl: parse_json(T, r.try_get("train_dsl")?)?,
        train_runtime_conf: parse_json(T, r.try_get("train_runtime_conf")?)?,
        runtime_conf_on_party: parse_json(T, r.try_get("runtime_conf_on_party")?)?,
        inference_dsl: parse_json(T, r.try_get("inference_dsl")?)?,
        fate_version: r.try_get("fate_version")?,
        parent: r.try_get("parent")?,
        parent_info: parse_json(T, r.try_get("parent_info")?)?,
        loaded_times: r.try_get("loaded_times")?,
        imported: r.try_get("imported")?,
        size: r.try_get("size")?,
        description: r.try_get("description")?,
        archive_sha256: r.try_get("archive_sha256")?,
        archive_from_ip: r.try_get("archive_from_ip")?,
        create_time: r.try_get("create_time")?,
        update_time: r.try_get("update_time")?,
    })
}

fn pipeline_component_from_row(r: &SqliteRow) -> Result<PipelineComponentRecord> {
    const T: &str = "pipeline_component";
    Ok(PipelineComponentRecord {
        component_name: r.try_get("component_name")?,
        model_alias: r.try_get("model_alias")?,
        module: r.try_get("component_module")?,
        model: parse_json(T, r.try_get("model")?)?,
        create_time: r.try_get("create_time")?,
    })
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

const MODEL_KEY_WHERE: &str = "model_id = ? AND model_version = ? AND role = ? AND party_id = ?";

fn bind_model_key<'q>(q: SqliteQuery<'q>, k: &'q ModelKey) -> SqliteQuery<'q> {
    q.bind(&k.model_id)
        .bind(&k.model_version)
        .bind(k.role.as_str())
        .bind(pid_i64(k.party_id))
}

fn output_data_from_row(r: &SqliteRow) -> Result<OutputDataRecord> {
    Ok(OutputDataRecord {
        owner: owner_from_row("tracking_output_data_info", r)?,
        data_name: r.try_get("data_name")?,
        table_namespace: r.try_get("table_namespace")?,
        table_name: r.try_get("table_name")?,
        description: r.try_get("description")?,
        create_time: r.try_get("create_time")?,
    })
}

fn metric_from_row(r: &SqliteRow) -> Result<MetricRecord> {
    const T: &str = "tracking_metric";
    Ok(MetricRecord {
        owner: owner_from_row(T, r)?,
        metric_namespace: r.try_get("metric_namespace")?,
        metric_name: r.try_get("metric_name")?,
        data: parse_json(T, r.try_get("data")?)?,
        meta: parse_json(T, r.try_get("meta")?)?,
        create_time: r.try_get("create_time")?,
    })
}

/// The owner of a tracking row (metric, output data info, summary, component model).
fn owner_from_row(table: &'static str, r: &SqliteRow) -> Result<TaskOwner> {
    Ok(TaskOwner {
        job_id: r.try_get("job_id")?,
        component_name: r.try_get("component_name")?,
        task_id: r.try_get("task_id")?,
        task_version: r.try_get("task_version")?,
        role: parse_role(table, r.try_get("role")?)?,
        party_id: pid(r.try_get("party_id")?),
    })
}

/// The owner columns of a tracking row, in the order [`bind_owner`] binds them.
macro_rules! owner_columns {
    () => {
        "job_id, component_name, task_id, task_version, role, party_id"
    };
}

/// Binds a tracking row's owner to the first six placeholders ([`owner_columns`]).
fn bind_owner<'q>(q: SqliteQuery<'q>, o: &'q TaskOwner) -> SqliteQuery<'q> {
    q.bind(&o.job_id)
        .bind(&o.component_name)
        .bind(&o.task_id)
        .bind(o.task_version)
        .bind(o.role.as_str())
        .bind(pid_i64(o.party_id))
}

impl SqliteStore {
    /// A tracking table's rows for one component at one party, every task version;
    /// `order` is the ORDER BY clause (and a LIMIT).
    async fn component_rows(
        &self,
        table: &str,
        order: &str,
        job_id: &str,
        component: &str,
        role: Role,
        party_id: u64,
    ) -> Result<Vec<SqliteRow>> {
        let sql = format!(
            "SELECT * FROM {table} WHERE job_id = ? AND component_name = ? AND role = ? \
             AND party_id = ? ORDER BY {order}"
        );
        Ok(sqlx::query(&sql)
            .bind(job_id)
            .bind(component)
            .bind(role.as_str())
            .bind(pid_i64(party_id))
            .fetch_all(&self.pool)
            .await?)
    }
}

const JOB_ORDER_COLUMNS: &[&str] = &[
    "job_id",
    "create_time",
    "start_time",
    "end_time",
    "elapsed",
    "status",
    "update_time",
];
const TASK_ORDER_COLUMNS: &[&str] = &[
    "job_id",
    "task_version",
    "create_time",
    "start_time",
    "end_time",
    "elapsed",
    "component_name",
];

fn push_order(
    qb: &mut QueryBuilder<'_, Sqlite>,
    order: &Option<(String, bool)>,
    allowed: &[&str],
    default: &str,
) {
    match order {
        Some((col, asc)) if allowed.contains(&col.as_str()) => {
            qb.push(format!(
                " ORDER BY {col} {}",
                if *asc { "ASC" } else { "DESC" }
            ));
        }
        _ => {
            qb.push(format!(" ORDER BY {default}"));
        }
    }
}

fn push_paging(qb: &mut QueryBuilder<'_, Sqlite>, limit: u64, page: u64) {
    if limit > 0 {
        let offset = page.saturating_sub(1) * limit;
        qb.push(format!(" LIMIT {limit} OFFSET {offset}"));
    }
}

fn push_job_where<'a>(qb: &mut QueryBuilder<'a, Sqlite>, f: &'a JobFilter) {
    qb.push(" WHERE 1=1");
    if let Some(v) = &f.job_id {
        qb.push(" AND job_id = ").push_bind(v);
    }
    if let Some(v) = f.role {
        qb.push(" AND role = ").push_bind(v.as_str());
    }
    if let Some(v) = f.party_id {
        qb.push(" AND party_id = ").push_bind(pid_i64(v));
    }
    if !f.statuses.is_empty() {
        qb.push(" AND status IN (");
        let mut sep = qb.separated(", ");
        for s in &f.statuses {
            sep.push_bind(s.as_str());
        }
        qb.push(")");
    }
    if let Some(v) = f.is_initiator {
        qb.push(" AND is_initiator = ").push_bind(v);
    }
    if let Some(v) = &f.job_id_like {
        qb.push(" AND job_id LIKE ").push_bind(format!("%{v}%"));
    }
    if let Some(v) = &f.description_like {
        qb.push(" AND description LIKE ")
            .push_bind(format!("%{v}%"));
    }
    if let Some(v) = &f.exclude_tag {
        qb.push(" AND tag <> ").push_bind(v);
    }
}

fn push_task_where<'a>(qb: &mut QueryBuilder<'a, Sqlite>, f: &'a TaskFilter) {
    qb.push(" WHERE 1=1");
    if let Some(v) = &f.job_id {
        qb.push(" AND t.job_id = ").push_bind(v);
    }
    if let Some(v) = &f.task_id {
        qb.push(" AND t.task_id = ").push_bind(v);
    }
    if let Some(v) = f.task_version {
        qb.push(" AND t.task_version = ").push_bind(v);
    }
    if let Some(v) = f.role {
        qb.push(" AND t.role = ").push_bind(v.as_str());
    }
    if let Some(v) = f.party_id {
        qb.push(" AND t.party_id = ").push_bind(pid_i64(v));
    }
    if let Some(v) = &f.component_name {
        qb.push(" AND t.component_name = ").push_bind(v);
    }
    for (col, list) in [
        ("t.status", &f.statuses),
        ("t.party_status", &f.party_statuses),
    ] {
        if !list.is_empty() {
            qb.push(format!(" AND {col} IN ("));
            let mut sep = qb.separated(", ");
            for s in list {
                sep.push_bind(s.as_str());
            }
            qb.push(")");
        }
    }
    if let Some(v) = f.run_on_this_party {
        qb.push(" AND t.run_on_this_party = ").push_bind(v);
    }
    if f.latest_only {
        qb.push(
            " AND t.task_version = (SELECT MAX(t2.task_version) FROM task t2 WHERE t2.job_id = t.job_id \
             AND t2.task_id = t.task_id AND t2.role = t.role AND t2.party_id = t.party_id)",
        );
    }
}

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn insert_job(&self, j: &JobRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO job (job_id, role, party_id, is_initiator, initiator_role, initiator_party_id, user_id, name, \
             description, tag, dsl, runtime_conf, runtime_conf_on_party, train_runtime_conf, roles, status, status_code, \
             progress, ready_signal, ready_time, cancel_signal, cancel_time, rerun_signal, cores, memory, remaining_cores, \
             remaining_memory, resource_in_use, apply_resource_time, return_resource_time, model_id, model_version, \
             error_report, create_time, update_time, start_time, end_time, elapsed) VALUES \
             (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        )
        .bind(&j.job_id)
        .bind(j.role.as_str())
        .bind(pid_i64(j.party_id))
        .bind(j.is_initiator)
        .bind(j.initiator_role.as_str())
        .bind(pid_i64(j.initiator_party_id))
        .bind(&j.user_id)
        .bind(&j.name)
        .bind(&j.description)
        .bind(&j.tag)
        .bind(json_text(&j.dsl))
        .bind(json_text(&j.runtime_conf))
        .bind(json_text(&j.runtime_conf_on_party))
        .bind(json_text(&j.train_runtime_conf))
        .bind(json_text(&j.roles))
        .bind(j.status.as_str())
        .bind(j.status_code)
        .bind(j.progress)
        .bind(j.ready_signal)
        .bind(j.ready_time)
        .bind(j.cancel_signal)
        .bind(j.cancel_time)
        .bind(j.rerun_signal)
        .bind(j.cores)
        .bind(j.memory)
        .bind(j.remaining_cores)
        .bind(j.remaining_memory)
        .bind(j.resource_in_use)
        .bind(j.apply_resource_time)
        .bind(j.return_resource_time)
        .bind(&j.model_id)
        .bind(&j.model_version)
        .bind(&j.error_report)
        .bind(j.create_time)
        .bind(j.update_time)
        .bind(j.start_time)
        .bind(j.end_time)
        .bind(j.elapsed)
        .execute(&self.pool)
        .await
        .map_err(|e| map_unique(e, || format!("job {} at {}:{}", j.job_id, j.role, j.party_id)))?;
        Ok(())
    }

    async fn get_job(&self, job_id: &str, role: Role, party_id: u64) -> Result<Option<JobRecord>> {
        let row = sqlx::query("SELECT * FROM job WHERE job_id = ? AND role = ? AND party_id = ?")
            .bind(job_id)
            .bind(role.as_str())
            .bind(pid_i64(party_id))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn query_jobs(&self, f: &JobFilter) -> Result<(Vec<JobRecord>, u64)> {
        let mut count_q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*) FROM job");
        push_job_where(&mut count_q, f);
        let total: i64 = count_q.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT * FROM job");
        push_job_where(&mut qb, f);
        push_order(
            &mut qb,
            &f.order_by,
            JOB_ORDER_COLUMNS,
            "create_time DESC, job_id DESC",
        );
        push_paging(&mut qb, f.limit, f.page);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
        Ok((jobs, u64::try_from(total).unwrap_or_default()))
    }

    async fn update_job_status(
        &self,
        job_id: &str,
        role: Role,
        party_id: u64,
        to: Status,
        now: i64,
    ) -> Result<bool> {
        let Some(job) = self.get_job(job_id, role, party_id).await? else {
            return Ok(false);
        };
        if job.status == to || !job_transition_allowed_with_signal(job.status, to, job.rerun_signal)
        {
            return Ok(false);
        }
        let res = sqlx::query(
            "UPDATE job SET status = ?, update_time = ? WHERE job_id = ? AND role = ? AND party_id = ? AND status = ?",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(job_id)
        .bind(role.as_str())
        .bind(pid_i64(party_id))
        .bind(job.status.as_str())
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn update_job_status_with(
        &self,
        job_id: &str,
        role: Role,
        party_id: u64,
        to: Status,
        u: &JobUpdate,
        now: i64,
    ) -> Result<bool> {
        let Some(job) = self.get_job(job_id, role, party_id).await? else {
            return Ok(false);
        };
        if job.status == to || !job_transition_allowed_with_signal(job.status, to, job.rerun_signal)
        {
            return Ok(false);
        }
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE job SET status = ");
        qb.push_bind(to.as_str());
        qb.push(", update_time = ").push_bind(now);
        push_job_columns(&mut qb, u);
        qb.push(" WHERE job_id = ").push_bind(job_id);
        qb.push(" AND role = ").push_bind(role.as_str());
        qb.push(" AND party_id = ").push_bind(pid_i64(party_id));
        qb.push(" AND status = ").push_bind(job.status.as_str());
        let res = qb.build().execute(&self.pool).await?;
        Ok(res.rows_affected() == 1)
    }

    async fn update_job_status_from(
        &self,
        seen: &JobRecord,
        to: Status,
        u: &JobUpdate,
        now: i64,
    ) -> Result<bool> {
        if seen.status == to
            || !job_transition_allowed_with_signal(seen.status, to, seen.rerun_signal)
        {
            return Ok(false);
        }
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE job SET status = ");
        qb.push_bind(to.as_str());
        qb.push(", update_time = ").push_bind(now);
        push_job_columns(&mut qb, u);
        qb.push(" WHERE job_id = ").push_bind(&seen.job_id);
        qb.push(" AND role = ").push_bind(seen.role.as_str());
        qb.push(" AND party_id = ")
            .push_bind(pid_i64(seen.party_id));
        qb.push(" AND status = ").push_bind(seen.status.as_str());
        qb.push(" AND update_time = ").push_bind(seen.update_time);
        qb.push(" AND rerun_signal = ").push_bind(seen.rerun_signal);
        let res = qb.build().execute(&self.pool).await?;
        Ok(res.rows_affected() == 1)
    }

    async fn update_job(
        &self,
        job_id: &str,
        role: Role,
        party_id: u64,
        u: &JobUpdate,
        now: i64,
    ) -> Result<()> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE job SET update_time = ");
        qb.push_bind(now);
        push_job_columns(&mut qb, u);
        qb.push(" WHERE job_id = ").push_bind(job_id);
        qb.push(" AND role = ").push_bind(role.as_str());
        qb.push(" AND party_id = ").push_bind(pid_i64(party_id));
        qb.build().execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_task(&self, t: &TaskRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO task (job_id, task_id, task_version, role, party_id, component_name, component_module, \
             initiator_role, initiator_party_id, federated_mode, federated_status_collect_type, status, party_status, \
             status_code, auto_retries, auto_retry_delay, run_on_this_party, worker_id, cmd, run_ip, run_port, run_pid, \
             provider_info, component_parameters, engine_conf, kill_status, error_report, error_kind, heartbeat_time, \
             create_time, update_time, start_time, end_time, elapsed) VALUES \
             (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        )
        .bind(&t.job_id)
        .bind(&t.task_id)
        .bind(t.task_version)
        .bind(t.role.as_str())
        .bind(pid_i64(t.party_id))
        .bind(&t.component_name)
        .bind(&t.component_module)
        .bind(t.initiator_role.as_str())
        .bind(pid_i64(t.initiator_party_id))
        .bind(&t.federated_mode)
        .bind(&t.federated_status_collect_type)
        .bind(t.status.as_str())
        .bind(t.party_status.as_str())
        .bind(t.status_code)
        .bind(t.auto_retries)
        .bind(t.auto_retry_delay)
        .bind(t.run_on_this_party)
        .bind(&t.worker_id)
        .bind(&t.cmd)
        .bind(&t.run_ip)
        .bind(t.run_port)
        .bind(t.run_pid)
        .bind(json_text(&t.provider_info))
        .bind(json_text(&t.component_parameters))
        .bind(json_text(&t.engine_conf))
        .bind(t.kill_status)
        .bind(&t.error_report)
        .bind(t.error_kind.map(ErrorKind::as_str))
        .bind(t.heartbeat_time)
        .bind(t.create_time)
        .bind(t.update_time)
        .bind(t.start_time)
        .bind(t.end_time)
        .bind(t.elapsed)
        .execute(&self.pool)
        .await
        .map_err(|e| map_unique(e, || format!("task {} v{} at {}:{}", t.task_id, t.task_version, t.role, t.party_id)))?;
        Ok(())
    }

    async fn get_task(&self, k: &TaskKey) -> Result<Option<TaskRecord>> {
        let row = sqlx::query(
            "SELECT * FROM task WHERE job_id = ? AND task_id = ? AND task_version = ? AND role = ? AND party_id = ?",
        )
        .bind(&k.job_id)
        .bind(&k.task_id)
        .bind(k.task_version)
        .bind(k.role.as_str())
        .bind(pid_i64(k.party_id))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn query_tasks(&self, f: &TaskFilter) -> Result<(Vec<TaskRecord>, u64)> {
        let mut count_q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*) FROM task t");
        push_task_where(&mut count_q, f);
        let total: i64 = count_q.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT t.* FROM task t");
        push_task_where(&mut qb, f);
        let order = f.order_by.as_ref().map(|(c, a)| (format!("t.{c}"), *a));
        let allowed: Vec<String> = TASK_ORDER_COLUMNS
            .iter()
            .map(|c| format!("t.{c}"))
            .collect();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        push_order(
            &mut qb,
            &order,
            &allowed,
            "t.create_time ASC, t.task_id ASC, t.role ASC, t.party_id ASC",
        );
        push_paging(&mut qb, f.limit, f.page);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let tasks = rows.iter().map(task_from_row).collect::<Result<Vec<_>>>()?;
        Ok((tasks, u64::try_from(total).unwrap_or_default()))
    }

    async fn update_task_status(&self, k: &TaskKey, to: Status, now: i64) -> Result<bool> {
        update_task_status_column(&self.pool, self, k, to, now, "status").await
    }

    async fn update_task_party_status(&self, k: &TaskKey, to: Status, now: i64) -> Result<bool> {
        update_task_status_column(&self.pool, self, k, to, now, "party_status").await
    }

    async fn update_task(&self, k: &TaskKey, u: &TaskUpdate, now: i64) -> Result<()> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE task SET update_time = ");
        qb.push_bind(now);
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = &u.$field {
                    qb.push(concat!(", ", stringify!($field), " = "))
                        .push_bind(v.clone());
                }
            };
        }
        set!(worker_id);
        set!(cmd);
        set!(run_ip);
        set!(run_port);
        set!(run_pid);
        set!(kill_status);
        set!(error_report);
        if let Some(k) = u.error_kind {
            qb.push(", error_kind = ").push_bind(k.as_str());
        }
        set!(heartbeat_time);
        set!(start_time);
        set!(end_time);
        set!(elapsed);
        set!(auto_retries);
        if let Some(v) = &u.engine_conf {
            qb.push(", engine_conf = ").push_bind(json_text(v));
        }
        qb.push(" WHERE job_id = ").push_bind(&k.job_id);
        qb.push(" AND task_id = ").push_bind(&k.task_id);
        qb.push(" AND task_version = ").push_bind(k.task_version);
        qb.push(" AND role = ").push_bind(k.role.as_str());
        qb.push(" AND party_id = ").push_bind(pid_i64(k.party_id));
        qb.build().execute(&self.pool).await?;
        Ok(())
    }

    async fn put_table_meta(&self, m: &TableMetaRecord) -> Result<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO storage_table_meta (namespace, name, address, engine, store_type, partitions, \
             id_delimiter, have_head, extend_sid, schema_json, count, part_of_data, origin, disable, description, \
             create_time, update_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        )
        .bind(&m.namespace)
        .bind(&m.name)
        .bind(json_text(&m.address))
        .bind(&m.engine)
        .bind(&m.store_type)
        .bind(m.partitions)
        .bind(&m.id_delimiter)
        .bind(m.have_head)
        .bind(m.extend_sid)
        .bind(json_text(&m.schema))
        .bind(m.count)
        .bind(json_text(&m.part_of_data))
        .bind(&m.origin)
        .bind(m.disable)
        .bind(&m.description)
        .bind(m.create_time)
        .bind(m.update_time)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_table_meta(&self, namespace: &str, name: &str) -> Result<Option<TableMetaRecord>> {
        let row = sqlx::query("SELECT * FROM storage_table_meta WHERE namespace = ? AND name = ?")
            .bind(namespace)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(table_from_row).transpose()
    }

    async fn list_table_meta(&self, namespace: Option<&str>) -> Result<Vec<TableMetaRecord>> {
        let rows = match namespace {
            Some(ns) => sqlx::query(
                "SELECT * FROM storage_table_meta WHERE namespace = ? ORDER BY create_time DESC",
            )
            .bind(ns)
            .fetch_all(&self.pool)
            .await?,
            None => {
                sqlx::query("SELECT * FROM storage_table_meta ORDER BY create_time DESC")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(table_from_row).collect()
    }

    async fn delete_table_meta(&self, namespace: &str, name: &str) -> Result<bool> {
        let res = sqlx::query("DELETE FROM storage_table_meta WHERE namespace = ? AND name = ?")
            .bind(namespace)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected() > 0)
    }

    async fn insert_metric(&self, m: &MetricRecord) -> Result<()> {
        let sql = concat!(
            "INSERT INTO tracking_metric (",
            owner_columns!(),
            ", metric_namespace, metric_name, data, meta, create_time) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        );
        bind_owner(sqlx::query(sql), &m.owner)
            .bind(&m.metric_namespace)
            .bind(&m.metric_name)
            .bind(json_text(&m.data))
            .bind(json_text(&m.meta))
            .bind(m.create_time)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn query_metrics(
        &self,
        job_id: &str,
        component: &str,
        role: Role,
        party_id: u64,
    ) -> Result<Vec<MetricRecord>> {
        let rows = self
            .component_rows("tracking_metric", "id", job_id, component, role, party_id)
            .await?;
        rows.iter().map(metric_from_row).collect()
    }

    async fn insert_output_data(&self, d: &OutputDataRecord) -> Result<()> {
        let sql = concat!(
            "INSERT OR REPLACE INTO tracking_output_data_info (",
            owner_columns!(),
            ", data_name, table_namespace, table_name, description, create_time) \
             VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        );
        bind_owner(sqlx::query(sql), &d.owner)
            .bind(&d.data_name)
            .bind(&d.table_namespace)
            .bind(&d.table_name)
            .bind(&d.description)
            .bind(d.create_time)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn query_output_data(
        &self,
        job_id: &str,
        component: &str,
        role: Role,
        party_id: u64,
    ) -> Result<Vec<OutputDataRecord>> {
        let rows = self
            .component_rows(
                "tracking_output_data_info",
                "task_version DESC, create_time",
                job_id,
                component,
                role,
                party_id,
            )
            .await?;
        rows.iter().map(output_data_from_row).collect()
    }

    async fn put_summary(&self, o: &TaskOwner, summary: &Value, now: i64) -> Result<()> {
        let sql = concat!(
            "INSERT OR REPLACE INTO component_summary (",
            owner_columns!(),
            ", summary, create_time) VALUES (?,?,?,?,?,?,?,?)"
        );
        bind_owner(sqlx::query(sql), o)
            .bind(json_text(summary))
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn get_summary(
        &self,
        job_id: &str,
        component: &str,
        role: Role,
        party_id: u64,
    ) -> Result<Option<Value>> {
        const T: &str = "component_summary";
        let rows = self
            .component_rows(
                T,
                "task_version DESC LIMIT 1",
                job_id,
                component,
                role,
                party_id,
            )
            .await?;
        rows.first()
            .map(|r| parse_json(T, r.try_get("summary")?))
            .transpose()
    }

    async fn put_component_model(&self, m: &ComponentModelRecord) -> Result<()> {
        let sql = concat!(
            "INSERT OR REPLACE INTO component_model (",
            owner_columns!(),
            ", model_alias, module, model, create_time) VALUES (?,?,?,?,?,?,?,?,?,?)"
        );
        bind_owner(sqlx::query(sql), &m.owner)
            .bind(&m.model_alias)
            .bind(&m.module)
            .bind(json_text(&m.model))
            .bind(m.create_time)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn query_component_models(
        &self,
        job_id: &str,
        component: &str,
        role: Role,
        party_id: u64,
    ) -> Result<Vec<ComponentModelRecord>> {
        let rows = self
            .component_rows(
                "component_model",
                "task_version DESC",
                job_id,
                component,
                role,
                party_id,
            )
            .await?;
        rows.iter().map(model_from_row).collect()
    }

    async fn list_component_models(&self, limit: u64) -> Result<Vec<ComponentModelRecord>> {
        let rows = sqlx::query("SELECT * FROM component_model ORDER BY create_time DESC LIMIT ?")
            .bind(i64::try_from(limit.max(1)).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(model_from_row).collect()
    }

    async fn clean_task_tracking(&self, o: &TaskOwner) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for table in [
            "tracking_metric",
            "tracking_output_data_info",
            "component_summary",
            "component_model",
        ] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE job_id = ? AND task_id = ? AND task_version = ? AND role = ? AND party_id = ?"
            ))
            .bind(&o.job_id)
            .bind(&o.task_id)
            .bind(o.task_version)
            .bind(o.role.as_str())
            .bind(pid_i64(o.party_id))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_model(
        &self,
        m: &ModelInfoRecord,
        components: &[PipelineComponentRecord],
        replace: bool,
    ) -> Result<()> {
        let key = m.key();
        let mut tx = self.pool.begin().await?;
        if replace {
            for table in ["model_info", "pipeline_component"] {
                bind_model_key(
                    sqlx::query(&format!("DELETE FROM {table} WHERE {MODEL_KEY_WHERE}")),
                    &key,
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query(
            "INSERT INTO model_info (model_id, model_version, role, party_id, job_id, roles, initiator_role, \
             initiator_party_id, train_dsl, train_runtime_conf, runtime_conf_on_party, inference_dsl, fate_version, \
             parent, parent_info, loaded_times, imported, size, description, archive_sha256, archive_from_ip, \
             create_time, update_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        )
        .bind(&m.model_id)
        .bind(&m.model_version)
        .bind(m.role.as_str())
        .bind(pid_i64(m.party_id))
        .bind(&m.job_id)
        .bind(json_text(&m.roles))
        .bind(m.initiator_role.as_str())
        .bind(pid_i64(m.initiator_party_id))
        .bind(json_text(&m.train_dsl))
        .bind(json_text(&m.train_runtime_conf))
        .bind(json_text(&m.runtime_conf_on_party))
        .bind(json_text(&m.inference_dsl))
        .bind(&m.fate_version)
        .bind(m.parent)
        .bind(json_text(&m.parent_info))
        .bind(m.loaded_times)
        .bind(m.imported)
        .bind(m.size)
        .bind(&m.description)
        .bind(&m.archive_sha256)
        .bind(&m.archive_from_ip)
        .bind(m.create_time)
        .bind(m.update_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_unique(e, || key.to_string()))?;
        for c in components {
            sqlx::query(
                "INSERT INTO pipeline_component (model_id, model_version, role, party_id, component_name, \
                 model_alias, component_module, model, create_time) VALUES (?,?,?,?,?,?,?,?,?)",
            )
            .bind(&m.model_id)
            .bind(&m.model_version)
            .bind(m.role.as_str())
            .bind(pid_i64(m.party_id))
            .bind(&c.component_name)
            .bind(&c.model_alias)
            .bind(&c.module)
            .bind(json_text(&c.model))
            .bind(c.create_time)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                map_unique(e, || {
                    format!("component {} model {} of {key}", c.component_name, c.model_alias)
                })
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_model(&self, key: &ModelKey) -> Result<Option<ModelInfoRecord>> {
        let row = bind_model_key(
            sqlx::query(&format!("SELECT * FROM model_info WHERE {MODEL_KEY_WHERE}")),
            key,
        )
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(model_info_from_row).transpose()
    }

    async fn query_models(&self, f: &ModelFilter) -> Result<Vec<ModelInfoRecord>> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT * FROM model_info WHERE 1=1");
        for (col, v) in [
            ("model_id", &f.model_id),
            ("model_version", &f.model_version),
            ("job_id", &f.job_id),
        ] {
            if let Some(v) = v {
                qb.push(format!(" AND {col} = ")).push_bind(v.clone());
            }
        }
        for (col, v) in [("role", f.role), ("initiator_role", f.initiator_role)] {
            if let Some(v) = v {
                qb.push(format!(" AND {col} = ")).push_bind(v.as_str());
            }
        }
        for (col, v) in [
            ("party_id", f.party_id),
            ("initiator_party_id", f.initiator_party_id),
        ] {
            if let Some(v) = v {
                qb.push(format!(" AND {col} = ")).push_bind(pid_i64(v));
            }
        }
        for (col, v) in [("parent", f.parent), ("imported", f.imported)] {
            if let Some(v) = v {
                qb.push(format!(" AND {col} = ")).push_bind(v);
            }
        }
        qb.push(" ORDER BY create_time DESC, model_version DESC, role, party_id");
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(model_info_from_row).collect()
    }

    async fn model_components(&self, key: &ModelKey) -> Result<Vec<PipelineComponentRecord>> {
        let rows = bind_model_key(
            sqlx::query(&format!(
                "SELECT * FROM pipeline_component WHERE {MODEL_KEY_WHERE} ORDER BY component_name, model_alias"
            )),
            key,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pipeline_component_from_row).collect()
    }

    async fn count_model_load(&self, key: &ModelKey, now: i64) -> Result<bool> {
        let done = sqlx::query(&format!(
            "UPDATE model_info SET loaded_times = loaded_times + 1, update_time = ? WHERE {MODEL_KEY_WHERE}"
        ))
        .bind(now)
        .bind(&key.model_id)
        .bind(&key.model_version)
        .bind(key.role.as_str())
        .bind(pid_i64(key.party_id))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn register_engine(&self, engine: &str, cores: i64, memory: i64, now: i64) -> Result<()> {
        // Keep what running jobs hold: remaining = new capacity - (old capacity - old remaining).
        sqlx::query(
            "INSERT INTO engine_registry (engine_name, cores, memory, remaining_cores, remaining_memory, nodes, update_time) \
             VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT(engine_name) DO UPDATE SET \
             remaining_cores = excluded.cores - (engine_registry.cores - engine_registry.remaining_cores), \
             remaining_memory = excluded.memory - (engine_registry.memory - engine_registry.remaining_memory), \
             cores = excluded.cores, memory = excluded.memory, update_time = excluded.update_time",
        )
        .bind(engine)
        .bind(cores)
        .bind(memory)
        .bind(cores)
        .bind(memory)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_engine(&self, engine: &str) -> Result<Option<EngineRecord>> {
        let row = sqlx::query("SELECT * FROM engine_registry WHERE engine_name = ?")
            .bind(engine)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(EngineRecord {
                engine_name: r.try_get("engine_name")?,
                cores: r.try_get("cores")?,
                memory: r.try_get("memory")?,
                remaining_cores: r.try_get("remaining_cores")?,
                remaining_memory: r.try_get("remaining_memory")?,
                nodes: r.try_get("nodes")?,
            })
        })
        .transpose()
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_job_resource(
        &self,
        engine: &str,
        job_id: &str,
        role: Role,
        party_id: u64,
        cores: i64,
        memory: i64,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let job = sqlx::query(
            "UPDATE job SET resource_in_use = 1, cores = ?, memory = ?, remaining_cores = ?, remaining_memory = ?, \
             apply_resource_time = ? WHERE job_id = ? AND role = ? AND party_id = ? AND resource_in_use = 0",
        )
        .bind(cores)
        .bind(memory)
        .bind(cores)
        .bind(memory)
        .bind(now)
        .bind(job_id)
        .bind(role.as_str())
        .bind(pid_i64(party_id))
        .execute(&mut *tx)
        .await?;
        if job.rows_affected() != 1 {
            return Ok(false);
        }
        let eng = sqlx::query(
            "UPDATE engine_registry SET remaining_cores = remaining_cores - ?, remaining_memory = remaining_memory - ? \
             WHERE engine_name = ? AND remaining_cores >= ? AND remaining_memory >= ?",
        )
        .bind(cores)
        .bind(memory)
        .bind(engine)
        .bind(cores)
        .bind(memory)
        .execute(&mut *tx)
        .await?;
        if eng.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn return_job_resource(
        &self,
        engine: &str,
        job_id: &str,
        role: Role,
        party_id: u64,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let held: Option<(i64, i64)> = sqlx::query_as(
            "SELECT cores, memory FROM job WHERE job_id = ? AND role = ? AND party_id = ? AND resource_in_use = 1",
        )
        .bind(job_id)
        .bind(role.as_str())
        .bind(pid_i64(party_id))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((cores, memory)) = held else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE job SET resource_in_use = 0, return_resource_time = ? WHERE job_id = ? AND role = ? \
             AND party_id = ? AND resource_in_use = 1",
        )
        .bind(now)
        .bind(job_id)
        .bind(role.as_str())
        .bind(pid_i64(party_id))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE engine_registry SET remaining_cores = MIN(cores, remaining_cores + ?), \
             remaining_memory = MIN(memory, remaining_memory + ?) WHERE engine_name = ?",
        )
        .bind(cores)
        .bind(memory)
        .bind(engine)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn apply_task_resource(
        &self,
        job_id: &str,
        role: Role,
        party_id: u64,
        cores: i64,
        memory: i64,
    ) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE job SET remaining_cores = remaining_cores - ?, remaining_memory = remaining_memory - ? \
             WHERE job_id = ? AND role = ? AND party_id = ? AND resource_in_use = 1 \
             AND remaining_cores >= ? AND remaining_memory >= ?",
        )
        .bind(cores)
        .bind(memory)
        .bind(job_id)
        .bind(role.as_str())
        .bind(pid_i64(party_id))
        .bind(cores)
        .bind(memory)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn return_task_resource(
        &self,
        job_id: &str,
        role: Role,
        party_id: u64,
        cores: i64,
        memory: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE job SET remaining_cores = MIN(cores, remaining_cores + ?), \
             remaining_memory = MIN(memory, remaining_memory + ?) \
             WHERE job_id = ? AND role = ? AND party_id = ? AND resource_in_use = 1",
        )
        .bind(cores)
        .bind(memory)
        .bind(job_id)
        .bind(role.as_str())
        .bind(pid_i64(party_id))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn job_output_data(&self, job_id: &str) -> Result<Vec<OutputDataRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM tracking_output_data_info WHERE job_id = ? \
             ORDER BY component_name, role, party_id, task_version",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(output_data_from_row).collect()
    }

    async fn delete_job_records(&self, job_id: &str) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for table in [
            "tracking_metric",
            "tracking_output_data_info",
            "component_summary",
            "component_model",
            "task",
            "job",
        ] {
            n += sqlx::query(&format!("DELETE FROM {table} WHERE job_id = ?"))
                .bind(job_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn grant_permissions(&self, src: u64, grants: &[Grant], now: i64) -> Result<u64> {
        self.grant_rows(src, grants, now).await
    }

    async fn revoke_permissions(&self, src: u64, grants: &[Grant]) -> Result<u64> {
        self.revoke_rows(src, grants).await
    }

    async fn query_permissions(&self, src: Option<u64>) -> Result<Vec<GrantRecord>> {
        self.grant_list(src).await
    }

    async fn append_audit(&self, entry: &AuditDraft) -> Result<AuditRecord> {
        self.audit_append(entry).await
    }

    async fn query_audit(&self, filter: &AuditFilter) -> Result<(Vec<AuditRecord>, u64)> {
        self.audit_query(filter).await
    }

    async fn verify_audit(&self) -> Result<ChainCheck> {
        self.audit_verify().await
    }
}

async fn update_task_status_column(
    pool: &SqlitePool,
    store: &SqliteStore,
    k: &TaskKey,
    to: Status,
    now: i64,
    column: &'static str,
) -> Result<bool> {
    let Some(task) = store.get_task(k).await? else {
        return Ok(false);
    };
    let from = if column == "status" {
        task.status
    } else {
        task.party_status
    };
    if from == to || !task_transition_allowed(from, to) {
        return Ok(false);
    }
    let res = sqlx::query(&format!(
        "UPDATE task SET {column} = ?, update_time = ? WHERE job_id = ? AND task_id = ? AND task_version = ? \
         AND role = ? AND party_id = ? AND {column} = ?"
    ))
    .bind(to.as_str())
    .bind(now)
    .bind(&k.job_id)
    .bind(&k.task_id)
    .bind(k.task_version)
    .bind(k.role.as_str())
    .bind(pid_i64(k.party_id))
    .bind(from.as_str())
    .execute(pool)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// `, column = value` for every column `u` sets.
fn push_job_columns(qb: &mut QueryBuilder<'_, Sqlite>, u: &JobUpdate) {
    macro_rules! set {
        ($field:ident) => {
            if let Some(v) = &u.$field {
                qb.push(concat!(", ", stringify!($field), " = "))
                    .push_bind(v.clone());
            }
        };
    }
    set!(progress);
    set!(tag);
    set!(description);
    set!(ready_signal);
    set!(ready_time);
    set!(cancel_signal);
    set!(cancel_time);
    set!(rerun_signal);
    set!(error_report);
    set!(start_time);
    set!(end_time);
    set!(elapsed);
    set!(model_id);
    set!(model_version);
    if let Some(v) = &u.train_runtime_conf {
        qb.push(", train_runtime_conf = ").push_bind(json_text(v));
    }
    if u.clear_end {
        qb.push(", end_time = NULL, elapsed = NULL, error_report = NULL");
    }
}
