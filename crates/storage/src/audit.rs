//! Permission grants and the audit log's rows, and the hash chain that makes the log
//! tamper-evident: each entry's hash covers its own fields and the previous entry's
//! hash, so changing, removing or reordering a stored row breaks every later link.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The previous hash of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a grant covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Grant {
    /// A component module (lowercase canonical name), or `*` for every module.
    Component {
        /// The module.
        name: String,
    },
    /// A table of this site, or `*`/`*` for every table.
    Dataset {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

impl Grant {
    /// Every component module.
    pub fn all_components() -> Self {
        Grant::Component { name: "*".into() }
    }

    /// Every dataset.
    pub fn all_datasets() -> Self {
        Grant::Dataset {
            namespace: "*".into(),
            name: "*".into(),
        }
    }

    /// Whether this is a wildcard.
    pub fn is_wildcard(&self) -> bool {
        match self {
            Grant::Component { name } => name == "*",
            Grant::Dataset { namespace, name } => namespace == "*" && name == "*",
        }
    }

    pub(crate) fn columns(&self) -> (&'static str, &str, &str) {
        match self {
            Grant::Component { name } => ("component", "", name),
            Grant::Dataset { namespace, name } => ("dataset", namespace, name),
        }
    }
}

/// A stored grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantRecord {
    /// The party the grant is for.
    pub src_party_id: u64,
    /// What it covers.
    pub grant: Grant,
    /// When (ms).
    pub granted_at: i64,
}

/// Which way an audited command went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A partner's command to this site.
    Received,
    /// This site's command to a partner.
    Sent,
    /// A change made by this site's operator (permissions).
    Operator,
}

impl Direction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Received => "received",
            Direction::Sent => "sent",
            Direction::Operator => "operator",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "received" => Some(Direction::Received),
            "sent" => Some(Direction::Sent),
            "operator" => Some(Direction::Operator),
            _ => None,
        }
    }
}

/// An audit entry before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditDraft {
    /// When (ms).
    pub time: i64,
    /// Which way.
    pub direction: Direction,
    /// The partner party (sender or destination), or the party a permission change is
    /// for.
    pub party_id: u64,
    /// The partner's role in the job, when there is one.
    pub role: String,
    /// This site's party concerned (destination or sender), 0 when none.
    pub local_party_id: u64,
    /// SHA-256 fingerprint of the partner's certificate (received commands).
    pub fingerprint: String,
    /// The command (`create`, `task/start`, `push`, `permission/grant`, ...).
    pub command: String,
    /// The job, when there is one.
    pub job_id: String,
    /// Tables of this site the command reads, `namespace.name`, comma-separated.
    pub datasets: String,
    /// `allowed`, `refused` or, for a sent command, `ok`, `refused`, `unreachable`.
    pub decision: String,
    /// Why, or what changed.
    pub detail: String,
    /// SHA-256 of the command's body as sent, so both ends can compare.
    pub body_sha256: String,
}

/// A stored, chained audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Position in the log, from 1.
    pub seq: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditDraft,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// Which entries a query returns (newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// One job.
    pub job_id: Option<String>,
    /// One partner.
    pub party_id: Option<u64>,
    /// One command.
    pub command: Option<String>,
    /// Only `refused` entries.
    pub refused_only: bool,
    /// Page size (0: 100).
    pub limit: u64,
    /// Entries to skip.
    pub offset: u64,
    /// Oldest first instead of newest first.
    pub ascending: bool,
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainCheck {
    /// Whether every link holds.
    pub ok: bool,
    /// Entries checked.
    pub entries: u64,
    /// The first entry that does not match, when one does not.
    pub first_bad_seq: Option<i64>,
    /// What is wrong with it.
    pub problem: Option<String>,
    /// The last entry's hash (the chain's head), for comparing over time.
    pub head: String,
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The hash of entry `seq`: SHA-256 over every field, each length-prefixed so no two
/// different entries encode alike, and the previous hash.
pub fn entry_hash(seq: i64, e: &AuditDraft, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    field(b"fateflow-audit-v1");
    field(&seq.to_be_bytes());
    field(&e.time.to_be_bytes());
    field(e.direction.as_str().as_bytes());
    field(&e.party_id.to_be_bytes());
    field(e.role.as_bytes());
    field(&e.local_party_id.to_be_bytes());
    field(e.fingerprint.as_bytes());
    field(e.command.as_bytes());
    field(e.job_id.as_bytes());
    field(e.datasets.as_bytes());
    field(e.decision.as_bytes());
    field(e.detail.as_bytes());
    field(e.body_sha256.as_bytes());
    field(prev_hash.as_bytes());
    hex(&h.finalize())
}

/// Checks entries given in order of `seq`, continuing from `state` (the expected next
/// seq and previous hash). Returns the first problem with its seq.
pub fn check_links(state: &mut (i64, String), rows: &[AuditRecord]) -> Result<(), (i64, String)> {
    for r in rows {
        let (next, prev) = state;
        if r.seq != *next {
            return Err((
                r.seq,
                format!(
                    "entry {} follows entry {} (an entry is missing)",
                    r.seq,
                    *next - 1
                ),
            ));
        }
        if r.prev_hash != *prev {
            return Err((
                r.seq,
                "its previous hash is not the hash of the entry before it".into(),
            ));
        }
        if entry_hash(r.seq, &r.entry, &r.prev_hash) != r.hash {
            return Err((
                r.seq,
                "its contents do not match its hash (the row was modified)".into(),
            ));
        }
        *next += 1;
        *prev = r.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(i: i64) -> AuditDraft {
        AuditDraft {
            time: 1000 + i,
            direction: Direction::Received,
            party_id: 9999,
            role: "guest".into(),
            local_party_id: 10000,
            fingerprint: "ab".repeat(32),
            command: "create".into(),
            job_id: format!("job{i}"),
            datasets: "experiment.t".into(),
            decision: "allowed".into(),
            detail: String::new(),
            body_sha256: sha256_hex(format!("{i}").as_bytes()),
        }
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let entry = draft(seq);
                let hash = entry_hash(seq, &entry, &prev);
                let r = AuditRecord {
                    seq,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    fn check(rows: &[AuditRecord]) -> Result<(), (i64, String)> {
        check_links(&mut (1, GENESIS_HASH.to_string()), rows)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(check(&chain(5)), Ok(()));
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn any_changed_field_removed_or_swapped_row_is_found() {
        let base = chain(6);
        type Edit = fn(&mut AuditDraft);
        let edits: Vec<(&str, Edit)> = vec![
            ("decision", |e| e.decision = "refused".into()),
            ("party", |e| e.party_id = 1),
            ("job", |e| e.job_id.push('x')),
            ("time", |e| e.time += 1),
            ("datasets", |e| e.datasets.clear()),
            ("direction", |e| e.direction = Direction::Sent),
        ];
        for (what, edit) in edits {
            let mut rows = base.clone();
            edit(&mut rows[3].entry);
            assert_eq!(check(&rows).unwrap_err().0, 4, "{what}");
        }
        let mut removed = base.clone();
        removed.remove(2);
        assert_eq!(check(&removed).unwrap_err().0, 4);
        let mut swapped = base.clone();
        swapped.swap(1, 2);
        assert_eq!(check(&swapped).unwrap_err().0, 3);
        // A rewritten row with a recomputed hash still breaks the next link.
        let mut rehashed = base;
        rehashed[2].entry.decision = "refused".into();
        rehashed[2].hash = entry_hash(3, &rehashed[2].entry, &rehashed[2].prev_hash);
        let err = check(&rehashed).unwrap_err();
        assert_eq!(err.0, 4);
        assert!(err.1.contains("previous hash"), "{}", err.1);
    }

    #[test]
    fn fields_cannot_shift_into_each_other() {
        let mut a = draft(1);
        let mut b = draft(1);
        a.command = "createx".into();
        a.job_id = "y".into();
        b.command = "create".into();
        b.job_id = "xy".into();
        assert_ne!(
            entry_hash(1, &a, GENESIS_HASH),
            entry_hash(1, &b, GENESIS_HASH)
        );
    }
}
