//! The FATE job model, pure and without I/O.
//!
//! - [`Job::parse_str`] reads a DSL (v1 or v2) and its runtime conf, validates them
//!   together and reports every problem found, each naming its component and field.
//! - [`Job::plan`] gives, per component in topological order, the parties that run it
//!   and their merged parameters.
//! - [`status`] holds FATE's status names, allowed transitions and aggregation rules.
//! - [`ident`] is the one grammar for identifiers that become paths, and `safe_join`.
//! - [`ids`] makes job ids (and model ids) in FATE's format.
//! - [`predict`] derives what a predict job runs with from a deployed model.
//!
//! ```
//! let dsl = r#"{"components": {"reader_0": {"module": "Reader", "output": {"data": ["data"]}}}}"#;
//! let conf = r#"{"dsl_version": 2, "initiator": {"role": "guest", "party_id": 9999},
//!   "role": {"guest": [9999]},
//!   "component_parameters": {"role": {"guest": {"0": {"reader_0":
//!     {"table": {"name": "t", "namespace": "n"}}}}}}}"#;
//! // The components' schemas are `fateflow_components::CATALOG`; none are needed here.
//! let job = fateflow_domain::Job::parse_str(dsl, conf, fateflow_domain::Catalog::NAMES_ONLY).unwrap();
//! assert_eq!(job.topological_order(), vec!["reader_0"]);
//! assert_eq!(job.plan()[0].parties.len(), 1);
//! ```

pub mod conf;
pub mod dag;
pub mod dsl;
mod error;
pub mod error_kind;
pub mod ident;
pub mod ids;
mod job;
pub mod module;
mod party;
pub mod predict;
pub mod retcode;
pub mod status;

pub use conf::{JobParameters, JobType, RuntimeConf};
pub use dsl::{Dsl, DslVersion};
pub use error::{Errors, ValidationError};
pub use error_kind::ErrorKind;
pub use job::{component_parameters_for, Job, PartyTask, TaskPlan};
pub use module::Catalog;
pub use party::{Party, PartyId, Role, UnknownRole};
pub use status::Status;
