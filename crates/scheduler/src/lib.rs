//! Job lifecycle with FATE-Flow 1.x semantics, driven by events.
//!
//! - [`partner`]: the commands an initiator sends to parties, and the [`Partner`]
//!   trait that carries them (in-process here; over the gateway later).
//! - [`controller`]: what a party does with a command, and with its task processes'
//!   reports.
//! - [`initiator`]: submit, the scheduling round of a job, stop and rerun. One event
//!   loop runs every round, so rounds of one job never race; a periodic tick is only a
//!   safety net.
//! - [`model`]: pipeline models: saved at the end of a training job, deployed,
//!   loaded, and read by predict jobs.
//! - [`detector`]: dead task processes, silent tasks, job timeouts.
//! - [`remote`]: the initiator's copies of remote parties' task rows, moved forward
//!   from what their sites report, and failed when a party stays unreachable.
//! - [`reconcile`]: copies of jobs initiated by another site: resources held without
//!   a start time out, and copies the initiator ended or does not know are ended here.
//! - [`launcher`]: the [`TaskLauncher`] trait and the task spec a process receives.
//! - [`parsed`]: parsed jobs, shared by the initiator and the controller.
//! - [`upload`]: a finished upload recorded as FATE's one-component `local` job.

pub mod clock;
pub mod cluster;
pub mod controller;
pub mod detector;
mod error;
pub mod initiator;
pub mod launcher;
pub mod local;
pub mod model;
pub mod parsed;
pub mod partner;
pub mod permission;
pub mod reconcile;
pub mod remote;
pub mod upload;

pub use controller::{PartyController, SiteConfig};
pub use error::Error;
pub use initiator::{Scheduler, SubmitError, SubmitResult};
pub use launcher::{LaunchError, Launched, ProcessExit, TaskHandle, TaskLauncher, TaskSpec};
pub use partner::{CommandError, InitiatorView, Partner, PartyCommand};
pub use upload::UploadDone;

use fateflow_domain::Status;
use tokio::sync::{mpsc, oneshot};

/// Something the scheduler loop must react to.
#[derive(Debug)]
pub enum Event {
    /// Run a scheduling round for this job now.
    Schedule(String),
    /// Run a round for every unfinished job this site initiated.
    ScheduleAll,
    /// Stop a job.
    Stop {
        /// Job id.
        job_id: String,
        /// `canceled` (user) or `failed`/`timeout`.
        status: Status,
        /// Why.
        reason: String,
        /// The answer.
        reply: Option<oneshot::Sender<Result<(), Error>>>,
    },
    /// Rerun a job from a component (or every unfinished component).
    Rerun {
        /// Job id.
        job_id: String,
        /// Rerun this component and everything downstream of it.
        component: Option<String>,
        /// Rerun successful tasks too.
        force: bool,
        /// The answer.
        reply: Option<oneshot::Sender<Result<Vec<String>, Error>>>,
    },
}

/// The scheduler loop's inbox.
pub type EventSender = mpsc::UnboundedSender<Event>;
/// The scheduler loop's receiving end.
pub type EventReceiver = mpsc::UnboundedReceiver<Event>;

/// A new event channel.
pub fn event_channel() -> (EventSender, EventReceiver) {
    mpsc::unbounded_channel()
}
