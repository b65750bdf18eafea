//! The started command's stderr, read line by line on a thread of its own: the inspector's
//! address goes to the watcher, Node's inspector chatter is dropped, the service's own log
//! goes on to the watcher's stderr with its last lines kept (a V8 out-of-memory report
//! names how the run ended).

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::process::ChildStderr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use leaktrail_inspector::listening_url;

/// Lines of the service's stderr kept for [`super::Incarnation::ended`].
const TAIL_LINES: usize = 50;

/// Reads `err` to its end: sends the inspector's address on `url_tx`, keeps the last lines
/// in `tail`, and when Node waits for the debugger at exit sets `exiting` and shuts the
/// inspector socket in `cut` (Node answers no request then: a call in flight would hang).
pub(super) fn read(
    err: ChildStderr,
    url_tx: Sender<String>,
    tail: Arc<Mutex<Vec<String>>>,
    exiting: Arc<AtomicBool>,
    cut: Arc<Mutex<Option<TcpStream>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut own = std::io::stderr();
        // Read as bytes to the end: a line that is not UTF-8 must not stop it.
        leaktrail_harness::for_each_line(BufReader::new(err), |line| {
            let line = line.into_owned();
            if let Some(url) = listening_url(&line) {
                let _ = url_tx.send(url.to_owned());
                return true;
            }
            if line.contains("Waiting for the debugger to disconnect") {
                // Node answers no GC request now: cut a call in flight.
                exiting.store(true, Ordering::SeqCst);
                if let Some(s) = cut.lock().ok().and_then(|mut c| c.take()) {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
                return true;
            }
            if leaktrail_inspector::is_inspector_chatter(&line) {
                return true;
            }
            // The service's own log goes on to ours.
            let _ = writeln!(own, "{line}");
            if let Ok(mut t) = tail.lock() {
                t.push(line);
                if t.len() > TAIL_LINES {
                    t.remove(0);
                }
            }
            true
        });
    })
}
