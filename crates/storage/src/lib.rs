//! The metadata store of a site: jobs, tasks, table metadata, tracking (metrics,
//! output data, summaries, models), pipeline models and resources.
//!
//! [`MetadataStore`] is the interface the scheduler and the API use; [`SqlStore`]
//! implements it on SQLite (the embedded default: a file under the data dir),
//! PostgreSQL or MySQL/MariaDB, chosen by a [`DatabaseUrl`]; migrations are embedded,
//! one folder per backend with the same schema.
//!
//! Status changes are single compare-and-set statements and obey the transition
//! rules of [`fateflow_domain::status`]: a refused change returns `Ok(false)`, never
//! an error. Job and task rows carry a version, one more on every update.

mod audit;
mod database_url;
mod records;
mod sql;

pub use audit::*;
pub use database_url::{redact, DatabaseUrl, UrlError, URL_FORMS};
pub use records::*;
pub use sql::{Backend, SqlStore, MAX_SLOTS, SCHEDULER_LEASE};

/// The store's old name, from when SQLite was its only backend.
pub type SqliteStore = SqlStore;

use async_trait::async_trait;
use fateflow_domain::Status;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed or could not be reached.
    #[error("metadata database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database server could not be reached (the URL is shown without password).
    #[error("cannot connect to the metadata database at {url}: {source}")]
    Connect {
        /// The database URL, password hidden.
        url: String,
        /// Why.
        source: sqlx::Error,
    },
    /// Migrations failed at start-up.
    #[error("metadata migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row that must be unique exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A stored value could not be read back.
    #[error("corrupt row in {table}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The metadata store.
#[async_trait]
pub trait MetadataStore: Send + Sync {
    // ----- several servers per site
    /// Takes the lease `name` for `holder` for `ttl_ms` when nobody holds it (never
    /// held, released, or expired): the new fencing epoch, or `None` when another
    /// instance holds it.
    async fn acquire_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<Option<i64>>;
    /// Extends a held lease by `ttl_ms` from now; `false` when it is no longer
    /// `holder`'s at `epoch` or it expired meanwhile.
    async fn renew_lease(&self, name: &str, holder: &str, epoch: i64, ttl_ms: i64) -> Result<bool>;
    /// Ends a held lease now, so another instance takes it without waiting.
    async fn release_lease(&self, name: &str, holder: &str, epoch: i64) -> Result<()>;
    /// The lease as stored, with the database's clock.
    async fn lease_state(&self, name: &str) -> Result<Option<LeaseState>>;
    /// From now on, job and task updates apply only while the scheduler lease has
    /// this epoch (0: no fence). A server that lost the lease can no longer write.
    fn set_fence(&self, epoch: i64);
    /// Registers a server instance (forgetting instances silent for two minutes);
    /// its slot.
    async fn register_instance(&self, instance: &InstanceRecord) -> Result<i64>;
    /// Marks an instance alive now; `false` when its row is gone.
    async fn heartbeat_instance(&self, instance_id: &str) -> Result<bool>;
    /// Every registered instance, and the database's clock (ms).
    async fn list_instances(&self) -> Result<(Vec<InstanceRecord>, i64)>;
    /// Removes an instance at its clean shutdown.
    async fn remove_instance(&self, instance_id: &str) -> Result<()>;

    // ----- jobs
    /// Inserts a job row; `AlreadyExists` when the (job, role, party) row exists.
    async fn insert_job(&self, job: &JobRecord) -> Result<()>;
    /// One party's job row.
    async fn get_job(
        &self,
        job_id: &str,
        role: fateflow_domain::Role,
        party_id: u64,
    ) -> Result<Option<JobRecord>>;
    /// Job rows matching a filter, and the total count before paging.
    async fn query_jobs(&self, filter: &JobFilter) -> Result<(Vec<JobRecord>, u64)>;
    /// Moves a job row to `to` if the transition rules allow it from its current status
    /// (and the rerun guard). Returns whether the row changed.
    async fn update_job_status(
        &self,
        job_id: &str,
        role: fateflow_domain::Role,
        party_id: u64,
        to: Status,
        now: i64,
    ) -> Result<bool>;
    /// Like [`MetadataStore::update_job_status`], and sets `update`'s columns in the
    /// same statement (a final status with its end time and reason: nobody reads one
    /// without the other). Returns whether the row changed.
    async fn update_job_status_with(
        &self,
        job_id: &str,
        role: fateflow_domain::Role,
        party_id: u64,
        to: Status,
        update: &JobUpdate,
        now: i64,
    ) -> Result<bool>;
    /// Like [`MetadataStore::update_job_status_with`], but only while the row is still
    /// as the caller read it (`seen`: same status and update time, so any command that
    /// touched it since wins). Returns whether the row changed.
    async fn update_job_status_from(
        &self,
        seen: &JobRecord,
        to: Status,
        update: &JobUpdate,
        now: i64,
    ) -> Result<bool>;
    /// Sets the given job columns.
    async fn update_job(
        &self,
        job_id: &str,
        role: fateflow_domain::Role,
        party_id: u64,
        update: &JobUpdate,
        now: i64,
    ) -> Result<()>;

    // ----- tasks
    /// Inserts a task row; `AlreadyExists` when its key exists.
    async fn insert_task(&self, task: &TaskRecord) -> Result<()>;
    /// One task row.
    async fn get_task(&self, key: &TaskKey) -> Result<Option<TaskRecord>>;
    /// Task rows matching a filter, and the total count before paging.
    async fn query_tasks(&self, filter: &TaskFilter) -> Result<(Vec<TaskRecord>, u64)>;
    /// Only a task row's `party_status` (the worker routes check it on every call).
    async fn task_party_status(&self, key: &TaskKey) -> Result<Option<Status>>;
    /// Moves the federated `status` of a task row, following the task rules.
    async fn update_task_status(&self, key: &TaskKey, to: Status, now: i64) -> Result<bool>;
    /// Moves the `party_status` of a task row, following the task rules.
    async fn update_task_party_status(&self, key: &TaskKey, to: Status, now: i64) -> Result<bool>;
    /// Sets the given task columns.
    async fn update_task(&self, key: &TaskKey, update: &TaskUpdate, now: i64) -> Result<()>;

    // ----- tables
    /// Inserts or replaces a table's metadata.
    async fn put_table_meta(&self, meta: &TableMetaRecord) -> Result<()>;
    /// A table's metadata.
    async fn get_table_meta(&self, namespace: &str, name: &str) -> Result<Option<TableMetaRecord>>;
    /// Tables, optionally of one namespace.
    async fn list_table_meta(&self, namespace: Option<&str>) -> Result<Vec<TableMetaRecord>>;
    /// Deletes a table's metadata; whether it existed.
    async fn delete_table_meta(&self, namespace: &str, name: &str) -> Result<bool>;

    // ----- tracking
    /// Appends a metric.
    async fn insert_metric(&self, metric: &MetricRecord) -> Result<()>;
    /// Metrics of a component at a party (every version unless given).
    async fn query_metrics(
        &self,
        job_id: &str,
        component: &str,
        role: fateflow_domain::Role,
        party_id: u64,
    ) -> Result<Vec<MetricRecord>>;
    /// Records an output table of a task.
    async fn insert_output_data(&self, info: &OutputDataRecord) -> Result<()>;
    /// Output tables of a component at a party, latest task version first.
    async fn query_output_data(
        &self,
        job_id: &str,
        component: &str,
        role: fateflow_domain::Role,
        party_id: u64,
    ) -> Result<Vec<OutputDataRecord>>;
    /// Sets a task's summary.
    async fn put_summary(
        &self,
        owner: &TaskOwner,
        summary: &serde_json::Value,
        now: i64,
    ) -> Result<()>;
    /// The latest summary of a component at a party.
    async fn get_summary(
        &self,
        job_id: &str,
        component: &str,
        role: fateflow_domain::Role,
        party_id: u64,
    ) -> Result<Option<serde_json::Value>>;
    /// Saves a component model (replacing the same alias of the same task version).
    async fn put_component_model(&self, model: &ComponentModelRecord) -> Result<()>;
    /// Models of a component at a party, latest task version first.
    async fn query_component_models(
        &self,
        job_id: &str,
        component: &str,
        role: fateflow_domain::Role,
        party_id: u64,
    ) -> Result<Vec<ComponentModelRecord>>;
    /// The newest component models across jobs (the Board's model list).
    async fn list_component_models(&self, limit: u64) -> Result<Vec<ComponentModelRecord>>;
    /// Deletes the metrics, output data info and summary of one task version (rerun).
    async fn clean_task_tracking(&self, owner: &TaskOwner) -> Result<()>;

    // ----- pipeline models
    /// Inserts a party's pipeline model and its component models in one transaction;
    /// `AlreadyExists` when the key exists. With `replace`, an existing model of the
    /// same key and its components are replaced instead.
    async fn insert_model(
        &self,
        info: &ModelInfoRecord,
        components: &[PipelineComponentRecord],
        replace: bool,
    ) -> Result<()>;
    /// One party's pipeline model.
    async fn get_model(&self, key: &ModelKey) -> Result<Option<ModelInfoRecord>>;
    /// Pipeline models matching a filter, newest first.
    async fn query_models(&self, filter: &ModelFilter) -> Result<Vec<ModelInfoRecord>>;
    /// The component models of a pipeline model, by component then alias.
    async fn model_components(&self, key: &ModelKey) -> Result<Vec<PipelineComponentRecord>>;
    /// Adds one to `loaded_times`; whether the model exists.
    async fn count_model_load(&self, key: &ModelKey, now: i64) -> Result<bool>;

    // ----- resources
    /// Registers the engine's capacity, keeping what is in use.
    async fn register_engine(&self, engine: &str, cores: i64, memory: i64, now: i64) -> Result<()>;
    /// The engine's row.
    async fn get_engine(&self, engine: &str) -> Result<Option<EngineRecord>>;
    /// Takes `cores`/`memory` from the engine for a job, all or nothing: the job row's
    /// `resource_in_use` goes from false to true and the engine keeps a non-negative
    /// remainder. Returns whether it was applied.
    #[allow(clippy::too_many_arguments)]
    async fn apply_job_resource(
        &self,
        engine: &str,
        job_id: &str,
        role: fateflow_domain::Role,
        party_id: u64,
        cores: i64,
        memory: i64,
        now: i64,
    ) -> Result<bool>;
    /// Gives a job's resources back; whether anything was returned.
    async fn return_job_resource(
        &self,
        engine: &str,
        job_id: &str,
        role: fateflow_domain::Role,
        party_id: u64,
        now: i64,
    ) -> Result<bool>;
    /// Takes cores/memory for one task from its job's share; whether it fitted.
    async fn apply_task_resource(
        &self,
        job_id: &str,
        role: fateflow_domain::Role,
        party_id: u64,
        cores: i64,
        memory: i64,
    ) -> Result<bool>;
    /// Gives a task's cores/memory back to its job's share.
    async fn return_task_resource(
        &self,
        job_id: &str,
        role: fateflow_domain::Role,
        party_id: u64,
        cores: i64,
        memory: i64,
    ) -> Result<()>;

    // ----- retention (`fateflow gc`)
    /// Every output table recorded for a job, all components, parties and versions.
    async fn job_output_data(&self, job_id: &str) -> Result<Vec<OutputDataRecord>>;
    /// Deletes a job's rows (job, tasks, metrics, output data info, summaries,
    /// component models) in one transaction; pipeline models stay. Returns the number
    /// of rows deleted.
    async fn delete_job_records(&self, job_id: &str) -> Result<u64>;

    // ----- permissions
    /// Grants `grants` to `src_party_id`; returns how many were new.
    async fn grant_permissions(&self, src_party_id: u64, grants: &[Grant], now: i64)
        -> Result<u64>;
    /// Removes grants; a wildcard removes every grant of its kind. Returns how many
    /// rows went.
    async fn revoke_permissions(&self, src_party_id: u64, grants: &[Grant]) -> Result<u64>;
    /// The grants of one party, or of every party.
    async fn query_permissions(&self, src_party_id: Option<u64>) -> Result<Vec<GrantRecord>>;

    // ----- audit log
    /// Appends an entry, chained to the last one in the same transaction.
    async fn append_audit(&self, entry: &AuditDraft) -> Result<AuditRecord>;
    /// Entries matching a filter, and their total count before paging.
    async fn query_audit(&self, filter: &AuditFilter) -> Result<(Vec<AuditRecord>, u64)>;
    /// Recomputes every link of the chain, oldest first.
    async fn verify_audit(&self) -> Result<ChainCheck>;
}
