//! The partner for parties hosted by this site: commands stay in-process.

use crate::controller::PartyController;
use crate::partner::{CommandError, Partner, PartyCommand};
use async_trait::async_trait;
use fateflow_domain::Party;
use serde_json::Value;
use std::sync::Arc;

/// Sends commands straight to this site's [`PartyController`].
pub struct LocalPartner {
    controller: Arc<PartyController>,
}

impl LocalPartner {
    /// A partner over the local controller.
    pub fn new(controller: Arc<PartyController>) -> Self {
        Self { controller }
    }
}

#[async_trait]
impl Partner for LocalPartner {
    async fn send(
        &self,
        job_id: &str,
        party: Party,
        cmd: PartyCommand,
    ) -> Result<Value, CommandError> {
        let command = cmd.name().to_string();
        if !self.controller.hosts(party.party_id) {
            return Err(CommandError::Unreachable {
                party,
                command,
                message: format!(
                    "party {} is not hosted by this site and no route to it is configured",
                    party.party_id
                ),
            });
        }
        self.controller
            .handle(job_id, party, cmd)
            .await
            .map_err(|r| CommandError::Refused {
                party,
                command,
                retcode: r.retcode,
                message: r.message,
            })
    }
}
