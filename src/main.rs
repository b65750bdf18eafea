//! `leaktrail`: find memory leaks in long-running services.
//!
//! This binary only wires the library crates together: `leaktrail-snapshot` parses heap
//! snapshots, `leaktrail-analysis` aggregates and diffs them, `leaktrail-report` renders
//! the results. Each subcommand lives in its own module under `cli/`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            // One line per cause: "leaktrail: <file>: <what is wrong> (at byte N)".
            let mut msg = format!("leaktrail: {err}");
            for cause in err.chain().skip(1) {
                msg.push_str(&format!(": {cause}"));
            }
            eprintln!("{msg}");
            ExitCode::from(2)
        }
    }
}
