//! Permission grants and the audit log on SQLite.

use super::{pid, pid_i64, SqliteStore};
use crate::audit::*;
use crate::{Error, Result};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

/// Rows read per query while verifying the chain.
const VERIFY_PAGE: i64 = 2000;

fn grant_from_row(r: &SqliteRow) -> Result<GrantRecord> {
    let kind: String = r.try_get("kind")?;
    let namespace: String = r.try_get("namespace")?;
    let name: String = r.try_get("name")?;
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
        src_party_id: pid(r.try_get("src_party_id")?),
        grant,
        granted_at: r.try_get("granted_at")?,
    })
}

fn audit_from_row(r: &SqliteRow) -> Result<AuditRecord> {
    let direction: String = r.try_get("direction")?;
    Ok(AuditRecord {
        seq: r.try_get("seq")?,
        entry: AuditDraft {
            time: r.try_get("time")?,
            direction: Direction::parse(&direction).ok_or_else(|| Error::Corrupt {
                table: "audit_log",
                detail: format!("direction `{direction}`"),
            })?,
            party_id: pid(r.try_get("party_id")?),
            role: r.try_get("role")?,
            local_party_id: pid(r.try_get("local_party_id")?),
            fingerprint: r.try_get("fingerprint")?,
            command: r.try_get("command")?,
            job_id: r.try_get("job_id")?,
            datasets: r.try_get("datasets")?,
            decision: r.try_get("decision")?,
            detail: r.try_get("detail")?,
            body_sha256: r.try_get("body_sha256")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

fn push_audit_where(qb: &mut QueryBuilder<'_, Sqlite>, f: &AuditFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(j) = &f.job_id {
        qb.push(" AND job_id = ").push_bind(j.clone());
    }
    if let Some(p) = f.party_id {
        qb.push(" AND party_id = ").push_bind(pid_i64(p));
    }
    if let Some(c) = &f.command {
        qb.push(" AND command = ").push_bind(c.clone());
    }
    if f.refused_only {
        qb.push(" AND decision = 'refused'");
    }
}

impl SqliteStore {
    pub(super) async fn grant_rows(&self, src: u64, grants: &[Grant], now: i64) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for g in grants {
            let (kind, namespace, name) = g.columns();
            n += sqlx::query(
                "INSERT OR IGNORE INTO permission_grant (src_party_id, kind, namespace, name, granted_at) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(pid_i64(src))
            .bind(kind)
            .bind(namespace)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
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
                sqlx::query("DELETE FROM permission_grant WHERE src_party_id = ? AND kind = ?")
                    .bind(pid_i64(src))
                    .bind(kind)
            } else {
                sqlx::query(
                    "DELETE FROM permission_grant WHERE src_party_id = ? AND kind = ? AND namespace = ? AND name = ?",
                )
                .bind(pid_i64(src))
                .bind(kind)
                .bind(namespace)
                .bind(name)
            };
            n += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    pub(super) async fn grant_list(&self, src: Option<u64>) -> Result<Vec<GrantRecord>> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT * FROM permission_grant");
        if let Some(s) = src {
            qb.push(" WHERE src_party_id = ").push_bind(pid_i64(s));
        }
        qb.push(" ORDER BY src_party_id, kind, namespace, name");
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(grant_from_row).collect()
    }

    pub(super) async fn audit_append(&self, e: &AuditDraft) -> Result<AuditRecord> {
        // IMMEDIATE takes the write lock before the read, so two appends never chain
        // to the same entry.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let (seq, prev_hash) = match last {
            Some((s, h)) => (s + 1, h),
            None => (1, GENESIS_HASH.to_string()),
        };
        let hash = entry_hash(seq, e, &prev_hash);
        sqlx::query(
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
        let mut count_q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*) FROM audit_log");
        push_audit_where(&mut count_q, f);
        let total: i64 = count_q.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT * FROM audit_log");
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
        let rows = qb.build().fetch_all(&self.pool).await?;
        let out = rows
            .iter()
            .map(audit_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok((out, u64::try_from(total).unwrap_or_default()))
    }

    pub(super) async fn audit_verify(&self) -> Result<ChainCheck> {
        let mut state = (1i64, GENESIS_HASH.to_string());
        let mut entries = 0u64;
        loop {
            let rows = sqlx::query("SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?")
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
