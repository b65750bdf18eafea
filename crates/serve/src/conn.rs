//! Connections: accepting them, hyper's header-read timeout, a cap on how many are held,
//! and hyper's own refusals rewritten in the API's JSON shape.
//!
//! `axum::serve` configures nothing: without a timer hyper's header-read timeout never
//! fires, and nothing bounds the connections held, so a client that sent half a request
//! and waited held an open file for ever, and a few hundred of them (the open-file limit)
//! stopped every other request. This drives axum's own HTTP/1 server (hyper) directly,
//! with its header-read timeout and at most [`ConnectionLimits::max_connections`] open.

use std::collections::HashMap;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// Connections held at once unless `--max-connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// How long a client may take to send a request's line and headers unless
/// `--header-timeout` says otherwise.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Open files kept back from connections when the open-file limit bounds them: the
/// store's connections (three files each, one per blocking thread at worst), the listener,
/// the runtime, and a watcher's own when `watch --serve` runs it.
const RESERVED_FILES: u64 = 64;

/// How long answers under way may finish once the server is asked to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long the accept loop pauses after a failure other than a vanished client (out of
/// files or memory), so that it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What clients may hold of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once (lowered to what the open-file limit leaves room for). A
    /// new one beyond it closes the one that has waited longest for a request, never one
    /// being answered; when every one is being answered the new one gets `503` at once.
    pub max_connections: usize,
    /// How long a client may take to send a request's line and headers, from when the
    /// connection opens or its previous answer was sent: half a request, or an idle
    /// keep-alive connection, is closed after it.
    pub header_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
        }
    }
}

/// The most connections this process's open-file limit leaves room for (`None`: no
/// limit), so that accepting never fails for want of a file.
pub fn connections_open_files_allow() -> Option<usize> {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current?;
    // At a very low limit still half of it, rather than nothing.
    let room = soft.saturating_sub(RESERVED_FILES).max(soft / 2).max(1);
    Some(usize::try_from(room).unwrap_or(usize::MAX))
}

impl ConnectionLimits {
    /// The cap applied: `max_connections`, within what the open-file limit allows.
    pub fn effective_max_connections(&self) -> usize {
        self.max_connections
            .min(connections_open_files_allow().unwrap_or(usize::MAX))
            .max(1)
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes, then lets answers
/// under way finish (for at most [`SHUTDOWN_GRACE`]).
pub(crate) async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let tracker = Arc::new(Tracker::new(limits.effective_max_connections()));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // Each connection task holds a sender; when the last is dropped they have all ended.
    let (alive, mut all_ended) = mpsc::channel::<()>(1);
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed(&tracker, &e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(admitted) = tracker.admit() else {
            refuse_busy(&tcp);
            continue;
        };
        tokio::spawn(connection(
            tcp,
            http.clone(),
            app.clone(),
            admitted,
            tracker.clone(),
            stopping.clone(),
            alive.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    drop(alive);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, all_ended.recv()).await;
}

/// One connection, until the client closes it, hyper gives up on it (a header timeout, a
/// request it cannot parse), the tracker closes it to make room, or the server stops.
async fn connection(
    tcp: TcpStream,
    http: hyper::server::conn::http1::Builder,
    app: Router,
    admitted: Admitted,
    tracker: Arc<Tracker>,
    mut stopping: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    let Admitted {
        id,
        slot,
        mut evicted,
    } = admitted;
    let epoch = tracker.epoch;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let answering = Answering::begin(slot.clone(), epoch);
        let mut app = app.clone();
        async move {
            let response = tower_service::Service::<Request<Incoming>>::call(&mut app, req).await;
            drop(answering);
            response
        }
    });
    let conn = http.serve_connection(TokioIo::new(JsonRefusals::new(tcp)), service);
    let mut conn = pin!(conn);
    // The guard `wait_for` returns is not `Send`: dropped here, before any other await.
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    tokio::select! {
        // Errors (a header timeout, a reset) end the connection; there is no one to tell.
        _ = conn.as_mut() => {}
        // Closed to make room: dropping the connection closes the socket.
        _ = &mut evicted => {}
        () = stop => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
    tracker.release(id);
}

/// Refuses a connection at once when every one held is being answered: a `503` written if
/// the socket takes it without waiting, then closed.
fn refuse_busy(tcp: &TcpStream) {
    let body = serde_json::json!({
        "error": "too many connections, every one being answered: try again shortly"
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = tcp.try_write(answer.as_bytes());
}

/// After `accept` failed: nothing to do when the client went away before it was accepted;
/// otherwise (out of open files, out of memory) frees a file by closing the connection
/// that has waited longest for a request, and pauses.
async fn accept_failed(tracker: &Tracker, e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
    ) {
        return;
    }
    tracker.evict_longest_waiting(&mut tracker.open());
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// The connections held, and what each is doing.
struct Tracker {
    cap: usize,
    /// The origin of [`Slot::waiting_since`].
    epoch: Instant,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    held: HashMap<u64, Held>,
}

struct Held {
    slot: Arc<Slot>,
    evict: oneshot::Sender<()>,
}

/// One connection as the tracker sees it; its requests update it.
struct Slot {
    /// Requests being answered (hyper answers one at a time; a count keeps it simple).
    answering: AtomicUsize,
    /// When it started waiting for its next request, µs after [`Tracker::epoch`].
    waiting_since: AtomicU64,
}

/// A connection let in: its id, its slot, and the signal that it must close.
struct Admitted {
    id: u64,
    slot: Arc<Slot>,
    evicted: oneshot::Receiver<()>,
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

impl Tracker {
    fn new(cap: usize) -> Tracker {
        Tracker {
            cap,
            epoch: Instant::now(),
            open: Mutex::new(Open::default()),
        }
    }

    /// The table, locked (a panic while holding it leaves it consistent: entries are
    /// inserted and removed whole).
    fn open(&self) -> MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Lets a new connection in, closing the longest-waiting one at the cap; `None` when
    /// every connection held is being answered.
    fn admit(&self) -> Option<Admitted> {
        let mut open = self.open();
        if open.held.len() >= self.cap && !self.evict_longest_waiting(&mut open) {
            return None;
        }
        let id = open.next_id;
        open.next_id += 1;
        let slot = Arc::new(Slot {
            answering: AtomicUsize::new(0),
            waiting_since: AtomicU64::new(micros_since(self.epoch)),
        });
        let (evict, evicted) = oneshot::channel();
        open.held.insert(
            id,
            Held {
                slot: slot.clone(),
                evict,
            },
        );
        Some(Admitted { id, slot, evicted })
    }

    /// Closes the connection that has waited longest for a request (half a request, an
    /// idle keep-alive, a slow reader of its last answer), never one being answered.
    /// Whether there was one.
    fn evict_longest_waiting(&self, open: &mut Open) -> bool {
        let longest = open
            .held
            .iter()
            .filter(|(_, h)| h.slot.answering.load(Ordering::Acquire) == 0)
            .min_by_key(|(id, h)| (h.slot.waiting_since.load(Ordering::Acquire), **id))
            .map(|(id, _)| *id);
        match longest.and_then(|id| open.held.remove(&id)) {
            Some(held) => {
                // The task may have ended already; then the socket is closed anyway.
                let _ = held.evict.send(());
                true
            }
            None => false,
        }
    }

    /// Forgets a connection that ended (no-op when it was evicted).
    fn release(&self, id: u64) {
        self.open().held.remove(&id);
    }
}

/// A request being answered: its connection is not to be evicted until the answer is
/// ready, and then waits for its next request from that moment.
struct Answering {
    slot: Arc<Slot>,
    epoch: Instant,
}

impl Answering {
    fn begin(slot: Arc<Slot>, epoch: Instant) -> Answering {
        slot.answering.fetch_add(1, Ordering::AcqRel);
        Answering { slot, epoch }
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        // The time first, so that a connection seen idle is seen idle since now.
        self.slot
            .waiting_since
            .store(micros_since(self.epoch), Ordering::Release);
        self.slot.answering.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection's socket with hyper's own refusals rewritten. hyper answers a request it
/// cannot parse before any route sees it — `400` (a malformed request line or header),
/// `414` (a URL over 65,534 bytes), `431` (over 100 headers, or a head over its buffer)
/// — with an empty body, and has no hook to change that. The routes never answer with an
/// empty `400`, nor ever `414` or `431` (their errors are JSON), so a write that is
/// exactly such a head, alone, is hyper's, and goes out as the API's `{"error": …}`.
/// hyper writes a head in one piece here: this socket says it takes no vectored writes,
/// so hyper gathers head and body into one buffer.
struct JsonRefusals<T> {
    inner: T,
    /// The rewritten answer being sent, and how much of hyper's buffer it stands for.
    replacing: Option<Replacement>,
}

struct Replacement {
    bytes: Vec<u8>,
    sent: usize,
    stands_for: usize,
}

impl<T> JsonRefusals<T> {
    fn new(inner: T) -> Self {
        JsonRefusals {
            inner,
            replacing: None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonRefusals<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonRefusals<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            if let Some(bytes) = json_refusal(buf) {
                this.replacing = Some(Replacement {
                    bytes,
                    sent: 0,
                    stands_for: buf.len(),
                });
            }
        }
        let Some(r) = &mut this.replacing else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        // hyper calls again with the same buffer while this is pending.
        while r.sent < r.bytes.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &r.bytes[r.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            r.sent += n;
        }
        let stands_for = r.stands_for;
        this.replacing = None;
        Poll::Ready(Ok(stands_for))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The JSON answer standing for `head` when it is one of hyper's own empty refusals.
fn json_refusal(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    // A head alone: it ends at the first blank line.
    if text.find("\r\n\r\n")? + 4 != text.len() {
        return None;
    }
    let (status, reason, message) = match text.strip_prefix("HTTP/1.1 ")?.get(..4)? {
        "400 " => (
            400,
            "Bad Request",
            "the request is not valid HTTP/1.1: a malformed request line or header",
        ),
        "414 " => (
            414,
            "URI Too Long",
            "the URL is too long: at most 65,534 bytes",
        ),
        "431 " => (
            431,
            "Request Header Fields Too Large",
            "too many request headers (at most 100), or too large",
        ),
        _ => return None,
    };
    let mut lines = text.split("\r\n");
    if !lines.any(|l| l.eq_ignore_ascii_case("content-length: 0")) {
        return None;
    }
    let date = text.split("\r\n").find(|l| {
        l.as_bytes()
            .get(..5)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"date:"))
    });
    let body = serde_json::json!({ "error": message }).to_string();
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\n",
        body.len()
    );
    if let Some(date) = date {
        out.push_str(date);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_empty_refusals_are_rewritten() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 13:37:19 GMT\r\n\r\n";
        let out = String::from_utf8(json_refusal(hyper).expect("rewritten")).expect("text");
        assert!(out.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{out}");
        assert!(
            out.contains("\r\ndate: Sun, 06 Dec 2026 13:37:19 GMT\r\n"),
            "{out}"
        );
        let (head, body) = out.split_once("\r\n\r\n").expect("head and body");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert!(v["error"].as_str().is_some_and(|e| e.contains("URL")));
        // A route's own answers pass: a JSON 400, a head followed by its body, a 404.
        for ours in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nmore",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"trend-\r\n\r\n",
        ] {
            assert!(json_refusal(ours).is_none(), "{}", String::from_utf8_lossy(ours));
        }
    }

    #[test]
    fn the_cap_closes_the_longest_waiting_never_one_being_answered() {
        let tracker = Tracker::new(2);
        let mut first = tracker.admit().expect("room");
        let mut second = tracker.admit().expect("room");
        let busy = Answering::begin(first.slot.clone(), tracker.epoch);
        // The first is being answered: the second goes, though it came later.
        let mut third = tracker.admit().expect("one evicted");
        assert!(second.evicted.try_recv().is_ok(), "the idle one closed");
        assert!(first.evicted.try_recv().is_err(), "the busy one kept");
        let also_busy = Answering::begin(third.slot.clone(), tracker.epoch);
        assert!(tracker.admit().is_none(), "all answering: refused");
        drop(busy);
        drop(also_busy);
        // Both idle now; the first finished waiting first.
        let _fourth = tracker.admit().expect("one evicted");
        assert!(first.evicted.try_recv().is_ok());
        assert!(third.evicted.try_recv().is_err());
        tracker.release(third.id);
        assert_eq!(tracker.open().held.len(), 1);
    }
}
