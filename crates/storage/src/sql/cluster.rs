//! Several servers per site: the scheduler lease (one holder, a fencing epoch one
//! more on every takeover) and the instance registry. Every time is the database's
//! clock, so servers with skewed clocks still agree on who holds the lease.

use super::*;

/// The one lease: its holder runs the scheduler.
pub const SCHEDULER_LEASE: &str = "scheduler";
/// Instance rows silent this long are removed when another instance registers.
const FORGET_AFTER_MS: i64 = 120_000;
/// How many instances one site may register at once (slots 0..MAX_SLOTS).
pub const MAX_SLOTS: i64 = 100;

impl Backend {
    /// The database clock in ms, as an SQL expression.
    pub(crate) fn now_ms(self) -> &'static str {
        match self {
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Backend::MySql => "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
        }
    }
}

impl SqlStore {
    /// ` AND` the scheduler lease still has this store's fencing epoch, when a fence
    /// is set: a server that lost the lease cannot change jobs or tasks.
    pub(super) fn push_fence(&self, q: &mut Sql<'_>) {
        let epoch = self.fence.load(Ordering::Acquire);
        if epoch > 0 {
            q.push(" AND (SELECT epoch FROM scheduler_lease WHERE name = ")
                .push_bind(SCHEDULER_LEASE)
                .push(") = ")
                .push_bind(epoch);
        }
    }

    pub(super) async fn do_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> Result<Option<i64>> {
        self.sql(&self.backend.insert_ignore(
            "scheduler_lease",
            &["name", "holder", "epoch", "expires_at"],
        ))
        .bind(name)
        .bind("")
        .bind(0i64)
        .bind(0i64)
        .execute(&self.pool)
        .await?;
        let now = self.backend.now_ms();
        let took = self
            .sql(&format!(
                "UPDATE scheduler_lease SET holder = ?, epoch = epoch + 1, expires_at = {now} + ? \
                 WHERE name = ? AND expires_at < {now}"
            ))
            .bind(holder)
            .bind(ttl_ms)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if took != 1 {
            return Ok(None);
        }
        let row = self
            .sql("SELECT epoch FROM scheduler_lease WHERE name = ? AND holder = ?")
            .bind(name)
            .bind(holder)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.int("epoch")).transpose()
    }

    pub(super) async fn do_renew_lease(
        &self,
        name: &str,
        holder: &str,
        epoch: i64,
        ttl_ms: i64,
    ) -> Result<bool> {
        let now = self.backend.now_ms();
        let n = self
            .sql(&format!(
                "UPDATE scheduler_lease SET expires_at = {now} + ? \
                 WHERE name = ? AND holder = ? AND epoch = ? AND expires_at >= {now}"
            ))
            .bind(ttl_ms)
            .bind(name)
            .bind(holder)
            .bind(epoch)
            .execute(&self.pool)
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn do_release_lease(
        &self,
        name: &str,
        holder: &str,
        epoch: i64,
    ) -> Result<()> {
        self.sql(
            "UPDATE scheduler_lease SET expires_at = 0 WHERE name = ? AND holder = ? AND epoch = ?",
        )
        .bind(name)
        .bind(holder)
        .bind(epoch)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn do_lease_state(&self, name: &str) -> Result<Option<LeaseState>> {
        let row = self
            .sql(&format!(
                "SELECT holder, epoch, expires_at, {} AS now_ms FROM scheduler_lease WHERE name = ?",
                self.backend.now_ms()
            ))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(LeaseState {
                holder: r.text("holder")?,
                epoch: r.int("epoch")?,
                expires_at: r.int("expires_at")?,
                now: r.int("now_ms")?,
            })
        })
        .transpose()
    }

    pub(super) async fn do_register_instance(&self, i: &InstanceRecord) -> Result<i64> {
        let now = self.backend.now_ms();
        self.sql(&format!(
            "DELETE FROM server_instance WHERE heartbeat_at < {now} - ?"
        ))
        .bind(FORGET_AFTER_MS)
        .execute(&self.pool)
        .await?;
        let taken: Vec<i64> = self
            .sql("SELECT slot FROM server_instance")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.int("slot"))
            .collect::<Result<_>>()?;
        for slot in (0..MAX_SLOTS).filter(|s| !taken.contains(s)) {
            let r = self
                .sql(&format!(
                    "INSERT INTO server_instance (instance_id, slot, host, address, pid, version, \
                     started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, {now}, {now})"
                ))
                .bind(&i.instance_id)
                .bind(slot)
                .bind(&i.host)
                .bind(&i.address)
                .bind(i.pid)
                .bind(&i.version)
                .execute(&self.pool)
                .await;
            match r.map_err(|e| map_unique(e, String::new)) {
                Ok(_) => return Ok(slot),
                // Another instance took this slot meanwhile.
                Err(Error::AlreadyExists(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::AlreadyExists(format!(
            "every one of the {MAX_SLOTS} instance slots (servers registered for this site)"
        )))
    }

    pub(super) async fn do_heartbeat_instance(&self, instance_id: &str) -> Result<bool> {
        let n = self
            .sql(&format!(
                "UPDATE server_instance SET heartbeat_at = {} WHERE instance_id = ?",
                self.backend.now_ms()
            ))
            .bind(instance_id)
            .execute(&self.pool)
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn do_list_instances(&self) -> Result<(Vec<InstanceRecord>, i64)> {
        let rows = self
            .sql(&format!(
                "SELECT server_instance.*, {} AS now_ms FROM server_instance ORDER BY slot",
                self.backend.now_ms()
            ))
            .fetch_all(&self.pool)
            .await?;
        let mut now = 0;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            now = r.int("now_ms")?;
            out.push(InstanceRecord {
                instance_id: r.text("instance_id")?,
                slot: r.int("slot")?,
                host: r.text("host")?,
                address: r.text("address")?,
                pid: r.int("pid")?,
                version: r.text("version")?,
                started_at: r.int("started_at")?,
                heartbeat_at: r.int("heartbeat_at")?,
            });
        }
        if rows.is_empty() {
            now = self.db_now().await?;
        }
        Ok((out, now))
    }

    pub(super) async fn do_remove_instance(&self, instance_id: &str) -> Result<()> {
        self.sql("DELETE FROM server_instance WHERE instance_id = ?")
            .bind(instance_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn db_now(&self) -> Result<i64> {
        let r = self
            .sql(&format!("SELECT {} AS now_ms", self.backend.now_ms()))
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| r.int("now_ms"))
            .transpose()
            .map(Option::unwrap_or_default)
    }
}
