//! The V8 side of a sample: a forced full GC, then the heap in use and external memory.
//!
//! `HeapProfiler.collectGarbage` is V8's low-memory notification: repeated full GCs until
//! nothing more is freed, with compaction and bytecode flushing — about twice the cost of
//! one full GC, and the workload then recompiles what was flushed. A workload started
//! with `--expose-gc` has V8's own `gc()`, one full, precise GC: when it is there (and is
//! V8's, not a function of the program's that happens to be called `gc`), a sample is one
//! `Runtime.evaluate` that runs `gc()`, a minor GC, then `process.memoryUsage()`:
//!
//! - the minor GC is there for `external`: V8 frees the backing stores of dead
//!   ArrayBuffers (Buffers) in a sweep that runs concurrently after a full GC, and the
//!   next GC, even a minor one (about a millisecond after a full GC), waits for it; read
//!   at once, `external` still counts buffers just found dead, by hundreds of kilobytes;
//! - between the workload's tasks (a `setImmediate` callback, which runs once the current
//!   turn of the event loop has run its timers and I/O callbacks): the inspector
//!   dispatches requests by interrupting running code, and a GC in the middle of a step
//!   counts the step's temporary objects — hundreds of kilobytes that come and go from one
//!   sample to the next. A loop that yields with `setImmediate` between steps (as the
//!   shared scenario runner does) is then sampled between two steps. (Objects a step holds
//!   across an `await` of I/O still in flight are alive, as they are.)
//! - nothing is allocated between the GC and the reading;
//! - the time the workload is paused is measured inside it (`performance.now()` around
//!   the GC and the reading), not the round trip, most of which it spends running.
//!
//! A workload that never lets its event loop turn (a synchronous loop) would never run
//! the callback: after [`BOUNDARY_WAIT`] without an answer, samples fall back to running
//! at once, for the rest of the run. Without `--expose-gc`, the inspector's GC; nothing is
//! added to the workload either way.

use std::time::Duration;

use serde_json::json;

use leaktrail_inspector::{HeapUsage, Inspector, InspectorError};

/// How long a sample waits for the workload's event loop to turn.
pub const BOUNDARY_WAIT: Duration = Duration::from_secs(2);

/// The inspector's usual silence limit, restored after a sample.
const TIMEOUT: Duration = Duration::from_secs(60);

/// How the full GC is forced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GcMethod {
    /// `HeapProfiler.collectGarbage`.
    #[default]
    Inspector,
    /// The workload's own `gc()` (`--expose-gc`), between its tasks.
    ExposedGc,
    /// The workload's own `gc()`, at once (its event loop did not turn in time).
    ExposedGcAtOnce,
}

/// The heap figures of one sample.
#[derive(Clone, Copy, Debug)]
pub struct HeapSample {
    /// Heap used and reserved.
    pub heap: HeapUsage,
    /// `process.memoryUsage().external`.
    pub external: u64,
    /// How long the workload was paused for it, seconds, when measured inside it.
    pub paused: Option<f64>,
}

/// `gc()` then the figures, timed inside the workload; `{}` is where the call goes.
const MEASURE: &str = "{ const t = performance.now(); gc(); gc({ type: 'minor' }); const m = process.memoryUsage(); return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, ms: performance.now() - t }; }";

impl GcMethod {
    /// Finds out whether the workload has V8's `gc()`. Reads a global only: safe even
    /// while Node is still starting.
    pub fn detect(inspector: &mut Inspector) -> GcMethod {
        let answer = inspector.call(
            "Runtime.evaluate",
            json!({
                "expression": "typeof gc === 'function' && /\\[native code\\]\\s*\\}$/.test(Function.prototype.toString.call(gc))",
                "returnByValue": true,
                "silent": true
            }),
        );
        match answer {
            Ok(v) if v["result"]["value"] == true => GcMethod::ExposedGc,
            _ => GcMethod::Inspector,
        }
    }

    /// Forces a full GC, then reads the heap (used and total) and `external`. May switch
    /// `self` to [`GcMethod::ExposedGcAtOnce`] (see the module doc).
    pub fn sample(&mut self, inspector: &mut Inspector) -> Result<HeapSample, InspectorError> {
        if *self == GcMethod::ExposedGc {
            let expression = format!(
                "new Promise((resolve) => setImmediate(() => resolve((() => {MEASURE})())))"
            );
            inspector.set_timeout(BOUNDARY_WAIT);
            let answer = inspector.call(
                "Runtime.evaluate",
                json!({ "expression": expression, "awaitPromise": true, "returnByValue": true, "silent": true }),
            );
            inspector.set_timeout(TIMEOUT);
            match answer {
                Ok(v) => {
                    if let Some(s) = parse(&v) {
                        return Ok(s);
                    }
                    // An exception (the program replaced `gc` since): the inspector's way.
                    *self = GcMethod::Inspector;
                }
                Err(e) if timed_out(&e) => {
                    // The late answer, if it ever comes, is skipped by its id.
                    *self = GcMethod::ExposedGcAtOnce;
                }
                Err(e) => return Err(e),
            }
        }
        if *self == GcMethod::ExposedGcAtOnce {
            let answer = inspector.call(
                "Runtime.evaluate",
                json!({ "expression": format!("(() => {MEASURE})()"), "returnByValue": true, "silent": true }),
            )?;
            if let Some(s) = parse(&answer) {
                return Ok(s);
            }
            *self = GcMethod::Inspector;
        }
        inspector.collect_garbage()?;
        let heap = inspector.heap_usage()?;
        let mem = inspector.process_memory()?;
        Ok(HeapSample {
            heap,
            external: mem.external,
            paused: None,
        })
    }
}

/// The figures in an answer to [`MEASURE`], if it has them.
fn parse(answer: &serde_json::Value) -> Option<HeapSample> {
    let value = &answer["result"]["value"];
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_u64);
    // `process.memoryUsage()`'s heap figures are V8's, as Runtime.getHeapUsage's.
    Some(HeapSample {
        heap: HeapUsage {
            used_size: field("heapUsed")?,
            total_size: field("heapTotal")?,
        },
        external: field("external")?,
        paused: value
            .get("ms")
            .and_then(serde_json::Value::as_f64)
            .map(|ms| ms / 1000.0),
    })
}

/// True when the call failed on a read that timed out (the socket error's source is an
/// I/O error saying so).
fn timed_out(e: &InspectorError) -> bool {
    let InspectorError::Socket(socket) = e else {
        return false;
    };
    let source = std::error::Error::source(socket.as_ref());
    source
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )
        })
}
