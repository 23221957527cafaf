//! Job and task identifiers in FATE's format.

use std::sync::Mutex;

/// Makes FATE job ids: `YYYYmmddHHMMSSffffff` (local time to the microsecond) followed
/// by a counter that restarts whenever the timestamp changes.
///
/// Ids from one generator are strictly increasing as strings of equal length, hence
/// unique, even when many are made in the same microsecond. The clock is a parameter so
/// that the generator stays pure; the server passes the wall clock.
///
/// Several servers of one site each set a distinct tag (their two-digit instance slot),
/// written between the timestamp and the counter, so their ids never collide.
#[derive(Debug, Default)]
pub struct JobIdGenerator {
    last: Mutex<(String, u32)>,
    tag: std::sync::OnceLock<String>,
}

/// The largest counter FATE appends (0…99999).
const MAX_COUNTER: u32 = 99_999;

impl JobIdGenerator {
    /// A new generator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the instance tag (once): ids become `timestamp`, `tag`, counter.
    pub fn set_tag(&self, tag: String) {
        let _ = self.tag.set(tag);
    }

    /// The next id for a clock reading formatted as `YYYYmmddHHMMSSffffff`.
    ///
    /// A reading earlier than the previous one (clock stepped back) keeps the previous
    /// timestamp, so ids never repeat. When the counter is exhausted within one
    /// timestamp, the timestamp is advanced by one microsecond.
    pub fn next_id(&self, timestamp: &str) -> String {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let (ref mut ts, ref mut counter) = *last;
        if timestamp > ts.as_str() {
            *ts = timestamp.to_string();
            *counter = 0;
        } else if *counter >= MAX_COUNTER {
            *ts = increment_decimal(ts);
            *counter = 0;
        } else {
            *counter += 1;
        }
        let tag = self.tag.get().map(String::as_str).unwrap_or("");
        format!("{ts}{tag}{counter}")
    }
}

#[cfg(test)]
mod tag_tests {
    use super::*;

    #[test]
    fn tagged_generators_never_collide() {
        let (a, b) = (JobIdGenerator::new(), JobIdGenerator::new());
        a.set_tag("00".into());
        b.set_tag("01".into());
        let ts = "20261207070000123456";
        let ids: std::collections::BTreeSet<String> = (0..50)
            .flat_map(|_| [a.next_id(ts), b.next_id(ts)])
            .collect();
        assert_eq!(ids.len(), 100);
        assert_eq!(a.next_id(ts), format!("{ts}0050"));
    }
}

fn increment_decimal(s: &str) -> String {
    let mut digits: Vec<u8> = s.bytes().collect();
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            break;
        }
    }
    String::from_utf8(digits).unwrap_or_default()
}

/// Formats a civil time as FATE's 20-digit job timestamp.
#[allow(clippy::too_many_arguments)]
pub fn format_timestamp(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micros: u32,
) -> String {
    format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}{micros:06}")
}

/// The task id of a component in a job: `<job_id>_<component_name>`.
pub fn task_id(job_id: &str, component_name: &str) -> String {
    format!("{job_id}_{component_name}")
}

/// The FATE model id of a job: for each role in name order, `role-<its party ids,
/// sorted and unique, joined by "_">`, all joined by `#`, then `#model`
/// (`arbiter-10000#guest-9999#host-10000_10001#model`).
pub fn model_id(parties: &[crate::Party]) -> String {
    let mut by_role: std::collections::BTreeMap<&str, std::collections::BTreeSet<u64>> =
        std::collections::BTreeMap::new();
    for p in parties {
        by_role
            .entry(p.role.as_str())
            .or_default()
            .insert(p.party_id);
    }
    let mut keys: Vec<String> = by_role
        .into_iter()
        .map(|(role, ids)| {
            let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
            format!("{role}-{}", ids.join("_"))
        })
        .collect();
    keys.push("model".to_string());
    keys.join("#")
}

/// FATE's party model id: `<role>#<party_id>#<model_id>`.
pub fn party_model_id(model_id: &str, role: crate::Role, party_id: u64) -> String {
    format!("{role}#{party_id}#{model_id}")
}

/// The parts of a party model id: role, party id, model id.
pub fn parse_party_model_id(s: &str) -> Option<(crate::Role, u64, &str)> {
    let mut parts = s.splitn(3, '#');
    let role = parts.next()?.parse().ok()?;
    let party = parts.next()?.parse().ok()?;
    let model_id = parts.next().filter(|m| !m.is_empty())?;
    Some((role, party, model_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Party, Role};

    #[test]
    fn party_model_ids_parse_back() {
        let id = party_model_id("guest-9999#host-10000#model", Role::Host, 10000);
        assert_eq!(
            parse_party_model_id(&id),
            Some((Role::Host, 10000, "guest-9999#host-10000#model"))
        );
        assert_eq!(parse_party_model_id("guest#x#m"), None);
        assert_eq!(parse_party_model_id("guest#9999#"), None);
        assert_eq!(parse_party_model_id("chef#9999#m"), None);
    }
    use std::collections::HashSet;

    #[test]
    fn ids_in_one_microsecond_are_unique_and_ordered() {
        let g = JobIdGenerator::new();
        let ts = format_timestamp(2021, 11, 6, 16, 8, 42, 437262);
        let first = g.next_id(&ts);
        assert_eq!(first, "202111061608424372620");
        let mut seen = HashSet::new();
        seen.insert(first);
        for _ in 0..250_000 {
            assert!(seen.insert(g.next_id(&ts)));
        }
    }

    #[test]
    fn clock_going_back_does_not_repeat() {
        let g = JobIdGenerator::new();
        let a = g.next_id("20211106160842437262");
        let b = g.next_id("20211106160842000000");
        assert_ne!(a, b);
        assert!(b.starts_with("20211106160842437262"));
    }

    #[test]
    fn counter_overflow_advances_timestamp() {
        assert_eq!(
            increment_decimal("20211106160842999999"),
            "20211106160843000000"
        );
    }

    #[test]
    fn model_id_matches_fate() {
        let parties = [
            Party {
                role: Role::Guest,
                party_id: 9999,
            },
            Party {
                role: Role::Host,
                party_id: 10000,
            },
            Party {
                role: Role::Arbiter,
                party_id: 10000,
            },
        ];
        assert_eq!(
            model_id(&parties),
            "arbiter-10000#guest-9999#host-10000#model"
        );
        let hosts = [
            Party {
                role: Role::Host,
                party_id: 10001,
            },
            Party {
                role: Role::Guest,
                party_id: 9999,
            },
            Party {
                role: Role::Host,
                party_id: 9998,
            },
        ];
        assert_eq!(model_id(&hosts), "guest-9999#host-9998_10001#model");
        assert_eq!(
            party_model_id("guest-9999#model", Role::Guest, 9999),
            "guest#9999#guest-9999#model"
        );
    }
}
