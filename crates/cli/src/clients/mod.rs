//! Typed HTTP clients.
//!
//! [`FlowClient`] speaks FATE-Flow 1.x's client API: it signs requests, encodes
//! bodies exactly like FATE's Python client, and decodes the `{retcode, retmsg, data}`
//! envelope.

pub mod flow;
pub mod requests;

pub use flow::{Download, Envelope, Error, FlowClient, NamedDownload};
