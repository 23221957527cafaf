//! The commutative-encryption PSI shared by `dh` and `ecdh` (FATE's `dh_intersect` and
//! `ecdh_intersect` run the same flow).
//!
//! For each host: the guest sends `E_a(x)` for its ids (one secret for every host), the
//! host sends `E_b(y)` for its own and returns `E_b(E_a(x))` in the guest's order; the
//! guest computes `E_a(E_b(y))` and matches. The guest then tells each host its
//! positions in the common intersection (with sync), or counts it.

use super::{finish_guest, finish_host, guest_of, hosts_of, Found, Goal};
use crate::context::TaskContext;
use crate::error::{Error, Result};
use fateflow_crypto::psi::dh::DhParty;
use fateflow_crypto::psi::ecdh::{EcdhParty, EcdhPoint};
use fateflow_crypto::Integer;
use fateflow_domain::{Party, Role};
use std::hash::Hash;

/// One party's commutative cipher.
pub(crate) trait Cipher: Sync {
    /// A ciphertext.
    type Value: Eq + Hash + Sync + Send;
    /// FATE's method name (the federation tag).
    const NAME: &'static str;
    /// First encryption of ids.
    fn encrypt_ids(&self, ids: &[&str]) -> Vec<Self::Value>;
    /// Second encryption of the other party's values.
    fn reencrypt(&self, values: &[Self::Value]) -> Result<Vec<Self::Value>>;
    /// Bytes of one encoded value (every value has the same width on the wire).
    fn width(&self) -> usize;
    /// Values on the wire.
    fn encode(&self, values: &[Self::Value]) -> Vec<u8>;
    /// Values from the wire; `name` and `from` name the message in errors.
    fn decode(&self, name: &str, from: Party, bytes: &[u8]) -> Result<Vec<Self::Value>>;
    /// A value as lower-case hex (how a cache keeps it).
    fn hex(&self, value: &Self::Value) -> String;
    /// The secret, as a cache keeps it (hex).
    fn secret_hex(&self) -> String;
}

/// `ecdh`: ristretto255 points.
pub(crate) struct Ecdh(pub EcdhParty);

impl Cipher for Ecdh {
    type Value = EcdhPoint;
    const NAME: &'static str = "ecdh";

    fn encrypt_ids(&self, ids: &[&str]) -> Vec<EcdhPoint> {
        self.0.encrypt_ids(ids)
    }

    fn reencrypt(&self, values: &[EcdhPoint]) -> Result<Vec<EcdhPoint>> {
        self.0
            .reencrypt(values)
            .map_err(|e| Error::param("ecdh", e.to_string()))
    }

    fn width(&self) -> usize {
        32
    }

    fn encode(&self, values: &[EcdhPoint]) -> Vec<u8> {
        values.iter().flat_map(|p| p.0).collect()
    }

    fn decode(&self, name: &str, from: Party, bytes: &[u8]) -> Result<Vec<EcdhPoint>> {
        if !bytes.len().is_multiple_of(32) {
            return Err(Error::param(
                name,
                format!(
                    "{from} sent {} bytes, not a whole number of 32-byte points",
                    bytes.len()
                ),
            ));
        }
        Ok(bytes
            .chunks_exact(32)
            .map(|c| {
                let mut p = [0u8; 32];
                p.copy_from_slice(c);
                EcdhPoint(p)
            })
            .collect())
    }

    fn hex(&self, value: &EcdhPoint) -> String {
        value.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn secret_hex(&self) -> String {
        self.0
            .secret_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// `dh`: integers modulo a safe prime.
pub(crate) struct Dh(pub DhParty);

impl Cipher for Dh {
    type Value = Integer;
    const NAME: &'static str = "dh";

    fn encrypt_ids(&self, ids: &[&str]) -> Vec<Integer> {
        self.0.encrypt_ids(ids)
    }

    fn reencrypt(&self, values: &[Integer]) -> Result<Vec<Integer>> {
        self.0
            .reencrypt(values)
            .map_err(|e| Error::param("dh_params", format!("the other party's values: {e}")))
    }

    fn width(&self) -> usize {
        self.0.group().element_len()
    }

    fn encode(&self, values: &[Integer]) -> Vec<u8> {
        self.0.to_bytes(values)
    }

    fn decode(&self, name: &str, from: Party, bytes: &[u8]) -> Result<Vec<Integer>> {
        self.0.from_bytes(bytes).map_err(|e| {
            Error::param(
                name,
                format!(
                    "{from} sent values that do not fit a {}-bit group ({e}); \
                     dh_params.key_length must be the same at every party",
                    self.0.group().bits()
                ),
            )
        })
    }

    fn hex(&self, value: &Integer) -> String {
        value.to_string_radix(16)
    }

    fn secret_hex(&self) -> String {
        self.0.secret().to_string_radix(16)
    }
}

/// Runs the flow at this party on `ids`.
pub(crate) fn run<C: Cipher>(
    ctx: &TaskContext<'_>,
    cipher: &C,
    ids: &[&str],
    goal: Goal,
) -> Result<Found> {
    let fed = ctx.federation()?;
    let tag = C::NAME;
    let mine = cipher.encrypt_ids(ids);
    match ctx.role {
        Role::Guest => {
            let hosts = hosts_of(ctx)?;
            fed.remote_bytes("guest_first", tag, &cipher.encode(&mine), &hosts)?;
            let mut pairs_per_host = Vec::with_capacity(hosts.len());
            for host in &hosts {
                let bytes = fed.get_bytes("host_first", tag, *host)?;
                let theirs = cipher.decode("host_first", *host, &bytes)?;
                let theirs_double = cipher.reencrypt(&theirs)?;
                drop(theirs);
                let bytes = fed.get_bytes("guest_second", tag, *host)?;
                let mine_double = cipher.decode("guest_second", *host, &bytes)?;
                if mine_double.len() != mine.len() {
                    return Err(Error::param(
                        "guest_second",
                        format!(
                            "{host} returned {} values for {} ids",
                            mine_double.len(),
                            mine.len()
                        ),
                    ));
                }
                let pairs = fateflow_crypto::psi::intersect(&mine_double, &theirs_double);
                ctx.tracker.info(&format!(
                    "{} of our {} ids are also at {host}",
                    pairs.len(),
                    mine.len()
                ));
                pairs_per_host.push((*host, pairs));
            }
            finish_guest(fed, tag, ids.len(), pairs_per_host, goal)
        }
        _ => {
            let guest = guest_of(ctx)?;
            fed.remote_bytes("host_first", tag, &cipher.encode(&mine), &[guest])?;
            drop(mine);
            let bytes = fed.get_bytes("guest_first", tag, guest)?;
            let guest_first = cipher.decode("guest_first", guest, &bytes)?;
            let again = cipher.reencrypt(&guest_first)?;
            fed.remote_bytes("guest_second", tag, &cipher.encode(&again), &[guest])?;
            finish_host(fed, tag, guest, ids.len(), goal)
        }
    }
}
