//! What the watcher writes: targets, incarnations and their ends, samples, snapshots with
//! their censuses, deleted snapshot files. Each write is its own transaction.

use rusqlite::params;

use leaktrail_analysis::SnapshotCensus;

use crate::error::sql;
use crate::records::now_ms;
use crate::{IncarnationEnd, IncarnationId, SampleRecord, SnapshotId, Store, StoreError, TargetId};

impl Store {
    /// The target named `name`, created when new.
    pub fn target(&mut self, name: &str, command: Option<&str>) -> Result<TargetId, StoreError> {
        let p = self.db_path.clone();
        self.conn
            .execute(
                "INSERT INTO targets(name, command, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET command = coalesce(excluded.command, command)",
                params![name, command, now_ms()],
            )
            .map_err(sql(&p))?;
        self.conn
            .query_row("SELECT id FROM targets WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .map_err(sql(&p))
    }

    /// Records the start of a process of `target`.
    pub fn start_incarnation(
        &mut self,
        target: TargetId,
        pid: i64,
        started_at: i64,
    ) -> Result<IncarnationId, StoreError> {
        self.conn
            .execute(
                "INSERT INTO incarnations(target_id, pid, started_at) VALUES (?1, ?2, ?3)",
                params![target, pid, started_at],
            )
            .map_err(sql(&self.db_path))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the memory limits that apply to an incarnation.
    pub fn set_limits(
        &mut self,
        id: IncarnationId,
        heap_limit: Option<i64>,
        memory_limit: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE incarnations SET heap_limit = coalesce(?2, heap_limit),
                 memory_limit = coalesce(?3, memory_limit) WHERE id = ?1",
                params![id, heap_limit, memory_limit],
            )
            .map(|_| ())
            .map_err(sql(&self.db_path))
    }

    /// Records how an incarnation ended.
    pub fn end_incarnation(
        &mut self,
        id: IncarnationId,
        end: &IncarnationEnd,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE incarnations SET ended_at = ?2, exit_code = ?3, signal = ?4, end_reason = ?5
                 WHERE id = ?1",
                params![id, end.ended_at, end.exit_code, end.signal, end.reason],
            )
            .map(|_| ())
            .map_err(sql(&self.db_path))
    }

    /// Appends a sample (its own transaction).
    pub fn add_sample(&mut self, s: &SampleRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO samples(incarnation_id, t, rss, anon, pss, threads, heap_used, heap_total, external, in_snapshot)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    s.incarnation_id,
                    s.t,
                    stored(s.memory.rss),
                    stored(s.memory.anon),
                    s.memory.pss.map(stored),
                    stored(s.memory.threads),
                    s.memory.heap_used.map(stored),
                    s.memory.heap_total.map(stored),
                    s.memory.external.map(stored),
                    s.in_snapshot
                ],
            )
            .map(|_| ())
            .map_err(sql(&self.db_path))
    }

    /// Indexes a snapshot file (already under [`Store::snapshots_dir`]) with its census, in
    /// one transaction.
    pub fn add_snapshot(
        &mut self,
        incarnation: IncarnationId,
        t: i64,
        file: &str,
        reason: &str,
        census: &SnapshotCensus,
    ) -> Result<SnapshotId, StoreError> {
        let p = self.db_path.clone();
        let tx = self.conn.transaction().map_err(sql(&p))?;
        tx.execute(
            "INSERT INTO snapshots(incarnation_id, t, file, file_size, node_count, edge_count, total_self_size, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                incarnation,
                t,
                file,
                census.info.file_size as i64,
                census.info.node_count as i64,
                census.info.edge_count as i64,
                census.info.total_self_size as i64,
                reason
            ],
        )
        .map_err(sql(&p))?;
        let id = tx.last_insert_rowid();
        {
            let mut fam = tx
                .prepare(
                    "INSERT INTO snapshot_families(snapshot_id, family, count, self_size) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sql(&p))?;
            for f in &census.families {
                fam.execute(params![id, f.name, f.count as i64, f.self_size as i64])
                    .map_err(sql(&p))?;
            }
            let mut cls = tx
                .prepare(
                    "INSERT OR REPLACE INTO snapshot_classes(snapshot_id, class, family, count, self_size, retained_size)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql(&p))?;
            for c in &census.classes {
                cls.execute(params![
                    id,
                    c.class,
                    c.family.key(),
                    c.count as i64,
                    c.self_size as i64,
                    c.retained_size.map(|r| r as i64)
                ])
                .map_err(sql(&p))?;
            }
            let mut col = tx
                .prepare(
                    "INSERT INTO snapshot_collections(snapshot_id, node_id, kind, entries, retained_size, path, shape)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql(&p))?;
            for c in &census.collections {
                col.execute(params![
                    id,
                    c.id as i64,
                    c.kind,
                    c.entries as i64,
                    c.retained_size as i64,
                    c.path,
                    c.shape
                ])
                .map_err(sql(&p))?;
            }
            if census.leaks.is_some() || !census.places.is_empty() {
                let json = |what: &str, v: serde_json::Result<String>| {
                    v.map_err(|e| StoreError::Corrupt {
                        path: p.clone(),
                        detail: format!("cannot write the {what}: {e}"),
                    })
                };
                let leaks = match &census.leaks {
                    Some(l) => Some(json("leak evidence", serde_json::to_string(l))?),
                    None => None,
                };
                let places = json("places", serde_json::to_string(&census.places))?;
                tx.execute(
                    "INSERT INTO snapshot_evidence(snapshot_id, leaks, places) VALUES (?1, ?2, ?3)",
                    params![id, leaks, places],
                )
                .map_err(sql(&p))?;
            }
        }
        tx.commit().map_err(sql(&p))?;
        Ok(id)
    }

    /// Notes that a snapshot's raw file was deleted; its census stays.
    pub fn mark_file_deleted(&mut self, id: SnapshotId, at: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE snapshots SET file_deleted_at = ?2 WHERE id = ?1",
                params![id, at],
            )
            .map(|_| ())
            .map_err(sql(&self.db_path))
    }
}

/// A byte count or a count as SQLite's integer. Real readings are far below `i64::MAX`;
/// a larger one (a corrupt reading) is stored as the largest integer, not wrapped negative.
fn stored(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
