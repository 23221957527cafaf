//! What the gateway writes to the site's audit log: every command a partner sent here
//! (with the certificate it came over and the permission decision), every command this
//! site sent to a partner, and every refused federation message. Both ends hash the
//! same command bytes, so a job's initiator and each partner can compare what one
//! sent with what the other received (`/v1/audit/digest`).

use fateflow_storage::{sha256_hex, AuditDraft, Direction, MetadataStore};

/// The entry's fields that every call site fills.
pub struct Entry<'a> {
    /// Which way.
    pub direction: Direction,
    /// The partner party and its role in the job.
    pub partner: (u64, &'a str),
    /// This site's party.
    pub local_party_id: u64,
    /// The partner's certificate fingerprint (received only).
    pub fingerprint: &'a str,
    /// The command.
    pub command: &'a str,
    /// The job.
    pub job_id: &'a str,
    /// Tables of this site the command reads.
    pub datasets: &'a str,
    /// `allowed`/`refused` (received), `ok`/`refused`/`unreachable` (sent).
    pub decision: &'a str,
    /// Why, or the outcome.
    pub detail: &'a str,
    /// The command's bytes.
    pub body: &'a [u8],
}

/// Appends an entry. A failed write is logged, never dropped silently; the command's
/// own outcome does not depend on it.
pub async fn record(store: &dyn MetadataStore, e: Entry<'_>) {
    let draft = AuditDraft {
        time: fateflow_scheduler::clock::now_ms(),
        direction: e.direction,
        party_id: e.partner.0,
        role: e.partner.1.to_string(),
        local_party_id: e.local_party_id,
        fingerprint: e.fingerprint.to_string(),
        command: e.command.to_string(),
        job_id: e.job_id.to_string(),
        datasets: e.datasets.to_string(),
        decision: e.decision.to_string(),
        detail: e.detail.to_string(),
        body_sha256: if e.body.is_empty() {
            String::new()
        } else {
            sha256_hex(e.body)
        },
    };
    if let Err(err) = store.append_audit(&draft).await {
        tracing::error!(job_id = e.job_id, command = e.command, party_id = e.partner.0, error = %err, "could not write the audit log entry");
    }
}
