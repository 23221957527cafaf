//! The data plane: `remote(name, tag, value, to)` and `get(name, tag, from)`.
//!
//! - [`Federation`] is what components call (synchronous, from task processes).
//! - [`SiteFederation`] implements it over the task's own site: pushes and pulls go to
//!   the site's `/v1/federation/*` routes; the site delivers to the receiving party's
//!   [`Mailbox`] (in this process when the party is hosted here, through the gateway
//!   when it is not).
//! - [`Mailbox`] is the receiving side: store-and-forward, keyed by session, name, tag,
//!   source and destination; bounded memory with spill to disk; a TTL; idempotent keys;
//!   a size limit per message; a quota of held bytes per source party.

mod client;
mod mailbox;

pub use client::SiteFederation;
pub use mailbox::{
    Delivered, Mailbox, MailboxConfig, MailboxStats, MessageWriter, PARTY_QUOTA_BYTES,
    STREAM_MEMORY_BYTES,
};

use fateflow_domain::{Party, PartyId};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::time::Duration;

/// The largest message accepted (a payload above it must be split by the sender).
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

/// The header carrying a task's secret to its site's worker and federation routes.
pub const TASK_TOKEN_HEADER: &str = "X-Fateflow-Task-Token";

/// Where a variable travels: one session (a task version), a name, a tag, a source
/// and a destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    /// The federation session: `<task_id>_<task_version>` (FATE's
    /// `federation_session_id`), shared by every party's task of one component run.
    pub session: String,
    /// The variable's name (`"guest_pubkey"`, `"host_forward"`...).
    pub name: String,
    /// The tag that tells repeated sends apart (`"iter_3.batch_0"`).
    pub tag: String,
    /// The sending party.
    pub src: Party,
    /// The receiving party.
    pub dst: Party,
}

impl Key {
    /// Checks the parts: bounded, printable, no separators that could confuse a path.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("session", &self.session),
            ("name", &self.name),
            ("tag", &self.tag),
        ] {
            if v.is_empty()
                || v.len() > 256
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
            {
                return Err(Error::BadKey(format!(
                    "{what} `{v}`: 1–256 characters of [A-Za-z0-9_.:-]"
                )));
            }
        }
        Ok(())
    }
}

/// Why a federation call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing arrived in time; names the silent party.
    #[error("timed out after {waited:?} waiting for `{name}` (tag `{tag}`) from {from}: that party did not send it")]
    Timeout {
        /// The variable.
        name: String,
        /// Its tag.
        tag: String,
        /// The party that stayed silent.
        from: Party,
        /// How long we waited.
        waited: Duration,
    },
    /// A key part is not acceptable.
    #[error("bad federation key: {0}")]
    BadKey(String),
    /// A message is above [`MAX_MESSAGE_BYTES`] or the site's limit.
    #[error("message of {size} bytes is above the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A sending party's unclaimed messages would pass its quota at this site.
    #[error("party {party} is over its federation quota at this site: {used} bytes of its messages wait unclaimed and {size} more would pass its quota of {quota} bytes")]
    Quota {
        /// The sending party.
        party: PartyId,
        /// Bytes of its messages held now.
        used: u64,
        /// The bytes refused.
        size: u64,
        /// Its quota.
        quota: u64,
    },
    /// The site could not be reached or refused.
    #[error("federation through the site failed: {0}")]
    Site(String),
    /// A payload did not decode into the expected type.
    #[error("`{name}` from {from} did not decode: {detail}")]
    Decode {
        /// The variable.
        name: String,
        /// Its sender.
        from: Party,
        /// What was wrong.
        detail: String,
    },
    /// Local storage (spill files) failed.
    #[error("mailbox storage: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What a component uses to talk to the other parties of its task.
pub trait Federation: Send + Sync {
    /// This party.
    fn me(&self) -> Party;
    /// Sends raw bytes to each of `to`.
    fn remote_bytes(&self, name: &str, tag: &str, value: &[u8], to: &[Party]) -> Result<()>;
    /// Waits for raw bytes from `from`.
    fn get_bytes(&self, name: &str, tag: &str, from: Party) -> Result<Vec<u8>>;
}

/// Typed payloads over any [`Federation`]: JSON for small structured values. Large
/// numeric vectors should use [`Federation::remote_bytes`] with their own encoding.
pub trait FederationExt: Federation {
    /// Sends a serialisable value.
    fn remote<T: Serialize>(&self, name: &str, tag: &str, value: &T, to: &[Party]) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Decode {
            name: name.into(),
            from: self.me(),
            detail: e.to_string(),
        })?;
        self.remote_bytes(name, tag, &bytes, to)
    }

    /// Receives a value of type `T`.
    fn get<T: DeserializeOwned>(&self, name: &str, tag: &str, from: Party) -> Result<T> {
        let bytes = self.get_bytes(name, tag, from)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            name: name.into(),
            from,
            detail: e.to_string(),
        })
    }
}

impl<F: Federation + ?Sized> FederationExt for F {}
