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

use leaktrail_snapshot::{EdgeFilter, EdgeKind, EdgeName, HeapSnapshot, NodeIndex, NodeKind};

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
    /// False when the snapshot was parsed without the edges listeners need, so
    /// `listeners` is empty for want of data, not of listeners.
    pub listeners_measured: bool,
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

/// How the handle counts of two snapshots differ.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HandlesDelta {
    /// Counts in the earlier snapshot.
    pub before: HandleTotals,
    /// Counts in the later snapshot.
    pub after: HandleTotals,
    /// Listener counts that changed, largest growth first.
    pub listeners: Vec<ListenerDelta>,
    /// False when either snapshot was read without the edges listeners need.
    pub listeners_measured: bool,
}

/// Timer and worker counts of one snapshot.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct HandleTotals {
    /// `Timeout` objects.
    pub timeouts: u64,
    /// `Immediate` objects.
    pub immediates: u64,
    /// `Worker` objects.
    pub workers: u64,
    /// `MessagePort` objects.
    pub message_ports: u64,
    /// Listeners of all events.
    pub listeners: u64,
}

/// The change of one event's listeners.
#[derive(Clone, Debug, Serialize)]
pub struct ListenerDelta {
    /// Class of the emitters.
    pub emitter_class: String,
    /// Event name.
    pub event: String,
    /// Listeners before.
    pub before: u64,
    /// Listeners after.
    pub after: u64,
    /// `after - before`.
    pub delta: i64,
}

impl HandlesDelta {
    /// Compares the handles of an earlier and a later snapshot.
    pub fn between(before: &Handles, after: &Handles) -> HandlesDelta {
        let mut map: HashMap<(&str, &str), (u64, u64)> = HashMap::new();
        for l in &before.listeners {
            map.entry((&l.emitter_class, &l.event)).or_default().0 += l.listeners;
        }
        for l in &after.listeners {
            map.entry((&l.emitter_class, &l.event)).or_default().1 += l.listeners;
        }
        let mut listeners: Vec<ListenerDelta> = map
            .into_iter()
            .filter(|(_, (b, a))| a != b)
            .map(|((c, e), (b, a))| ListenerDelta {
                emitter_class: c.to_owned(),
                event: e.to_owned(),
                before: b,
                after: a,
                delta: a as i64 - b as i64,
            })
            .collect();
        // A total order: the rows come out of a hash map, whose order varies.
        listeners.sort_by(|a, b| {
            (b.delta, &a.event, &a.emitter_class).cmp(&(a.delta, &b.event, &b.emitter_class))
        });
        HandlesDelta {
            before: before.totals(),
            after: after.totals(),
            listeners,
            listeners_measured: before.listeners_measured && after.listeners_measured,
        }
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.before == self.after && self.listeners.is_empty()
    }
}

impl Handles {
    /// The edges handle counting reads: properties between objects (`_events` and the
    /// event names) and edges from objects to functions (listeners, also inside arrays).
    pub const EDGES_NEEDED: EdgeFilter = handle_edges;

    /// The totals.
    pub fn totals(&self) -> HandleTotals {
        HandleTotals {
            timeouts: self.timeouts,
            immediates: self.immediates,
            workers: self.workers,
            message_ports: self.message_ports,
            listeners: self.listeners.iter().map(|l| l.listeners).sum(),
        }
    }

    /// Counts handles in a snapshot parsed with all its edges, or at least with
    /// [`Handles::EDGES_NEEDED`].
    pub fn of(snap: &HeapSnapshot, classes: &Classification) -> Handles {
        let mut h = Handles {
            // A filtered parse that kept no object-to-object property edges cannot see
            // `_events`.
            listeners_measured: !snap.edges_filtered() || snap.keeps_edges(Handles::EDGES_NEEDED),
            ..Handles::default()
        };
        let class_of =
            |n: NodeIndex| classes.class_names[classes.node_class[n as usize] as usize].as_str();
        let mut per_event: HashMap<(String, String), (u64, u64)> = HashMap::new();
        // Every object's edges are searched for `_events`: by strings-table index (V8
        // writes each string once, but any copy counts), not by a string compare per edge.
        let events_names: Vec<u32> = (0..snap.strings().len())
            .filter(|&i| snap.strings().get(i) == Some("_events"))
            .map(|i| i as u32)
            .collect();
        for n in 0..snap.node_count() as u32 {
            if snap.node_kind(n) != NodeKind::Object {
                continue;
            }
            if let Some(kind) = HandleKind::of(snap, n, class_of(n)) {
                match kind {
                    HandleKind::Timeout => h.timeouts += 1,
                    HandleKind::Immediate => h.immediates += 1,
                    HandleKind::Worker => h.workers += 1,
                    HandleKind::MessagePort => h.message_ports += 1,
                }
            }
            let Some(events) = snap
                .edges(n)
                // The name first: it rules out almost every edge, and the kind is in
                // another column.
                .find(|&e| {
                    events_names.contains(&snap.edge_name_index(e))
                        && snap.edge_kind(e) == EdgeKind::Property
                })
                .map(|e| snap.edge_target(e))
            else {
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
            // A total order: the rows come out of a hash map, whose order varies.
            .sort_by(|a, b| {
                (b.listeners, &a.event, &a.emitter_class).cmp(&(
                    a.listeners,
                    &b.event,
                    &b.emitter_class,
                ))
            });
        h
    }
}

/// Node's handle objects, told by their class and a field only Node's own has: a class
/// of the program's named `Timeout` or `Worker` is no timer or thread (one named so was
/// counted as 500 timers), and neither are the prototypes of Node's classes, or the
/// wrapper V8 keeps beside a `Worker`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HandleKind {
    /// `setTimeout`/`setInterval`: its callback in `_onTimeout`.
    Timeout,
    /// `setImmediate` not yet run: its callback in `_onImmediate`.
    Immediate,
    /// `worker_threads.Worker`: its native handle in `kHandle`.
    Worker,
    /// A `MessagePort`: an event target with `kHandlers`.
    MessagePort,
}

impl HandleKind {
    /// What handle object `n` of class `class` is, if any. The fields read are edges
    /// [`Handles::EDGES_NEEDED`] keeps (to an object or a function).
    fn of(snap: &HeapSnapshot, n: NodeIndex, class: &str) -> Option<HandleKind> {
        let (kind, field, to_function) = match class {
            "Timeout" => (HandleKind::Timeout, "_onTimeout", true),
            "Immediate" => (HandleKind::Immediate, "_onImmediate", true),
            "Worker" => (HandleKind::Worker, "<symbol kHandle>", false),
            "MessagePort" => (HandleKind::MessagePort, "<symbol kHandlers>", false),
            _ => return None,
        };
        snap.edges(n)
            .any(|e| {
                snap.edge_kind(e) == EdgeKind::Property
                    && snap.edge_name(e) == EdgeName::Name(field)
                    && (!to_function || snap.node_kind(snap.edge_target(e)) == NodeKind::Closure)
            })
            .then_some(kind)
    }
}

fn handle_edges(from: NodeKind, edge: EdgeKind, to: NodeKind) -> bool {
    from == NodeKind::Object
        && match to {
            NodeKind::Object => edge == EdgeKind::Property,
            NodeKind::Closure => matches!(edge, EdgeKind::Property | EdgeKind::Element),
            _ => false,
        }
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
