//! Running tasks.
//!
//! - [`launcher::LocalLauncher`]: the site side. Starts `fateflow task run --spec <file>`
//!   as its own OS process group with its log file and its token, watches it exit,
//!   kills the group on stop.
//! - [`worker::run_task`]: the task-process side. Reads the spec and its token (from
//!   the environment, never the spec file), reports `running` with its pid, sends
//!   heartbeats (and stops if the site refuses its token), runs the component, and
//!   reports the final status with the error chain and its kind ([`Error::kind`])
//!   when it fails.

mod error;
pub mod launcher;
mod report;
pub mod worker;

pub use error::Error;
pub use launcher::LocalLauncher;
pub use worker::run_task;
