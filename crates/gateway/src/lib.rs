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

pub mod client;
pub mod health;
pub mod mirror;
pub mod partner;
pub mod proto;
pub mod server;
pub mod tls;

pub use client::Peers;
pub use partner::SitePartner;
pub use server::GatewayService;
pub use tls::{generate_identity, Identity, Routes};

/// The gateway's default port.
pub const DEFAULT_PORT: u16 = 9360;
