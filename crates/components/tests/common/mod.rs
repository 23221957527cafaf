//! Helpers shared by the domain tests.

use std::path::PathBuf;

/// Reads `examples/jobs/<name>/{dsl,conf}.json` from the workspace root.
pub(crate) fn example(name: &str) -> (String, String) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/jobs")
        .join(name);
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
    };
    (read("dsl.json"), read("conf.json"))
}
