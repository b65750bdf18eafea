//! A small Chrome DevTools Protocol (CDP) client for Node's inspector.
//!
//! Node started with `--inspect=127.0.0.1:0` prints `Debugger listening on ws://…` on
//! stderr ([`listening_url`] reads that line, which avoids racing for a port). An
//! [`Inspector`] connects to that URL over a WebSocket and speaks JSON-RPC: each command
//! `{"id", "method", "params"}` gets a response with the same `id`; events (no `id`) arrive
//! in between. leaktrail needs a handful of methods, each with its own plain type:
//!
//! | method | use |
//! |---|---|
//! | `HeapProfiler.collectGarbage` | a full GC before each sample |
//! | `Runtime.getHeapUsage` | V8 heap used and total ([`HeapUsage`]) |
//! | `Runtime.evaluate` | `process.memoryUsage()` for external and array-buffer memory |
//! | `HeapProfiler.takeHeapSnapshot` | a snapshot, streamed as `addHeapSnapshotChunk` events straight to a 0600 file |
//! | `Profiler.enable`, `.setSamplingInterval`, `.start`, `.stop` | a CPU profile ([`profiler`]) |
//! | `HeapProfiler.startSampling`, `.stopSampling` | a sampling heap profile ([`profiler`]) |
//!
//! A generated CDP crate (chromiumoxide) models browsers and targets and fails on Node
//! (see `shared/research/rust-ecosystem.md` §4), hence this thin client. It is synchronous:
//! the harness samples one process at a time.
//!
//! A call waits for its answer as long as messages keep coming, and gives up after a
//! silence ([`Inspector::set_timeout`]). Given how long the target has been held back
//! ([`Inspector::set_held_back`]: waiting for a CPU, or stopped), the silence counts only
//! the time it could run: a slow snapshot on a busy machine is waited for, and a target
//! that does not answer although it could is given up on with [`InspectorError::Silent`],
//! which says how long was waited and how much of it the target was held back.

#![deny(missing_docs)]

mod discover;

pub use discover::url_on_port;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

pub mod profiler;
mod workers;

/// What can go wrong talking to an inspector.
///
/// Display and `Error` are written out rather than derived: `Io`'s field is named `source`
/// (callers build it by that name), which the derive would also return as `source()`, and
/// its message already says it; a renderer of the chain would say it twice.
#[derive(Debug)]
pub enum InspectorError {
    /// The WebSocket could not be opened or broke (boxed: the error is large).
    Socket(Box<tungstenite::Error>),
    /// The inspector answered with an error.
    Protocol {
        /// The command.
        method: String,
        /// Its error message.
        message: String,
    },
    /// The answer did not have the expected shape.
    BadAnswer {
        /// The command.
        method: String,
        /// What was wrong.
        detail: String,
    },
    /// Writing a snapshot failed.
    Io {
        /// The file.
        path: String,
        /// The cause, said in the message.
        source: std::io::Error,
    },
    /// The inspector closed the connection (the process exited?).
    Closed,
    /// The call stopped waiting for its answer because the abort flag was set
    /// ([`Inspector::set_abort_flag`]); the connection is still usable.
    Abandoned {
        /// The command.
        method: String,
    },
    /// Nothing came for the timeout ([`Inspector::set_timeout`]) of time the target could
    /// run (or for [`HELD_BACK_CEILING`] times the timeout at all).
    Silent {
        /// The command or event waited for.
        method: String,
        /// The silence, all of it.
        waited: Duration,
        /// The part of it the target was held back (waiting for a CPU, or stopped).
        held: Duration,
    },
}

impl std::fmt::Display for InspectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InspectorError::Socket(e) => write!(f, "inspector connection: {e}"),
            InspectorError::Protocol { method, message } => {
                write!(f, "inspector error in {method}: {message}")
            }
            InspectorError::BadAnswer { method, detail } => {
                write!(f, "unexpected inspector answer to {method}: {detail}")
            }
            InspectorError::Io { path, source } => write!(f, "writing {path}: {source}"),
            InspectorError::Closed => f.write_str("the inspector closed the connection"),
            InspectorError::Abandoned { method } => {
                write!(f, "gave up waiting for the answer to {method}")
            }
            InspectorError::Silent {
                method,
                waited,
                held,
            } => {
                let ran = waited.saturating_sub(*held);
                write!(f, "no answer to {method} for {:.1} s", ran.as_secs_f64())?;
                if !held.is_zero() {
                    write!(
                        f,
                        " of time the process could run ({:.1} s in all, {:.1} s of it waiting for a CPU or stopped)",
                        waited.as_secs_f64(),
                        held.as_secs_f64()
                    )?;
                }
                Ok(())
            }
        }
    }
}

// No `source()`: each message says its cause.
impl std::error::Error for InspectorError {}

impl From<tungstenite::Error> for InspectorError {
    fn from(e: tungstenite::Error) -> InspectorError {
        InspectorError::Socket(Box::new(e))
    }
}

/// V8 heap usage, from `Runtime.getHeapUsage`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HeapUsage {
    /// Bytes used by live objects (after a GC: the live heap).
    pub used_size: u64,
    /// Bytes the heap has reserved.
    pub total_size: u64,
}

/// `process.memoryUsage()` of the target, read with `Runtime.evaluate`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProcessMemory {
    /// Resident set size.
    pub rss: u64,
    /// V8 heap used.
    pub heap_used: u64,
    /// Memory of C++ objects bound to JS objects (Buffers, ArrayBuffers…).
    pub external: u64,
    /// ArrayBuffer and SharedArrayBuffer backing stores (part of `external`).
    #[serde(default)]
    pub array_buffers: u64,
}

/// Finds the WebSocket URL in a line Node prints on stderr:
/// `Debugger listening on ws://127.0.0.1:9229/0f2c…`.
pub fn listening_url(line: &str) -> Option<&str> {
    let rest = line.split("Debugger listening on ").nth(1)?;
    let url = rest.split_whitespace().next()?;
    url.starts_with("ws://").then_some(url)
}

/// The port of an inspector's address (`ws://127.0.0.1:9229/0f2c…` → 9229).
pub fn url_port(url: &str) -> Option<u16> {
    url.strip_prefix("ws://")?
        .split('/')
        .next()?
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}

/// True for what Node prints on stderr about the inspector leaktrail attached
/// (`Debugger attached.`, `For help, see: …`, `Waiting for the debugger to disconnect...`
/// at exit): leaktrail's noise, not the workload's. Callers that act on Node's exit line
/// look for it first.
pub fn is_inspector_chatter(line: &str) -> bool {
    line.starts_with("Waiting for the debugger to disconnect")
        || line.starts_with("Debugger attached")
        || line.starts_with("Debugger ending on")
        || line.starts_with("Debugger listening on")
        || line.starts_with("For help, see: https://nodejs.org")
}

/// A connection to one inspector.
pub struct Inspector {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Silence longer than this fails a call.
    timeout: Duration,
    /// When set (and true), a call waiting for its answer gives up.
    abort: Option<Arc<AtomicBool>>,
    /// How long the target has been held back so far (see [`Inspector::set_held_back`]).
    held_back: Option<HeldBackSource>,
    /// Binding calls whose payload starts with this are kept (see [`Inspector::keep`]).
    keep: Option<String>,
    /// The payloads kept, oldest first.
    kept: Vec<String>,
    /// The sessions of the target's worker threads, once followed
    /// ([`Inspector::follow_workers`]).
    workers: Option<Vec<String>>,
}

/// The time a target has been held back so far (it only grows): see
/// [`Inspector::set_held_back`].
pub type HeldBackSource = Arc<dyn Fn() -> Duration + Send + Sync>;

/// However long the target is held back, a call gives up after this many times the timeout
/// of silence: a process stopped for good must not hang the caller.
pub const HELD_BACK_CEILING: u32 = 10;

/// True when a wait of `waited`, `held` of it with the process held back (waiting for a
/// CPU, or stopped), is over `limit`: that much of time it could run, or
/// [`HELD_BACK_CEILING`] times it at all. The one rule for every such wait: an inspector
/// call's silence here, and `run`'s stall clock and wait for Node's exit.
pub fn past_limit(waited: Duration, held: Duration, limit: Duration) -> bool {
    waited.saturating_sub(held) >= limit || waited >= limit * HELD_BACK_CEILING
}

/// How often a waiting call looks at how long the target was held back.
const HELD_BACK_POLL: Duration = Duration::from_millis(500);

/// When a call last heard from the target, and how long it had been held back then.
#[derive(Clone, Copy, Debug)]
struct Heard {
    at: Instant,
    held: Duration,
}

impl Heard {
    /// The silence since, all of it, and the part the target was held back (given `held`
    /// so far), never more than the silence.
    fn silence(&self, held: Duration) -> (Duration, Duration) {
        let waited = self.at.elapsed();
        (waited, held.saturating_sub(self.held).min(waited))
    }
}

/// At most this many kept payloads wait to be taken; later ones are dropped.
const KEPT_MAX: usize = 100_000;

/// How often a waiting call looks at the abort flag.
const ABORT_POLL: Duration = Duration::from_millis(100);

impl Inspector {
    /// Connects to `url` (`ws://host:port/uuid`).
    pub fn connect(url: &str) -> Result<Inspector, InspectorError> {
        let (socket, _) = tungstenite::connect(url)?;
        let mut inspector = Inspector {
            socket,
            next_id: 1,
            timeout: Duration::from_secs(60),
            abort: None,
            held_back: None,
            keep: None,
            kept: Vec::new(),
            workers: None,
        };
        // A stuck target must not hang the harness: a full GC of a multi-GB heap takes
        // seconds, snapshot chunks arrive continuously, so a minute of silence is a fault.
        inspector.set_timeout(Duration::from_secs(60));
        Ok(inspector)
    }

    /// How long to wait for any message before giving up.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.apply_read_timeout();
    }

    /// While `flag` is true, a call that is waiting for its answer gives up within 0.1 s
    /// with [`InspectorError::Abandoned`], and the connection stays usable (the late
    /// answer is skipped). Unlike cutting the connection ([`Inspector::interrupt_handle`])
    /// this keeps the session, and what lives in it, such as a running profiler: Node
    /// that is exiting never answers a forced GC, but still answers `Profiler.stop`.
    /// `None` removes the flag.
    pub fn set_abort_flag(&mut self, flag: Option<Arc<AtomicBool>>) {
        self.abort = flag;
        self.apply_read_timeout();
    }

    /// Gives how long the target has been held back so far (waiting for a CPU, or
    /// stopped): a call's silence then counts only the rest, the time it could run.
    /// `None`: all of it counts.
    pub fn set_held_back(&mut self, held_back: Option<HeldBackSource>) {
        self.held_back = held_back;
        self.apply_read_timeout();
    }

    /// How long the target has been held back so far (zero when not known).
    fn held_now(&self) -> Duration {
        self.held_back
            .as_ref()
            .map_or(Duration::ZERO, |held| held())
    }

    /// True when a silence of `waited`, `held` of it held back, is over the timeout (see
    /// [`HELD_BACK_CEILING`]).
    fn over_limit(&self, waited: Duration, held: Duration) -> bool {
        past_limit(waited, held, self.timeout)
    }

    /// Now, as a call's last news from the target.
    fn heard_now(&self) -> Heard {
        Heard {
            at: Instant::now(),
            held: self.held_now(),
        }
    }

    fn apply_read_timeout(&self) {
        // With an abort flag, or time to leave out, reads wake up regularly to look.
        let timeout = match (&self.abort, &self.held_back) {
            (Some(_), _) => self.timeout.min(ABORT_POLL),
            (None, Some(_)) => self.timeout.min(HELD_BACK_POLL),
            (None, None) => self.timeout,
        };
        if let MaybeTlsStream::Plain(stream) = self.socket.get_ref() {
            let _ = stream.set_read_timeout(Some(timeout));
        }
    }

    /// A handle that can cut the connection from another thread (a blocked call then
    /// returns [`InspectorError::Closed`] or a socket error at once).
    pub fn interrupt_handle(&self) -> Option<TcpStream> {
        match self.socket.get_ref() {
            MaybeTlsStream::Plain(stream) => stream.try_clone().ok(),
            _ => None,
        }
    }

    /// Asks the kernel to acknowledge what arrives next at once (Linux's `TCP_QUICKACK`,
    /// which lapses by itself, so it is set before every read). Node's inspector socket
    /// leaves Nagle's algorithm on: an answer followed by an event (a binding call) would
    /// wait for the acknowledgement of the answer, which a receiver delays by up to 40 ms —
    /// ten times a sample's own cost on a small heap.
    fn ack_at_once(&self) {
        if let MaybeTlsStream::Plain(stream) = self.socket.get_ref() {
            let _ = rustix::net::sockopt::set_tcp_quickack(stream, true);
        }
    }

    /// Keeps the payloads of `Runtime.bindingCalled` events that start with `prefix`,
    /// whichever call reads them (they arrive unasked, between answers), for
    /// [`Inspector::take_kept`]; `None` stops keeping.
    pub fn keep(&mut self, prefix: Option<&str>) {
        self.keep = prefix.map(str::to_owned);
    }

    /// The payloads kept since the last call, oldest first.
    pub fn take_kept(&mut self) -> Vec<String> {
        std::mem::take(&mut self.kept)
    }

    /// Reads what has already arrived without waiting (kept payloads are kept; answers
    /// to calls given up on and other events are dropped, as a call would skip them).
    pub fn poll(&mut self) -> Result<(), InspectorError> {
        let MaybeTlsStream::Plain(stream) = self.socket.get_ref() else {
            return Ok(());
        };
        stream
            .set_nonblocking(true)
            .map_err(|e| InspectorError::Socket(Box::new(tungstenite::Error::Io(e))))?;
        let outcome = loop {
            match self.socket.read() {
                Ok(Message::Text(t)) => {
                    if let Ok(value) = serde_json::from_str::<Value>(t.as_str()) {
                        self.keep_if_marked(&value);
                        self.note_worker(&value);
                    }
                }
                Ok(Message::Close(_)) => break Err(InspectorError::Closed),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    break Ok(())
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    break Err(InspectorError::Closed)
                }
                Err(e) => break Err(e.into()),
            }
        };
        if let MaybeTlsStream::Plain(stream) = self.socket.get_ref() {
            let _ = stream.set_nonblocking(false);
        }
        self.apply_read_timeout();
        outcome
    }

    /// Keeps `message`'s payload when it is a binding call marked as [`Inspector::keep`]
    /// asked.
    fn keep_if_marked(&mut self, message: &Value) {
        let Some(prefix) = self.keep.as_deref() else {
            return;
        };
        if message.get("method").and_then(Value::as_str) != Some("Runtime.bindingCalled") {
            return;
        }
        let Some(payload) = message
            .get("params")
            .and_then(|p| p.get("payload"))
            .and_then(Value::as_str)
        else {
            return;
        };
        if payload.starts_with(prefix) && self.kept.len() < KEPT_MAX {
            self.kept.push(payload.to_owned());
        }
    }

    /// Closes the session, so that a Node process that is exiting does not wait for it.
    pub fn disconnect(mut self) {
        let _ = self.socket.close(None);
        let _ = self.socket.flush();
    }

    /// Sends a command and waits for its answer, passing events to `on_event`.
    pub fn call_with_events(
        &mut self,
        method: &str,
        params: Value,
        mut on_event: impl FnMut(&str, &Value) -> Result<(), InspectorError>,
    ) -> Result<Value, InspectorError> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.socket.send(Message::text(msg.to_string()))?;
        let mut last_heard = self.heard_now();
        loop {
            let value = self.next_message(method, &mut last_heard)?;
            match value.get("id").and_then(Value::as_u64) {
                Some(got) if got == id => return answer(method, &value),
                Some(_) => continue,
                None => {
                    if let Some(event) = value.get("method").and_then(Value::as_str) {
                        on_event(event, value.get("params").unwrap_or(&Value::Null))?;
                    }
                }
            }
        }
    }

    /// Waits for the event `name` whose parameters `matches` accepts, within the timeout
    /// ([`Inspector::set_timeout`]); answers and other events that come first are skipped.
    pub fn wait_event(
        &mut self,
        name: &str,
        mut matches: impl FnMut(&Value) -> bool,
    ) -> Result<Value, InspectorError> {
        let mut last_heard = self.heard_now();
        let began = last_heard;
        loop {
            let value = self.next_message(name, &mut last_heard)?;
            if value.get("method").and_then(Value::as_str) == Some(name) {
                let params = value.get("params").cloned().unwrap_or(Value::Null);
                if matches(&params) {
                    return Ok(params);
                }
            }
            // Unrelated messages must not keep a wait alive past its limit.
            let (waited, held) = began.silence(self.held_now());
            if self.over_limit(waited, held) {
                return Err(InspectorError::Silent {
                    method: name.to_owned(),
                    waited,
                    held,
                });
            }
        }
    }

    /// The next message, parsed; `method` names the call or event waited for, in errors.
    fn next_message(
        &mut self,
        method: &str,
        last_heard: &mut Heard,
    ) -> Result<Value, InspectorError> {
        loop {
            self.ack_at_once();
            let read = self.socket.read();
            if read.is_ok() {
                *last_heard = self.heard_now();
            }
            let text = match read {
                Ok(Message::Text(t)) => t,
                Ok(Message::Close(_)) => return Err(InspectorError::Closed),
                Ok(_) => continue,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Err(InspectorError::Closed)
                }
                // A signal leaktrail handles (a stop: SIGINT, SIGTERM) interrupts a read on
                // a socket with a receive timeout even under SA_RESTART (signal(7)). It is
                // no fault of the connection: read on (tungstenite resumes a partly read
                // frame). Seen as a heap reading lost when `watch` was stopped mid-sample.
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
                    continue
                }
                // A read that timed out: the silence is over the limit, or it woke only to
                // look at the abort flag and the time held back (tungstenite resumes a
                // partly read frame on the next read).
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if self
                        .abort
                        .as_ref()
                        .is_some_and(|a| a.load(Ordering::SeqCst))
                    {
                        return Err(InspectorError::Abandoned {
                            method: method.to_owned(),
                        });
                    }
                    let (waited, held) = last_heard.silence(self.held_now());
                    if !self.over_limit(waited, held) {
                        continue;
                    }
                    return Err(InspectorError::Silent {
                        method: method.to_owned(),
                        waited,
                        held,
                    });
                }
                Err(e) => return Err(e.into()),
            };
            let value: Value =
                serde_json::from_str(text.as_str()).map_err(|e| InspectorError::BadAnswer {
                    method: method.to_owned(),
                    detail: e.to_string(),
                })?;
            self.keep_if_marked(&value);
            self.note_worker(&value);
            return Ok(value);
        }
    }

    /// Sends a command and waits for its answer, ignoring events.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, InspectorError> {
        self.call_with_events(method, params, |_, _| Ok(()))
    }

    /// Forces a full garbage collection.
    pub fn collect_garbage(&mut self) -> Result<(), InspectorError> {
        self.call("HeapProfiler.collectGarbage", json!({}))
            .map(|_| ())
    }

    /// The V8 heap's used and total size.
    pub fn heap_usage(&mut self) -> Result<HeapUsage, InspectorError> {
        let v = self.call("Runtime.getHeapUsage", json!({}))?;
        serde_json::from_value(v).map_err(|e| InspectorError::BadAnswer {
            method: "Runtime.getHeapUsage".into(),
            detail: e.to_string(),
        })
    }

    /// `process.memoryUsage()` of the target (evaluated in it, returned by value).
    pub fn process_memory(&mut self) -> Result<ProcessMemory, InspectorError> {
        self.evaluate("process.memoryUsage()")
    }

    /// V8's heap size limit (`v8.getHeapStatistics().heap_size_limit`), bytes: where the
    /// heap dies with "JavaScript heap out of memory".
    pub fn heap_size_limit(&mut self) -> Result<u64, InspectorError> {
        self.evaluate(
            "(process.getBuiltinModule ? process.getBuiltinModule('v8') : require('v8'))\
             .getHeapStatistics().heap_size_limit",
        )
    }

    /// Evaluates `expression` in the target (with the console's command-line API, so
    /// `require` works) and returns its value, deserialized.
    pub fn evaluate<T: serde::de::DeserializeOwned>(
        &mut self,
        expression: &str,
    ) -> Result<T, InspectorError> {
        let v = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "silent": true,
                    "includeCommandLineAPI": true }),
        )?;
        let bad = |detail: String| InspectorError::BadAnswer {
            method: "Runtime.evaluate".into(),
            detail,
        };
        if let Some(e) = v.get("exceptionDetails") {
            return Err(bad(format!("`{expression}` threw: {e}")));
        }
        let value = v
            .get("result")
            .and_then(|r| r.get("value"))
            .cloned()
            .ok_or_else(|| bad(format!("no value in {v}")))?;
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }

    /// Takes a heap snapshot and streams it to `path`, created with mode 0600 (heap
    /// snapshots hold secrets). Returns the bytes written. A snapshot cut off by the
    /// connection dropping leaves no file behind.
    pub fn take_heap_snapshot(&mut self, path: &Path) -> Result<u64, InspectorError> {
        let io = |source| InspectorError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = leaktrail_private_files::create_file(path).map_err(io)?;
        let taken = self
            .stream_heap_snapshot(&mut file, &path.display().to_string())
            .and_then(|n| file.sync_all().map(|_| n).map_err(io));
        if taken.is_err() {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
        taken
    }

    /// Takes a heap snapshot (V8 runs a full GC first) and writes its chunks into `out` as
    /// they arrive: with a pipe to a parser, no file is ever written. `what` names `out` in
    /// errors. Returns the bytes written.
    pub fn stream_heap_snapshot(
        &mut self,
        out: &mut dyn Write,
        what: &str,
    ) -> Result<u64, InspectorError> {
        let mut chunks = SnapshotChunks::new(out);
        let result = self.call_with_events(
            "HeapProfiler.takeHeapSnapshot",
            json!({ "reportProgress": false }),
            |event, params| {
                chunks.take(event, params);
                Ok(())
            },
        );
        result.and_then(|_| chunks.finish(what))
    }
}

/// Writes a heap snapshot's chunks (`HeapProfiler.addHeapSnapshotChunk` events) into an
/// output as they arrive, keeping the first write error for the end: the main thread's
/// snapshots and a worker's arrive alike.
pub(crate) struct SnapshotChunks<'a> {
    out: &'a mut dyn Write,
    written: u64,
    failed: Option<std::io::Error>,
}

impl<'a> SnapshotChunks<'a> {
    /// Chunks written into `out`.
    pub(crate) fn new(out: &'a mut dyn Write) -> SnapshotChunks<'a> {
        SnapshotChunks {
            out,
            written: 0,
            failed: None,
        }
    }

    /// Writes the chunk `event` carries, if it is one.
    pub(crate) fn take(&mut self, event: &str, params: &Value) {
        if event == "HeapProfiler.addHeapSnapshotChunk" && self.failed.is_none() {
            let chunk = params.get("chunk").and_then(Value::as_str).unwrap_or("");
            match self.out.write_all(chunk.as_bytes()) {
                Ok(()) => self.written += chunk.len() as u64,
                Err(e) => self.failed = Some(e),
            }
        }
    }

    /// The bytes written, once flushed, or the first write error, naming `what`.
    pub(crate) fn finish(self, what: &str) -> Result<u64, InspectorError> {
        let io = |source| InspectorError::Io {
            path: what.to_owned(),
            source,
        };
        match self.failed {
            Some(e) => Err(io(e)),
            None => self.out.flush().map(|_| self.written).map_err(io),
        }
    }
}

/// A protocol answer to `method`: its `result`, or its `error` as
/// [`InspectorError::Protocol`]. The main session's answers and a worker's (carried
/// inside `NodeWorker.receivedMessageFromWorker`) read alike.
pub(crate) fn answer(method: &str, value: &Value) -> Result<Value, InspectorError> {
    if let Some(err) = value.get("error") {
        return Err(InspectorError::Protocol {
            method: method.to_owned(),
            message: err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
        });
    }
    Ok(value.get("result").cloned().unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silence_leaves_out_the_time_held_back() {
        let heard = Heard {
            at: Instant::now() - Duration::from_secs(10),
            held: Duration::from_secs(3),
        };
        // Held back 7 s more since: 3 s of the silence it could run.
        let (waited, held) = heard.silence(Duration::from_secs(10));
        assert!(waited >= Duration::from_secs(10));
        assert_eq!(held, Duration::from_secs(7));
        // Never more held back than the silence.
        let (waited, held) = heard.silence(Duration::from_secs(3600));
        assert_eq!(held, waited);
    }

    #[test]
    fn a_silence_says_what_was_waited_for_and_how_long() {
        let silent = |waited: u64, held: u64| InspectorError::Silent {
            method: "HeapProfiler.takeHeapSnapshot".into(),
            waited: Duration::from_secs(waited),
            held: Duration::from_secs(held),
        };
        assert_eq!(
            silent(60, 0).to_string(),
            "no answer to HeapProfiler.takeHeapSnapshot for 60.0 s"
        );
        assert_eq!(
            silent(95, 35).to_string(),
            "no answer to HeapProfiler.takeHeapSnapshot for 60.0 s of time the process could run (95.0 s in all, 35.0 s of it waiting for a CPU or stopped)"
        );
    }

    #[test]
    fn finds_the_url() {
        assert_eq!(
            listening_url(
                "Debugger listening on ws://127.0.0.1:40123/0f2c9a1e-4b1d-4c59-9c3e-2c0c9c7e1a11"
            ),
            Some("ws://127.0.0.1:40123/0f2c9a1e-4b1d-4c59-9c3e-2c0c9c7e1a11")
        );
        assert_eq!(
            listening_url("For help, see: https://nodejs.org/en/docs/inspector"),
            None
        );
        assert_eq!(listening_url("Debugger listening on "), None);
    }
}
