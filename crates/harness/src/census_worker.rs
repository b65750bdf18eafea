//! Where a watcher (and `run --no-raw-snapshots`) turns a snapshot into its census: on a
//! thread of its own, or in a child process.
//!
//! A child is what a long watch wants. Parsing a snapshot takes about twice the heap's
//! size for a few seconds; in the watcher that peak would leave glibc's arenas fragmented
//! for the weeks it runs (measured on a watch taking a snapshot of a 10 MB heap every
//! 30 s: 0.7 MB more anonymous memory after a minute, 1.0 MB more after six), and a parse
//! that runs out of memory would take the watcher down with it. In a child the memory goes
//! back to the system at exit and a failure costs one census. The child is this program again, run as
//! `PROGRAM census FILE --name NAME [limits]` ([`CensusWorker::Process`]), printing the
//! [`SnapshotCensus`] as JSON on stdout.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use leaktrail_analysis::{CensusLimits, HeapAnalysis, LeakWindow, SnapshotCensus};
use leaktrail_snapshot::{HeapSnapshot, ParseOptions};

/// Where snapshots are parsed into censuses.
#[derive(Clone, Debug, Default)]
pub enum CensusWorker {
    /// On a worker thread of the watcher (for library users and tests).
    #[default]
    Thread,
    /// In a child process: this program (a `leaktrail` binary) with the arguments of
    /// [`CensusWorker::args`].
    Process(PathBuf),
}

impl CensusWorker {
    /// The census of the snapshot at `path`, recorded under the file name `name`, with its
    /// leak roots against the censuses `window` names.
    pub fn census(
        &self,
        path: &Path,
        name: &str,
        limits: &CensusLimits,
        window: Option<&LeakWindow>,
    ) -> Result<SnapshotCensus, String> {
        match self {
            CensusWorker::Thread => census_of_file(path, name, limits, window),
            CensusWorker::Process(program) => census_in_child(program, path, name, limits, window),
        }
    }

    /// Starts a census of a snapshot that will be written into the returned
    /// [`StreamingCensus`]'s input, recorded under `name`.
    pub fn stream(
        &self,
        name: &str,
        limits: &CensusLimits,
        window: Option<&LeakWindow>,
    ) -> Result<StreamingCensus, String> {
        match self {
            CensusWorker::Process(program) => {
                let mut child = census_command(program, Path::new("-"), name, limits, window)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
                let input = child
                    .stdin
                    .take()
                    .map(|s| std::fs::File::from(std::os::fd::OwnedFd::from(s)));
                Ok(StreamingCensus {
                    input,
                    result: StreamResult::Child(child),
                })
            }
            CensusWorker::Thread => {
                let (read, write) = rustix::pipe::pipe()
                    .map_err(|e| format!("cannot make a pipe for the census: {e}"))?;
                let (name, limits, window) = (name.to_owned(), *limits, window.cloned());
                let thread = std::thread::spawn(move || {
                    let mut read = std::fs::File::from(read);
                    census_of_stream(&mut read, &name, &limits, window.as_ref())
                });
                Ok(StreamingCensus {
                    input: Some(std::fs::File::from(write)),
                    result: StreamResult::Thread(thread),
                })
            }
        }
    }

    /// The arguments after the program name that make `leaktrail` print the census of
    /// `path` (the CLI's hidden `census` subcommand parses exactly these; `-` is stdin).
    pub fn args(
        path: &Path,
        name: &str,
        limits: &CensusLimits,
        window: Option<&LeakWindow>,
    ) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["census".into(), path.into(), "--name".into()];
        args.push(name.into());
        for (flag, value) in [
            ("--classes", limits.classes_by_self_size as u64),
            ("--retained-classes", limits.classes_by_retained_size as u64),
            ("--count-classes", limits.classes_by_count as u64),
            ("--collections", limits.collections as u64),
            ("--min-collection-entries", limits.min_collection_entries),
        ] {
            args.push(flag.into());
            args.push(value.to_string().into());
        }
        if let Some(w) = window {
            args.extend(["--base".into(), w.base.clone().into()]);
            args.extend(["--base-max-id".into(), w.base_max_id.to_string().into()]);
            args.extend(["--target".into(), w.target.clone().into()]);
            args.extend(["--target-max-id".into(), w.target_max_id.to_string().into()]);
        }
        args
    }
}

/// The most a streamed snapshot may be: a bound on what a runaway stream makes the census
/// hold (V8 itself cannot build a snapshot of a heap much over 4 GB).
pub const MAX_STREAM_BYTES: usize = 64 << 30;

/// Parses and analyses a snapshot read from `stream` (to its end) and takes its census,
/// recorded under `name`: no file is ever written.
pub fn census_of_stream(
    stream: &mut dyn std::io::Read,
    name: &str,
    limits: &CensusLimits,
    window: Option<&LeakWindow>,
) -> Result<SnapshotCensus, String> {
    let snap = HeapSnapshot::from_stream(stream, name, MAX_STREAM_BYTES, &ParseOptions::default())
        .map_err(|e| e.to_string())?;
    let analysis = HeapAnalysis::new(&snap);
    Ok(SnapshotCensus::of(&analysis, name, limits, window))
}

/// A census taken while its snapshot is written into [`StreamingCensus::input`]: the
/// snapshot goes through a pipe, never through a file.
pub struct StreamingCensus {
    input: Option<std::fs::File>,
    result: StreamResult,
}

enum StreamResult {
    Child(std::process::Child),
    Thread(std::thread::JoinHandle<Result<SnapshotCensus, String>>),
}

impl StreamingCensus {
    /// Where the snapshot's bytes go.
    pub fn input(&mut self) -> &mut std::fs::File {
        // Set at creation and taken only by `finish`, which consumes `self`.
        self.input.as_mut().expect("the input is open until finish")
    }

    /// Closes the input (the end of the snapshot) and waits for the census.
    pub fn finish(mut self) -> Result<SnapshotCensus, String> {
        drop(self.input.take());
        match self.result {
            StreamResult::Child(child) => {
                let output = child
                    .wait_with_output()
                    .map_err(|e| format!("the census process: {e}"))?;
                census_from_output(output)
            }
            StreamResult::Thread(thread) => thread
                .join()
                .unwrap_or_else(|_| Err("the census thread panicked".into())),
        }
    }

    /// Gives up: the census process is killed (a snapshot cut short).
    pub fn abandon(mut self) {
        drop(self.input.take());
        match self.result {
            StreamResult::Child(mut child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            // The parse ends at the pipe's end with an error, which is dropped.
            StreamResult::Thread(thread) => drop(thread.join()),
        }
    }
}

/// Parses and analyses the snapshot at `path` and takes its census (what the child runs).
pub fn census_of_file(
    path: &Path,
    name: &str,
    limits: &CensusLimits,
    window: Option<&LeakWindow>,
) -> Result<SnapshotCensus, String> {
    let snap = HeapSnapshot::open(path, &ParseOptions::default()).map_err(|e| e.to_string())?;
    let analysis = HeapAnalysis::new(&snap);
    Ok(SnapshotCensus::of(&analysis, name, limits, window))
}

/// `program census PATH …` in a process group of its own: a Ctrl-C meant for the watcher
/// does not cut a census short (the watcher waits for censuses in flight before it exits).
fn census_command(
    program: &Path,
    path: &Path,
    name: &str,
    limits: &CensusLimits,
    window: Option<&LeakWindow>,
) -> Command {
    let mut command = Command::new(program);
    command
        .args(CensusWorker::args(path, name, limits, window))
        .process_group(0);
    command
}

fn census_in_child(
    program: &Path,
    path: &Path,
    name: &str,
    limits: &CensusLimits,
    window: Option<&LeakWindow>,
) -> Result<SnapshotCensus, String> {
    let output = census_command(program, path, name, limits, window)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    census_from_output(output)
}

/// The census a child printed, or why it printed none.
fn census_from_output(output: std::process::Output) -> Result<SnapshotCensus, String> {
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = match (output.status.code(), output.status.signal()) {
            (_, Some(libc::SIGKILL)) => "was killed (SIGKILL: out of memory?)".to_owned(),
            (_, Some(sig)) => format!("died of signal {sig}"),
            (code, None) => format!("exited with {}", code.unwrap_or(-1)),
        };
        return Err(match stderr.lines().last() {
            Some(line) => format!("the census process {why}: {line}"),
            None => format!("the census process {why}"),
        });
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("the census process printed no census: {e}"))
}
