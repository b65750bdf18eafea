//! Zero-disk snapshots (`trace --no-raw-snapshots`): a worker's snapshot goes down a pipe
//! into a census process, and only the census is kept.
//!
//! A heap snapshot holds every string of the process (tokens, keys, user data); in this
//! mode none is ever written to a file. Trace keeps a few named pipes (FIFOs, which hold
//! no data on disk) in a private directory (0700) and a reader thread blocked on each.
//! The preload ([`crate::hooks`]), at a file boundary where it would have written a
//! snapshot file, claims a free pipe by renaming it (`free-<k>.fifo` to
//! `busy.<pid>.<tid>.<seq>.fifo`: a rename succeeds for one writer only) and writes its
//! snapshot into it with `v8.writeHeapSnapshot`, synchronously as before — the runner still
//! waits between files, never mid-test. The reader, whose `open` the writer's completes,
//! finds which writer it serves by the pipe's inode, streams the bytes into the census
//! process (`leaktrail census -`, [`leaktrail_harness::CensusWorker`]), then removes the
//! pipe and makes a fresh free one. What is kept in memory per snapshot is its census.
//!
//! Memory: the census process holds one parsed snapshot at a time per reader (about twice
//! the heap's size while it parses; [`SLOTS`] readers at most); trace holds censuses only.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use leaktrail_analysis::{CensusLimits, SnapshotCensus};
use leaktrail_harness::CensusWorker;

use crate::snapshots::SnapshotTaken;

/// The environment variable naming the directory of pipes workers stream snapshots into.
pub const FIFO_ENV: &str = "LEAKTRAIL_SNAPSHOT_FIFOS";

/// How many snapshots can stream at once (one reader each); a worker that finds none free
/// waits for one, at most [`PIPE_WAIT`].
pub const SLOTS: usize = 4;

/// The environment variable giving how long a worker waits for a free pipe, ms.
pub const PIPE_WAIT_ENV: &str = "LEAKTRAIL_SNAPSHOT_PIPE_WAIT_MS";

/// How long a worker waits for a free pipe before it skips the snapshot and says so. A
/// stream lasts as long as its census takes to parse it, a few seconds for a test
/// worker's heap of a few hundred MB, so this covers a queue of several; a longer wait
/// holds up the tests for trace's sake (a free pipe that never comes would stall every
/// snapshot of the run).
pub const PIPE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The census of a snapshot a worker streamed.
#[derive(Clone, Debug, Serialize)]
pub struct StreamedCensus {
    /// When, why and at what cost it was taken (`written_as`: the pipe's name).
    #[serde(flatten)]
    pub taken: SnapshotTaken,
    /// The census.
    pub census: SnapshotCensus,
}

/// What a reader hands back: the writer (PID, thread) and its census, or why it failed.
pub struct Streamed {
    /// The writer's PID.
    pub pid: i32,
    /// The writer's thread.
    pub thread: u32,
    /// The census, or what went wrong (the writer died mid-stream, the census failed).
    pub census: Result<StreamedCensus, String>,
}

/// The pipes and their readers.
pub struct StreamedSnapshots {
    dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    readers: Vec<std::thread::JoinHandle<()>>,
    rx: Receiver<Streamed>,
}

impl StreamedSnapshots {
    /// Makes the private directory of pipes and starts the readers; `start` is the
    /// command's start (for the census times), `worker` where censuses are taken.
    pub fn new(start: Instant, worker: CensusWorker) -> std::io::Result<StreamedSnapshots> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("leaktrail-stream-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = channel();
        let mut readers = Vec::new();
        for slot in 0..SLOTS {
            let ino = offer_fifo(dir.path(), slot)?;
            let (dir, stop, tx, worker) = (
                dir.path().to_path_buf(),
                stop.clone(),
                tx.clone(),
                worker.clone(),
            );
            readers.push(std::thread::spawn(move || {
                read_slot(&dir, slot, ino, &stop, &tx, start, &worker)
            }));
        }
        Ok(StreamedSnapshots {
            dir,
            stop,
            readers,
            rx,
        })
    }

    /// The directory of pipes, for [`FIFO_ENV`].
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The censuses finished since the last call.
    pub fn poll(&self) -> Vec<Streamed> {
        self.rx.try_iter().collect()
    }

    /// Stops the readers (each blocked on its free pipe is woken by an empty writer),
    /// returns the censuses still in flight, and removes the directory.
    pub fn close(self) -> (Vec<Streamed>, std::io::Result<()>) {
        self.stop.store(true, Ordering::SeqCst);
        // A reader streaming a census finishes it (its writer has exited); one waiting on
        // its free pipe is woken. Bounded: a reader that never wakes is left behind.
        let deadline = Instant::now() + std::time::Duration::from_secs(120);
        while !self.readers.iter().all(|r| r.is_finished()) && Instant::now() < deadline {
            wake_readers(self.dir.path());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for r in self.readers {
            if r.is_finished() {
                let _ = r.join();
            }
        }
        let out: Vec<Streamed> = self.rx.try_iter().collect();
        (out, self.dir.close())
    }
}

/// Opens every pipe for writing without blocking, and closes it: a reader waiting on a
/// free pipe sees an empty stream, and the stop flag; one waiting on a pipe claimed by a
/// writer that never opened it (it died, or the command ended) sees an empty stream too.
/// A reader streaming a live writer's snapshot reads on: the stream ends only when every
/// writer has closed it.
fn wake_readers(dir: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().ends_with(".fifo") {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
                .open(e.path());
        }
    }
}

/// Makes a private FIFO (0600) and offers it as `free-<slot>.fifo`; returns its inode. It
/// is made under a name workers do not claim and known by its inode before it is offered:
/// a worker may claim (rename) it at once, before its reader has even looked at it.
fn offer_fifo(dir: &Path, slot: usize) -> std::io::Result<u64> {
    let new = dir.join(format!("new-{slot}.fifo"));
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &new,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .map_err(std::io::Error::from)?;
    let ino = std::fs::metadata(&new)?.ino();
    std::fs::rename(&new, dir.join(format!("free-{slot}.fifo")))?;
    Ok(ino)
}

/// The name the pipe with inode `ino` has now in `dir`: the writer renamed it when it
/// claimed it.
fn name_of(dir: &Path, ino: u64) -> Option<String> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| e.metadata().is_ok_and(|m| m.ino() == ino))
        .map(|e| e.file_name().to_string_lossy().into_owned())
}

/// `busy.<pid>.<tid>.<seq>.fifo`: the writer and its snapshot's number.
fn parse_busy(name: &str) -> Option<(i32, u32, u32)> {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        ["busy", pid, tid, seq, "fifo"] => {
            Some((pid.parse().ok()?, tid.parse().ok()?, seq.parse().ok()?))
        }
        _ => None,
    }
}

/// One slot: waits for a writer on `free-<slot>.fifo`, streams what it writes into a
/// census, and makes the pipe again, until stopped.
fn read_slot(
    dir: &Path,
    slot: usize,
    mut ino: u64,
    stop: &AtomicBool,
    tx: &Sender<Streamed>,
    start: Instant,
    worker: &CensusWorker,
) {
    let free = dir.join(format!("free-{slot}.fifo"));
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(mut fifo) = open_slot(dir, &free, ino) else {
            return;
        };
        let opened = fifo.metadata().map(|m| m.ino()).unwrap_or(0);
        let name = name_of(dir, opened);
        let Some((pid, thread, seq)) = name.as_deref().and_then(parse_busy) else {
            // Woken to stop (the pipe was never claimed).
            if stop.load(Ordering::SeqCst) {
                return;
            }
            continue;
        };
        let name = name.unwrap_or_default();
        let census = stream_census(&mut fifo, &name, start, worker);
        drop(fifo);
        let _ = std::fs::remove_file(dir.join(&name));
        let census = census.map(|(t, size, census)| StreamedCensus {
            taken: SnapshotTaken {
                seq,
                t,
                size,
                written_as: name,
                ..SnapshotTaken::default()
            },
            census,
        });
        let _ = tx.send(Streamed {
            pid,
            thread,
            census,
        });
        match offer_fifo(dir, slot) {
            Ok(i) => ino = i,
            Err(_) => return,
        }
    }
}

/// Opens the free pipe `free` for reading, blocking until a writer opens it. A worker may
/// claim (rename) it before this reader's `open` looked it up: the pipe is then found by
/// its inode under its new name, and the writer, blocked in its own `open` until a reader
/// comes, goes on.
fn open_slot(dir: &Path, free: &Path, ino: u64) -> Option<std::fs::File> {
    for _ in 0..100 {
        match std::fs::File::open(free) {
            Ok(f) => return Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(f) =
                    name_of(dir, ino).and_then(|n| std::fs::File::open(dir.join(n)).ok())
                {
                    return Some(f);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

/// Streams `fifo` to its end into a census named `name`: when it ended, its size and
/// the census.
fn stream_census(
    fifo: &mut std::fs::File,
    name: &str,
    start: Instant,
    worker: &CensusWorker,
) -> Result<(f64, u64, SnapshotCensus), String> {
    let mut census = worker.stream(name, &CensusLimits::default(), None)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match fifo.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                census.abandon();
                return Err(format!("reading the streamed snapshot: {e}"));
            }
        };
        size += n as u64;
        if let Err(e) = std::io::Write::write_all(census.input(), &buf[..n]) {
            census.abandon();
            return Err(format!("the census process stopped reading: {e}"));
        }
    }
    if size == 0 {
        census.abandon();
        return Err("its writer claimed a pipe and wrote nothing into it".to_owned());
    }
    let census = census.finish()?;
    Ok((start.elapsed().as_secs_f64(), size, census))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_names() {
        assert_eq!(parse_busy("busy.41.3.1001.fifo"), Some((41, 3, 1001)));
        assert_eq!(parse_busy("free-1.fifo"), None);
        assert_eq!(parse_busy("busy.x.3.1.fifo"), None);
    }

    #[test]
    fn a_snapshot_streamed_into_a_claimed_pipe_becomes_a_census() {
        let s = StreamedSnapshots::new(Instant::now(), CensusWorker::Thread).expect("pipes");
        let mode = std::fs::metadata(s.dir()).expect("dir").mode() & 0o777;
        assert_eq!(mode, 0o700);
        // What the preload does: claim a free pipe by renaming it, then write into it.
        let busy = s.dir().join("busy.7.2.1001.fifo");
        std::fs::rename(s.dir().join("free-0.fifo"), &busy).expect("claimed");
        let snapshot = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/small.heapsnapshot"),
        );
        let Ok(snapshot) = snapshot else {
            panic!("fuzz/seeds/small.heapsnapshot: a test snapshot");
        };
        // Written from a thread of its own: without a reader its open would block, and the
        // test must fail rather than hang.
        let (to, len) = (busy.clone(), snapshot.len());
        std::thread::spawn(move || std::fs::write(&to, &snapshot));
        let deadline = Instant::now() + std::time::Duration::from_secs(120);
        let got = loop {
            let mut got = s.poll();
            if let Some(g) = got.pop() {
                break g;
            }
            assert!(Instant::now() < deadline, "no reader took the claimed pipe");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!((got.pid, got.thread), (7, 2));
        let c = got.census.expect("census");
        assert_eq!((c.taken.seq, c.taken.size), (1001, len as u64));
        assert!(c.census.info.node_count > 0);
        // The pipe is gone and a free one is back; nothing else is left.
        let (rest, closed) = s.close();
        assert!(rest.is_empty());
        closed.expect("removed");
    }
}
