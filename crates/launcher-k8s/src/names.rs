//! Kubernetes names and label values derived from FATE identifiers.

use sha2::{Digest, Sha256};

/// Longest object name that is also a valid label value (a Job's pods carry their
/// Job's name in the `job-name` label).
const NAME_MAX: usize = 63;
/// Longest label value.
const LABEL_MAX: usize = 63;
/// Hex digits of the hash that keeps shortened names unique.
const HASH_HEX: usize = 10;

/// The first [`HASH_HEX`] hex digits of the SHA-256 of `s`.
fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest
        .iter()
        .take(HASH_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The Job (and Secret prefix) name of a launch: `ff-<worker id, lowercase, other
/// characters as '-'>-<hash>`, a DNS-1123 label of at most 63 characters. The hash
/// is of the whole worker id, so two launches never share a name even when
/// their readable parts are cut or sanitised alike.
pub fn job_name(worker_id: &str) -> String {
    let mut readable = String::with_capacity(worker_id.len());
    for c in worker_id.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        // No runs of '-'.
        if c == '-' && readable.ends_with('-') {
            continue;
        }
        readable.push(c);
    }
    // "ff-" + readable + "-" + hash.
    let room = NAME_MAX - 3 - 1 - HASH_HEX;
    readable.truncate(room);
    let readable = readable.trim_matches('-');
    if readable.is_empty() {
        format!("ff-{}", short_hash(worker_id))
    } else {
        format!("ff-{readable}-{}", short_hash(worker_id))
    }
}

/// The name of the Secret holding a launch's token.
pub fn secret_name(worker_id: &str) -> String {
    format!("{}-token", job_name(worker_id))
}

/// `s` as a label value: characters outside `[A-Za-z0-9._-]` (a `%`, a `#`, a space)
/// become `_`, the value starts and ends with a letter or digit, and a value longer
/// than 63 characters keeps its start and ends with a hash of the whole. The exact
/// value always travels in an annotation.
pub fn label_value(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed == s && s.len() <= LABEL_MAX {
        return trimmed.to_string();
    }
    // Changed or too long: a readable head, then a hash of the original.
    let head = &trimmed[..trimmed.len().min(LABEL_MAX - 1 - HASH_HEX)];
    let head = head.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if head.is_empty() {
        short_hash(s)
    } else {
        format!("{head}-{}", short_hash(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_dns_label(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    }

    fn is_label_value(s: &str) -> bool {
        s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && (s.is_empty()
                || (s.as_bytes()[0].is_ascii_alphanumeric()
                    && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()))
    }

    #[test]
    fn job_names_are_dns_labels_and_unique() {
        let short = "202601011200000000001_reader_0_0_guest_9999";
        let n = job_name(short);
        assert!(is_dns_label(&n), "{n}");
        assert!(n.starts_with("ff-202601011200000000001-reader-0-0-guest-9999-"));
        let long = format!(
            "{}_{}_0_host_10000",
            "j".repeat(40),
            "Component_".repeat(12)
        );
        let a = job_name(&long);
        let b = job_name(&long.replace("_0_host", "_1_host"));
        assert!(is_dns_label(&a) && is_dns_label(&b), "{a} {b}");
        assert_eq!(a.len(), 63);
        assert_ne!(a, b, "cut names keep the hash of the whole id");
        assert!(is_dns_label(&job_name("___")));
        assert!(secret_name(&long).len() <= 253);
    }

    #[test]
    fn label_values_are_valid_and_kept_when_already_valid() {
        assert_eq!(label_value("guest"), "guest");
        assert_eq!(label_value("9999"), "9999");
        assert_eq!(
            label_value("202601011200000000001"),
            "202601011200000000001"
        );
        for raw in [
            "a%20b",
            "model#1",
            "_lead",
            &"x".repeat(200),
            "%%%",
            "",
            "é-unicode",
        ] {
            let v = label_value(raw);
            assert!(is_label_value(&v), "{raw:?} -> {v:?}");
        }
        assert_ne!(label_value("a%b"), label_value("a#b"));
        assert_ne!(
            label_value(&format!("{}1", "t".repeat(80))),
            label_value(&format!("{}2", "t".repeat(80)))
        );
    }
}
