//! The [`Partner`] trait that carries party commands. The commands and their
//! replies are wire types of `fateflow-api-types`, re-exported here.

use async_trait::async_trait;
use fateflow_domain::Party;
use serde_json::Value;

pub use fateflow_api_types::party::{CommandError, InitiatorView, PartyCommand};

/// Sends commands to parties: in-process for parties hosted here, over the gateway
/// for others.
#[async_trait]
pub trait Partner: Send + Sync {
    /// Sends `cmd` about `job_id` to `party` and returns its data on success.
    async fn send(
        &self,
        job_id: &str,
        party: Party,
        cmd: PartyCommand,
    ) -> Result<Value, CommandError>;

    /// Tells the initiator of `job_id`, when it is another site, that this site's
    /// tasks of the job changed. Standalone sites have nobody to tell.
    async fn report_to_initiator(&self, _job_id: &str) {}

    /// Asks `initiator` (a party of another site) what it knows of `job_id`, on behalf
    /// of `me`, a party of the job hosted here. Standalone sites reach no other site.
    async fn ask_initiator(
        &self,
        job_id: &str,
        me: Party,
        initiator: Party,
    ) -> Result<InitiatorView, CommandError> {
        let _ = me;
        Err(CommandError::Unreachable {
            party: initiator,
            command: "job/status".into(),
            message: format!(
                "job {job_id}: this site has no gateway to party {}",
                initiator.party_id
            ),
        })
    }
}
