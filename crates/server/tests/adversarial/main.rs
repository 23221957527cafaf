//! The standing adversarial suite: every probe of the security and reliability review
//! (an attacker on the machine or across the gateway, an unlucky operator) replayed
//! against real `fateflow server` processes, so none regresses. One module per area.

#[path = "../common/mod.rs"]
mod common;
#[path = "../twosite/mod.rs"]
mod twosite;

mod archive;
mod http;
mod identifiers;
mod lifecycle;
mod limits;
mod resources;
mod tokens;
mod uploads;
