//! The V8 side of a sample: a forced full GC, then the heap in use and external memory.
//!
//! `HeapProfiler.collectGarbage` is V8's low-memory notification: repeated full GCs until
//! nothing more is freed, with compaction and bytecode flushing — about twice the cost of
//! one full GC, and the workload then recompiles what was flushed. A workload started
//! with `--expose-gc` has V8's own `gc()`, one full, precise GC: when it is there (and is
//! V8's, not a function of the program's that happens to be called `gc`), samples use it,
//! which halves their cost, so the overhead budget affords twice the samples; the GC and
//! `process.memoryUsage()` then go in one round trip. Otherwise, the inspector's method;
//! nothing is added to the workload either way.

use serde_json::json;

use leaktrail_inspector::{HeapUsage, Inspector, InspectorError, ProcessMemory};

/// How the full GC is forced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GcMethod {
    /// `HeapProfiler.collectGarbage`.
    #[default]
    Inspector,
    /// The workload's own `gc()` (`--expose-gc`).
    ExposedGc,
}

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

    /// Forces a full GC, then reads the heap (used and total) and `external`.
    pub fn sample(self, inspector: &mut Inspector) -> Result<(HeapUsage, u64), InspectorError> {
        if self == GcMethod::ExposedGc {
            let answer = inspector.call(
                "Runtime.evaluate",
                json!({
                    "expression": "(gc(), process.memoryUsage())",
                    "returnByValue": true,
                    "silent": true
                }),
            )?;
            let value = &answer["result"]["value"];
            let field = |name: &str| value.get(name).and_then(serde_json::Value::as_u64);
            // `process.memoryUsage()`'s heap figures are V8's, as Runtime.getHeapUsage's.
            if let (Some(used), Some(total), Some(external)) =
                (field("heapUsed"), field("heapTotal"), field("external"))
            {
                let heap = HeapUsage {
                    used_size: used,
                    total_size: total,
                };
                return Ok((heap, external));
            }
            // An exception (the program replaced `gc` since): the inspector's way.
        }
        inspector.collect_garbage()?;
        let heap = inspector.heap_usage()?;
        let mem: ProcessMemory = inspector.process_memory()?;
        Ok((heap, mem.external))
    }
}
