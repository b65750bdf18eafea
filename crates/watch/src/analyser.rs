//! The analyser: a worker thread that parses snapshot files into censuses (through a
//! [`CensusWorker`]) while the watcher goes on sampling, and the leak windows each census
//! is compared against.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use leaktrail_analysis::{CensusLimits, LeakWindow, SnapshotCensus, WindowTracker};
use leaktrail_store::IncarnationId;

use crate::own_memory::release_free_memory;
use crate::schedule::SnapshotReason;
use crate::CensusWorker;

/// A snapshot waiting for its census.
pub(crate) struct PendingSnapshot {
    pub(crate) file: String,
    pub(crate) t: i64,
    pub(crate) reason: SnapshotReason,
    pub(crate) taken_in: f64,
    pub(crate) incarnation: IncarnationId,
    /// Which id map of the process the snapshot's node ids come from: a new inspector
    /// session may start V8's ids afresh, so leak windows never span two.
    pub(crate) id_epoch: u32,
    /// Streamed into its census: there is no raw file.
    pub(crate) streamed: bool,
    /// Taken within [`WatchConfig::start_up`](crate::WatchConfig::start_up) of the watcher
    /// starting the process: no leak evidence (never a leak window's BASE or TARGET, no
    /// places recorded).
    pub(crate) start_up: bool,
}

/// The worker thread that parses snapshot files into censuses; streamed snapshots bring
/// their census with them and go to `results` directly.
pub(crate) struct Analyser {
    pub(crate) jobs: Sender<(PathBuf, PendingSnapshot)>,
    pub(crate) results: Sender<CensusResult>,
    pub(crate) windows: Arc<Mutex<LeakWindows>>,
    pub(crate) limits: CensusLimits,
    pub(crate) worker: CensusWorker,
}

pub(crate) type CensusResult = (PendingSnapshot, Result<SnapshotCensus, String>, f64);

/// The censuses a census's leak roots are found against: the last two of the same
/// incarnation and id epoch ([`WindowTracker`]).
#[derive(Default)]
pub(crate) struct LeakWindows {
    key: Option<(IncarnationId, u32)>,
    tracker: WindowTracker,
}

impl LeakWindows {
    /// The window for the next census of `pending`.
    fn window_for(&mut self, pending: &PendingSnapshot) -> Option<LeakWindow> {
        self.window_of(pending.incarnation, pending.id_epoch)
    }

    /// The window for the next census of an incarnation's snapshots of one id epoch.
    pub(crate) fn window_of(
        &mut self,
        incarnation: IncarnationId,
        id_epoch: u32,
    ) -> Option<LeakWindow> {
        let key = (incarnation, id_epoch);
        if self.key != Some(key) {
            self.key = Some(key);
            self.tracker.clear();
        }
        self.tracker.window()
    }

    /// Notes a census taken: it is the next window's TARGET (unless it was taken in
    /// the process's start-up: a cache filling then rises like a leak across three
    /// censuses).
    pub(crate) fn taken(&mut self, pending: &PendingSnapshot, census: &SnapshotCensus) {
        if !pending.start_up {
            self.tracker.taken(&pending.file, census);
        }
    }
}

/// The leak windows, whoever held the lock last (a panic there cannot leave them torn:
/// each update is one assignment).
pub(crate) fn lock(windows: &Mutex<LeakWindows>) -> std::sync::MutexGuard<'_, LeakWindows> {
    windows.lock().unwrap_or_else(|e| e.into_inner())
}

impl Analyser {
    pub(crate) fn spawn(
        results: Sender<CensusResult>,
        limits: CensusLimits,
        worker: CensusWorker,
    ) -> Analyser {
        let (jobs, rx) = channel::<(PathBuf, PendingSnapshot)>();
        let windows = Arc::new(Mutex::new(LeakWindows::default()));
        let analyser = Analyser {
            jobs,
            results: results.clone(),
            windows: windows.clone(),
            limits,
            worker: worker.clone(),
        };
        std::thread::spawn(move || {
            for (path, pending) in rx {
                let t = Instant::now();
                let window = lock(&windows).window_for(&pending);
                let census = worker.census(&path, &pending.file, &limits, window.as_ref());
                if let Ok(census) = &census {
                    lock(&windows).taken(&pending, census);
                }
                release_free_memory();
                if results
                    .send((pending, census, t.elapsed().as_secs_f64()))
                    .is_err()
                {
                    return;
                }
            }
        });
        analyser
    }
}
