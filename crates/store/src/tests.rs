//! The store's unit tests: round trips, migrations, refusals, crash safety.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use leaktrail_analysis::{
    CensusCluster, CensusLeaks, ClassStats, CollectionRecord, Family, GroupTotal, LeakWindow,
    SizedPlace, SnapshotCensus, SnapshotInfo,
};

use super::*;
use crate::schema::SCHEMA;

fn census(n: u64) -> SnapshotCensus {
    SnapshotCensus {
        info: SnapshotInfo {
            path: "x".into(),
            file_size: 1000 + n,
            node_count: 10,
            edge_count: 20,
            total_self_size: 500,
        },
        families: vec![GroupTotal {
            name: "objects".into(),
            count: 3,
            self_size: 300,
        }],
        classes: vec![ClassStats {
            class: "StreamEntry".into(),
            family: Family::Objects,
            count: n,
            self_size: 64 * n,
            retained_size: Some(100 * n),
        }],
        collections: vec![CollectionRecord {
            id: 77,
            kind: "Map".into(),
            entries: n,
            retained_size: 9,
            path: "(GC roots) → StreamRegistry.streams".into(),
            shape: Some("registry\u{1}StreamRegistry\u{2}streams\u{1}Map\u{2}".into()),
        }],
        // A watcher keeps the highest id in memory only.
        max_node_id: None,
        leaks: Some(CensusLeaks {
            window: LeakWindow {
                base: "a-1.heapsnapshot".into(),
                base_max_id: 100,
                target: "a-2.heapsnapshot".into(),
                target_max_id: 200 + n as u32,
            },
            leak_roots: n,
            leak_roots_retained: n * 10,
            min_cluster_bytes: 65536,
            clusters: vec![CensusCluster {
                class: "StreamEntry".into(),
                count: n,
                retained_size: n * 10,
                class_count: n * 2,
                holder: "`streams` (Map) of StreamRegistry".into(),
                path: "(GC roots) → registry → streams → table → [1] (StreamEntry)".into(),
                example_id: 151,
            }],
        }),
        places: vec![SizedPlace {
            holder_id: 41,
            edge: "log".into(),
            shape: "audit\u{1}AuditTrail\u{2}log\u{1}(concatenated string)\u{2}".into(),
            own_size: n * 1000,
            class: "(concatenated string)".into(),
            label: "`log` of AuditTrail".into(),
            path: "(GC roots) → audit → log".into(),
        }],
    }
}

/// A store as version 1 wrote it: no `shape` column.
fn version_1_store(dir: &Path) {
    create_private_dir(dir).expect("dir");
    create_private_dir(&dir.join("snapshots")).expect("snapshots");
    let v1 = SCHEMA
        .replace("shape TEXT, ", "")
        .replace(", in_snapshot INTEGER", "")
        .replace(
            "CREATE TABLE IF NOT EXISTS snapshot_evidence(\n  snapshot_id INTEGER PRIMARY KEY REFERENCES snapshots(id), leaks TEXT, places TEXT);\n",
            "",
        )
        .replace("'schema_version', '4'", "'schema_version', '1'");
    let conn = Connection::open(dir.join(DB_FILE)).expect("open");
    conn.execute_batch(&v1).expect("v1 schema");
    conn.execute_batch(
        "INSERT INTO targets(id, name, created_at) VALUES (1, 'api', 0);
         INSERT INTO incarnations(id, target_id, pid, started_at) VALUES (1, 1, 42, 0);
         INSERT INTO samples(incarnation_id, t, rss, threads) VALUES (1, 5, 100, 7);
         INSERT INTO snapshots(id, incarnation_id, t, file, file_size, node_count, edge_count, total_self_size, reason)
           VALUES (1, 1, 10, 'a.heapsnapshot', 1, 1, 1, 1, 'first');
         INSERT INTO snapshot_collections(snapshot_id, node_id, kind, entries, retained_size, path)
           VALUES (1, 77, 'Map', 5, 9, '(GC roots) → StreamRegistry.streams');",
    )
    .expect("v1 rows");
}

#[test]
fn a_version_1_store_is_read_and_upgraded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_dir = dir.path().join("store");
    version_1_store(&store_dir);
    // A reader leaves it as it is and reads no shapes.
    {
        let s = Store::open(&store_dir).expect("open v1");
        assert_eq!(s.schema_version().expect("version"), 1);
        let snaps = s.snapshots(1).expect("snaps");
        let c = s.census(&snaps[0]).expect("census");
        assert_eq!(c.collections[0].path, "(GC roots) → StreamRegistry.streams");
        assert_eq!(c.collections[0].shape, None);
        let batch = s.incarnation_censuses(1).expect("batch");
        assert_eq!(batch[0].1.collections, c.collections);
        let samples = s.incarnation_samples(1, 0, 10).expect("samples");
        assert_eq!((samples.len(), samples[0].in_snapshot), (1, false));
        assert_eq!(s.samples(1, 0, 10).expect("samples"), samples);
    }
    // A writer upgrades it: old rows keep no shape, new ones have theirs.
    let mut s = Store::create(&store_dir).expect("upgrade");
    assert_eq!(s.schema_version().expect("version"), SCHEMA_VERSION);
    s.add_snapshot(1, 20, "b.heapsnapshot", "second", &census(6))
        .expect("snap");
    let marked = SampleRecord {
        incarnation_id: 1,
        t: 30,
        memory: MemoryReading {
            rss: 900,
            threads: 7,
            ..MemoryReading::default()
        },
        in_snapshot: true,
    };
    s.add_sample(&marked).expect("marked sample");
    drop(s);
    // Opening it again for writing does not add the column twice.
    drop(Store::create(&store_dir).expect("again"));
    let s = Store::open(&store_dir).expect("open v2");
    let batch = s.incarnation_censuses(1).expect("batch");
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0].1.collections[0].shape, None);
    assert_eq!(batch[1].1.collections, census(6).collections);
    // The leak evidence came with the new census only: version 1 had none.
    assert_eq!(batch[0].1.leaks, None);
    assert_eq!(batch[1].1.leaks, census(6).leaks);
    // The old sample reads as unmarked, the new one keeps its mark.
    let samples = s.incarnation_samples(1, 0, 10).expect("samples");
    let marks: Vec<bool> = samples.iter().map(|x| x.in_snapshot).collect();
    assert_eq!(marks, [false, true]);
    assert_eq!(samples[1], marked);
}

#[test]
fn round_trips_and_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_dir = dir.path().join("store");
    {
        let mut s = Store::create(&store_dir).expect("create");
        let t = s.target("api", Some("node server.js")).expect("target");
        assert_eq!(s.target("api", None).expect("again"), t);
        let i = s.start_incarnation(t, 42, 1000).expect("inc");
        s.set_limits(i, Some(4 << 30), None).expect("limits");
        for k in 0..3 {
            s.add_sample(&SampleRecord {
                incarnation_id: i,
                t: 1000 + k * 10,
                memory: MemoryReading {
                    rss: 100 + k as u64,
                    threads: 7,
                    heap_used: Some(50 + k as u64),
                    ..MemoryReading::default()
                },
                ..SampleRecord::default()
            })
            .expect("sample");
        }
        let id = s
            .add_snapshot(i, 1020, "a.heapsnapshot", "first", &census(5))
            .expect("snap");
        s.mark_file_deleted(id, 2000).expect("delete");
        s.end_incarnation(
            i,
            &IncarnationEnd {
                ended_at: 3000,
                exit_code: None,
                signal: Some(9),
                reason: EndReason::OomKill,
            },
        )
        .expect("end");
    }
    let s = Store::open(&store_dir).expect("open");
    let t = s.targets().expect("targets");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].command.as_deref(), Some("node server.js"));
    let inc = s.incarnations(t[0].id).expect("incs");
    assert_eq!(inc[0].end_reason, Some(EndReason::OomKill));
    assert_eq!(inc[0].heap_limit, Some(4 << 30));
    let samples = s.samples(t[0].id, 1010, 10).expect("samples");
    assert_eq!(
        samples.iter().map(|s| s.t).collect::<Vec<_>>(),
        [1010, 1020]
    );
    assert_eq!(
        s.samples(t[0].id, 0, 1).expect("limit")[0].t,
        1020,
        "a limit keeps the newest"
    );
    assert_eq!(
        s.incarnation_samples(inc[0].id, 1005, 1)
            .expect("by incarnation")[0]
            .t,
        1020
    );
    assert_eq!(
        s.incarnation_samples(inc[0].id, 0, 10)
            .expect("by incarnation")
            .iter()
            .map(|s| s.t)
            .collect::<Vec<_>>(),
        [1000, 1010, 1020]
    );
    let snaps = s.snapshots(t[0].id).expect("snaps");
    assert_eq!(snaps[0].file_deleted_at, Some(2000));
    assert!(s.snapshots_on_disk().expect("on disk").is_empty());
    let c = s.census(&snaps[0]).expect("census");
    let batch = s.incarnation_censuses(inc[0].id).expect("batch");
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].0, snaps[0]);
    assert_eq!(format!("{:?}", batch[0].1), format!("{c:?}"));
    assert_eq!(c.classes[0].count, 5);
    assert_eq!(c.classes[0].retained_size, Some(500));
    assert_eq!(c.collections, census(5).collections);
    assert_eq!(c.leaks, census(5).leaks);
    assert_eq!(c.places, census(5).places);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&store_dir), 0o700);
        assert_eq!(mode(&store_dir.join(DB_FILE)), 0o600);
        // A store restored with a wider mode is made private again when written.
        drop(s);
        let db = store_dir.join(DB_FILE);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let s = Store::create(&store_dir).expect("reopen");
        assert_eq!(mode(&db), 0o600);
        assert_eq!(s.targets().expect("targets").len(), 1, "data kept");
    }
}

#[test]
fn a_corrupt_sample_row_reads_as_zero_and_keeps_its_neighbours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_dir = dir.path().join("store");
    let mut s = Store::create(&store_dir).expect("create");
    let t = s.target("api", None).expect("target");
    let i = s.start_incarnation(t, 42, 1000).expect("inc");
    let good = |k: u64| SampleRecord {
        incarnation_id: i,
        t: 1000 + k as i64,
        memory: MemoryReading {
            rss: 100 + k,
            anon: 90,
            threads: 7,
            heap_used: Some(50),
            ..MemoryReading::default()
        },
        ..SampleRecord::default()
    };
    s.add_sample(&good(0)).expect("sample");
    drop(s);
    // A row another tool (or a bad disk) wrote: negative sizes and a NULL anon.
    let conn = Connection::open(store_dir.join(DB_FILE)).expect("raw open");
    conn.execute(
        "INSERT INTO samples(incarnation_id, t, rss, anon, pss, threads, heap_used) VALUES (?1, 1001, -5, NULL, -1, 3, -7)",
        [i],
    )
    .expect("raw insert");
    drop(conn);
    let mut s = Store::create(&store_dir).expect("reopen");
    s.add_sample(&good(2)).expect("sample after");
    let read = s.incarnation_samples(i, 0, 10).expect("samples read");
    assert_eq!(read.len(), 3, "{read:?}");
    assert_eq!((read[0].clone(), read[2].clone()), (good(0), good(2)));
    let bad = read[1].memory;
    assert_eq!(
        (bad.rss, bad.anon, bad.pss, bad.threads, bad.heap_used),
        (0, 0, Some(0), 3, Some(0))
    );
}

#[test]
fn a_store_being_created_is_missing_or_whole_to_a_reader() {
    // `serve` started beside a starting `watch` once read the new database before its
    // schema was written and refused it as "not a leaktrail store".
    let root = tempfile::tempdir().expect("tempdir");
    let dirs: Vec<PathBuf> = (0..100).map(|i| root.path().join(i.to_string())).collect();
    let writer_dirs = dirs.clone();
    let writer = std::thread::spawn(move || {
        for d in &writer_dirs {
            Store::create(d).expect("create");
        }
    });
    let mut whole = 0;
    for d in &dirs {
        loop {
            match Store::open(d) {
                Ok(_) => {
                    whole += 1;
                    break;
                }
                Err(StoreError::Missing(_)) => std::thread::yield_now(),
                Err(e) => panic!("a reader saw a half-made store: {e}"),
            }
        }
    }
    writer.join().expect("writer");
    assert_eq!(whole, dirs.len());
    let leftovers: Vec<_> = std::fs::read_dir(&dirs[0])
        .expect("read_dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".new-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_build_abandoned_by_a_killed_watcher_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join(format!("{DB_FILE}.new-999999"));
    let fresh = dir.path().join(format!("{DB_FILE}.new-999998"));
    for f in [&old, &fresh] {
        std::fs::write(f, b"half a database").expect("write");
    }
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .and_then(|f| f.set_modified(hour_ago))
        .expect("set mtime");
    Store::create(dir.path()).expect("create");
    assert!(!old.exists(), "an hour-old build is abandoned");
    // One being built right now by another watcher is left to it.
    assert!(fresh.exists());
    Store::open(dir.path()).expect("a whole store");
}

#[test]
fn another_programs_database_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join(DB_FILE);
    let other = Connection::open(&db).expect("open");
    other
        .execute_batch("CREATE TABLE notes(text TEXT); INSERT INTO notes VALUES ('mine');")
        .expect("create");
    drop(other);
    let before = std::fs::read(&db).expect("read");
    let err = Store::open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("not a leaktrail store"), "{err}");
    assert_eq!(std::fs::read(&db).expect("read"), before);
    assert!(!dir.path().join(format!("{DB_FILE}-wal")).exists());
}

/// What `Store::create` must leave as it found it: the file's bytes and mode, the
/// directory's mode and listing, the journal mode and the tables.
#[cfg(unix)]
fn foreign_state(dir: &Path) -> (Vec<u8>, u32, u32, Vec<String>, String, Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    let db = dir.join(DB_FILE);
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode();
    let mut listing: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    listing.sort();
    let bytes = std::fs::read(&db).expect("read");
    let conn =
        Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open read-only");
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    let mut tables = conn
        .prepare("SELECT name FROM sqlite_master ORDER BY name")
        .expect("prepare");
    let tables = tables
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<Vec<String>, _>>()
        .expect("names");
    (bytes, mode(&db), mode(dir), listing, journal, tables)
}

#[cfg(unix)]
#[test]
fn the_writer_refuses_another_programs_database_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join(DB_FILE);
    let other = Connection::open(&db).expect("open");
    other
        .execute_batch(
            "CREATE TABLE notes(text TEXT); INSERT INTO notes VALUES ('mine');
             CREATE INDEX notes_text ON notes(text);",
        )
        .expect("create");
    drop(other);
    // Modes a store would narrow: refusing must not narrow them either.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let before = foreign_state(dir.path());
    assert_eq!(before.4, "delete");
    let err = Store::create(dir.path()).err().expect("refused");
    let said = err.to_string();
    assert!(said.contains("not a leaktrail store"), "{said}");
    assert!(said.contains(&db.display().to_string()), "{said}");
    assert!(
        said.contains("notes"),
        "it names what the file holds: {said}"
    );
    assert_eq!(foreign_state(dir.path()), before);
}

#[test]
fn the_writer_refuses_a_newer_store_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    Store::create(dir.path()).expect("create");
    let db = dir.path().join(DB_FILE);
    Connection::open(&db)
        .and_then(|c| c.execute_batch("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
        .expect("bump");
    let before = std::fs::read(&db).expect("read");
    let err = Store::create(dir.path()).err().expect("refused");
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert_eq!(std::fs::read(&db).expect("read"), before);
}

#[test]
fn the_writer_refuses_a_file_that_is_not_sqlite_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join(DB_FILE);
    std::fs::write(&db, b"not a database at all, just text").expect("write");
    let err = Store::create(dir.path()).err().expect("refused");
    assert!(err.to_string().contains(DB_FILE), "{err}");
    assert_eq!(
        std::fs::read(&db).expect("read"),
        b"not a database at all, just text"
    );
    assert!(!dir.path().join("snapshots").exists());
}

#[test]
fn the_writer_takes_an_empty_database_for_its_store() {
    // What a watcher of a build before stores were built beside their name left when
    // killed before its schema: a database without a single table.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join(DB_FILE);
    Connection::open(&db)
        .and_then(|c| c.execute_batch("PRAGMA journal_mode = WAL;"))
        .expect("empty database");
    Store::create(dir.path()).expect("an empty database becomes the store");
    Store::open(dir.path()).expect("a whole store");
}

#[test]
fn refuses_what_is_not_a_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::Missing(_))
    ));
    std::fs::write(
        dir.path().join(DB_FILE),
        b"not a database at all, just text",
    )
    .expect("write");
    let err = Store::open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains(DB_FILE), "{err}");
}
