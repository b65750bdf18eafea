//! The heaps of a target's worker threads. Each worker thread is a V8 isolate of its own:
//! its heap is not in the main thread's `Runtime.getHeapUsage`, its objects not in the
//! main thread's heap snapshot, and its growth hides in RSS. Node's `NodeWorker` domain
//! attaches a session to every worker of the target (`NodeWorker.attachedToWorker`,
//! `detachedFromWorker` when it ends); commands go to a worker wrapped in
//! `NodeWorker.sendMessageToWorker` and its answers come back as
//! `NodeWorker.receivedMessageFromWorker` events, over the same connection.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{Inspector, InspectorError};

/// The longest a worker thread's answer is waited for: one busy in a long synchronous task
/// answers only once it is done, and the run must not wait that long at each snapshot.
const WORKER_WAIT: Duration = Duration::from_secs(2);

impl Inspector {
    /// Starts following the target's worker threads: those running now attach at once,
    /// later ones as they start (noted whichever call reads the event). Workers start as
    /// they would without it (`waitForDebuggerOnStart: false`).
    pub fn follow_workers(&mut self) -> Result<(), InspectorError> {
        self.workers.get_or_insert_with(Vec::new);
        self.call(
            "NodeWorker.enable",
            json!({ "waitForDebuggerOnStart": false }),
        )?;
        Ok(())
    }

    /// Stops following the worker threads: their sessions are detached, and what Node
    /// keeps for them in the main thread goes.
    pub fn unfollow_workers(&mut self) {
        if self.workers.take().is_some() {
            let _ = self.call("NodeWorker.disable", json!({}));
        }
    }

    /// The number of worker threads attached now ([`Inspector::follow_workers`]).
    pub fn worker_count(&self) -> usize {
        self.workers.as_ref().map_or(0, Vec::len)
    }

    /// The sessions of the worker threads attached now, in the order they attached: the
    /// order of [`Inspector::worker_heaps`].
    pub fn worker_sessions(&self) -> Vec<String> {
        self.workers.clone().unwrap_or_default()
    }

    /// The live heap of each worker thread, bytes, after a full GC in it; a worker that
    /// ended meanwhile is left out. `None` when one did not answer within [`WORKER_WAIT`]
    /// (2 s)
    /// (busy in a long synchronous task): a total without it would read as a fall.
    pub fn worker_heaps(&mut self) -> Option<Vec<u64>> {
        let sessions = self.workers.clone().unwrap_or_default();
        let timeout = self.timeout;
        self.set_timeout(timeout.min(WORKER_WAIT));
        let mut heaps = Some(Vec::with_capacity(sessions.len()));
        for session in sessions {
            let answer = self
                .worker_call(&session, "HeapProfiler.collectGarbage")
                .and_then(|gc| match gc {
                    Some(_) => self.worker_call(&session, "Runtime.getHeapUsage"),
                    None => Ok(None),
                });
            match answer {
                Ok(Some(usage)) => match usage.get("usedSize").and_then(Value::as_f64) {
                    Some(used) => heaps.iter_mut().for_each(|h| h.push(used as u64)),
                    None => heaps = None,
                },
                // Ended meanwhile.
                Ok(None) => {}
                Err(_) => heaps = None,
            }
        }
        self.set_timeout(timeout);
        heaps
    }

    /// Takes a heap snapshot of the worker thread of `session` and streams it to `path`,
    /// created with mode 0600, as [`Inspector::take_heap_snapshot`] does the main
    /// thread's: the bytes written, or `None` when the worker ended first. No file is left
    /// behind unless the snapshot is whole.
    pub fn take_worker_heap_snapshot(
        &mut self,
        session: &str,
        path: &std::path::Path,
    ) -> Result<Option<u64>, InspectorError> {
        let io = |source| InspectorError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = leaktrail_private_files::create_file(path).map_err(io)?;
        let taken = self
            .stream_worker_heap_snapshot(session, &mut file, &path.display().to_string())
            .and_then(|n| match n {
                Some(n) => file.sync_all().map(|_| Some(n)).map_err(io),
                None => Ok(None),
            });
        if !matches!(taken, Ok(Some(_))) {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
        taken
    }

    /// Takes a heap snapshot of the worker thread of `session` (V8 runs a full GC in it
    /// first) and writes its chunks into `out` as they arrive; `what` names `out` in
    /// errors. Returns the bytes written, or `None` when the worker ended first.
    pub fn stream_worker_heap_snapshot(
        &mut self,
        session: &str,
        out: &mut dyn std::io::Write,
        what: &str,
    ) -> Result<Option<u64>, InspectorError> {
        let mut chunks = crate::SnapshotChunks::new(out);
        let result = self.worker_call_with_events(
            session,
            "HeapProfiler.takeHeapSnapshot",
            json!({ "reportProgress": false }),
            |event, params| chunks.take(event, params),
        );
        match result? {
            Some(_) => chunks.finish(what).map(Some),
            None => Ok(None),
        }
    }

    /// Sends `method` to the worker of `session` and waits for its answer: `None` when the
    /// worker ended first.
    fn worker_call(
        &mut self,
        session: &str,
        method: &str,
    ) -> Result<Option<Value>, InspectorError> {
        self.worker_call_with_events(session, method, json!({}), |_, _| {})
    }

    /// As [`Inspector::worker_call`] with `params`, calling `on_event` with the method and
    /// params of each event the worker sends meanwhile (a snapshot's chunks).
    fn worker_call_with_events(
        &mut self,
        session: &str,
        method: &str,
        params: Value,
        mut on_event: impl FnMut(&str, &Value),
    ) -> Result<Option<Value>, InspectorError> {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.call(
            "NodeWorker.sendMessageToWorker",
            json!({ "sessionId": session, "message": message }),
        )?;
        let mut last_heard = self.heard_now();
        loop {
            if !self
                .workers
                .as_ref()
                .is_some_and(|w| w.iter().any(|s| s == session))
            {
                return Ok(None);
            }
            let value = self.next_message(method, &mut last_heard)?;
            if value.get("method").and_then(Value::as_str)
                != Some("NodeWorker.receivedMessageFromWorker")
            {
                continue;
            }
            let params = value.get("params").unwrap_or(&Value::Null);
            if params.get("sessionId").and_then(Value::as_str) != Some(session) {
                continue;
            }
            let Some(answer) = params
                .get("message")
                .and_then(Value::as_str)
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
            else {
                continue;
            };
            match answer.get("id").and_then(Value::as_u64) {
                Some(got) if got == id => return crate::answer(method, &answer).map(Some),
                Some(_) => continue,
                None => {
                    if let Some(event) = answer.get("method").and_then(Value::as_str) {
                        on_event(event, answer.get("params").unwrap_or(&Value::Null));
                    }
                }
            }
        }
    }

    /// Notes a worker attached or detached, from any message read while following them.
    pub(crate) fn note_worker(&mut self, message: &Value) {
        let Some(workers) = self.workers.as_mut() else {
            return;
        };
        let params = message.get("params").unwrap_or(&Value::Null);
        let session = params.get("sessionId").and_then(Value::as_str);
        match (message.get("method").and_then(Value::as_str), session) {
            (Some("NodeWorker.attachedToWorker"), Some(s)) if !workers.iter().any(|w| w == s) => {
                workers.push(s.to_owned());
            }
            (Some("NodeWorker.detachedFromWorker"), Some(s)) => workers.retain(|w| w != s),
            _ => {}
        }
    }
}
