//! The usual suspects besides data: timers, workers and event listeners, counted from
//! the heap graph.
//!
//! - Timers and workers are counted by class: `Timeout`, `Immediate` (Node's timer
//!   objects), `Worker` and `MessagePort`.
//! - Listeners are found the way Node's `EventEmitter` stores them: an emitter has an
//!   `_events` object whose property per event name holds either the listener function or
//!   an `Array` of them. Listeners are summed per emitter class and event name.

use std::collections::HashMap;

use serde::Serialize;

use leaktrail_snapshot::{EdgeKind, EdgeName, HeapSnapshot, NodeIndex, NodeKind};

use crate::class::Classification;

/// Counts of objects that hold resources.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Handles {
    /// `Timeout` objects (setTimeout/setInterval).
    pub timeouts: u64,
    /// `Immediate` objects (setImmediate).
    pub immediates: u64,
    /// `Worker` objects (worker_threads).
    pub workers: u64,
    /// `MessagePort` objects.
    pub message_ports: u64,
    /// Listeners per emitter class and event, most first.
    pub listeners: Vec<ListenerCount>,
}

/// The listeners of one event on the emitters of one class.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ListenerCount {
    /// Class of the emitters.
    pub emitter_class: String,
    /// Event name.
    pub event: String,
    /// Listener functions in all emitters of that class.
    pub listeners: u64,
    /// Emitters with at least one listener for the event.
    pub emitters: u64,
}

impl Handles {
    /// Counts handles in a snapshot parsed with all its edges.
    pub fn of(snap: &HeapSnapshot, classes: &Classification) -> Handles {
        let mut h = Handles::default();
        let class_of =
            |n: NodeIndex| classes.class_names[classes.node_class[n as usize] as usize].as_str();
        let mut per_event: HashMap<(String, String), (u64, u64)> = HashMap::new();
        for n in 0..snap.node_count() as u32 {
            if snap.node_kind(n) != NodeKind::Object {
                continue;
            }
            match class_of(n) {
                "Timeout" => h.timeouts += 1,
                "Immediate" => h.immediates += 1,
                "Worker" => h.workers += 1,
                "MessagePort" => h.message_ports += 1,
                _ => {}
            }
            let Some(events) = property(snap, n, "_events") else {
                continue;
            };
            if snap.node_kind(events) != NodeKind::Object {
                continue;
            }
            for e in snap.edges(events) {
                if snap.edge_kind(e) != EdgeKind::Property {
                    continue;
                }
                let EdgeName::Name(event) = snap.edge_name(e) else {
                    continue;
                };
                if event == "__proto__" {
                    continue;
                }
                let count = listener_count(snap, snap.edge_target(e));
                if count > 0 {
                    let slot = per_event
                        .entry((class_of(n).to_owned(), event.to_owned()))
                        .or_default();
                    slot.0 += count;
                    slot.1 += 1;
                }
            }
        }
        h.listeners = per_event
            .into_iter()
            .map(
                |((emitter_class, event), (listeners, emitters))| ListenerCount {
                    emitter_class,
                    event,
                    listeners,
                    emitters,
                },
            )
            .collect();
        h.listeners
            .sort_by(|a, b| b.listeners.cmp(&a.listeners).then(a.event.cmp(&b.event)));
        h
    }
}

/// The target of `n`'s property `name`.
fn property(snap: &HeapSnapshot, n: NodeIndex, name: &str) -> Option<NodeIndex> {
    snap.edges(n)
        .find(|&e| {
            snap.edge_kind(e) == EdgeKind::Property && snap.edge_name(e) == EdgeName::Name(name)
        })
        .map(|e| snap.edge_target(e))
}

/// Listeners held by one `_events` entry: a function, or an Array of functions (V8
/// writes array elements as element edges of the Array itself, or of its `elements`
/// backing store).
fn listener_count(snap: &HeapSnapshot, v: NodeIndex) -> u64 {
    let closures = |n: NodeIndex| {
        snap.edges(n)
            .filter(|&e| {
                snap.edge_kind(e) == EdgeKind::Element
                    && snap.node_kind(snap.edge_target(e)) == NodeKind::Closure
            })
            .count() as u64
    };
    match snap.node_kind(v) {
        NodeKind::Closure => 1,
        NodeKind::Object if snap.node_name(v) == "Array" => {
            let direct = closures(v);
            if direct > 0 {
                return direct;
            }
            snap.edges(v)
                .find(|&e| {
                    snap.edge_kind(e) == EdgeKind::Internal
                        && snap.edge_name(e) == EdgeName::Name("elements")
                })
                .map_or(0, |e| closures(snap.edge_target(e)))
        }
        _ => 0,
    }
}
