//! Random bytes into every gateway message decoder and the checks that follow
//! (federation key, party, command and task-report JSON): nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fateflow_gateway::proto::decode_any(data);
});
