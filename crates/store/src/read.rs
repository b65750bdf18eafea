//! What readers (trend, serve) ask of a store: targets, incarnations, samples, snapshots
//! and censuses, and the row decoders they share.

use rusqlite::{params, OptionalExtension};

use leaktrail_analysis::{
    CensusLeaks, ClassStats, CollectionRecord, Family, GroupTotal, SizedPlace, SnapshotCensus,
};
use leaktrail_sampler::MemoryReading;

use crate::error::sql;
use crate::{
    ClassRowRef, CollectionRowRef, Incarnation, IncarnationId, SampleRecord, SnapshotId,
    SnapshotRecord, Store, StoreError, Target, TargetId,
};

impl Store {
    /// Every target, oldest first.
    pub fn targets(&self) -> Result<Vec<Target>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare("SELECT id, name, command, created_at FROM targets ORDER BY id")
            .map_err(sql(p))?;
        let rows = st
            .query_map([], |r| {
                Ok(Target {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    command: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })
            .map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// The incarnations of `target`, oldest first.
    pub fn incarnations(&self, target: TargetId) -> Result<Vec<Incarnation>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare(
                "SELECT id, target_id, pid, started_at, ended_at, exit_code, signal, end_reason, heap_limit, memory_limit
                 FROM incarnations WHERE target_id = ?1 ORDER BY started_at, id",
            )
            .map_err(sql(p))?;
        let rows = st
            .query_map([target], |r| {
                Ok(Incarnation {
                    id: r.get(0)?,
                    target_id: r.get(1)?,
                    pid: r.get(2)?,
                    started_at: r.get(3)?,
                    ended_at: r.get(4)?,
                    exit_code: r.get(5)?,
                    signal: r.get(6)?,
                    end_reason: r.get(7)?,
                    heap_limit: r.get(8)?,
                    memory_limit: r.get(9)?,
                })
            })
            .map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// Samples of `target` taken at or after `since` (ms), oldest first, at most `limit`
    /// (the most recent ones when there are more).
    pub fn samples(
        &self,
        target: TargetId,
        since: i64,
        limit: usize,
    ) -> Result<Vec<SampleRecord>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT * FROM (
                   SELECT {}
                   FROM samples s JOIN incarnations i ON i.id = s.incarnation_id
                   WHERE i.target_id = ?1 AND s.t >= ?2 ORDER BY s.t DESC LIMIT ?3
                 ) ORDER BY t",
                self.sample_columns("s.")
            ))
            .map_err(sql(p))?;
        let rows = st
            .query_map(params![target, since, limit as i64], sample_row)
            .map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// Samples of `target` taken at or after `since` (ms), oldest first, thinned to at
    /// most `points` spread evenly over their whole time span: the span is cut into
    /// `points` equal buckets and each keeps its latest sample (as a Prometheus range
    /// query evaluates each step). What a chart of days of samples draws, where the
    /// newest `limit` of [`Store::samples`] would show only the last hours.
    pub fn samples_spread(
        &self,
        target: TargetId,
        since: i64,
        points: usize,
    ) -> Result<Vec<SampleRecord>, StoreError> {
        let p = &self.db_path;
        let span: (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT MIN(s.t), MAX(s.t) FROM samples s JOIN incarnations i ON i.id = s.incarnation_id
                 WHERE i.target_id = ?1 AND s.t >= ?2",
                params![target, since],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql(p))?;
        let (Some(lo), Some(hi)) = span else {
            return Ok(Vec::new());
        };
        let mut st = self
            .conn
            .prepare(&format!(
                // `nth` comes last: `sample_row` reads the sample's columns before it.
                "SELECT * FROM (
                   SELECT {},
                          ROW_NUMBER() OVER (PARTITION BY ((s.t - ?3) * ?4) / (?5 - ?3 + 1) ORDER BY s.t DESC) AS nth
                   FROM samples s JOIN incarnations i ON i.id = s.incarnation_id
                   WHERE i.target_id = ?1 AND s.t >= ?2
                 ) WHERE nth = 1 ORDER BY t",
                self.sample_columns("s.")
            ))
            .map_err(sql(p))?;
        let rows = st
            .query_map(
                params![target, since, lo, points.max(1) as i64, hi],
                sample_row,
            )
            .map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// Samples of one incarnation taken at or after `since` (ms), oldest first, at most
    /// `limit` (the most recent ones when there are more). Reads the `(incarnation, t)`
    /// index backwards: no sort.
    pub fn incarnation_samples(
        &self,
        incarnation: IncarnationId,
        since: i64,
        limit: usize,
    ) -> Result<Vec<SampleRecord>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {}
                 FROM samples WHERE incarnation_id = ?1 AND t >= ?2 ORDER BY t DESC LIMIT ?3",
                self.sample_columns("")
            ))
            .map_err(sql(p))?;
        let rows = st
            .query_map(params![incarnation, since, limit as i64], sample_row)
            .map_err(sql(p))?;
        let mut out: Vec<SampleRecord> = rows.collect::<Result<_, _>>().map_err(sql(p))?;
        out.reverse();
        Ok(out)
    }

    /// The snapshot index of `target`, oldest first.
    pub fn snapshots(&self, target: TargetId) -> Result<Vec<SnapshotRecord>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare(
                "SELECT s.id, s.incarnation_id, s.t, s.file, s.file_size, s.file_deleted_at,
                        s.node_count, s.edge_count, s.total_self_size, s.reason
                 FROM snapshots s JOIN incarnations i ON i.id = s.incarnation_id
                 WHERE i.target_id = ?1 ORDER BY s.t, s.id",
            )
            .map_err(sql(p))?;
        let rows = st.query_map([target], snapshot_row).map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// Every snapshot whose raw file is still on disk, oldest first (for the disk budget).
    pub fn snapshots_on_disk(&self) -> Result<Vec<SnapshotRecord>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare(
                "SELECT id, incarnation_id, t, file, file_size, file_deleted_at,
                        node_count, edge_count, total_self_size, reason
                 FROM snapshots WHERE file_deleted_at IS NULL ORDER BY t, id",
            )
            .map_err(sql(p))?;
        let rows = st.query_map([], snapshot_row).map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// One snapshot of the index.
    pub fn snapshot(&self, id: SnapshotId) -> Result<Option<SnapshotRecord>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, incarnation_id, t, file, file_size, file_deleted_at,
                        node_count, edge_count, total_self_size, reason
                 FROM snapshots WHERE id = ?1",
                [id],
                snapshot_row,
            )
            .optional()
            .map_err(sql(&self.db_path))
    }

    /// The censuses of every snapshot of one incarnation, oldest first, each as
    /// [`Store::census`] gives it — read in three queries rather than three per snapshot
    /// (a trend over 200 snapshots reads ~90,000 rows); of the leak evidence, only the newest
    /// census's, and of the places, the newest three's.
    pub fn incarnation_censuses(
        &self,
        incarnation: IncarnationId,
    ) -> Result<Vec<(SnapshotRecord, SnapshotCensus)>, StoreError> {
        let p = &self.db_path;
        let corrupt = |detail: String| StoreError::Corrupt {
            path: p.clone(),
            detail,
        };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, incarnation_id, t, file, file_size, file_deleted_at,
                        node_count, edge_count, total_self_size, reason
                 FROM snapshots WHERE incarnation_id = ?1 ORDER BY t, id",
            )
            .map_err(sql(p))?;
        let records: Vec<SnapshotRecord> = st
            .query_map([incarnation], snapshot_row)
            .map_err(sql(p))?
            .collect::<Result<_, _>>()
            .map_err(sql(p))?;
        let index: std::collections::HashMap<SnapshotId, usize> =
            records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        let mut out: Vec<(SnapshotRecord, SnapshotCensus)> = records
            .into_iter()
            .map(|r| {
                let census = r.facts_only();
                (r, census)
            })
            .collect();
        let slot = |id: i64| {
            index
                .get(&id)
                .copied()
                .ok_or_else(|| corrupt(format!("census row of unknown snapshot {id}")))
        };
        for (snapshot, total) in self.incarnation_families(incarnation)? {
            out[slot(snapshot)?].1.families.push(total);
        }
        let mut missing = None;
        self.for_each_incarnation_class(incarnation, |row| match slot(row.snapshot) {
            Ok(i) => out[i].1.classes.push(ClassStats {
                class: row.class.to_owned(),
                family: row.family,
                count: row.count,
                self_size: row.self_size,
                retained_size: row.retained_size,
            }),
            Err(e) => missing = Some(e),
        })?;
        self.for_each_incarnation_collection(incarnation, |row| match slot(row.snapshot) {
            Ok(i) => out[i].1.collections.push(CollectionRecord {
                id: row.id,
                kind: row.kind.to_owned(),
                entries: row.entries,
                retained_size: row.retained_size,
                path: row.path.to_owned(),
                shape: row.shape.map(str::to_owned),
            }),
            Err(e) => missing = Some(e),
        })?;
        if let Some(e) = missing {
            return Err(e);
        }
        // The order `census` gives: classes by self size, collections by entries, largest
        // first (ties as the table's key order, class name or node id).
        for (_, c) in &mut out {
            c.classes.sort_by(|a, b| {
                b.self_size
                    .cmp(&a.self_size)
                    .then_with(|| a.class.cmp(&b.class))
            });
            c.collections
                .sort_by(|a, b| b.entries.cmp(&a.entries).then_with(|| a.id.cmp(&b.id)));
        }
        // Only the newest census's leak evidence and the newest three's places are read:
        // a trend names its culprits from them, and older ones would cost a JSON parse
        // each for nothing.
        if let Some((rec, census)) = out.last_mut() {
            census.leaks = self.leak_evidence(rec.id)?;
        }
        let newest = out.len().saturating_sub(3);
        for (rec, census) in &mut out[newest..] {
            census.places = self.sized_places(rec.id)?;
        }
        Ok(out)
    }

    /// Calls `f` with every class row of every census of one incarnation, in no particular
    /// order, borrowed from the query: a trend over hundreds of censuses reads hundreds of
    /// thousands of rows, and a server that allocated a string for each would leave its
    /// heap fragmented by every refresh.
    pub fn for_each_incarnation_class(
        &self,
        incarnation: IncarnationId,
        mut f: impl FnMut(ClassRowRef<'_>),
    ) -> Result<(), StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT c.snapshot_id, c.class, c.family, c.count, c.self_size, c.retained_size
                 FROM snapshots s JOIN snapshot_classes c ON c.snapshot_id = s.id
                 WHERE s.incarnation_id = ?1",
            )
            .map_err(sql(p))?;
        let mut rows = st.query([incarnation]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            let family = text(r, 2, p)?;
            f(ClassRowRef {
                snapshot: r.get(0).map_err(sql(p))?,
                class: text(r, 1, p)?,
                family: Family::from_key(family).ok_or_else(|| StoreError::Corrupt {
                    path: p.clone(),
                    detail: format!("unknown family {family:?}"),
                })?,
                count: r.get::<_, i64>(3).map_err(sql(p))? as u64,
                self_size: r.get::<_, i64>(4).map_err(sql(p))? as u64,
                retained_size: r
                    .get::<_, Option<i64>>(5)
                    .map_err(sql(p))?
                    .map(|v| v as u64),
            });
        }
        Ok(())
    }

    /// The family totals of every census of one incarnation, as (snapshot, total) pairs
    /// in no particular order.
    pub fn incarnation_families(
        &self,
        incarnation: IncarnationId,
    ) -> Result<Vec<(SnapshotId, GroupTotal)>, StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT f.snapshot_id, f.family, f.count, f.self_size
                 FROM snapshots s JOIN snapshot_families f ON f.snapshot_id = s.id
                 WHERE s.incarnation_id = ?1",
            )
            .map_err(sql(p))?;
        let rows = st
            .query_map([incarnation], |r| Ok((r.get(0)?, family_total(r, 1)?)))
            .map_err(sql(p))?;
        rows.collect::<Result<_, _>>().map_err(sql(p))
    }

    /// Calls `f` with every collection row of every census of one incarnation, in no
    /// particular order, borrowed from the query (as
    /// [`Store::for_each_incarnation_class`]).
    pub fn for_each_incarnation_collection(
        &self,
        incarnation: IncarnationId,
        mut f: impl FnMut(CollectionRowRef<'_>),
    ) -> Result<(), StoreError> {
        let p = &self.db_path;
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT c.snapshot_id, c.node_id, c.kind, c.entries, c.retained_size, c.path, {}
                 FROM snapshots s JOIN snapshot_collections c ON c.snapshot_id = s.id
                 WHERE s.incarnation_id = ?1",
                self.shape_column("c.")
            ))
            .map_err(sql(p))?;
        let mut rows = st.query([incarnation]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            f(CollectionRowRef {
                snapshot: r.get(0).map_err(sql(p))?,
                id: r.get::<_, i64>(1).map_err(sql(p))? as u32,
                kind: text(r, 2, p)?,
                entries: r.get::<_, i64>(3).map_err(sql(p))? as u64,
                retained_size: r.get::<_, i64>(4).map_err(sql(p))? as u64,
                path: text(r, 5, p)?,
                shape: r
                    .get_ref(6)
                    .and_then(|v| v.as_str_or_null().map_err(rusqlite::Error::from))
                    .map_err(sql(p))?,
            });
        }
        Ok(())
    }

    /// The `shape` column as a query selects it: NULL from a version 1 store read without
    /// being upgraded. `table` is the table's alias with its dot, or empty.
    fn shape_column(&self, table: &str) -> String {
        if self.shapes {
            format!("{table}shape")
        } else {
            "NULL".to_owned()
        }
    }

    /// The `in_snapshot` column as a query selects it: NULL from a store older than
    /// version 3 read without being upgraded. `table` is the alias with its dot, or empty.
    /// The columns [`sample_row`] reads, in its order, of the samples table named
    /// `table` (a prefix such as `s.`, or empty).
    fn sample_columns(&self, table: &str) -> String {
        format!(
            "{table}incarnation_id, {table}t, {table}rss, {table}anon, {table}pss, {table}threads, \
             {table}heap_used, {table}heap_total, {table}external, {}",
            self.in_snapshot_column(table)
        )
    }

    fn in_snapshot_column(&self, table: &str) -> String {
        if self.snapshot_marks {
            format!("{table}in_snapshot")
        } else {
            "NULL".to_owned()
        }
    }

    /// The census of a snapshot, as stored.
    pub fn census(&self, snapshot: &SnapshotRecord) -> Result<SnapshotCensus, StoreError> {
        let p = &self.db_path;
        let mut census = snapshot.facts_only();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT family, count, self_size FROM snapshot_families WHERE snapshot_id = ?1",
            )
            .map_err(sql(p))?;
        let mut rows = st.query([snapshot.id]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            census.families.push(family_total(r, 0).map_err(sql(p))?);
        }
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT class, family, count, self_size, retained_size FROM snapshot_classes
                 WHERE snapshot_id = ?1 ORDER BY self_size DESC",
            )
            .map_err(sql(p))?;
        let mut rows = st.query([snapshot.id]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            census.classes.push(class_stats(r, 0, p)?);
        }
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT node_id, kind, entries, retained_size, path, {} FROM snapshot_collections
                 WHERE snapshot_id = ?1 ORDER BY entries DESC",
                self.shape_column("")
            ))
            .map_err(sql(p))?;
        let mut rows = st.query([snapshot.id]).map_err(sql(p))?;
        while let Some(r) = rows.next().map_err(sql(p))? {
            census
                .collections
                .push(collection_record(r, 0).map_err(sql(p))?);
        }
        census.leaks = self.leak_evidence(snapshot.id)?;
        census.places = self.sized_places(snapshot.id)?;
        Ok(census)
    }

    /// The leak evidence stored with a snapshot's census ([`CensusLeaks`]), if it has any.
    pub fn leak_evidence(&self, snapshot: SnapshotId) -> Result<Option<CensusLeaks>, StoreError> {
        self.evidence_column(snapshot, "leaks")
    }

    /// The largest objects of a snapshot's census with their places ([`SizedPlace`]).
    pub fn sized_places(&self, snapshot: SnapshotId) -> Result<Vec<SizedPlace>, StoreError> {
        Ok(self
            .evidence_column(snapshot, "places")?
            .unwrap_or_default())
    }

    /// One JSON column (`leaks` or `places`) of `snapshot_evidence`, parsed.
    fn evidence_column<T: serde::de::DeserializeOwned>(
        &self,
        snapshot: SnapshotId,
        column: &str,
    ) -> Result<Option<T>, StoreError> {
        if !self.leak_evidence {
            return Ok(None);
        }
        let p = &self.db_path;
        let text: Option<Option<String>> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {column} FROM snapshot_evidence WHERE snapshot_id = ?1"
            ))
            .and_then(|mut st| st.query_row([snapshot], |r| r.get(0)).optional())
            .map_err(sql(p))?;
        text.flatten()
            .map(|t| {
                serde_json::from_str(&t).map_err(|e| StoreError::Corrupt {
                    path: p.clone(),
                    detail: format!("the {column} of snapshot {snapshot}: {e}"),
                })
            })
            .transpose()
    }
}

/// Column `at` of `r` as text borrowed from the row.
fn text<'r>(r: &'r rusqlite::Row<'_>, at: usize, db_path: &str) -> Result<&'r str, StoreError> {
    r.get_ref(at)
        .and_then(|v| v.as_str().map_err(rusqlite::Error::from))
        .map_err(sql(db_path))
}

/// A `snapshot_families` row from column `at` on: `family, count, self_size`.
fn family_total(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<GroupTotal> {
    Ok(GroupTotal {
        name: r.get(at)?,
        count: r.get::<_, i64>(at + 1)? as u64,
        self_size: r.get::<_, i64>(at + 2)? as u64,
    })
}

/// A `snapshot_classes` row from column `at` on: `class, family, count, self_size,
/// retained_size`; an unknown family key is a corrupt store (`db_path`).
fn class_stats(r: &rusqlite::Row<'_>, at: usize, db_path: &str) -> Result<ClassStats, StoreError> {
    let family: String = r.get(at + 1).map_err(sql(db_path))?;
    Ok(ClassStats {
        class: r.get(at).map_err(sql(db_path))?,
        family: Family::from_key(&family).ok_or_else(|| StoreError::Corrupt {
            path: db_path.to_owned(),
            detail: format!("unknown family {family:?}"),
        })?,
        count: r.get::<_, i64>(at + 2).map_err(sql(db_path))? as u64,
        self_size: r.get::<_, i64>(at + 3).map_err(sql(db_path))? as u64,
        retained_size: r
            .get::<_, Option<i64>>(at + 4)
            .map_err(sql(db_path))?
            .map(|v| v as u64),
    })
}

/// A `snapshot_collections` row from column `at` on: `node_id, kind, entries,
/// retained_size, path, shape`.
fn collection_record(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<CollectionRecord> {
    Ok(CollectionRecord {
        id: r.get::<_, i64>(at)? as u32,
        kind: r.get(at + 1)?,
        entries: r.get::<_, i64>(at + 2)? as u64,
        retained_size: r.get::<_, i64>(at + 3)? as u64,
        path: r.get(at + 4)?,
        shape: r.get(at + 5)?,
    })
}

/// A stored byte count or count. A negative one (a hand-edited or corrupt row) reads as 0
/// rather than failing the read of every sample around it.
fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn sample_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SampleRecord> {
    Ok(SampleRecord {
        incarnation_id: r.get(0)?,
        t: r.get(1)?,
        memory: MemoryReading {
            rss: count(r.get(2)?),
            // Every watcher has written `anon`; the column is nullable only by its schema.
            anon: r.get::<_, Option<i64>>(3)?.map_or(0, count),
            pss: r.get::<_, Option<i64>>(4)?.map(count),
            threads: count(r.get(5)?),
            heap_used: r.get::<_, Option<i64>>(6)?.map(count),
            heap_total: r.get::<_, Option<i64>>(7)?.map(count),
            external: r.get::<_, Option<i64>>(8)?.map(count),
        },
        // NULL in rows of older watchers, which never sampled during a snapshot.
        in_snapshot: r.get::<_, Option<bool>>(9)?.unwrap_or(false),
    })
}

fn snapshot_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotRecord> {
    Ok(SnapshotRecord {
        id: r.get(0)?,
        incarnation_id: r.get(1)?,
        t: r.get(2)?,
        file: r.get(3)?,
        file_size: r.get(4)?,
        file_deleted_at: r.get(5)?,
        node_count: r.get(6)?,
        edge_count: r.get(7)?,
        total_self_size: r.get(8)?,
        reason: r.get(9)?,
    })
}
