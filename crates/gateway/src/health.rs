//! Connectivity and certificate checks with every routed party, on demand (API) and
//! periodically (with log lines on every change, and failing the running tasks of a
//! party whose site stays unreachable past the party timeout).

use crate::client::Peers;
use fateflow_scheduler::PartyController;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The result of probing one party.
#[derive(Debug, Clone, Serialize)]
pub struct PartyHealth {
    /// The party.
    pub party_id: u64,
    /// Its gateway's address.
    pub address: String,
    /// The certificate fingerprint the routes pin.
    pub fingerprint: String,
    /// Whether the handshake (both certificates) and the probe succeeded, and the
    /// answering site hosts the party.
    pub ok: bool,
    /// Round trip in ms, when it answered.
    pub latency_ms: Option<u64>,
    /// Parties the answering site hosts.
    pub hosted: Vec<u64>,
    /// What went wrong.
    pub error: Option<String>,
}

/// Probes every routed party once, as `src` (a party hosted here).
pub async fn check_all(peers: &Peers, src: u64) -> Vec<PartyHealth> {
    let mut out = Vec::new();
    for (party_id, route) in &peers.routes().parties {
        let t0 = Instant::now();
        let r = peers.ping(*party_id, src).await;
        let mut h = PartyHealth {
            party_id: *party_id,
            address: route.address.clone(),
            fingerprint: route.fingerprint.clone(),
            ok: false,
            latency_ms: None,
            hosted: Vec::new(),
            error: None,
        };
        match r {
            Ok(reply) => {
                h.latency_ms = Some(t0.elapsed().as_millis() as u64);
                h.ok = reply.party_ids.contains(party_id);
                if !h.ok {
                    h.error = Some(format!(
                        "the site at {} answered but hosts {:?}, not party {party_id}",
                        route.address, reply.party_ids
                    ));
                }
                h.hosted = reply.party_ids;
            }
            Err(e) => h.error = Some(describe(&e)),
        }
        out.push(h);
    }
    out
}

/// A transport error in words (tonic hides the TLS cause in the source chain).
pub fn describe(e: &tonic::Status) -> String {
    let mut s = e.message().to_string();
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(cause) = src {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        src = cause.source();
    }
    s
}

/// Probes every `every`; logs changes; after `party_timeout` of silence, has the
/// scheduler fail the party's running tasks in jobs initiated here with a reason
/// naming it.
pub async fn run(
    peers: Arc<Peers>,
    src: u64,
    controller: Arc<PartyController>,
    every: Duration,
    party_timeout: Duration,
) {
    let mut down_since: BTreeMap<u64, (Instant, String)> = BTreeMap::new();
    let mut known: BTreeMap<u64, bool> = BTreeMap::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for h in check_all(&peers, src).await {
            let was = known.insert(h.party_id, h.ok);
            if h.ok {
                down_since.remove(&h.party_id);
                if was != Some(true) {
                    tracing::info!(party_id = h.party_id, address = %h.address, certificate = %h.fingerprint, latency_ms = h.latency_ms.unwrap_or(0), "gateway: party reachable, certificates verified");
                }
                continue;
            }
            let error = h.error.unwrap_or_default();
            let (since, _) = down_since
                .entry(h.party_id)
                .or_insert_with(|| (Instant::now(), error.clone()));
            let down = since.elapsed();
            if was != Some(false) {
                tracing::warn!(party_id = h.party_id, address = %h.address, error = %error, "gateway: party unreachable");
            }
            if down >= party_timeout {
                let reason = format!(
                    "party {} unreachable: its site gateway at {} did not answer for {} s ({error})",
                    h.party_id,
                    h.address,
                    down.as_secs()
                );
                match controller.fail_unreachable_party(h.party_id, &reason).await {
                    Ok(jobs) => {
                        for j in jobs {
                            tracing::warn!(job_id = %j, party_id = h.party_id, "gateway: failing the party's running tasks; it stayed unreachable past the party timeout");
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "failing an unreachable party's tasks failed")
                    }
                }
            }
        }
    }
}
