//! Any bytes through what the commands do: `open` (whole and in small blocks, which must
//! agree), then summary, diff, leaks, retainers and the census on what it accepts. Never
//! a panic, never a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../exercise.rs");

fuzz_target!(|data: &[u8]| exercise(data));
