//! Any bytes: the parser returns a snapshot or an error, never panics; a snapshot it
//! accepts can be summarised.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(snap) = leaktrail_snapshot::HeapSnapshot::from_bytes(data, "fuzz.heapsnapshot") {
        let _ = leaktrail_analysis::Summary::of(&snap, "fuzz.heapsnapshot");
    }
});
