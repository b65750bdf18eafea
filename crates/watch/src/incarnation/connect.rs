//! The inspector of one incarnation: finding it, connecting, and connecting again after it
//! failed.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use leaktrail_harness::is_launcher_inspector;
use leaktrail_inspector::{url_on_port, Inspector};
use leaktrail_sampler::{loopback_listening_ports, process_info, ProcessTree};
use leaktrail_store::Store;

use super::{Incarnation, SnapshotMethod, RECONNECT_EVERY};
use crate::{is_node, WatchConfig, WatchError, WatchEvent, WatchTarget};

/// How long a started command's inspector address is waited for before the first sample,
/// while a Node process runs in its tree (Node prints it within milliseconds).
const URL_WAIT: Duration = Duration::from_secs(10);

/// After this long with no Node process in a started command's tree, its address is not
/// waited for: a Python or Go service would otherwise go unsampled for [`URL_WAIT`] (and
/// a `--duration` shorter than that would store nothing).
const NO_NODE_GRACE: Duration = Duration::from_secs(1);

/// The address a started command prints on stderr, waited for as [`URL_WAIT`] and
/// [`NO_NODE_GRACE`] say. `None` also when stderr closed without one.
fn first_url(rx: &Receiver<String>, tree: &ProcessTree) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < URL_WAIT {
        match rx.recv_timeout(Duration::from_millis(100)) {
            // npm's own inspector (`watch -- npm start`): the service is the Node process
            // its script starts, whose address comes next.
            Ok(url) if is_launcher_inspector(tree, &url) => {}
            Ok(url) => return Some(url),
            Err(RecvTimeoutError::Disconnected) => return None,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let node_in_tree = || tree.pids().iter().any(|&(pid, _)| is_node(pid));
        if start.elapsed() >= NO_NODE_GRACE && !node_in_tree() {
            return None;
        }
    }
    None
}

impl Incarnation {
    /// Reads V8's heap limit once, when the inspector answers (a process just starting may
    /// not yet).
    pub(super) fn read_heap_limit(&mut self, store: &mut Store) -> Result<(), WatchError> {
        if self.heap_limit_known {
            return Ok(());
        }
        if let Some(limit) = self
            .inspector
            .as_mut()
            .and_then(|i| i.heap_size_limit().ok())
        {
            store.set_limits(self.id, Some(limit as i64), None)?;
            self.heap_limit_known = true;
        }
        Ok(())
    }

    /// Connects to the inspector: the URL a started command printed, or one found on (or
    /// opened with SIGUSR1 for) a running process.
    pub(super) fn connect(&mut self, config: &WatchConfig, on_event: &mut impl FnMut(&WatchEvent)) {
        let url = match (&self.url, &config.target) {
            (Some(rx), _) => first_url(rx, &self.tree),
            (None, WatchTarget::Pid(pid)) => {
                if !is_node(*pid) {
                    return;
                }
                let find = || {
                    loopback_listening_ports(*pid)
                        .into_iter()
                        .find_map(|port| url_on_port(port).ok().flatten())
                };
                let mut url = find();
                // SIGUSR1 only to a process that handles it: by default it terminates.
                let usr1 = rustix::process::Signal::USR1;
                let catches_usr1 = || process_info(*pid).is_some_and(|i| i.catches(usr1.as_raw()));
                if url.is_none() && catches_usr1() {
                    if let Some(p) = rustix::process::Pid::from_raw(*pid) {
                        let _ = rustix::process::kill_process(p, usr1);
                    }
                    let until = Instant::now() + Duration::from_secs(5);
                    while url.is_none() && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(100));
                        url = find();
                    }
                }
                url
            }
            _ => None,
        };
        let Some(url) = url else {
            let until = match self.url.is_some() {
                true => " until a Node process of it prints its inspector address",
                false => ", no heap snapshots",
            };
            on_event(&WatchEvent::Warning(format!(
                "no Node inspector for pid {}: sampling RSS only{until}",
                self.pid
            )));
            return;
        };
        self.connect_to(url, on_event);
    }

    /// Connects to an address a started command printed after the first sample (a shell
    /// script that starts Node later, a wrapper): until then the watcher samples RSS.
    pub(super) fn late_url(&mut self, on_event: &mut impl FnMut(&WatchEvent)) {
        if self.inspector_url.is_some() {
            return;
        }
        let Some(rx) = &self.url else {
            return;
        };
        match rx.try_recv() {
            Ok(url) if is_launcher_inspector(&self.tree, &url) => {}
            Ok(url) => {
                on_event(&WatchEvent::Warning(format!(
                    "a Node inspector appeared at {url}: heap samples and snapshots from now on"
                )));
                self.connect_to(url, on_event);
            }
            // Stderr closed: no address will come.
            Err(TryRecvError::Disconnected) => self.url = None,
            Err(TryRecvError::Empty) => {}
        }
    }

    /// Connects to `url` and takes heap snapshots over it from now on.
    fn connect_to(&mut self, url: String, on_event: &mut impl FnMut(&WatchEvent)) {
        match Inspector::connect(&url) {
            Ok(i) => {
                self.attach(i);
                self.id_epoch += 1;
                self.snapshots = SnapshotMethod::Inspector;
            }
            Err(e) => on_event(&WatchEvent::Warning(format!(
                "cannot connect to the inspector {url}: {e}"
            ))),
        }
        self.inspector_url = Some(url);
    }

    /// Uses `inspector` from now on; the stderr reader can cut its socket when Node exits.
    pub(super) fn attach(&mut self, inspector: Inspector) {
        if let Ok(mut cut) = self.cut.lock() {
            *cut = inspector.interrupt_handle();
        }
        self.inspector = Some(inspector);
    }

    /// After a failed inspector read, connects again to the same address (every
    /// [`RECONNECT_EVERY`]), unless the process is exiting: a dropped connection must not
    /// end heap sampling and snapshots for the rest of a week-long run.
    pub(super) fn reconnect(&mut self, on_event: &mut impl FnMut(&WatchEvent)) {
        let due = self.reconnect_at.is_some_and(|at| Instant::now() >= at);
        if self.inspector.is_some() || !due || self.exiting.load(Ordering::SeqCst) {
            return;
        }
        let Some(url) = self.inspector_url.clone() else {
            return;
        };
        match Inspector::connect(&url) {
            Ok(i) => {
                self.attach(i);
                self.id_epoch += 1;
                self.reconnect_at = None;
                on_event(&WatchEvent::Warning(format!(
                    "reconnected to the inspector {url}"
                )));
            }
            Err(_) => self.reconnect_at = Some(Instant::now() + RECONNECT_EVERY),
        }
    }
}
