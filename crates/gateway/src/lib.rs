//! The site gateway: how sites talk to each other.
//!
//! - **Control plane:** the initiator's partner commands to parties hosted by other
//!   sites ([`partner::SitePartner`]), and the reverse path, each party's task
//!   changes back to the initiator ([`mirror`]), so remote failures and their reasons
//!   land in the initiator's records.
//! - **Data plane:** federation messages for parties of other sites, streamed in
//!   chunks into the receiving site's mailbox (spilled to disk as they arrive).
//! - **Security:** gRPC over TLS 1.3 with client certificates, both sides pinned to
//!   the certificates named in the routes file ([`tls`]); every request's source
//!   party must match the connection's certificate.
//! - **Health:** probes of every routed party ([`health`]).
//!
//! The wire format is protobuf ([`proto`]); payloads are typed JSON of known types or
//! raw bytes for the mailbox.

pub mod audit;
pub mod client;
pub mod health;
pub mod mirror;
pub mod partner;
pub mod proto;
pub mod queue;
pub mod server;
pub mod tls;

pub use client::Peers;
pub use partner::SitePartner;
pub use server::GatewayService;
pub use tls::{generate_identity, Identity, Routes};

/// What the gateway's own checks and records fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A message from another site is malformed (a field named in the message).
    #[error("{0}")]
    BadMessage(String),
    /// A well-formed message the sender may not send (a task of another party).
    #[error("{0}")]
    Refused(String),
    /// The metadata store failed.
    #[error("metadata store: {0}")]
    Store(#[from] fateflow_storage::Error),
    /// The scheduler refused or failed to record what a peer sent.
    #[error(transparent)]
    Scheduler(#[from] fateflow_scheduler::Error),
}

impl Error {
    /// Who has to act: the peer for its messages, this site for its store.
    pub fn kind(&self) -> fateflow_domain::ErrorKind {
        match self {
            Error::BadMessage(_) | Error::Refused(_) => fateflow_domain::ErrorKind::External,
            Error::Store(_) => fateflow_domain::ErrorKind::Internal,
            Error::Scheduler(e) => e.kind(),
        }
    }

    /// The API's return code.
    pub fn retcode(&self) -> fateflow_domain::retcode::RetCode {
        use fateflow_domain::retcode::RetCode;
        match self {
            Error::BadMessage(_) => RetCode::FederatedError,
            Error::Refused(_) => RetCode::PermissionError,
            Error::Store(_) => RetCode::ExceptionError,
            Error::Scheduler(e) => e.retcode(),
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        match e {
            Error::BadMessage(m) => tonic::Status::invalid_argument(m),
            Error::Refused(m) => tonic::Status::permission_denied(m),
            Error::Store(e) => tonic::Status::internal(format!("metadata store: {e}")),
            Error::Scheduler(fateflow_scheduler::Error::Refused(m)) => {
                tonic::Status::permission_denied(m)
            }
            Error::Scheduler(e) => tonic::Status::internal(e.to_string()),
        }
    }
}

/// The gateway's default port.
pub const DEFAULT_PORT: u16 = 9360;
