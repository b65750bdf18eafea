//! Zero-disk snapshots (`run --no-raw-snapshots`): V8's chunks go over the inspector down a
//! pipe into the census worker's parser, and only the census is kept — no file is
//! created, not even by the workload (`v8.writeHeapSnapshot` is not used).
//!
//! The parse runs as the chunks arrive; the analysis after the last one runs while the
//! workload and its sampling go on ([`Streams::pending`]), and is waited for only before
//! the next snapshot (whose window needs its highest id) or at the end of the run.
//!
//! The culprit is then named from the censuses' leak clusters
//! ([`leaktrail_analysis::LeakReport::of_censuses`]), so each census is taken with the
//! [`LeakWindow`] that `leaks` would use on the same snapshots as files: the first kept and
//! the latest for snapshots spread over a bounded run (BASE is the first, TARGET the one
//! before FINAL), the latest two ([`WindowTracker`]) for a doubling schedule and for the
//! snapshot at exit.

use leaktrail_analysis::{CensusLimits, LeakWindow, SnapshotCensus, WindowTracker};
use leaktrail_inspector::{Inspector, InspectorError};

use super::Session;
use crate::census_worker::{CensusWorker, StreamingCensus};
use crate::run::RunSnapshot;

/// The name a streamed snapshot is recorded under: it is never a file.
pub(super) fn name(n: usize) -> String {
    format!("#{n}")
}

/// The name of the streamed snapshot at the end of a run.
pub(super) const END_NAME: &str = "#end";

/// The zero-disk censuses of a run, shared by the run and the stderr reader (which takes
/// the snapshot at Node's exit).
#[derive(Default)]
pub(super) struct Streams {
    /// The census still being analysed, with the snapshot it is of.
    pending: Option<(RunSnapshot, StreamingCensus)>,
    /// Censuses analysed since the run last collected them, or why they failed.
    finished: Vec<(RunSnapshot, Result<SnapshotCensus, String>)>,
    /// The latest two censuses: the window of the snapshot at exit.
    latest: WindowTracker,
}

impl Streams {
    /// Streams a snapshot over `inspector` into its census, against `window`; the census
    /// is pending until [`Streams::finish_pending`]. An error is the inspector's (the
    /// snapshot was not taken) or the census's.
    pub(super) fn start(
        &mut self,
        inspector: &mut Inspector,
        worker: &CensusWorker,
        snapshot: RunSnapshot,
        window: Option<&LeakWindow>,
    ) -> Result<(), StreamError> {
        self.finish_pending();
        let name = snapshot.path.display().to_string();
        let mut census = worker
            .stream(&name, &CensusLimits::default(), window)
            .map_err(StreamError::Census)?;
        match inspector.stream_heap_snapshot(census.input(), "the census's pipe") {
            Ok(_) => {
                self.pending = Some((snapshot, census));
                Ok(())
            }
            Err(e) => {
                census.abandon();
                Err(StreamError::Inspector(e))
            }
        }
    }

    /// Waits for the pending census, if any.
    pub(super) fn finish_pending(&mut self) {
        if let Some((snapshot, census)) = self.pending.take() {
            let census = census.finish();
            if let Ok(c) = &census {
                self.latest.taken(&snapshot.path.display().to_string(), c);
            }
            self.finished.push((snapshot, census));
        }
    }

    /// The censuses finished since the last call, oldest first.
    pub(super) fn take_finished(&mut self) -> Vec<(RunSnapshot, Result<SnapshotCensus, String>)> {
        std::mem::take(&mut self.finished)
    }

    /// Takes the snapshot at exit over `session` and waits for its census, against the
    /// latest two censuses (the pending one finished first).
    pub(super) fn at_exit(
        &mut self,
        session: &mut Inspector,
        worker: &CensusWorker,
    ) -> Result<SnapshotCensus, String> {
        self.finish_pending();
        let window = self.latest.window();
        let mut census = worker.stream(END_NAME, &CensusLimits::default(), window.as_ref())?;
        match session.stream_heap_snapshot(census.input(), "the census's pipe") {
            Ok(_) => census
                .finish()
                .map_err(|e| format!("its census failed: {e}")),
            Err(e) => {
                census.abandon();
                Err(e.to_string())
            }
        }
    }
}

/// Why a zero-disk snapshot was not taken.
pub(super) enum StreamError {
    /// The inspector failed.
    Inspector(InspectorError),
    /// The census process could not be started.
    Census(String),
}

/// The window of the next census after the `kept` snapshots (see the module's comment):
/// the latest two when `latest_two`, else the first and the latest.
pub(super) fn window(kept: &[RunSnapshot], latest_two: bool) -> Option<LeakWindow> {
    let censuses: Vec<&SnapshotCensus> = kept.iter().filter_map(|s| s.census.as_deref()).collect();
    let (&target, earlier) = censuses.split_last()?;
    let &base = match latest_two {
        true => earlier.last()?,
        false => earlier.first()?,
    };
    Some(LeakWindow {
        base: base.info.path.clone(),
        base_max_id: base.max_node_id?,
        target: target.info.path.clone(),
        target_max_id: target.max_node_id?,
    })
}

impl Session<'_> {
    /// Waits for the pending census and keeps the snapshots whose censuses finished.
    pub(super) fn collect_censuses(&mut self) {
        let finished = match self.at_exit.lock() {
            Ok(mut at_exit) => {
                at_exit.streams.finish_pending();
                at_exit.streams.take_finished()
            }
            Err(_) => Vec::new(),
        };
        for (mut snapshot, census) in finished {
            match census {
                Ok(c) => {
                    snapshot.census = Some(Box::new(c));
                    self.keep_snapshot(snapshot);
                }
                Err(e) => self.remember(format!(
                    "leaktrail: snapshot {} discarded: its census failed: {e}",
                    snapshot.path.display()
                )),
            }
        }
    }
}
