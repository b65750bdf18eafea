//! [`CensusTable`]: the class and collection rows of a series of censuses, in the compact
//! form their trends are assessed from.
//!
//! A server re-assesses a target's classes whenever a snapshot is added, over every census
//! of the process (hundreds of thousands of rows after a few days). Read as
//! [`SnapshotCensus`] values that is a string per row, freed again at once: each refresh
//! scattered small blocks over the heap and a watcher's memory crept up with the number
//! of snapshots. Here each name is held once and the rows sit in two flat arrays, sorted
//! by class (or collection) and then by time, so that each series is one run of rows.

use std::collections::HashMap;

use leaktrail_analysis::{CensusLeaks, Family, SizedPlace, SnapshotCensus};
use leaktrail_store::{
    ClassRowRef, CollectionRowRef, IncarnationId, SnapshotId, SnapshotRecord, Store, StoreError,
};

/// One class in one census.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClassRow {
    /// Index into [`CensusTable::names`].
    pub(crate) class: u32,
    /// Index of the snapshot, oldest first.
    pub(crate) snapshot: u32,
    pub(crate) family: Family,
    pub(crate) count: u64,
    pub(crate) self_size: u64,
    pub(crate) retained_size: Option<u64>,
}

/// One collection in one census.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CollectionRow {
    /// V8 node id.
    pub(crate) id: u32,
    /// Index of the snapshot, oldest first.
    pub(crate) snapshot: u32,
    /// Index into [`CensusTable::names`].
    pub(crate) kind: u32,
    /// Index into [`CensusTable::names`].
    pub(crate) path: u32,
    /// Index into [`CensusTable::names`] of its path's shape, when recorded.
    pub(crate) shape: Option<u32>,
    pub(crate) entries: u64,
    pub(crate) retained_size: u64,
}

/// The class and collection rows of a series of censuses (one process's snapshots).
#[derive(Debug, Default)]
pub struct CensusTable {
    /// Each snapshot's time, ms, oldest first.
    pub(crate) times: Vec<i64>,
    /// The newest snapshot's total self size, bytes.
    pub(crate) heap_last: u64,
    /// Each snapshot's data ([`SnapshotCensus::data_size`]), bytes, oldest first.
    pub(crate) data_sizes: Vec<u64>,
    /// Each snapshot's total on V8's heap ([`SnapshotCensus::on_heap_size`]), bytes,
    /// oldest first.
    pub(crate) on_heap_sizes: Vec<u64>,
    /// Class names, collection kinds, paths and shapes, each once.
    pub(crate) names: Vec<String>,
    /// Sorted by class name, then snapshot; one row per class and census.
    pub(crate) classes: Vec<ClassRow>,
    /// Sorted by node id, then snapshot; one row per collection and census.
    pub(crate) collections: Vec<CollectionRow>,
    /// The newest census's leak evidence, when it has some and both censuses of its window
    /// are in the table.
    pub(crate) leaks: Option<LatestLeaks>,
    /// The places of the newest three censuses, oldest first (fewer with fewer censuses).
    pub(crate) places: Vec<Vec<SizedPlace>>,
}

/// The newest census's leak roots and where its window's censuses are in the table.
#[derive(Debug)]
pub(crate) struct LatestLeaks {
    pub(crate) evidence: CensusLeaks,
    /// Index of BASE, oldest first.
    pub(crate) base: u32,
    /// Index of TARGET.
    pub(crate) target: u32,
}

impl LatestLeaks {
    /// Places `evidence` (of the newest snapshot of `index`) in the table's order.
    fn of(evidence: CensusLeaks, index: &[SnapshotRecord]) -> Option<LatestLeaks> {
        let at = |file: &str| index.iter().position(|s| s.file == file).map(|i| i as u32);
        Some(LatestLeaks {
            base: at(&evidence.window.base)?,
            target: at(&evidence.window.target)?,
            evidence,
        })
    }
}

impl CensusTable {
    /// The table of `snapshots` (oldest first) with their censuses.
    pub fn from_censuses(snapshots: &[(SnapshotRecord, SnapshotCensus)]) -> CensusTable {
        let mut b = Builder::new(snapshots.iter().map(|(s, _)| s));
        let index: Vec<SnapshotRecord> = snapshots.iter().map(|(s, _)| s.clone()).collect();
        b.table.leaks = snapshots
            .last()
            .and_then(|(_, c)| c.leaks.clone())
            .and_then(|e| LatestLeaks::of(e, &index));
        b.table.places = snapshots
            .iter()
            .skip(snapshots.len().saturating_sub(3))
            .map(|(_, c)| c.places.clone())
            .collect();
        b.table.data_sizes = snapshots.iter().map(|(_, c)| c.data_size()).collect();
        b.table.on_heap_sizes = snapshots.iter().map(|(_, c)| c.on_heap_size()).collect();
        for (i, (s, c)) in snapshots.iter().enumerate() {
            b.heap_last = c.info.total_self_size;
            for k in &c.classes {
                b.class(
                    i,
                    ClassRowRef {
                        snapshot: s.id,
                        class: &k.class,
                        family: k.family,
                        count: k.count,
                        self_size: k.self_size,
                        retained_size: k.retained_size,
                    },
                );
            }
            for r in &c.collections {
                b.collection(
                    i,
                    CollectionRowRef {
                        snapshot: s.id,
                        id: r.id,
                        kind: &r.kind,
                        entries: r.entries,
                        retained_size: r.retained_size,
                        path: &r.path,
                        shape: r.shape.as_deref(),
                    },
                );
            }
        }
        b.finish()
    }

    /// The table of the censuses of `incarnation` as stored, over its snapshot `index`
    /// (oldest first; rows of snapshots not in it are left out).
    pub fn from_store(
        store: &Store,
        incarnation: IncarnationId,
        index: &[SnapshotRecord],
    ) -> Result<CensusTable, StoreError> {
        let slots: HashMap<SnapshotId, usize> =
            index.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let mut b = Builder::new(index.iter());
        b.heap_last = index.last().map_or(0, |s| s.total_self_size as u64);
        // Each census's data and total on the heap, as `SnapshotCensus::data_size` and
        // `on_heap_size` count them, from its stored family totals.
        let mut censuses: Vec<SnapshotCensus> = index.iter().map(|s| s.facts_only()).collect();
        for (snapshot, total) in store.incarnation_families(incarnation)? {
            if let Some(&i) = slots.get(&snapshot) {
                censuses[i].families.push(total);
            }
        }
        b.table.data_sizes = censuses.iter().map(SnapshotCensus::data_size).collect();
        b.table.on_heap_sizes = censuses.iter().map(SnapshotCensus::on_heap_size).collect();
        store.for_each_incarnation_class(incarnation, |row| {
            if let Some(&i) = slots.get(&row.snapshot) {
                b.class(i, row);
            }
        })?;
        store.for_each_incarnation_collection(incarnation, |row| {
            if let Some(&i) = slots.get(&row.snapshot) {
                b.collection(i, row);
            }
        })?;
        if let Some(last) = index.last() {
            b.table.leaks = store
                .leak_evidence(last.id)?
                .and_then(|e| LatestLeaks::of(e, index));
        }
        b.table.places = index
            .iter()
            .skip(index.len().saturating_sub(3))
            .map(|s| store.sized_places(s.id))
            .collect::<Result<_, _>>()?;
        Ok(b.finish())
    }

    /// Snapshots in the table.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether the table has no snapshot.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The rows of each class, in class-name order (each run oldest first).
    pub(crate) fn class_runs(&self) -> impl Iterator<Item = &[ClassRow]> {
        self.classes.chunk_by(|a, b| a.class == b.class)
    }

    /// The rows of each collection, in node-id order (each run oldest first).
    pub(crate) fn collection_runs(&self) -> impl Iterator<Item = &[CollectionRow]> {
        self.collections.chunk_by(|a, b| a.id == b.id)
    }

    /// A name by its index.
    pub(crate) fn name(&self, index: u32) -> &str {
        &self.names[index as usize]
    }

    /// Instances of `class` in the census at `snapshot`, if that census listed the class.
    pub(crate) fn class_count(&self, class: &str, snapshot: u32) -> Option<u64> {
        // Rows are sorted by class name, then snapshot: a binary search, not a scan of
        // every row (hundreds of thousands after days), per culprit.
        let at = self
            .classes
            .partition_point(|r| (self.name(r.class), r.snapshot) < (class, snapshot));
        self.classes
            .get(at)
            .filter(|r| self.name(r.class) == class && r.snapshot == snapshot)
            .map(|r| r.count)
    }
}

/// Collects rows, interning their strings.
struct Builder {
    table: CensusTable,
    heap_last: u64,
    ids: HashMap<String, u32>,
}

impl Builder {
    fn new<'a>(index: impl Iterator<Item = &'a SnapshotRecord>) -> Builder {
        Builder {
            table: CensusTable {
                times: index.map(|s| s.t).collect(),
                ..CensusTable::default()
            },
            heap_last: 0,
            ids: HashMap::new(),
        }
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.table.names.len() as u32;
        self.table.names.push(s.to_owned());
        self.ids.insert(s.to_owned(), id);
        id
    }

    fn class(&mut self, snapshot: usize, row: ClassRowRef<'_>) {
        let class = self.intern(row.class);
        self.table.classes.push(ClassRow {
            class,
            snapshot: snapshot as u32,
            family: row.family,
            count: row.count,
            self_size: row.self_size,
            retained_size: row.retained_size,
        });
    }

    fn collection(&mut self, snapshot: usize, row: CollectionRowRef<'_>) {
        let kind = self.intern(row.kind);
        let path = self.intern(row.path);
        let shape = row.shape.map(|s| self.intern(s));
        self.table.collections.push(CollectionRow {
            id: row.id,
            snapshot: snapshot as u32,
            kind,
            path,
            shape,
            entries: row.entries,
            retained_size: row.retained_size,
        });
    }

    fn finish(self) -> CensusTable {
        let mut t = self.table;
        t.heap_last = self.heap_last;
        // Classes in name order: rank the names once rather than compare strings per row.
        let mut order: Vec<u32> = (0..t.names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| t.names[a as usize].cmp(&t.names[b as usize]));
        let mut rank = vec![0u32; t.names.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        // Stable: a class listed twice in one census keeps its first row first.
        t.classes
            .sort_by_key(|r| (rank[r.class as usize], r.snapshot));
        t.collections.sort_by_key(|r| (r.id, r.snapshot));
        t
    }
}
