//! Where the memory a grown test worker kept was allocated, without a heap snapshot.
//!
//! A heap snapshot of the worker that leaks names the culprit, but V8 builds it from the
//! whole heap: 6–20 s for a ~50 MiB leak on a loaded 2-core machine, on the worker's
//! critical path, which kept runs with snapshots at 2.0–4.8× the run alone
//! (`tools/bench/runs/2026-12-07-trace-lazy-snapshots.md`). V8's sampling heap profiler
//! answers the question a reader asks first — what did this file keep, and where was it
//! allocated — for a fraction of that: trace's preload ([`crate::hooks`]) starts it
//! (`HeapProfiler.startSampling`, through an in-process inspector session of the worker's
//! own isolate: a worker thread's own heap in a thread) at the worker's first file; V8
//! samples an allocation about every [`SAMPLING_BYTES`] bytes with its JavaScript stack and
//! drops the sample when the object is collected. After a file that grew the worker's heap
//! (after a full GC) by `--snapshot-growth` since its first file's start (then since the
//! last read), the preload reads the profile and sums the samples allocated since the last
//! read by allocation site: the first frame in the project's own code (not `node_modules`,
//! not Node's, not the preload's), else the first function of a script V8 gave no name (a
//! test file Mocha imported), else the allocating frame. Reading ~1,500 samples took
//! 0.1–0.2 s where a snapshot of the same heap took 9 s (measured in
//! `tools/bench/runs/2026-12-07-trace-sampling.md`).
//!
//! What it cannot say: a site is a function (its line and column are where the function
//! begins, not the allocating statement: V8 keys its samples by function), sizes are
//! estimates from samples (each stands for about [`SAMPLING_BYTES`] bytes), and it names no
//! retainer — who holds the memory is a heap snapshot's to say (`--snapshot-every`).

use serde::{Deserialize, Serialize};

use leaktrail_analysis::units::signed_bytes;

/// The environment variable that turns the profiler on in the preload: its mean sampling
/// interval, bytes.
pub const SAMPLING_ENV: &str = "LEAKTRAIL_ALLOC_SAMPLING_BYTES";

/// The environment variable giving how much a worker's heap grows before its profile is
/// read, bytes (`--snapshot-growth`).
pub const GROWTH_ENV: &str = "LEAKTRAIL_ALLOC_GROWTH_BYTES";

/// V8's default mean sampling interval (32 KiB): at ~1,500 live samples for a 50 MiB leak,
/// enough to rank its sites, cheap enough to leave on.
pub const SAMPLING_BYTES: u64 = 32 * 1024;

/// The sites kept per read, largest first.
pub const TOP_SITES: usize = 10;

/// One allocation site: the function whose allocations are still live, with their size.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct AllocationSite {
    /// The function's name (empty for an anonymous one).
    #[serde(default)]
    pub function: String,
    /// Its script: a path or URL (empty for allocations with no JavaScript frame).
    #[serde(default)]
    pub url: String,
    /// Where the function begins, 1-based (0 when unknown). Signed: V8 gives positions
    /// in the script as compiled, and a module wrapped by its loader (Vitest's module
    /// runner) was seen at column -195.
    #[serde(default)]
    pub line: i64,
    /// Its column, 1-based (signed, as the line).
    #[serde(default)]
    pub column: i64,
    /// Bytes still live after a full GC, estimated from its samples.
    pub bytes: u64,
    /// The samples they come from.
    pub samples: u64,
    /// The function's script has no name in V8's profile (code a runner's loader compiled,
    /// as Mocha's test files): the line is unknown, and the file the worker ran says where.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unnamed_script: bool,
    /// The line and column were mapped back to the file's own through the inline source map
    /// of the code V8 ran (a runner transformed the file first: Vitest, babel-jest).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub source_mapped: bool,
}

impl AllocationSite {
    /// `function path:line`, the script shown as a path: relative to the current directory
    /// when it is inside it (`test/leaky.test.js:8`, as ripgrep shows paths), else whole.
    pub fn label(&self) -> String {
        let here = std::env::current_dir().ok();
        self.label_in(here.as_deref())
    }

    /// [`AllocationSite::label`], with paths inside `dir` shown relative to it.
    pub fn label_in(&self, dir: Option<&std::path::Path>) -> String {
        if self.url.is_empty() && !self.unnamed_script {
            return "(no JavaScript frame: V8 or Node internals)".to_owned();
        }
        let function = if self.function.is_empty() {
            "(anonymous)"
        } else {
            &self.function
        };
        if self.unnamed_script {
            return format!("{function} (in a script V8 gave no name)");
        }
        let path = self.url.strip_prefix("file://").unwrap_or(&self.url);
        let path = dir
            .and_then(|d| std::path::Path::new(path).strip_prefix(d).ok())
            .and_then(|p| p.to_str())
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        format!("{function} {path}:{}", self.line)
    }
}

/// What a grown worker kept, by allocation site: one read of its sampling profile after a
/// file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeptAllocations {
    /// The worker.
    pub pid: i32,
    /// Its thread: 0 for its main thread, else the worker thread whose own heap it is.
    pub thread: u32,
    /// Its runner.
    pub runner: String,
    /// The file after which it was read.
    pub file: String,
    /// The file after which the previous read was (its samples are not counted again), or
    /// null: since the worker's first file's start.
    pub since: Option<String>,
    /// When the read began, seconds from the command's start.
    pub t: f64,
    /// How long the read paused the worker, seconds.
    pub read_seconds: f64,
    /// The worker's heap after a full GC then, bytes.
    pub heap: u64,
    /// Its heap after a full GC at the previous read (or its first file's start), bytes.
    pub base_heap: u64,
    /// Live bytes the samples taken since stand for.
    pub sampled_bytes: u64,
    /// The samples taken since and still live.
    pub samples: u64,
    /// The largest sites, at most [`TOP_SITES`].
    pub sites: Vec<AllocationSite>,
}

impl KeptAllocations {
    /// `PID 41` or `thread 2 of PID 41`.
    pub fn worker(&self) -> String {
        match self.thread {
            0 => format!("PID {}", self.pid),
            t => format!("thread {t} of PID {}", self.pid),
        }
    }

    /// One sentence for the text report: the worker, the file, what it kept and its top
    /// `top` sites.
    pub fn sentence(&self, top: usize) -> String {
        let file = short(&self.file);
        let since = match &self.since {
            Some(f) => format!("since after {}", short(f)),
            None => "since its first file's start".to_owned(),
        };
        let sites: Vec<String> = self
            .sites
            .iter()
            .take(top)
            .map(|s| format!("{} {}", mib(s.bytes), s.label()))
            .collect();
        format!(
            "{} after {file}: heap {} {since} (after a full GC); still live, by allocation site (sampled, {} in {} samples; read in {:.2} s): {}.",
            self.worker(),
            signed_bytes(self.heap as i64 - self.base_heap as i64),
            mib(self.sampled_bytes),
            self.samples,
            self.read_seconds,
            if sites.is_empty() {
                "none sampled".to_owned()
            } else {
                sites.join("; ")
            }
        )
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A test file as the report shows it: its name.
fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_the_worker_the_file_and_its_top_sites() {
        let site = |function: &str, url: &str, line, mib: u64| AllocationSite {
            function: function.to_owned(),
            url: url.to_owned(),
            line,
            column: 1,
            bytes: mib << 20,
            samples: mib * 32,
            unnamed_script: false,
            source_mapped: false,
        };
        let k = KeptAllocations {
            pid: 41,
            thread: 2,
            runner: "vitest".to_owned(),
            file: "/w/test/leaky.test.js".to_owned(),
            since: None,
            t: 3.0,
            read_seconds: 0.12,
            heap: 60 << 20,
            base_heap: 12 << 20,
            sampled_bytes: 47 << 20,
            samples: 1504,
            sites: vec![
                site("audit", "file:///w/test/leaky.test.js", 8, 46),
                site("", "/w/lib/registry.js", 12, 1),
                site("", "", 0, 0),
            ],
        };
        assert_eq!(
            k.sentence(2),
            "thread 2 of PID 41 after leaky.test.js: heap +48.0 MiB since its first file's start (after a full GC); still live, by allocation site (sampled, 47.0 MiB in 1504 samples; read in 0.12 s): 46.0 MiB audit /w/test/leaky.test.js:8; 1.0 MiB (anonymous) /w/lib/registry.js:12."
        );
        assert_eq!(
            k.sites[2].label(),
            "(no JavaScript frame: V8 or Node internals)"
        );
        // A test file Mocha imported: V8 names the function but not its script.
        let mocha = AllocationSite {
            unnamed_script: true,
            ..site("audit", "", 0, 46)
        };
        assert_eq!(mocha.label(), "audit (in a script V8 gave no name)");
        // Inside the directory trace runs in: relative, as typed paths are; outside it,
        // and Node's own, whole.
        let dir = std::path::Path::new("/w");
        assert_eq!(k.sites[0].label_in(Some(dir)), "audit test/leaky.test.js:8");
        assert_eq!(
            k.sites[1].label_in(Some(std::path::Path::new("/elsewhere"))),
            "(anonymous) /w/lib/registry.js:12"
        );
        let internal = site("post", "node:inspector", 112, 1);
        assert_eq!(internal.label_in(Some(dir)), "post node:inspector:112");
    }
}
