//! The SQL implementation of [`MetadataStore`]: one code for SQLite, PostgreSQL and
//! MySQL/MariaDB through sqlx's `Any` driver. [`Backend`] holds what differs between
//! them (placeholders, upserts, a few functions); each backend has its own migrations
//! folder with the same schema.

use crate::audit::*;
use crate::records::*;
use crate::{DatabaseUrl, Error, MetadataStore, Result};
use async_trait::async_trait;
use fateflow_domain::status::{job_transition_allowed_with_signal, task_transition_allowed};
use fateflow_domain::{ErrorKind, Role, Status};
use serde_json::Value;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::path::Path;
use std::time::Duration;

mod audit_rows;
mod cluster;
mod query;

pub use cluster::{MAX_SLOTS, SCHEDULER_LEASE};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub use query::Backend;
use query::{insert, Cols, Sql};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/mysql");

/// Connections a server keeps to PostgreSQL or MySQL.
const SERVER_POOL: u32 = 10;
/// How long connecting (or waiting for a pooled connection) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Every SQLite connection: WAL, so readers never block the writer.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                              PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;";

/// The metadata store on SQLite, PostgreSQL or MySQL/MariaDB.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// The scheduler lease epoch job and task changes must still match (0: none).
    fence: Arc<AtomicI64>,
}

impl SqlStore {
    /// Connects to the database at `url` and applies pending migrations. A SQLite
    /// file is created when missing; a server's database must exist.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self> {
        let Some(server) = url.server_url() else {
            let path = url.sqlite_path().unwrap_or(Path::new(""));
            return Self::open(path).await;
        };
        sqlx::any::install_default_drivers();
        let unreachable = |source| Error::Connect {
            url: url.to_string(),
            source,
        };
        let opts: AnyConnectOptions = server.parse().map_err(unreachable)?;
        let pool = AnyPoolOptions::new()
            .max_connections(SERVER_POOL)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(opts)
            .await
            .map_err(unreachable)?;
        Self::migrated(pool, url.backend()).await
    }

    /// Opens (creating if needed) a SQLite file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let url = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .to_url_lossy();
        Self::sqlite(AnyConnectOptions::from_url(&url)?, 4).await
    }

    /// A private in-memory SQLite database, for tests.
    pub async fn memory() -> Result<Self> {
        // One connection, kept: every connection to :memory: is a different database.
        Self::sqlite("sqlite::memory:".parse()?, 1).await
    }

    async fn sqlite(opts: AnyConnectOptions, connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .idle_timeout(None)
            .max_lifetime(None)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        Self::migrated(pool, Backend::Sqlite).await
    }

    async fn migrated(pool: AnyPool, backend: Backend) -> Result<Self> {
        let migrations = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
            Backend::MySql => &MYSQL_MIGRATIONS,
        };
        migrations.run(&pool).await?;
        Ok(Self {
            pool,
            backend,
            fence: Arc::default(),
        })
    }

    /// The database behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
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

    /// A statement on this store's backend.
    fn sql<'a>(&self, text: &str) -> Sql<'a> {
        Sql::new(self.backend, text)
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

fn map_unique(e: Error, what: impl FnOnce() -> String) -> Error {
    if let Error::Database(sqlx::Error::Database(db)) = &e {
        if db.is_unique_violation() {
            return Error::AlreadyExists(what());
        }
    }
    e
}

fn job_from_row(r: &AnyRow) -> Result<JobRecord> {
    const T: &str = "job";
    Ok(JobRecord {
        job_id: r.text("job_id")?,
        role: parse_role(T, &r.text("role")?)?,
        party_id: pid(r.int("party_id")?),
        is_initiator: r.flag("is_initiator")?,
        initiator_role: parse_role(T, &r.text("initiator_role")?)?,
        initiator_party_id: pid(r.int("initiator_party_id")?),
        user_id: r.text("user_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        tag: r.text("tag")?,
        dsl: parse_json(T, &r.text("dsl")?)?,
        runtime_conf: parse_json(T, &r.text("runtime_conf")?)?,
        runtime_conf_on_party: parse_json(T, &r.text("runtime_conf_on_party")?)?,
        train_runtime_conf: parse_json(T, &r.text("train_runtime_conf")?)?,
        roles: parse_json(T, &r.text("roles")?)?,
        status: parse_status(T, &r.text("status")?)?,
        status_code: r.opt_int("status_code")?,
        progress: r.int("progress")?,
        ready_signal: r.flag("ready_signal")?,
        ready_time: r.opt_int("ready_time")?,
        cancel_signal: r.flag("cancel_signal")?,
        cancel_time: r.opt_int("cancel_time")?,
        rerun_signal: r.flag("rerun_signal")?,
        cores: r.int("cores")?,
        memory: r.int("memory")?,
        remaining_cores: r.int("remaining_cores")?,
        remaining_memory: r.int("remaining_memory")?,
        resource_in_use: r.flag("resource_in_use")?,
        apply_resource_time: r.opt_int("apply_resource_time")?,
        return_resource_time: r.opt_int("return_resource_time")?,
        model_id: r.text("model_id")?,
        model_version: r.text("model_version")?,
        error_report: r.opt_text("error_report")?,
        create_time: r.int("create_time")?,
        update_time: r.int("update_time")?,
        start_time: r.opt_int("start_time")?,
        end_time: r.opt_int("end_time")?,
        elapsed: r.opt_int("elapsed")?,
        version: r.int("version")?,
    })
}

fn task_from_row(r: &AnyRow) -> Result<TaskRecord> {
    const T: &str = "task";
    Ok(TaskRecord {
        job_id: r.text("job_id")?,
        task_id: r.text("task_id")?,
        task_version: r.int("task_version")?,
        role: parse_role(T, &r.text("role")?)?,
        party_id: pid(r.int("party_id")?),
        component_name: r.text("component_name")?,
        component_module: r.text("component_module")?,
        initiator_role: parse_role(T, &r.text("initiator_role")?)?,
        initiator_party_id: pid(r.int("initiator_party_id")?),
        federated_mode: r.text("federated_mode")?,
        federated_status_collect_type: r.text("federated_status_collect_type")?,
        status: parse_status(T, &r.text("status")?)?,
        party_status: parse_status(T, &r.text("party_status")?)?,
        status_code: r.opt_int("status_code")?,
        auto_retries: r.int("auto_retries")?,
        auto_retry_delay: r.int("auto_retry_delay")?,
        run_on_this_party: r.flag("run_on_this_party")?,
        worker_id: r.opt_text("worker_id")?,
        cmd: r.opt_text("cmd")?,
        run_ip: r.opt_text("run_ip")?,
        run_port: r.opt_int("run_port")?,
        run_pid: r.opt_int("run_pid")?,
        provider_info: parse_json(T, &r.text("provider_info")?)?,
        component_parameters: parse_json(T, &r.text("component_parameters")?)?,
        engine_conf: parse_json(T, &r.text("engine_conf")?)?,
        kill_status: r.flag("kill_status")?,
        error_report: r.opt_text("error_report")?,
        error_kind: r.opt_text("error_kind")?.map(|k| ErrorKind::from_name(&k)),
        heartbeat_time: r.opt_int("heartbeat_time")?,
        create_time: r.int("create_time")?,
        update_time: r.int("update_time")?,
        start_time: r.opt_int("start_time")?,
        end_time: r.opt_int("end_time")?,
        elapsed: r.opt_int("elapsed")?,
        version: r.int("version")?,
    })
}

fn table_from_row(r: &AnyRow) -> Result<TableMetaRecord> {
    const T: &str = "storage_table_meta";
    Ok(TableMetaRecord {
        namespace: r.text("namespace")?,
        name: r.text("name")?,
        address: parse_json(T, &r.text("address")?)?,
        engine: r.text("engine")?,
        store_type: r.text("store_type")?,
        partitions: r.int("partitions")?,
        id_delimiter: r.text("id_delimiter")?,
        have_head: r.flag("have_head")?,
        extend_sid: r.flag("extend_sid")?,
        schema: parse_json(T, &r.text("schema_json")?)?,
        count: r.int("count")?,
        part_of_data: parse_json(T, &r.text("part_of_data")?)?,
        origin: r.text("origin")?,
        disable: r.flag("disable")?,
        description: r.text("description")?,
        create_time: r.int("create_time")?,
        update_time: r.int("update_time")?,
    })
}

fn model_from_row(r: &AnyRow) -> Result<ComponentModelRecord> {
    const T: &str = "component_model";
    Ok(ComponentModelRecord {
        owner: owner_from_row(T, r)?,
        model_alias: r.text("model_alias")?,
        module: r.text("module")?,
        model: parse_json(T, &r.text("model")?)?,
        create_time: r.int("create_time")?,
    })
}

fn model_info_from_row(r: &AnyRow) -> Result<ModelInfoRecord> {
    const T: &str = "model_info";
    Ok(ModelInfoRecord {
        model_id: r.text("model_id")?,
        model_version: r.text("model_version")?,
        role: parse_role(T, &r.text("role")?)?,
        party_id: pid(r.int("party_id")?),
        job_id: r.text("job_id")?,
        roles: parse_json(T, &r.text("roles")?)?,
        initiator_role: parse_role(T, &r.text("initiator_role")?)?,
        initiator_party_id: pid(r.int("initiator_party_id")?),
        train_dsl: parse_json(T, &r.text("train_dsl")?)?,
        train_runtime_conf: parse_json(T, &r.text("train_runtime_conf")?)?,
        runtime_conf_on_party: parse_json(T, &r.text("runtime_conf_on_party")?)?,
        inference_dsl: parse_json(T, &r.text("inference_dsl")?)?,
        fate_version: r.text("fate_version")?,
        parent: r.flag("parent")?,
        parent_info: parse_json(T, &r.text("parent_info")?)?,
        loaded_times: r.int("loaded_times")?,
        imported: r.flag("imported")?,
        size: r.int("size")?,
        description: r.text("description")?,
        archive_sha256: r.opt_text("archive_sha256")?,
        archive_from_ip: r.opt_text("archive_from_ip")?,
        create_time: r.int("create_time")?,
        update_time: r.int("update_time")?,
    })
}

fn pipeline_component_from_row(r: &AnyRow) -> Result<PipelineComponentRecord> {
    const T: &str = "pipeline_component";
    Ok(PipelineComponentRecord {
        component_name: r.text("component_name")?,
        model_alias: r.text("model_alias")?,
        module: r.text("component_module")?,
        model: parse_json(T, &r.text("model")?)?,
        create_time: r.int("create_time")?,
    })
}

const MODEL_KEY_WHERE: &str = "model_id = ? AND model_version = ? AND role = ? AND party_id = ?";

fn bind_model_key<'a>(q: Sql<'a>, k: &'a ModelKey) -> Sql<'a> {
    q.bind(&k.model_id)
        .bind(&k.model_version)
        .bind(k.role.as_str())
        .bind(pid_i64(k.party_id))
}

fn output_data_from_row(r: &AnyRow) -> Result<OutputDataRecord> {
    Ok(OutputDataRecord {
        owner: owner_from_row("tracking_output_data_info", r)?,
        data_name: r.text("data_name")?,
        table_namespace: r.text("table_namespace")?,
        table_name: r.text("table_name")?,
        description: r.text("description")?,
        create_time: r.int("create_time")?,
    })
}

fn metric_from_row(r: &AnyRow) -> Result<MetricRecord> {
    const T: &str = "tracking_metric";
    Ok(MetricRecord {
        owner: owner_from_row(T, r)?,
        metric_namespace: r.text("metric_namespace")?,
        metric_name: r.text("metric_name")?,
        data: parse_json(T, &r.text("data")?)?,
        meta: parse_json(T, &r.text("meta")?)?,
        create_time: r.int("create_time")?,
    })
}

/// The owner of a tracking row (metric, output data info, summary, component model).
fn owner_from_row(table: &'static str, r: &AnyRow) -> Result<TaskOwner> {
    Ok(TaskOwner {
        job_id: r.text("job_id")?,
        component_name: r.text("component_name")?,
        task_id: r.text("task_id")?,
        task_version: r.int("task_version")?,
        role: parse_role(table, &r.text("role")?)?,
        party_id: pid(r.int("party_id")?),
    })
}

/// The owner columns of a tracking row, in the order [`bind_owner`] binds them.
const OWNER_COLUMNS: [&str; 6] = [
    "job_id",
    "component_name",
    "task_id",
    "task_version",
    "role",
    "party_id",
];

/// The owner columns and then `rest`.
fn owned_columns<'c>(rest: &[&'c str]) -> Vec<&'c str> {
    OWNER_COLUMNS.iter().chain(rest).copied().collect()
}

/// Binds a tracking row's owner to the next six placeholders ([`OWNER_COLUMNS`]).
fn bind_owner<'a>(q: Sql<'a>, o: &'a TaskOwner) -> Sql<'a> {
    q.bind(&o.job_id)
        .bind(&o.component_name)
        .bind(&o.task_id)
        .bind(o.task_version)
        .bind(o.role.as_str())
        .bind(pid_i64(o.party_id))
}

/// ` WHERE` the key of one job row.
fn push_job_key<'a>(q: &mut Sql<'a>, job_id: &'a str, role: Role, party_id: u64) {
    q.push(" WHERE job_id = ")
        .push_bind(job_id)
        .push(" AND role = ")
        .push_bind(role.as_str())
        .push(" AND party_id = ")
        .push_bind(pid_i64(party_id));
}

/// ` WHERE` the key of one task row.
fn push_task_key<'a>(q: &mut Sql<'a>, k: &'a TaskKey) {
    q.push(" WHERE job_id = ")
        .push_bind(&k.job_id)
        .push(" AND task_id = ")
        .push_bind(&k.task_id)
        .push(" AND task_version = ")
        .push_bind(k.task_version)
        .push(" AND role = ")
        .push_bind(k.role.as_str())
        .push(" AND party_id = ")
        .push_bind(pid_i64(k.party_id));
}

/// The statuses `allowed` lets a row leave for `to`.
fn statuses_to(to: Status, allowed: impl Fn(Status) -> bool) -> Vec<&'static str> {
    Status::ALL
        .into_iter()
        .filter(|&from| from != to && allowed(from))
        .map(Status::as_str)
        .collect()
}

/// ` AND` the job rules let the row move to `to`, read in the statement itself, so a
/// status change is one compare-and-set.
fn push_job_rule(q: &mut Sql<'_>, to: Status) {
    let free = statuses_to(to, |from| {
        job_transition_allowed_with_signal(from, to, false)
    });
    let guarded = statuses_to(to, |from| {
        job_transition_allowed_with_signal(from, to, true)
    });
    q.push(" AND ((rerun_signal = 0 AND");
    q.push_in("status", &free);
    q.push(") OR (rerun_signal <> 0 AND");
    q.push_in("status", &guarded);
    q.push("))");
}

impl SqlStore {
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
    ) -> Result<Vec<AnyRow>> {
        self.sql(&format!(
            "SELECT * FROM {table} WHERE job_id = ? AND component_name = ? AND role = ? \
             AND party_id = ? ORDER BY {order}"
        ))
        .bind(job_id)
        .bind(component)
        .bind(role.as_str())
        .bind(pid_i64(party_id))
        .fetch_all(&self.pool)
        .await
    }

    /// Moves a job row to `to` under the rules, setting `u`'s columns too.
    async fn set_job_status(
        &self,
        job_id: &str,
        role: Role,
        party_id: u64,
        to: Status,
        u: Option<&JobUpdate>,
        now: i64,
    ) -> Result<bool> {
        let mut q = self.sql("UPDATE job SET status = ?, update_time = ?, version = version + 1");
        q = q.bind(to.as_str()).bind(now);
        if let Some(u) = u {
            push_job_columns(&mut q, u);
        }
        push_job_key(&mut q, job_id, role, party_id);
        push_job_rule(&mut q, to);
        self.push_fence(&mut q);
        Ok(q.execute(&self.pool).await? == 1)
    }

    /// Moves a task's `status` or `party_status` column to `to` under the task rules.
    async fn set_task_status(
        &self,
        k: &TaskKey,
        to: Status,
        now: i64,
        column: &'static str,
    ) -> Result<bool> {
        let from = statuses_to(to, |from| task_transition_allowed(from, to));
        let mut q = self.sql(&format!(
            "UPDATE task SET {column} = ?, update_time = ?, version = version + 1"
        ));
        q = q.bind(to.as_str()).bind(now);
        push_task_key(&mut q, k);
        q.push(" AND");
        q.push_in(column, &from);
        self.push_fence(&mut q);
        Ok(q.execute(&self.pool).await? == 1)
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

fn push_order(q: &mut Sql<'_>, order: &Option<(String, bool)>, allowed: &[&str], default: &str) {
    match order {
        Some((col, asc)) if allowed.contains(&col.as_str()) => {
            q.push(&format!(
                " ORDER BY {col} {}",
                if *asc { "ASC" } else { "DESC" }
            ));
        }
        _ => {
            q.push(&format!(" ORDER BY {default}"));
        }
    }
}

fn push_paging(q: &mut Sql<'_>, limit: u64, page: u64) {
    if limit > 0 {
        let offset = page.saturating_sub(1) * limit;
        q.push(&format!(" LIMIT {limit} OFFSET {offset}"));
    }
}

fn push_job_where<'a>(q: &mut Sql<'a>, f: &'a JobFilter) {
    q.push(" WHERE 1=1");
    if let Some(v) = &f.job_id {
        q.push(" AND job_id = ").push_bind(v);
    }
    if let Some(v) = f.role {
        q.push(" AND role = ").push_bind(v.as_str());
    }
    if let Some(v) = f.party_id {
        q.push(" AND party_id = ").push_bind(pid_i64(v));
    }
    if !f.statuses.is_empty() {
        let list: Vec<&str> = f.statuses.iter().map(|s| s.as_str()).collect();
        q.push(" AND");
        q.push_in("status", &list);
    }
    if let Some(v) = f.is_initiator {
        q.push(" AND is_initiator = ").push_bind(v);
    }
    // Case-insensitive on every backend, as SQLite's LIKE is.
    if let Some(v) = &f.job_id_like {
        q.push(" AND LOWER(job_id) LIKE ")
            .push_bind(format!("%{}%", v.to_lowercase()));
    }
    if let Some(v) = &f.description_like {
        q.push(" AND LOWER(description) LIKE ")
            .push_bind(format!("%{}%", v.to_lowercase()));
    }
    if let Some(v) = &f.exclude_tag {
        q.push(" AND tag <> ").push_bind(v);
    }
}

fn push_task_where<'a>(q: &mut Sql<'a>, f: &'a TaskFilter) {
    q.push(" WHERE 1=1");
    if let Some(v) = &f.job_id {
        q.push(" AND t.job_id = ").push_bind(v);
    }
    if let Some(v) = &f.task_id {
        q.push(" AND t.task_id = ").push_bind(v);
    }
    if let Some(v) = f.task_version {
        q.push(" AND t.task_version = ").push_bind(v);
    }
    if let Some(v) = f.role {
        q.push(" AND t.role = ").push_bind(v.as_str());
    }
    if let Some(v) = f.party_id {
        q.push(" AND t.party_id = ").push_bind(pid_i64(v));
    }
    if let Some(v) = &f.component_name {
        q.push(" AND t.component_name = ").push_bind(v);
    }
    for (col, list) in [
        ("t.status", &f.statuses),
        ("t.party_status", &f.party_statuses),
    ] {
        if !list.is_empty() {
            let list: Vec<&str> = list.iter().map(|s| s.as_str()).collect();
            q.push(" AND");
            q.push_in(col, &list);
        }
    }
    if let Some(v) = f.run_on_this_party {
        q.push(" AND t.run_on_this_party = ").push_bind(v);
    }
    if f.latest_only {
        q.push(
            " AND t.task_version = (SELECT MAX(t2.task_version) FROM task t2 WHERE t2.job_id = t.job_id \
             AND t2.task_id = t.task_id AND t2.role = t.role AND t2.party_id = t.party_id)",
        );
    }
}

/// `, column = value` for every column `u` sets.
fn push_job_columns<'a>(q: &mut Sql<'a>, u: &'a JobUpdate) {
    macro_rules! set {
        ($field:ident) => {
            if let Some(v) = &u.$field {
                q.push(concat!(", ", stringify!($field), " = "))
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
        q.push(", train_runtime_conf = ").push_bind(json_text(v));
    }
    if u.clear_end {
        q.push(", end_time = NULL, elapsed = NULL, error_report = NULL");
    }
}
#[async_trait]
impl MetadataStore for SqlStore {
    async fn acquire_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<Option<i64>> {
        self.do_acquire_lease(name, holder, ttl_ms).await
    }

    async fn renew_lease(&self, name: &str, holder: &str, epoch: i64, ttl_ms: i64) -> Result<bool> {
        self.do_renew_lease(name, holder, epoch, ttl_ms).await
    }

    async fn release_lease(&self, name: &str, holder: &str, epoch: i64) -> Result<()> {
        self.do_release_lease(name, holder, epoch).await
    }

    async fn lease_state(&self, name: &str) -> Result<Option<LeaseState>> {
        self.do_lease_state(name).await
    }

    fn set_fence(&self, epoch: i64) {
        self.fence.store(epoch, Ordering::Release);
    }

    async fn register_instance(&self, instance: &InstanceRecord) -> Result<i64> {
        self.do_register_instance(instance).await
    }

    async fn heartbeat_instance(&self, instance_id: &str) -> Result<bool> {
        self.do_heartbeat_instance(instance_id).await
    }

    async fn list_instances(&self) -> Result<(Vec<InstanceRecord>, i64)> {
        self.do_list_instances().await
    }

    async fn remove_instance(&self, instance_id: &str) -> Result<()> {
        self.do_remove_instance(instance_id).await
    }

    async fn insert_job(&self, j: &JobRecord) -> Result<()> {
        self.sql(
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
        let mut q = self.sql("SELECT * FROM job");
        push_job_key(&mut q, job_id, role, party_id);
        let row = q.fetch_optional(&self.pool).await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn query_jobs(&self, f: &JobFilter) -> Result<(Vec<JobRecord>, u64)> {
        let mut qb = self.sql("SELECT * FROM job");
        push_job_where(&mut qb, f);
        push_order(
            &mut qb,
            &f.order_by,
            JOB_ORDER_COLUMNS,
            "create_time DESC, job_id DESC",
        );
        push_paging(&mut qb, f.limit, f.page);
        let rows = qb.fetch_all(&self.pool).await?;
        let jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
        // Unpaged, the rows are the total: one round trip fewer.
        let total = if f.limit == 0 {
            jobs.len() as u64
        } else {
            let mut count_q = self.sql("SELECT COUNT(*) FROM job");
            push_job_where(&mut count_q, f);
            count_q.fetch_count(&self.pool).await?
        };
        Ok((jobs, total))
    }

    async fn update_job_status(
        &self,
        job_id: &str,
        role: Role,
        party_id: u64,
        to: Status,
        now: i64,
    ) -> Result<bool> {
        self.set_job_status(job_id, role, party_id, to, None, now)
            .await
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
        self.set_job_status(job_id, role, party_id, to, Some(u), now)
            .await
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
        // Same version: nothing (status, rerun signal, anything) changed since `seen`.
        let mut q = self.sql("UPDATE job SET status = ?, update_time = ?, version = version + 1");
        q = q.bind(to.as_str()).bind(now);
        push_job_columns(&mut q, u);
        push_job_key(&mut q, &seen.job_id, seen.role, seen.party_id);
        q.push(" AND version = ").push_bind(seen.version);
        self.push_fence(&mut q);
        Ok(q.execute(&self.pool).await? == 1)
    }

    async fn update_job(
        &self,
        job_id: &str,
        role: Role,
        party_id: u64,
        u: &JobUpdate,
        now: i64,
    ) -> Result<()> {
        let mut q = self.sql("UPDATE job SET update_time = ?, version = version + 1");
        q = q.bind(now);
        push_job_columns(&mut q, u);
        push_job_key(&mut q, job_id, role, party_id);
        self.push_fence(&mut q);
        q.execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_task(&self, t: &TaskRecord) -> Result<()> {
        self.sql(
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
        let mut q = self.sql("SELECT * FROM task");
        push_task_key(&mut q, k);
        let row = q.fetch_optional(&self.pool).await?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn task_party_status(&self, k: &TaskKey) -> Result<Option<Status>> {
        let mut q = self.sql("SELECT party_status FROM task");
        push_task_key(&mut q, k);
        let row = q.fetch_optional(&self.pool).await?;
        row.map(|r| parse_status("task", &r.text("party_status")?))
            .transpose()
    }

    async fn query_tasks(&self, f: &TaskFilter) -> Result<(Vec<TaskRecord>, u64)> {
        let mut qb = self.sql("SELECT t.* FROM task t");
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
        let rows = qb.fetch_all(&self.pool).await?;
        let tasks = rows.iter().map(task_from_row).collect::<Result<Vec<_>>>()?;
        let total = if f.limit == 0 {
            tasks.len() as u64
        } else {
            let mut count_q = self.sql("SELECT COUNT(*) FROM task t");
            push_task_where(&mut count_q, f);
            count_q.fetch_count(&self.pool).await?
        };
        Ok((tasks, total))
    }

    async fn update_task_status(&self, k: &TaskKey, to: Status, now: i64) -> Result<bool> {
        self.set_task_status(k, to, now, "status").await
    }

    async fn update_task_party_status(&self, k: &TaskKey, to: Status, now: i64) -> Result<bool> {
        self.set_task_status(k, to, now, "party_status").await
    }

    async fn update_task(&self, k: &TaskKey, u: &TaskUpdate, now: i64) -> Result<()> {
        let mut qb = self.sql("UPDATE task SET update_time = ?, version = version + 1");
        qb = qb.bind(now);
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
        push_task_key(&mut qb, k);
        self.push_fence(&mut qb);
        qb.execute(&self.pool).await?;
        Ok(())
    }

    async fn put_table_meta(&self, m: &TableMetaRecord) -> Result<()> {
        let sql = self.backend.insert_replace(
            "storage_table_meta",
            &[
                "namespace",
                "name",
                "address",
                "engine",
                "store_type",
                "partitions",
                "id_delimiter",
                "have_head",
                "extend_sid",
                "schema_json",
                "count",
                "part_of_data",
                "origin",
                "disable",
                "description",
                "create_time",
                "update_time",
            ],
            &["namespace", "name"],
        );
        self.sql(&sql)
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
        let row = self
            .sql("SELECT * FROM storage_table_meta WHERE namespace = ? AND name = ?")
            .bind(namespace)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(table_from_row).transpose()
    }

    async fn list_table_meta(&self, namespace: Option<&str>) -> Result<Vec<TableMetaRecord>> {
        let rows = match namespace {
            Some(ns) => self.sql(
                "SELECT * FROM storage_table_meta WHERE namespace = ? ORDER BY create_time DESC",
            )
            .bind(ns)
            .fetch_all(&self.pool)
            .await?,
            None => {
                self.sql("SELECT * FROM storage_table_meta ORDER BY create_time DESC")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(table_from_row).collect()
    }

    async fn delete_table_meta(&self, namespace: &str, name: &str) -> Result<bool> {
        let res = self
            .sql("DELETE FROM storage_table_meta WHERE namespace = ? AND name = ?")
            .bind(namespace)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(res > 0)
    }

    async fn insert_metric(&self, m: &MetricRecord) -> Result<()> {
        let sql = insert(
            "tracking_metric",
            &owned_columns(&[
                "metric_namespace",
                "metric_name",
                "data",
                "meta",
                "create_time",
            ]),
        );
        bind_owner(self.sql(&sql), &m.owner)
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
        let sql = self.backend.insert_replace(
            "tracking_output_data_info",
            &owned_columns(&[
                "data_name",
                "table_namespace",
                "table_name",
                "description",
                "create_time",
            ]),
            &[
                "job_id",
                "task_id",
                "task_version",
                "data_name",
                "role",
                "party_id",
            ],
        );
        bind_owner(self.sql(&sql), &d.owner)
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
        let sql = self.backend.insert_replace(
            "component_summary",
            &owned_columns(&["summary", "create_time"]),
            &["job_id", "task_id", "task_version", "role", "party_id"],
        );
        bind_owner(self.sql(&sql), o)
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
            .map(|r| parse_json(T, &r.text("summary")?))
            .transpose()
    }

    async fn put_component_model(&self, m: &ComponentModelRecord) -> Result<()> {
        let sql = self.backend.insert_replace(
            "component_model",
            &owned_columns(&["model_alias", "module", "model", "create_time"]),
            &[
                "job_id",
                "task_id",
                "task_version",
                "role",
                "party_id",
                "model_alias",
            ],
        );
        bind_owner(self.sql(&sql), &m.owner)
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
        let rows = self
            .sql("SELECT * FROM component_model ORDER BY create_time DESC LIMIT ?")
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
            self.sql(&format!(
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
                    self.sql(&format!("DELETE FROM {table} WHERE {MODEL_KEY_WHERE}")),
                    &key,
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        self.sql(
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
            self.sql(
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
            self.sql(&format!("SELECT * FROM model_info WHERE {MODEL_KEY_WHERE}")),
            key,
        )
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(model_info_from_row).transpose()
    }

    async fn query_models(&self, f: &ModelFilter) -> Result<Vec<ModelInfoRecord>> {
        let mut qb = self.sql("SELECT * FROM model_info WHERE 1=1");
        for (col, v) in [
            ("model_id", &f.model_id),
            ("model_version", &f.model_version),
            ("job_id", &f.job_id),
        ] {
            if let Some(v) = v {
                qb.push(&format!(" AND {col} = ")).push_bind(v);
            }
        }
        for (col, v) in [("role", f.role), ("initiator_role", f.initiator_role)] {
            if let Some(v) = v {
                qb.push(&format!(" AND {col} = ")).push_bind(v.as_str());
            }
        }
        for (col, v) in [
            ("party_id", f.party_id),
            ("initiator_party_id", f.initiator_party_id),
        ] {
            if let Some(v) = v {
                qb.push(&format!(" AND {col} = ")).push_bind(pid_i64(v));
            }
        }
        for (col, v) in [("parent", f.parent), ("imported", f.imported)] {
            if let Some(v) = v {
                qb.push(&format!(" AND {col} = ")).push_bind(v);
            }
        }
        qb.push(" ORDER BY create_time DESC, model_version DESC, role, party_id");
        let rows = qb.fetch_all(&self.pool).await?;
        rows.iter().map(model_info_from_row).collect()
    }

    async fn model_components(&self, key: &ModelKey) -> Result<Vec<PipelineComponentRecord>> {
        let rows = bind_model_key(
            self.sql(&format!(
                "SELECT * FROM pipeline_component WHERE {MODEL_KEY_WHERE} ORDER BY component_name, model_alias"
            )),
            key,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pipeline_component_from_row).collect()
    }

    async fn count_model_load(&self, key: &ModelKey, now: i64) -> Result<bool> {
        let done = self.sql(&format!(
            "UPDATE model_info SET loaded_times = loaded_times + 1, update_time = ? WHERE {MODEL_KEY_WHERE}"
        ))
        .bind(now)
        .bind(&key.model_id)
        .bind(&key.model_version)
        .bind(key.role.as_str())
        .bind(pid_i64(key.party_id))
        .execute(&self.pool)
        .await?;
        Ok(done > 0)
    }

    async fn register_engine(&self, engine: &str, cores: i64, memory: i64, now: i64) -> Result<()> {
        // Keep what running jobs hold: remaining = new capacity - (old capacity - old remaining).
        let upsert = match self.backend {
            // Assignments run left to right, each seeing the ones before.
            Backend::MySql => {
                "ON DUPLICATE KEY UPDATE remaining_cores = VALUES(cores) - (cores - remaining_cores), \
                 remaining_memory = VALUES(memory) - (memory - remaining_memory), \
                 cores = VALUES(cores), memory = VALUES(memory), update_time = VALUES(update_time)"
            }
            Backend::Sqlite | Backend::Postgres => {
                "ON CONFLICT(engine_name) DO UPDATE SET \
                 remaining_cores = excluded.cores - (engine_registry.cores - engine_registry.remaining_cores), \
                 remaining_memory = excluded.memory - (engine_registry.memory - engine_registry.remaining_memory), \
                 cores = excluded.cores, memory = excluded.memory, update_time = excluded.update_time"
            }
        };
        self.sql(&format!(
            "INSERT INTO engine_registry (engine_name, cores, memory, remaining_cores, remaining_memory, nodes, update_time) \
             VALUES (?, ?, ?, ?, ?, 1, ?) {upsert}"
        ))
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
        let row = self
            .sql("SELECT * FROM engine_registry WHERE engine_name = ?")
            .bind(engine)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(EngineRecord {
                engine_name: r.text("engine_name")?,
                cores: r.int("cores")?,
                memory: r.int("memory")?,
                remaining_cores: r.int("remaining_cores")?,
                remaining_memory: r.int("remaining_memory")?,
                nodes: r.int("nodes")?,
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
        let job = self.sql(
            "UPDATE job SET resource_in_use = 1, cores = ?, memory = ?, remaining_cores = ?, remaining_memory = ?, \
             apply_resource_time = ?, version = version + 1 WHERE job_id = ? AND role = ? AND party_id = ? AND resource_in_use = 0",
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
        if job != 1 {
            return Ok(false);
        }
        let eng = self.sql(
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
        if eng != 1 {
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
        // The conditional update first: of two concurrent returns, one gives back.
        let mut q = self.sql(
            "UPDATE job SET resource_in_use = 0, return_resource_time = ?, version = version + 1",
        );
        q = q.bind(now);
        push_job_key(&mut q, job_id, role, party_id);
        q.push(" AND resource_in_use = 1");
        if q.execute(&mut *tx).await? != 1 {
            return Ok(false);
        }
        let mut q = self.sql("SELECT cores, memory FROM job");
        push_job_key(&mut q, job_id, role, party_id);
        let Some(held) = q.fetch_optional(&mut *tx).await? else {
            return Ok(false);
        };
        let least = self.backend.least();
        self.sql(&format!(
            "UPDATE engine_registry SET remaining_cores = {least}(cores, remaining_cores + ?), \
             remaining_memory = {least}(memory, remaining_memory + ?) WHERE engine_name = ?"
        ))
        .bind(held.int("cores")?)
        .bind(held.int("memory")?)
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
        let res = self.sql(
            "UPDATE job SET remaining_cores = remaining_cores - ?, remaining_memory = remaining_memory - ?, \
             version = version + 1 WHERE job_id = ? AND role = ? AND party_id = ? AND resource_in_use = 1 \
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
        Ok(res == 1)
    }

    async fn return_task_resource(
        &self,
        job_id: &str,
        role: Role,
        party_id: u64,
        cores: i64,
        memory: i64,
    ) -> Result<()> {
        let least = self.backend.least();
        self.sql(&format!(
            "UPDATE job SET remaining_cores = {least}(cores, remaining_cores + ?), \
             remaining_memory = {least}(memory, remaining_memory + ?), version = version + 1 \
             WHERE job_id = ? AND role = ? AND party_id = ? AND resource_in_use = 1"
        ))
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
        let rows = self
            .sql(
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
            n += self
                .sql(&format!("DELETE FROM {table} WHERE job_id = ?"))
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
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
