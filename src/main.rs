//! `leaktrail`: find memory leaks in long-running services.
//!
//! This binary only wires the library crates together (their map is in
//! `docs/internals.md`): each subcommand lives in its own module under `cli/`, which turns
//! its flags into a validated plan, calls one library function (`leaktrail-harness` for
//! `run`, `leaktrail-watch`, `leaktrail-trace`, `leaktrail-trend`, `leaktrail-serve`, or
//! `leaktrail-snapshot` with `leaktrail-analysis` for the snapshot commands) and renders
//! the result with `leaktrail-report`. No command module calls another.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("leaktrail: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line: "<file>: <what is wrong> (at byte N)", each
/// context the CLI added first.
///
/// The workspace's errors say their cause in their own message and do not also return it
/// as `source()`; contexts added with anyhow do not say it, and the chain adds it once. A
/// cause whose words already end the line is still left out: an error of another crate
/// may both say its cause and return it, and a sentence said twice reads as a bug.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !line.ends_with(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line
}
