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
//!   the GC and the reading), not the round trip, most of which it spends running;
//! - the answer comes back through a **binding** (`Runtime.addBinding`: a global function
//!   [`BINDING`] whose calls reach leaktrail as `Runtime.bindingCalled` events), not as the
//!   answer to an evaluation awaiting a promise: the evaluation is answered at once, so no
//!   request is left open in Node when the workload exits. Node 20 can crash (SIGSEGV)
//!   sending the answer to a request that was open while it tore down — with a fast loop
//!   that ends by itself, nearly every run had one open.
//!
//! A workload that never lets its event loop turn (a synchronous loop) would never run
//! the callback: after [`BOUNDARY_WAIT`] without an answer, samples fall back to running
//! at once for a few samples, then try between tasks again. Without `--expose-gc`, the inspector's GC; nothing is
//! added to the workload either way.

use std::time::{Duration, Instant};

use serde_json::json;

use leaktrail_inspector::{HeapUsage, Inspector, InspectorError};

/// How long a sample waits for the workload's event loop to turn.
pub const BOUNDARY_WAIT: Duration = Duration::from_secs(2);

/// The binding the workload answers through (a global function while leaktrail is
/// attached).
pub const BINDING: &str = "__leaktrail_answer";

/// The inspector's usual silence limit, restored after a sample.
const TIMEOUT: Duration = Duration::from_secs(60);

/// How long a snapshot written inside the workload may take: nothing is heard from it
/// until the file is whole (a multi-gigabyte heap takes minutes).
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(600);

/// How the full GC is forced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GcMethod {
    /// `HeapProfiler.collectGarbage`.
    #[default]
    Inspector,
    /// The workload's own `gc()` (`--expose-gc`), between its tasks.
    ExposedGc,
    /// The workload's own `gc()`, at once (its event loop did not turn in time), for this
    /// many more samples before between its tasks is tried again (`None`: for good — no
    /// binding to answer through, or a loop that never turns).
    ExposedGcAtOnce(Option<u32>),
    /// Between its tasks once more after samples at once; if the event loop does not turn
    /// this time either (a synchronous loop), at once for good: each try costs the run
    /// [`BOUNDARY_WAIT`] without a sample.
    ExposedGcTryAgain,
}

/// Samples taken at once after the event loop did not turn in time, before the next try
/// between tasks: one long step (a batch at start-up) must not cost the rest of the run
/// its quieter samples.
const AT_ONCE_SAMPLES: u32 = 8;

/// The heap figures of one sample.
#[derive(Clone, Copy, Debug)]
pub struct HeapSample {
    /// Heap used and reserved.
    pub heap: HeapUsage,
    /// `process.memoryUsage().external`.
    pub external: u64,
    /// How long the workload was paused for it, seconds, when measured inside it.
    pub paused: Option<f64>,
    /// The workload's clock (`performance.now()`, ms) when it sent the figures, when
    /// measured inside it: ties its clock to leaktrail's (see [`watch_major_gcs`]).
    pub clock_ms: Option<f64>,
}

/// `gc()` then the figures, timed inside the workload; `{}` is where the call goes.
const MEASURE: &str = "{ const t = performance.now(); gc(); gc({ type: 'minor' }); const m = process.memoryUsage(); const now = performance.now(); return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, ms: now - t, now }; }";

impl GcMethod {
    /// Finds out whether the workload has V8's `gc()`, and installs the binding it
    /// answers through. Reads a global only: safe even while Node is still starting.
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
            Ok(v) if v["result"]["value"] == true => {
                match inspector.call("Runtime.addBinding", json!({ "name": BINDING })) {
                    Ok(_) => GcMethod::ExposedGc,
                    // Without the binding, only at once: never an evaluation left open.
                    Err(_) => GcMethod::ExposedGcAtOnce(None),
                }
            }
            _ => GcMethod::Inspector,
        }
    }

    /// Forces a full GC, then reads the heap (used and total) and `external`; `seq`
    /// tells this sample's answer from a late one. May switch `self` to
    /// [`GcMethod::ExposedGcAtOnce`] for a few samples (see the module doc).
    pub fn sample(
        &mut self,
        inspector: &mut Inspector,
        seq: u64,
    ) -> Result<HeapSample, InspectorError> {
        if matches!(*self, GcMethod::ExposedGc | GcMethod::ExposedGcTryAgain) {
            let again = *self == GcMethod::ExposedGcTryAgain;
            match between_tasks(
                inspector,
                seq,
                &format!("(() => {MEASURE})()"),
                TIMEOUT,
                false,
            ) {
                Ok(Answer { value: v, .. }) => {
                    if let Some(s) = parse_value(&v) {
                        *self = GcMethod::ExposedGc;
                        return Ok(s);
                    }
                    // An exception (the program replaced `gc` since): the inspector's way.
                    *self = GcMethod::Inspector;
                }
                Err(e) if timed_out(&e) => {
                    // The late answer, if it ever comes, is skipped by its number.
                    *self = GcMethod::ExposedGcAtOnce((!again).then_some(AT_ONCE_SAMPLES));
                }
                Err(e) => return Err(e),
            }
        }
        if let GcMethod::ExposedGcAtOnce(left) = *self {
            *self = match left {
                Some(0) => GcMethod::ExposedGcTryAgain,
                Some(n) => GcMethod::ExposedGcAtOnce(Some(n - 1)),
                None => GcMethod::ExposedGcAtOnce(None),
            };
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
            clock_ms: None,
        })
    }
}

/// The figures in an answer to [`MEASURE`], if it has them.
fn parse(answer: &serde_json::Value) -> Option<HeapSample> {
    parse_value(&answer["result"]["value"])
}

/// The figures in [`MEASURE`]'s value, if it has them.
fn parse_value(value: &serde_json::Value) -> Option<HeapSample> {
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
        clock_ms: value
            .get("now")
            .and_then(serde_json::Value::as_f64)
            .filter(|ms| ms.is_finite() && *ms >= 0.0),
    })
}

/// Runs `body` (an expression; `req` in it is Node's `require` when `with_require`) in the
/// workload in a `setImmediate` callback, between its tasks, and returns its value, which
/// comes back through [`BINDING`] (JSON, numbered `seq`). The callback first says it has
/// started: if it has not within [`BOUNDARY_WAIT`] (the event loop did not turn), the wait
/// ends with a time-out, and a callback that starts later does nothing — it checks a
/// deadline set when the expression ran — so no late GC or snapshot happens behind
/// leaktrail's back. Once started, its value may take `wait`. Nothing it does can throw
/// into the workload's event loop: an exception in `body` is its value as `{ error }`, and
/// a missing or replaced binding is left alone.
fn between_tasks(
    inspector: &mut Inspector,
    seq: u64,
    body: &str,
    wait: Duration,
    with_require: bool,
) -> Result<Answer, InspectorError> {
    let start_ms = BOUNDARY_WAIT.as_millis();
    let expression = format!(
        "((req) => {{ const deadline = Date.now() + {start_ms}; setImmediate(() => {{ const answer = globalThis.{BINDING}; if (typeof answer !== 'function' || Date.now() > deadline) return; try {{ answer(JSON.stringify({{ seq: {seq}, started: true }})); }} catch (e) {{ return; }} let value; try {{ value = {body}; }} catch (e) {{ value = {{ error: String(e) }}; }} try {{ answer(JSON.stringify({{ seq: {seq}, value }})); }} catch (e) {{}} }}); return 0; }})(typeof require === 'function' ? require : undefined)"
    );
    // (started, value) of a message of this call's.
    let message_of = |params: &serde_json::Value| -> Option<(bool, Option<serde_json::Value>)> {
        if params["name"] != BINDING {
            return None;
        }
        let payload: serde_json::Value = serde_json::from_str(params["payload"].as_str()?).ok()?;
        if payload["seq"].as_u64() != Some(seq) {
            return None;
        }
        Some((payload["started"] == true, payload.get("value").cloned()))
    };
    let (mut started, mut value) = (false, None);
    let mut began = None;
    inspector.call_with_events(
        "Runtime.evaluate",
        json!({ "expression": expression, "returnByValue": true, "silent": true,
                "includeCommandLineAPI": with_require }),
        |event, params| {
            if event == "Runtime.bindingCalled" {
                if let Some((s, v)) = message_of(params) {
                    if s && began.is_none() {
                        began = Some(Instant::now());
                    }
                    started |= s;
                    value = value.take().or(v);
                }
            }
            Ok(())
        },
    )?;
    // A little past the workload's own deadline: its clock started later than ours.
    let phases = [
        (BOUNDARY_WAIT + Duration::from_millis(500), true),
        (wait, false),
    ];
    for (limit, for_start) in phases {
        if value.is_some() || (for_start && started) {
            continue;
        }
        inspector.set_timeout(limit);
        let answer = inspector.wait_event("Runtime.bindingCalled", |p| {
            message_of(p).is_some_and(|(s, v)| {
                if for_start {
                    s || v.is_some()
                } else {
                    v.is_some()
                }
            })
        });
        inspector.set_timeout(TIMEOUT);
        if let Some((s, v)) = message_of(&answer?) {
            if s && began.is_none() {
                began = Some(Instant::now());
            }
            started |= s;
            value = v;
        }
    }
    Ok(Answer {
        value: value.unwrap_or_default(),
        began,
    })
}

/// What the workload answered from between its tasks.
struct Answer {
    /// The body's value.
    value: serde_json::Value,
    /// When word came that the body was about to run (the workload paused from then until
    /// the value came).
    began: Option<Instant>,
}

/// True when the call failed on a silence: the inspector's own, or a read that timed out
/// (the socket error's source is an I/O error saying so).
fn timed_out(e: &InspectorError) -> bool {
    let socket = match e {
        InspectorError::Silent { .. } => return true,
        InspectorError::Socket(socket) => socket,
        _ => return false,
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

/// Takes a heap snapshot to `path` **inside the workload**, between its tasks when its
/// event loop turns (as samples are taken): `v8.writeHeapSnapshot`, through the
/// inspector's command-line API (`require` there is Node's own, in CommonJS and ES
/// modules alike). The workload is paused until the file is whole. Over the inspector
/// (`HeapProfiler.takeHeapSnapshot`), V8 pauses it only while it serializes: the chunks
/// are then queued for the socket and the workload runs on while leaktrail receives them
/// — a fast loop is past its end before the file is written, and the snapshot no longer
/// marks where the run was. The file is created 0600 first (Node keeps an existing
/// file's mode). Returns `None` when the workload could not do it (the caller then takes
/// it over the inspector); the file is then removed.
pub fn snapshot_inside(
    inspector: &mut Inspector,
    path: &std::path::Path,
    seq: u64,
    between: bool,
) -> Result<Option<WrittenInside>, InspectorError> {
    let io = |source| InspectorError::Io {
        path: path.display().to_string(),
        source,
    };
    drop(leaktrail_private_files::create_file(path).map_err(io)?);
    // The workload's working directory may not be ours.
    let absolute = std::path::absolute(path).map_err(io)?;
    let target = serde_json::to_string(&absolute.display().to_string()).unwrap_or_default();
    let answer = if between {
        between_tasks(
            inspector,
            seq,
            &format!("req('v8').writeHeapSnapshot({target})"),
            SNAPSHOT_TIMEOUT,
            true,
        )
        .map(|a| (a.value.as_str().is_some(), a.began))
    } else {
        inspector.set_timeout(SNAPSHOT_TIMEOUT);
        let answer = inspector.call(
            "Runtime.evaluate",
            json!({ "expression": format!("require('v8').writeHeapSnapshot({target})"),
                    "returnByValue": true, "silent": true, "includeCommandLineAPI": true }),
        );
        inspector.set_timeout(TIMEOUT);
        answer.map(|v| {
            let written =
                v["result"]["value"].as_str().is_some() && v.get("exceptionDetails").is_none();
            (written, None)
        })
    };
    let (written, began) = match answer {
        Ok(w) => w,
        // The event loop did not turn in time: the caller takes it over the inspector.
        Err(e) if timed_out(&e) => (false, None),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
    };
    if !written || !leaktrail_snapshot::ends_like_a_complete_snapshot(path) {
        let _ = std::fs::remove_file(path);
        return Ok(None);
    }
    Ok(Some(WrittenInside { began }))
}

/// A heap snapshot the workload wrote itself ([`snapshot_inside`]).
#[derive(Clone, Copy, Debug)]
pub struct WrittenInside {
    /// When it began, between the workload's tasks, as far as leaktrail heard: a fast loop
    /// runs on between the request and that turn of its event loop (a snapshot labelled
    /// from the request held 5,001 objects of a one-a-step leak at "iteration 3,475").
    pub began: Option<Instant>,
}

/// How the payloads of the GC watcher begin (answers of samples begin with `{"seq":`).
pub const CHEAP_MARK: &str = "{\"cheap\":";

/// The GC watcher: a `PerformanceObserver` of `gc` entries in the workload that, after
/// each major GC of V8's own (not one forced with `gc()`), reads the heap as V8 left it
/// (`v8.getHeapStatistics()`) and sends it through [`BINDING`], unasked: no request, no
/// pause of the workload beyond the reading itself, whose time it sends along. Installed
/// once per process (a symbol-keyed global holds it). Answers `performance.now()`, to tie
/// the workload's clock to leaktrail's.
const WATCHER: &str = "((req) => { const key = Symbol.for('leaktrail.gcWatch'); if (globalThis[key]) return performance.now(); const v8 = req('v8'); const { PerformanceObserver, constants: c } = req('perf_hooks'); const observer = new PerformanceObserver((list) => { try { const answer = globalThis.__leaktrail_answer; if (typeof answer !== 'function') return; for (const e of list.getEntries()) { const d = e.detail || {}; if (d.kind !== c.NODE_PERFORMANCE_GC_MAJOR || (d.flags & c.NODE_PERFORMANCE_GC_FLAGS_FORCED)) continue; const t = performance.now(); const h = v8.getHeapStatistics(); const cheap = { at: e.startTime + e.duration, heapUsed: h.used_heap_size, heapTotal: h.total_heap_size, external: h.external_memory, ms: 0 }; cheap.ms = performance.now() - t; answer(JSON.stringify({ cheap })); } } catch (err) {} }); observer.observe({ entryTypes: ['gc'] }); Object.defineProperty(globalThis, key, { value: observer, configurable: true }); return performance.now(); })(typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule : require)";

/// A reading the GC watcher sent: the heap V8 left after one of its own major GCs.
#[derive(Clone, Copy, Debug)]
pub struct CheapReading {
    /// When the GC ended, on the workload's clock (`performance.now()`, ms).
    pub at_ms: f64,
    /// The figures, as a sample's (`paused` is the reading's own time).
    pub heap: HeapSample,
}

/// Installs the GC watcher (and the binding it answers through). Returns where the
/// workload's clock (`performance.now()`) starts on leaktrail's, or `None` when the
/// workload could not install it (an old Node). The estimate is the moment the answer
/// arrived less the workload's clock in it: the answer leaves as soon as the clock is
/// read, while the request may wait long for a busy workload to take it, so the estimate
/// is late by the answer's trip only; each later reading that is sent as soon as read (a
/// sample's: [`HeapSample::clock_ms`]) can only make it earlier ([`earliest_origin`]).
pub fn watch_major_gcs(inspector: &mut Inspector) -> Option<std::time::Instant> {
    inspector
        .call("Runtime.addBinding", json!({ "name": BINDING }))
        .ok()?;
    let answer = inspector
        .call(
            "Runtime.evaluate",
            json!({ "expression": WATCHER, "returnByValue": true, "silent": true,
                    "includeCommandLineAPI": true }),
        )
        .ok()?;
    let back = std::time::Instant::now();
    if answer.get("exceptionDetails").is_some() {
        return None;
    }
    let now = answer["result"]["value"].as_f64()?;
    let origin = earliest_origin(None, back, now)?;
    inspector.keep(Some(CHEAP_MARK));
    Some(origin)
}

/// Where the workload's clock starts on leaktrail's: the earlier of `origin` and what a
/// reading of `clock_ms` that arrived at `arrived` says (`None` when it says nothing: a
/// clock that is not a number of milliseconds since a moment of ours).
pub fn earliest_origin(
    origin: Option<std::time::Instant>,
    arrived: std::time::Instant,
    clock_ms: f64,
) -> Option<std::time::Instant> {
    let said = Duration::try_from_secs_f64(clock_ms / 1000.0)
        .ok()
        .and_then(|d| arrived.checked_sub(d));
    match (origin, said) {
        (Some(o), Some(s)) => Some(o.min(s)),
        (o, s) => o.or(s),
    }
}

/// The reading in a payload of the GC watcher, if it is one.
pub fn parse_cheap(payload: &str) -> Option<CheapReading> {
    let value: serde_json::Value = serde_json::from_str(payload).ok()?;
    let cheap = value.get("cheap")?;
    let field = |name: &str| cheap.get(name).and_then(serde_json::Value::as_u64);
    let at_ms = cheap.get("at")?.as_f64().filter(|a| a.is_finite())?;
    Some(CheapReading {
        at_ms,
        heap: HeapSample {
            heap: HeapUsage {
                used_size: field("heapUsed")?,
                total_size: field("heapTotal")?,
            },
            external: field("external").unwrap_or(0),
            paused: cheap
                .get("ms")
                .and_then(serde_json::Value::as_f64)
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .map(|ms| (ms / 1000.0).min(1.0)),
            clock_ms: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_tie_keeps_the_earliest_origin() {
        let t0 = std::time::Instant::now() + Duration::from_secs(10);
        // Read at 1,000 ms, arrived 5 ms later: the origin is at most t0 + 5 ms.
        let o = earliest_origin(None, t0 + Duration::from_millis(1005), 1000.0);
        assert_eq!(o, Some(t0 + Duration::from_millis(5)));
        // A reading that came back faster tightens it; a slower one does not loosen it.
        let o = earliest_origin(o, t0 + Duration::from_millis(2001), 2000.0);
        assert_eq!(o, Some(t0 + Duration::from_millis(1)));
        let o = earliest_origin(o, t0 + Duration::from_millis(3050), 3000.0);
        assert_eq!(o, Some(t0 + Duration::from_millis(1)));
        // Not a clock: nothing said.
        assert_eq!(earliest_origin(None, t0, f64::NAN), None);
        assert_eq!(earliest_origin(o, t0, -5.0), o);
    }

    #[test]
    fn reads_a_watcher_payload() {
        let r = parse_cheap(r#"{"cheap":{"at":1520.5,"heapUsed":31000000,"heapTotal":46000000,"external":1200,"ms":0.02}}"#)
            .expect("a reading");
        assert_eq!(r.at_ms, 1520.5);
        assert_eq!(r.heap.heap.used_size, 31_000_000);
        assert_eq!(r.heap.external, 1200);
        assert!(r.heap.paused.is_some_and(|p| (p - 0.00002).abs() < 1e-9));
        assert!(parse_cheap(r#"{"seq":3,"value":{}}"#).is_none());
        assert!(parse_cheap(r#"{"cheap":{"at":"soon","heapUsed":1,"heapTotal":2}}"#).is_none());
        assert!(parse_cheap("{\"cheap\":").is_none());
    }
}
