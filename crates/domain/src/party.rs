//! Roles and parties.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A FATE party id.
pub type PartyId = u64;

/// The role a party plays in a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Holds the labels and usually initiates.
    Guest,
    /// Holds features for the same ids.
    Host,
    /// Holds keys and aggregates.
    Arbiter,
    /// The only party of a single-party job (upload, download).
    Local,
}

impl Role {
    /// Every role, in FATE's usual order.
    pub const ALL: [Role; 4] = [Role::Guest, Role::Host, Role::Arbiter, Role::Local];

    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Host => "host",
            Role::Arbiter => "arbiter",
            Role::Local => "local",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that FATE does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; expected guest, host, arbiter or local")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// One party in one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Party {
    /// The role.
    pub role: Role,
    /// The party id.
    pub party_id: PartyId,
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.role, self.party_id)
    }
}
