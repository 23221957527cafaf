//! Permission grants and the audit log.

use super::query::{Backend, Cols, Sql};
use super::{pid, pid_i64, SqlStore};
use crate::audit::*;
use crate::{Error, Result};
use sqlx::any::AnyRow;

/// Rows read per query while verifying the chain.
const VERIFY_PAGE: i64 = 2000;

fn grant_from_row(r: &AnyRow) -> Result<GrantRecord> {
    let kind = r.text("kind")?;
    let namespace = r.text("namespace")?;
    let name = r.text("name")?;
    let grant = match kind.as_str() {
        "component" => Grant::Component { name },
        "dataset" => Grant::Dataset { namespace, name },
        other => {
            return Err(Error::Corrupt {
                table: "permission_grant",
                detail: format!("kind `{other}`"),
            })
        }
    };
    Ok(GrantRecord {
        src_party_id: pid(r.int("src_party_id")?),
        grant,
        granted_at: r.int("granted_at")?,
    })
}

fn audit_from_row(r: &AnyRow) -> Result<AuditRecord> {
    let direction = r.text("direction")?;
    Ok(AuditRecord {
        seq: r.int("seq")?,
        entry: AuditDraft {
            time: r.int("time")?,
            direction: Direction::parse(&direction).ok_or_else(|| Error::Corrupt {
                table: "audit_log",
                detail: format!("direction `{direction}`"),
            })?,
            party_id: pid(r.int("party_id")?),
            role: r.text("role")?,
            local_party_id: pid(r.int("local_party_id")?),
            fingerprint: r.text("fingerprint")?,
            command: r.text("command")?,
            job_id: r.text("job_id")?,
            datasets: r.text("datasets")?,
            decision: r.text("decision")?,
            detail: r.text("detail")?,
            body_sha256: r.text("body_sha256")?,
        },
        prev_hash: r.text("prev_hash")?,
        hash: r.text("hash")?,
    })
}

fn push_audit_where<'a>(qb: &mut Sql<'a>, f: &'a AuditFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(j) = &f.job_id {
        qb.push(" AND job_id = ").push_bind(j);
    }
    if let Some(p) = f.party_id {
        qb.push(" AND party_id = ").push_bind(pid_i64(p));
    }
    if let Some(c) = &f.command {
        qb.push(" AND command = ").push_bind(c);
    }
    if f.refused_only {
        qb.push(" AND decision = 'refused'");
    }
}

impl SqlStore {
    pub(super) async fn grant_rows(&self, src: u64, grants: &[Grant], now: i64) -> Result<u64> {
        let insert = self.backend.insert_ignore(
            "permission_grant",
            &["src_party_id", "kind", "namespace", "name", "granted_at"],
        );
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for g in grants {
            let (kind, namespace, name) = g.columns();
            n += self
                .sql(&insert)
                .bind(pid_i64(src))
                .bind(kind)
                .bind(namespace)
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    pub(super) async fn revoke_rows(&self, src: u64, grants: &[Grant]) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for g in grants {
            let (kind, namespace, name) = g.columns();
            let q = if g.is_wildcard() {
                self.sql("DELETE FROM permission_grant WHERE src_party_id = ? AND kind = ?")
                    .bind(pid_i64(src))
                    .bind(kind)
            } else {
                self.sql(
                    "DELETE FROM permission_grant WHERE src_party_id = ? AND kind = ? AND namespace = ? AND name = ?",
                )
                .bind(pid_i64(src))
                .bind(kind)
                .bind(namespace)
                .bind(name)
            };
            n += q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    pub(super) async fn grant_list(&self, src: Option<u64>) -> Result<Vec<GrantRecord>> {
        let mut qb = self.sql("SELECT * FROM permission_grant");
        if let Some(s) = src {
            qb.push(" WHERE src_party_id = ").push_bind(pid_i64(s));
        }
        qb.push(" ORDER BY src_party_id, kind, namespace, name");
        let rows = qb.fetch_all(&self.pool).await?;
        rows.iter().map(grant_from_row).collect()
    }

    pub(super) async fn audit_append(&self, e: &AuditDraft) -> Result<AuditRecord> {
        // Appends are serialised before the last entry is read, so two appends (of
        // this server or another) never chain to the same entry: SQLite's IMMEDIATE
        // takes the write lock, elsewhere the chain's one lock row is locked.
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres | Backend::MySql => {
                let mut tx = self.pool.begin().await?;
                self.sql("SELECT id FROM audit_chain_lock WHERE id = 1 FOR UPDATE")
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::Corrupt {
                        table: "audit_chain_lock",
                        detail: "its row is missing".into(),
                    })?;
                tx
            }
        };
        let last = self
            .sql("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (seq, prev_hash) = match last {
            Some(r) => (r.int("seq")? + 1, r.text("hash")?),
            None => (1, GENESIS_HASH.to_string()),
        };
        let hash = entry_hash(seq, e, &prev_hash);
        self.sql(
            "INSERT INTO audit_log (seq, time, direction, party_id, role, local_party_id, fingerprint, command, job_id, datasets, decision, detail, body_sha256, prev_hash, hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(seq)
        .bind(e.time)
        .bind(e.direction.as_str())
        .bind(pid_i64(e.party_id))
        .bind(&e.role)
        .bind(pid_i64(e.local_party_id))
        .bind(&e.fingerprint)
        .bind(&e.command)
        .bind(&e.job_id)
        .bind(&e.datasets)
        .bind(&e.decision)
        .bind(&e.detail)
        .bind(&e.body_sha256)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AuditRecord {
            seq,
            entry: e.clone(),
            prev_hash,
            hash,
        })
    }

    pub(super) async fn audit_query(&self, f: &AuditFilter) -> Result<(Vec<AuditRecord>, u64)> {
        let mut count_q = self.sql("SELECT COUNT(*) FROM audit_log");
        push_audit_where(&mut count_q, f);
        let total = count_q.fetch_count(&self.pool).await?;
        let mut qb = self.sql("SELECT * FROM audit_log");
        push_audit_where(&mut qb, f);
        qb.push(if f.ascending {
            " ORDER BY seq ASC"
        } else {
            " ORDER BY seq DESC"
        });
        let limit = if f.limit == 0 { 100 } else { f.limit };
        qb.push(" LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .push(" OFFSET ")
            .push_bind(i64::try_from(f.offset).unwrap_or(i64::MAX));
        let rows = qb.fetch_all(&self.pool).await?;
        let out = rows
            .iter()
            .map(audit_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok((out, total))
    }

    pub(super) async fn audit_verify(&self) -> Result<ChainCheck> {
        let mut state = (1i64, GENESIS_HASH.to_string());
        let mut entries = 0u64;
        loop {
            let rows = self
                .sql("SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?")
                .bind(state.0)
                .bind(VERIFY_PAGE)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                break;
            }
            let page = rows
                .iter()
                .map(audit_from_row)
                .collect::<Result<Vec<_>>>()?;
            if let Err((seq, problem)) = check_links(&mut state, &page) {
                return Ok(ChainCheck {
                    ok: false,
                    entries: entries + u64::try_from(seq - page[0].seq).unwrap_or(0),
                    first_bad_seq: Some(seq),
                    problem: Some(problem),
                    head: state.1,
                });
            }
            entries += page.len() as u64;
        }
        Ok(ChainCheck {
            ok: true,
            entries,
            first_bad_seq: None,
            problem: None,
            head: state.1,
        })
    }
}
