//! Running tasks.
//!
//! - [`launcher::LocalLauncher`]: the site side. Starts `fateflow task run --spec <file>`
//!   as its own OS process with its log file, watches it exit, kills it on stop.
//! - [`worker::run_task`]: the task-process side. Reads the spec, reports `running`
//!   with its pid, sends heartbeats, runs the component, and reports the final
//!   status with the error chain when it fails.

pub mod launcher;
mod report;
pub mod worker;

pub use launcher::LocalLauncher;
pub use worker::run_task;
