//! The one shape of a memory reading, shared by every product that records memory: the
//! leak test's samples (`run`), the watcher's stored samples (`watch`, `trend`, `serve`)
//! and this crate's reading of a process tree. Each product puts its own time axis around
//! it: seconds from a run's start, or milliseconds since the epoch in the store.

use serde::{Deserialize, Serialize};

/// One reading of a process's, or a process tree's, memory: what the kernel says
/// (`/proc/PID/status`, and `smaps_rollup` when asked for) and, for a Node process read
/// over the inspector, V8's heap. This crate fills the kernel's fields; the heap fields
/// are the inspector's and stay `None` here. Records that hold a reading flatten it, so
/// its fields are theirs in JSON.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemoryReading {
    /// V8 heap in use, bytes (after a full GC where the product forces one).
    pub heap_used: Option<u64>,
    /// V8 heap reserved, bytes.
    pub heap_total: Option<u64>,
    /// `process.memoryUsage().external`, bytes.
    pub external: Option<u64>,
    /// Resident set size, bytes.
    pub rss: u64,
    /// Resident anonymous memory (heap, stacks; not file mappings), bytes.
    pub anon: u64,
    /// Proportional set size, bytes, on the readings where it was read (it is slow).
    pub pss: Option<u64>,
    /// Threads.
    pub threads: u64,
}

impl MemoryReading {
    /// Adds one process's kernel memory to a tree's sum. The sum has PSS only if it was
    /// started with one (PSS was asked for); a process whose PSS could not be read adds
    /// none.
    pub fn add_resident(&mut self, process: &MemoryReading) {
        self.rss += process.rss;
        self.anon += process.anon;
        self.threads += process.threads;
        if let (Some(total), Some(p)) = (self.pss.as_mut(), process.pss) {
            *total += p;
        }
    }

    /// The memory V8 answers for, heap in use plus external; `None` when the heap was not
    /// read.
    pub fn v8_bytes(&self) -> Option<u64> {
        self.heap_used.map(|h| h + self.external.unwrap_or(0))
    }
}
