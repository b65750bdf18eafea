//! V8 profiles: parse them, fold them into stacks, draw flame graphs.
//!
//! Two formats, both JSON, both written by Node itself and returned by the inspector:
//!
//! **CPU profiles** (`.cpuprofile`): what `node --cpu-prof` writes, and the `profile` of
//! the answer to the DevTools protocol's `Profiler.stop`:
//!
//! ```text
//! { "nodes": [ { "id": 1, "callFrame": { "functionName": "(root)", "url": "", "lineNumber": -1,
//!                                         "columnNumber": -1, "scriptId": "0" },
//!                "hitCount": 0, "children": [2, 3] }, … ],
//!   "startTime": µs, "endTime": µs,
//!   "samples": [node id, …],          // the leaf node of each sample, in time order
//!   "timeDeltas": [µs, …] }           // time since the previous sample (the first: since startTime)
//! ```
//!
//! The nodes form a call tree (`children` are node ids; the root is `(root)`). A sample
//! lasts until the next one, so sample *i* weighs `timeDeltas[i + 1]` µs and the last one
//! lasts until `endTime`, as Chrome DevTools and speedscope count it ([`CpuWeight::Time`]);
//! [`CpuWeight::Samples`] counts samples instead. A profile without `samples` (older
//! writers) is weighed by each node's `hitCount`.
//!
//! **Sampling heap profiles** (`.heapprofile`): what `node --heap-prof` writes, and the
//! `profile` of the answer to `HeapProfiler.stopSampling`:
//!
//! ```text
//! { "head": { "callFrame": {…}, "selfSize": bytes, "id": 1, "children": [ {…nested nodes…} ] },
//!   "samples": [ { "size": bytes, "nodeId": 7, "ordinal": 1 }, … ] }
//! ```
//!
//! Here the call tree is nested; `selfSize` is the (scaled) number of bytes allocated in
//! that function itself and still alive when sampling stopped — V8 forgets samples whose
//! objects were collected — so the profile shows where the memory that is still held was
//! allocated. Folded stacks weigh each node by `selfSize` bytes.
//!
//! [`Profile::read`] tells the two apart by content (`nodes` or `head`; a whole inspector
//! answer `{"profile": …}` is accepted too). [`FoldedStacks`] are the lines
//! `outer;…;inner weight` that flame-graph tools read; frames are named the way Chrome
//! DevTools and speedscope show them, `functionName (file.js:line)` ([`CallFrame::label`]).
//! `(root)` is left out; `(program)`, `(idle)` and `(garbage collector)` stay, they are time
//! too. [`write_flame_graph`] draws an SVG with the [`inferno`] crate.
//!
//! Licences: this crate is MIT OR Apache-2.0 like the rest of leaktrail; `inferno`, which
//! it links for the SVG, is CDDL-1.0 (a file-level copyleft: inferno's own files stay under
//! CDDL, and its source is available on crates.io).

#![deny(missing_docs)]

mod cpu;
mod flame;
mod folded;
mod frame;
mod heap;

use std::path::Path;

use serde_json::Value;

pub use cpu::{CpuProfile, CpuProfileNode, CpuWeight};
pub use flame::write_flame_graph;
pub use folded::{FoldedStacks, Unit};
pub use frame::CallFrame;
pub use heap::{HeapProfile, HeapProfileNode, HeapSample};

/// JSON nested deeper than this is refused before parsing: a heap profile nests two levels
/// per stack frame and V8 records at most 128 frames, so real profiles stay far below, and
/// parsing recurses once per level.
pub const MAX_NESTING: usize = 1024;

/// The two kinds of profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileKind {
    /// A CPU profile (`.cpuprofile`).
    Cpu,
    /// A sampling heap profile (`.heapprofile`).
    Heap,
}

impl std::fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProfileKind::Cpu => "V8 CPU profile",
            ProfileKind::Heap => "V8 sampling heap profile",
        })
    }
}

/// What is wrong with a profile. `source` names the file (or the inspector command) it
/// came from.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{source_name}: cannot read: {error}")]
    Io {
        /// Where the profile came from.
        source_name: String,
        /// The cause.
        error: std::io::Error,
    },
    /// Not JSON.
    #[error("{source_name}: not JSON: {error}")]
    Json {
        /// Where the profile came from.
        source_name: String,
        /// The parser's message, with line and column.
        error: serde_json::Error,
    },
    /// Nested deeper than [`MAX_NESTING`].
    #[error("{source_name}: JSON nested deeper than {MAX_NESTING} levels; not a V8 profile")]
    TooDeep {
        /// Where the profile came from.
        source_name: String,
    },
    /// JSON, but neither kind of profile.
    #[error("{source_name}: not a V8 profile: expected a CPU profile (\"nodes\", \"samples\") or a sampling heap profile (\"head\"), found {found}")]
    NotAProfile {
        /// Where the profile came from.
        source_name: String,
        /// What the JSON holds instead.
        found: String,
    },
    /// The right kind, but a field is missing or of the wrong type.
    #[error("{source_name}: not a valid {kind}: {detail}")]
    Shape {
        /// Where the profile came from.
        source_name: String,
        /// The kind it looked like.
        kind: ProfileKind,
        /// What is wrong.
        detail: String,
    },
    /// A sample or a node refers to a node id that is not in the profile.
    #[error("{source_name}: node {id}, referred to by {referrer}, is not in the profile")]
    MissingNode {
        /// Where the profile came from.
        source_name: String,
        /// Who refers to it (`sample 12`, `the children of node 3`).
        referrer: String,
        /// The missing id.
        id: u64,
    },
}

/// A parsed profile of either kind.
#[derive(Clone, Debug)]
pub enum Profile {
    /// A CPU profile.
    Cpu(CpuProfile),
    /// A sampling heap profile.
    Heap(HeapProfile),
}

impl Profile {
    /// Reads and parses a profile file of either kind.
    pub fn read(path: &Path) -> Result<Profile, ProfileError> {
        let source_name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|error| ProfileError::Io {
            source_name: source_name.clone(),
            error,
        })?;
        Profile::from_slice(&bytes, &source_name)
    }

    /// Parses a profile from JSON text; `source_name` names it in errors.
    pub fn from_slice(bytes: &[u8], source_name: &str) -> Result<Profile, ProfileError> {
        if nesting_depth(bytes) > MAX_NESTING {
            return Err(ProfileError::TooDeep {
                source_name: source_name.to_owned(),
            });
        }
        on_deep_stack(source_name, || {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            // Bounded by the scan above instead of serde_json's 128 levels, which a heap
            // profile of a 64-frame stack already exceeds.
            de.disable_recursion_limit();
            let value = serde::Deserialize::deserialize(&mut de)
                .and_then(|v: Value| de.end().map(|_| v))
                .map_err(|error| ProfileError::Json {
                    source_name: source_name.to_owned(),
                    error,
                })?;
            parse_value(value, source_name)
        })
    }

    /// Parses a profile from a JSON value, such as the answer of `Profiler.stop`.
    pub fn from_value(value: Value, source_name: &str) -> Result<Profile, ProfileError> {
        on_deep_stack(source_name, || parse_value(value, source_name))
    }

    /// Which kind it is.
    pub fn kind(&self) -> ProfileKind {
        match self {
            Profile::Cpu(_) => ProfileKind::Cpu,
            Profile::Heap(_) => ProfileKind::Heap,
        }
    }

    /// Folded stacks with the default weights: time for CPU profiles, bytes for heap
    /// profiles.
    pub fn fold(&self) -> FoldedStacks {
        match self {
            Profile::Cpu(p) => p.fold(CpuWeight::Time),
            Profile::Heap(p) => p.fold(),
        }
    }
}

/// Parsing and dropping JSON recurse once per nesting level, several KiB per level in a
/// debug build: more than a default 2 MiB thread stack holds at [`MAX_NESTING`]. So it
/// runs on a thread of its own with room for it (only the pages touched are committed).
fn on_deep_stack(
    source_name: &str,
    parse: impl FnOnce() -> Result<Profile, ProfileError> + Send,
) -> Result<Profile, ProfileError> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("profile-parse".into())
            .stack_size(64 << 20)
            .spawn_scoped(scope, parse)
            .map_err(|error| ProfileError::Io {
                source_name: source_name.to_owned(),
                error,
            })?;
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn parse_value(value: Value, source_name: &str) -> Result<Profile, ProfileError> {
    let shape = |kind, e: serde_json::Error| ProfileError::Shape {
        source_name: source_name.to_owned(),
        kind,
        detail: e.to_string(),
    };
    let Value::Object(mut map) = value else {
        return Err(ProfileError::NotAProfile {
            source_name: source_name.to_owned(),
            found: format!("a JSON {}", json_type(&value)),
        });
    };
    if !map.contains_key("nodes") && !map.contains_key("head") {
        // A whole inspector answer: `{"profile": {…}}`.
        if let Some(inner @ Value::Object(_)) = map.remove("profile") {
            return parse_value(inner, source_name);
        }
    }
    if map.contains_key("nodes") {
        let profile: CpuProfile =
            serde_json::from_value(Value::Object(map)).map_err(|e| shape(ProfileKind::Cpu, e))?;
        profile.check(source_name)?;
        Ok(Profile::Cpu(profile))
    } else if map.contains_key("head") {
        let profile: HeapProfile =
            serde_json::from_value(Value::Object(map)).map_err(|e| shape(ProfileKind::Heap, e))?;
        Ok(Profile::Heap(profile))
    } else {
        let mut keys: Vec<&str> = map.keys().map(String::as_str).take(6).collect();
        if map.len() > keys.len() {
            keys.push("…");
        }
        Err(ProfileError::NotAProfile {
            source_name: source_name.to_owned(),
            found: if keys.is_empty() {
                "an empty object".to_owned()
            } else {
                format!("an object with keys {}", keys.join(", "))
            },
        })
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The deepest nesting of arrays and objects in JSON text (strings skipped). Invalid JSON
/// gets some number; the parser reports what is wrong with it.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_skips_strings() {
        assert_eq!(nesting_depth(br#"{"a":[1,{"b":"[[[{{"}]}"#), 3);
        assert_eq!(nesting_depth(br#"["\"[", []]"#), 2);
        assert_eq!(nesting_depth(b"12"), 0);
    }

    #[test]
    fn tells_what_is_not_a_profile() {
        let err = Profile::from_slice(br#"{"version": 1, "data": []}"#, "x.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.json: not a V8 profile: expected a CPU profile (\"nodes\", \"samples\") or a sampling heap profile (\"head\"), found an object with keys data, version"
        );
        let err = Profile::from_slice(b"[1, 2]", "x.json").unwrap_err();
        assert!(err.to_string().ends_with("found a JSON array"), "{err}");
        let err = Profile::from_slice(b"{\"nodes\": [", "cut.cpuprofile").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cut.cpuprofile: not JSON: EOF while parsing"),
            "{err}"
        );
        let err = Profile::from_slice(br#"{"nodes": 3}"#, "p.cpuprofile").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p.cpuprofile: not a valid V8 CPU profile: invalid type: integer `3`, expected a sequence"),
            "{err}"
        );
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_NESTING + 1),
            "]".repeat(MAX_NESTING + 1)
        );
        let err = Profile::from_slice(deep.as_bytes(), "deep.json").unwrap_err();
        assert!(matches!(err, ProfileError::TooDeep { .. }), "{err}");
    }
}
