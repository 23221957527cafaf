//! Every contract that crosses a process or a site, defined once.
//!
//! - [`party`]: the commands an initiator sends to a party, and their replies.
//! - [`task`]: the spec a task process receives and the task states a party reports
//!   to a remote initiator.
//! - [`worker`]: what a task process posts to its site's worker and tracker routes.
//! - [`envelope`]: FATE-Flow 1.x's `{retcode, retmsg, data, jobId}` answer and its
//!   return codes.
//! - [`requests`]: the request bodies of the `/v1` client routes, as FATE's `flow`
//!   sends them and as the server reads them (numbers given as strings accepted,
//!   unknown fields ignored).
//! - [`signing`]: the HMAC-SHA1 request signature of FATE-Flow 1.x clients.
//!
//! Only serde, serde_json and the signature's hash crates: no runtime, no I/O, no
//! clock. The server, the CLI, the scheduler, the gateway and the task processes all
//! depend on it, so no two of them define the same message.

pub mod envelope;
pub mod lenient;
pub mod party;
pub mod requests;
pub mod serving;
pub mod signing;
pub mod task;
pub mod worker;

pub use envelope::{Envelope, RetCode};
pub use party::{CommandError, InitiatorView, PartyCommand};
pub use task::{ModelSpec, TableRefSpec, TaskSpec, TaskState, TaskToken, TASK_TOKEN_ENV};
