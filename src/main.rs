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
    return_large_frees_to_the_system();
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("leaktrail: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

/// Makes glibc's malloc serve every allocation of 1 MiB or more with its own mapping, which
/// `free` unmaps, at once.
///
/// By default glibc raises that threshold each time such a block is freed, up to 32 MiB,
/// and blocks under it come from the heap, which keeps freed memory. The analysis of a large
/// snapshot allocates and frees arrays of 4 bytes a node (24 MiB at 6 M nodes) phase after
/// phase: the freed ones stayed resident and added up, on one thread's arena and another's
/// (the phases that run on two cores), so the peak RSS of `summary` was set by what was
/// already freed, not by what was in use (measured: 474 MiB against 418 MiB in use at the
/// peak, on a 481 MiB snapshot). A fixed threshold also turns the raising off.
fn return_large_frees_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; it is called before any other thread
    // exists, and a refused value (it returns 0) leaves malloc as it was.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
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
